"""The System area (SYSTEM.md §5–§6): the status checks (`box.status`, streamed as they finish)
and the box's version, privacy setting, package updates and reboots (`box.system`)."""

from core.system.apt import PackageUpdate
from core.system.model import (
    CheckInfo,
    CheckResult,
    CheckStatus,
    Extra,
    Section,
    StatusItem,
    StatusReport,
)
from core.system.service import (
    NotAvailable,
    RebootOutcome,
    SystemService,
    UpstreamUnreachable,
    VersionInfo,
)
from core.system.status import StatusPlan, StatusService

__all__ = [
    "CheckInfo",
    "CheckResult",
    "CheckStatus",
    "Extra",
    "NotAvailable",
    "PackageUpdate",
    "RebootOutcome",
    "Section",
    "StatusItem",
    "StatusPlan",
    "StatusReport",
    "StatusService",
    "SystemService",
    "UpstreamUnreachable",
    "VersionInfo",
]
