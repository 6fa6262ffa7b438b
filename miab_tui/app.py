"""MiabApp: the on-box admin's terminal UI, one Textual mode per area of the box."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
from collections.abc import Iterable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

from miab_tui.areas import AREAS, keyed
from miab_tui.box_watch import BoxWatcher
from miab_tui.display import display_text
from miab_tui.messages import BoxChanged
from miab_tui.modals.api_key import ApiKeyDialog
from miab_tui.modals.help import HelpDialog, HelpSection, key_text, screen_sections
from miab_tui.screens.activity import ActivityScreen
from miab_tui.screens.aliases import AliasesScreen
from miab_tui.screens.backups import BackupsScreen
from miab_tui.screens.base import AreaScreen
from miab_tui.screens.dashboard import DashboardScreen
from miab_tui.screens.dns import DnsScreen
from miab_tui.screens.domains import DomainsScreen
from miab_tui.screens.mfa import MfaScreen
from miab_tui.screens.system import SystemScreen
from miab_tui.screens.tls import TlsScreen
from miab_tui.screens.users import UsersScreen
from miab_tui.screens.web import WebScreen
from miab_tui.workers import close_log, log_path, open_log

if TYPE_CHECKING:
    from core.box import Box


class MiabApp(App[None]):
    """Runs on the box as root (no login): the Box it is given is the box it administers."""

    CSS_PATH = "app.tcss"
    TITLE = "Mail-in-a-Box"
    MODES: ClassVar = {
        "dashboard": DashboardScreen,
        "users": UsersScreen,
        "aliases": AliasesScreen,
        "domains": DomainsScreen,
        "activity": ActivityScreen,
        "mfa": MfaScreen,
        "dns": DnsScreen,
        "tls": TlsScreen,
        "web": WebScreen,
        "backups": BackupsScreen,
        "system": SystemScreen,
    }
    DEFAULT_MODE = "dashboard"
    # Below 30 rows (an 80x24 terminal) dialogs drop their blank lines; below 20 the panes
    # under the tables shrink too, so the filter and some rows stay in sight.
    VERTICAL_BREAKPOINTS = [(0, "-tiny"), (20, "-short"), (30, "-tall")]  # noqa: RUF012
    BINDINGS: ClassVar[list[BindingType]] = [
        *(
            Binding(
                key,
                f"switch_mode('{area.mode}')",
                area.title,
                show=False,
                tooltip=area.help,
                id=f"go-{area.mode}",
            )
            for key, area in keyed()
            if key
        ),
        Binding("f1,question_mark", "help", "Help", tooltip="The keys of this screen"),
        Binding(
            "ctrl+k",
            "api_key",
            "API key",
            show=False,
            tooltip="Show, copy or rotate the master API key",
        ),
    ]

    def __init__(
        self,
        box: Box,
        *,
        cursor_blink: bool = True,
        watch_seconds: float | None = 1.0,
        area: str | None = None,
    ) -> None:
        if area is not None:
            # The area shown first (the dashboard unless told; tests of an area start there).
            self.DEFAULT_MODE = area  # type: ignore[misc]
        super().__init__()
        self.box = box
        # Off in tests and snapshots, so every frame of an input is the same.
        self.cursor_blink = cursor_blink
        self.title = box.hostname
        # Where unexpected failures are logged with their tracebacks (see miab_tui.workers).
        self.log_path: Path | None = log_path(box.config)
        self._file_log: logging.Logger | None = None
        self._file_log_lock = threading.Lock()
        # How often to look whether another face changed the box (None: never).
        self._watch_seconds = watch_seconds
        self._watcher: BoxWatcher | None = None

    @property
    def file_log(self) -> logging.Logger:
        """The box's TUI log, opened on first use (from any thread)."""
        with self._file_log_lock:
            if self._file_log is None:
                try:
                    self._file_log = open_log(self.log_path) if self.log_path else None
                except OSError:
                    self.log_path = None
                if self._file_log is None:
                    self._file_log = logging.Logger("miab_tui")
                    self._file_log.addHandler(logging.NullHandler())
            return self._file_log

    def on_mount(self) -> None:
        if self._watch_seconds is not None:
            self._watcher = BoxWatcher(
                self.box, lambda: self.post_message(BoxChanged()), interval=self._watch_seconds
            )
            self._watcher.start()
        self.call_after_refresh(self.freeze_start_up)

    def freeze_start_up(self) -> None:
        """Take what start-up built (modules, classes, CSS, the first screen: about 100,000
        objects, kept as long as the app runs) out of the cyclic garbage collector's walks.

        Python runs a full collection once enough objects have outlived the young
        collections: every 6 to 12 keystrokes typed in the filter of 10,000 users. One walked
        all of these, 50-100 ms on the UI thread; now it walks the rest (the records, later
        screens), about 10 ms. What start-up left as garbage is held until the app stops."""
        gc.freeze()

    def on_unmount(self) -> None:
        # Everything frozen is the collector's again (a process may run more apps: tests).
        gc.unfreeze()
        if self._watcher is not None:
            self._watcher.stop()
        with self._file_log_lock:
            if self._file_log is not None:
                close_log(self._file_log)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast shows addresses and domains in Unicode, whoever words it (core's
        lines and refusals keep IDNA, as the API sends them)."""
        super().notify(
            display_text(message),
            title=display_text(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )

    def on_box_changed(self, message: BoxChanged) -> None:
        # The area under any dialog too, so it is current when the dialog closes.
        for screen in self.screen_stack:
            if isinstance(screen, AreaScreen):
                screen.box_changed()

    # --- help -------------------------------------------------------------------------

    def action_help(self) -> None:
        """The keys of the screen shown (an area, or the dialog on top)."""
        screen = self.screen
        if isinstance(screen, HelpDialog):
            screen.dismiss(None)
            return
        area = next((a for a in AREAS if a.mode == getattr(screen, "AREA", None)), None)
        if area is not None:
            title = f"Keys: {area.title}"
            sections = screen_sections(self, screen, area.title)
            sections += self._general_help()
        else:
            title = "Keys: this dialog"
            sections = screen_sections(self, screen, "This dialog")
        self.push_screen(HelpDialog(title, sections))

    def _general_help(self) -> list[HelpSection]:
        def keys(names: str) -> str:
            return key_text(self, names)

        tables = HelpSection(
            "In a table",
            (
                (keys("up,down"), "Move (also k and j)"),
                (keys("pageup,pagedown"), "A page up or down"),
                (keys("home,end"), "The first or the last row"),
                (keys("enter"), "Open the selected row (see above)"),
                (keys("escape"), "From the filter back to the table"),
            ),
        )
        # The keys that open the areas, as the app binds them.
        areas = tuple(
            (keys(binding.key), f"{binding.description} — {binding.tooltip}")
            for binding in self.BINDINGS
            if isinstance(binding, Binding) and binding.action.startswith("switch_mode(")
        )
        everywhere = HelpSection(
            "Everywhere",
            (
                *areas,
                (keys("f1,question_mark"), "This help"),
                (keys("ctrl+p"), "Every command, by name (also themes and a screenshot)"),
                (keys("ctrl+k"), "The master API key: show, copy, rotate"),
                (keys("ctrl+q"), "Quit"),
            ),
        )
        return [tables, everywhere]

    def action_api_key(self) -> None:
        if not isinstance(self.screen, ApiKeyDialog):
            self.push_screen(ApiKeyDialog())

    # --- screenshots ----------------------------------------------------------------------

    def screenshot_folders(self) -> list[Path]:
        """Where a screenshot goes: the current folder, else the box's own folder (the one
        `miab init` made, or STORAGE_ROOT on a real box) under `screenshots/`."""
        config = self.box.config
        home = config.system_root if config.is_local else config.storage_root
        folders = []
        with contextlib.suppress(OSError):  # the current folder may have been removed
            folders.append(Path.cwd())
        folders.append(home / "screenshots")
        return folders

    def deliver_screenshot(
        self,
        filename: str | None = None,
        path: str | None = None,
        time_format: str | None = None,
    ) -> str | None:
        """Save an SVG of the screen in the first of `screenshot_folders` that takes it
        (creating it if needed; the file is root's alone, 0600: it may show keys), and say
        where, or why not. (Textual's own default, ~/Downloads, does not exist on a server.)"""
        svg = self.export_screenshot()
        stamp = datetime.now().strftime(time_format or "%Y-%m-%d_%H-%M-%S")
        name = filename or f"{self.title or 'miab'}_{stamp}.svg".replace(" ", "_")
        folders = [Path(path)] if path else self.screenshot_folders()
        problems = []
        for folder in folders:
            target = folder / name
            try:
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(svg)
            except OSError as exc:
                problems.append(f"{folder}: {exc.strerror or exc}")
                continue
            self.notify(f"Saved to {target}", title="Screenshot")
            return str(target)
        self.notify(
            "Could not save the screenshot. " + "; ".join(problems) + ".",
            title="Screenshot",
            severity="error",
        )
        return None

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        self.deliver_screenshot(filename, path)

    # --- the palette ----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette lists every area and every action of the screen it was opened on."""
        for area in AREAS:
            yield SystemCommand(
                f"Go to {area.title}", area.help, partial(self.switch_mode, area.mode)
            )
        yield SystemCommand(
            "Master API key", "Show, copy or rotate the master API key", self.action_api_key
        )
        yield SystemCommand("Help: keys", "The keys of this screen", self.action_help)
        seen: set[str] = set()
        for binding in getattr(screen, "BINDINGS", ()):
            if isinstance(binding, Binding) and binding.description and binding.action not in seen:
                seen.add(binding.action)
                yield SystemCommand(
                    binding.description,
                    binding.tooltip or binding.description,
                    partial(screen.run_action, binding.action),
                )
        # The area screens inherit Filter and Reload from their base.
        for base in type(screen).__mro__[1:]:
            for binding in base.__dict__.get("BINDINGS", ()):
                if (
                    isinstance(binding, Binding)
                    and binding.description
                    and binding.action not in seen
                    and base is not Screen
                ):
                    seen.add(binding.action)
                    yield SystemCommand(
                        binding.description,
                        binding.tooltip or binding.description,
                        partial(screen.run_action, binding.action),
                    )
        yield from super().get_system_commands(screen)
