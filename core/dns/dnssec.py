"""DNSSEC in-process: ldns-format keys (STORAGE.md §4.2) and zone signing (DNS.md §7).

The reference shells out to ldns-keygen, ldns-signzone and ldns-key2ds. We read and write the
same key files (so an existing box keeps its keys and its DS records at the registrar stay
valid) and sign with dnspython + cryptography: NSEC3 as `ldns-signzone -n`, signatures valid
30 days. Signature times depend only on the date, so re-signing an unchanged RRset the same
day gives the same bytes and the signer can reuse it from its cache.
"""

from __future__ import annotations

import base64
import calendar
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import dns.dnssec
import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.zone
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from dns.rdtypes.ANY.DNSKEY import DNSKEY
from dns.rdtypes.ANY.RRSIG import RRSIG

from core.storage.files import atomic_write

DnssecAlgorithm = Literal["RSASHA256", "ECDSAP256SHA256"]
SELECTABLE: Final = ("RSASHA256", "ECDSAP256SHA256")
DEFAULT_ALGORITHM: Final = "RSASHA256"
# Conf-file names (STORAGE.md §4.2) → DNSSEC algorithm numbers.
ALGORITHMS: Final = {"RSASHA1-NSEC3-SHA1": 7, "RSASHA256": 8, "ECDSAP256SHA256": 13}
_PRIVATE_NAMES: Final = {7: "RSASHA1_NSEC3", 8: "RSASHA256", 13: "ECDSAP256SHA256"}
# v0.51 signed these TLDs with RSASHA256 and every other zone with RSASHA1-NSEC3-SHA1 (DNS.md §7).
_V051_RSASHA256_TLDS: Final = ("email", "guide", "fund", "be", "lv")
KEY_OWNER: Final = "_domain_"
SIGNATURE_DAYS: Final = 30
DS_TTL: Final = 3600  # what ldns-key2ds prints for key files without a TTL
NSEC3PARAM_TTL: Final = 3600  # as ldns-signzone
# RFC 9276: SHA-1, no extra iterations, no salt (ldns-signzone -n defaults to 1 iteration).
NSEC3_ALGORITHM: Final = 1
NSEC3_ITERATIONS: Final = 0
_RSA_SIZES: Final = {"ksk": 2048, "zsk": 1024}  # v0.51 setup (STORAGE.md §4.2)
_TEXT_STYLE: Final = dns.rdata.RdataStyle(base64_chunk_size=0, hex_chunk_size=0)


class DnssecKeyError(Exception):
    """A key file is missing or unreadable."""


@dataclass(frozen=True, slots=True, eq=False)
class DnssecKey:
    basename: str  # K_domain_.+008+12345
    algorithm: int
    tag: int
    dnskey: DNSKEY
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def is_ksk(self) -> bool:
        return bool(self.dnskey.flags & 0x0001)


@dataclass(frozen=True, slots=True, eq=False)
class KeySet:
    """One `<ALGO>.conf`: its KSK and ZSK and the zones it signs (None = every zone)."""

    name: str
    ksk: DnssecKey
    zsk: DnssecKey
    domains: frozenset[str] | None


def _b64int(value: str) -> int:
    return int.from_bytes(base64.b64decode(value), "big")


def _intb64(value: int) -> str:
    return base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, "big")).decode("ascii")


def read_conf(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep:
            values.setdefault(key.strip(), value.strip())
    return values


def load_key(directory: Path, basename: str) -> DnssecKey:
    """Read an ldns key pair (`.key` + `.private`).

    Raises:
        DnssecKeyError: a file is missing or not in the ldns format.
    """
    try:
        key_text = (directory / f"{basename}.key").read_text(encoding="ascii")
        private_text = (directory / f"{basename}.private").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise DnssecKeyError(f"Cannot read DNSSEC key {basename}: {exc}") from None
    try:
        rdata_text = key_text.split(";", 1)[0].split("DNSKEY", 1)[1].strip()
        dnskey = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.DNSKEY, rdata_text)
        fields = {}
        for line in private_text.splitlines():
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip()] = value.strip()
        algorithm = int(fields["Algorithm"].split()[0])
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        if algorithm == 13:
            private = ec.derive_private_key(_b64int(fields["PrivateKey"]), ec.SECP256R1())
        elif algorithm in (7, 8):
            public = rsa.RSAPublicNumbers(
                _b64int(fields["PublicExponent"]), _b64int(fields["Modulus"])
            )
            private = rsa.RSAPrivateNumbers(
                _b64int(fields["Prime1"]),
                _b64int(fields["Prime2"]),
                _b64int(fields["PrivateExponent"]),
                _b64int(fields["Exponent1"]),
                _b64int(fields["Exponent2"]),
                _b64int(fields["Coefficient"]),
                public,
            ).private_key()
        else:
            raise DnssecKeyError(
                f"DNSSEC key {basename} uses algorithm {algorithm}, which "
                "this tool cannot sign with."
            )
    except (KeyError, IndexError, ValueError, dns.exception.DNSException) as exc:
        raise DnssecKeyError(f"DNSSEC key {basename} is not in the ldns format: {exc}") from None
    assert isinstance(dnskey, DNSKEY)
    return DnssecKey(basename, algorithm, dns.dnssec.key_id(dnskey), dnskey, private)


def _private_text(algorithm: int, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    head = f"Private-key-format: v1.2\nAlgorithm: {algorithm} ({_PRIVATE_NAMES[algorithm]})\n"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        value = key.private_numbers().private_value.to_bytes(32, "big")
        return head + "PrivateKey: " + base64.b64encode(value).decode("ascii") + "\n"
    n = key.private_numbers()
    fields = (
        ("Modulus", n.public_numbers.n),
        ("PublicExponent", n.public_numbers.e),
        ("PrivateExponent", n.d),
        ("Prime1", n.p),
        ("Prime2", n.q),
        ("Exponent1", n.dmp1),
        ("Exponent2", n.dmq1),
        ("Coefficient", n.iqmp),
    )
    return head + "".join(f"{name}: {_intb64(value)}\n" for name, value in fields)


def generate_key(directory: Path, algorithm_name: str, role: Literal["ksk", "zsk"]) -> str:
    """Make a key pair as `ldns-keygen [-k] _domain_` does and return its basename."""
    algorithm = ALGORITHMS[algorithm_name]
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm == 13:
        private = ec.generate_private_key(ec.SECP256R1())
        size = 256
    else:
        size = _RSA_SIZES[role]
        private = rsa.generate_private_key(public_exponent=65537, key_size=size)
    flags = 257 if role == "ksk" else 256
    dnskey = dns.dnssec.make_dnskey(private.public_key(), algorithm, flags=flags)
    tag = dns.dnssec.key_id(dnskey)
    basename = f"K{KEY_OWNER}.+{algorithm:03d}+{tag:05d}"
    owner = dns.name.from_text(KEY_OWNER)
    # Private first and born 0600 (STORAGE.md §4.2); the public files are world-readable.
    atomic_write(directory / f"{basename}.private", _private_text(algorithm, private), mode=0o600)
    key_b64 = base64.b64encode(dnskey.key).decode("ascii")
    atomic_write(
        directory / f"{basename}.key",
        f"{KEY_OWNER}.\tIN\tDNSKEY\t{flags} 3 {algorithm} {key_b64} "
        f";{{id = {tag} ({role}), size = {size}b}}\n",
    )
    if role == "ksk":
        ds = dns.dnssec.make_ds(owner, dnskey, "SHA256")
        atomic_write(
            directory / f"{basename}.ds", f"{KEY_OWNER}.\tIN\tDS\t{ds.to_text(style=_TEXT_STYLE)}\n"
        )
    return basename


def ensure_keys(directory: Path, algorithm_name: str) -> bool:
    """Create `<ALGO>.conf` with a new KSK and ZSK unless it exists; True if created."""
    conf = directory / f"{algorithm_name}.conf"
    if conf.exists():
        return False
    directory.mkdir(parents=True, exist_ok=True)
    ksk = generate_key(directory, algorithm_name, "ksk")
    zsk = generate_key(directory, algorithm_name, "zsk")
    atomic_write(conf, f"KSK={ksk}\nZSK={zsk}\n")
    return True


def load_keysets(directory: Path) -> list[KeySet]:
    """Every `<ALGO>.conf` in the folder with its keys, in the order of ALGORITHMS.

    Raises:
        DnssecKeyError: a conf names a key that cannot be read.
    """
    sets: list[KeySet] = []
    for name in ALGORITHMS:
        conf = directory / f"{name}.conf"
        if not conf.exists():
            continue
        values = read_conf(conf)
        if "KSK" not in values or "ZSK" not in values:
            raise DnssecKeyError(f"{conf.name} does not name a KSK and a ZSK.")
        domains: frozenset[str] | None = None
        if "DOMAINS" in values:
            listed = values["DOMAINS"].strip()
            domains = (
                frozenset()
                if listed in ("", "none")
                else frozenset(d.strip() for d in listed.split(",") if d.strip())
            )
        sets.append(
            KeySet(
                name,
                load_key(directory, values["KSK"]),
                load_key(directory, values["ZSK"]),
                domains,
            )
        )
    return sets


def keysets_for_zone(zone: str, keysets: Sequence[KeySet]) -> list[KeySet]:
    """Which keys sign `zone`.

    A conf with `DOMAINS=` means upstream HEAD's rule (every conf that allows the zone). A v0.51
    box (with RSASHA1-NSEC3-SHA1 keys) keeps v0.51's choice by TLD, so the DS records its
    admin gave the registrar stay valid. Otherwise every conf signs every zone (HEAD).
    """
    if any(ks.domains is not None for ks in keysets):
        return [ks for ks in keysets if ks.domains is None or zone in ks.domains]
    names = {ks.name for ks in keysets}
    if "RSASHA1-NSEC3-SHA1" in names:
        tld = zone.rsplit(".", 1)[-1]
        wanted = "RSASHA256" if tld in _V051_RSASHA256_TLDS else "RSASHA1-NSEC3-SHA1"
        chosen = [ks for ks in keysets if ks.name == wanted]
        if chosen:
            return chosen
    return list(keysets)


def select_algorithm(directory: Path, algorithm_name: str) -> None:
    """Sign every zone with `algorithm_name` only: create its keys if needed and disable the
    other confs with upstream HEAD's `DOMAINS=none` (their keys are kept)."""
    ensure_keys(directory, algorithm_name)
    for name in ALGORITHMS:
        conf = directory / f"{name}.conf"
        if not conf.exists():
            continue
        lines = [
            line
            for line in conf.read_text(encoding="utf-8").splitlines()
            if not line.strip().startswith("DOMAINS=")
        ]
        if name != algorithm_name:
            lines.append("DOMAINS=none")
        atomic_write(conf, "\n".join(lines) + "\n")


def signature_window(now: float) -> tuple[int, int]:
    """(inception, expiration): expiration at 00:00 UTC of the local date 30 days ahead (as
    `ldns-signzone -e YYYYMMDD`), inception 31 days before it so clocks running behind still
    accept the signatures and the window only moves once a day."""
    expiry_date = time.localtime(now + SIGNATURE_DAYS * 86400)
    expiration = calendar.timegm(
        (expiry_date.tm_year, expiry_date.tm_mon, expiry_date.tm_mday, 0, 0, 0, 0, 0, 0)
    )
    return expiration - (SIGNATURE_DAYS + 1) * 86400, expiration


@dataclass(frozen=True, slots=True)
class SignedZone:
    text: str  # `<zone>.txt.signed`
    ds_text: str  # `<zone>.txt.ds`


def ds_lines(zone: str, keysets: Sequence[KeySet]) -> str:
    """`ldns-key2ds -n -2` then `-1` for each KSK (v0.51's `.ds` file, DNS.md §7)."""
    origin = dns.name.from_text(zone)
    out = []
    for ks in keysets:
        for digest in ("SHA256", "SHA1"):
            # SHA-1 DS records are deprecated for new delegations (RFC 8624) but v0.51 lists
            # them and registrars may hold them, so the file keeps them for comparison.
            ds = dns.dnssec.make_ds(
                origin, ks.ksk.dnskey, digest, policy=dns.dnssec.allow_all_policy
            )
            out.append(f"{zone}.\t{DS_TTL}\tIN\tDS\t{ds.to_text(style=_TEXT_STYLE)}\n")
    return "".join(out)


class ZoneSigner:
    """Signs zone texts; remembers signatures so an unchanged RRset is not signed twice."""

    MAX_CACHE: Final = 200_000

    def __init__(self) -> None:
        self._cache: dict[tuple[object, ...], dns.rdata.Rdata] = {}
        self._window: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def sign(self, zone: str, text: str, keysets: Sequence[KeySet], now: float) -> SignedZone:
        """Sign the unsigned zone `text` with `keysets` (NSEC3, DNS.md §7).

        Raises:
            dns.exception.DNSException: the text is not a valid zone.
        """
        origin = dns.name.from_text(zone)
        parsed = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
        window = signature_window(now)
        with self._lock:
            if window != self._window or len(self._cache) > self.MAX_CACHE:
                self._cache.clear()
                self._window = window
        soa_rds = parsed.get_rdataset(origin, dns.rdatatype.SOA)
        assert soa_rds is not None  # check_origin guarantees it
        soa = soa_rds[0]
        nsec3_ttl = min(soa.minimum, soa_rds.ttl)

        # Delegations (custom NS below the apex): only their NS/DS are authoritative there,
        # and what lies below them is glue, neither signed nor in the NSEC3 chain.
        delegations = {
            name
            for name, node in parsed.nodes.items()
            if name != origin and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS) is not None
        }
        authoritative: dict[dns.name.Name, list[dns.rdataset.Rdataset]] = {}
        for name, node in parsed.nodes.items():
            if any(name != d and name.is_subdomain(d) for d in delegations):
                continue
            authoritative[name] = list(node.rdatasets)

        apex = authoritative.setdefault(origin, [])
        dnskeys = dns.rdataset.Rdataset(dns.rdataclass.IN, dns.rdatatype.DNSKEY, ttl=soa_rds.ttl)
        for ks in keysets:
            dnskeys.add(ks.ksk.dnskey)
            dnskeys.add(ks.zsk.dnskey)
        apex.append(dnskeys)
        apex.append(
            dns.rdataset.from_text(
                dns.rdataclass.IN,
                dns.rdatatype.NSEC3PARAM,
                NSEC3PARAM_TTL,
                f"{NSEC3_ALGORITHM} 0 {NSEC3_ITERATIONS} -",
            )
        )

        lines: list[str] = []
        self._emit_name(lines, origin, apex, origin, keysets, window, delegated=False)
        for name in sorted(authoritative):
            if name != origin:
                self._emit_name(
                    lines,
                    name,
                    authoritative[name],
                    origin,
                    keysets,
                    window,
                    delegated=name in delegations,
                )
        # Glue under delegations: served, not signed.
        for name, node in sorted(parsed.nodes.items()):
            if name not in authoritative:
                for rds in node.rdatasets:
                    lines.extend(_rr_lines(name, rds))
        self._emit_nsec3(lines, authoritative, delegations, origin, nsec3_ttl, keysets, window)
        return SignedZone("".join(lines), ds_lines(zone, keysets))

    def _emit_name(
        self,
        lines: list[str],
        name: dns.name.Name,
        rdatasets: list[dns.rdataset.Rdataset],
        origin: dns.name.Name,
        keysets: Sequence[KeySet],
        window: tuple[int, int],
        *,
        delegated: bool,
    ) -> None:
        # The SOA leads the file, as in ldns-signzone's output.
        ordered = sorted(rdatasets, key=lambda r: (r.rdtype != dns.rdatatype.SOA, r.rdtype))
        for rds in ordered:
            rr_lines = _rr_lines(name, rds)
            lines.extend(rr_lines)
            if delegated and rds.rdtype != dns.rdatatype.DS:
                continue
            signers = [ks.ksk if rds.rdtype == dns.rdatatype.DNSKEY else ks.zsk for ks in keysets]
            for key in signers:
                rrsig = self._signature(name, rds, tuple(rr_lines), key, origin, window)
                lines.append(f"{name}\t{rds.ttl}\tIN\tRRSIG\t{rrsig.to_text(style=_TEXT_STYLE)}\n")

    def _signature(
        self,
        name: dns.name.Name,
        rds: dns.rdataset.Rdataset,
        rr_lines: tuple[str, ...],
        key: DnssecKey,
        origin: dns.name.Name,
        window: tuple[int, int],
    ) -> dns.rdata.Rdata:
        cache_key = (origin, key.algorithm, key.tag, tuple(sorted(rr_lines)))
        with self._lock:
            hit = self._cache.get(cache_key)
        if hit is not None:
            return hit
        rrsig = make_rrsig(name, rds, key, origin, window)
        with self._lock:
            self._cache[cache_key] = rrsig
        return rrsig

    def _emit_nsec3(
        self,
        lines: list[str],
        authoritative: dict[dns.name.Name, list[dns.rdataset.Rdataset]],
        delegations: set[dns.name.Name],
        origin: dns.name.Name,
        ttl: int,
        keysets: Sequence[KeySet],
        window: tuple[int, int],
    ) -> None:
        types: dict[dns.name.Name, list[str]] = {}
        for name, rdatasets in authoritative.items():
            present = {r.rdtype for r in rdatasets}
            if name in delegations:
                present &= {dns.rdatatype.NS, dns.rdatatype.DS}
                if dns.rdatatype.DS in present:
                    present.add(dns.rdatatype.RRSIG)
            elif present:
                present.add(dns.rdatatype.RRSIG)
            types[name] = [dns.rdatatype.to_text(t) for t in sorted(present)]
            # Empty non-terminals between the name and the apex get an NSEC3 too (RFC 5155).
            parent = name
            while parent != origin and len(parent) > len(origin):
                parent = parent.parent()
                types.setdefault(parent, [])
        hashed = sorted(
            (dns.dnssec.nsec3_hash(name, b"", NSEC3_ITERATIONS, NSEC3_ALGORITHM).lower(), name)
            for name in types
        )
        for i, (digest, name) in enumerate(hashed):
            following = hashed[(i + 1) % len(hashed)][0]
            owner = dns.name.Name((digest.encode("ascii"), *origin.labels))
            rds = dns.rdataset.from_text(
                dns.rdataclass.IN,
                dns.rdatatype.NSEC3,
                ttl,
                f"{NSEC3_ALGORITHM} 0 {NSEC3_ITERATIONS} - {following} " + " ".join(types[name]),
            )
            self._emit_name(lines, owner, [rds], origin, keysets, window, delegated=False)


# DNSSEC algorithm number -> (hash, curve size in bytes for ECDSA or 0 for RSA).
_SIGNING: Final[dict[int, tuple[type[hashes.HashAlgorithm], int]]] = {
    5: (hashes.SHA1, 0),
    7: (hashes.SHA1, 0),
    8: (hashes.SHA256, 0),
    10: (hashes.SHA512, 0),
    13: (hashes.SHA256, 32),
    14: (hashes.SHA384, 48),
}


def make_rrsig(
    name: dns.name.Name,
    rds: dns.rdataset.Rdataset,
    key: DnssecKey,
    signer: dns.name.Name,
    window: tuple[int, int],
) -> dns.rdata.Rdata:
    """The RRSIG over one RRset (RFC 4034 §3.1.8.1), signed directly with cryptography.

    dnspython's `dns.dnssec.sign` does the same with more general machinery; doing the
    canonical form here halves the cost of signing a box's zones (bench/dns_bench.py).
    """
    if key.algorithm not in _SIGNING:
        return dns.dnssec.sign(
            (name, rds),
            key.private_key,
            signer,
            key.dnskey,
            inception=window[0],
            expiration=window[1],
            origin=signer,
        )
    labels = len(name) - 1 - (1 if name.is_wild() else 0)
    # The RRSIG RDATA without its signature, in canonical form, is the signed prefix.
    data = bytearray(
        struct.pack(
            "!HBBIIIH", rds.rdtype, key.algorithm, labels, rds.ttl, window[1], window[0], key.tag
        )
    )
    data += signer.to_digestable()
    header = name.to_digestable() + struct.pack("!HHI", rds.rdtype, rds.rdclass, rds.ttl)
    for rdata in sorted({rd.to_digestable(signer) for rd in rds}):
        data += header + struct.pack("!H", len(rdata)) + rdata
    hash_cls, curve_bytes = _SIGNING[key.algorithm]
    private = key.private_key
    if curve_bytes:
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        r, s = utils.decode_dss_signature(private.sign(bytes(data), ec.ECDSA(hash_cls())))
        signature = r.to_bytes(curve_bytes, "big") + s.to_bytes(curve_bytes, "big")
    else:
        assert isinstance(private, rsa.RSAPrivateKey)
        signature = private.sign(bytes(data), padding.PKCS1v15(), hash_cls())
    return RRSIG(  # type: ignore[no-untyped-call]
        rds.rdclass,
        dns.rdatatype.RRSIG,
        rds.rdtype,
        key.algorithm,
        labels,
        rds.ttl,
        window[1],
        window[0],
        key.tag,
        signer,
        signature,
    )


def _rr_lines(name: dns.name.Name, rds: dns.rdataset.Rdataset) -> list[str]:
    rtype = dns.rdatatype.to_text(rds.rdtype)
    head = f"{name}\t{rds.ttl}\tIN\t{rtype}\t"
    return [head + rd.to_text(style=_TEXT_STYLE) + "\n" for rd in rds]
