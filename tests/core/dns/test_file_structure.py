"""Issue 7: no value can add a line or a directive to a file a daemon reads.

Hypothesis generates hostile values (newlines, CR, NUL, `#`, `;`, quotes, braces, nsd
directives, zone-file directives, Unicode line separators, very long strings) for every
writer: custom records of every type, the secondary nameservers through both paths, the
user and alias names that become zone names, quotas. Each operation is either refused with a
ValidationError and every file is byte-identical, or it succeeds and each file's structure is
what the operation intends, nothing more: zones.conf has exactly its grammar, the zone
blocks of the box's zones and the transfer lines of the setting; each zone file parses and its
(name, type) RRsets differ from before only at the name the operation is about.

Then the validators of core.formats on their own, and the renderers' refusal (defence in depth)
of values that reached custom.yaml by hand.
"""

from __future__ import annotations

import collections
import ipaddress
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zone
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from core import Box
from core.dns.custom import (
    RECORD_TYPES,
    SECONDARY_NS_QNAME,
    normalize_qname,
    parse_custom_yaml,
    render_custom_yaml,
)
from core.dns.nsd import render_opendkim_tables, render_zones_conf
from core.dns.records import CustomRecord, Rec
from core.dns.zones import render_zone
from core.errors import AlreadyExists, ValidationError
from core.formats import FormatError, quote_txt, zone_line
from core.mail.users import quota_bytes
from tests.conftest import TEST_ACTOR
from tests.core.dns.conftest import ADMIN, FAKE_DNS, PASSWORD, make_box

PRIMARY = "box.example.com"
PIECES = (
    "\n",
    "\r",
    "\r\n",
    "\x00",
    "\t",
    " ",
    "#",
    ";",
    '"',
    "'",
    "\\",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "%",
    "%eth0",
    "*",
    "&a",
    "!!python/object:os.system",
    "---\n",
    "...",
    ": ",
    "- ",
    "|",
    "zone:",
    "\tname: evil.example",
    "\tzonefile: /etc/shadow",
    "provide-xfr: 0.0.0.0/0 NOKEY",
    "notify: 0.0.0.0 NOKEY",
    "\n@\tIN\tA\t6.6.6.6",
    "@ IN A 6.6.6.6",
    "$INCLUDE /etc/shadow",
    "$ORIGIN evil.",
    "\u2028",
    "\u2029",
    "\u0085",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1e",
    "\u00a0",
    "xfr:",
    ",",
    ".",
    "..",
    "198.51.100.7",
    "fe80::1",
    "0.0.0.0/0",
    "ns2.hosting.example",
    "example.com",
    "10 ",
    "ü",
    "\U0001f600",
)
piece = st.sampled_from(PIECES)
hostile: SearchStrategy[str] = st.one_of(
    st.lists(st.one_of(piece, st.text(max_size=4)), min_size=1, max_size=6).map("".join),
    st.builds(lambda p, n: p * n, st.sampled_from(PIECES + ("a", "a.")), st.integers(30, 400)),
)


def around(valid: tuple[str, ...]) -> SearchStrategy[str]:
    """Valid values, hostile ones, and valid ones with hostile text before, after or inside."""
    v = st.sampled_from(valid)
    return st.one_of(
        v,
        v,
        v,
        hostile,
        st.tuples(v, hostile).map("".join),
        st.tuples(hostile, v).map("".join),
        st.tuples(v, hostile, v).map("".join),
    )


VALID_VALUES = {
    "A": ("198.51.100.7", "local", "192.0.2.10"),
    "AAAA": ("2001:db8::7", "local"),
    "CNAME": ("box.example.com.", "target.example.net"),
    "NS": ("ns.example.net.",),
    "TXT": ("hello", "v=spf1 mx -all", 'say "hi" \\o/', "a;b (c)"),
    "MX": ("10 mx.example.net.", "20 box.example.com."),
    "SRV": ("0 0 443 box.example.com.",),
    "SSHFP": ("4 2 " + "AB" * 32,),
    "CAA": ('0 issue "letsencrypt.org"',),
}
QNAMES = (
    "www.example.com",
    "x.example.com",
    "_acme-challenge.example.com",
    "*.example.com",
    "sub.example.net",
    "mail.example.net",
    "example.net",
)
SECONDARY = (
    "ns2.hosting.example",
    "ns.v4only.example",
    "xfr:203.0.113.9",
    "xfr:2001:db8:1::/48",
    "xfr:198.51.100.0/24",
    "ns2.hosting.example.",
)

PROPERTY = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def pbox(tmp_path: Path, key_material: Path) -> Iterator[Box]:
    """A box with two zones (example.com holding box.example.com, and example.net); each
    property runs all its examples on it, one after the other."""
    box = make_box(tmp_path / "box", key_material)
    box.mail.users.add_user(ADMIN, PASSWORD, "admin", actor=TEST_ACTOR)
    box.mail.aliases.add_alias("administrator@box.example.com", ADMIN, actor=TEST_ACTOR)
    box.mail.users.add_user("alice@example.net", PASSWORD, actor=TEST_ACTOR)
    yield box
    box.close()


# --- what is on disk ---------------------------------------------------------------------------


def disk(box: Box) -> dict[str, bytes]:
    """Every file the DNS area writes."""
    d = box.dns
    paths = [d.zones_conf, d.custom_yaml, *d.zones_dir.glob("*"), *d.opendkim_dir.glob("*")]
    return {str(p): p.read_bytes() for p in paths if p.is_file()}


_CONF_LINE = re.compile(
    r"zone:|\tname: [a-z0-9.-]+|\tzonefile: [A-Za-z0-9.%-]+\.txt\.signed"
    r"|\t(?:notify|provide-xfr): [0-9a-f:./]+ NOKEY|"
)


def zones_conf(box: Box) -> tuple[list[str], list[str]]:
    """zones.conf checked against its grammar: (zone names, transfer addresses); every zone
    block must carry the same transfer lines."""
    text = box.dns.zones_conf.read_text()
    for line in text.split("\n"):
        assert _CONF_LINE.fullmatch(line), repr(line)
    blocks = text.split("\nzone:\n")
    assert blocks[0] == ""
    names: list[str] = []
    xfr_lines: set[tuple[str, ...]] = set()
    for block in blocks[1:]:
        lines = block.split("\n")
        assert lines[0].startswith("\tname: ") and lines[1].startswith("\tzonefile: ")
        name = lines[0][len("\tname: ") :]
        assert lines[1] == f"\tzonefile: {urllib.parse.quote(name, safe='')}.txt.signed"
        names.append(name)
        xfr_lines.add(tuple(x for x in lines[2:] if x))
    assert len(xfr_lines) <= 1
    addresses = [x.split(" ")[1] for x in next(iter(xfr_lines), ()) if "provide-xfr" in x]
    return names, addresses


def zone_rrsets(box: Box) -> dict[str, set[tuple[str, str]]]:
    """Each zone file parsed (dnspython): its (owner, type) RRsets. Only the header may hold
    directives; every other line is one record."""
    out: dict[str, set[tuple[str, str]]] = {}
    for path in sorted(box.dns.zones_dir.glob("*.txt")):
        zone = urllib.parse.unquote(path.name[: -len(".txt")])
        text = path.read_text()
        lines = text.split("\n")
        assert lines[:3] == ["", f"$ORIGIN {zone}.", "$TTL 1800           ; default time to live"]
        assert not any(line.startswith("$") for line in lines[3:]), zone
        parsed = dns.zone.from_text(text, origin=zone + ".", relativize=False)
        out[zone] = {
            (name.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(rds.rdtype))
            for name, node in parsed.nodes.items()
            for rds in node.rdatasets
        }
    return out


def apex_ns(box: Box, zone: str) -> set[str]:
    path = box.dns.zones_dir / (urllib.parse.quote(zone, safe="") + ".txt")
    parsed = dns.zone.from_text(path.read_text(), origin=zone + ".", relativize=False)
    return {r.to_text().lower() for r in parsed.find_rdataset(zone + ".", "NS")}


def changed_names(
    before: dict[str, set[tuple[str, str]]], after: dict[str, set[tuple[str, str]]]
) -> set[str]:
    names: set[str] = set()
    for zone in set(before) | set(after):
        names |= {name for name, _ in before.get(zone, set()) ^ after.get(zone, set())}
    return names


def opendkim_lines(box: Box) -> tuple[set[str], set[str]]:
    d = box.dns.opendkim_dir
    keys = (d / "KeyTable").read_text().splitlines()
    signing = (d / "SigningTable").read_text().splitlines()
    key_path = str(box.dns.dkim_dir / "mail.private")
    for line in keys:
        domain = line.split(" ")[0]
        assert line == f"{domain} {domain}:mail:{key_path}" and re.fullmatch(r"[a-z0-9.-]+", domain)
    for line in signing:
        assert re.fullmatch(r"\*@([a-z0-9.-]+) \1", line), line
    return {x.split(" ")[0] for x in keys}, {x.split(" ")[1] for x in signing}


class State:
    """The structure of every file, read before an operation."""

    def __init__(self, box: Box) -> None:
        self.files = disk(box)
        self.conf_zones, self.xfr = zones_conf(box)
        self.rrsets = zone_rrsets(box)
        self.dkim = opendkim_lines(box)
        self.custom = collections.Counter(
            parse_custom_yaml(
                box.dns.custom_yaml.read_text() if box.dns.custom_yaml.exists() else ""
            ).records
        )


def expected_xfr(box: Box) -> list[str]:
    """The transfer addresses the stored setting must give (fake resolver: first A, AAAA)."""
    out: list[str] = []
    for entry in box.dns.secondary_nameservers():
        if entry.startswith("xfr:"):
            out.append(entry[4:])
        else:
            out.extend(
                FAKE_DNS[(entry.rstrip("."), t)][0]
                for t in ("A", "AAAA")
                if (entry.rstrip("."), t) in FAKE_DNS
            )
    return out


def refused_and_untouched(box: Box, before: State, call: object, *args: object) -> bool:
    """Run `call(*args)` (as the test's actor): True if it was refused (and then every file
    is byte-identical)."""
    try:
        change = call(*args, actor=TEST_ACTOR)  # type: ignore[operator]
    except (ValidationError, AlreadyExists):
        assert disk(box) == before.files
        event("refused")
        return True
    event("accepted")
    # An accepted value never blocks a zone, the nsd list or the OpenDKIM tables.
    lines = getattr(change, "lines", ())
    assert not any("last good version" in line for line in lines), lines
    return False


# --- the properties ----------------------------------------------------------------------------


@PROPERTY
@given(data=st.data())
def test_custom_records(pbox: Box, data: st.DataObject) -> None:
    box = pbox
    # Which part is hostile (often none, so that accepted changes are checked as well).
    part = data.draw(
        st.sampled_from(["none", "none", "rtype", "value", "value", "qname", "all"]), "hostile part"
    )

    def draw(name: str, valid: tuple[str, ...]) -> str:
        chosen: str = data.draw(
            around(valid) if part in (name, "all") else st.sampled_from(valid), name
        )
        return chosen

    rtype = draw("rtype", RECORD_TYPES)
    value = draw("value", VALID_VALUES.get(rtype.strip().upper(), ("x",)))
    qname = draw("qname", QNAMES)
    if qname.strip() == SECONDARY_NS_QNAME:
        return  # the pseudo record: test_secondary_nameservers
    action = data.draw(
        st.sampled_from(["add_custom_record", "set_custom_record", "remove_custom_record"]),
        "action",
    )
    before = State(box)
    if refused_and_untouched(box, before, getattr(box.dns, action), qname, rtype, value):
        return
    q = normalize_qname(qname)
    r = rtype.strip().upper()
    after = State(box)
    # zones.conf and the OpenDKIM tables are not this operation's business.
    assert box.dns.zones_conf.read_bytes() == before.files[str(box.dns.zones_conf)]
    assert after.dkim == before.dkim
    # custom.yaml: only records of this qname and type changed.
    assert {k: n for k, n in after.custom.items() if (k.qname, k.rtype) != (q, r)} == {
        k: n for k, n in before.custom.items() if (k.qname, k.rtype) != (q, r)
    }
    # The zones: the same zones, RRsets changed only at the record's name (or the no-mail
    # `_dmarc.` record a new address name gets).
    assert set(after.rrsets) == set(before.rrsets)
    assert changed_names(before.rrsets, after.rrsets) <= {q.rstrip("."), "_dmarc." + q}


@PROPERTY
@given(data=st.data())
def test_secondary_nameservers(pbox: Box, data: st.DataObject) -> None:
    box = pbox
    value = data.draw(
        st.one_of(
            around(SECONDARY),
            st.lists(st.sampled_from(SECONDARY), max_size=3).map(" ".join),
            st.tuples(st.sampled_from(SECONDARY), hostile, st.sampled_from(SECONDARY)).map(
                " ".join
            ),
        ),
        "value",
    )
    path = data.draw(st.sampled_from(["endpoint", "custom set", "custom add"]), "path")
    rtype = data.draw(around(("A", "TXT", "NS")), "rtype")
    before = State(box)
    if path == "endpoint":
        call, args = box.dns.set_secondary_nameservers, (value,)
    elif path == "custom set":
        call, args = box.dns.set_custom_record, (SECONDARY_NS_QNAME, rtype, value)
    else:
        call, args = box.dns.add_custom_record, (SECONDARY_NS_QNAME, rtype, value)
    if refused_and_untouched(box, before, call, *args):
        return
    after = State(box)
    # zones.conf: the same zone blocks, with exactly the setting's transfer lines.
    assert after.conf_zones == before.conf_zones
    assert after.xfr == expected_xfr(box)
    for address in after.xfr:
        assert "%" not in address
        ipaddress.ip_network(address)
    # The zones: the same RRsets; the apex NS set is ns1 plus the setting's hostnames.
    assert after.rrsets == before.rrsets
    hosts = [
        h.rstrip(".").lower() + "."
        for h in box.dns.secondary_nameservers()
        if not h.startswith("xfr:")
    ] or [f"ns2.{PRIMARY}."]
    for zone in after.rrsets:
        assert apex_ns(box, zone) == {f"ns1.{PRIMARY}.", *hosts}
    assert after.dkim == before.dkim
    # custom.yaml: the real records are untouched.
    assert {k: n for k, n in after.custom.items() if k.qname != SECONDARY_NS_QNAME} == {
        k: n for k, n in before.custom.items() if k.qname != SECONDARY_NS_QNAME
    }


DOMAINS = (
    "example.org",
    "sub.example.com",
    "new.example",
    "xn--bcher-kva.example",
    "bücher.example",
    "a-b.example.net",
)


@PROPERTY
@given(data=st.data())
def test_user_and_alias_names_that_become_zone_names(pbox: Box, data: st.DataObject) -> None:
    box = pbox
    fresh = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)
    local = data.draw(st.one_of(fresh, around(("zed", "x.y", "a_b"))), "local")
    domain = data.draw(
        st.one_of(
            st.tuples(fresh, st.sampled_from((".example", ".example.com", ".example.net"))).map(
                "".join
            ),
            around(DOMAINS),
        ),
        "domain",
    )
    kind = data.draw(st.sampled_from(["user", "alias", "domain alias"]), "kind")
    before = State(box)
    users, aliases = set(box.mail.users.emails()), {r[0] for r in box.mail.aliases.rows()}
    if kind == "user":
        call, args = box.mail.users.add_user, (f"{local}@{domain}", PASSWORD)
    elif kind == "alias":
        call, args = box.mail.aliases.add_alias, (f"{local}@{domain}", ADMIN)
    else:
        call, args = box.mail.aliases.add_alias, (f"@{domain}", ADMIN)
    if refused_and_untouched(box, before, call, *args):
        return
    added = (set(box.mail.users.emails()) - users) | (
        {r[0] for r in box.mail.aliases.rows()} - aliases
    )
    # The address, and the housekeeping's postmaster@/admin@/abuse@ of a new domain.
    added_domains = {a.rpartition("@")[2] for a in added}
    assert len(added_domains) == 1
    new_domain = added_domains.pop()
    after = State(box)
    # zones.conf: at most one new zone block, for this domain; the transfer lines as before.
    assert set(after.conf_zones) - set(before.conf_zones) <= {new_domain}
    assert set(before.conf_zones) <= set(after.conf_zones)
    assert after.xfr == before.xfr
    # The zones: RRsets changed only at names within the new address's domain.
    assert set(after.rrsets) == set(after.conf_zones)
    for name in changed_names(before.rrsets, after.rrsets):
        assert name == new_domain or name.endswith("." + new_domain), name
    # OpenDKIM: at most this domain's lines added.
    assert after.dkim[0] - before.dkim[0] <= {new_domain} and before.dkim[0] <= after.dkim[0]
    assert after.dkim[1] - before.dkim[1] <= {new_domain}


@PROPERTY
@given(quota=around(("0", "1G", "500m", "123456", "9223372036854775807")))
def test_quotas(pbox: Box, quota: str) -> None:
    users = pbox.mail.users
    before = users.get_quota("alice@example.net")
    try:
        users.set_quota("alice@example.net", quota, actor=TEST_ACTOR)
    except ValidationError:
        assert users.get_quota("alice@example.net") == before
        return
    stored = users.get_quota("alice@example.net")
    assert re.fullmatch(r"[0-9]{1,19}[GM]?", stored), stored
    assert quota_bytes(stored) < 2**63


# --- the validators on their own (fast, so more examples) --------------------------------------

FAST = settings(max_examples=150, deadline=None)
HEADER = "$ORIGIN example.com.\n$TTL 1800\n@ IN SOA ns1.example.com. h.example.com. 1 2 3 4 5\n"


@FAST
@given(
    owner=around(("", "www", "_dmarc.www", "*")),
    rtype=around(RECORD_TYPES),
    value=st.one_of(*(around(v) for v in VALID_VALUES.values())),
)
def test_a_zone_line_is_one_record_or_refused(owner: str, rtype: str, value: str) -> None:
    try:
        line = zone_line(owner, rtype, value)
    except FormatError:
        return
    assert line.endswith("\n") and len(line.splitlines()) == 1 and "\n" not in line[:-1]
    assert not line.startswith("$")
    # dnspython's tokenizer sees one line: tokens up to exactly one end of line, then the end.
    tok = dns.tokenizer.Tokenizer(line)
    eols = 0
    while True:
        token = tok.get()
        if token.is_eof():
            break
        eols += token.is_eol()
    assert eols == 1
    if rtype == "TXT" and value.isascii():
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, quote_txt(value))
        assert b"".join(rdata.strings) == value.encode()  # type: ignore[attr-defined]
        zone = dns.zone.from_text(HEADER + line, relativize=False, check_origin=False)
        name = (owner + ".example.com" if owner else "example.com").lower()
        assert {
            (n.to_text(omit_final_dot=True).lower(), dns.rdatatype.to_text(r.rdtype))
            for n, node in zone.nodes.items()
            for r in node.rdatasets
        } == {("example.com", "SOA"), (name, "TXT")}


@FAST
@given(
    zones=st.lists(around(("example.com", "xn--bcher-kva.example")), min_size=1, max_size=3),
    xfr=st.lists(around(("198.51.100.53", "2001:db8::53", "198.51.100.0/24")), max_size=3),
)
def test_zones_conf_has_its_grammar_or_is_refused(zones: list[str], xfr: list[str]) -> None:
    files = [(z, urllib.parse.quote(z, safe="") + ".txt.signed") for z in zones]
    try:
        text = render_zones_conf(files, xfr)
    except FormatError:
        return
    for line in text.split("\n"):
        assert _CONF_LINE.fullmatch(line) or re.fullmatch(
            r"\tname: [A-Za-z0-9_.-]+|"
            r"\tzonefile: [A-Za-z0-9_.%-]+|"
            r"\t(notify|provide-xfr): "
            r"[0-9A-Fa-f:./]+ NOKEY",
            line,
        ), line
    assert text.count("\nzone:\n") == len(zones)


@FAST
@given(
    records=st.lists(
        st.tuples(around(QNAMES), st.sampled_from(RECORD_TYPES), around(("x", "198.51.100.7"))),
        max_size=4,
    )
)
def test_custom_yaml_round_trips_or_is_refused(records: list[tuple[str, str, str]]) -> None:
    recs = [CustomRecord(*r) for r in records]
    try:
        text = render_custom_yaml(recs)
    except FormatError:
        return
    assert collections.Counter(parse_custom_yaml(text).records) == collections.Counter(recs)
    assert isinstance(yaml.safe_load(text), dict)


@FAST
@given(
    domains=st.lists(around(DOMAINS), max_size=3),
    key=around(("/etc/mailinabox/mail/dkim/mail.private",)),
)
def test_opendkim_tables_have_their_grammar_or_are_refused(domains: list[str], key: str) -> None:
    try:
        tables = render_opendkim_tables(domains, key)
    except FormatError:
        return
    keys, signing = tables["KeyTable"].split("\n"), tables["SigningTable"].split("\n")
    assert len(keys) == len(signing) == len(domains) + 1 and keys[-1] == signing[-1] == ""
    for domain, k, s in zip(domains, keys, signing, strict=False):
        assert k == f"{domain} {domain}:mail:{key}" and s == f"*@{domain} {domain}"
        assert len(k.split()) == 2 and len(s.split()) == 2 and "#" not in k + s


# --- defence in depth: the renderers refuse what reached custom.yaml by hand -------------------

HAND_EDITED = (
    '_secondary_nameserver: "xfr:198.51.100.1\\n\\tprovide-xfr:\\t0.0.0.0/0\\tNOKEY\\nzone:\\n'
    '\\tname:\\tevil.example\\n\\tzonefile:\\t/etc/shadow\\n#"\n'
)


def test_renderers_refuse_rather_than_write(pbox: Box) -> None:
    box = pbox
    before = disk(box)
    box.dns.custom_yaml.write_text(HAND_EDITED)
    change = box.dns.update(force=True, actor=TEST_ACTOR)
    assert any(
        line.startswith(
            "nsd's zone list (zones.conf) was not updated and keeps its last good version:"
        )
        for line in change.lines
    ), change.lines
    assert box.dns.zones_conf.read_bytes() == before[str(box.dns.zones_conf)]
    assert "/etc/shadow" not in box.dns.zones_conf.read_text()
    # A record value with a line in it: that zone keeps its last good version.
    box.dns.custom_yaml.write_text('www.example.com:\n  AAAA: "fe80::1%x\\n@\\tIN\\tA\\t6.6.6.6"\n')
    zone = box.dns.zones_dir / "example.com.txt"
    old = zone.read_bytes()
    change = box.dns.update(force=True, actor=TEST_ACTOR)
    assert any(
        line.startswith(
            "DNS zone example.com was not updated and keeps its last good "
            "version: a record cannot be written to a zone file"
        )
        for line in change.lines
    ), change.lines
    assert zone.read_bytes() == old
    assert "6.6.6.6" not in zone.read_text()
    with pytest.raises(FormatError):
        render_zone("example.com", PRIMARY, [Rec("www", "A", "1.2.3.4\n@ IN A 6.6.6.6", None)])
    with pytest.raises(FormatError):
        render_zone("example.com\n$INCLUDE /etc/shadow", PRIMARY, [])
    with pytest.raises(FormatError):
        render_zones_conf([("example.com", "/etc/shadow")], [])
    with pytest.raises(FormatError):
        render_zones_conf([("example.com", "example.com.txt.signed")], ["fe80::1%eth0"])
    with pytest.raises(FormatError):
        render_opendkim_tables(["example.com\n*@evil.example"], "/x/mail.private")
