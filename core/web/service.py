"""The web area of a box (SYSTEM.md §2, BEHAVIOUR.md §7): the web domains with their roots and
certificate status, and the nginx configuration, written through the host door.

The update renders `conf.d/local.conf` (core.web.nginx), then `Host.swap_config` tests the new
file with `nginx -t` before it replaces the live one, reloads nginx, and puts the old file
back if the reload fails. nginx is tested with a small main config of ours (`nginx-test.conf`
in the box's state folder) whose `http` block includes the candidate file: the candidate is
checked as conf.d files are loaded, certificates and keys included, and the system's main
config is never edited.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.audit import Actor
from core.formats import FormatError, nginx_path
from core.host import Host, SwapOutcome, SwapResult, candidate_path
from core.results import Change
from core.storage.files import atomic_write, file_lock
from core.web.custom import SiteCustom, load_custom, root_overrides
from core.web.domains import web_domains
from core.web.nginx import Listen, Programs, Site, SiteKind, render

if TYPE_CHECKING:
    from core.box import Box

UPDATED: Final = "web updated"
# The API's port, as `miab serve` and the reference's daemon listen (127.0.0.1 only).
API_PORT: Final = 10222
# Where setup installs php-fpm's configuration, one folder per PHP version; HEAD's version
# when none is there.
PHP_ETC: Final = "/etc/php"
DEFAULT_PHP: Final = "8.0"
NOT_UPDATED: Final = (
    "nginx's web configuration (local.conf) was not updated and keeps its last good version: "
)
# nginx's error lines: `nginx: [emerg] 1234#1234: MESSAGE` (with -t, a date may lead).
_PROBLEM_LINE: Final = re.compile(
    r"(?:nginx: )?(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d )?\[(emerg|alert|crit|error)\] (?:\d+#\d+: )?(.*)"
)


@dataclass(frozen=True, slots=True)
class WebDomain:
    """One row of `/web/domains` (BEHAVIOUR.md §7.1)."""

    domain: str
    root: str
    custom_root: str
    ssl_status: str  # success | warning | danger
    ssl_text: str
    static_enabled: bool

    @property
    def ssl_certificate(self) -> tuple[str, str]:
        return (self.ssl_status, self.ssl_text)

    def as_json(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "root": self.root,
            "custom_root": self.custom_root,
            "ssl_certificate": list(self.ssl_certificate),
            "static_enabled": self.static_enabled,
        }


def safe_name(domain: str) -> str:
    """A domain as a file name under `www/` (URL-quoted, as the reference names them)."""
    return urllib.parse.quote(domain, safe="")


def php_fpm_socket(is_local: bool) -> str:
    """php-fpm's socket for the newest PHP installed on a real box (HEAD's version otherwise)."""
    version = DEFAULT_PHP
    if not is_local:
        found = [Path(p).parent.name for p in glob.glob(os.path.join(PHP_ETC, "*", "fpm"))]
        numbered = [v for v in found if re.fullmatch(r"\d+\.\d+", v)]
        if numbered:
            version = max(numbered, key=lambda v: tuple(int(n) for n in v.split(".")))
    return f"/var/run/php/php{version}-fpm.sock"


def _sha1(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.sha1(f.read()).hexdigest()  # noqa: S324 - a change marker, as the reference


def _problem(swap: SwapResult, candidate: Path) -> str:
    """Why nginx refused the candidate: its first error line (the candidate file named as the
    new local.conf), else the door's note."""
    if swap.test is not None:
        for line in (swap.test.stderr + swap.test.stdout).splitlines():
            found = _PROBLEM_LINE.search(line)
            if found:
                message = (
                    found.group(2).strip().replace(str(candidate), f"the new {swap.path.name}")
                )
                return f"nginx: [{found.group(1)}] {message}"
    return swap.note


class WebService:
    """The web domains and the nginx config of a box.

    `host` (the host door), `listen` and `api_port` exist so a test can aim the update at an
    nginx of its own, on loopback and high ports, proxying `/admin/` to a server of its own.
    """

    def __init__(
        self,
        box: Box,
        *,
        host: Host | None = None,
        listen: Listen | None = None,
        api_port: int = API_PORT,
    ) -> None:
        self._box = box
        config = box.config
        self.host = host or Host(config)
        self.listen = listen or Listen()
        self.api_port = api_port
        self.conf_path = config.nginx_local_conf
        self.www_dir = config.storage_root / "www"
        self.custom_yaml = self.www_dir / "custom.yaml"
        self._state_dir = config.state_db.parent / "web"
        self.test_conf = self._state_dir / "nginx-test.conf"
        self._lock_path = self._state_dir / "lock"
        # Where `Host.swap_config` writes the file it tests (beside the live one).
        self._candidate = candidate_path(self.conf_path)

    # --- reading ---------------------------------------------------------------------------

    def _domains(self) -> tuple[list[str], frozenset[str]]:
        """The web domains (SYSTEM.md §2.1) and which of them are `www.` redirects."""
        facts = self._box.dns.zone_facts()
        domains = web_domains(facts)
        return domains, facts.www_redirects & frozenset(domains)

    def root(self, domain: str) -> Path:
        """`www/<domain>` if that folder exists, else `www/default`."""
        own = self.custom_root(domain)
        return own if own.is_dir() else self.www_dir / "default"

    def custom_root(self, domain: str) -> Path:
        return self.www_dir / safe_name(domain)

    def domains(self) -> tuple[WebDomain, ...]:
        """`/web/domains` (BEHAVIOUR.md §7.1), domain-sorted."""
        domains, redirects = self._domains()
        no_static = redirects | root_overrides(self.custom_yaml)
        statuses = {row.domain: row for row in self._box.tls.web_statuses()}
        rows = []
        for domain in domains:
            status = statuses.get(domain)
            if status is None:  # the domains changed between the two reads
                status = self._box.tls.domain_status(domain)
            rows.append(
                WebDomain(
                    domain=domain,
                    root=str(self.root(domain)),
                    custom_root=str(self.custom_root(domain)),
                    ssl_status=status.status,
                    ssl_text=status.summary,
                    static_enabled=domain not in no_static,
                )
            )
        return tuple(rows)

    # --- the configuration -----------------------------------------------------------------

    def programs(self) -> Programs:
        config = self._box.config
        return Programs(
            php_fpm_socket=php_fpm_socket(config.is_local),
            mobileconfig=str(config.system_path("/var/lib/mailinabox/mobileconfig.xml")),
            autoconfig=str(config.system_path("/var/lib/mailinabox/mozilla-autoconfig.xml")),
            mta_sts=str(config.mta_sts_policy),
            api_port=self.api_port,
        )

    def sites(self) -> list[Site]:
        """Each web domain with its kind, root, certificate and customisations; the primary
        hostname first.

        Raises:
            FormatError: www/custom.yaml cannot be used, or a certificate file cannot be read.
        """
        config = self._box.config
        primary = config.primary_hostname
        domains, redirects = self._domains()
        custom = load_custom(self.custom_yaml)
        inventory = self._box.tls.inventory()
        system_cert = config.ssl_dir / "ssl_certificate.pem"
        system_key = config.ssl_dir / "ssl_private_key.pem"
        hashes: dict[Path, str] = {}

        def sha1(path: Path) -> str:
            if path not in hashes:
                try:
                    hashes[path] = _sha1(path)
                except OSError as exc:
                    raise FormatError(
                        f"the TLS file {path} cannot be read ({exc.strerror})"
                    ) from None
            return hashes[path]

        sites = []
        for domain in [primary, *(d for d in domains if d != primary)]:
            settings = custom.get(domain, SiteCustom())
            kind: SiteKind
            if domain == primary:
                kind = "primary"
            elif domain in redirects:
                kind = "www-redirect"
            elif settings.root_override:
                kind = "proxied"
            else:
                kind = "static"
            # The primary hostname is always served with the system certificate's link; another
            # domain with its own (or a wildcard) certificate, else with the primary's.
            cert = None if domain == primary else self._box.tls.certificate_for(domain, inventory)
            cert_path, key_path = system_cert, system_key
            if cert is not None and cert.key_path is not None:
                cert_path, key_path = cert.path, cert.key_path
            include = self.www_dir / (safe_name(domain) + ".conf")
            sites.append(
                Site(
                    domain=domain,
                    kind=kind,
                    root=str(self.root(domain)),
                    certificate=str(cert_path),
                    key=str(key_path),
                    key_sha1=sha1(key_path),
                    certificate_sha1=sha1(cert_path),
                    custom=settings,
                    include=str(include) if include.is_file() else None,
                )
            )
        return sites

    def render_config(self, listen: Listen | None = None) -> str:
        """The text of local.conf for the box as it is now.

        Raises:
            FormatError: a value cannot be written into the config (the text says which).
        """
        return render(
            self.sites(),
            acme_webroot=str(self._box.config.acme_webroot),
            programs=self.programs(),
            listen=listen or self.listen,
        )

    def _write_test_conf(self) -> None:
        """The main config `nginx -t` loads: the candidate local.conf inside `http`, as the
        system's nginx.conf includes conf.d, with the system's modules and MIME types."""
        lines = [
            "# Written by miab-tui before each web update: `nginx -t -c` on this file tests a new",
            "# local.conf (the candidate the update writes beside it) before it goes live.",
            f"pid {nginx_path(str(self._state_dir / 'nginx-test.pid'))};",
            "error_log stderr;",
            "include /etc/nginx/modules-enabled/*.conf;",
            "events {}",
            "http {",
            # As the reference's setup leaves nginx.conf (its default of 64 refuses the
            # server names of a mail domain of 40 characters).
            "\tserver_names_hash_bucket_size 128;",
        ]
        if Path("/etc/nginx/mime.types").is_file():
            lines.append("\tinclude /etc/nginx/mime.types;")
        lines += [f"\tinclude {nginx_path(str(self._candidate))};", "}", ""]
        text = "\n".join(lines)
        try:
            if self.test_conf.read_text(encoding="utf-8") == text:
                return
        except (OSError, UnicodeDecodeError):
            pass
        atomic_write(self.test_conf, text, mode=0o644)

    # --- the update ------------------------------------------------------------------------

    def update(self, *, actor: Actor) -> Change:
        """Regenerate local.conf (SYSTEM.md §2.2): `web updated` when the file changed (then
        any note from the host, e.g. that nginx was not reloaded on a local box); nothing when
        it did not. A config nginx refuses, or that cannot be made, is a line saying why,
        with `changed` False: the last good file stays live. Never raises for those."""
        with self._box.audit.recording(actor, "update web", ""):
            return self._update()

    def hook_lines(self) -> list[str]:
        """The update as a follow-up of a certificate change (SYSTEM.md §1.6 step 3)."""
        return list(self._update().lines)

    def _update(self) -> Change:
        try:
            with file_lock(self._lock_path):
                text = self.render_config()
                self._write_test_conf()
                swap = self.host.swap_config(
                    self.conf_path,
                    text,
                    test_argv=("nginx", "-t", "-q", "-c", str(self.test_conf)),
                    service="nginx",
                )
        except FormatError as exc:
            return Change.unchanged(NOT_UPDATED + str(exc) + ".")
        except OSError as exc:
            where = exc.filename or self.conf_path
            return Change.unchanged(f"{NOT_UPDATED}cannot write {where}: {exc.strerror}.")
        outcome = swap.outcome
        if outcome is SwapOutcome.UNCHANGED:
            return Change.unchanged()
        if outcome is SwapOutcome.REFUSED:
            return Change.unchanged(
                NOT_UPDATED + "nginx refused it: " + _problem(swap, self._candidate)
            )
        if outcome is SwapOutcome.ROLLED_BACK:
            return Change.unchanged(NOT_UPDATED + swap.note)
        return Change.of(UPDATED, swap.note)


__all__ = ["API_PORT", "UPDATED", "WebDomain", "WebService", "php_fpm_socket", "safe_name"]
