"""The box's configuration: `mailinabox.conf` and where a box keeps its files.

A real box reads `/etc/mailinabox.conf` and keeps nsd, nginx, opendkim and the API key under
the system's own folders. A local box (`miab init DIR`) keeps all of that inside DIR, so
`system_root` is DIR there and `/` on a real box; nothing in core hard-codes `/etc/...`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from core.errors import ConfigError
from core.storage.files import atomic_write

SYSTEM_CONF: Final = Path("/etc/mailinabox.conf")

log = logging.getLogger("miab.config")

# Our own conf key (kept in `BoxConfig.extra`): the proxies whose X-Forwarded-For the API
# believes, as a comma-separated list of addresses or networks; empty trusts none.
TRUSTED_PROXIES_KEY: Final = "MIAB_TRUSTED_PROXIES"
# A real box's nginx proxies to the API from loopback; a local box trusts no proxy.
REAL_BOX_TRUSTED_PROXIES: Final = ("127.0.0.1", "::1")

ProxyNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Every variable of STORAGE.md §1, in the order setup writes them.
CONF_KEYS: Final = (
    "STORAGE_USER",
    "STORAGE_ROOT",
    "PRIMARY_HOSTNAME",
    "PUBLIC_IP",
    "PUBLIC_IPV6",
    "PRIVATE_IP",
    "PRIVATE_IPV6",
    "MTA_STS_MODE",
)


def parse_conf(text: str) -> dict[str, str]:
    """Parse `KEY=VALUE` lines as the reference does; the first occurrence of a key wins.

    Unlike the reference, a line without `=` (or a blank one) is skipped instead of crashing.
    """
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values.setdefault(key.strip(), value.strip())
    return values


def render_conf(values: dict[str, str]) -> str:
    keys = [k for k in CONF_KEYS if k in values] + [k for k in values if k not in CONF_KEYS]
    return "".join(f"{k}={values[k]}\n" for k in keys)


@dataclass(frozen=True, slots=True)
class BoxConfig:
    """Settings of one box: the conf variables plus where its files live."""

    storage_root: Path
    primary_hostname: str
    public_ip: str = ""
    public_ipv6: str = ""
    private_ip: str = ""
    private_ipv6: str = ""
    storage_user: str = "user-data"
    mta_sts_mode: str = ""
    system_root: Path = Path("/")
    conf_path: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    # Paths a real box keeps outside STORAGE_ROOT (STORAGE.md §8), under system_root here.
    def system_path(self, absolute: str) -> Path:
        return self.system_root / absolute.lstrip("/")

    @property
    def users_db(self) -> Path:
        return self.storage_root / "mail" / "users.sqlite"

    @property
    def mailboxes_dir(self) -> Path:
        return self.storage_root / "mail" / "mailboxes"

    @property
    def api_key_path(self) -> Path:
        return self.system_path("/var/lib/mailinabox/api.key")

    # Outside STORAGE_ROOT (STORAGE.md §8): the system's own paths on a real box, the same
    # paths inside the box folder on a local one. Nothing else in core names these.

    @property
    def nsd_dir(self) -> Path:
        return self.system_path("/etc/nsd")

    @property
    def nsd_zones_dir(self) -> Path:
        return self.nsd_dir / "zones"

    @property
    def nsd_zones_conf(self) -> Path:
        """nsd's zone list (DNS.md §8), included by nsd.conf."""
        return self.nsd_dir / "zones.conf"

    @property
    def opendkim_dir(self) -> Path:
        """OpenDKIM's KeyTable and SigningTable (STORAGE.md §3)."""
        return self.system_path("/etc/opendkim")

    @property
    def nginx_conf_dir(self) -> Path:
        return self.system_path("/etc/nginx/conf.d")

    @property
    def nginx_local_conf(self) -> Path:
        """The generated nginx config (SYSTEM.md §2)."""
        return self.nginx_conf_dir / "local.conf"

    @property
    def ssh_dir(self) -> Path:
        """The SSH host keys (their fingerprints are the SSHFP records)."""
        return self.system_path("/etc/ssh")

    @property
    def backup_ssh_key(self) -> Path:
        """The private key backups to an rsync target log in with; `.pub` beside it."""
        return self.system_path("/root/.ssh/id_rsa_miab")

    @property
    def reboot_required_flag(self) -> Path:
        """Present when package updates need a reboot."""
        return self.system_path("/var/run/reboot-required")

    @property
    def mta_sts_policy(self) -> Path:
        return self.system_path("/var/lib/mailinabox/mta-sts.txt")

    @property
    def status_checks_cache(self) -> Path:
        """The previous nightly status-check output (for change notices)."""
        return self.system_path("/var/cache/mailinabox/status_checks.json")

    @property
    def dns_update_lock(self) -> Path:
        """Held while the DNS update runs, by every process."""
        return self.system_path("/var/lib/mailinabox/dns-update")

    # Inside STORAGE_ROOT (STORAGE.md §3–§5).

    @property
    def custom_dns_yaml(self) -> Path:
        return self.storage_root / "dns" / "custom.yaml"

    @property
    def dnssec_dir(self) -> Path:
        return self.storage_root / "dns" / "dnssec"

    @property
    def dkim_dir(self) -> Path:
        return self.storage_root / "mail" / "dkim"

    @property
    def ssl_dir(self) -> Path:
        """The TLS key, certificates and the `ssl_certificate.pem` link."""
        return self.storage_root / "ssl"

    @property
    def letsencrypt_dir(self) -> Path:
        """certbot's `--config-dir` (ACME account, logs): the reference keeps ACME state in
        STORAGE_ROOT, not /etc/letsencrypt (STORAGE.md §5)."""
        return self.ssl_dir / "lets_encrypt"

    @property
    def acme_webroot(self) -> Path:
        """certbot's `--webroot-path`; nginx serves `/.well-known/acme-challenge/` from it."""
        return self.letsencrypt_dir / "webroot"

    @property
    def state_db(self) -> Path:
        """Our own state (audit log, login sessions, login throttling); not the reference's."""
        return self.system_path("/var/lib/mailinabox/miab-tui.sqlite")

    @property
    def settings_yaml(self) -> Path:
        return self.storage_root / "settings.yaml"

    @property
    def is_local(self) -> bool:
        return self.system_root != Path("/")

    @property
    def trusted_proxies(self) -> tuple[ProxyNetwork, ...]:
        """The proxies whose `X-Forwarded-For` names the client: `MIAB_TRUSTED_PROXIES` if
        the conf sets it (entries that are not an address or network are skipped, with a
        warning), else the loopback addresses on a real box and none on a local one (served
        directly, its clients could otherwise choose their address)."""
        raw = self.extra.get(TRUSTED_PROXIES_KEY)
        if raw is None:
            entries: tuple[str, ...] = () if self.is_local else REAL_BOX_TRUSTED_PROXIES
        else:
            entries = tuple(e.strip() for e in raw.split(",") if e.strip())
        networks: list[ProxyNetwork] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                log.warning(
                    "%s: %r is not an IP address or network; ignored", TRUSTED_PROXIES_KEY, entry
                )
        return tuple(networks)

    def with_values(self, **changes: object) -> BoxConfig:
        return replace(self, **changes)  # type: ignore[arg-type]

    def conf_values(self) -> dict[str, str]:
        values = dict(self.extra)
        values.update(
            {
                "STORAGE_USER": self.storage_user,
                "STORAGE_ROOT": str(self.storage_root),
                "PRIMARY_HOSTNAME": self.primary_hostname,
                "PUBLIC_IP": self.public_ip,
                "PUBLIC_IPV6": self.public_ipv6,
                "PRIVATE_IP": self.private_ip,
                "PRIVATE_IPV6": self.private_ipv6,
                "MTA_STS_MODE": self.mta_sts_mode,
            }
        )
        return values


MAX_CONF_BYTES: Final = 1 << 20  # a real mailinabox.conf is a few hundred bytes


def _read_conf(conf_path: Path) -> str:
    """The conf's text: a regular file of at most MAX_CONF_BYTES (a FIFO or a device given
    as a box would otherwise block or never end).

    Raises: OSError (FileNotFoundError: none there), UnicodeDecodeError, ConfigError."""
    fd = os.open(conf_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{conf_path} is not a regular file.")
        data = f.read(MAX_CONF_BYTES + 1)
    if len(data) > MAX_CONF_BYTES:
        raise ConfigError(f"{conf_path} is too large to be a box's configuration.")
    return data.decode("utf-8")


def load_config(path: Path | str) -> BoxConfig:
    """Open a box's configuration from a conf file, or from a folder made by `miab init`.

    Raises:
        ConfigError: no conf file there, or it lacks STORAGE_ROOT / PRIMARY_HOSTNAME.
    """
    path = Path(path)
    if path.is_dir():
        conf_path, system_root = path / "mailinabox.conf", path.resolve()
    else:
        conf_path = path
        system_root = Path("/") if path.resolve() == SYSTEM_CONF else path.resolve().parent
    try:
        values = parse_conf(_read_conf(conf_path))
    except FileNotFoundError:
        raise ConfigError(
            f"There is no box at {path}: no {conf_path.name} there. Make one with `miab init DIR`."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {conf_path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{conf_path} is not UTF-8 text.") from None
    missing = [k for k in ("STORAGE_ROOT", "PRIMARY_HOSTNAME") if not values.get(k)]
    if missing:
        raise ConfigError(f"{conf_path} does not set {' and '.join(missing)}.")
    storage_root = Path(values["STORAGE_ROOT"])
    if not storage_root.is_absolute():
        storage_root = (conf_path.parent / storage_root).resolve()
    return BoxConfig(
        storage_root=storage_root,
        primary_hostname=values["PRIMARY_HOSTNAME"],
        public_ip=values.get("PUBLIC_IP", ""),
        public_ipv6=values.get("PUBLIC_IPV6", ""),
        private_ip=values.get("PRIVATE_IP", ""),
        private_ipv6=values.get("PRIVATE_IPV6", ""),
        storage_user=values.get("STORAGE_USER", "user-data"),
        mta_sts_mode=values.get("MTA_STS_MODE", ""),
        system_root=system_root,
        conf_path=conf_path,
        extra={k: v for k, v in values.items() if k not in CONF_KEYS},
    )


def write_config(config: BoxConfig, conf_path: Path) -> None:
    atomic_write(conf_path, render_conf(config.conf_values()), mode=0o644)
