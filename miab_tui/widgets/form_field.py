"""FormField: a label, one input widget and the place where core's message for it appears."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Label, Static


class FormField(Vertical):
    """Wraps one input; `field` is the name core uses in `MiabError.field` for it."""

    DEFAULT_CSS = """
    FormField { height: auto; }
    FormField > .form-field--label { color: $text-secondary; }
    FormField > .form-field--hint { color: $text-muted; }
    FormField > .form-field--hint.-bad { color: $text-warning; }
    FormField > .form-field--hint.-good { color: $text-success; }
    FormField > .form-field--error { color: $text-error; display: none; }
    FormField.-invalid > .form-field--error { display: block; }
    FormField.-invalid > Input { border: tall $error; }
    """

    def __init__(
        self,
        field: str,
        label: str,
        control: Widget,
        *,
        hint: str = "",
        classes: str | None = None,
    ) -> None:
        super().__init__(id="field-" + field.replace("_", "-"), classes=classes)
        self.field = field
        self._label = label
        self.control = control
        self._hint = hint
        self.error = ""  # core's message now shown beside the input, '' when none

    def compose(self) -> ComposeResult:
        yield Label(self._label, classes="form-field--label")
        yield self.control
        if self._hint:
            yield Static(self._hint, classes="form-field--hint")
        yield Static("", classes="form-field--error")

    def on_mount(self) -> None:
        # Tests and snapshots turn blinking off app-wide so frames are deterministic.
        if isinstance(self.control, Input):
            self.control.cursor_blink = getattr(self.app, "cursor_blink", True)

    def show_hint(self, hint: str | Content, state: str = "") -> None:
        """Replace the hint (a field made with one); `state` "good" or "bad" colours it."""
        shown = self.query_one(".form-field--hint", Static)
        shown.update(hint)
        shown.set_class(state == "good", "-good")
        shown.set_class(state == "bad", "-bad")

    @property
    def hint(self) -> str:
        return str(self.query_one(".form-field--hint", Static).content)

    def show_error(self, message: str) -> None:
        self.error = message
        self.query_one(".form-field--error", Static).update(message)
        self.add_class("-invalid")

    def clear_error(self) -> None:
        self.error = ""
        self.query_one(".form-field--error", Static).update("")
        self.remove_class("-invalid")
