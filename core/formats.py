"""One validator per file format a daemon reads: no value may add a line or a directive.

Every value the product writes into a file another program parses passes the validator of
that file's format, twice: once where it enters (an admin operation turns a `FormatError`
into a `ValidationError` in the reference's words and changes nothing), and again in the
renderer that writes the file (defence in depth: a value that slipped in some other way, say
a hand-edited `custom.yaml`, makes the renderer raise instead of writing a broken file).

Formats:

* **nsd.conf** (`zones.conf`): `nsd_name` (zone names), `nsd_zonefile` (zone file names,
  relative to nsd's `zonesdir`), `nsd_address` (`notify` / `provide-xfr`: a plain IP address
  or network, no zone index).
* **zone text** (the master files nsd loads): `zone_owner`, `zone_rtype`, `zone_rdata` and
  `zone_line`; TXT data is always written through `quote_txt`.
* **YAML** (`dns/custom.yaml`): `yaml_document` dumps and checks the text loads back to the
  same data.
* **OpenDKIM tables** (KeyTable, SigningTable): `opendkim_domain`, `opendkim_path`.
* **nginx config** (`conf.d/local.conf`): `nginx_name` (server names), `nginx_path` (files and
  folders the box names: roots, certificates, includes) and `nginx_value` (anything else, e.g.
  the proxies, aliases and redirects of `www/custom.yaml`): each is exactly one nginx token.

A single-line value here means `str.isprintable()`: no control characters (CR, LF, NUL, tab,
U+0085...), no Unicode line or paragraph separators (U+2028, U+2029), no other invisible
separators.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Final

import yaml


class FormatError(ValueError):
    """The value would change the structure of the file it is meant for (or is not valid
    there); the text says why, without repeating the value."""


# --- names ------------------------------------------------------------------------------------

# DNS.md §5, verbatim: the reference's pattern for custom qnames and CNAME/NS targets. Always
# used with `fullmatch` (its `$` also matches before a final newline).
DNS_NAME_RE: Final = re.compile(
    r"^(?!\-)(?:[*][.])?(?:[a-zA-Z\d\-_]{0,62}[a-zA-Z\d_]\.){1,126}(?!\d+)[a-zA-Z\d_]{1,63}(\.?)$"
)
# A DNS name is at most 255 octets on the wire: 253 characters written without the final dot.
MAX_NAME_CHARS: Final = 253
# Host and zone names as nsd and OpenDKIM read them: letters, digits, `_` and `-` in labels of
# 1 to 63 characters, an optional final dot.
_LABEL: Final = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_RE: Final = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")


def is_dns_name(name: str) -> bool:
    """The reference's name pattern (DNS.md §5), and no longer than a DNS name can be."""
    return len(name.rstrip(".")) <= MAX_NAME_CHARS and DNS_NAME_RE.fullmatch(name) is not None


def _host(name: str, what: str) -> str:
    if len(name.rstrip(".")) > MAX_NAME_CHARS or _HOST_RE.fullmatch(name) is None:
        raise FormatError(f"{what} must be a DNS name (letters, digits, '-', '_' and dots)")
    return name


def _single_line(value: str, what: str) -> None:
    if not value.isprintable():
        raise FormatError(
            f"{what} must be one line of printable text (no control characters or line separators)"
        )


# --- nsd.conf ---------------------------------------------------------------------------------

_ADDRESS_CHARS: Final = re.compile(r"[0-9A-Fa-f:./]+")
_ZONEFILE_RE: Final = re.compile(r"[A-Za-z0-9_%+=-][A-Za-z0-9._%+=-]{0,254}")


def nsd_name(name: str) -> str:
    """A zone's `name:`."""
    return _host(name, "a zone name")


def nsd_zonefile(name: str) -> str:
    """A zone's `zonefile:`: a file name inside nsd's zonesdir (no folder, no leading dot)."""
    if _ZONEFILE_RE.fullmatch(name) is None:
        raise FormatError("a zone file must be a plain file name inside nsd's zones folder")
    return name


def nsd_address(value: str) -> str:
    """A `notify:` / `provide-xfr:` address: an IPv4 or IPv6 address, or a network with `/`.
    No zone index (`fe80::1%eth0`): Python's ipaddress accepts one, nsd does not.
    """
    if _ADDRESS_CHARS.fullmatch(value) is None:
        raise FormatError("not an IPv4 or IPv6 address or subnet")
    try:
        if "/" in value:
            ipaddress.ip_network(value)
        else:
            ipaddress.ip_address(value)
    except ValueError:
        raise FormatError("not an IPv4 or IPv6 address or subnet") from None
    return value


# --- zone text --------------------------------------------------------------------------------

_OWNER_RE: Final = re.compile(r"[A-Za-z0-9_*-]+(?:\.[A-Za-z0-9_*-]+)*\.?")
_RTYPE_RE: Final = re.compile(r"[A-Z][A-Z0-9]{0,15}")
# Data made only of these characters cannot open a quote, a group, a comment or an escape.
_PLAIN_RDATA: Final = re.compile(r"[A-Za-z0-9 ._:*=+/@,-]+")


def quote_txt(value: str) -> str:
    """DNS.md §6: chunks of at most 255 characters, `\\` and `"` escaped, each quoted and
    followed by one space."""
    out = []
    for start in range(0, len(value), 255):
        chunk = value[start : start + 255].replace("\\", "\\\\").replace('"', '\\"')
        out.append('"' + chunk + '" ')
    return "".join(out)


def zone_name(name: str) -> str:
    """A zone apex or host name in the zone's header (`$ORIGIN`, the SOA)."""
    return _host(name, "a zone name")


def zone_owner(name: str) -> str:
    """A record's owner, relative to the zone; empty = the previous owner (the apex, as the
    reference writes it)."""
    if name and (
        len(name) > 255
        or _OWNER_RE.fullmatch(name) is None
        or any(len(label) > 63 for label in name.rstrip(".").split("."))
    ):
        raise FormatError("a record name must be a DNS name")
    return name


def zone_rtype(rtype: str) -> str:
    if _RTYPE_RE.fullmatch(rtype) is None:
        raise FormatError("a record type must be letters and digits")
    return rtype


def zone_rdata(rtype: str, value: str) -> str:
    """The record data as the zone file holds it: TXT quoted (`quote_txt`); anything else
    verbatim, provided it stays on its line and closes what it opens (quotes, parentheses, an
    escape) and holds no comment.
    """
    if rtype == "TXT":
        _single_line(value, "a TXT value")
        return quote_txt(value)
    if _PLAIN_RDATA.fullmatch(value) is not None:
        return value
    if value == "":
        raise FormatError("the value is empty")
    if not value.isascii():
        raise FormatError("only ASCII characters are allowed (outside TXT)")
    _single_line(value, "the value")
    depth = 0
    quoted = False
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\":
            if i + 1 == len(value):
                raise FormatError("the value must not end with a backslash")
            i += 2
            continue
        if quoted:
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char == ";":
            raise FormatError("a ';' outside quotes would start a comment")
        elif char == "(":
            depth += 1
            if depth > 1:
                raise FormatError("parentheses cannot be nested")
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise FormatError("unbalanced parentheses")
        i += 1
    if quoted:
        raise FormatError("unbalanced quotes")
    if depth:
        raise FormatError("unbalanced parentheses")
    return value


def zone_line(owner: str, rtype: str, value: str) -> str:
    """One record, one line: `OWNER<TAB>IN<TAB>TYPE<TAB>DATA` (DNS.md §6)."""
    return f"{zone_owner(owner)}\tIN\t{zone_rtype(rtype)}\t{zone_rdata(rtype, value)}\n"


# --- YAML -------------------------------------------------------------------------------------

_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_document(data: object, dump: Callable[[object], str]) -> str:
    """`dump(data)`, checked to load back (safe loader) to exactly `data`: a value cannot turn
    into another key, another document, a tag or anything but itself."""
    text = dump(data)
    try:
        loaded = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        raise FormatError("the YAML written would not load back") from None
    if loaded != data:
        raise FormatError("the YAML written would not load back to the same values")
    return text


# --- OpenDKIM tables --------------------------------------------------------------------------

_PATH_FORBIDDEN: Final = re.compile(r"[\s:#\"']")


def opendkim_domain(domain: str) -> str:
    """A domain in KeyTable / SigningTable (the key name, the `*@domain` pattern)."""
    return _host(domain, "a mail domain")


def opendkim_path(path: str) -> str:
    """The private key's path: one field, so no whitespace, `:` (the field separator of the
    key's `domain:selector:path`), `#` or quotes."""
    _single_line(path, "the DKIM key path")
    if not path or _PATH_FORBIDDEN.search(path):
        raise FormatError("the DKIM key path must not contain whitespace, ':', '#' or quotes")
    return path


# --- nginx config -----------------------------------------------------------------------------

# Characters that are never special to nginx's tokenizer wherever they stand in a word (no
# space, `;`, `{`, `}`, quote, backslash or `#`): a value made only of these is written bare.
_NGINX_BARE: Final = re.compile(r"[A-Za-z0-9_./:@%+=,~^*?()\[\]|!&$-]+")


def nginx_name(name: str) -> str:
    """A `server_name` (and the host of the redirects built from it): a DNS name."""
    return _host(name, "a web domain")


def nginx_value(value: str) -> str:
    """`value` as one nginx token: bare when it holds only characters nginx never treats
    specially, else double-quoted with `\\` and `"` escaped (nginx reads that back as
    exactly `value`). Variables (`$1`, `$host`) keep their meaning either way.

    Raises:
        FormatError: empty, or not one line of printable text.
    """
    if not isinstance(value, str) or value == "":
        raise FormatError("an nginx value must be non-empty text")
    _single_line(value, "an nginx value")
    if _NGINX_BARE.fullmatch(value) is not None:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nginx_path(path: str) -> str:
    """An absolute path nginx opens (a root, an alias, a certificate, an include) as one
    token. No `$`: in these directives nginx would read it as a variable.

    Raises:
        FormatError: not absolute, not one printable line, or holds `$`.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise FormatError("a path in the nginx config must be absolute")
    if "$" in path:
        raise FormatError("a path in the nginx config must not contain '$'")
    return nginx_value(path)
