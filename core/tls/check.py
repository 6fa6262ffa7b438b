"""The reference's certificate check (SYSTEM.md §1.2), in its order and words, with the chain
verified in-process against the system's trust store instead of one `openssl verify` per file.

Where the reference says only `There is a problem with the certificate.`, the message says what
is wrong (a missing intermediate, a root this system does not trust); it keeps the reference's
prefixes, which is what clients match on.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import ssl
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from core.tls.pem import PemError, PrivateKey, load_chain, load_private_key, spki

OK: Final = "OK"
SELF_SIGNED: Final = "SELF-SIGNED"
MISSING_CHAIN: Final = (
    "The certificate is missing an intermediate chain or the intermediate chain is "
    "incorrect or incomplete."
)
CHAIN_PROBLEM: Final = "There is a problem with the certificate"

Verdict = Literal["OK", "SELF-SIGNED", "problem"]


@dataclass(frozen=True, slots=True)
class CertCheck:
    """What `check_certificate` found: `verdict` OK (with `info`, the expiry sentence),
    SELF-SIGNED, or a problem (`message`, the reference's text; `detail` optional)."""

    verdict: Verdict
    message: str = ""
    info: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == OK


def problem(message: str, detail: str = "") -> CertCheck:
    return CertCheck("problem", message, detail=detail)


# --- the trust store ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrustStore:
    store: Store | None  # None: the system trusts nothing (no CA file found)
    subjects: frozenset[bytes]  # DER of each trusted certificate's subject


_trust_lock = threading.Lock()
_trust_cache: dict[tuple[object, ...], TrustStore] = {}


def _trust_sources() -> tuple[str | None, str | None]:
    """Where OpenSSL looks: `SSL_CERT_FILE` / `SSL_CERT_DIR` when set, else its defaults."""
    paths = ssl.get_default_verify_paths()
    cafile = os.environ.get(paths.openssl_cafile_env) or paths.openssl_cafile
    capath = os.environ.get(paths.openssl_capath_env) or paths.openssl_capath
    return cafile, capath


def _stamp(path: str | None) -> tuple[str, int, int] | None:
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (path, st.st_mtime_ns, st.st_size)


def system_trust() -> TrustStore:
    """The system's trusted roots, read once and again only when their file or folder
    changes (an update of ca-certificates, or a different `SSL_CERT_FILE`)."""
    cafile, capath = _trust_sources()
    key = (_stamp(cafile), _stamp(capath))
    with _trust_lock:
        cached = _trust_cache.get(key)
        if cached is not None:
            return cached
        roots: dict[bytes, x509.Certificate] = {}
        files = [cafile] if cafile else []
        if capath:
            with contextlib.suppress(OSError):
                files.extend(e.path for e in os.scandir(capath) if e.name.endswith((".0", ".pem")))
        seen: set[str] = set()
        for name in files:
            real = os.path.realpath(name)
            if real in seen:
                continue
            seen.add(real)
            try:
                with open(real, "rb") as f, warnings.catch_warnings():
                    # A few distributed roots have quirks cryptography warns about (a
                    # non-positive serial): they still load, and are still trusted.
                    warnings.simplefilter("ignore")
                    certs = x509.load_pem_x509_certificates(f.read())
            except (OSError, ValueError):
                continue
            for cert in certs:
                roots[cert.fingerprint(hashes.SHA256())] = cert
        trust = TrustStore(
            Store(list(roots.values())) if roots else None,
            frozenset(c.subject.public_bytes() for c in roots.values()),
        )
        _trust_cache.clear()
        _trust_cache[key] = trust
        return trust


# --- key files -----------------------------------------------------------------------------------

_key_lock = threading.Lock()
_key_cache: dict[tuple[str, int, int, int], PrivateKey] = {}


def load_key_file(path: Path) -> PrivateKey:
    """A key file, parsed once per version of the file: loading an RSA key checks it, which
    costs tens of milliseconds, and a status lists hundreds of domains with one key.

    Raises:
        OSError: unreadable. PemError: not a private key.
    """
    st = os.stat(path)
    stamp = (str(path), st.st_mtime_ns, st.st_size, st.st_ino)
    with _key_lock:
        cached = _key_cache.get(stamp)
    if cached is not None:
        return cached
    key = load_private_key(path.read_bytes())
    with _key_lock:
        if len(_key_cache) > 64:
            _key_cache.clear()
        _key_cache[stamp] = key
    return key


# --- names ---------------------------------------------------------------------------------------


def certificate_names(cert: x509.Certificate) -> tuple[frozenset[str], str | None]:
    """The names a certificate covers (subject CN plus SAN DNS names, as stored: IDNA,
    wildcards kept) and its CN."""
    cns = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    cn = str(cns[0]) if cns else None
    names = {str(v) for v in cns}
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names.update(san.value.get_values_for_type(x509.DNSName))
    except (x509.ExtensionNotFound, ValueError):
        pass
    return frozenset(names), cn


def wildcard_of(domain: str) -> str:
    """`*.` + the domain without its first label (the reference's wildcard lookup)."""
    return "*." + domain.partition(".")[2]


def covers(names: frozenset[str], domain: str) -> bool:
    return domain in names or wildcard_of(domain) in names


# --- the check ---------------------------------------------------------------------------------


def expiry_info(not_after: datetime.datetime, now: datetime.datetime, *, rounded: bool) -> str:
    days = (not_after - now).days
    if not rounded or days <= 10:
        return f"The certificate expires in {days} days on {not_after.date().isoformat()}."
    return f"The certificate expires on {not_after.date().isoformat()}."


def _when(dt: datetime.datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


def check_certificate(
    domain: str | None,
    chain: Sequence[x509.Certificate] | bytes,
    key: PrivateKey | Path | None,
    *,
    now: datetime.datetime,
    warn_days: int | None = 10,
    rounded: bool = False,
    trust: TrustStore | None = None,
) -> CertCheck:
    """SYSTEM.md §1.2: parse, name, key, self-signed, validity window, chain, expiry; the first
    failure is the answer. `chain` is the leaf then its intermediates (or a PEM file's bytes);
    `key` the private key, or the path of its file (messages name the path)."""
    if isinstance(chain, bytes):
        try:
            chain = load_chain(chain)
        except PemError as exc:
            return problem(f"There is a problem with the certificate file: {exc}")
    leaf = chain[0]
    if domain is not None:
        names, _cn = certificate_names(leaf)
        if not covers(names, domain):
            return problem(
                "The certificate is for the wrong domain name. It is for "
                f"{', '.join(sorted(names))}."
            )
    if key is not None:
        if isinstance(key, Path):
            try:
                private = load_key_file(key)
            except OSError as exc:
                return problem(
                    f"The private key file {key} is not a private key file: {exc.strerror}"
                )
            except PemError as exc:
                return problem(f"The private key file {key} is not a private key file: {exc}")
            where = str(key)
        else:
            private, where = key, "the box's private key"
        if spki(private.public_key()) != spki(leaf.public_key()):
            return problem(f"The certificate does not correspond to the private key at {where}.")
    if leaf.issuer == leaf.subject:
        return CertCheck(SELF_SIGNED)
    now = now.astimezone(datetime.UTC)
    start, end = leaf.not_valid_before_utc, leaf.not_valid_after_utc
    if not start <= now <= end:
        return problem(
            "The certificate has expired or is not yet valid. It is valid from "
            f"{_when(start)} to {_when(end)}."
        )
    chain_problem = verify_chain(leaf, list(chain[1:]), domain, now, trust or system_trust())
    if chain_problem is not None:
        return chain_problem
    info = expiry_info(end, now, rounded=rounded)
    if warn_days is not None and (end - now).days <= warn_days:
        return problem("The certificate is expiring soon: " + info, detail=info)
    return CertCheck(OK, info=info)


_chain_lock = threading.Lock()
_chain_cache: dict[tuple[object, ...], CertCheck | None] = {}


def verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    domain: str | None,
    now: datetime.datetime,
    trust: TrustStore,
) -> CertCheck | None:
    """None if the chain leads to a trusted root (for TLS server use), else what is wrong.

    The answer is the same for every name the certificate covers (the names were checked
    before), so it is kept per certificate, trust store and hour: a status of hundreds of
    domains verifies each certificate once."""
    key = (
        leaf.fingerprint(hashes.SHA256()),
        tuple(c.fingerprint(hashes.SHA256()) for c in intermediates),
        id(trust),
        int(now.timestamp() // 3600),
    )
    with _chain_lock:
        if key in _chain_cache:
            return _chain_cache[key]
    result = _verify_chain(leaf, intermediates, domain, now, trust)
    with _chain_lock:
        if len(_chain_cache) > 4096:
            _chain_cache.clear()
        _chain_cache[key] = result
    return result


def _verify_chain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    domain: str | None,
    now: datetime.datetime,
    trust: TrustStore,
) -> CertCheck | None:
    if trust.store is None:
        return problem(
            f"{CHAIN_PROBLEM}: this system has no trusted root certificates to check it against."
        )
    if domain is None or domain.startswith("*."):
        names, _cn = certificate_names(leaf)
        plain = sorted(n for n in names if not n.startswith("*."))
        domain = (
            plain[0] if plain else "wildcard." + (domain or min(names, default="*.invalid"))[2:]
        )
    builder = PolicyBuilder().store(trust.store).time(now)
    try:
        builder.build_server_verifier(x509.DNSName(domain)).verify(leaf, intermediates)
        return None
    except (VerificationError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "it does not verify"
    return _explain(leaf, intermediates, trust, reason)


def _explain(
    leaf: x509.Certificate,
    intermediates: list[x509.Certificate],
    trust: TrustStore,
    reason: str,
) -> CertCheck:
    """Why the chain failed, in words an admin can act on: walk issuer by issuer through the
    given chain; where it stops says what is missing."""
    by_subject = {c.subject.public_bytes(): c for c in intermediates}
    current, seen = leaf, 0
    while seen <= len(intermediates):
        issuer = current.issuer.public_bytes()
        if issuer in trust.subjects:
            break  # reaches a trusted root: the failure is something else (expiry, usage...)
        if current.issuer == current.subject:
            return problem(
                f"{CHAIN_PROBLEM}: its chain ends at {current.subject.rfc4514_string()}, "
                "a root certificate this system does not trust.",
                detail=reason,
            )
        parent = by_subject.get(issuer)
        if parent is None:
            return problem(
                f"{MISSING_CHAIN} (The issuer {current.issuer.rfc4514_string()} is neither in "
                "the chain given nor trusted by this system.)",
                detail=reason,
            )
        current, seen = parent, seen + 1
    return problem(f"{CHAIN_PROBLEM}: {reason}.", detail=reason)
