"""The status checks' values (SYSTEM.md §5): what a check found, as typed items.

A run is planned (`StatusPlan`: its sections and checks, known before anything is looked up),
then streamed: one `CheckResult` per check as it finishes, each holding the `StatusItem`s that
check found (possibly none). `StatusReport` puts a run's results in the reference's order and
gives the reference's list (`POST /system/status`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

SYSTEM_SECTION: Final = "system"
NETWORK_SECTION: Final = "network"

SectionKind = Literal["system", "network", "domain"]
# Which area of the box can fix what a check reports ("outside": the registrar, the ISP, the
# network; nothing the box can change). A face uses it to offer the way to the fix.
Area = Literal["services", "system", "backup", "mail", "dns", "tls", "web", "outside"]


class CheckStatus(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Extra:
    """A line shown under an item (the reference's `extra`): details, DS record fields, keys."""

    text: str
    monospace: bool = False


@dataclass(frozen=True, slots=True)
class StatusItem:
    """One line of the report: what one check found, in the reference's words."""

    section: str  # the section's id
    check: str  # the check's id
    status: CheckStatus
    message: str
    extra: tuple[Extra, ...] = ()


@dataclass(frozen=True, slots=True)
class Section:
    """A heading of the report: `System`, `Network`, or one per domain (shown in Unicode)."""

    id: str  # "system", "network", or the domain as stored (IDNA)
    heading: str
    kind: SectionKind
    index: int  # its place in the report

    @property
    def domain(self) -> str | None:
        return self.id if self.kind == "domain" else None


@dataclass(frozen=True, slots=True)
class CheckInfo:
    """One check of a run, known before it runs. `id` is `SECTION/KIND`, or
    `SECTION/SUBDOMAIN/KIND` for the checks of a `www.`/`autoconfig.`/`autodiscover.` name that
    the reference reports in its parent's section (each message prefixed with the name)."""

    id: str
    section: str
    kind: str  # e.g. "disk", "mx", "nameservers"
    title: str  # what it checks, for a face to show while it runs
    domain: str | None  # the domain it looks at (None for the System and Network checks)
    area: Area
    timeout: float  # seconds; a check still running then is reported as timed out
    uses_dns: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A finished check: its items (none when there is nothing to say, as the reference is
    silent in some cases), how long it took, and whether it ran out of time."""

    check: CheckInfo
    items: tuple[StatusItem, ...]
    elapsed: float
    order: tuple[int, ...]  # where its items go in the report
    timed_out: bool = False

    @property
    def status(self) -> CheckStatus | None:
        """The worst status among its items (None when it has none)."""
        return worst(item.status for item in self.items)


_RANK: Final = {CheckStatus.OK: 0, CheckStatus.WARNING: 1, CheckStatus.ERROR: 2}


def worst(statuses: Iterable[CheckStatus]) -> CheckStatus | None:
    found = list(statuses)
    return max(found, key=_RANK.__getitem__) if found else None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A whole run, in the reference's order: sections in report order, each check's items in
    the order the reference prints them."""

    sections: tuple[Section, ...]
    results: tuple[CheckResult, ...]

    @classmethod
    def of(cls, sections: Sequence[Section], results: Iterable[CheckResult]) -> StatusReport:
        return cls(
            tuple(sorted(sections, key=lambda s: s.index)),
            tuple(sorted(results, key=lambda r: r.order)),
        )

    def items(self, section: str | None = None) -> tuple[StatusItem, ...]:
        return tuple(
            item
            for result in self.results
            for item in result.items
            if section is None or item.section == section
        )

    def counts(self) -> dict[CheckStatus, int]:
        counts = dict.fromkeys(CheckStatus, 0)
        for item in self.items():
            counts[item.status] += 1
        return counts

    @property
    def has_errors(self) -> bool:
        return any(item.status is CheckStatus.ERROR for item in self.items())

    def as_reference(self) -> list[dict[str, object]]:
        """The reference's list (`POST /system/status`, the spec's SystemStatusResponse): each
        section's heading, then its items, `extra` lines under the item they belong to."""
        by_section: dict[str, list[StatusItem]] = {s.id: [] for s in self.sections}
        for item in self.items():
            by_section.setdefault(item.section, []).append(item)
        out: list[dict[str, object]] = []
        for section in self.sections:
            out.append({"type": "heading", "text": section.heading, "extra": []})
            for item in by_section[section.id]:
                out.append(
                    {
                        "type": item.status.value,
                        "text": item.message,
                        "extra": [{"text": e.text, "monospace": e.monospace} for e in item.extra],
                    }
                )
        return out
