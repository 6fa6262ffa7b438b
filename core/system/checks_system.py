"""The status checks of the sections "System" and "Network" (SYSTEM.md §5.1, §5.2), in the
reference's words. Each check is `check(ctx, out)`; what it finds goes to `out`.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.errors import MiabError
from core.system.context import Findings, StatusContext

CONNECT_TIMEOUT: Final = 1.0  # the reference's service probe
SMTP_TIMEOUT: Final = 5.0  # the reference's `nc -w5`
PROGRAM_TIMEOUT: Final = 5.0
GOOGLE_MX: Final = "aspmx.l.google.com"


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    port: int | None
    public: bool
    program: str | None  # what runs it, to say when it is not installed here


def services(ssh_port: int | None) -> tuple[Service, ...]:
    """v0.51's table (SYSTEM.md §5.1); the SSH port is sshd's own (none: not checked)."""
    return (
        Service("Local DNS (bind9)", 53, False, "named"),
        Service("Local DNS Control (bind9/rndc)", 953, False, "named"),
        Service("Dovecot LMTP LDA", 10026, False, "dovecot"),
        Service("Postgrey", 10023, False, "postgrey"),
        Service("Spamassassin", 10025, False, "spampd"),
        Service("OpenDKIM", 8891, False, "opendkim"),
        Service("OpenDMARC", 8893, False, "opendmarc"),
        Service("Mail-in-a-Box Management Daemon", 10222, False, None),
        Service("SSH Login (ssh)", ssh_port, True, "sshd"),
        Service("Public DNS (nsd4)", 53, True, "nsd"),
        Service("Incoming Mail (SMTP/postfix)", 25, True, "postfix"),
        Service("Outgoing Mail (SMTP 587/postfix)", 587, True, "postfix"),
        Service("IMAPS (dovecot)", 993, True, "dovecot"),
        Service("Mail Filters (Sieve/dovecot)", 4190, True, "dovecot"),
        Service("HTTP Web (nginx)", 80, True, "nginx"),
        Service("HTTPS Web (nginx)", 443, True, "nginx"),
    )


LOCAL_DNS: Final = services(None)[0]
LOCAL_BOX_SERVICES: Final = (
    "This is a local box: its services (nsd, postfix, dovecot, nginx and the rest) are not run "
    "on this machine, so they were not checked."
)
LOCAL_DNS_FATAL: Final = (
    "The other checks were not run: they look names up through this DNS server, as the "
    "reference's do."
)


def can_connect(address: str, port: int, timeout: float = CONNECT_TIMEOUT) -> bool:
    if not address:
        return False
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except OSError:
            return False
    return True


def sshd_settings(ctx: StatusContext) -> Mapping[str, str]:
    """`sshd -T`'s effective settings (HEAD reads them so), once per run; empty when sshd is
    not installed or cannot say."""

    def read() -> dict[str, str]:
        run = ctx.host.run(["sshd", "-T"], timeout=PROGRAM_TIMEOUT)
        if not run.ok:
            return {}
        values: dict[str, str] = {}
        for line in run.stdout.splitlines():
            key, sep, value = line.partition(" ")
            if sep:
                values.setdefault(key.lower(), value.strip())
        return values

    return ctx.memo.get("sshd -T", read)


def ssh_port(ctx: StatusContext) -> int | None:
    try:
        port = int(sshd_settings(ctx).get("port", "").split()[0])
    except (ValueError, IndexError):
        return None
    return port if 0 < port < 65536 else None


def local_dns_down(ctx: StatusContext) -> bool:
    """The reference stops every later check when bind9 is down: they would all time out.
    So do we, when the lookups go to this machine's resolver and it does not answer."""
    return ctx.probe_services and ctx.dns.local_resolver and not can_connect("127.0.0.1", 53)


# --- System ------------------------------------------------------------------------------------


def _nginx_test(ctx: StatusContext) -> str:
    """`nginx -t`'s output (why the web server is not running), once per run."""

    def read() -> str:
        run = ctx.host.run(["nginx", "-t"], timeout=PROGRAM_TIMEOUT)
        return (run.stderr + run.stdout).strip()

    return ctx.memo.get("nginx -t", read)


def check_services(ctx: StatusContext, out: Findings) -> None:
    if not ctx.probe_services:
        out.warning(LOCAL_BOX_SERVICES)
        return
    facts = ctx.facts
    # Every probe at once; sshd's port (from `sshd -T`) and fail2ban are asked meanwhile.
    table = list(services(None))
    ssh_index = next(i for i, s in enumerate(table) if s.program == "sshd")
    results: list[tuple[bool, list[tuple[str, list[str]]]] | None] = [None] * len(table)
    fail2ban: list[bool] = []

    def probe(index: int) -> None:
        service = table[index]
        if index == ssh_index:
            service = Service(service.name, ssh_port(ctx), True, service.program)
        if not service.port:
            return  # no sshd here: not checked
        errors: list[tuple[str, list[str]]] = []
        port, name = service.port, service.name
        running = False
        if service.public:
            if can_connect(facts.public_ip, port):
                if not facts.public_ipv6 or can_connect(facts.public_ipv6, port):
                    running = True
                elif port != 53 and can_connect(facts.private_ipv6, port):
                    errors.append(
                        (
                            f"{name} is running (and available over IPv4 and the local IPv6 "
                            f"address), but it is not publicly accessible at "
                            f"{facts.public_ip}:{port}.",
                            [],
                        )
                    )
                else:
                    errors.append(
                        (
                            f"{name} is running and available over IPv4 but is not accessible "
                            f"over IPv6 at {facts.public_ipv6} port {port}.",
                            [],
                        )
                    )
            elif port != 53 and can_connect("127.0.0.1", port):
                errors.append(
                    (
                        f"{name} is running but is not publicly accessible at "
                        f"{facts.public_ip}:{port}.",
                        [],
                    )
                )
            else:
                errors.append((f"{name} is not running (port {port}).", []))
        elif can_connect("127.0.0.1", port):
            running = True
        else:
            errors.append((f"{name} is not running (port {port}).", []))
        if errors and service.program and not ctx.host.installed(service.program):
            errors[-1][1].append(f"{service.program} is not installed here.")
        elif errors and port in (80, 443):
            errors[-1][1].append(_nginx_test(ctx))
        if errors and index == 0 and local_dns_down(ctx):
            errors[-1][1].append(LOCAL_DNS_FATAL)
        results[index] = (running, errors)

    def ask_fail2ban() -> None:
        fail2ban.append(ctx.host.run(["fail2ban-client", "status"], timeout=PROGRAM_TIMEOUT).ok)

    threads = [threading.Thread(target=probe, args=(i,), daemon=True) for i in range(len(table))]
    threads.append(threading.Thread(target=ask_fail2ban, daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_running = True
    for result in results:
        if result is None:
            continue
        running, errors = result
        all_running = all_running and running
        for message, lines in errors:
            out.error(message)
            for line in lines:
                out.line(line)
    if not (fail2ban and fail2ban[0]):
        out.error("fail2ban is not running.")
        if not ctx.host.installed("fail2ban-client"):
            out.line("fail2ban-client is not installed here.")
        all_running = False
    if all_running:
        out.ok("All system services are running.")


def check_ssh(ctx: StatusContext, out: Findings) -> None:
    """HEAD: sshd's effective PasswordAuthentication; nothing when sshd cannot say."""
    value = sshd_settings(ctx).get("passwordauthentication")
    if not value:
        return
    if value == "no":
        out.ok("SSH disallows password-based login.")
    else:
        out.error(
            "The SSH server on this machine permits password-based login. A more secure way to "
            "log in is using a public key. Add your SSH public key to $HOME/.ssh/authorized_keys, "
            "check that you can log in without a password, set the option "
            "'PasswordAuthentication no' in /etc/ssh/sshd_config, and then restart the openssh "
            "via 'sudo service ssh restart'."
        )


def check_updates(ctx: StatusContext, out: Findings) -> None:
    if Path(ctx.reboot_flag).exists():
        # What the reference says first whatever the list holds, so the list is not asked for.
        out.error("System updates have been installed and a reboot of the machine is required.")
        return
    try:
        packages = ctx.system.updates(refresh=False)
    except MiabError as exc:
        out.warning(exc.message)
        return
    if not packages:
        out.ok("System software is up to date.")
    else:
        out.error(f"There are {len(packages)} software packages that can be updated.")
        for package in packages:
            out.line(package.line)


def check_version(ctx: StatusContext, out: Findings) -> None:
    info = ctx.system.version_info()
    running = info.box_miab or "Unknown"
    ours = f"miab-tui {info.ours} administers this box; " + (
        f"its Mail-in-a-Box checkout is at {info.box_miab}."
        if info.box_miab
        else "no Mail-in-a-Box checkout was found on this machine."
    )
    if ctx.facts.privacy:
        out.warning(
            f"You are running version Mail-in-a-Box {running}. Mail-in-a-Box version check "
            "disabled by privacy setting."
        )
        out.line(ours)
        return
    try:
        latest: str | None = ctx.system.fetch_latest_version()
        reason = ""
    except MiabError as exc:
        latest, reason = None, exc.message
    if latest == running:
        out.ok(f"Mail-in-a-Box is up to date. You are running version {running}.")
    elif latest is None:
        out.error(
            "Latest Mail-in-a-Box version could not be determined. You are running version "
            f"{running}."
        )
        out.line(reason)
    else:
        out.error(
            f"A new version of Mail-in-a-Box is available. You are running version {running}. "
            f"The latest version is {latest}. For upgrade instructions, see "
            "https://mailinabox.email. "
        )
    out.line(ours)


def alias_exists(ctx: StatusContext, out: Findings, label: str, address: str) -> None:
    aliases = ctx.facts.aliases
    if address in aliases:
        if aliases[address]:
            out.ok(f"{label} exists as a mail alias. [{address} ↦ {aliases[address]}]")
        else:
            out.error(
                f"You must set the destination of the mail alias for {address} to direct email "
                "to you or another administrator."
            )
    else:
        out.error(
            f"You must add a mail alias for {address} which directs email to you or another "
            "administrator."
        )


def check_administrator(ctx: StatusContext, out: Findings) -> None:
    alias_exists(ctx, out, "System administrator address", "administrator@" + ctx.facts.primary)


def check_disk(ctx: StatusContext, out: Findings) -> None:
    root = ctx.facts.storage_root
    try:
        st = os.statvfs(root)
    except OSError as exc:
        out.error(f"The disk space of {root} could not be read: {exc.strerror}.")
        return
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    message = f"The disk has {free / 1024**3:.2f} GB space remaining."
    if free > 0.3 * total:
        out.ok("The disk has more than 30% free space." if ctx.rounded else message)
    elif free > 0.15 * total:
        out.warning("The disk has less than 30% free space." if ctx.rounded else message)
    else:
        out.error("The disk has less than 15% free space." if ctx.rounded else message)
    cache = Path(root) / "backup" / "cache"
    try:
        entries = len(os.listdir(cache))
    except OSError:
        entries = 0
    if entries > 1:
        out.warning(
            f"The backup cache directory {cache} has more than one backup target cache. "
            "Consider clearing this directory to save disk space."
        )


def memory_free_percent() -> float | None:
    """Free memory as psutil counts it for the reference: available / total."""
    values: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                key, _, rest = line.partition(":")
                fields = rest.split()
                if fields and fields[0].isdigit():
                    values[key] = int(fields[0])
    except OSError:
        return None
    total, available = values.get("MemTotal"), values.get("MemAvailable")
    if not total or available is None:
        return None
    return 100.0 * available / total


def check_memory(ctx: StatusContext, out: Findings) -> None:
    percent = memory_free_percent()
    if percent is None:
        out.warning("System memory could not be read here (/proc/meminfo).")
        return
    message = f"System memory is {round(percent)}% free."
    if percent >= 20:
        out.ok("System free memory is at least 20%." if ctx.rounded else message)
    elif percent >= 10:
        out.warning("System free memory is below 20%." if ctx.rounded else message)
    else:
        out.error("System free memory is below 10%." if ctx.rounded else message)


def backup_target(storage_root: str) -> str:
    """`backup/custom.yaml`'s target (STORAGE.md §6), `local` when unset."""
    from core.system.settings import read_settings

    settings = read_settings(Path(storage_root) / "backup" / "custom.yaml")
    target = settings.get("target", "local")
    return target if isinstance(target, str) else "local"


NO_BACKUP_STATUS: Final = (
    "Could not obtain backup status or no backup has been made (yet). This could happen if you "
    "have just enabled backups. In that case, check back tomorrow."
)


def _field(value: object, name: str) -> object:
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _backup_date(value: object) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    if isinstance(value, str):
        for pattern in ("%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z"):
            try:
                parsed = datetime.datetime.strptime(value, pattern)
            except ValueError:
                continue
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    return None


def check_backup(ctx: StatusContext, out: Findings) -> None:
    """HEAD's backup check: enabled, and the newest backup under a week old. The backups come
    from the box's backup service (`box.backup.status()`: `enabled`, `error`, `backups` newest
    first, as `/system/backup/status`); a box without one has no status to read, and this says
    so."""
    status_of = getattr(ctx.backup, "status", None)
    status: object = None
    enabled = backup_target(ctx.facts.storage_root) != "off"
    problem = ""
    if callable(status_of):
        try:
            status = status_of()
        except MiabError as exc:
            problem = exc.message
        else:
            flag = _field(status, "enabled")
            enabled = flag if isinstance(flag, bool) else enabled
            error = _field(status, "error")
            problem = error if isinstance(error, str) else ""
    if not enabled:
        out.warning("Backups are disabled. It is recommended to enable a backup for your box.")
        return
    out.ok("Backups are enabled")
    if not callable(status_of):
        out.warning("The backup status is not available here: this box has no backup service.")
        return
    backups = _field(status, "backups")
    newest = None
    if not problem and isinstance(backups, list | tuple) and backups:
        first = backups[0]
        newest = _backup_date(_field(first, "when")) or _backup_date(_field(first, "date"))
    if newest is None:
        out.error(NO_BACKUP_STATUS)
        if problem:
            out.line(problem)
    elif (ctx.now - newest).days > 7:
        out.error("Backup is more than a week old")


# --- Network -----------------------------------------------------------------------------------


def check_firewall(ctx: StatusContext, out: Findings) -> None:
    if not ctx.host.installed("ufw"):
        out.warning(
            "The ufw program was not installed. If your system is able to run iptables, rerun "
            "the setup."
        )
        return
    run = ctx.host.run(["ufw", "status"], timeout=PROGRAM_TIMEOUT)
    if not run.ok:
        out.warning(
            "The firewall is not working on this machine. An error was received while trying "
            "to check the firewall. To investigate run 'sudo ufw status'."
        )
        return
    lines = run.stdout.splitlines()
    if lines and lines[0] == "Status: active":
        missing = [
            s
            for s in services(ssh_port(ctx))
            if s.public and s.port and not _port_allowed(lines, s.port)
        ]
        for service in missing:
            out.error(
                f"Port {service.port} ({service.name}) should be allowed in the firewall, please "
                "re-run the setup."
            )
        if not missing:
            out.ok("Firewall is active.")
    else:
        out.warning(
            "The firewall is disabled on this machine. This might be because the system is "
            "protected by an external firewall. We can't protect the system against bruteforce "
            "attacks without the local firewall active. Connect to the system via ssh and try to "
            "run: ufw enable."
        )


def _port_allowed(lines: list[str], port: int) -> bool:
    pattern = re.compile(str(port) + r"[/ \t].*")
    return any(pattern.match(line) for line in lines)


def check_outbound_smtp(ctx: StatusContext, out: Findings) -> None:
    if ctx.local:
        out.warning(
            "This is a local box: it sends no mail, so outbound mail (SMTP port 25) was not "
            "checked."
        )
        return
    answer = ctx.dns.query(GOOGLE_MX, "A")
    address = answer.values[0] if answer.found else ""
    if address and can_connect(address, 25, SMTP_TIMEOUT):
        out.ok("Outbound mail (SMTP port 25) is not blocked.")
    else:
        out.error(
            "Outbound mail (SMTP port 25) seems to be blocked by your network. You will not be "
            "able to send any mail. Many residential networks block port 25 to prevent hijacked "
            "machines from being able to send spam. A quick connection test to Google's mail "
            "server on port 25 failed."
        )


def _zen(ctx: StatusContext, out: Findings, address: str, family: str, reverse: str) -> None:
    name = reverse + ".zen.spamhaus.org"
    answer = ctx.dns.query(name, "A")
    unsure = f"Could not determine whether this box's {family} address is blacklisted."
    if answer.outcome in ("nxdomain", "no-answer"):
        out.ok(f"{family} address is not blacklisted by zen.spamhaus.org.")
    elif answer.outcome == "timeout":
        out.warning(f"Connection to zen.spamhaus.org timed out. {unsure} Please try again later.")
    elif answer.outcome == "no-nameservers":
        out.warning(f"Could not connect to zen.spamhaus.org. {unsure} Please try again later.")
    else:
        code = answer.text()
        if code == "127.255.255.252":
            out.warning(f"Incorrect spamhaus query: {name}. {unsure}")
        elif code == "127.255.255.254":
            out.warning(
                "Mail-in-a-Box is configured to use a public DNS server. This is not supported "
                f"by spamhaus. {unsure}"
            )
        elif code == "127.255.255.255":
            out.warning(
                "Too many queries have been performed on the spamhaus server. Could not "
                f"determine whether this box's {family} address is blacklisted."
            )
        else:
            out.error(
                f"The {family} address of this machine {address} is listed in the Spamhaus "
                f"Block List (code {code}), which may prevent recipients from receiving your "
                f"email. See http://www.spamhaus.org/query/ip/{address}."
            )


def check_spamhaus(ctx: StatusContext, out: Findings) -> None:
    """HEAD: the box's IPv4 and IPv6 addresses in the ZEN list, with Spamhaus's return codes
    for a refused, public-resolver or rate-limited query read as "could not tell"."""
    facts = ctx.facts
    queries = []
    try:
        v4 = ipaddress.IPv4Address(facts.public_ip)
        queries.append((str(v4), "IPv4", ".".join(reversed(str(v4).split(".")))))
    except ValueError:
        out.warning(
            "The box has no public IPv4 address (PUBLIC_IP), so zen.spamhaus.org was not asked."
        )
    if facts.public_ipv6:
        try:
            v6 = ipaddress.IPv6Address(facts.public_ipv6)
            queries.append(
                (facts.public_ipv6, "IPv6", ".".join(reversed(v6.exploded.replace(":", ""))))
            )
        except ValueError:
            pass
    ctx.dns.prefetch(*((reverse + ".zen.spamhaus.org", "A") for _, _, reverse in queries))
    for address, family, reverse in queries:
        _zen(ctx, out, address, family, reverse)
