"""The one door to the host (see `core.host.door`)."""

from core.host.door import (
    CANDIDATE,
    DEFAULT_TIMEOUT,
    SEARCH_PATH,
    Host,
    RunResult,
    ServiceManager,
    ServiceOutcome,
    ServiceResult,
    SwapOutcome,
    SwapResult,
    candidate_path,
    service_command,
    systemctl_command,
)

__all__ = [
    "CANDIDATE",
    "DEFAULT_TIMEOUT",
    "SEARCH_PATH",
    "Host",
    "RunResult",
    "ServiceManager",
    "ServiceOutcome",
    "ServiceResult",
    "SwapOutcome",
    "SwapResult",
    "candidate_path",
    "service_command",
    "systemctl_command",
]
