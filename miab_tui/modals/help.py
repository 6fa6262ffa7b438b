"""HelpDialog: the keys of the screen it was opened on (F1 or ?), built from the screen's own
bindings, so it cannot drift from what the keys do."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from rich.table import Table
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Label, Static

if TYPE_CHECKING:
    from textual.app import App

KEY_WIDTH: Final = 13  # the keys' column

# Dialogs are modal: the app's own keys do not reach through them, so each dialog binds F1
# to the app's help itself.
HELP_BINDING: Final = Binding(
    "f1", "app.help", "Help", show=False, tooltip="The keys of this dialog"
)


@dataclass(frozen=True, slots=True)
class HelpSection:
    """A heading and its (keys, what they do) lines."""

    title: str
    keys: tuple[tuple[str, str], ...]


def key_text(app: App[Any], keys: str) -> str:
    """`x,delete` → `x / del`, as the footer shows each key (but `ctrl+r`, not `^r`)."""
    shown = []
    for key in keys.split(","):
        key = key.strip()
        if key.startswith("ctrl+"):
            shown.append(key)
        elif key == "enter":
            shown.append("enter")
        else:
            shown.append(app.get_key_display(Binding(key, "")))
    return " / ".join(shown)


def binding_lines(
    app: App[Any], bindings: Iterable[BindingType], seen: set[str]
) -> list[tuple[str, str]]:
    """One line per action (the tooltip when there is one), skipping actions in `seen`."""
    lines = []
    for binding in bindings:
        if not isinstance(binding, Binding) or not binding.description:
            continue
        if binding.action in seen:
            continue
        seen.add(binding.action)
        text = binding.tooltip or binding.description
        lines.append((key_text(app, binding.key), text))
    return lines


def screen_sections(app: App[Any], screen: Screen[Any], title: str) -> list[HelpSection]:
    """The screen's own keys (its class's and its bases', nearest first), then the extra
    lines the screen declares in `HELP_KEYS` (Enter, Escape...)."""
    seen: set[str] = set()
    lines: list[tuple[str, str]] = []
    for cls in type(screen).__mro__:
        if cls in (Screen, ModalScreen) or not issubclass(cls, Screen):
            continue
        lines += binding_lines(app, cls.__dict__.get("BINDINGS", ()), seen)
    extra: Sequence[tuple[str, str]] = getattr(screen, "HELP_KEYS", ())
    lines += [(key_text(app, keys), text) for keys, text in extra]
    return [HelpSection(title, tuple(lines))] if lines else []


def section_table(section: HelpSection) -> Table:
    """The keys of a section in a column of their own; a long text wraps beside them."""
    table = Table.grid(padding=(0, 2))
    table.add_column(width=KEY_WIDTH, style="bold")
    table.add_column(ratio=1)
    for keys, text in section.keys:
        table.add_row(keys, text)
    return table


class HelpDialog(ModalScreen[None]):
    """Scrolls when the keys do not fit (an 80x24 terminal); F1, ? or Escape closes it."""

    DEFAULT_CSS = """
    HelpDialog .help-heading { text-style: bold; color: $text-primary; }
    HelpDialog .help-keys { padding-left: 2; margin-bottom: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,question_mark", "close", "Close", tooltip="Close the help"),
    ]

    def __init__(self, title: str, sections: Sequence[HelpSection]) -> None:
        super().__init__(id="help-dialog")
        self.title_text = title
        self.sections = tuple(sections)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help-box"):
            yield Label(self.title_text, classes="dialog-title")
            for number, section in enumerate(self.sections):
                yield Label(section.title, classes="help-heading")
                yield Static(section_table(section), classes="help-keys", id=f"help-keys-{number}")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close", variant="primary", id="help-close")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-box").focus()

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)
