"""The DNS area: the zones the box serves, each zone's records with their explanations and
its zone file, custom records, secondary nameservers, DNSSEC (the DS records for the
registrar) and the update: what it would change, and applying it.

Reading a zone costs milliseconds, so one worker reads everything about the selected zone
at once; only the update and re-signing can be slow, and they run in a worker of their own
while the tabs show a busy state. The update preview renders every zone, so it is worked out
(in a worker of its own) only when the screen is entered, the Update tab is shown, or the box
changed, never as the zone cursor moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from core.dns.dnssec import ALGORITHMS
from core.dns.records import CustomRecord, DnsRecord
from core.dns.service import DsRecord, FileDiff, Zone
from core.errors import MiabError
from core.jobs import Job, JobState
from core.jobs.kinds import DNS_UPDATE
from core.mail.addresses import prettify_domain
from core.results import Change
from miab_tui.display import plural
from miab_tui.messages import ChangeMade, ChangeRefused, RecordsLoaded
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.dns_algorithm import DnsAlgorithmDialog
from miab_tui.modals.dns_record_form import DnsRecordForm
from miab_tui.modals.dns_secondary_form import DnsSecondaryForm
from miab_tui.modals.job_follow import JobFollowDialog
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.widgets.nav_bar import NavBar
from miab_tui.widgets.record_table import Column, RecordTable, Row
from miab_tui.widgets.text_view import DiffView, TextView
from miab_tui.workers import core_worker

ALGORITHM_NAMES: Final = {number: name for name, number in ALGORITHMS.items()}
DIGEST_NAMES: Final = {1: "SHA-1", 2: "SHA-256", 4: "SHA-384"}
TABS: Final = ("records", "zonefile", "custom", "secondary", "dnssec", "update")
TAB_KEYS: Final = Binding.Group("Tabs")


@dataclass(frozen=True, slots=True)
class DnsView:
    """Everything the screen shows about the box's DNS and the selected zone."""

    zones: tuple[Zone, ...]
    zone: str | None
    records: tuple[DnsRecord, ...]
    zonefile: str
    custom: tuple[CustomRecord, ...]  # the custom records inside the selected zone
    secondary: tuple[str, ...]
    algorithms: tuple[str, ...]
    ds: tuple[DsRecord, ...]


class DnsLoaded(RecordsLoaded):
    """The DNS screen's record rows; `context` is the `DnsView` they came from."""


@dataclass
class PreviewLoaded(Message):
    """What the DNS update would change, file by file."""

    diffs: tuple[FileDiff, ...]


def in_zone(qname: str, zone: str) -> bool:
    return qname == zone or qname.endswith("." + zone)


def record_rows(records: tuple[DnsRecord, ...]) -> tuple[list[Row], list[str]]:
    rows = [
        Row(str(index), (r.qname, r.rtype, r.value, r.explanation))
        for index, r in enumerate(records)
    ]
    search = [f"{r.qname} {r.rtype} {r.value} {r.explanation}".lower() for r in records]
    return rows, search


def ds_text(ds: tuple[DsRecord, ...]) -> str:
    """The DS records as zone-file lines, then field by field for registrars' forms."""
    if not ds:
        return ""
    lines = [record.text for record in ds]
    for record in ds:
        lines += [
            "",
            f"Key tag      {record.key_tag}",
            f"Algorithm    {record.algorithm} ({ALGORITHM_NAMES.get(record.algorithm, 'unknown')})",
            f"Digest type  {record.digest_type} "
            f"({DIGEST_NAMES.get(record.digest_type, 'unknown')})",
            f"Digest       {record.digest}",
        ]
    return "\n".join(lines) + "\n"


def diff_text(diffs: tuple[FileDiff, ...]) -> str:
    if not diffs:
        return "# Nothing to update: the files on disk match the box's settings.\n"
    return "\n".join(f"# {diff.name}\n{diff.diff}" for diff in diffs)


class DnsScreen(AreaScreen):
    """Zones on the left; the selected zone's records, zone file, custom records, DNSSEC,
    and the box's secondary nameservers and pending update in tabs on the right."""

    AREA = "dns"
    SUB_TITLE = "DNS"
    # Below 100 columns the zones list narrows (app.tcss) so the tabs keep their titles, and
    # below 70 more, so the filter keeps room.
    HORIZONTAL_BREAKPOINTS = [(0, "-very-narrow"), (70, "-narrow"), (100, "-wide")]
    FILTER_PLACEHOLDER = "Filter: name, type, value, explanation"
    EMPTY_TEXT = "No records match."
    COLUMNS = (
        Column("Name", group=True, max_width=30, min_width=12),
        Column("Type", width=5),
        Column("Value", max_width=28),
        Column("Explanation"),
    )
    ZONE_COLUMNS = (Column("Zone", max_width=40),)
    CUSTOM_COLUMNS = (
        Column("Name", max_width=34),
        Column("Type", width=5),
        Column("Value"),
    )

    # The tabs' keys first: the footer shows them together ("r f c n d p Tabs").
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "r",
            "show_tab('records')",
            "Records tab",
            group=TAB_KEYS,
            tooltip="The selected zone's records with their explanations",
        ),
        Binding(
            "f",
            "show_tab('zonefile')",
            "Zone file tab",
            group=TAB_KEYS,
            tooltip="The selected zone's zone file",
        ),
        Binding(
            "c",
            "show_tab('custom')",
            "Custom records tab",
            group=TAB_KEYS,
            tooltip="The custom records in the selected zone",
        ),
        Binding(
            "n",
            "show_tab('secondary')",
            "Secondary NS tab",
            group=TAB_KEYS,
            tooltip="Secondary nameservers that copy the zones",
        ),
        Binding(
            "d",
            "show_tab('dnssec')",
            "DNSSEC tab",
            group=TAB_KEYS,
            tooltip="DNSSEC algorithm and the DS records for the registrar",
        ),
        Binding(
            "p",
            "show_tab('update')",
            "Update tab",
            group=TAB_KEYS,
            tooltip="What the DNS update would change, file by file",
        ),
        Binding("a", "add_record", "Add", tooltip="Add a custom DNS record"),
        Binding(
            "e",
            "replace_record",
            "Replace",
            tooltip="Replace the values of the selected custom record's name and type",
        ),
        Binding("x,delete", "remove_record", "Remove", tooltip="Remove the selected custom record"),
        Binding("s", "set_secondary", "Secondary NS", tooltip="Set the secondary nameservers"),
        Binding(
            "g",
            "choose_algorithm",
            "Algorithm",
            tooltip="Choose the DNSSEC algorithm that signs every zone",
        ),
        Binding(
            "u",
            "apply_update",
            "Apply update",
            tooltip="Write, sign and reload the zones that changed",
        ),
        Binding(
            "U",
            "apply_update(True)",
            "Force update",
            show=False,
            tooltip="Rewrite and re-sign every zone, changed or not",
        ),
    ]

    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "On a zone: its records; on a custom record: replace it"),
        ("escape", "Back: from the filter to the records, from the records to the zones"),
        ("tab", "The next part of the screen (zones, tabs, table)"),
    )

    def __init__(self) -> None:
        super().__init__()
        self._zone: str | None = None  # the zone the tabs show; None until the first load
        self._busy = False

    # --- layout -----------------------------------------------------------------------

    @property
    def table(self) -> RecordTable:
        # Three tables on this screen; the records are the one the base class filters.
        return self.query_one("#dns-table", RecordTable)

    @property
    def zones_table(self) -> RecordTable:
        return self.query_one("#dns-zones-table", RecordTable)

    @property
    def custom_table(self) -> RecordTable:
        return self.query_one("#dns-custom-table", RecordTable)

    @property
    def view(self) -> DnsView | None:
        return self.context if isinstance(self.context, DnsView) else None

    def compose(self) -> ComposeResult:
        yield Header(icon="✉")
        yield NavBar(self.AREA)
        with Horizontal(id="dns-body"):
            with Vertical(id="dns-zones-panel"):
                yield RecordTable(self.ZONE_COLUMNS, empty_text="No zones.", id="dns-zones-table")
                yield Static("", id="dns-status")
            with TabbedContent(id="dns-tabs"):
                with TabPane("Records", id="dns-tab-records"):
                    yield self.make_browser()
                    with VerticalScroll(id="dns-record-detail-box"):
                        yield Static("", id="dns-record-detail")
                with TabPane("Zone file", id="dns-tab-zonefile"):
                    yield TextView(id="dns-zonefile")
                with TabPane("Custom", id="dns-tab-custom"):
                    yield Static(
                        "Records added by hand. A custom record replaces the box's "
                        "default of the same name and type. a adds, e replaces, "
                        "x removes.",
                        classes="dns-note",
                    )
                    yield RecordTable(
                        self.CUSTOM_COLUMNS,
                        id="dns-custom-table",
                        empty_text="No custom records in this zone: a adds one.",
                    )
                with TabPane("Secondary NS", id="dns-tab-secondary"), VerticalScroll():
                    yield Static("", id="dns-secondary-text")
                with TabPane("DNSSEC", id="dns-tab-dnssec"):
                    yield Static("", id="dns-dnssec-text", classes="dns-note")
                    yield TextView(id="dns-ds")
                with TabPane("Update", id="dns-tab-update"):
                    yield Static("", id="dns-update-text", classes="dns-note")
                    yield DiffView(id="dns-diff")
        yield Footer()

    def on_mount(self) -> None:
        # Textual also runs the base class's on_mount (after this one), which focuses the
        # records table; the zones list comes first here, so focus it once that has run.
        self.call_after_refresh(self.zones_table.focus)
        self.watch(self.zones_table, "cursor_row", self._zone_moved, init=False)
        self.watch(self.table, "cursor_row", self._show_detail, init=False)

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> DnsLoaded:
        dns = self.box.dns
        zones = dns.zone_list()
        names = [z.name for z in zones]
        zone = self._zone if self._zone in names else (names[0] if names else None)
        records: tuple[DnsRecord, ...] = ()
        zonefile = ""
        ds: tuple[DsRecord, ...] = ()
        algorithms: tuple[str, ...] = ()
        custom: tuple[CustomRecord, ...] = ()
        if zone is not None:
            records = dns.records(zone)
            zonefile = dns.zonefile(zone)
            ds = dns.ds_records(zone)
            algorithms = dns.dnssec_algorithms(zone)
            custom = tuple(r for r in dns.custom_records() if in_zone(r.qname, zone))
        view = DnsView(
            zones, zone, records, zonefile, custom, dns.secondary_nameservers(), algorithms, ds
        )
        rows, search = record_rows(records)
        summary = f"{plural(len(records), 'record')} in {prettify_domain(zone)}" if zone else ""
        return DnsLoaded(rows, search, summary, view)

    @on(DnsLoaded)
    def dns_loaded(self, message: DnsLoaded) -> None:
        # Runs before the base class fills the records table from the same message.
        view = message.context
        if not isinstance(view, DnsView):
            return
        if view.zone != self._zone and any(z.name == self._zone for z in view.zones):
            # A slower read for a zone the admin has already moved past: drop it, or the
            # cursor would jump back. The read for the current zone is on its way.
            message.prevent_default()
            return
        self._zone = view.zone
        zone_rows = [Row(z.name, (prettify_domain(z.name),)) for z in view.zones]
        self.zones_table.fit_columns(zone_rows)
        self.zones_table.replace_rows(zone_rows, keep_key=view.zone)
        self.query_one("#dns-zonefile", TextView).show_text(view.zonefile)
        custom_rows = [Row(str(i), (r.qname, r.rtype, r.value)) for i, r in enumerate(view.custom)]
        self.custom_table.fit_columns(custom_rows)
        self.custom_table.replace_rows(custom_rows, keep_key=self.custom_table.cursor_key)
        self._show_secondary(view)
        self._show_dnssec(view)

    def records_shown(self) -> None:
        self._show_detail()

    # --- the update preview -----------------------------------------------------------

    def on_screen_resume(self) -> None:
        # Entering the screen: other areas may have changed what the update would write.
        # (The base class reads the zone itself.)
        self.load_preview()

    def box_changed(self) -> None:
        super().box_changed()
        self.load_preview()

    @on(TabbedContent.TabActivated, "#dns-tabs")
    def tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "dns-tab-update":
            self.load_preview()

    @core_worker(doing="Working out the DNS update", group="dns-preview")
    def load_preview(self) -> None:
        self.post_message(PreviewLoaded(self.box.dns.preview()))

    @on(PreviewLoaded)
    def preview_loaded(self, message: PreviewLoaded) -> None:
        self._show_update(message.diffs)

    def _zone_moved(self, _row: int | None = None) -> None:
        zone = self.zones_table.cursor_key
        if zone is not None and zone != self._zone:
            self._zone = zone
            self.load()

    def _show_detail(self, _row: int | None = None) -> None:
        """The whole of the record under the cursor: the table cuts long values short."""
        view = self.view
        key = self.table.cursor_key
        detail = self.query_one("#dns-record-detail", Static)
        if view is None or key is None or int(key) >= len(view.records):
            detail.update("")
            return
        record = view.records[int(key)]
        detail.update(
            Content(f"{record.qname}  {record.rtype}  {record.value}\n{record.explanation}")
        )

    def _show_secondary(self, view: DnsView) -> None:
        primary = self.box.config.primary_hostname
        if not view.secondary:
            text = f"None. The box alone serves every zone, as ns1.{primary} and ns2.{primary}."
        else:
            lines = ["The zones are also served by:", ""]
            for entry in view.secondary:
                if entry.startswith("xfr:"):
                    lines.append(f"  {entry[4:]}  may transfer the zones (no NS record)")
                else:
                    lines.append(
                        f"  {entry}  nameserver (NS) of every zone, may transfer the zones"
                    )
            text = "\n".join(lines)
        self.query_one("#dns-secondary-text", Static).update(
            Content(text + "\n\ns sets the secondary nameservers.")
        )

    def _show_dnssec(self, view: DnsView) -> None:
        zone = prettify_domain(view.zone) if view.zone else ""
        if not view.algorithms:
            text = f"{zone} is not signed: the box has no DNSSEC keys for it."
        else:
            algorithms = ", ".join(f"{name} ({ALGORITHMS[name]})" for name in view.algorithms)
            text = (
                f"{zone} is signed with {algorithms}. Give the DS records below to its "
                "registrar (select, then ctrl+c copies); most need only the SHA-256 one. "
                "g changes the algorithm."
            )
        self.query_one("#dns-dnssec-text", Static).update(Content(text))
        self.query_one("#dns-ds", TextView).show_text(ds_text(view.ds))

    def _show_update(self, diffs: tuple[FileDiff, ...]) -> None:
        count = len(diffs)
        if count:
            names = ", ".join(prettify_domain(d.name) for d in diffs)
            text = f"The update would change {plural(count, 'file')}: {names}. u applies it."
            status = f"Update pending: {plural(count, 'file')}. p shows it."
        else:
            text = "Nothing to update. u runs the update anyway; U re-signs every zone."
            status = "DNS is up to date."
        self.query_one("#dns-update-text", Static).update(Content(text))
        self.query_one("#dns-diff", DiffView).show_text(diff_text(diffs))
        self.query_one("#dns-tabs", TabbedContent).get_tab("dns-tab-update").label = (
            f"Update ({count})" if count else "Update"
        )
        if not self._busy:
            self.query_one("#dns-status", Static).update(Content(status))
        self.set_class(bool(count), "-pending")

    # --- navigation -------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#dns-tabs", TabbedContent).active = f"dns-tab-{tab}"

    @on(RecordTable.RowSelected, "#dns-zones-table")
    def zone_chosen(self) -> None:
        self.action_show_tab("records")
        self.table.focus()

    @on(RecordTable.RowSelected, "#dns-custom-table")
    def custom_chosen(self) -> None:
        self.action_replace_record()

    def key_escape(self) -> None:
        # Escape walks back: filter → records table (the base class), else → the zones.
        if self.browser.filter_has_focus:
            super().key_escape()
        elif self.focused is not self.zones_table:
            self.zones_table.focus()

    # --- changes ----------------------------------------------------------------------

    def report_result(self, result: Change | str | None) -> None:
        if isinstance(result, Change) and not result.changed:
            result = "Nothing changed: the box has that already."
        super().report_result(result)

    def _selected_custom(self) -> CustomRecord | None:
        """The custom record under the cursor of the Custom tab, which is brought forward
        so the admin sees which record the action is about."""
        self.action_show_tab("custom")
        view = self.view
        key = self.custom_table.cursor_key
        if view is None or key is None:
            self.notify("There is no custom record in this zone: a adds one.", severity="warning")
            return None
        return view.custom[int(key)]

    def action_add_record(self) -> None:
        if self._refuse_while_busy():
            return
        self.app.push_screen(DnsRecordForm(self._zone), self.report_result)

    def action_replace_record(self) -> None:
        if self._refuse_while_busy():
            return
        record = self._selected_custom()
        if record is not None:
            self.app.push_screen(DnsRecordForm(self._zone, record), self.report_result)

    def action_remove_record(self) -> None:
        if self._refuse_while_busy():
            return
        record = self._selected_custom()
        if record is None:
            return
        dns = self.box.dns

        def answered(remove: bool | None) -> None:
            if remove:
                self.run_busy(
                    lambda: dns.remove_custom_record(
                        record.qname, record.rtype, record.value, actor=TUI_ACTOR
                    ),
                    "Updating DNS…",
                    f"DNS record removed: {record.qname} {record.rtype}",
                )

        self.app.push_screen(
            ConfirmDialog(
                f"Remove the {record.rtype} record of {record.qname}?",
                f"{record.qname} {record.rtype} {record.value}\n\nThe box's default record "
                "of that name and type, if it has one, comes back.",
                confirm_label="Remove",
            ),
            answered,
        )

    def action_set_secondary(self) -> None:
        if self._refuse_while_busy():
            return
        view = self.view
        self.app.push_screen(DnsSecondaryForm(view.secondary if view else ()), self.report_result)

    def action_choose_algorithm(self) -> None:
        if self._refuse_while_busy():
            return
        current = self.box.dns.dnssec_algorithms()
        dns = self.box.dns

        def confirmed(yes: bool | None, algorithm: str) -> None:
            if yes:
                self.run_busy(
                    lambda: dns.set_dnssec_algorithm(algorithm, actor=TUI_ACTOR),
                    f"Signing every zone with {algorithm}…",
                    f"DNSSEC algorithm set: {algorithm}",
                )

        def chosen(algorithm: str | None) -> None:
            if algorithm is None:
                return
            if current == (algorithm,):
                self.notify(f"The zones are signed with {algorithm} already.")
                return
            self.app.push_screen(
                ConfirmDialog(
                    f"Sign every zone with {algorithm}?",
                    "Every zone is re-signed with new keys, so its DS records change. Replace "
                    "the DS records at each registrar with the new ones (DNSSEC tab) at once, "
                    "or validating resolvers will fail to resolve the domains.",
                    confirm_label=f"Use {algorithm}",
                ),
                lambda yes: confirmed(yes, algorithm),
            )

        self.app.push_screen(DnsAlgorithmDialog(current), chosen)

    def action_apply_update(self, force: bool = False) -> None:
        if self._refuse_while_busy():
            return
        if force:
            self._force_update()
            return
        dns = self.box.dns
        self.run_busy(
            lambda: dns.update(force=force, actor=TUI_ACTOR),
            "Re-signing every zone…" if force else "Updating DNS…",
            "DNS is up to date: nothing changed.",
        )

    def _force_update(self) -> None:
        """Re-signing every zone is long work: a job in a process of its own (one at a time
        across every face; it goes on if this TUI closes), followed live in a dialog."""
        try:
            started = self.box.jobs.start(DNS_UPDATE, actor=TUI_ACTOR)
        except MiabError as exc:
            self.notify(exc.message, severity="error")
            return
        if started.already_running:
            self.notify("A DNS update is running already: following it.")

        def finished(job: Job | None) -> None:
            if job is None:
                self.notify("The DNS update goes on in the background.")
            elif job.state is JobState.DONE:
                self.notify(job.result.strip() or "DNS updated.", title="DNS")
                self.load_preview()
            else:
                self.notify(job.result or job.state.value, title="DNS update", severity="error")

        self.app.push_screen(
            JobFollowDialog(
                self.box.jobs, started.job.id, actor=TUI_ACTOR, title="Re-signing every zone"
            ),
            finished,
        )

    # --- the busy state ---------------------------------------------------------------

    def _refuse_while_busy(self) -> bool:
        if self._busy:
            self.notify("The DNS update is still running.", severity="warning")
        return self._busy

    def _set_busy(self, text: str | None) -> None:
        self._busy = text is not None
        self.query_one("#dns-tabs", TabbedContent).loading = self._busy
        self.set_class(self._busy, "-busy")
        if text is not None:
            self.query_one("#dns-status", Static).update(Content(text))

    def run_busy(self, operation: Callable[[], Change | str | None], busy: str, done: str) -> None:
        """Run a change that updates (and may re-sign) zones, showing it is under way."""
        self._set_busy(busy)
        self._run_busy(operation, done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="dns-update")
    def _run_busy(self, operation: Callable[[], Change | str | None], done: str) -> None:
        self.perform_change(operation, done, "DNS")

    def on_change_made(self, message: ChangeMade) -> None:
        # The base class then notifies and reloads.
        self._set_busy(None)
        self.load_preview()

    def on_change_refused(self, message: ChangeRefused) -> None:
        self._set_busy(None)
