"""`box.dns`: zones, records, custom records, secondary nameservers, DNSSEC and the DNS update.

The update (DNS.md §9) builds every zone in memory, compares it with the file on disk and only
rewrites, re-signs and reloads what changed, so running it after every user or alias change
(the housekeeping hook) costs a few milliseconds when nothing DNS-visible changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import dns.exception
import dns.zone

from core.audit import Actor
from core.dns import custom as custom_mod
from core.dns.custom import SECONDARY_NS_QNAME, Action, CustomFile
from core.dns.dnssec import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    SELECTABLE,
    DnssecKeyError,
    KeySet,
    SignedZone,
    ZoneSigner,
    ds_lines,
    ensure_keys,
    keysets_for_zone,
    load_keysets,
    select_algorithm,
)
from core.dns.nsd import DnsHost, render_opendkim_tables, render_zones_conf
from core.dns.records import (
    CustomRecord,
    DnsRecord,
    ZoneFacts,
    build_zone,
    domains_with_a_records_elsewhere,
    dump_records,
)
from core.dns.secondary import (
    Resolver,
    TransferAddresses,
    ns_hostnames,
    parse_entries,
    system_resolver,
    validate_entries,
)
from core.dns.sources import (
    FileCache,
    ensure_dkim_key,
    ensure_tls_key,
    file_stamp,
    mta_sts_policy_id,
    parse_dkim_txt,
    ssh_host_key_files,
    sshfp_values,
    tlsa_value,
    valid_certificate_names,
)
from core.dns.zones import (
    decide_serial,
    needs_resign,
    render_zone,
    with_serial,
    zone_file_name,
)
from core.errors import ValidationError
from core.formats import MAX_NAME_CHARS, FormatError
from core.mail.domains import sort_domains
from core.results import Change
from core.storage.files import atomic_write, file_lock

if TYPE_CHECKING:
    from core.box import Box

NOTHING_CHANGED: Final = "OK"
EMPTY_UPDATE: Final = "Something isn't right."
# What that answer (the reference's words, which the API keeps) means, for the other faces.
EMPTY_UPDATE_REASON: Final = (
    "the record is stored, but no zone changed: a record the box makes itself takes its "
    "place (as its hostname's A and AAAA do), so it is not served."
)


@dataclass(frozen=True, slots=True)
class Zone:
    """A zone the box serves and the DNS domains whose records it holds."""

    name: str
    domains: tuple[str, ...]
    file_name: str


@dataclass(frozen=True, slots=True)
class FileDiff:
    """What an update would change in one file (unified diff text)."""

    name: str  # the zone, or `zones.conf`
    path: Path
    diff: str


@dataclass(frozen=True, slots=True)
class DsRecord:
    """One DS record for the registrar (a line of `<zone>.txt.ds`)."""

    zone: str
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str
    text: str


class DnsService:
    """The DNS area of a box (DNS.md, BEHAVIOUR.md §4)."""

    def __init__(
        self, box: Box, *, resolver: Resolver = system_resolver, host: DnsHost | None = None
    ) -> None:
        self._box = box
        config = box.config
        self.resolver = resolver
        self.host = host or DnsHost(config)
        self.zones_dir = config.nsd_zones_dir
        self.zones_conf = config.nsd_zones_conf
        self.opendkim_dir = config.opendkim_dir
        self.ssh_dir = config.ssh_dir
        self.mta_sts_policy = config.mta_sts_policy
        self.custom_yaml = config.custom_dns_yaml
        self.dnssec_dir = config.dnssec_dir
        self.dkim_dir = config.dkim_dir
        self.ssl_dir = config.ssl_dir
        self._lock_path = config.dns_update_lock
        self._rlock = threading.RLock()
        self._depth = 0
        self._files = FileCache()
        self._signer = ZoneSigner()
        self._xfr = TransferAddresses(lambda host, rtype: self.resolver(host, rtype))

    # --- locking ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One DNS writer at a time, across threads and processes (TUI and API server)."""
        with self._rlock:
            self._depth += 1
            try:
                if self._depth == 1:
                    with file_lock(self._lock_path):
                        yield
                else:
                    yield
            finally:
                self._depth -= 1

    # --- facts --------------------------------------------------------------------------------

    def _custom_file(self) -> CustomFile:
        return self._files.get(
            "custom",
            file_stamp([self.custom_yaml]),
            lambda: custom_mod.read_custom_file(self.custom_yaml),
        )

    def _domains(self) -> tuple[frozenset[str], frozenset[str]]:
        def compute() -> tuple[frozenset[str], frozenset[str]]:
            users = frozenset(
                r[0].rpartition("@")[2] for r in self._box.db.query("SELECT email FROM users")
            )
            return frozenset(self._box.mail.housekeeping.mail_domains()), users

        return self._box.db.cached("dns-domains", compute)

    def _secondary_setting(self, custom: CustomFile) -> str:
        return " ".join(r.value for r in custom.records if r.qname == SECONDARY_NS_QNAME)

    def _facts(self) -> tuple[ZoneFacts, CustomFile]:
        config = self._box.config
        mail_domains, user_domains = self._domains()
        custom = self._custom_file()
        dkim_txt = self.dkim_dir / "mail.txt"
        dkim = self._files.get("dkim", file_stamp([dkim_txt]), lambda: _read_dkim(dkim_txt))
        ssl_files = [self.ssl_dir / "ssl_certificate.pem", self.ssl_dir / "ssl_private_key.pem"]
        tlsa = self._files.get("tlsa", file_stamp(ssl_files), lambda: tlsa_value(self.ssl_dir))
        sshfp = self._files.get(
            "sshfp",
            file_stamp(ssh_host_key_files(self.ssh_dir)),
            lambda: sshfp_values(self.ssh_dir),
        )
        policy_id = self._files.get(
            "mta-sts-id",
            file_stamp([self.mta_sts_policy]),
            lambda: mta_sts_policy_id(self.mta_sts_policy),
        )
        policy_domains: frozenset[str] = frozenset()
        if policy_id:
            policy_domains = self._mta_sts_domains(mail_domains)
        facts = ZoneFacts(
            primary_hostname=config.primary_hostname,
            ipv4=config.public_ip,
            ipv6=config.public_ipv6,
            mail_domains=mail_domains,
            user_domains=user_domains,
            custom=custom.real_records,
            secondary_hostnames=ns_hostnames(self._secondary_setting(custom)),
            dkim=dkim,
            tlsa=tlsa,
            sshfp=sshfp,
            mta_sts_policy_domains=policy_domains,
            mta_sts_policy_id=policy_id,
            tlsrpt_rua=config.extra.get("MTA_STS_TLSRPT_RUA", ""),
        )
        return facts, custom

    def _mta_sts_domains(self, mail_domains: frozenset[str]) -> frozenset[str]:
        """Mail domains whose `mta-sts.` name and the primary hostname both have a valid
        certificate (DNS.md §2 step 13); re-checked when `ssl/` changes or daily."""
        primary = self._box.config.primary_hostname
        now = self._box.clock()
        names = {primary} | {"mta-sts." + d for d in mail_domains}
        key = (
            file_stamp([self.ssl_dir, *self.ssl_dir.glob("*")]),
            int(now // 86400),
            tuple(sorted(names)),
        )
        valid = self._files.get(
            "certs", key, lambda: valid_certificate_names(self.ssl_dir, names, now, primary)
        )
        if primary not in valid:
            return frozenset()
        return frozenset(d for d in mail_domains if "mta-sts." + d in valid)

    def _keysets(self) -> list[KeySet]:
        try:
            listing = sorted(self.dnssec_dir.iterdir())
        except OSError:
            listing = []
        return self._files.get(
            "keysets", file_stamp(listing), lambda: load_keysets(self.dnssec_dir)
        )

    def _ensure_keys(self) -> None:
        """Keys setup would have made (STORAGE.md §3–§5): DKIM, the TLS key, DNSSEC keys."""
        ensure_dkim_key(self.dkim_dir, self._box.config.primary_hostname)
        ensure_tls_key(self.ssl_dir)
        if not any(self.dnssec_dir.glob("*.conf")):
            ensure_keys(self.dnssec_dir, DEFAULT_ALGORITHM)

    # --- reading ------------------------------------------------------------------------------

    def zones(self) -> tuple[str, ...]:
        """Zone apexes in the domain sort order (BEHAVIOUR.md §4.1)."""
        return self._facts()[0].zones

    def zone_list(self) -> tuple[Zone, ...]:
        """Each zone with the DNS domains it holds (DNS.md §1)."""
        facts = self._facts()[0]
        return tuple(
            Zone(
                z,
                tuple(d for d in facts.dns_domains if d == z or d.endswith("." + z)),
                zone_file_name(z),
            )
            for z in facts.zones
        )

    def _check_zone(self, zone: str, facts: ZoneFacts) -> str:
        zone = custom_mod.normalize_qname(zone)
        if zone not in facts.zones:
            raise ValidationError(
                f"{zone} is not a domain name that corresponds to a zone.", field="zone"
            )
        return zone

    def records(self, zone: str) -> tuple[DnsRecord, ...]:
        """The zone's records as `/dns/dump` shows them (BEHAVIOUR.md §4.8).

        Raises:
            ValidationError: `ZONE is not a domain name that corresponds to a zone.`
        """
        facts = self._facts()[0]
        zone = self._check_zone(zone, facts)
        return dump_records(zone, build_zone(zone, facts))

    def dump(self) -> tuple[tuple[str, tuple[DnsRecord, ...]], ...]:
        """Every zone with its records, as `/dns/dump` (BEHAVIOUR.md §4.8)."""
        facts = self._facts()[0]
        return tuple((z, dump_records(z, build_zone(z, facts))) for z in facts.zones)

    def zonefile(self, zone: str) -> str:
        """The unsigned zone file the last update wrote (BEHAVIOUR.md §4.2); before the first
        update, the text it would write.

        Raises:
            ValidationError: `ZONE is not a domain name that corresponds to a zone.`
        """
        facts = self._facts()[0]
        zone = self._check_zone(zone, facts)
        try:
            return (self.zones_dir / zone_file_name(zone)).read_text(encoding="utf-8")
        except FileNotFoundError:
            text = render_zone(zone, facts.primary_hostname, build_zone(zone, facts))
            return with_serial(
                text, decide_serial(text, None, self._box.clock(), force=True).serial
            )

    def zone_facts(self) -> ZoneFacts:
        """The facts the zones are built from (mail domains, zones, custom records), for the
        areas that follow them (web domains, TLS)."""
        return self._facts()[0]

    def domains_with_a_records_elsewhere(self) -> frozenset[str]:
        """DNS.md §10: names whose website is hosted elsewhere (for the web and TLS areas)."""
        return frozenset(
            domains_with_a_records_elsewhere(
                self._custom_file().records, self._box.config.public_ip
            )
        )

    # --- the update ---------------------------------------------------------------------------

    def update(self, *, force: bool = False, actor: Actor) -> Change:
        """Rewrite, re-sign and reload what changed (DNS.md §9); `force` rewrites every zone.

        Returns `updated DNS: a.com,b.com` (nothing when nothing changed), then notes from the
        host (e.g. nsd not installed) and any zone that kept its last good version.

        A zone that fails to build or sign, or a reload that fails, is reported as a line,
        never raised.

        Raises:
            OSError: a zone, table or key file cannot be written (disk full, permissions).
        """
        with self._box.audit.recording(actor, "update DNS", "force" if force else ""):
            return self._update(force=force)

    def housekeeping_hook(self) -> list[str]:
        """The update as step 4 of the post-change housekeeping (BEHAVIOUR.md §3.12)."""
        return list(self._update().lines)

    def _plan(
        self, facts: ZoneFacts, force: bool, problems: list[str]
    ) -> Iterator[tuple[str, Path, str | None, str, bool]]:
        """Per zone: (zone, path, existing text, new text with serial, changed). A zone the
        zone-text validator refuses to render is left out, with a line in `problems`."""
        now = self._box.clock()
        for zone in facts.zones:
            path = self.zones_dir / zone_file_name(zone)
            try:
                text = render_zone(zone, facts.primary_hostname, build_zone(zone, facts))
            except FormatError as exc:
                problems.append(
                    f"DNS zone {zone} was not updated and keeps its last good "
                    f"version: a record cannot be written to a zone file ({exc})."
                )
                continue
            existing = _read_or_none(path)
            signed_path = path.with_name(path.name + ".signed")
            # Re-read the signed file only when it changed, or hourly (expiry is time-bound).
            key = file_stamp([signed_path]) + (now // 3600,)
            expiry_ok = self._files.get(
                "signed:" + zone, key, functools.partial(_signatures_fresh, signed_path, now)
            )
            decision = decide_serial(text, existing, now, force=force or not expiry_ok)
            yield zone, path, existing, with_serial(text, decision.serial), decision.changed

    def _update(self, *, force: bool = False) -> Change:
        with self._locked():
            facts, custom = self._facts()
            problems = list(custom.problems)
            keysets: list[KeySet] = []
            try:
                self._ensure_keys()
                keysets = self._keysets()
            except (DnssecKeyError, ImportError) as exc:
                # ImportError: dnspython's DNSSEC support needs a newer `cryptography`.
                problems.append(f"DNSSEC keys are not usable, zones were not signed: {exc}")
            facts, custom = self._facts()  # again: the keys just made feed DKIM and TLSA
            now = self._box.clock()
            updated: list[str] = []
            work = [
                (zone, path, text)
                for zone, path, _existing, text, changed in self._plan(facts, force, problems)
                if changed and keysets
            ]

            def sign(item: tuple[str, Path, str]) -> SignedZone | Exception:
                zone, _path, text = item
                try:
                    return self._signer.sign(zone, text, keysets_for_zone(zone, keysets), now)
                except (dns.exception.DNSException, DnssecKeyError, ValueError) as exc:
                    return exc

            # The RSA/ECDSA signing releases the GIL: a rebuild of many zones uses every core.
            if len(work) > 1:
                with ThreadPoolExecutor(min(len(work), os.cpu_count() or 1)) as pool:
                    results = list(pool.map(sign, work))
            else:
                results = [sign(item) for item in work]
            for (zone, path, text), signed in zip(work, results, strict=True):
                if isinstance(signed, Exception):
                    # A zone that fails to build keeps its last good files.
                    problems.append(
                        f"DNS zone {zone} was not updated and keeps its last good version: {signed}"
                    )
                    continue
                atomic_write(path, text)
                atomic_write(path.with_name(path.name + ".signed"), signed.text)
                atomic_write(path.with_name(path.name + ".ds"), signed.ds_text)
                updated.append(zone)
            try:
                conf: str | None = self._zones_conf_text(facts, custom)
            except FormatError as exc:
                conf = None
                problems.append(
                    "nsd's zone list (zones.conf) was not updated and keeps its "
                    f"last good version: {exc}."
                )
            if conf is not None and _read_or_none(self.zones_conf) != conf:
                atomic_write(self.zones_conf, conf)
                if not updated:
                    updated.append("DNS configuration")
            notes: list[str] = []
            if updated:
                notes.extend(self.host.reload_nsd())
            if self._write_opendkim_tables(facts, problems):
                notes.extend(self.host.restart_opendkim())
                if not updated:
                    updated.append("OpenDKIM configuration")
            if updated:
                self.host.flush_resolver()
        lines = ["updated DNS: " + ",".join(updated)] if updated else []
        return dataclasses.replace(Change.of(*lines, *notes, *problems), changed=bool(updated))

    def _zones_conf_text(self, facts: ZoneFacts, custom: CustomFile) -> str:
        xfr = self._xfr.addresses(self._secondary_setting(custom))
        return render_zones_conf([(z, zone_file_name(z) + ".signed") for z in facts.zones], xfr)

    def _write_opendkim_tables(self, facts: ZoneFacts, problems: list[str]) -> bool:
        key_file = self.dkim_dir / "mail.private"
        if not key_file.exists():
            return False
        domains = sort_domains(facts.mail_domains, facts.primary_hostname)
        try:
            tables = render_opendkim_tables(domains, str(key_file))
        except FormatError as exc:
            problems.append(
                f"OpenDKIM's tables were not updated and keep their last good version: {exc}."
            )
            return False
        changed = False
        for name, content in tables.items():
            path = self.opendkim_dir / name
            if _read_or_none(path) != content:
                atomic_write(path, content)
                changed = True
        return changed

    def preview(self, *, force: bool = False) -> tuple[FileDiff, ...]:
        """What `update(force=...)` would change, as unified diffs, without writing anything."""
        facts, custom = self._facts()
        diffs: list[FileDiff] = []
        for zone, path, existing, text, changed in self._plan(facts, force, []):
            if changed:
                diffs.append(FileDiff(zone, path, _diff(path.name, existing, text)))
        try:
            conf = self._zones_conf_text(facts, custom)
        except FormatError:
            return tuple(diffs)  # the update would keep the last good zones.conf
        existing_conf = _read_or_none(self.zones_conf)
        if existing_conf != conf:
            diffs.append(
                FileDiff("zones.conf", self.zones_conf, _diff("zones.conf", existing_conf, conf))
            )
        return tuple(diffs)

    # --- custom records -----------------------------------------------------------------------

    def custom_records(
        self, qname: str | None = None, rtype: str | None = None
    ) -> tuple[CustomRecord, ...]:
        """Custom records in file order (BEHAVIOUR.md §4.6), optionally only qname+rtype
        (§4.7 GET); the secondary nameserver setting is not a record."""
        records = self._custom_file().real_records
        if qname is not None:
            qname = custom_mod.normalize_qname(qname)
            wanted = (rtype or "A").strip().upper()
            records = tuple(r for r in records if r.qname == qname and r.rtype == wanted)
        return records

    def add_custom_record(
        self,
        qname: str,
        rtype: str = "A",
        value: str = "",
        *,
        default_address: str | None = None,
        actor: Actor,
    ) -> Change:
        """Add one more value for qname+rtype (POST /dns/custom/...). An empty A/AAAA value
        takes `default_address` (the caller's IP).

        Returns the DNS update's lines, `Something isn't right.` if the update changed
        nothing, or `OK` when the record existed already.

        Raises:
            ValidationError: the reference's messages (BEHAVIOUR.md §4.7), or a malformed
                value for its type.
        """
        return self._edit(qname, rtype, value, "add", actor, default_address)

    def set_custom_record(
        self,
        qname: str,
        rtype: str = "A",
        value: str = "",
        *,
        default_address: str | None = None,
        actor: Actor,
    ) -> Change:
        """Replace every value of qname+rtype with `value` (PUT /dns/custom/...).

        Raises:
            ValidationError: as `add_custom_record`.
        """
        return self._edit(qname, rtype, value, "set", actor, default_address)

    def remove_custom_record(
        self, qname: str, rtype: str = "A", value: str | None = None, *, actor: Actor
    ) -> Change:
        """Remove that value of qname+rtype, or all of them when `value` is empty (DELETE).

        Raises:
            ValidationError: the qname is outside the box's zones.
        """
        return self._edit(qname, rtype, value, "remove", actor, None)

    def _edit(
        self,
        qname: str,
        rtype: str,
        value: str | None,
        action: Action,
        actor: Actor,
        default_address: str | None,
    ) -> Change:
        qname = custom_mod.normalize_qname(qname)
        rtype = (rtype or "A").strip().upper()
        with self._box.audit.recording(actor, f"{action} DNS record", f"{qname} {rtype}"):
            if action == "remove":
                value = (value or "").strip() or None
                if value is not None and qname == SECONDARY_NS_QNAME:
                    value = " ".join(parse_entries(value)) or value  # as it was stored
            else:
                value = (value or "").strip()
                if value == "" and rtype in ("A", "AAAA"):
                    value = (default_address or "").strip()
                if value == "":
                    raise ValidationError("No value for the record provided.", field="value")
                if qname == SECONDARY_NS_QNAME:
                    value = self._checked_secondary_value(value)
            rtype, value = custom_mod.validate_record(qname, rtype, value, self.zones())
            if value is not None:
                _check_name_lengths(qname, rtype, value)
            changed = self._change_custom(qname, rtype, value, action)
        if not changed:
            return Change.unchanged(NOTHING_CHANGED, bare=True)
        if qname == SECONDARY_NS_QNAME:
            self._xfr.forget()
        result = self._update()
        # The record is stored either way; the reference's bare word when the update was quiet.
        if not result.lines:
            return Change((EMPTY_UPDATE,), bare=True)
        return dataclasses.replace(result, changed=True)

    def _checked_secondary_value(self, value: str) -> str:
        """The `_secondary_nameserver` pseudo record set through the custom-record operations
        gets exactly the rules of `set_secondary_nameservers` (the reference checks nothing
        there): the same split, the same checks and messages; stored space-joined.

        Raises:
            ValidationError: as `set_secondary_nameservers`.
        """
        entries = parse_entries(value)
        if not entries:
            raise ValidationError("No value for the record provided.", field="value")
        validate_entries(entries, self.resolver)
        return " ".join(entries)

    def _change_custom(self, qname: str, rtype: str, value: str | None, action: Action) -> bool:
        with self._locked():
            current = custom_mod.read_custom_file(self.custom_yaml)
            if current.problems:
                # Rewriting would drop what we could not read; the admin fixes the file first.
                raise ValidationError(current.problems[0] + " Fix dns/custom.yaml first.")
            new, changed = custom_mod.apply_action(current.records, qname, rtype, value, action)
            if changed and action != "remove" and qname != SECONDARY_NS_QNAME:
                self._check_zone_still_builds(qname, new)
            if changed:
                try:
                    text = custom_mod.render_custom_yaml(new)
                except FormatError as exc:
                    raise ValidationError(
                        f"That value cannot be stored in dns/custom.yaml ({exc}).", field="value"
                    ) from None
                atomic_write(self.custom_yaml, text)
        return changed

    def _check_zone_still_builds(self, qname: str, new: Sequence[CustomRecord]) -> None:
        """Ours: a record that would stop its zone from building (a CNAME beside other data at
        one name, say) is refused now, rather than accepted and then keeping the zone at its
        last good version on every update. A zone that fails already is not held against
        the change.

        Raises:
            ValidationError: `That record would stop the zone ZONE from updating (DETAIL).`
        """
        facts = self._facts()[0]
        zone = custom_mod.zone_of(qname, facts.zones)
        if zone is None or _zone_problem(zone, facts) is not None:
            return
        after = dataclasses.replace(
            facts, custom=tuple(r for r in new if r.qname != SECONDARY_NS_QNAME)
        )
        problem = _zone_problem(zone, after)
        if problem is not None:
            raise ValidationError(
                f"That record would stop the zone {zone} from updating ({problem}).", field="value"
            )

    # --- secondary nameservers ----------------------------------------------------------------

    def secondary_nameservers(self) -> tuple[str, ...]:
        """The raw entries of the setting, `xfr:` ones included (BEHAVIOUR.md §4.4)."""
        return tuple(h for h in self._secondary_setting(self._custom_file()).split(" ") if h)

    def set_secondary_nameservers(self, hostnames: str | Sequence[str], *, actor: Actor) -> Change:
        """Replace the setting (an empty list clears it), then run the DNS update.

        Raises:
            ValidationError: `Could not resolve the IP address of HOST.` or
                `'VALUE' is not an IPv4 or IPv6 address or subnet.`
        """
        entries = parse_entries(hostnames)
        with self._box.audit.recording(actor, "set secondary nameservers", " ".join(entries)):
            validate_entries(entries, self.resolver)
            stored = self._change_custom(SECONDARY_NS_QNAME, "A", " ".join(entries) or None, "set")
            self._xfr.forget()
        result = self._update()
        return dataclasses.replace(result, changed=stored or result.changed)

    # --- DNSSEC -------------------------------------------------------------------------------

    def ds_records(self, zone: str) -> tuple[DsRecord, ...]:
        """The DS records to give the registrar for `zone` (its `.ds` file, DNS.md §7).

        Raises:
            ValidationError: `ZONE is not a domain name that corresponds to a zone.`
        """
        zone = self._check_zone(zone, self._facts()[0])
        text = _read_or_none(self.zones_dir / (zone_file_name(zone) + ".ds"))
        if text is None:
            text = ds_lines(zone, keysets_for_zone(zone, self._keysets()))
        out = []
        for line in text.splitlines():
            fields = line.split("\t")
            if len(fields) == 5 and fields[3] == "DS":
                tag, alg, digest_type, digest = fields[4].split(" ", 3)
                out.append(
                    DsRecord(
                        zone, int(tag), int(alg), int(digest_type), digest.replace(" ", ""), line
                    )
                )
        return tuple(out)

    def dnssec_algorithms(self, zone: str | None = None) -> tuple[str, ...]:
        """The algorithms that sign `zone` (or, with no zone, that sign any zone)."""
        keysets = self._keysets()
        if zone is not None:
            return tuple(ks.name for ks in keysets_for_zone(zone, keysets))
        used = {ks.name for z in self.zones() for ks in keysets_for_zone(z, keysets)}
        return tuple(name for name in ALGORITHMS if name in used)

    def set_dnssec_algorithm(self, algorithm: str, *, actor: Actor) -> Change:
        """Sign every zone with `algorithm` only (new keys made if needed), then re-sign all.
        The DS records at the registrar must be replaced with the new `ds_records`.

        Raises:
            ValidationError: not RSASHA256 or ECDSAP256SHA256.
        """
        with self._box.audit.recording(actor, "set DNSSEC algorithm", algorithm):
            if algorithm not in SELECTABLE:
                raise ValidationError(
                    f"Unknown DNSSEC algorithm '{algorithm}'. Choose "
                    + " or ".join(SELECTABLE)
                    + ".",
                    field="algorithm",
                )
            with self._locked():
                select_algorithm(self.dnssec_dir, algorithm)
                return self._update(force=True)


def _check_name_lengths(qname: str, rtype: str, value: str) -> None:
    """Our addition to the reference's checks: its name pattern allows 126 labels of 63
    characters, but a longer name cannot be signed, so the zone would keep failing to update
    until the record was removed. Refused up front instead.

    Raises:
        ValidationError: `Invalid name.` / `Invalid value.` (the pattern's own messages).
    """
    if len(qname.rstrip(".")) > MAX_NAME_CHARS:
        raise ValidationError("Invalid name.", field="qname")
    if rtype in ("CNAME", "NS") and len(value.rstrip(".")) > MAX_NAME_CHARS:
        raise ValidationError("Invalid value.", field="value")


def _zone_problem(zone: str, facts: ZoneFacts) -> str | None:
    """Why the zone would not build (render, then parse as the signer parses it), or None."""
    try:
        text = render_zone(zone, facts.primary_hostname, build_zone(zone, facts))
        dns.zone.from_text(with_serial(text, "1"), origin=zone, relativize=False, check_origin=True)
    except (FormatError, dns.exception.DNSException, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return None


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _signatures_fresh(signed_path: Path, now: float) -> bool:
    return not needs_resign(_read_or_none(signed_path), now)


def _read_dkim(path: Path) -> tuple[str, str] | None:
    text = _read_or_none(path)
    return parse_dkim_txt(text) if text is not None else None


def _diff(name: str, old: str | None, new: str) -> str:
    return "".join(
        difflib.unified_diff(
            (old or "").splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{name} (now)" if old is not None else "/dev/null",
            tofile=f"{name} (after update)",
        )
    )
