"""What the backup jobs did: values the jobs return as JSON (a job's result is text) and the
faces read back with `from_json`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


def _load(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an outcome")
    return data


@dataclass(frozen=True, slots=True)
class BackupOutcome:
    """A backup run. `made` is False when backups are off (nothing was done); `full` says
    which kind was made; `lines` what happened, for the admin (services, hooks, figures);
    `log` the run's log file."""

    made: bool
    full: bool | None
    lines: tuple[str, ...]
    log: str = ""
    statistics: tuple[tuple[str, str], ...] = ()  # duplicity's Backup Statistics

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BackupOutcome:
        d = _load(text)
        return cls(
            bool(d["made"]),
            d["full"],
            tuple(d["lines"]),
            d.get("log", ""),
            tuple((str(k), str(v)) for k, v in d.get("statistics", ())),
        )


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    """A verification of a backup against the live files (`duplicity verify --compare-data`).
    `differences` holds the first differences duplicity found, in its words (`File a/b has
    mtime …`, `File x is missing`, `New file y`); `difference_count` counts them all."""

    time: str  # the backup verified (duplicity's form), "" for the newest
    compared: int
    difference_count: int
    differences: tuple[str, ...]
    log: str = ""

    @property
    def identical(self) -> bool:
        return self.difference_count == 0

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VerifyOutcome:
        d = _load(text)
        return cls(
            str(d["time"]),
            int(d["compared"]),
            int(d["difference_count"]),
            tuple(d["differences"]),
            d.get("log", ""),
        )


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    """A restore: which backup, which path (`""`: all of it), where it went, and for an
    in-place restore the folder that now holds the data it replaced."""

    time: str
    path: str
    destination: str
    in_place: bool
    lines: tuple[str, ...]
    previous: str = ""
    log: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RestoreOutcome:
        d = _load(text)
        return cls(
            str(d["time"]),
            str(d["path"]),
            str(d["destination"]),
            bool(d["in_place"]),
            tuple(d["lines"]),
            d.get("previous", ""),
            d.get("log", ""),
        )
