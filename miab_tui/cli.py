"""The `miab` command: create boxes, open the TUI, serve the API, script users/aliases and TLS.

Every subcommand takes `--box DIR` (a folder made by `miab init`); without it the real box's
`/etc/mailinabox.conf` is used when present.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from core import Box, init_box, locate_box, open_box, seed_demo
from core.audit import SETUP, Actor, login_actor
from core.errors import MiabError
from core.jobs import Job, JobState
from core.jobs.kinds import TLS_PROVISION
from core.mail.listing import alias_text, aliases_listing, users_listing
from core.mail.users import human_size
from core.tls.service import ProvisionOutcome

DEMO_DIR = "demo-box"
CREDENTIALS_FILE = "demo-credentials.txt"
JOB_POLL = 0.1  # seconds between looks at a job the command follows


def cli_actor() -> Actor:
    """The person at the console, recorded in the audit log with the face `cli`."""
    return login_actor("cli")


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


def _password(given: str | None, *, prompt: str = "Password: ") -> str:
    """The password argument, or read it: prompted twice on a terminal, else one stdin line."""
    if given is not None and given != "-":
        return given
    if given is None and sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != first:
            raise MiabError("The passwords do not match.")
        return first
    return sys.stdin.readline().rstrip("\n")


def _print_credentials(directory: Path) -> None:
    creds = (directory / CREDENTIALS_FILE).read_text(encoding="utf-8").strip()
    email, _, password = creds.partition("\n")
    _out(f"Demo box: {directory}\nAdmin login: {email}\nPassword:    {password}")


# --- commands -----------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    directory = Path(args.directory).resolve()
    box = init_box(directory, primary_hostname=args.hostname)
    _out(f"Created a box for {box.hostname} in {directory}")
    if args.demo:
        _seed_demo(box, directory)
    else:
        _out(f"Add the first admin: miab user add --box {args.directory} EMAIL --admin")
    return 0


def _seed_demo(box: Box, directory: Path) -> None:
    creds = seed_demo(box, actor=SETUP)
    from core.storage.files import atomic_write

    atomic_write(directory / CREDENTIALS_FILE, f"{creds.email}\n{creds.password}\n", mode=0o600)
    _print_credentials(directory)


def cmd_demo(args: argparse.Namespace) -> int:
    """Make the demo box if it is not there yet, print its admin login, open the TUI."""
    directory = Path(args.directory).resolve()
    if not (directory / "mailinabox.conf").exists():
        box = init_box(directory)
        _seed_demo(box, directory)
    elif (directory / CREDENTIALS_FILE).exists():
        _print_credentials(directory)
    if args.no_tui:
        return 0
    return _run_tui(open_box(directory))


def _run_tui(box: Box) -> int:
    from miab_tui.app import MiabApp

    MiabApp(box).run()
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    return _run_tui(open_box(args.box))


def cmd_serve(args: argparse.Namespace) -> int:
    from api_server import serve

    # Only the config here: the workers gunicorn forks open the box's databases themselves.
    config = locate_box(args.box)
    _out(
        f"Serving the API of {config.primary_hostname} on http://{args.host}:{args.port}/ "
        f"(also under /admin/)"
    )
    sys.stdout.flush()
    serve(config, host=args.host, port=args.port, threads=args.threads, workers=args.workers)
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    groups = box.mail.users.list_users()
    if args.json:
        _out(json.dumps(users_listing(groups, box.schema.has_quota), indent=2, sort_keys=True))
        return 0
    for group in groups:
        for user in group.users:
            flags = ["admin"] if user.is_admin else []
            if user.status == "inactive":
                flags.append("archived")
            size = human_size(user.box_size) if user.box_size is not None else ""
            quota = user.quota if user.quota not in (None, "0") else ""
            extra = "  ".join(x for x in (" ".join(flags), quota, size) if x)
            _out(f"{user.email}\t{extra}".rstrip())
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    password = _password(args.password)
    change = box.mail.users.add_user(
        args.email, password, "admin" if args.admin else "", quota=args.quota, actor=cli_actor()
    )
    _out(change.text)
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    _out(open_box(args.box).mail.users.remove_user(args.email, actor=cli_actor()).text)
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    box.mail.users.set_password(args.email, _password(args.password), actor=cli_actor())
    _out("OK")
    return 0


def cmd_user_make_admin(args: argparse.Namespace) -> int:
    open_box(args.box).mail.users.add_privilege(args.email, "admin", actor=cli_actor())
    _out("OK")
    return 0


def cmd_user_remove_admin(args: argparse.Namespace) -> int:
    open_box(args.box).mail.users.remove_privilege(args.email, "admin", actor=cli_actor())
    _out("OK")
    return 0


def cmd_user_quota(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    if args.quota is None:
        _out(box.mail.users.get_quota(args.email))
    else:
        box.mail.users.set_quota(args.email, args.quota, actor=cli_actor())
        _out("OK")
    return 0


def cmd_alias_list(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    if args.json:
        _out(json.dumps(aliases_listing(box.mail.aliases.list_aliases()), indent=2, sort_keys=True))
        return 0
    _out(alias_text(box.mail.aliases.text_rows()))
    return 0


def cmd_alias_add(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    change = box.mail.aliases.add_alias(
        args.address,
        args.forwards_to,
        args.permitted_senders or "",
        update_if_exists=args.update,
        actor=cli_actor(),
    )
    _out(change.text)
    return 0


def cmd_alias_remove(args: argparse.Namespace) -> int:
    _out(open_box(args.box).mail.aliases.remove_alias(args.address, actor=cli_actor()).text)
    return 0


def cmd_domain_list(args: argparse.Namespace) -> int:
    for summary in open_box(args.box).mail.housekeeping.domain_summaries():
        _out(f"{summary.domain}\t{summary.users} users\t{summary.aliases} aliases")
    return 0


def cmd_api_key(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    _out(box.auth.rotate_master_key(actor=cli_actor()) if args.rotate else box.auth.master_key())
    return 0


def cmd_mfa_list(args: argparse.Namespace) -> int:
    methods = open_box(args.box).mfa.list_methods(args.email)
    if args.json:
        _out(
            json.dumps(
                [{"id": m.id, "type": m.type, "label": m.label} for m in methods],
                indent=2,
                sort_keys=True,
            )
        )
        return 0
    if not methods:
        _out(f"{args.email} has no MFA method enabled.")
    for method in methods:
        _out(f"{method.id}\t{method.type}\t{method.label or ''}".rstrip())
    return 0


def cmd_mfa_disable(args: argparse.Namespace) -> int:
    """The way back in for a user (an admin too) who lost their authenticator: run as root
    on the box, no login needed."""
    box = open_box(args.box)
    for method in box.mfa.disable(args.email, args.id, actor=cli_actor()):
        _out(f"disabled {method.type} #{method.id} {method.label or ''}".rstrip())
    if not box.mfa.list_methods(args.email):
        _out(f"{args.email} can now log in with the password alone.")
    return 0


def cmd_tls_status(args: argparse.Namespace) -> int:
    """`/ssl/status`: each web domain's certificate status. `--json` has the API's shape,
    but keeps `warning` for a self-signed certificate (the reference's value; the API answers
    `danger`, the spec's)."""
    status = open_box(args.box).tls.status()
    if args.json:
        body = {
            "can_provision": list(status.can_provision),
            "status": [
                {"domain": r.domain, "status": r.status, "text": r.text} for r in status.rows
            ],
        }
        _out(json.dumps(body, indent=2, sort_keys=True))
        return 0
    for row in status.rows:
        _out(f"{row.domain}\t{row.status}\t{row.text}")
    return 0


def cmd_tls_csr(args: argparse.Namespace) -> int:
    _out(open_box(args.box).tls.csr(args.domain, args.country))
    return 0


def _read_pem(name: str) -> str:
    """A certificate file's text (`-`: stdin). Anything but ASCII is left for core to refuse
    with the reference's message."""
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise MiabError(f"Cannot read {name}: {exc.strerror}.") from None
    return data.decode("utf-8", "replace")


def cmd_tls_install(args: argparse.Namespace) -> int:
    if args.certfile == "-" and args.chainfile == "-":
        raise MiabError("Only one of the certificate and the chain can be read from stdin.")
    box = open_box(args.box)
    cert = _read_pem(args.certfile)
    chain = _read_pem(args.chainfile) if args.chainfile else ""
    change = box.tls.install(args.domain, cert, chain, actor=cli_actor())
    if change.changed:
        _out(change.text or "OK")
    else:
        _out("That certificate is installed already.")
    return 0


def _follow(box: Box, job_id: int, show: Callable[[str], None] | None) -> Job:
    """Wait for a job, handing each progress line to `show` as it comes."""
    after = 0
    while True:
        job = box.jobs.get(job_id)  # before the lines: none is missed after it has ended
        for line in box.jobs.lines(job_id, after):
            after = line.number
            if show is not None:
                show(line.text)
        if job.finished:
            return job
        time.sleep(JOB_POLL)


def _provision(box: Box, domains: Sequence[str], *, quiet: bool) -> int:
    """Run the provisioning job (after one already under way, as the API does), then print
    each request as the reference's `ssl_certificates.py` does; `quiet` (its `-q`, the nightly
    run) prints no progress and leaves out the skipped requests. 1 if any request failed."""
    params = {"domains": list(domains)} if domains else None
    show = None if quiet else _out
    started = box.jobs.start(TLS_PROVISION, actor=cli_actor(), params=params)
    if started.already_running:
        if not quiet:
            _out(f"waiting for the provisioning already under way (job #{started.job.id})")
        _follow(box, started.job.id, show)
        started = box.jobs.start(TLS_PROVISION, actor=cli_actor(), params=params)
    job = _follow(box, started.job.id, show)
    if job.state is not JobState.DONE:
        raise MiabError(f"The {TLS_PROVISION} job #{job.id} {job.state.value}: {job.result}")
    outcome = ProvisionOutcome.from_json(job.result)
    if not quiet:
        _out("\n")  # a blank line between the progress and the requests
    for request in outcome.requests:
        if quiet and request.result == "skipped":
            continue
        _out(f"{request.result}: {', '.join(request.domains)}:")
        for line in request.log:
            _out(line)
        _out("\n")
    for message in outcome.messages:
        _out(message)
    return 1 if any(r.result == "error" for r in outcome.requests) else 0


def cmd_tls_provision(args: argparse.Namespace) -> int:
    return _provision(open_box(args.box), args.domains, quiet=False)


def cmd_tls_renew(args: argparse.Namespace) -> int:
    """For cron: provision what lacks a good certificate or expires within 14 days, printing
    only what was requested (nothing on a quiet night)."""
    return _provision(open_box(args.box), (), quiet=True)


# --- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    box_arg = argparse.ArgumentParser(add_help=False)
    box_arg.add_argument(
        "--box",
        metavar="DIR",
        help="the box's folder (made by `miab init`); default: /etc/mailinabox.conf on a real box",
    )
    parser = argparse.ArgumentParser(prog="miab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        func: Callable[[argparse.Namespace], int],
        help_text: str,
        with_box: bool = True,
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subparsers.add_parser(
            name, help=help_text, description=help_text, parents=[box_arg] if with_box else []
        )
        p.set_defaults(func=func)
        return p

    p = command(sub, "init", cmd_init, "create a box in a local folder", with_box=False)
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--demo", action="store_true", help="seed demo domains, users and aliases")
    p.add_argument("--hostname", default="box.example.com", help="the box's PRIMARY_HOSTNAME")

    p = command(
        sub, "demo", cmd_demo, "open the TUI on a demo box (made on first use)", with_box=False
    )
    p.add_argument("directory", metavar="DIR", nargs="?", default=DEMO_DIR)
    p.add_argument("--no-tui", action="store_true", help="only make the box and print the login")

    command(sub, "tui", cmd_tui, "open the terminal UI")
    p = command(sub, "serve", cmd_serve, "serve the Mail-in-a-Box HTTP API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=10222)
    p.add_argument("--threads", type=int, default=4, help="threads per worker process")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes sharing the port (default: one per core)",
    )

    p = command(sub, "api-key", cmd_api_key, "print the master API key")
    p.add_argument(
        "--rotate",
        action="store_true",
        help="write a new one (every per-user API key and session ends)",
    )

    users = sub.add_parser("user", help="mail users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(users, "list", cmd_user_list, "list users (archived mailboxes too)")
    p.add_argument("--json", action="store_true")
    p = command(users, "add", cmd_user_add, "add a user")
    p.add_argument("email")
    p.add_argument("password", nargs="?", help="prompted for when left out; - reads stdin")
    p.add_argument("--admin", action="store_true")
    p.add_argument("--quota", default="0", help="0 (unlimited), bytes, or e.g. 500M, 2G")
    p = command(users, "remove", cmd_user_remove, "remove a user (the mailbox is kept)")
    p.add_argument("email")
    p = command(users, "password", cmd_user_password, "set a user's password")
    p.add_argument("email")
    p.add_argument("password", nargs="?")
    p = command(users, "make-admin", cmd_user_make_admin, "give a user the admin privilege")
    p.add_argument("email")
    p = command(users, "remove-admin", cmd_user_remove_admin, "take the admin privilege away")
    p.add_argument("email")
    p = command(users, "quota", cmd_user_quota, "show or set a user's quota")
    p.add_argument("email")
    p.add_argument("quota", nargs="?")

    aliases = sub.add_parser("alias", help="mail aliases").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(aliases, "list", cmd_alias_list, "list aliases")
    p.add_argument("--json", action="store_true")
    p = command(
        aliases, "add", cmd_alias_add, "add an alias (@domain for a catch-all or domain alias)"
    )
    p.add_argument("address")
    p.add_argument("forwards_to", help="addresses separated by commas, or @otherdomain")
    p.add_argument("--permitted-senders", default="", help="users allowed to send as it")
    p.add_argument("--update", action="store_true", help="replace it if it exists")
    p = command(aliases, "remove", cmd_alias_remove, "remove an alias")
    p.add_argument("address")

    domains = sub.add_parser("domain", help="mail domains").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    command(domains, "list", cmd_domain_list, "list mail domains with counts")

    mfa = sub.add_parser("mfa", help="multi-factor authentication").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(mfa, "list", cmd_mfa_list, "list a user's enabled MFA methods")
    p.add_argument("email")
    p.add_argument("--json", action="store_true")
    p = command(
        mfa, "disable", cmd_mfa_disable, "turn off a user's MFA (all methods, or one with --id)"
    )
    p.add_argument("email")
    p.add_argument("--id", type=int, metavar="N", help="only the method with this id")

    tls = sub.add_parser("tls", help="TLS certificates").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(tls, "status", cmd_tls_status, "each web domain's certificate status")
    p.add_argument("--json", action="store_true")
    p = command(
        tls, "csr", cmd_tls_csr, "print a certificate signing request made with the box's key"
    )
    p.add_argument("domain")
    p.add_argument("country", help="two-letter ISO 3166 country code, e.g. GB")
    p = command(
        tls, "install", cmd_tls_install, "install a certificate signed for a CSR from this box"
    )
    p.add_argument("domain")
    p.add_argument("certfile", help="the certificate (PEM); - reads stdin")
    p.add_argument("chainfile", nargs="?", help="the intermediate chain (PEM); - reads stdin")
    p = command(
        tls,
        "provision",
        cmd_tls_provision,
        "request certificates over ACME (Let's Encrypt) for the domains that need one",
    )
    p.add_argument("domains", nargs="*", metavar="DOMAIN", help="only these (default: all)")
    command(
        tls,
        "renew",
        cmd_tls_renew,
        "provision quietly, for cron: prints only what was requested; exit 1 if any failed",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
        return status
    except MiabError as exc:
        sys.stderr.write(f"miab: {exc.message}\n")
        return 1
    except KeyboardInterrupt:
        return 130
