"""Small pilot helpers shared by the TUI tests."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Input, Static

from miab_tui.widgets.form_field import FormField
from miab_tui.widgets.record_table import RecordTable
from tests.tui.conftest import settle


async def select(pilot: Pilot, key: str) -> None:
    """Put the table cursor on the row with this key, with the table focused."""
    table = pilot.app.screen.query_one(RecordTable)
    table.focus()
    table.move_cursor(row=table.get_row_index(key))
    await pilot.pause()


async def fill(pilot: Pilot, field: str, text: str) -> None:
    """Replace the text of a form field's input; the last character is a real keystroke
    (typing every character through the pilot costs ~0.1 s each)."""
    form_field = pilot.app.screen.query_one(f"#field-{field.replace('_', '-')}", FormField)
    control = form_field.control
    assert isinstance(control, Input)
    control.focus()
    await pilot.pause()  # focusing selects all the text; the value is set after that
    control.value = text[:-1]
    control.cursor_position = len(control.value)
    if text:
        await pilot.press(text[-1])


async def fill_password(pilot: Pilot, password: str, again: str | None = None) -> None:
    """Type a password in a form's two password fields (`again` when it differs)."""
    await fill(pilot, "password", password)
    await fill(pilot, "password_again", password if again is None else again)


def dialog_text(pilot: Pilot) -> str:
    """Every text of the dialog shown (title, body), as rendered."""
    return "\n".join(str(widget.render()) for widget in pilot.app.screen.query(Static))


def notifications(pilot: Pilot) -> list[str]:
    """The toasts shown so far, newest last."""
    return [n.message for n in pilot.app._notifications]


def field_error(pilot: Pilot, field: str) -> str:
    """The message shown beside a field ('' when none)."""
    form_field = pilot.app.screen.query_one(f"#field-{field.replace('_', '-')}", FormField)
    assert form_field.has_class("-invalid") == bool(form_field.error)
    return form_field.error


def table_keys(pilot: Pilot) -> list[str]:
    return [row.key for row in pilot.app.screen.query_one(RecordTable).ordered_rows]


async def save(pilot: Pilot) -> None:
    await pilot.press("ctrl+s")
    await settle(pilot)
