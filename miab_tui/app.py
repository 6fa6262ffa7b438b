"""MiabApp: the on-box admin's terminal UI, one Textual mode per area of the box."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from miab_tui.areas import AREAS
from miab_tui.box_watch import BoxWatcher
from miab_tui.messages import BoxChanged
from miab_tui.screens.activity import ActivityScreen
from miab_tui.screens.aliases import AliasesScreen
from miab_tui.screens.base import AreaScreen
from miab_tui.screens.dns import DnsScreen
from miab_tui.screens.domains import DomainsScreen
from miab_tui.screens.mfa import MfaScreen
from miab_tui.screens.tls import TlsScreen
from miab_tui.screens.users import UsersScreen
from miab_tui.workers import close_log, log_path, open_log

if TYPE_CHECKING:
    from core.box import Box


class MiabApp(App[None]):
    """Runs on the box as root (no login): the Box it is given is the box it administers."""

    CSS_PATH = "app.tcss"
    TITLE = "Mail-in-a-Box"
    MODES: ClassVar = {
        "users": UsersScreen,
        "aliases": AliasesScreen,
        "domains": DomainsScreen,
        "activity": ActivityScreen,
        "mfa": MfaScreen,
        "dns": DnsScreen,
        "tls": TlsScreen,
    }
    DEFAULT_MODE = "users"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            str(number),
            f"switch_mode('{area.mode}')",
            area.title,
            show=False,
            tooltip=area.help,
            id=f"go-{area.mode}",
        )
        for number, area in enumerate(AREAS, start=1)
    ]

    def __init__(
        self, box: Box, *, cursor_blink: bool = True, watch_seconds: float | None = 1.0
    ) -> None:
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

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        with self._file_log_lock:
            if self._file_log is not None:
                close_log(self._file_log)

    def on_box_changed(self, message: BoxChanged) -> None:
        # The area under any dialog too, so it is current when the dialog closes.
        for screen in self.screen_stack:
            if isinstance(screen, AreaScreen):
                screen.box_changed()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette lists every area and every action of the screen it was opened on."""
        for area in AREAS:
            yield SystemCommand(
                f"Go to {area.title}", area.help, partial(self.switch_mode, area.mode)
            )
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
