"""The backup status (SYSTEM.md §3.3): the backups duplicity's collection status lists, their
sizes from the target's listing, and when each will be deleted, as the reference computes them.

`parse_collection_status` reads duplicity's `collection_status` stanza (its ` full DATE VOLUMES`
and ` inc DATE VOLUMES` lines); `compute_status` is the reference's arithmetic, a pure function
of those sets, the listing, `min_age_in_days` and the time now. `StatusCache` keeps the parsed
sets per target, keyed by the target's listing: while the listing is the same, the sets are
too, so duplicity is asked again only after the target changed (a backup, a cleanup).
"""

from __future__ import annotations

import calendar
import datetime
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.backup.duplicity import Stanza
from core.backup.targets import TargetFile
from core.storage.files import atomic_write

# The reference's pattern for the files of a backup, keyed by the backup's end time.
_FILE_DATE: Final = re.compile(
    r"duplicity-(full|full-signatures|(inc|new-signatures)\.(?P<incbase>\d+T\d+Z)\.to)"
    r"\.(?P<date>\d+T\d+Z)\."
)
_DUPLICITY_TIME: Final = "%Y%m%dT%H%M%SZ"
_SET_LINE: Final = re.compile(r" (full|inc) (\d{8}T\d{6}Z) (\d+)(?: .*)?")


@dataclass(frozen=True, slots=True)
class BackupSet:
    """One backup as duplicity's collection status lists it."""

    full: bool
    time: str  # duplicity's form, 20261202T084948Z (UTC)
    volumes: int


@dataclass(frozen=True, slots=True)
class BackupEntry:
    """One row of the status (the spec's `SystemBackupStatus`).

    `date` is RFC 3339 UTC (`2026-12-02T08:49:48Z`); `duplicity_time` the same instant in
    duplicity's own form (what the reference sent as `date`). Either names the backup to
    `restore` or `verify`.
    """

    date: str
    duplicity_time: str
    when: datetime.datetime  # UTC
    date_str: str  # local time and zone, as the reference shows it
    date_delta: str  # its age, `15 hours, 40 minutes`
    full: bool
    size: int
    volumes: int
    deleted_in: str | None

    def as_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "date": self.date,
            "date_str": self.date_str,
            "date_delta": self.date_delta,
            "full": self.full,
            "size": self.size,
            "volumes": self.volumes,
        }
        if self.deleted_in is not None:
            data["deleted_in"] = self.deleted_in
        return data


@dataclass(frozen=True, slots=True)
class BackupStatus:
    """The status of a box's backups. `enabled` is False when the target is `off`; `error`
    says why the backups could not be listed (then `backups` is empty)."""

    enabled: bool
    backups: tuple[BackupEntry, ...] = ()  # newest first
    unmatched_file_size: int = 0
    error: str | None = None

    @property
    def total_size(self) -> int:
        """What the target holds (the reference's `backup-total-size`)."""
        return sum(b.size for b in self.backups) + self.unmatched_file_size

    def find(self, when: str) -> BackupEntry | None:
        """The backup named by its `date` or its `duplicity_time`."""
        return next((b for b in self.backups if when in (b.date, b.duplicity_time)), None)

    def as_json(self) -> dict[str, object]:
        """The spec's `SystemBackupStatusResponse` (docs/compatibility.md, Backup operations:
        `unmatched_file_size` is always there; `backups` is absent when backups are off)."""
        data: dict[str, object] = {"unmatched_file_size": self.unmatched_file_size}
        if self.error is not None:
            data["error"] = self.error
        elif self.enabled:
            data["backups"] = [b.as_json() for b in self.backups]
        return data


def parse_time(text: str) -> datetime.datetime:
    """duplicity's `20261202T084948Z` as an aware UTC datetime."""
    return datetime.datetime.strptime(text, _DUPLICITY_TIME).replace(tzinfo=datetime.UTC)


def parse_collection_status(stanzas: Iterable[Stanza]) -> tuple[BackupSet, ...]:
    """Every backup set in duplicity's collection-status stanzas (primary and other chains),
    as the reference reads the lines that start with ` full` or ` inc`."""
    sets: dict[str, BackupSet] = {}
    for stanza in stanzas:
        for line in stanza.extra:
            match = _SET_LINE.fullmatch(line)
            if match:
                sets[match.group(2)] = BackupSet(
                    match.group(1) == "full", match.group(2), int(match.group(3))
                )
    return tuple(sets.values())


# --- the reference's date arithmetic -----------------------------------------------------------


def _add_months(when: datetime.datetime, months: int) -> datetime.datetime:
    year, month = divmod(when.month - 1 + months, 12)
    year += when.year
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


def reldate(date: datetime.datetime, ref: datetime.datetime, clip: str) -> str:
    """How long before `ref` `date` is, in the reference's words (`3 days, 4 hours`), or
    `clip` when `date` is after `ref`. Calendar months and years, as dateutil's
    `relativedelta(ref, date)` counts them."""
    if ref < date:
        return clip
    if date.tzinfo is not None and ref.tzinfo is not None:
        date = date.astimezone(ref.tzinfo)  # count calendar months in one zone
    months = (ref.year - date.year) * 12 + (ref.month - date.month)
    while months > 0 and _add_months(date, months) > ref:
        months -= 1
    rest = ref - _add_months(date, months)
    years, months = divmod(months, 12)
    days, hours, minutes = rest.days, rest.seconds // 3600, rest.seconds % 3600 // 60
    if years > 1:
        return f"{years} years, {months} months"
    if years == 1:
        return f"{years} year, {months} months"
    if months > 1:
        return f"{months} months, {days} days"
    if months == 1:
        return f"{months} month, {days} days"
    if days >= 7:
        return f"{days} days"
    if days > 1:
        return f"{days} days, {hours} hours"
    if days == 1:
        return f"{days} day, {hours} hours"
    return f"{hours} hours, {minutes} minutes"


def compute_status(
    sets: Sequence[BackupSet],
    files: Sequence[TargetFile],
    *,
    min_age: int,
    now: datetime.datetime,
) -> BackupStatus:
    """SYSTEM.md §3.3 from duplicity's sets and the target's files, at `now` (aware, in the
    zone the dates are shown in)."""
    sizes = {s.time: 0 for s in sets}
    unmatched = 0
    for f in files:
        match = _FILE_DATE.match(f.name)
        if not match:
            continue
        key = match.group("date")
        if key in sizes:
            sizes[key] += f.size
        else:
            unmatched += f.size
    ordered = sorted(sets, key=lambda s: s.time, reverse=True)
    zone = now.tzname() or "UTC"

    # The current chain (newest backups back to the newest full one).
    inc_count = inc_size = 0
    first_date: datetime.datetime | None = None
    full_size: int | None = None
    full_date: datetime.datetime | None = None
    for s in ordered:
        if first_date is None:
            first_date = parse_time(s.time)
        if s.full:
            full_size, full_date = sizes[s.time], parse_time(s.time)
            break
        inc_count += 1
        inc_size += sizes[s.time]
    deleted_in: str | None = None
    if inc_count and inc_size and full_size is not None:
        assert first_date is not None and full_date is not None
        days_to_full = (0.5 * full_size - inc_size) / (inc_size / inc_count)
        next_full = min(
            first_date + datetime.timedelta(days=days_to_full),
            full_date + datetime.timedelta(days=min_age * 10 + 1),
        )
        deleted_on = max(next_full, first_date + datetime.timedelta(days=min_age))
        deleted_in = "approx. %d days" % round(  # noqa: UP031 - the reference's rounding
            (deleted_on - now).total_seconds() / 86400 + 0.5
        )

    entries: list[BackupEntry] = []
    saw_full = False
    for s in ordered:
        when = parse_time(s.time)
        entry_deleted: str | None = None
        if deleted_in:
            entry_deleted = deleted_in
        if s.full:
            saw_full = True
            deleted_in = None
        elif saw_full and not deleted_in:
            deleted_in = reldate(
                now, when + datetime.timedelta(days=min_age), "on next daily backup"
            )
            entry_deleted = deleted_in
        local = when.astimezone(now.tzinfo)
        entries.append(
            BackupEntry(
                date=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                duplicity_time=s.time,
                when=when,
                date_str=local.strftime("%Y-%m-%d %H:%M:%S") + " " + zone,
                date_delta=reldate(local, now, "the future?"),
                full=s.full,
                size=sizes[s.time],
                volumes=s.volumes,
                deleted_in=entry_deleted,
            )
        )
    return BackupStatus(True, tuple(entries), unmatched)


def full_due(
    status: BackupStatus, *, min_age: int, now: datetime.datetime, weekend_rule: bool = True
) -> bool:
    """Whether the next backup must be full (SYSTEM.md §3.1 step 2): no full backup yet, or
    the increments since the last full one exceed half its size, or it is older than
    `min_age × 10 + 1` days. With HEAD's `weekend_rule` the size and age triggers count only
    on Saturdays and Sundays (local time), so full backups, the long ones, fall on weekends."""
    inc_size = 0
    for b in status.backups:
        if not b.full:
            inc_size += b.size
            continue
        if weekend_rule and now.weekday() < 5:
            return False
        if inc_size > 0.5 * b.size:
            return True
        return b.when + datetime.timedelta(days=min_age * 10 + 1) < now
    return True


# --- the cache ---------------------------------------------------------------------------------


def listing_key(target_url: str, files: Sequence[TargetFile]) -> str:
    """A digest of the target and its duplicity files (names and sizes)."""
    digest = hashlib.sha256(target_url.encode("utf-8", "replace"))
    for f in sorted(files, key=lambda f: f.name):
        digest.update(b"\0" + f.name.encode("utf-8", "replace") + b"\0" + str(f.size).encode())
    return digest.hexdigest()


class StatusCache:
    """The sets duplicity listed for a target, kept in a file (0600) while the target's
    listing stays the same, shared by every process of the box."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, key: str) -> tuple[BackupSet, ...] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("key") != key:
                return None
            return tuple(BackupSet(bool(f), str(t), int(v)) for f, t, v in data["sets"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def last(self) -> tuple[BackupSet, ...] | None:
        """The sets last stored, whatever listing they were for."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return tuple(BackupSet(bool(f), str(t), int(v)) for f, t, v in data["sets"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def put(self, key: str, sets: Sequence[BackupSet]) -> None:
        body = {"key": key, "sets": [[s.full, s.time, s.volumes] for s in sets]}
        atomic_write(self.path, json.dumps(body), mode=0o600)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
