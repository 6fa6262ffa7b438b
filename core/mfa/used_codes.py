"""TOTP codes already used, so that none is accepted twice while it is still valid.

The reference remembers only the last accepted code per method (`mfa.mru_token`), so code A,
then B, then A again passes. We keep every code used within its validity window in the
box's state database, keyed by (method, code): claiming a code is one insert, and a conflict
means it was used already, also by another process at the same moment. `mru_token` is still
written, for the reference's daemon.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from core.mfa.totp import VALID_WINDOW

if TYPE_CHECKING:
    from core.storage.db import Database

STEP_SECONDS: Final = 30
# A code is accepted for (2 * VALID_WINDOW + 1) steps (90 s); keep it refused twice as long,
# so clocks that disagree a little between processes cannot reopen the window.
KEEP_SECONDS: Final = 2 * (2 * VALID_WINDOW + 1) * STEP_SECONDS


# The table is created with the rest of the state database (core.audit.STATE_SCHEMA).


def claim(state_db: Database, mfa_id: int, code: str, now: float) -> bool:
    """Record `code` as used for method `mfa_id`; False if it was used already within
    `KEEP_SECONDS` (a replay), in this process or any other."""
    with state_db.write() as conn:
        conn.execute("DELETE FROM used_totp_codes WHERE time<?", (now - KEEP_SECONDS,))
        cursor = conn.execute(
            "INSERT OR IGNORE INTO used_totp_codes (mfa_id, code, time) VALUES (?, ?, ?)",
            (mfa_id, code, now),
        )
        return cursor.rowcount == 1
