"""Backups (SYSTEM.md §3, STORAGE.md §6): settings, status, and backing up, verifying and
restoring with duplicity as jobs. The service is `box.backup` (`core.backup.service`)."""

from core.backup.outcomes import BackupOutcome, RestoreOutcome, VerifyOutcome
from core.backup.restore import RestoreRequest, mailbox_path
from core.backup.service import BackupService
from core.backup.settings import BackupConfig, Target
from core.backup.status import BackupEntry, BackupStatus

__all__ = [
    "BackupConfig",
    "BackupEntry",
    "BackupOutcome",
    "BackupService",
    "BackupStatus",
    "RestoreOutcome",
    "RestoreRequest",
    "Target",
    "VerifyOutcome",
    "mailbox_path",
]
