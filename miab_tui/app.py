"""MiabApp: the on-box admin's terminal UI, one Textual mode per area of the box."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from miab_tui.areas import AREAS
from miab_tui.screens.activity import ActivityScreen
from miab_tui.screens.aliases import AliasesScreen
from miab_tui.screens.dns import DnsScreen
from miab_tui.screens.domains import DomainsScreen
from miab_tui.screens.mfa import MfaScreen
from miab_tui.screens.users import UsersScreen

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
    }
    DEFAULT_MODE = "users"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(str(number), f"switch_mode('{area.mode}')", area.title, show=False,
                tooltip=area.help, id=f"go-{area.mode}")
        for number, area in enumerate(AREAS, start=1)
    ]

    def __init__(self, box: Box, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.box = box
        # Off in tests and snapshots, so every frame of an input is the same.
        self.cursor_blink = cursor_blink
        self.title = box.hostname

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The palette lists every area and every action of the screen it was opened on."""
        for area in AREAS:
            yield SystemCommand(f"Go to {area.title}", area.help,
                                partial(self.switch_mode, area.mode))
        seen: set[str] = set()
        for binding in getattr(screen, "BINDINGS", ()):
            if isinstance(binding, Binding) and binding.description \
                    and binding.action not in seen:
                seen.add(binding.action)
                yield SystemCommand(binding.description, binding.tooltip or binding.description,
                                    partial(screen.run_action, binding.action))
        # The area screens inherit Filter and Reload from their base.
        for base in type(screen).__mro__[1:]:
            for binding in base.__dict__.get("BINDINGS", ()):
                if isinstance(binding, Binding) and binding.description \
                        and binding.action not in seen and base is not Screen:
                    seen.add(binding.action)
                    yield SystemCommand(binding.description,
                                        binding.tooltip or binding.description,
                                        partial(screen.run_action, binding.action))
        yield from super().get_system_commands(screen)
