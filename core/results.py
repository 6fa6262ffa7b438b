"""Values that changes return, shared by both faces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did, as the reference's lines (`mail user added`, `updated DNS: ...`)."""

    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The lines as the reference's response body: each followed by a newline."""
        return "".join(line + "\n" for line in self.lines)

    def __add__(self, other: Change) -> Change:
        return Change(self.lines + other.lines)

    @classmethod
    def of(cls, *lines: str) -> Change:
        return cls(tuple(line for line in lines if line))
