"""The System area (SYSTEM.md §6): this tool's version and the Mail-in-a-Box checkout's; the
latest Mail-in-a-Box version, asked of mailinabox.email only when the privacy setting is off
(else why not); the privacy setting, turned on and off; the package updates apt lists, and
the upgrade (a job, its output followed live); whether a reboot is required, and the reboot.

The upgrade and the reboot ask first. A local box (`miab init`) lists this machine's updates
but never upgrades or reboots it: it says so, in core's words, when asked to.

Reading is split so nothing slow holds the rest: the version, privacy and reboot flag are
read at once; the updates (`apt-get -s upgrade`, seconds the first time, then kept) follow on
the same worker; the latest version is asked on a worker of its own (up to 5 s).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Static

from core.errors import MiabError
from core.jobs import Job, JobState
from core.system import NotAvailable, PackageUpdate, RebootOutcome, VersionInfo
from miab_tui.display import display_text, plural
from miab_tui.messages import ChangeRefused, RecordsLoaded
from miab_tui.modals.confirm import ConfirmDialog
from miab_tui.modals.job_follow import JobFollowDialog
from miab_tui.screens.base import TUI_ACTOR, AreaScreen
from miab_tui.widgets.record_browser import RecordBrowser
from miab_tui.widgets.record_table import Column, Row
from miab_tui.workers import core_worker

LABEL_WIDTH: Final = 10
LOADING_TEXT: Final = "Reading the package updates (apt-get -s upgrade)…"
ASKING_TEXT: Final = "Asking mailinabox.email…"
LOCAL_TEXT: Final = (
    "This is a local box: it lists this machine's updates, never upgrades or reboots it."
)
UPSTREAM_PRIVATE: Final = "not asked: the privacy setting is on"
SHOWN_PACKAGES: Final = 8  # package lines the upgrade's question names


@dataclass(frozen=True, slots=True)
class SystemFacts:
    """What is read at once: the versions, the privacy setting, the reboot flag."""

    version: VersionInfo
    private: bool
    reboot_required: bool
    local: bool


@dataclass(frozen=True, slots=True)
class SystemView:
    """What the screen read: the facts, and the updates (or why there is no list)."""

    facts: SystemFacts
    updates: tuple[PackageUpdate, ...]
    problem: str  # why the updates could not be listed ("" when they were)


@dataclass
class FactsRead(Message):
    facts: SystemFacts


@dataclass
class UpstreamRead(Message):
    """The latest version (`version`), or why it is not known (`reason`)."""

    version: str
    reason: str


@dataclass
class RebootAnswered(Message):
    outcome: RebootOutcome


class SystemLoaded(RecordsLoaded):
    """The package updates; `context` is the `SystemView`."""


def update_rows(updates: tuple[PackageUpdate, ...]) -> tuple[list[Row], list[str]]:
    rows = []
    search = []
    for index, package in enumerate(updates):
        rows.append(Row(str(index), (package.package, package.current_version, package.version)))
        search.append(f"{package.package} {package.current_version} {package.version}".lower())
    return rows, search


def updates_text(view: SystemView | None) -> str:
    if view is None:
        return "reading the updates…"
    if view.problem:
        return view.problem
    count = len(view.updates)
    if not count:
        return "System software is up to date."
    if view.facts.local:
        return f"{plural(count, 'package')} can be upgraded (not from a local box)."
    return f"{plural(count, 'package')} can be upgraded: u installs them (asks first)."


@dataclass(frozen=True, slots=True)
class InfoLine:
    """A line above the updates: its label, its value and how the value is drawn."""

    label: str
    value: str
    style: str = ""  # "", "muted", "ok" or "warning"


INFO_LABELS: Final = ("Version", "Upstream", "Privacy", "Reboot", "Updates", "Machine")


def info_lines(facts: SystemFacts | None, upstream: str, view: SystemView | None) -> list[InfoLine]:
    """The lines above the updates: versions, upstream, privacy, reboot, updates, and on a
    local box what it does not do."""
    if facts is None:
        return [InfoLine("Version", "reading…", "muted")]
    version = facts.version
    checkout = (
        f"Mail-in-a-Box checkout {version.box_miab}"
        if version.box_miab
        else "no Mail-in-a-Box checkout on this machine"
    )
    lines = [InfoLine("Version", f"miab-tui {version.ours}; {checkout}")]
    if facts.private:
        lines.append(InfoLine("Upstream", UPSTREAM_PRIVATE, "muted"))
        lines.append(InfoLine("Privacy", "on: mailinabox.email is never asked (p: off)"))
    else:
        shown = upstream or ASKING_TEXT
        lines.append(InfoLine("Upstream", shown, "" if upstream.startswith("v") else "muted"))
        lines.append(
            InfoLine("Privacy", "off: mailinabox.email is asked for the latest version (p: on)")
        )
    if facts.reboot_required:
        reboot = "required: package updates were installed. b reboots (asks first)."
        lines.append(InfoLine("Reboot", reboot, "warning"))
    else:
        lines.append(InfoLine("Reboot", "not required", "ok"))
    count = len(view.updates) if view is not None and not view.problem else 0
    lines.append(InfoLine("Updates", updates_text(view), "warning" if count else ""))
    if facts.local:
        lines.append(InfoLine("Machine", LOCAL_TEXT, "muted"))
    return lines


class SystemScreen(AreaScreen):
    """The box's facts on top; the package updates below."""

    AREA = "system"
    SUB_TITLE = "System"
    FILTER_PLACEHOLDER = "Filter: package, version"
    EMPTY_TEXT = "No packages match."
    COLUMNS = (
        Column("Package", max_width=40),
        Column("Installed", max_width=32),
        Column("New version"),
    )

    DEFAULT_CSS = """
    SystemScreen #system-info-box {
        height: auto;
        max-height: 8;
        padding: 0 1;
        border-bottom: solid $primary 50%;
        background: $surface;
        scrollbar-size-vertical: 1;
    }
    SystemScreen .system-line { height: auto; }
    SystemScreen .system-label { width: 10; color: $text-secondary; }
    SystemScreen .system-value { width: 1fr; }
    SystemScreen .system-value.-muted { color: $text-muted; }
    SystemScreen .system-value.-ok { color: $text-success; }
    SystemScreen .system-value.-warning { color: $text-warning; text-style: bold; }
    SystemScreen.-tiny #system-info-box { max-height: 3; }
    #system-screen .record-browser--summary { width: 30; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "u",
            "upgrade",
            "Upgrade",
            tooltip="Install the package updates (apt-get upgrade), its output followed live",
        ),
        Binding(
            "p",
            "toggle_privacy",
            "Privacy",
            tooltip="Turn the privacy setting on or off (off: the box asks mailinabox.email "
            "for the latest version)",
        ),
        Binding("b", "reboot", "Reboot", tooltip="Reboot the machine, when updates require it"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.facts: SystemFacts | None = None
        self.upstream = ""

    @property
    def view(self) -> SystemView | None:
        return self.context if isinstance(self.context, SystemView) else None

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if isinstance(widget, RecordBrowser):
                with VerticalScroll(id="system-info-box"):
                    for label in INFO_LABELS:
                        name = label.lower()
                        with Horizontal(classes="system-line", id=f"system-{name}"):
                            yield Label(label, classes="system-label")
                            yield Static("", classes="system-value", id=f"system-{name}-value")
            yield widget

    def on_mount(self) -> None:
        if not self._loaded_once:
            self.table.empty_text = LOADING_TEXT
        self._draw_info()

    @property
    def info(self) -> dict[str, str]:
        """The lines above the updates shown now: value by label."""
        return {line.label: line.value for line in info_lines(self.facts, self.upstream, self.view)}

    def _draw_info(self) -> None:
        lines = {line.label: line for line in info_lines(self.facts, self.upstream, self.view)}
        for label in INFO_LABELS:
            name = label.lower()
            line = lines.get(label)
            self.query_one(f"#system-{name}").display = line is not None
            if line is not None:
                value = self.query_one(f"#system-{name}-value", Static)
                value.update(line.value)
                for style in ("muted", "ok", "warning"):
                    value.set_class(line.style == style, f"-{style}")

    # --- loading ----------------------------------------------------------------------

    def read_records(self) -> SystemLoaded:
        system = self.box.system
        facts = SystemFacts(
            system.version_info(),
            system.privacy(),
            system.reboot_required(),
            self.box.config.is_local,
        )
        self.post_message(FactsRead(facts))
        problem = ""
        updates: tuple[PackageUpdate, ...] = ()
        try:
            updates = system.updates(refresh=False)
        except MiabError as exc:  # no apt here, or apt failed: said in the list's place
            problem = exc.message
        rows, search = update_rows(updates)
        summary = plural(len(updates), "update")
        return SystemLoaded(rows, search, summary, SystemView(facts, updates, problem))

    @on(FactsRead)
    def facts_read(self, message: FactsRead) -> None:
        changed = self.facts is None or self.facts.private != message.facts.private
        self.facts = message.facts
        if changed:
            self.upstream = ""
        if not message.facts.private and not self.upstream:
            # Asked only with the privacy setting off (core refuses otherwise).
            self.read_upstream()
        self._draw_info()

    @core_worker(doing="Asking for the latest version", group="upstream")
    def read_upstream(self) -> None:
        try:
            version = self.box.system.latest_version()
        except MiabError as exc:  # the privacy setting, or mailinabox.email not reached
            self.post_message(UpstreamRead("", exc.message))
        else:
            self.post_message(UpstreamRead(version, ""))

    @on(UpstreamRead)
    def upstream_read(self, message: UpstreamRead) -> None:
        if message.version:
            self.upstream = f"{message.version} is the latest Mail-in-a-Box version"
        else:
            self.upstream = message.reason
        self._draw_info()

    def records_shown(self) -> None:
        view = self.view
        if view is not None:
            if view.problem:
                self.table.empty_text = view.problem
            elif not view.updates:
                self.table.empty_text = "System software is up to date."
            else:
                self.table.empty_text = self.EMPTY_TEXT
            self.facts = view.facts
        self._draw_info()

    def on_change_refused(self, message: ChangeRefused) -> None:
        # The base class notifies; a failed read must not say it is still reading.
        if self.table.empty_text == LOADING_TEXT:
            self.table.empty_text = self.EMPTY_TEXT
            self.table.refresh()

    # --- privacy ----------------------------------------------------------------------

    def action_toggle_privacy(self) -> None:
        if self.facts is None:
            self.notify("The settings are still being read.", severity="warning")
            return
        value = "off" if self.facts.private else "private"
        done = (
            "Privacy off: the box asks mailinabox.email for the latest version."
            if value == "off"
            else "Privacy on: the box no longer contacts mailinabox.email."
        )

        def change() -> str:
            self.box.system.set_privacy(value, actor=TUI_ACTOR)  # answers the reference's OK
            return done

        self.run_change(change, done, "Privacy")

    # --- upgrade ----------------------------------------------------------------------

    def action_upgrade(self) -> None:
        try:
            self.box.system.check_upgrade()
        except NotAvailable as exc:
            self.notify(exc.message, title="Upgrade", severity="warning")
            return
        view = self.view
        updates = view.updates if view is not None else ()
        if updates:
            shown = ", ".join(p.package for p in updates[:SHOWN_PACKAGES])
            if len(updates) > SHOWN_PACKAGES:
                shown += f" and {len(updates) - SHOWN_PACKAGES} more"
            listed = f"{plural(len(updates), 'package')}: {shown}."
        else:
            listed = "No updates are listed now; apt-get update may find some."
        self.app.push_screen(
            ConfirmDialog(
                "Upgrade the packages?",
                f"{listed}\n\nThe box runs apt-get update, then apt-get -y upgrade, as a job: "
                "its output shows here as it comes, and it goes on if you close the dialog or "
                "the TUI. Services may restart; a reboot may be required afterwards.",
                confirm_label="Upgrade",
            ),
            self._upgrade_answered,
        )

    def _upgrade_answered(self, yes: bool | None) -> None:
        if not yes:
            return
        try:
            started = self.box.system.start_upgrade(actor=TUI_ACTOR)
        except MiabError as exc:
            self.notify(exc.message, title="Upgrade", severity="error")
            return
        if started.already_running:
            self.notify("An upgrade is running already: following it.")
        self.app.push_screen(
            JobFollowDialog(
                self.box.jobs, started.job.id, actor=TUI_ACTOR, title="Upgrading the packages"
            ),
            self.upgrade_ended,
        )

    def upgrade_ended(self, job: Job | None) -> None:
        """The followed job ended (or its dialog was hidden: None)."""
        if job is None:
            self.notify("The upgrade goes on in the background.")
            return
        self.load()
        if job.state is not JobState.DONE:
            self.notify(
                display_text(job.result or job.state.value), title="Upgrade", severity="error"
            )
            return
        self.notify("The packages were upgraded.", title="Upgrade")

    # --- reboot -----------------------------------------------------------------------

    def action_reboot(self) -> None:
        facts = self.facts
        if facts is None:
            self.notify("The reboot flag is still being read.", severity="warning")
            return
        if facts.local or not self.box.system.reboot_required():
            # Core refuses (a local box never reboots this machine; no reboot is required)
            # and records the refusal: nothing to confirm.
            self.reboot()
            return
        self.app.push_screen(
            ConfirmDialog(
                f"Reboot {self.box.hostname} now?",
                "Package updates were installed and require a reboot. The machine goes down "
                "at once: mail is not received or sent until it is back (usually a minute or "
                "two), and this TUI ends with the SSH session.",
                confirm_label="Reboot",
            ),
            self._reboot_answered,
        )

    def _reboot_answered(self, yes: bool | None) -> None:
        if yes:
            self.reboot()

    @core_worker(doing="The reboot", group="reboot")
    def reboot(self) -> None:
        self.post_message(RebootAnswered(self.box.system.reboot(actor=TUI_ACTOR)))

    @on(RebootAnswered)
    def reboot_answered(self, message: RebootAnswered) -> None:
        outcome = message.outcome
        if outcome.started:
            self.notify(outcome.text or "The machine is rebooting.", title="Reboot")
        else:
            self.notify(outcome.text, title="Reboot", severity="warning")
        self.load()


__all__ = ["SystemScreen", "info_lines"]
