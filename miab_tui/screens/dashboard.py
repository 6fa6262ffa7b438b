"""The Dashboard, the area the TUI opens on: the status checks (SYSTEM.md §5) streaming in
live, by section, with the counts of ok, warnings and errors; only the problems at a key;
every check, one section or one check run again; and for each problem the way to its fix:
the area of the box that fixes it (a DNS record: the DNS area on its zone; a certificate: the
TLS area on its domain...), or where it is fixed when the box cannot (the registrar, the ISP).

The checks run on a thread worker (`box.status.stream`), each result posted to the screen as
it finishes; a run is stopped (its `threading.Event` set) when every check is run again or the
screen goes away. The checks run once when the screen is first shown, then when asked: they
look up public DNS and take seconds, so moving between areas does not start them again.
"""

from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Final

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.widgets import Label

from core.mail.addresses import prettify_domain
from core.system import CheckResult, CheckStatus, StatusPlan
from miab_tui.areas import AREAS
from miab_tui.display import display_text, plural
from miab_tui.screens.base import AreaScreen, DetailsAreaScreen
from miab_tui.screens.web import show_in_area
from miab_tui.status_board import (
    BoardRow,
    Fix,
    Scope,
    StatusBoard,
    counts_text,
    fix_for,
)
from miab_tui.widgets.level_table import LEVEL_BADGE, LevelBrowser
from miab_tui.widgets.note_view import Note, NoteBuilder, SpanStyle
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, RecordTable
from miab_tui.workers import guarded

# How long a fix waits for the area it opened to show the zone, domain or address.
JUMP_WAIT_SECONDS: Final = 30.0
NOTE_STYLES: Final[dict[CheckStatus, SpanStyle]] = {
    CheckStatus.OK: "ok",
    CheckStatus.WARNING: "warning",
    CheckStatus.ERROR: "error",
}


@dataclass
class StatusPlanned(Message):
    """Run `run` will check what `plan` holds."""

    run: int
    plan: StatusPlan
    scope: Scope


@dataclass
class CheckFinished(Message):
    """A check of run `run` finished."""

    run: int
    result: CheckResult


@dataclass
class RunEnded(Message):
    """Run `run` is over (every check done, stopped, or it failed: the failure is reported
    on its own)."""

    run: int


def details_title(row: BoardRow) -> str:
    """What was checked, where: `MX record · example.com`."""
    info = row.check
    where = row.section.heading
    if info.domain and info.domain != row.section.id:
        where = prettify_domain(info.domain)
    return f"{info.title} · {where}"


def details_note(row: BoardRow, fix: Fix | None) -> Note:
    """The details of one row: the whole message and its extra lines, the fix, and how to
    run the check again."""
    note = NoteBuilder()
    info = row.check
    item = row.item
    if item is None:
        if row.unfinished:
            note.field("Stopped", "The run was stopped before this check finished.", style="muted")
        else:
            note.field("Running", f"At most {info.timeout:g} seconds.", style="muted")
    else:
        label = item.status.value.capitalize()
        note.field(label, display_text(item.message), label_style=NOTE_STYLES[item.status])
        for extra in item.extra:
            note.field("", display_text(extra.text))
        if fix is not None:
            note.field("Fix", fix.text)
    note.field(
        "Check",
        f"{info.id}: c runs it again, s its section, r every check.",
        style="muted",
    )
    return note.note()


class DashboardScreen(DetailsAreaScreen):
    """The status checks by section; below them, the selected item with its fix."""

    AREA = "dashboard"
    SUB_TITLE = "Dashboard"
    FILTER_PLACEHOLDER = "Filter: section, status, text"
    EMPTY_TEXT = "No items match."
    LOADING_TEXT = "Planning the status checks…"
    BROWSER = LevelBrowser
    DETAILS_TITLE = "Item"
    HINT_ID = "dashboard-fix-hint"
    COLUMNS = (
        Column("Section", group=True, max_width=24),
        Column("Status", width=7, badge=LEVEL_BADGE),
        Column("Message"),
    )

    DEFAULT_CSS = """
    DashboardScreen #dashboard-bar { height: 1; padding: 0 1; background: $panel; }
    DashboardScreen #dashboard-bar > Label { width: auto; margin-right: 2; }
    DashboardScreen #dashboard-bar > #dashboard-counts {
        width: 1fr; margin-right: 1; color: $text-muted; text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    DashboardScreen #dashboard-bar > #dashboard-mode {
        margin-right: 0; color: $text-accent; text-style: bold;
    }
    DashboardScreen .details-panel { height: 35%; min-height: 7; }
    #dashboard-screen .record-browser--summary { width: 20; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "fix", "Fix", tooltip="Open the area that fixes the selected problem"),
        Binding(
            "p",
            "toggle_problems",
            "Problems",
            tooltip="Show only the warnings and errors (again: every item)",
        ),
        Binding("r", "rerun_all", "Re-run", tooltip="Run every status check again"),
        # (Not in the footer, which an 80-column terminal cuts short: the details say them.)
        Binding(
            "s",
            "rerun_section",
            "Section",
            show=False,
            tooltip="Run the checks of the selected item's section again",
        ),
        Binding(
            "c",
            "rerun_check",
            "Check",
            show=False,
            tooltip="Run the selected item's check again",
        ),
    ]
    HELP_KEYS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("enter", "Into the details, to select and copy (escape comes back)"),
    )

    def __init__(self) -> None:
        super().__init__()
        self.board = StatusBoard()
        self.problems_only = False
        self._meaning: dict[str, BoardRow] = {}
        self._runs: dict[int, threading.Event] = {}
        self._next_run = 1
        self._started = False
        self._redraw_queued = False
        self._finished_at: float | None = None
        # The row the admin put the cursor on: kept in sight while its check runs again
        # (its rows give way to a running row, then come back).
        self._chosen: str | None = None
        self._redrawing = False

    # --- layout -----------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No run going and nothing left to draw: what is shown is the whole last run."""
        return not self._runs and not self._redraw_queued and self._finished_at is not None

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, RecordBrowser):
                with Horizontal(id="dashboard-bar"):
                    # One line of fixed width: labels sized to their changing text could
                    # keep a width measured for an earlier count ("1 warning").
                    yield Label("", id="dashboard-counts")
                    yield Label("", id="dashboard-mode")
            yield widget

    def on_mount(self) -> None:
        # DetailsAreaScreen.on_mount runs too: the table says it is planning (the dashboard
        # does not use show_records, so it never counts as read).
        self._draw_bar()

    def on_unmount(self) -> None:
        self.stop_runs()

    # --- running the checks -------------------------------------------------------------

    def load(self) -> None:
        """Shown (or the box changed): the checks run the first time only; r runs them
        again."""
        if not self._started:
            self.start_run()

    def box_changed(self) -> None:
        """Another face changed the box: the results stay until the admin runs them again
        (a run asks public DNS and takes seconds)."""

    def action_reload(self) -> None:
        self.start_run()

    def stop_runs(self) -> None:
        for stop in self._runs.values():
            stop.set()

    def start_run(
        self, *, sections: Collection[str] | None = None, checks: Collection[str] | None = None
    ) -> None:
        """Run every check (the runs under way are stopped), or only `sections`/`checks`."""
        self._started = True
        scope: Scope = "all" if sections is None and checks is None else "section"
        if checks is not None:
            scope = "check"
        if scope == "all":
            self.stop_runs()
        run = self._next_run
        self._next_run += 1
        stop = threading.Event()
        self._runs[run] = stop
        self._finished_at = None
        self._draw_bar()
        self.stream_checks(run, stop, scope, sections, checks)

    @work(thread=True, exclusive=False, exit_on_error=False, group="status")
    def stream_checks(
        self,
        run: int,
        stop: threading.Event,
        scope: Scope,
        sections: Collection[str] | None,
        checks: Collection[str] | None,
    ) -> None:
        """The run, on a thread of its own: its plan, then each result as it finishes."""

        def stream() -> None:
            status = self.box.status
            plan = status.plan(sections=sections, checks=checks)
            self.post_message(StatusPlanned(run, plan, scope))
            for result in status.stream(plan, stop=stop):
                if stop.is_set():
                    break
                self.post_message(CheckFinished(run, result))

        try:
            guarded(self, "The status checks", stream)
        finally:
            self.post_message(RunEnded(run))

    @on(StatusPlanned)
    def _planned(self, message: StatusPlanned) -> None:
        if message.run not in self._runs or self._runs[message.run].is_set():
            return
        if message.scope == "all":
            self._finished_at = None
        self.board.planned(message.run, message.plan, message.scope)
        if message.plan.stopped:
            self.notify(message.plan.stopped, title="Status checks", severity="warning")
        self._queue_redraw()

    @on(CheckFinished)
    def _finished(self, message: CheckFinished) -> None:
        if self.board.arrived(message.run, message.result):
            self._queue_redraw()

    @on(RunEnded)
    def _ended(self, message: RunEnded) -> None:
        self._runs.pop(message.run, None)
        self.board.ended(message.run)
        if not self._runs:
            self._finished_at = self.box.clock()
        self._queue_redraw()

    # --- drawing ----------------------------------------------------------------------

    def _queue_redraw(self) -> None:
        """Results come in bursts: draw once after the messages already queued."""
        if not self._redraw_queued:
            self._redraw_queued = True
            self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._redraw_queued = False
        rows, search, meaning = self.board.table_rows(problems_only=self.problems_only)
        self._meaning = meaning
        summary = self.board.summary(len(rows), problems_only=self.problems_only)
        if self.board.total:
            counts = self.board.counts()
            no_problems = not (counts[CheckStatus.WARNING] or counts[CheckStatus.ERROR])
            self.table.empty_text = (
                "No problems so far." if self.problems_only and no_problems else self.EMPTY_TEXT
            )
        self.context = self.board
        self._redrawing = True
        try:
            self.browser.set_records(rows, search, summary)
            self._keep_chosen_in_sight()
        finally:
            self._redrawing = False
        self.records_shown()
        self._draw_bar()

    def _keep_chosen_in_sight(self) -> None:
        """The cursor back on the row the admin chose, or on its check's running row."""
        chosen = self._chosen
        table = self.table
        if chosen is None or table.cursor_key == chosen:
            return
        check = chosen.rpartition("#")[0]
        for key in (chosen, f"{check}#", f"{check}#0"):
            try:
                index = table.get_row_index(key)
            except KeyError:
                continue
            table.move_cursor(row=index)
            return

    def _draw_bar(self) -> None:
        board = self.board
        counts = board.counts()
        line = Content()
        for text, count, style in zip(
            counts_text(counts),
            (counts[CheckStatus.ERROR], counts[CheckStatus.WARNING], counts[CheckStatus.OK]),
            ("$text-error bold", "$text-warning bold", "$text-success bold"),
            strict=True,
        ):
            # A zero takes the line's own muted colour.
            line += (Content.styled(text, style) if count else Content(text)) + "  "
        if not board.total:
            progress = Content("Planning the checks…" if self._runs else "")
        elif board.running:
            progress = Content(f"Running: {board.done:,} of {plural(board.total, 'check')} done")
        elif board.stopped:
            progress = Content.styled(
                f"Only the services were checked. {board.stopped}", "$text-warning"
            )
        else:
            when = ""
            if self._finished_at is not None:
                stamp = datetime.fromtimestamp(self._finished_at, UTC)
                when = f" at {stamp:%H:%M:%S} UTC"
            progress = Content(f"{plural(board.total, 'check')} done{when}")
        self.query_one("#dashboard-counts", Label).update(line + progress)
        mode = self.query_one("#dashboard-mode", Label)
        mode.update("problems only" if self.problems_only else "")
        mode.display = self.problems_only

    def selected_row(self) -> BoardRow | None:
        key = self.table.cursor_key
        return self._meaning.get(key) if key is not None else None

    def fix_of(self, row: BoardRow) -> Fix | None:
        """The fix for the row's item (None for a check still running)."""
        if row.item is None:
            return None
        if row.item.status is CheckStatus.OK:
            return Fix(None, "Nothing to fix.")
        return fix_for(
            row.check,
            modes=self.app.MODES.keys(),
            local=self.box.config.is_local,
            primary=self.box.hostname,
        )

    def show_details(self, _row: int | None = None) -> None:
        if not self._redrawing:
            self._chosen = self.table.cursor_key
        super().show_details()

    def details_of(self, key: str | None) -> tuple[str, Note]:
        # The hint names the area that fixes the item.
        row = self._meaning.get(key) if key is not None else None
        if row is None:
            self.show_hint("")
            return "Item", Note("Nothing selected." if self.board.total else "")
        fix = self.fix_of(row)
        self.show_hint(f"f: {area_title(fix.mode)}" if fix is not None and fix.mode else "")
        return details_title(row), details_note(row, fix)

    # --- actions ----------------------------------------------------------------------

    def action_toggle_problems(self) -> None:
        self.problems_only = not self.problems_only
        self._redraw()

    def action_rerun_all(self) -> None:
        self.start_run()

    def _selected_or_warn(self) -> BoardRow | None:
        row = self.selected_row()
        if row is None:
            self.notify("Nothing is selected.", severity="warning")
        return row

    def action_rerun_section(self) -> None:
        row = self._selected_or_warn()
        if row is not None:
            self.start_run(sections=[row.section.id])

    def action_rerun_check(self) -> None:
        row = self._selected_or_warn()
        if row is not None:
            self.start_run(checks=[row.check.id])

    def action_fix(self) -> None:
        row = self._selected_or_warn()
        if row is None:
            return
        fix = self.fix_of(row)
        if fix is None:
            self.notify("This check is still running.", severity="warning")
            return
        if fix.mode is None or fix.mode not in self.app.MODES:
            self.notify(fix.text, title="Fix")
            return
        open_fix(self, fix)


def area_title(mode: str | None) -> str:
    return next((f"{a.title} area" for a in AREAS if a.mode == mode), "")


def open_fix(screen: AreaScreen, fix: Fix) -> None:
    """Open the area of `fix` on what it names: the DNS area on the zone of its domain (and
    the records it is about), the TLS and Web areas on the domain, Aliases on the address."""
    app = screen.app
    mode = fix.mode
    if mode is None:
        return

    def opened() -> None:
        there = app.screen
        if not isinstance(there, AreaScreen) or mode != there.AREA or not fix.target:
            return
        if mode == "dns":
            show_zone(there, fix.target, fix.filter)
        elif mode == "aliases":
            there.browser.filter_text = display_text(fix.target)
        else:
            show_in_area(there, fix.target)

    app.switch_mode(mode)
    app.call_after_refresh(opened)


def zone_of(domain: str, zones: Collection[str]) -> str | None:
    """The zone holding `domain`: the longest of `zones` it is, or is under."""
    holding = [z for z in zones if domain == z or domain.endswith("." + z)]
    return max(holding, key=len) if holding else None


def show_zone(screen: AreaScreen, domain: str, records_filter: str) -> None:
    """Put the DNS area's zones cursor on the zone of `domain` once its zones are read (the
    zone's records follow it), and filter its records to `records_filter`."""
    zones_table = screen.query_one("#dns-zones-table", RecordTable)
    screen.browser.filter_text = records_filter
    waited = 0.0

    def try_now() -> bool:
        zone = zone_of(domain, [row.key for row in zones_table.ordered_rows])
        if zone is None:
            return False
        zones_table.focus()
        zones_table.move_cursor(row=zones_table.get_row_index(zone))
        return True

    if try_now():
        return

    def poll() -> None:
        nonlocal waited
        waited += 0.1
        if try_now() or waited >= JUMP_WAIT_SECONDS or screen.app.screen is not screen:
            timer.stop()

    timer = screen.set_interval(0.1, poll)
