"""The `miab` command: create boxes, open the TUI, serve the API, script users/aliases and TLS.

Every subcommand takes `--box DIR` (a folder made by `miab init`); without it the real box's
`/etc/mailinabox.conf` is used when present.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from core import Box, init_box, locate_box, open_box, seed_demo
from core.audit import SETUP, Actor, login_actor
from core.errors import MiabError
from core.jobs import Job, JobStart, JobState
from core.jobs.kinds import DNS_UPDATE, TLS_PROVISION
from core.mail.addresses import prettify_domain, prettify_idn_email_address, user_address
from core.mail.listing import alias_text, aliases_listing, users_listing
from core.mail.users import human_size

# The backup, status and TLS modules (dnspython, cryptography, acme, boto3 behind them) are
# imported by the commands that use them: every other command starts without them (cron).
if TYPE_CHECKING:
    from core.system import CheckResult, Section

DEMO_DIR = "demo-box"
CREDENTIALS_FILE = "demo-credentials.txt"
PASSWORD_READ_LIMIT = 4096  # characters: core refuses passwords over 256 anyway
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
    # One line, read no further than any password could go (a stream of zeros ends here).
    line = sys.stdin.readline(PASSWORD_READ_LIMIT + 1)
    if len(line) > PASSWORD_READ_LIMIT:
        raise MiabError("The password on standard input is too long.")
    password = line.rstrip("\r\n")
    if _not_utf8(password):
        raise MiabError("The password on standard input is not UTF-8 text.")
    return password


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
        import shlex

        _out(
            f"Add the first admin: miab user add --box {shlex.quote(args.directory)} EMAIL --admin"
        )
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
    status = _run_tui(open_box(directory))
    # The full screen covered the login printed before it: once more where it stays.
    if (directory / CREDENTIALS_FILE).exists():
        _print_credentials(directory)
    return status


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
            _out(f"{prettify_idn_email_address(user.email)}\t{extra}".rstrip())
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    password = _password(args.password)
    change = box.mail.users.add_user(
        args.email, password, "admin" if args.admin else "", quota=args.quota, actor=cli_actor()
    )
    if args.admin:
        # As the reference's setup does for the first admin, so required aliases reach someone.
        change += box.mail.aliases.ensure_administrator_alias(
            user_address(args.email), actor=cli_actor()
        )
    _out(change.text)
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    _out(
        open_box(args.box)
        .mail.users.remove_user(args.email, actor=cli_actor(), keep_an_admin=True)
        .text
    )
    return 0


def cmd_user_password(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    box.mail.users.set_password(args.email, _password(args.password), actor=cli_actor())
    _out("OK")
    return 0


def cmd_user_make_admin(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    box.mail.users.add_privilege(args.email, "admin", actor=cli_actor())
    change = box.mail.aliases.ensure_administrator_alias(
        user_address(args.email), actor=cli_actor()
    )
    _out("OK" + ("\n" + change.text.rstrip("\n") if change.changed else ""))
    return 0


def cmd_user_remove_admin(args: argparse.Namespace) -> int:
    open_box(args.box).mail.users.remove_privilege(
        args.email, "admin", actor=cli_actor(), keep_an_admin=True
    )
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
    # Addresses in Unicode, as every face shows them (the API's text form stays IDNA).
    rows = [
        (_pretty(address), _pretty(destination), _pretty(senders) if senders else senders)
        for address, destination, senders in box.mail.aliases.text_rows()
    ]
    _out(alias_text(rows))
    return 0


def _pretty(addresses: str) -> str:
    return ",".join(prettify_idn_email_address(a.strip()) for a in addresses.split(","))


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
    aliases = open_box(args.box).mail.aliases
    if aliases.is_required(args.address):
        # Removing it would last only until the housekeeping re-creates it (as the TUI says).
        sys.stderr.write(
            f"miab: {prettify_idn_email_address(args.address)} is a required alias: the box "
            "re-creates it after every change, so it cannot be removed. Change where it "
            "forwards with `miab alias add --update`.\n"
        )
        return 1
    _out(aliases.remove_alias(args.address, actor=cli_actor()).text)
    return 0


def cmd_domain_list(args: argparse.Namespace) -> int:
    for summary in open_box(args.box).mail.housekeeping.domain_summaries():
        users = f"{summary.users} user" + ("" if summary.users == 1 else "s")
        aliases = f"{summary.aliases} alias" + ("" if summary.aliases == 1 else "es")
        _out(f"{prettify_domain(summary.domain)}\t{users}\t{aliases}")
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
    if (
        args.id is None
        and box.mail.users.exists(args.email)
        and not box.mfa.list_methods(args.email)
    ):
        sys.stderr.write(f"miab: {args.email} has no MFA method enabled: nothing to disable.\n")
        return 1
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
    from core.tls.service import MAX_INSTALL_BYTES

    # Read one byte past what core takes, no more (`/dev/zero` or a stream ends here): core
    # refuses the oversized text with its own message.
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_INSTALL_BYTES + 1)
        else:
            with open(name, "rb") as f:
                data = f.read(MAX_INSTALL_BYTES + 1)
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
    from core.tls.service import ProvisionOutcome

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
    box = open_box(args.box)
    for domain in args.domains:  # a typo would otherwise be a run that does nothing
        try:
            box.tls.normalize_domain(domain)
        except MiabError:
            raise MiabError(
                f"{domain} is not a web domain of this box (`miab web domains` lists them)."
            ) from None
    return _provision(box, args.domains, quiet=False)


def cmd_tls_renew(args: argparse.Namespace) -> int:
    """For cron: provision what lacks a good certificate or expires within 14 days, printing
    only what was requested (nothing on a quiet night)."""
    return _provision(open_box(args.box), (), quiet=True)


# --- web -----------------------------------------------------------------------------------


def cmd_web_domains(args: argparse.Namespace) -> int:
    """`/web/domains`: each web domain's root, static site and certificate status; `--json`
    has the API's shape."""
    rows = open_box(args.box).web.domains()
    if args.json:
        _out(json.dumps([row.as_json() for row in rows], indent=2, sort_keys=True))
        return 0
    for row in rows:
        site = row.root if row.static_enabled else "(no static site)"
        _out(f"{row.domain}\t{site}\t{row.ssl_status}\t{row.ssl_text}")
    return 0


def cmd_web_update(args: argparse.Namespace) -> int:
    """Regenerate nginx's config: `web updated` when it changed; exit 1 when nginx refused
    the new one (the last good one stays live) or it could not be made."""
    change = open_box(args.box).web.update(actor=cli_actor())
    if change.lines:
        _out(change.text)
    else:
        _out("The web configuration is up to date: nothing changed.")
    return 1 if not change.changed and change.lines else 0


def _add_web_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[..., argparse.ArgumentParser],
) -> None:
    web = sub.add_parser("web", help="web domains and nginx").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = command(web, "domains", cmd_web_domains, "each web domain's root and certificate status")
    p.add_argument("--json", action="store_true")
    command(web, "update", cmd_web_update, "regenerate nginx's config, test it, reload nginx")


# --- backups ------------------------------------------------------------------------------


def cmd_backup_status(args: argparse.Namespace) -> int:
    """`/system/backup/status` as a table (or the API's JSON with `--json`); 1 on an error."""
    status = open_box(args.box).backup.status()
    if args.json:
        _out(json.dumps(status.as_json(), indent=2, sort_keys=True))
        return 1 if status.error else 0
    if not status.enabled:
        _out("Backups are turned off.")
        return 0
    if status.error is not None:
        raise MiabError(status.error)
    if not status.backups:
        _out("No backups have been made yet.")
    for b in status.backups:
        kind = "full" if b.full else "increment"
        deleted = b.deleted_in or "unknown"
        _out(f"{b.date_str}\t{b.date_delta} ago\t{kind}\t{human_size(b.size)}\t{deleted}")
    _out(f"total size: {human_size(status.total_size)}")
    return 0


def _backup_job(
    box: Box, start: Callable[[], JobStart], what: str, show: Callable[[str], None] | None
) -> Job:
    """Run a backup job (after one of its kind already under way, as the API does) and
    follow it; its finished record. Raises: MiabError: it did not end done."""
    started = start()
    if started.already_running:
        if show is not None:
            show(f"waiting for the {what} already under way (job #{started.job.id})")
        _follow(box, started.job.id, show)
        started = start()
    job = _follow(box, started.job.id, show)
    if job.state is not JobState.DONE:
        raise MiabError(f"The {what} job #{job.id} {job.state.value}: {job.result}")
    return job


def cmd_backup_now(args: argparse.Namespace) -> int:
    """Back up now. Quiet unless something fails when not on a terminal (cron's nightly run,
    as the reference's) or with `--quiet`; exit 1 on failure."""
    quiet = args.quiet or not sys.stdout.isatty()
    box = open_box(args.box)
    job = _backup_job(
        box,
        lambda: box.backup.start_backup(actor=cli_actor(), full=args.full),
        "backup",
        None if quiet else _out,
    )
    from core.backup import BackupOutcome

    outcome = BackupOutcome.from_json(job.result)
    if not quiet:
        for line in outcome.lines:
            _out(line)
        if outcome.log:
            _out(f"log: {outcome.log}")
    return 0


def cmd_backup_verify(args: argparse.Namespace) -> int:
    """Compare a backup with the live files; exit 1 if they differ."""
    box = open_box(args.box)
    show = None if args.quiet else _out
    job = _backup_job(
        box,
        lambda: box.backup.start_verify(actor=cli_actor(), time=args.time),
        "verification",
        show,
    )
    from core.backup import VerifyOutcome

    outcome = VerifyOutcome.from_json(job.result)
    if show is None:
        for difference in outcome.differences:
            _out(difference)
    more = outcome.difference_count - len(outcome.differences)
    if more > 0:
        _out(f"... and {more} more differences (the log has them all: {outcome.log})")
    _out(f"{outcome.compared} files compared, {outcome.difference_count} differences found.")
    return 0 if outcome.identical else 1


def cmd_backup_restore(args: argparse.Namespace) -> int:
    """Restore a backup (or one path of it) into a new folder; `--full --yes` restores the
    whole backup over the live data, with the mail services stopped."""
    from core.backup import RestoreOutcome, RestoreRequest

    confirmed = args.yes
    if args.full and not confirmed and sys.stdin.isatty():
        answer = input(
            "This replaces the live data in STORAGE_ROOT with the backup (what it replaces is "
            "kept under backup/). Type yes to go on: "
        )
        confirmed = answer.strip().lower() == "yes"
    request = RestoreRequest(
        time=args.time, path=args.path or "", to=args.to, in_place=args.full, confirmed=confirmed
    )
    box = open_box(args.box)
    job = _backup_job(
        box,
        lambda: box.backup.start_restore(request, actor=cli_actor()),
        "restore",
        None if args.quiet else _out,
    )
    if args.quiet:
        for line in RestoreOutcome.from_json(job.result).lines:
            _out(line)
    return 0


def cmd_backup_config(args: argparse.Namespace) -> int:
    """Show the backup settings (the API's JSON, with the SSH public key rsync targets must
    accept), or change them: the target is test-listed first and nothing is saved if that
    fails. `--test` only lists the target."""
    box = open_box(args.box)
    backup = box.backup
    if args.target is None and args.min_age is None:
        if args.test:
            raise MiabError("Name the target to test with --target.")
        backup.ensure_ssh_key(actor=cli_actor())
        _out(json.dumps(backup.get_config().for_ui(), indent=2, sort_keys=True))
        return 0
    current = backup.get_config()
    target = args.target if args.target is not None else current.target
    secret = "" if args.secret is None else _password(args.secret, prompt="S3 secret key: ")
    if args.test:
        files = backup.test_target(target, args.user, secret)
        _out(f"{target}: listed, {len(files)} files there")
        return 0
    min_age = args.min_age if args.min_age is not None else str(current.min_age_in_days)
    change = backup.set_config(target, args.user, secret, min_age, actor=cli_actor())
    _out(change.text)
    return 0


def _backup_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], box_arg: argparse.ArgumentParser
) -> None:
    """`miab backup status|now|verify|restore|config`."""
    backup = sub.add_parser("backup", help="backups (duplicity)").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )

    def command(
        name: str, func: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        p = backup.add_parser(name, help=help_text, description=help_text, parents=[box_arg])
        p.set_defaults(func=func)
        return p

    p = command("status", cmd_backup_status, "the backups made, their sizes and when each goes")
    p.add_argument("--json", action="store_true", help="the API's JSON")
    p = command(
        "now",
        cmd_backup_now,
        "back up now (for cron: quiet unless it fails when not on a terminal; exit 1 on failure)",
    )
    p.add_argument("--full", action="store_true", help="a full backup, whatever the rules say")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing unless it fails")
    p = command("verify", cmd_backup_verify, "compare a backup with the live files (exit 1 if not)")
    p.add_argument("--time", help="the backup's date from `status --json` (default: newest)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, only the result")
    p = command(
        "restore",
        cmd_backup_restore,
        "restore a backup (or one path of it) into a new folder, or in place with --full --yes",
    )
    p.add_argument("--time", help="the backup's date from `status --json` (default: newest)")
    p.add_argument("--path", help="only this path, relative to STORAGE_ROOT (e.g. a mailbox)")
    p.add_argument("--to", metavar="DIR", help="a new folder outside STORAGE_ROOT to restore into")
    p.add_argument("--full", action="store_true", help="restore everything over STORAGE_ROOT")
    p.add_argument("--yes", action="store_true", help="confirm --full (else asked on a terminal)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, only the result")
    p = command("config", cmd_backup_config, "show the backup settings, or change them")
    p.add_argument(
        "--target", help="local, off, file:///DIR, rsync://USER@HOST[:PORT]/PATH, s3://…"
    )
    p.add_argument("--user", default="", help="S3 access key id")
    p.add_argument("--secret", help="S3 secret access key (- reads it from stdin)")
    p.add_argument("--min-age", help="keep backups at least this many days (default: as now)")
    p.add_argument("--test", action="store_true", help="only test-list the target; save nothing")


# --- status and system ----------------------------------------------------------------------

STATUS_MARKS = {"ok": "✓", "warning": "?", "error": "✖"}


def _print_section(section: Section, results: Sequence[CheckResult]) -> None:
    _out(f"\n{section.heading}\n{'=' * len(section.heading)}")
    for result in sorted(results, key=lambda r: r.order):
        for item in result.items:
            _out(f"{STATUS_MARKS[item.status.value]}  {item.message}")
            for extra in item.extra:
                _out(f"   {extra.text}".rstrip())


def cmd_status(args: argparse.Namespace) -> int:
    """The status checks, each section printed as soon as all its checks are in (sections
    in the order they finish, items in the reference's order); `--json` prints the API's
    list once all are done. Exit 1 when any check reports an error."""
    from core.system import CheckStatus, StatusReport

    box = open_box(args.box)
    plan = box.status.plan(
        sections=args.section or None, checks=args.check or None, rounded=args.rounded
    )
    waiting = {s.id: 0 for s in plan.sections}
    for check in plan.checks:
        waiting[check.section] += 1
    by_section: dict[str, list[CheckResult]] = {s.id: [] for s in plan.sections}
    sections = {s.id: s for s in plan.sections}
    results: list[CheckResult] = []
    live = not args.json and sys.stderr.isatty()
    for result in box.status.stream(plan):
        results.append(result)
        if live:
            sys.stderr.write(f"\r{len(results)} of {len(plan.checks)} checks done ")
            sys.stderr.flush()
        if args.json:
            continue
        section = result.check.section
        by_section[section].append(result)
        waiting[section] -= 1
        if waiting[section] == 0:
            if live:
                sys.stderr.write("\r\033[K")
            _print_section(sections[section], by_section[section])
            sys.stdout.flush()
    for section_id, left in waiting.items():  # sections without checks (none ran)
        if left == 0 and not by_section[section_id] and not args.json:
            _print_section(sections[section_id], [])
    if live:
        sys.stderr.write("\r\033[K")
    report = StatusReport.of(plan.sections, results)
    if args.json:
        _out(json.dumps(report.as_reference(), indent=2, sort_keys=True))
    else:
        counts = report.counts()
        _out(
            f"\n{counts[CheckStatus.OK]} ok, {counts[CheckStatus.WARNING]} warnings, "
            f"{counts[CheckStatus.ERROR]} errors"
        )
        if plan.stopped:
            _out(plan.stopped)
    return 1 if report.has_errors else 0


def cmd_system_version(args: argparse.Namespace) -> int:
    """Our version (the API's answer) on the first line, then the Mail-in-a-Box checkout's
    and, when the privacy setting allows asking, the latest Mail-in-a-Box version."""
    system = open_box(args.box).system
    info = system.version_info()
    _out(info.ours)
    _out(f"Mail-in-a-Box on this machine: {info.box_miab or 'not found'}")
    if system.privacy():
        _out("Latest Mail-in-a-Box: not asked (the privacy setting is on)")
    else:
        try:
            _out(f"Latest Mail-in-a-Box: {system.fetch_latest_version()}")
        except MiabError as exc:
            _out(f"Latest Mail-in-a-Box: {exc.message}")
    return 0


def cmd_system_updates(args: argparse.Namespace) -> int:
    """`NAME (VERSION)` lines, as `GET /system/updates` (apt's lists refreshed first unless the
    list is under 8 hours old; `--cached` never refreshes)."""
    packages = open_box(args.box).system.updates(refresh=not args.cached)
    for package in packages:
        _out(package.line)
    if not packages:
        _out("System software is up to date.")
    return 0


def cmd_system_upgrade(args: argparse.Namespace) -> int:
    """apt-get update and upgrade as the `update-packages` job, its output shown as it comes."""
    box = open_box(args.box)
    started = box.system.start_upgrade(actor=cli_actor())
    if started.already_running:
        _out(f"following the upgrade already under way (job #{started.job.id})")
    job = _follow(box, started.job.id, _out)
    if job.state is not JobState.DONE:
        raise MiabError(f"The upgrade (job #{job.id}) {job.state.value}: {job.result}")
    return 0


def cmd_system_reboot(args: argparse.Namespace) -> int:
    """Reboot when package updates require it (`--status` only says whether they do); asks for
    confirmation on a terminal unless `--yes`."""
    box = open_box(args.box)
    required = box.system.reboot_required()
    if args.status:
        _out("A reboot is required." if required else "No reboot is required.")
        return 0
    if required and not box.config.is_local and not args.yes:
        if not sys.stdin.isatty():
            raise MiabError("A reboot is required: add --yes to reboot this machine now.")
        answer = input(f"Reboot {box.hostname} now? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            _out("Not rebooted.")
            return 1
    outcome = box.system.reboot(actor=cli_actor())
    _out(outcome.text or "Rebooting.")
    return 0 if outcome.started else 1


def cmd_system_privacy(args: argparse.Namespace) -> int:
    """Without a value, `on` or `off`; `on` stops version checks (`private`), `off` allows them."""
    system = open_box(args.box).system
    if args.value is None:
        _out("on" if system.privacy() else "off")
        return 0
    system.set_privacy("private" if args.value == "on" else "off", actor=cli_actor())
    if args.value == "on":
        _out("Privacy is on: the box never asks mailinabox.email for the latest version.")
    else:
        _out("Privacy is off: the status checks ask mailinabox.email for the latest version.")
    return 0


def _system_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], box_arg: argparse.ArgumentParser
) -> None:
    """`miab status` and `miab system version|updates|upgrade|reboot|privacy`."""

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        func: Callable[[argparse.Namespace], int],
        help_text: str,
    ) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_text, description=help_text, parents=[box_arg])
        p.set_defaults(func=func)
        return p

    p = command(
        sub, "status", cmd_status, "run the status checks, shown as they finish (exit 1 on errors)"
    )
    p.add_argument("--json", action="store_true", help="the API's list, once all are done")
    p.add_argument(
        "--section",
        action="append",
        metavar="NAME",
        help="only this section: system, network or a domain (repeatable)",
    )
    p.add_argument(
        "--check",
        action="append",
        metavar="ID",
        help="only this check, e.g. example.com/mx or system/disk (repeatable)",
    )
    p.add_argument(
        "--rounded", action="store_true", help="round figures, as the reference's nightly run"
    )
    system = sub.add_parser("system", help="version, updates, reboot, privacy").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    command(system, "version", cmd_system_version, "this tool's version, and Mail-in-a-Box's")
    p = command(system, "updates", cmd_system_updates, "the package updates available (apt)")
    p.add_argument("--cached", action="store_true", help="do not refresh apt's package lists")
    command(system, "upgrade", cmd_system_upgrade, "install the package updates (apt-get upgrade)")
    p = command(
        system, "reboot", cmd_system_reboot, "reboot the machine, when package updates require it"
    )
    p.add_argument("--status", action="store_true", help="only say whether a reboot is required")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p = command(
        system, "privacy", cmd_system_privacy, "show or set the privacy (version check) setting"
    )
    p.add_argument("value", nargs="?", choices=("on", "off"))


# --- dns -------------------------------------------------------------------------------------


def cmd_dns_zones(args: argparse.Namespace) -> int:
    for zone in open_box(args.box).dns.zone_list():
        _out(f"{prettify_domain(zone.name)}\t{', '.join(prettify_domain(d) for d in zone.domains)}")
    return 0


def cmd_dns_records(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    zones = [args.zone] if args.zone else list(box.dns.zones())
    for zone in zones:
        for record in box.dns.records(zone):
            line = f"{record.qname}\t{record.rtype}\t{record.value}"
            _out(line + (f"\t# {record.explanation}" if args.explain else ""))
    return 0


def cmd_dns_custom(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    dns = box.dns
    action = args.custom_action or "list"
    if action == "list":
        for record in dns.custom_records():
            _out(f"{record.qname}\t{record.rtype}\t{record.value}")
        return 0
    if action == "add":
        change = dns.add_custom_record(args.qname, args.rtype, args.value, actor=cli_actor())
    elif action == "set":
        change = dns.set_custom_record(args.qname, args.rtype, args.value, actor=cli_actor())
    else:
        change = dns.remove_custom_record(
            args.qname, args.rtype, args.value or None, actor=cli_actor()
        )
    _out(change.text)
    from core.dns.service import EMPTY_UPDATE, EMPTY_UPDATE_REASON

    if change.lines == (EMPTY_UPDATE,):  # the reference's words (the API must say them)
        _say(EMPTY_UPDATE_REASON)
    return 0


def cmd_dns_secondary(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    if args.clear or args.hostnames:
        change = box.dns.set_secondary_nameservers(
            [] if args.clear else args.hostnames, actor=cli_actor()
        )
        _out(change.text)
        return 0
    for entry in box.dns.secondary_nameservers():
        _out(entry)
    return 0


def cmd_dns_ds(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    for zone in [args.zone] if args.zone else list(box.dns.zones()):
        for ds in box.dns.ds_records(zone):
            _out(ds.text)
    return 0


def cmd_dns_update(args: argparse.Namespace) -> int:
    box = open_box(args.box)
    if not args.force:
        _out(box.dns.update(actor=cli_actor()).text)
        return 0
    # A forced update rebuilds and re-signs every zone: a job, followed here as it goes.
    start = box.jobs.start(DNS_UPDATE, actor=cli_actor())
    job = _follow(box, start.job.id, None if args.quiet else _out)
    if job.state.value != "done":
        sys.stderr.write(f"miab: the DNS update {job.state.value}: {job.result}\n")
        return 1
    _out(job.result)
    return 0


def cmd_dns_preview(args: argparse.Namespace) -> int:
    diffs = open_box(args.box).dns.preview(force=args.force)
    if not diffs:
        _out("The DNS update would change nothing.")
    for diff in diffs:
        _out(diff.diff.rstrip("\n"))
    return 0


def _dns_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], box_arg: argparse.ArgumentParser
) -> None:
    dns = sub.add_parser("dns", help="DNS zones, records, custom records, DNSSEC").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )

    def leaf(
        name: str, func: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = dns.add_parser(
            name, help=help_text, description=help_text, parents=[box_arg]
        )
        p.set_defaults(func=func)
        return p

    leaf("zones", cmd_dns_zones, "the zones this box serves and the domains in each")
    p = leaf("records", cmd_dns_records, "the records of a zone (all zones by default)")
    p.add_argument("zone", nargs="?")
    p.add_argument("--explain", action="store_true", help="add each record's explanation")
    p = leaf("custom", cmd_dns_custom, "list, add, set or remove custom records")
    p.add_argument("custom_action", nargs="?", choices=("list", "add", "set", "remove"))
    p.add_argument("qname", nargs="?", default="")
    p.add_argument("rtype", nargs="?", default="A")
    p.add_argument("value", nargs="?", default="")
    p = leaf("secondary", cmd_dns_secondary, "show or set the secondary nameservers")
    p.add_argument("hostnames", nargs="*", metavar="HOST", help="hostnames, or xfr:ADDRESS")
    p.add_argument("--clear", action="store_true", help="remove every secondary nameserver")
    p = leaf("ds", cmd_dns_ds, "the DS records to give the registrar (DNSSEC)")
    p.add_argument("zone", nargs="?")
    p = leaf("update", cmd_dns_update, "write, sign and reload what changed")
    p.add_argument("--force", action="store_true", help="rebuild and re-sign every zone (a job)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p = leaf("preview", cmd_dns_preview, "what the update would change, as a diff")
    p.add_argument("--force", action="store_true", help="as a forced update would")


# --- parser -------------------------------------------------------------------------------


class MiabParser(argparse.ArgumentParser):
    """Options and arguments in any order a user types them (`user add --admin EMAIL PW`,
    `user add EMAIL --admin PW`), and a mistake answered with the subcommand's own usage."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._subparsers is not None or self._intermixing:
            return super().parse_known_args(args, namespace)
        # A leaf command: read its arguments intermixed, and refuse leftovers here, where
        # the usage shown is this command's.
        self._intermixing = True
        try:
            parsed, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    box_help = "the box's folder (made by `miab init`); default: /etc/mailinabox.conf on a real box"
    box_arg = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand without --box keeps the one given before it (`miab --box X ...`).
    box_arg.add_argument("--box", metavar="DIR", default=argparse.SUPPRESS, help=box_help)
    parser: argparse.ArgumentParser = MiabParser(prog="miab", description=__doc__.splitlines()[0])
    parser.add_argument("--box", metavar="DIR", default=None, help=box_help)
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
    _dns_parser(sub, box_arg)
    _add_web_commands(sub, command)
    _backup_parser(sub, box_arg)
    _system_parser(sub, box_arg)
    return parser


def _not_utf8(text: str) -> bool:
    """Python keeps bytes that are not UTF-8 in an argument as lone surrogates."""
    return any("\udc80" <= c <= "\udcff" for c in text)


def _say(message: str) -> None:
    """An error on one line: a value's new lines or escape codes are shown, not obeyed."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    sys.stderr.write(f"miab: {shown}\n")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if any(_not_utf8(a) for a in arguments):
        _say("an argument is not UTF-8 text; the box stores and shows only UTF-8.")
        return 2
    args = build_parser().parse_args(arguments)
    try:
        status: int = args.func(args)
        return status
    except MiabError as exc:
        _say(exc.message)
        return 1
    except KeyboardInterrupt:
        return 130
    # The last line of defence: a box's files damaged or unreadable is a one-line reason,
    # not a traceback (core refuses bad input before it gets here).
    except sqlite3.DatabaseError as exc:
        _say(f"a database of this box cannot be used: {exc}.")
        return 1
    except UnicodeError as exc:
        _say(f"a file of this box is not UTF-8 text ({exc}).")
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        _say(f"{exc.strerror or exc}{where}.")
        return 1
