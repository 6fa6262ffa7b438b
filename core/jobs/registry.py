"""Job kinds: a name → the function that does the work, run by `core.jobs.runner`.

A kind's function gets a `JobContext` (the runner's own Box, the actor who asked, the
parameters given at start, and `progress`) and returns the job's result text. Whatever it
raises makes the job `failed` with the exception's message (a `MiabError`'s `message`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from core.audit import Actor
from core.errors import ValidationError

if TYPE_CHECKING:
    from core.box import Box

KIND_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True, slots=True)
class JobContext:
    box: Box
    actor: Actor
    params: Mapping[str, object]
    # progress(line, fraction): a line ("" for none) and/or the fraction done (0..1, or None).
    progress: Callable[[str, float | None], None]


JobFunction = Callable[[JobContext], str]

_KINDS: dict[str, JobFunction] = {}


def register(kind: str) -> Callable[[JobFunction], JobFunction]:
    """Register the decorated function as the work of `kind` (a lower-case name)."""
    if not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"not a job kind name: {kind!r}")

    def decorate(function: JobFunction) -> JobFunction:
        if _KINDS.get(kind, function) is not function:
            raise ValueError(f"job kind {kind!r} is registered already")
        _KINDS[kind] = function
        return function

    return decorate


def job_function(kind: str) -> JobFunction:
    """Raises: ValidationError: no such kind."""
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValidationError(f"There is no job kind {kind!r}.", field="kind") from None


def job_kinds() -> tuple[str, ...]:
    return tuple(sorted(_KINDS))
