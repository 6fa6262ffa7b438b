"""After a backup: whether duplicity's `remove-older-than` and `cleanup` have anything to do.

The reference runs both after every backup, each a duplicity process that reads the whole
collection again (about as long as a small incremental backup itself). Most nights neither has
anything to do, and that can be told from what the backup already knows: the sets listed before
it (the status that chose full or incremental), the target's listing after it and the local
archive. `plan_upkeep` says which command is needed; whenever the picture is not exactly one
new, whole backup set added to the known ones, it asks for both, as the reference does.

It also gives the sets as duplicity would now list them, so the status is kept ready for the
next run and the TUI without asking duplicity again.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from core.backup.status import BackupSet, parse_time
from core.backup.targets import TargetFile, duplicity_files

_TIME: Final = r"\d{8}T\d{6}Z"
# The files of one backup set (SYSTEM.md §3.2): its volumes, its manifest, its signatures;
# `.gpg` at the target, without it in the archive.
_SET_FILE: Final = re.compile(
    rf"duplicity-(?:(?P<full>full)|inc\.(?P<base>{_TIME})\.to)\.(?P<time>{_TIME})"
    r"\.(?:vol(?P<volume>[1-9]\d*)\.difftar|(?P<manifest>manifest))(?:\.gpg)?"
    rf"|duplicity-(?:full-signatures|new-signatures\.(?P<sigbase>{_TIME})\.to)"
    rf"\.(?P<sigtime>{_TIME})\.sigtar(?:\.gz)?(?:\.gpg)?"
)


@dataclass(frozen=True, slots=True)
class Upkeep:
    """What to run after a backup, and the sets duplicity now has (None: not known without
    asking it)."""

    prune: bool
    cleanup: bool
    sets: tuple[BackupSet, ...] | None = None
    why: tuple[str, ...] = ()


EVERYTHING: Final = Upkeep(True, True)


def old_chain(sets: Sequence[BackupSet], *, now: datetime.datetime, min_age: int) -> bool:
    """Whether `remove-older-than {min_age}D` would delete something: a chain other than the
    newest that ended before `min_age` days ago. Increments without a full backup before them
    (an orphaned chain) count too: duplicity judges those."""
    ordered = sorted(sets, key=lambda s: s.time)
    if not ordered:
        return False
    if not ordered[0].full:
        return True
    cutoff = now - datetime.timedelta(days=min_age)
    ends = [previous.time for previous, s in zip(ordered, ordered[1:], strict=False) if s.full]
    return any(parse_time(end) < cutoff for end in ends)


def _new_set(names: Iterable[str], newest: BackupSet | None) -> BackupSet | None:
    """The one whole backup set that `names` (the files a backup added) make, or None."""
    times: set[str] = set()
    kinds: set[bool] = set()
    volumes: set[int] = set()
    manifest = signatures = False
    for name in names:
        match = _SET_FILE.fullmatch(name)
        if match is None:
            return None
        if match.group("sigtime"):
            times.add(match.group("sigtime"))
            kinds.add(match.group("sigbase") is None)
            base = match.group("sigbase")
            signatures = True
        else:
            times.add(match.group("time"))
            kinds.add(match.group("full") is not None)
            base = match.group("base")
            if match.group("manifest"):
                manifest = True
            else:
                volumes.add(int(match.group("volume")))
        if base is not None and (newest is None or base != newest.time):
            return None  # an increment that does not follow the newest known backup
    if len(times) != 1 or len(kinds) != 1 or not (manifest and signatures and volumes):
        return None
    (time,) = times
    if volumes != set(range(1, max(volumes) + 1)):
        return None
    if newest is not None and time <= newest.time:
        return None
    return BackupSet(kinds.pop(), time, len(volumes))


def _signatures_chained(names: Iterable[str]) -> bool:
    """Whether every signature file links into a chain that starts at a full one: duplicity's
    cleanup deletes the others (e.g. increments' signatures whose full one is gone)."""
    ends: set[str] = set()
    links: list[tuple[str, str]] = []
    for name in names:
        match = _SET_FILE.fullmatch(name)
        if match is None or match.group("sigtime") is None:
            continue
        if match.group("sigbase") is None:
            ends.add(match.group("sigtime"))
        else:
            links.append((match.group("sigtime"), match.group("sigbase")))
    for end, base in sorted(links):  # each link follows an earlier one, so in time order
        if base not in ends:
            return False
        ends.add(end)
    return True


def plan_upkeep(
    known: Sequence[BackupSet] | None,
    before: Sequence[TargetFile],
    after: Sequence[TargetFile],
    archives: Sequence[Sequence[str]],
    *,
    now: datetime.datetime,
    min_age: int,
) -> Upkeep:
    """What `remove-older-than` and `cleanup` would do after a backup.

    `known`: the sets duplicity listed before the backup (None: not asked, e.g. a full backup
    asked for); `before`, `after`: the target's files before and after it; `archives`: the names in
    each folder of the local archive (duplicity keeps one per target: this target's is the
    one with the new backup's manifest).
    """
    if known is None:
        return EVERYTHING
    old = {f.name for f in duplicity_files(before)}
    now_there = {f.name for f in duplicity_files(after)}
    if old - now_there:
        return EVERYTHING  # something else changed the target meanwhile
    newest = max(known, key=lambda s: s.time) if known else None
    added = _new_set(now_there - old, newest)
    if added is None:
        return EVERYTHING
    archive = next((names for names in archives if any(added.time in name for name in names)), None)
    if archive is None:
        return EVERYTHING
    sets = (*known, added)
    why: list[str] = []
    prune = old_chain(sets, now=now, min_age=min_age)
    if not prune:
        why.append(
            f"duplicity remove-older-than not run: no backup chain but the newest ended over "
            f"{min_age} days ago"
        )
    times = {s.time for s in sets}
    stray = not (_signatures_chained(now_there) and _signatures_chained(archive))
    for name in (*now_there, *archive):
        if not name.startswith("duplicity-"):
            continue  # not duplicity's (its lock file, the admin's own files)
        match = _SET_FILE.fullmatch(name)
        if match is None or (match.group("time") or match.group("sigtime")) not in times:
            stray = True  # a partial file, or one of a set duplicity does not list
    if not stray:
        why.append(
            "duplicity cleanup not run: every file at the target and in the archive belongs "
            "to a whole backup"
        )
    return Upkeep(prune, stray, sets, tuple(why))


__all__ = ["EVERYTHING", "Upkeep", "old_chain", "plan_upkeep"]
