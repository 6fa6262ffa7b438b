"""Multi-factor authentication of users: status, enabling TOTP, disabling (BEHAVIOUR.md §8).

Every change of a user's MFA rows also changes their per-user API key (it is an HMAC over the
MFA state, BEHAVIOUR.md §1.1) and ends their login sessions, which `MfaService` does
explicitly after each commit.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from core.audit import Actor, AuditLog
from core.errors import NotFound, ValidationError
from core.events import Hooks, UserCredentialsChanged
from core.mfa import qr, totp, used_codes

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.mail.schema import SchemaFeatures
    from core.storage.db import Database

USER_DOES_NOT_EXIST: Final = "User does not exist."
INVALID_USER_OR_ID: Final = "Invalid user or MFA id."
BAD_INPUT: Final = "Bad Input"
NO_MFA_TABLE: Final = "This box's database has no mfa table (older than v0.51): upgrade it first."


@dataclass(frozen=True, slots=True)
class MfaMethod:
    """One enabled second factor as the status lists it: never the secret."""

    id: int
    type: str  # "totp" is the only type the reference makes
    label: str | None


@dataclass(frozen=True, slots=True)
class TotpProvisioning:
    """A fresh TOTP secret offered for enrolment; nothing is stored until it is enabled."""

    secret: str
    uri: str  # otpauth://totp/...
    qr_code_base64: str  # PNG of `uri`
    type: Literal["totp"] = "totp"

    def qr_matrix(self) -> qr.QrMatrix:
        """The QR modules of `uri` for drawing in a terminal (smallest version, level L)."""
        return qr.qr_matrix(self.uri)


@dataclass(frozen=True, slots=True)
class MfaStatus:
    """A user's enabled methods and, when asked for, a new TOTP provisioning."""

    email: str
    enabled: tuple[MfaMethod, ...]
    new_totp: TotpProvisioning | None


class MfaService:
    """MFA rows in users.sqlite's `mfa` table (STORAGE.md §2.1)."""

    def __init__(
        self,
        db: Database,
        state_db: Database,
        schema: SchemaFeatures,
        hostname: str,
        clock: Callable[[], float],
        audit: AuditLog,
        hooks: Hooks,
    ) -> None:
        self._db = db
        self._state_db = state_db
        self._schema = schema
        self._hostname = hostname
        self._clock = clock
        self._audit = audit
        self._hooks = hooks

    # --- reading --------------------------------------------------------------------------

    def _user_id(self, conn: sqlite3.Connection, email: str | None) -> int:
        """Raises: NotFound: no such user (or no email: the master key has none)."""
        row = None
        if email:
            row = conn.execute("SELECT id FROM users WHERE email=?", (email,)).fetchone()
        if row is None:
            raise NotFound(USER_DOES_NOT_EXIST, field="email")
        return int(row[0])

    def list_methods(self, email: str | None) -> tuple[MfaMethod, ...]:
        """The user's enabled methods in the order they were added.

        Raises:
            NotFound: no such user, or no email (`User does not exist.`).
        """
        user_id = self._user_id(self._db.conn, email)
        if not self._schema.has_mfa:
            return ()
        rows = self._db.query(
            "SELECT id, type, label FROM mfa WHERE user_id=? ORDER BY id", (user_id,)
        )
        return tuple(MfaMethod(id=int(i), type=t, label=label) for i, t, label in rows)

    def methods_by_user(self) -> dict[str, tuple[MfaMethod, ...]]:
        """Every user's enabled methods in one query, keyed by email (users without any are
        left out): the admin's overview of who has a second factor."""
        if not self._schema.has_mfa:
            return {}
        methods: dict[str, list[MfaMethod]] = {}
        rows = self._db.query(
            "SELECT users.email, mfa.id, mfa.type, mfa.label FROM mfa"
            " JOIN users ON users.id = mfa.user_id ORDER BY mfa.id"
        )
        for email, mfa_id, mfa_type, label in rows:
            methods.setdefault(email, []).append(
                MfaMethod(id=int(mfa_id), type=mfa_type, label=label)
            )
        return {email: tuple(found) for email, found in methods.items()}

    def provision_totp(self, email: str | None) -> TotpProvisioning:
        """A new secret with its otpauth URI and PNG QR code (SYSTEM.md §4); stores nothing.

        Raises:
            NotFound: no such user, or no email (`User does not exist.`).
        """
        self._user_id(self._db.conn, email)
        assert email is not None  # _user_id refused None
        secret = totp.new_secret()
        uri = totp.provisioning_uri(secret, email, self._hostname)
        return TotpProvisioning(secret=secret, uri=uri, qr_code_base64=qr.png_base64(uri))

    def status(self, email: str | None, *, provision: bool = True) -> MfaStatus:
        """BEHAVIOUR.md §8.1: enabled methods, plus a fresh provisioning if `provision` (the
        reference offers one only when users ask about themselves).

        Raises:
            NotFound: no such user, or no email (`User does not exist.`).
        """
        enabled = self.list_methods(email)
        assert email is not None  # list_methods refused None
        return MfaStatus(
            email=email, enabled=enabled, new_totp=self.provision_totp(email) if provision else None
        )

    # --- changing -------------------------------------------------------------------------

    def enable_totp(
        self,
        email: str | None,
        secret: str | None,
        token: str | None,
        label: str | None = None,
        *,
        actor: Actor,
    ) -> MfaMethod:
        """Add a TOTP method once its first code checks out (BEHAVIOUR.md §8.2).

        Checks in the reference's order: the token is there, the secret is well formed, the
        token is the code of the current step or one either side, the user exists. Unlike the
        reference, the enabling code counts as used (`mru_token` and `core.mfa.used_codes`),
        so it cannot also be used to log in. A user may have more than one TOTP method (as
        in the reference).

        Raises:
            ValidationError: no token (`Bad Input`); missing or malformed secret; wrong
                token (`Invalid token.`); a box without the mfa table.
            NotFound: no such user, or no email (`User does not exist.`).
        """
        with self._audit.recording(actor, "enable MFA", email or ""):
            if token is None:
                raise ValidationError(BAD_INPUT, field="token")
            secret = totp.validate_secret(secret)
            used = totp.verify_token(secret, token, self._clock())
            if used is None:
                raise ValidationError(totp.INVALID_TOKEN, field="token")
            if not self._schema.has_mfa:
                raise ValidationError(NO_MFA_TABLE)
            with self._db.write() as conn:
                user_id = self._user_id(conn, email)
                cursor = conn.execute(
                    "INSERT INTO mfa (user_id, type, secret, mru_token, label)"
                    " VALUES (?, 'totp', ?, ?, ?)",
                    (user_id, secret, used, label),
                )
                mfa_id = int(cursor.lastrowid or 0)
            used_codes.claim(self._state_db, mfa_id, used, self._clock())
            assert email is not None  # _user_id refused None
            self._hooks.emit(UserCredentialsChanged(email))
        return MfaMethod(id=mfa_id, type="totp", label=label)

    def disable(
        self, email: str | None, mfa_id: int | str | None = None, *, actor: Actor
    ) -> tuple[MfaMethod, ...]:
        """Remove one method by id, or all of the user's (BEHAVIOUR.md §8.3); an admin's way
        to let a user who lost their device back in.

        `mfa_id` may be the form's text: empty means all; text that is not a number matches
        no method, as in the reference.

        Returns:
            The methods removed.

        Raises:
            NotFound: no such user, or no email (`User does not exist.`); nothing to remove
                (`Invalid user or MFA id.`).
        """
        if isinstance(mfa_id, str):
            mfa_id = mfa_id.strip() or None
        target = (email or "") + ("" if mfa_id is None else f" #{mfa_id}")
        with self._audit.recording(actor, "disable MFA", target):
            with self._db.write() as conn:
                user_id = self._user_id(conn, email)
                removed = self._remove_rows(conn, user_id, mfa_id)
                if not removed:
                    raise NotFound(INVALID_USER_OR_ID, field="mfa_id")
            assert email is not None  # _user_id refused None
            self._hooks.emit(UserCredentialsChanged(email))
        return removed

    def _remove_rows(
        self, conn: sqlite3.Connection, user_id: int, mfa_id: int | str | None
    ) -> tuple[MfaMethod, ...]:
        if not self._schema.has_mfa:
            return ()
        where, params = "user_id=?", [user_id]
        if mfa_id is not None:
            try:
                number = int(mfa_id)
            except ValueError:
                return ()
            if not -(2**63) <= number < 2**63:  # SQLite integers; no row has such an id
                return ()
            where, params = "user_id=? AND id=?", [user_id, number]
        rows = conn.execute(
            f"SELECT id, type, label FROM mfa WHERE {where} ORDER BY id", params
        ).fetchall()
        conn.execute(f"DELETE FROM mfa WHERE {where}", params)
        return tuple(MfaMethod(id=int(i), type=t, label=label) for i, t, label in rows)
