"""Messages the thread workers post back to the screens (results of core calls)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.message import Message

from miab_tui.widgets.record_table import Row


@dataclass
class RecordsLoaded(Message):
    """An area's records, already turned into table rows off the UI thread.

    `search` holds one lower-cased string per row for the filter, `summary` the
    counts shown beside it, `context` whatever the screen keeps for its actions.
    """

    rows: Sequence[Row]
    search: Sequence[str]
    summary: str
    context: object = None
    # Measured in the worker, so the UI thread needn't: each row's cell widths
    # (`row_lengths`) and the columns' natural widths over all rows (`widths_of`).
    widths: Sequence[int] | None = None
    lengths: Sequence[tuple[int, ...]] | None = None


@dataclass
class ChangeMade(Message):
    """A change went through; `summary` is what the notification shows, under `title`."""

    summary: str
    title: str = "Done"


@dataclass
class ChangeRefused(Message):
    """Core refused (`message` is core's exact wording, `field` the field it names), or the
    work failed unexpectedly (title "Failed"; the traceback is in the box's log)."""

    message: str
    field: str | None = None
    title: str = "Refused"


class BoxChanged(Message):
    """Another face (or process) changed the box: the shown screens read it again."""


class UsersLoaded(RecordsLoaded):
    """The users screen's rows; `context` maps each address to its `MailUser`."""


class AliasesLoaded(RecordsLoaded):
    """The aliases screen's rows; `context` maps each address to its `Alias`."""


class DomainsLoaded(RecordsLoaded):
    """The domains screen's rows."""


class ActivityLoaded(RecordsLoaded):
    """The activity screen's rows (the audit log, newest first)."""
