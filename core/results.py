"""Values that changes return, shared by both faces."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Change:
    """What a change did, as the reference's lines (`mail user added`, `updated DNS: ...`),
    and whether it changed anything (faces decide on `changed`, never on the text)."""

    lines: tuple[str, ...]
    changed: bool = True
    # The reference answers some outcomes with one bare word (`OK`), sent without a newline.
    bare: bool = False

    @property
    def text(self) -> str:
        """The lines as the reference's response body: each followed by a newline (a bare
        word as it is)."""
        if self.bare:
            return "".join(self.lines)
        return "".join(line + "\n" for line in self.lines)

    def __add__(self, other: Change) -> Change:
        return Change(self.lines + other.lines, self.changed or other.changed)

    @classmethod
    def of(cls, *lines: str) -> Change:
        return cls(tuple(line for line in lines if line))

    @classmethod
    def unchanged(cls, *lines: str, bare: bool = False) -> Change:
        """A change that changed nothing (its lines say why, e.g. the reference's `OK`)."""
        return cls(tuple(line for line in lines if line), changed=False, bare=bare)
