"""The Web area: every domain nginx serves, with its web root (the default folder or the
domain's own under `www/`), what is served there (the static site, a `www.` redirect, a proxy
or redirect from `www/custom.yaml`) and its certificate's status coloured as in the TLS area;
the selected domain's details; the web update (nginx's `local.conf`, tested before it goes
live, see `core.web.service`).

Reading is quick (no public DNS lookups, unlike the TLS status), but it reads files and
renders the whole config to tell whether an update is pending, so it runs in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from textual.binding import Binding, BindingType
from textual.message import Message

from core.formats import FormatError
from core.mail.addresses import prettify_domain
from core.results import Change
from core.tls.service import DomainStatus
from core.web.custom import SiteCustom
from core.web.service import WebDomain
from miab_tui.display import plural
from miab_tui.messages import ChangeRefused, RecordsLoaded
from miab_tui.screens.base import TUI_ACTOR, AreaScreen, DetailsAreaScreen
from miab_tui.screens.tls import days_text, status_word
from miab_tui.widgets.level_table import LEVEL_BADGE, LevelBrowser, LevelRow
from miab_tui.widgets.note_view import Note, NoteBuilder, SpanStyle
from miab_tui.widgets.record_table import Column
from miab_tui.workers import core_worker

if TYPE_CHECKING:
    from textual.timer import Timer

    from core.web.nginx import SiteKind

# How long `o` waits for the TLS area's first read (it asks public DNS) to show the domain.
TLS_WAIT_SECONDS: Final = 30.0
SERVES: Final[dict[str, str]] = {
    "primary": "static + admin",
    "static": "static",
    "www-redirect": "www redirect",
    "proxied": "proxy",
    "redirected": "redirect",
    # A `/` proxy or redirect, which one not known while the config cannot be made.
    "": "no static site",
}
PROXY_FLAG_TEXT: Final = {
    "pass-http-host": "passes the Host header",
    "no-proxy-redirect": "no proxy_redirect",
    "frame-options-sameorigin": "X-Frame-Options SAMEORIGIN",
    "web-sockets": "web sockets",
}
HSTS_TEXT: Final = {
    "yes": "on (max-age six months)",
    "preload": "on, with includeSubDomains and preload",
    "off": "off (www/custom.yaml turns it off)",
}


def shown_path(path: str | Path) -> str:
    """How the details show a file of the box (the snapshots put a real box's paths here)."""
    return str(path)


@dataclass(frozen=True, slots=True)
class WebSite:
    """One web domain as the screen shows it: core's row, its certificate's status (for the
    colour and the days), and what nginx serves there (`kind` "" when www/custom.yaml or a
    certificate file could not be read, so the config could not be worked out)."""

    row: WebDomain
    status: DomainStatus
    kind: str
    custom: SiteCustom
    custom_exists: bool
    certificate: str  # the file nginx serves it with ("" when not known)
    key: str
    include: str | None

    @property
    def has_custom_root(self) -> bool:
        return self.row.root == self.row.custom_root


@dataclass(frozen=True, slots=True)
class WebView:
    """What the screen read."""

    sites: dict[str, WebSite]
    primary: str
    conf_path: Path
    # Whether local.conf differs from what the update would write (None: not known).
    pending: bool | None
    problem: str  # why the config cannot be made now ("" when it can)


class WebLoaded(RecordsLoaded):
    """The Web screen's rows; `context` is the `WebView` they came from."""


@dataclass
class WebUpdated(Message):
    """The web update returned (its lines, or why nothing was written)."""

    change: Change


def site_kind(kind: SiteKind, custom: SiteCustom) -> str:
    """The key of `SERVES` for a site: core's kind, with a `/` redirect told from a proxy."""
    if kind == "proxied" and not any(p.path == "/" and p.url for p in custom.proxies):
        return "redirected"
    return kind


def root_word(site: WebSite) -> str:
    return "custom" if site.has_custom_root else "default"


def web_rows(view: WebView) -> tuple[list[LevelRow], list[str]]:
    rows: list[LevelRow] = []
    search: list[str] = []
    for domain, site in view.sites.items():
        word, level = status_word(site.status)
        shown = prettify_domain(domain)
        serves = SERVES[site.kind]
        root = root_word(site)
        rows.append(
            LevelRow(
                domain,
                (shown, root, serves, word, days_text(site.status)),
                level=level,
            )
        )
        search.append(f"{domain} {shown} {root} {serves} {word} {site.row.ssl_text}".lower())
    return rows, search


def summary_text(view: WebView) -> str:
    sites = list(view.sites.values())
    custom = sum(1 for site in sites if site.has_custom_root)
    return f"{plural(len(sites), 'domain')}: {plural(custom, 'custom root')}"


def hint_text(view: WebView) -> str:
    if view.problem:
        return "The config cannot be made now (see below)"
    if view.pending is None:
        return f"{view.conf_path.name} cannot be read; u writes it"
    if view.pending:
        return f"Update pending: u writes {view.conf_path.name}"
    return f"{view.conf_path.name} is up to date"


def serves_text(domain: str, kind: str) -> str:
    """What nginx's HTTPS server for the domain serves, in words."""
    static = "the static site, webmail (/mail/), ActiveSync, mail client set-up"
    if kind == "primary":
        return static + "; the admin panel (/admin/) and Nextcloud (/cloud/)"
    if kind == "static":
        return static
    if kind == "www-redirect":
        return f"a permanent redirect to https://{prettify_domain(domain.removeprefix('www.'))}"
    if kind == "proxied":
        return "a proxy for / (www/custom.yaml): no static site"
    if kind == "redirected":
        return "a redirect for / (www/custom.yaml): no static site"
    return "not known while the config cannot be made (see below)"


def details_note(site: WebSite, view: WebView) -> Note:
    """The details pane's text for one domain: what is served and from which folder, its
    own folder, the certificate, www/custom.yaml's settings and nginx's server."""
    row = site.row
    domain = row.domain
    note = NoteBuilder()
    static = site.kind in {"primary", "static"}
    root = "its own web root" if site.has_custom_root else "the default web root"
    head = f"{SERVES[site.kind]}, {root}" if static else SERVES[site.kind]
    note.line(f"{prettify_domain(domain)}: {head}", "title")
    note.field("Serves", serves_text(domain, site.kind))
    if site.kind and not static:
        note.field("Root", f"{shown_path(row.root)} (not served here)", style="muted")
    elif site.has_custom_root:
        note.field("Root", f"{shown_path(row.root)} (the domain's own)")
    else:
        note.field("Root", f"{shown_path(row.root)} (the default)")
        if site.custom_exists:
            own = "exists now: ctrl+r reads it"
        else:
            own = "does not exist; create it, then u, for a site of its own"
        note.field("Own root", f"{shown_path(row.custom_root)} {own}")
    word, level = status_word(site.status)
    style: SpanStyle = level or "muted"
    days = site.status.days_left
    left = f", {days} days left" if days is not None and days >= 0 else ""
    note.field("Cert", f"{word}{left}: {row.ssl_text}", style=style)
    if site.certificate:
        note.field("Cert file", shown_path(site.certificate))
        if site.status.certificate is None and domain != view.primary:
            note.line(
                " " * 10 + "None of its own: nginx serves the box's (browsers warn). o: TLS area.",
                "muted",
            )
        note.field("Key file", shown_path(site.key))
    custom = site.custom
    for index, proxy in enumerate(custom.proxies):
        flags = ", ".join(PROXY_FLAG_TEXT[f] for f in sorted(proxy.flags))
        note.field(
            "Proxy" if index == 0 else "",
            f"{proxy.path} → {proxy.url}" + (f" ({flags})" if flags else ""),
        )
    for index, (path, folder) in enumerate(custom.aliases):
        note.field("Alias" if index == 0 else "", f"{path} → {folder}")
    for index, (pattern, target) in enumerate(custom.redirects):
        note.field("Redirect" if index == 0 else "", f"{pattern} → {target} (permanent)")
    if not view.problem:
        if not (custom.proxies or custom.aliases or custom.redirects):
            note.field("Custom", "nothing in www/custom.yaml", style="muted")
        note.field("HSTS", HSTS_TEXT[custom.hsts])
    if site.include is not None:
        note.field("Include", shown_path(site.include))
    note.field("nginx", f"server_name {domain}; port 80 moves to HTTPS (but ACME challenges)")
    if view.problem:
        note.line()
        note.line(view.problem, "error")
    return note.note()


def fallback_kind(row: WebDomain, primary: str, www_redirects: frozenset[str]) -> str:
    """What nginx serves for a domain when the config cannot be made (www/custom.yaml or a
    certificate file cannot be read): "" where a `/` proxy or redirect may be set."""
    if row.domain == primary:
        return "primary"
    if row.domain in www_redirects:
        return "www-redirect"
    return "static" if row.static_enabled else ""


def read_view(screen: AreaScreen) -> WebView:
    """Runs in a worker: the web domains, their certificates, what nginx serves for each."""
    box = screen.box
    web = box.web
    rows = web.domains()
    statuses = {status.domain: status for status in box.tls.web_statuses()}
    problem = ""
    try:
        sites = {site.domain: site for site in web.sites()}
        text: str | None = web.render_config()
    except FormatError as exc:
        problem = f"nginx's config cannot be made now: {exc}."
        sites = {}
        text = None
    try:
        pending: bool | None = web.conf_path.read_text(encoding="utf-8") != text
    except (OSError, UnicodeDecodeError):
        pending = None
    if text is None:
        pending = None
    primary = box.hostname
    redirects = box.dns.zone_facts().www_redirects if problem else frozenset()
    shown: dict[str, WebSite] = {}
    for row in rows:
        status = statuses.get(row.domain) or box.tls.domain_status(row.domain)
        site = sites.get(row.domain)
        if site is not None:
            kind = site_kind(site.kind, site.custom)
            custom, certificate, key, include = (
                site.custom,
                site.certificate,
                site.key,
                site.include,
            )
        else:
            kind = fallback_kind(row, primary, redirects)
            custom, include = SiteCustom(), None
            cert = status.certificate
            certificate = str(cert.path) if cert is not None else ""
            key = str(cert.key_path) if cert is not None and cert.key_path else ""
        shown[row.domain] = WebSite(
            row=row,
            status=status,
            kind=kind,
            custom=custom,
            custom_exists=Path(row.custom_root).is_dir(),
            certificate=certificate,
            key=key,
            include=include,
        )
    return WebView(shown, primary, web.conf_path, pending, problem)


def show_in_area(screen: AreaScreen, key: str) -> None:
    """Put the cursor of an area just opened on `key` once its rows hold it (its first read
    may take a while); gives up when the admin moves on or after `TLS_WAIT_SECONDS`."""
    browser = screen.browser
    if browser.filter_text:
        browser.filter_text = ""
    timer: Timer | None = None
    waited = 0.0

    def try_now() -> bool:
        table = screen.table
        try:
            index = table.get_row_index(key)
        except KeyError:
            return False
        table.move_cursor(row=index)
        return True

    def poll() -> None:
        nonlocal waited
        waited += 0.1
        done = try_now() or waited >= TLS_WAIT_SECONDS or screen.app.screen is not screen
        if done and timer is not None:
            timer.stop()

    if not try_now():
        timer = screen.set_interval(0.1, poll)


class WebScreen(DetailsAreaScreen):
    """The web domains; below the list, the selected domain."""

    AREA = "web"
    SUB_TITLE = "Web"
    FILTER_PLACEHOLDER = "Filter: domain, root, status"
    EMPTY_TEXT = "No domains match."
    LOADING_TEXT = "Reading the web domains…"
    BROWSER = LevelBrowser
    DETAILS_TITLE = "Domain"
    HINT_ID = "web-update-hint"
    COLUMNS = (
        Column("Domain", max_width=36),
        Column("Root", max_width=7),
        Column("Serves", max_width=14),
        Column("Certificate", max_width=13, badge=LEVEL_BADGE),
        Column("Days", width=5, badge=LEVEL_BADGE),
    )

    DEFAULT_CSS = """
    WebScreen.-pending #web-update-hint { color: $text-warning; }
    WebScreen.-problem #web-update-hint { color: $text-error; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "u",
            "update",
            "Update",
            tooltip="Write nginx's web config (local.conf) from the box, test it, reload nginx",
        ),
        Binding(
            "o",
            "open_tls",
            "TLS",
            tooltip="Open the TLS area on the selected domain's certificate",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._updating = False

    @property
    def view(self) -> WebView | None:
        return self.context if isinstance(self.context, WebView) else None

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> WebLoaded:
        view = read_view(self)
        rows, search = web_rows(view)
        return WebLoaded(rows, search, summary_text(view), view)

    def records_shown(self) -> None:
        self.table.empty_text = self.EMPTY_TEXT
        view = self.view
        if view is not None:
            self.show_hint(hint_text(view))
            self.set_class(bool(view.pending) and not view.problem, "-pending")
            self.set_class(bool(view.problem), "-problem")
        super().records_shown()

    def on_change_refused(self, message: ChangeRefused) -> None:
        # DetailsAreaScreen's handler runs too (the table stops saying it is reading).
        self._updating = False

    def details_of(self, key: str | None) -> tuple[str, Note] | None:
        view = self.view
        if view is None:
            return None
        site = view.sites.get(key or "")
        if site is None:
            return "Domain", Note("No domain selected.")
        return f"Site of {prettify_domain(site.row.domain)}", details_note(site, view)

    # --- actions ----------------------------------------------------------------------

    def action_update(self) -> None:
        if self._updating:
            self.notify("The web update is running.", severity="warning")
            return
        self._updating = True
        self.run_update()

    @core_worker(doing="The web update", group="web-update")
    def run_update(self) -> None:
        self.post_message(WebUpdated(self.box.web.update(actor=TUI_ACTOR)))

    def on_web_updated(self, message: WebUpdated) -> None:
        self._updating = False
        change = message.change
        name = self.view.conf_path.name if self.view is not None else "local.conf"
        if change.changed:
            self.notify("\n".join(change.lines), title="Web")
        elif change.lines:
            # Core's reason: nothing was written and the last good config stays live.
            self.notify("\n".join(change.lines), title="Web update", severity="error", timeout=20)
        else:
            self.notify(f"Nothing to update: {name} already matches the box.", title="Web update")
        self.load()

    def action_open_tls(self) -> None:
        key = self.selected_key()
        if key is None:
            return
        app = self.app

        def opened() -> None:
            screen = app.screen
            if isinstance(screen, AreaScreen) and screen.AREA == "tls":
                show_in_area(screen, key)

        app.switch_mode("tls")
        app.call_after_refresh(opened)
