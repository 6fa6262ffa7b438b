"""The TLS area of a box (SYSTEM.md §1, BEHAVIOUR.md §5): certificate status per web domain,
what can be provisioned, CSRs, installing a certificate, and ACME provisioning and renewal."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import dns.exception
import dns.resolver
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

from core.audit import Actor
from core.errors import ValidationError
from core.events import CertificatesChanged
from core.host import Host
from core.hostnames import DNS_RESOLVER_KEY as DNS_RESOLVER_KEY  # tests and faces name it here
from core.hostnames import parse_nameserver
from core.mail.domains import sort_domains
from core.results import Change
from core.storage.files import atomic_write, file_lock
from core.tls.certificates import point_link
from core.tls.check import (
    OK,
    SELF_SIGNED,
    CertCheck,
    certificate_names,
    check_certificate,
    covers,
)
from core.tls.countries import COUNTRY_CODES
from core.tls.inventory import SYSTEM_CERT, SYSTEM_KEY, CertFile, Inventory, InventoryCache
from core.tls.pem import PemError, load_chain, load_private_key, spki
from core.web.domains import web_domains

if TYPE_CHECKING:
    from core.box import Box

LETS_ENCRYPT: Final = "https://acme-v02.api.letsencrypt.org/directory"
ACME_SERVER_KEY: Final = "MIAB_ACME_SERVER"  # the ACME directory URL (default Let's Encrypt)
ACME_CA_BUNDLE_KEY: Final = "MIAB_ACME_CA_BUNDLE"  # CA file for the ACME server's own HTTPS
RENEW_DAYS: Final = 14  # re-provision what expires within this many days (the nightly rule)
WARN_DAYS: Final = 10
MAX_NAMES_PER_CERT: Final = 100
# A pasted certificate and chain bigger than this is not one anyone meant (ten certificates
# are about 20 kB): refused before it is parsed.
MAX_INSTALL_BYTES: Final = 64 * 1024
DNS_TIMEOUT: Final = 5.0  # the reference's lookup timeout
DNS_CACHE_SECONDS: Final = 60.0

ELSEWHERE: Final = (
    "The domain has a custom DNS A/AAAA record that points the domain elsewhere, so there is "
    "no point to installing a TLS certificate here and we could not automatically provision "
    "one anyway because provisioning requires access to the website (which isn't here)."
)
HOSTED_ELSEWHERE: Final = "The domain's website is hosted elsewhere."
NO_CERTIFICATE: Final = "No certificate installed."
SELF_SIGNED_TEXT: Final = "Self-signed. Get a signed certificate to stop warnings."
SELF_SIGNED_REFUSED: Final = "This is a self-signed certificate. I can't install that."
INVALID_DOMAIN: Final = "Invalid domain name."

Status = Literal["success", "warning", "danger", "not-applicable"]
Result = Literal["installed", "error", "skipped"]
AddressLookup = Callable[[str, str], str]  # (name, A|AAAA) → the reference's answer text


@dataclass(frozen=True, slots=True)
class DomainStatus:
    """One row of the TLS status (SYSTEM.md §1.3). `reason` is why a certificate cannot be
    provisioned now ("" if it can, or need not be); `text` is the row as `/ssl/status` shows it
    (the status text, then the reason)."""

    domain: str
    status: Status
    summary: str  # the status text alone
    reason: str = ""
    certificate: CertFile | None = None
    check: CertCheck | None = None
    days_left: int | None = None

    @property
    def text(self) -> str:
        return self.summary + (" " + self.reason if self.reason else "")


@dataclass(frozen=True, slots=True)
class SslStatus:
    can_provision: tuple[str, ...]
    rows: tuple[DomainStatus, ...]


@dataclass(frozen=True, slots=True)
class ProvisionRequest:
    domains: tuple[str, ...]
    result: Result
    log: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"domains": list(self.domains), "log": list(self.log), "result": self.result}


@dataclass(frozen=True, slots=True)
class ProvisionOutcome:
    """The requests in the spec's shape, then the post-install messages (which the reference
    appends to the same list as bare strings)."""

    requests: tuple[ProvisionRequest, ...]
    messages: tuple[str, ...]

    def to_json(self) -> str:
        return json.dumps(
            {"requests": [r.as_json() for r in self.requests], "messages": list(self.messages)}
        )

    @classmethod
    def from_json(cls, text: str) -> ProvisionOutcome:
        data = json.loads(text)
        return cls(
            tuple(
                ProvisionRequest(tuple(r["domains"]), r["result"], tuple(r["log"]))
                for r in data["requests"]
            ),
            tuple(data["messages"]),
        )

    @property
    def installed(self) -> bool:
        return any(r.result == "installed" for r in self.requests)


@dataclass(frozen=True, slots=True)
class CertDetails:
    """What the TUI shows about the certificate serving a domain."""

    domain: str
    path: Path
    key_path: Path | None
    names: tuple[str, ...]
    subject: str
    issuer: str
    chain: tuple[str, ...]  # subjects of the certificates after the leaf
    not_before: datetime.datetime
    not_after: datetime.datetime
    days_left: int
    key_type: str
    sha256: str
    sha1: str
    self_signed: bool
    tlsa: str  # `3 1 1 <hex>`: the TLSA value of this certificate's key
    pem: str


# --- public DNS --------------------------------------------------------------------------------


def _normalize_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


class PublicDns:
    """Looks names up as the reference's `query_dns` does (`[Not Set]`, `[timeout]`, answers
    normalized, sorted and joined by `; `), at the configured resolver (the system's by
    default), each lookup bounded, answers kept a minute."""

    def __init__(self, nameserver: str | None) -> None:
        self._nameserver = parse_nameserver(nameserver) if nameserver else None
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()

    def _resolver(self) -> dns.resolver.Resolver:
        if self._nameserver is None:
            resolver = dns.resolver.Resolver()
        else:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [self._nameserver[0]]
            resolver.port = self._nameserver[1]
        resolver.lifetime = DNS_TIMEOUT
        resolver.timeout = DNS_TIMEOUT
        return resolver

    def __call__(self, name: str, rtype: str) -> str:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get((name, rtype))
            if hit and now - hit[0] < DNS_CACHE_SECONDS:
                return hit[1]
        try:
            answer = self._resolver().resolve(name.rstrip(".") + ".", rtype)
            values = [str(r) for r in answer]
            if rtype in ("A", "AAAA"):
                values = [_normalize_ip(v) for v in values]
            text = "; ".join(sorted(v.rstrip(".") for v in values))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            text = "[Not Set]"
        except dns.exception.Timeout:
            text = "[timeout]"
        except dns.exception.DNSException:
            text = "[Not Set]"
        with self._lock:
            self._cache[(name, rtype)] = (time.monotonic(), text)
        return text

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


# --- the service ---------------------------------------------------------------------------------


class TlsService:
    """Certificates of a box: reading `ssl/`, checking, requesting and installing."""

    def __init__(self, box: Box, *, lookup: AddressLookup | None = None) -> None:
        self._box = box
        config = box.config
        self.ssl_dir = config.ssl_dir
        self.primary = config.primary_hostname
        self.lookup = lookup or PublicDns(config.extra.get(DNS_RESOLVER_KEY) or None)
        self.host = Host(config)
        self._inventory = InventoryCache()
        self._lock_path = config.state_db.parent / "tls" / "lock"

    # --- reading ---------------------------------------------------------------------------

    def now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self._box.clock(), datetime.UTC)

    def inventory(self) -> Inventory:
        return self._inventory.get(self.ssl_dir, self.primary, self.now())

    def web_domains(self, *, exclude_elsewhere: bool = True) -> list[str]:
        return web_domains(self._box.dns.zone_facts(), exclude_elsewhere=exclude_elsewhere)

    def certificate_for(self, domain: str, inventory: Inventory | None = None) -> CertFile | None:
        """The certificate that serves `domain`: the primary hostname's link for it, else the
        best of its own or a wildcard; None if there is none."""
        inventory = inventory or self.inventory()
        if domain == self.primary:
            return inventory.system_certificate()
        return inventory.for_domain(domain)

    def domain_status(self, domain: str, inventory: Inventory | None = None) -> DomainStatus:
        """SYSTEM.md §1.3 for one domain (without the provisioning reason)."""
        cert = self.certificate_for(domain, inventory)
        if cert is None:
            return DomainStatus(domain, "danger", NO_CERTIFICATE)
        now = self.now()
        check = check_certificate(domain, cert.chain, cert.key_path, now=now, warn_days=WARN_DAYS)
        days = (cert.leaf.not_valid_after_utc - now).days
        if check.verdict == OK:
            return DomainStatus(
                domain, "success", "Signed & valid. " + check.info, "", cert, check, days
            )
        if check.verdict == SELF_SIGNED:
            return DomainStatus(domain, "warning", SELF_SIGNED_TEXT, "", cert, check, days)
        return DomainStatus(
            domain, "danger", "Certificate has a problem: " + check.message, "", cert, check, days
        )

    def web_statuses(self) -> tuple[DomainStatus, ...]:
        """`/web/domains`'s `ssl_certificate` for each web domain."""
        inventory = self.inventory()
        return tuple(self.domain_status(d, inventory) for d in self.web_domains())

    def status(self) -> SslStatus:
        """`/ssl/status` (BEHAVIOUR.md §5.1)."""
        inventory = self.inventory()
        actual = self.web_domains()
        plausible = self.web_domains(exclude_elsewhere=False)
        provision, cant = self._plan(plausible, set(actual), inventory, show_valid=False)
        rows = [_with_reason(self.domain_status(d, inventory), cant.get(d, "")) for d in actual]
        elsewhere = sort_domains(set(plausible) - set(actual), self.primary)
        rows.extend(DomainStatus(d, "not-applicable", HOSTED_ELSEWHERE) for d in elsewhere)
        return SslStatus(tuple(sort_domains(provision, self.primary)), tuple(rows))

    def provision_plan(
        self, limit: Iterable[str] | None = None, *, show_valid: bool = True
    ) -> tuple[list[str], dict[str, str]]:
        """SYSTEM.md §1.5: the domains to provision (domain-sorted) and why the others cannot
        be (or need not be)."""
        plausible = self.web_domains(exclude_elsewhere=False)
        wanted = set(limit) if limit else None
        if wanted is not None:
            plausible = [d for d in plausible if d in wanted]
        provision, cant = self._plan(
            plausible, set(self.web_domains()), self.inventory(), show_valid=show_valid
        )
        return sort_domains(provision, self.primary), cant

    def _plan(
        self,
        domains: Sequence[str],
        actual: set[str],
        inventory: Inventory,
        *,
        show_valid: bool,
    ) -> tuple[set[str], dict[str, str]]:
        config = self._box.config
        checks = [("A", config.public_ip)]
        if config.public_ipv6:
            checks.append(("AAAA", config.public_ipv6))
        here = [d for d in domains if d in actual]
        # Every lookup at once, each bounded: the slowest name sets the time, not their sum.
        queries = [(d, rtype) for d in here for rtype, _ in checks]
        with ThreadPoolExecutor(max_workers=min(64, max(1, len(queries)))) as pool:
            answers = dict(zip(queries, pool.map(lambda q: self.lookup(*q), queries), strict=True))
        provision: set[str] = set()
        cant: dict[str, str] = {}
        now = self.now()
        for domain in domains:
            if domain not in actual:
                cant[domain] = ELSEWHERE
                continue
            bad = [
                f"{answers[(domain, rtype)]} ({rtype})"
                for rtype, value in checks
                if answers[(domain, rtype)] != _normalize_ip(value)
            ]
            if bad:
                cant[domain] = "The domain name does not resolve to this machine: " + (
                    ", ".join(bad) + "."
                )
                continue
            existing = inventory.for_domain(domain)
            if existing is not None:
                check = check_certificate(
                    domain, existing.chain, existing.key_path, now=now, warn_days=RENEW_DAYS
                )
                if check.verdict == OK:
                    if show_valid:
                        cant[domain] = (
                            f"The domain has a valid certificate already. ({check.info} "
                            f"Certificate: {existing.path}, private key {existing.key_path})"
                        )
                    continue
            provision.add(domain)
        return provision, cant

    def details(self, domain: str) -> CertDetails | None:
        """The certificate serving `domain`, for the TUI; None if there is none."""
        cert = self.certificate_for(domain)
        if cert is None:
            return None
        leaf = cert.leaf
        public_key = leaf.public_key()
        return CertDetails(
            domain=domain,
            path=cert.path,
            key_path=cert.key_path,
            names=tuple(sorted(cert.names)),
            subject=leaf.subject.rfc4514_string(),
            issuer=leaf.issuer.rfc4514_string(),
            chain=tuple(c.subject.rfc4514_string() for c in cert.chain[1:]),
            not_before=leaf.not_valid_before_utc,
            not_after=leaf.not_valid_after_utc,
            days_left=(leaf.not_valid_after_utc - self.now()).days,
            key_type=_key_type(public_key),
            sha256=leaf.fingerprint(hashes.SHA256()).hex(":").upper(),
            sha1=leaf.fingerprint(hashes.SHA1()).hex(":").upper(),  # noqa: S303 (a label only)
            self_signed=cert.self_signed,
            tlsa="3 1 1 " + hashlib.sha256(spki(public_key)).hexdigest(),
            pem="".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in cert.chain),
        )

    # --- CSR -------------------------------------------------------------------------------

    def normalize_domain(self, domain: str) -> str:
        """A domain as typed (Unicode or IDNA, any case) in its stored IDNA form, if it is one
        of this box's web domains.

        Raises:
            ValidationError: `Invalid domain name.`
        """
        if not isinstance(domain, str) or len(domain) > 253:
            raise ValidationError(INVALID_DOMAIN, field="domain")
        try:
            name = domain.strip().rstrip(".").encode("idna").decode("ascii").lower()
        except (UnicodeError, ValueError):
            raise ValidationError(INVALID_DOMAIN, field="domain") from None
        if name not in self.web_domains():
            raise ValidationError(INVALID_DOMAIN, field="domain")
        return name

    def csr(self, domain: str, countrycode: str) -> str:
        """A CSR for `domain` (one of the box's web domains) with `C` = an ISO 3166 alpha-2 code,
        signed with the box's key (SYSTEM.md §1.7).

        Raises:
            ValidationError: `Invalid domain name.` / not a country code.
        """
        name = self.normalize_domain(domain)
        code = countrycode.strip().upper() if isinstance(countrycode, str) else ""
        if code not in COUNTRY_CODES:
            shown = countrycode[:20] if isinstance(countrycode, str) else ""
            raise ValidationError(
                f"Invalid country code {shown!r}: use a two-letter ISO 3166 code such as GB.",
                field="countrycode",
            )
        key = load_private_key((self.ssl_dir / SYSTEM_KEY).read_bytes())
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(x509.NameOID.COUNTRY_NAME, code),
                        x509.NameAttribute(x509.NameOID.COMMON_NAME, name),
                    ]
                )
            )
            .sign(key, hashes.SHA256())
        )
        return request.public_bytes(serialization.Encoding.PEM).decode("ascii")

    # --- install ---------------------------------------------------------------------------

    def install(self, domain: str, cert: str, chain: str, *, actor: Actor) -> Change:
        """Install a certificate made for the box's key (BEHAVIOUR.md §5.3): checked as the
        reference does, stored under its file name, then the post-install steps.

        Raises:
            ValidationError: the reference's refusal text; nothing changed.
        """
        with self._box.audit.recording(actor, "install TLS certificate", str(domain)[:253]):
            name = self.normalize_domain(domain)
            text = f"{cert}\n{chain}"
            if len(text) > MAX_INSTALL_BYTES:
                raise ValidationError(
                    "There is a problem with the certificate file: it is larger than 64 kB.",
                    field="cert",
                )
            try:
                data = text.encode("ascii")
            except UnicodeEncodeError:
                raise ValidationError(
                    "There is a problem with the certificate file: "
                    "File is not a valid PEM-formatted file.",
                    field="cert",
                ) from None
            check = check_certificate(
                name, data, self.ssl_dir / SYSTEM_KEY, now=self.now(), warn_days=WARN_DAYS
            )
            if check.verdict == SELF_SIGNED:
                raise ValidationError(SELF_SIGNED_REFUSED, field="cert")
            if check.verdict != OK:
                raise ValidationError(check.message, field="cert")
            with file_lock(self._lock_path):
                new = self._store(load_chain(data))
                lines = self._post_install()
            return Change(tuple(lines), changed=new or bool(lines))

    def _store(self, chain: list[x509.Certificate]) -> bool:
        """Write the chain as `ssl/<CN>-<YYYYMMDD>-<fingerprint8>.pem`; False if that file
        already holds it."""
        leaf = chain[0]
        _names, cn = certificate_names(leaf)
        stem = urllib.parse.quote(cn or "certificate", safe="")[:200]
        path = self.ssl_dir / (
            f"{stem}-{leaf.not_valid_after_utc:%Y%m%d}-"
            f"{leaf.fingerprint(hashes.SHA256()).hex()[:8]}.pem"
        )
        data = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
        try:
            if path.read_bytes() == data:
                return False
        except OSError:
            pass
        atomic_write(path, data, mode=0o644)
        return True

    def _post_install(self) -> list[str]:
        """SYSTEM.md §1.6: re-point the primary hostname's link at its best certificate,
        restart the mail services that read it, then the follow-ups (web, DNS)."""
        lines: list[str] = []
        inventory = self.inventory()
        best = inventory.best.get(self.primary)
        link = self.ssl_dir / SYSTEM_CERT
        if best is None:
            lines.append("there is no valid certificate for " + self.primary)
        elif inventory.link_target() != best.path:
            lines.append("updating primary certificate")
            point_link(link, best.path)
            results = [self.host.restart(s) for s in ("postfix", "dovecot")]
            if all(r.ok for r in results):
                lines.append("mail services restarted")
            else:
                lines.extend(r.note for r in results if r.note)
        lines.extend(self._box.hooks.emit(CertificatesChanged()))
        return lines

    # --- provisioning ----------------------------------------------------------------------

    def provision(
        self,
        *,
        actor: Actor,
        limit: Iterable[str] | None = None,
        progress: Callable[[str, float | None], None] = lambda line, fraction: None,
    ) -> ProvisionOutcome:
        """SYSTEM.md §1.5: request a certificate over ACME for every domain that can have one
        now and lacks a good one (expiring within 14 days counts as lacking: this is also the
        renewal), grouped by zone, installed as each arrives. Failures are results, not
        exceptions."""
        from core.tls.acme import AcmeError, obtain_certificate  # the acme library is heavy

        with self._box.audit.recording(actor, "provision TLS certificates", ""):
            progress("checking which domains need a certificate", 0.0)
            domains, cant = self.provision_plan(limit)
            requests = [
                ProvisionRequest((d,), "skipped", (reason,))
                for d, reason in sorted(cant.items(), key=lambda kv: kv[0])
            ]
            groups = self._groups(domains)
            config = self._box.config
            directory = config.extra.get(ACME_SERVER_KEY) or LETS_ENCRYPT
            ca_bundle = config.extra.get(ACME_CA_BUNDLE_KEY) or None
            webroot = config.acme_webroot
            webroot.mkdir(parents=True, exist_ok=True)
            messages: list[str] = []
            with file_lock(self._lock_path):
                key = load_private_key((self.ssl_dir / SYSTEM_KEY).read_bytes())
                for index, group in enumerate(groups):
                    log: list[str] = []

                    def note(line: str, _log: list[str] = log) -> None:
                        _log.append(line)
                        progress(line, None)

                    progress(
                        "Provisioning TLS certificates for " + ", ".join(group) + ".",
                        index / max(1, len(groups)),
                    )
                    try:
                        pem = obtain_certificate(
                            directory_url=directory,
                            account_dir=config.letsencrypt_dir,
                            csr_pem=_provision_csr(key, group),
                            webroot=webroot,
                            log=note,
                            ca_bundle=ca_bundle,
                        )
                        chain = load_chain(pem.encode("ascii"))
                        if spki(chain[0].public_key()) != spki(key.public_key()) or not all(
                            covers(certificate_names(chain[0])[0], d) for d in group
                        ):
                            raise AcmeError("The CA issued a certificate for another key or names.")
                        self._store(chain)
                        requests.append(ProvisionRequest(tuple(group), "installed", tuple(log)))
                    except (AcmeError, PemError, OSError, UnicodeError) as exc:
                        log.append(str(exc))
                        requests.append(ProvisionRequest(tuple(group), "error", tuple(log)))
                if groups:
                    messages = self._post_install()
            progress("", 1.0)
            return ProvisionOutcome(tuple(requests), tuple(m for m in messages if m))

    def _groups(self, domains: Sequence[str]) -> list[list[str]]:
        """The reference's grouping: under each DNS zone (apex first), at most 100 names per
        certificate; a name under no zone alone."""
        zones = list(self._box.dns.zones())
        groups: dict[str, list[list[str]]] = {z: [[]] for z in zones}
        for domain in sort_domains(domains, self.primary):
            for zone in zones:
                if domain == zone or domain.endswith("." + zone):
                    if len(groups[zone][-1]) == MAX_NAMES_PER_CERT:
                        groups[zone].append([])
                    groups[zone][-1].append(domain)
                    break
            else:
                groups[domain] = [[domain]]
        return [g for lists in groups.values() for g in lists if g]


def _with_reason(row: DomainStatus, reason: str) -> DomainStatus:
    if not reason:
        return row
    return DomainStatus(
        row.domain, row.status, row.summary, reason, row.certificate, row.check, row.days_left
    )


def _key_type(public_key: object) -> str:
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA {public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return f"EC {public_key.curve.name}"
    if isinstance(public_key, dsa.DSAPublicKey):
        return f"DSA {public_key.key_size}"
    return type(public_key).__name__


def _provision_csr(key: object, names: Sequence[str]) -> bytes:
    """The reference's ACME CSR: CN the first name, every name in the SAN, not a CA."""
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return request.public_bytes(serialization.Encoding.PEM)


__all__ = [
    "CertDetails",
    "DomainStatus",
    "ProvisionOutcome",
    "ProvisionRequest",
    "SslStatus",
    "TlsService",
    "parse_nameserver",
]
