"""`STORAGE_ROOT/www/custom.yaml`: the admin's per-domain web customisations (STORAGE.md §7).

A mapping of domain → settings, each optional: `proxies` (path → URL, flags after `#`),
`aliases` (path → folder), `redirects` (regex → target, permanent), `hsts` (`yes`, the
default; `preload`; anything else turns the header off). A `/` proxy or redirect means the
domain has no static site.

Reading is strict: a file that is not such a mapping raises `FormatError` saying where, so the
web update keeps the last good nginx config instead of writing a guess. The listing of web
domains, which must always answer, reads it leniently (`root_overrides`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import yaml

from core.formats import FormatError

log = logging.getLogger("miab.web")

_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The fragment flags of a proxy URL: v0.51 knows `pass-http-host`, HEAD adds the other three.
PROXY_FLAGS: Final = frozenset(
    {"pass-http-host", "no-proxy-redirect", "frame-options-sameorigin", "web-sockets"}
)
# A custom.yaml bigger than this is not one anyone wrote by hand.
MAX_CUSTOM_BYTES: Final = 1 << 20

Hsts = Literal["yes", "preload", "off"]


@dataclass(frozen=True, slots=True)
class Proxy:
    path: str
    url: str  # without the `#flags` fragment
    flags: frozenset[str]


@dataclass(frozen=True, slots=True)
class SiteCustom:
    """One domain's settings, in the file's order."""

    proxies: tuple[Proxy, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()
    redirects: tuple[tuple[str, str], ...] = ()
    hsts: Hsts = "yes"

    @property
    def root_override(self) -> bool:
        """A `/` proxy or redirect: nginx serves no static files for the domain."""
        return any(p.path == "/" and p.url for p in self.proxies) or any(
            path == "/" and target for path, target in self.redirects
        )


def _idna(name: str) -> str:
    """A domain key as the box stores names (IDNA, lower case); as written if it is not one."""
    try:
        return name.strip().rstrip(".").encode("idna").decode("ascii").lower()
    except (UnicodeError, ValueError):
        return name


def _text(value: object, where: str) -> str:
    """A scalar of the file as text (numbers as YAML wrote them; the reference formats them
    with `%s`)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise FormatError(f"www/custom.yaml: {where} must be text")
    return str(value)


def _pairs(settings: Mapping[object, object], key: str, domain: str) -> list[tuple[str, str]]:
    section = settings.get(key)
    if section is None:
        return []
    if not isinstance(section, dict):
        raise FormatError(f"www/custom.yaml: {domain}: {key} must be a mapping of path to value")
    return [
        (_text(path, f"{domain}: a path of {key}"), _text(value, f"{domain}: {key} {path!s:.60}"))
        for path, value in section.items()
    ]


def _hsts(value: object) -> Hsts:
    # PyYAML (YAML 1.1) reads a bare `yes` as True and `off` as False.
    if value is True or value == "yes":
        return "yes"
    if value == "preload":
        return "preload"
    return "off"


def _proxy(path: str, url: str) -> Proxy:
    """A proxy's URL with its `#flag,flag` fragment split off (unknown flags are ignored, as
    the reference ignores them)."""
    url, hash_, fragment = url.partition("#")
    flags = frozenset(f for f in fragment.split(",") if f in PROXY_FLAGS) if hash_ else frozenset()
    return Proxy(path, url, flags)


def parse_custom(text: str) -> dict[str, SiteCustom]:
    """The settings per domain (keys in the box's IDNA form).

    Raises:
        FormatError: not YAML, or not a mapping of domain → settings of the shapes above.
    """
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise FormatError(f"www/custom.yaml is not valid YAML{at}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise FormatError("www/custom.yaml must be a mapping of domain names to settings")
    sites: dict[str, SiteCustom] = {}
    for key, settings in data.items():
        domain = _text(key, "a domain name")
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            raise FormatError(f"www/custom.yaml: {domain:.253} must map to its settings")
        sites[_idna(domain)] = SiteCustom(
            proxies=tuple(_proxy(p, u) for p, u in _pairs(settings, "proxies", domain)),
            aliases=tuple(_pairs(settings, "aliases", domain)),
            redirects=tuple(_pairs(settings, "redirects", domain)),
            hsts=_hsts(settings.get("hsts", "yes")),
        )
    return sites


def load_custom(path: Path) -> dict[str, SiteCustom]:
    """`parse_custom` of the file; no file is no customisation.

    Raises:
        FormatError: the file cannot be read, or `parse_custom` refuses it.
    """
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CUSTOM_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise FormatError(f"www/custom.yaml cannot be read: {exc.strerror}") from None
    if len(data) > MAX_CUSTOM_BYTES:
        raise FormatError("www/custom.yaml is larger than 1 MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError("www/custom.yaml is not UTF-8 text") from None
    return parse_custom(text)


def root_overrides(path: Path) -> frozenset[str]:
    """Domains with a `/` proxy or redirect; a file that cannot be read counts as none (and
    is logged: the web update says what is wrong with it)."""
    try:
        sites = load_custom(path)
    except FormatError as exc:
        log.warning("%s", exc)
        return frozenset()
    return frozenset(d for d, s in sites.items() if s.root_override)
