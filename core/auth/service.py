"""The one authentication path both the API server and the CLI use."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import os
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

import pyotp

from core.audit import Actor
from core.config import ProxyNetwork
from core.errors import AuthError, NotAdmin, RateLimited
from core.mail.passwords import PasswordVerifier, password_too_long
from core.mail.users import parse_privileges
from core.mfa import used_codes
from core.mfa.totp import normalize_token
from core.storage.files import atomic_write

if TYPE_CHECKING:
    from core.box import Box

log = logging.getLogger("miab.auth")

Method = Literal["master", "api_key", "login_key", "password"]

BAD_CREDENTIALS: Final = "Incorrect email address or password."
NO_HEADER: Final = "No authorization header provided."
INVALID_HEADER: Final = "Authorization header invalid."
# A Basic header for the longest address and password is well under 1 KB; a longer one is
# refused unread.
MAX_AUTHORIZATION_LENGTH: Final = 4096
THROTTLE_LIMIT: Final = 10
THROTTLE_WINDOW: Final = 60.0
# What the throttle stores and logs of a caller's address (an IPv6 address with a zone index
# fits); the API hands over only parsed IP addresses or the socket peer anyway.
MAX_ADDRESS_LENGTH: Final = 64
LOGIN_KEY_MAX_AGE: Final = 2 * 24 * 3600.0
# Each user's newest login keys are kept: a new login evicts only that user's least recently
# used one, never another user's session.
LOGIN_KEYS_PER_USER: Final = 10
_TOUCH_INTERVAL: Final = 60.0
_ADDRESS_OK: Final = re.compile(r"[\x21-\x7e]*")
_ADDRESS_UNSAFE: Final = re.compile(r"[^\x21-\x7e]")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: `email` is None for the master key."""

    email: str | None
    privileges: tuple[str, ...]
    method: Method

    @property
    def is_admin(self) -> bool:
        return "admin" in self.privileges


def parse_basic(header: str | None) -> tuple[str, str]:
    """Split a Basic `Authorization` header into (username, password) as the reference does.

    Unlike the reference, an undecodable header gets the fixed `Authorization header
    invalid.` rather than the decoder's own message, and so does a header over
    `MAX_AUTHORIZATION_LENGTH` characters (not decoded at all).

    Raises:
        AuthError: absent, too long, not Basic, undecodable, or without a username.
    """
    if not header:
        raise AuthError(NO_HEADER)
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        raise AuthError(INVALID_HEADER)
    parts = header.split(None, 1)
    if len(parts) != 2 or parts[0] != "Basic":
        raise AuthError(INVALID_HEADER)
    try:
        decoded = base64.b64decode(parts[1]).decode("ascii")
    except (binascii.Error, ValueError):
        raise AuthError(INVALID_HEADER) from None
    if ":" not in decoded:
        raise AuthError(INVALID_HEADER)
    username, _, password = decoded.partition(":")
    if not username:
        raise AuthError(INVALID_HEADER)
    return username, password


def bounded_address(address: str) -> str:
    """The caller's address as the throttle stores and logs it: at most `MAX_ADDRESS_LENGTH`
    characters, printable ASCII without spaces (anything else becomes `?`)."""
    address = address[:MAX_ADDRESS_LENGTH]
    return address if _ADDRESS_OK.fullmatch(address) else _ADDRESS_UNSAFE.sub("?", address)


@dataclass(slots=True)
class _Attempt:
    """One authentication: the address it counts against and, once a password hash is
    about to run, the failure row reserved for it (removed again if the password matches)."""

    address: str
    reserved: int | None = None


class AuthService:
    def __init__(self, box: Box) -> None:
        self._box = box
        self._verifier = PasswordVerifier()
        self._master_cache: tuple[int, str] | None = None
        # A plain string: building the Path on every request costs more than the HMAC.
        self._key_path = str(box.config.api_key_path)

    # --- the master key -------------------------------------------------------------------

    def master_key(self) -> str:
        """The system API key from the key file (re-read when the file changes)."""
        try:
            mtime = os.stat(self._key_path).st_mtime_ns
        except FileNotFoundError:
            return ""
        if self._master_cache is None or self._master_cache[0] != mtime:
            with open(self._key_path, encoding="ascii") as f:
                self._master_cache = (mtime, f.read().strip())
        return self._master_cache[1]

    def rotate_master_key(self, *, actor: Actor) -> str:
        """Write a new master key (32 hex characters, as upstream's setup): every per-user API
        key and every login key made with the old one stops working. Audited (the key is
        not recorded)."""
        with self._box.audit.recording(actor, "rotate master key", "master key"):
            key = secrets.token_hex(16)
            atomic_write(self._box.config.api_key_path, key + "\n", mode=0o640)
            self._master_cache = None
            with self._box.state_db.write() as conn:
                conn.execute("DELETE FROM login_keys")
        return key

    # --- per-user keys --------------------------------------------------------------------

    def _mfa_state_json(self, email: str) -> str:
        if not self._box.schema.has_mfa:
            return "[]"
        rows = self._box.db.query(
            "SELECT mfa.id, mfa.type, mfa.secret FROM mfa JOIN users ON users.id = mfa.user_id"
            " WHERE users.email=? ORDER BY mfa.id",
            (email,),
        )
        return json.dumps([{"id": i, "type": t, "secret": s} for i, t, s in rows], sort_keys=True)

    def user_api_key(self, email: str) -> str | None:
        """The reference's per-user API key: an HMAC of the password hash and MFA state under
        the master key, so it changes with the password, MFA, or a key rotation."""
        pw_hash = self._box.mail.users.password_hash(email)
        master = self.master_key()
        if pw_hash is None or not master:
            return None
        message = "AUTH:" + email + " " + pw_hash + " " + self._mfa_state_json(email)
        return hmac.new(master.encode("ascii"), message.encode("utf-8"), hashlib.sha256).hexdigest()

    def _state_token(self, email: str, pw_hash: str) -> str:
        message = pw_hash + " " + self._mfa_state_json(email)
        return hmac.new(
            self.master_key().encode("ascii"), message.encode("utf-8"), hashlib.sha256
        ).hexdigest()

    # --- throttling -----------------------------------------------------------------------

    @property
    def trusted_proxies(self) -> tuple[ProxyNetwork, ...]:
        """The box's trusted proxies (`BoxConfig.trusted_proxies`), for the API's client
        address."""
        return self._box.config.trusted_proxies

    @staticmethod
    def _refusal(address: str, count: int, oldest: float | None, now: float) -> None:
        if count >= THROTTLE_LIMIT and oldest is not None:
            retry = max(1, math.ceil(oldest + THROTTLE_WINDOW - now))
            raise RateLimited(
                f"Too many failed login attempts from {address}. Try again in {retry} seconds.",
                retry_after=retry,
            )

    def check_throttle(self, address: str) -> None:
        """Raises: RateLimited: this address failed too often within the window."""
        now = self._box.clock()
        count, oldest = self._box.state_db.query(
            "SELECT COUNT(*), MIN(time) FROM failed_logins WHERE address=? AND time>?",
            (address, now - THROTTLE_WINDOW),
        )[0]
        self._refusal(address, count, oldest, now)

    def _reserve(self, attempt: _Attempt) -> None:
        """Count the attempt as a failure before a password hash runs, in the same write
        transaction as the throttle's check: parallel requests from one address cannot all
        pass the check before any of their failures is recorded.

        Raises:
            RateLimited: the address is over the limit (nothing is hashed).
        """
        if not attempt.address or attempt.reserved is not None:
            return
        now = self._box.clock()
        with self._box.state_db.write() as conn:
            conn.execute("DELETE FROM failed_logins WHERE time<=?", (now - THROTTLE_WINDOW,))
            count, oldest = conn.execute(
                "SELECT COUNT(*), MIN(time) FROM failed_logins WHERE address=? AND time>?",
                (attempt.address, now - THROTTLE_WINDOW),
            ).fetchone()
            self._refusal(attempt.address, count, oldest, now)
            cursor = conn.execute(
                "INSERT INTO failed_logins (address, time) VALUES (?, ?)", (attempt.address, now)
            )
            attempt.reserved = cursor.lastrowid

    def _release(self, attempt: _Attempt) -> None:
        """The password matched: the reserved failure row goes."""
        if attempt.reserved is None:
            return
        with self._box.state_db.write() as conn:
            conn.execute("DELETE FROM failed_logins WHERE rowid=?", (attempt.reserved,))
        attempt.reserved = None

    def record_failure(self, address: str, *, counted: bool = False) -> None:
        """Log the failed login (the line fail2ban matches) and count it, unless it was
        `counted` already (reserved before its password hash)."""
        address = bounded_address(address)
        now = self._box.clock()
        log.warning(
            "Mail-in-a-Box Management Daemon: Failed login attempt from ip %s - timestamp %s",
            address,
            now,
        )
        if counted:
            return
        with self._box.state_db.write() as conn:
            conn.execute("DELETE FROM failed_logins WHERE time<=?", (now - THROTTLE_WINDOW,))
            conn.execute("INSERT INTO failed_logins (address, time) VALUES (?, ?)", (address, now))

    # --- authenticating -------------------------------------------------------------------

    def authenticate(
        self,
        header: str | None,
        *,
        token: str | None = None,
        address: str = "",
        allow_keys: bool = True,
        require_admin: bool = False,
    ) -> Caller:
        """Authenticate one request; failures are counted against `address`.

        The cost is bounded before any work: the header's length, then the password's
        (`core.mail.passwords.MAX_PASSWORD_LENGTH`; a longer one fails after one hash of
        ordinary size), and an unknown user's password is hashed against a dummy hash, so
        every failed password costs one hash, whoever the user. Before a hash runs, the
        attempt is counted against `address` (and refused if over the limit).

        Raises:
            RateLimited: the address is throttled (nothing was hashed).
            AuthError: bad credentials; `hints` holds MFA hint codes.
            NotAdmin: `require_admin` and the caller is not an administrator.
        """
        address = bounded_address(address) if address else ""
        if address:
            self.check_throttle(address)
        attempt = _Attempt(address)
        try:
            caller = self._authenticate(header, token=token, allow_keys=allow_keys, attempt=attempt)
        except RateLimited:
            raise
        except AuthError as exc:
            # A request without credentials is how clients discover Basic auth, not an attack.
            if address and header and "missing-totp-token" not in exc.hints:
                self.record_failure(address, counted=attempt.reserved is not None)
            raise
        if require_admin and not caller.is_admin:
            raise NotAdmin("You are not an administrator.")
        return caller

    def _authenticate(
        self, header: str | None, *, token: str | None, allow_keys: bool, attempt: _Attempt
    ) -> Caller:
        username, password = parse_basic(header)
        master = self.master_key()
        if allow_keys and master and hmac.compare_digest(username.encode(), master.encode()):
            return Caller(None, ("admin",), "master")
        if not password:
            raise AuthError("Enter an email address and password.")
        if password_too_long(password):
            # No lookup: one hash of an ordinary-size password, then the usual failure.
            self._check_password(password, None, attempt)
            raise AuthError(BAD_CREDENTIALS)
        row = self._box.db.query(
            "SELECT password, privileges FROM users WHERE email=?", (username,)
        )
        if not row:
            self._check_password(password, None, attempt)
            raise AuthError(BAD_CREDENTIALS)
        pw_hash, privileges = row[0]
        if allow_keys and len(password) == 64:
            if self._check_login_key(username, password, pw_hash):
                return Caller(username, parse_privileges(privileges), "login_key")
            api_key = self.user_api_key(username)
            if api_key and hmac.compare_digest(api_key.encode(), password.encode()):
                return Caller(username, parse_privileges(privileges), "api_key")
        if not self._check_password(password, pw_hash, attempt):
            raise AuthError(BAD_CREDENTIALS)
        self._check_totp(username, token)
        return Caller(username, parse_privileges(privileges), "password")

    def _check_password(self, password: str, pw_hash: str | None, attempt: _Attempt) -> bool:
        """Check `password` against `pw_hash` (None: an unknown user or an over-long password,
        checked against a dummy hash, never matching). A recent success needs no hash and no
        write; otherwise the attempt is reserved as a failure first and released on a match.

        Raises:
            RateLimited: the attempt's address is over the limit (nothing was hashed).
        """
        verifier = self._verifier
        if pw_hash is not None and verifier.remembered(password, pw_hash):
            return True
        self._reserve(attempt)
        if pw_hash is None:
            return verifier.fail_like_a_check(password)
        if not verifier.verify(password, pw_hash):
            return False
        self._release(attempt)
        return True

    def _check_totp(self, email: str, token: str | None) -> None:
        """BEHAVIOUR.md §1.3: each TOTP row in turn. Unlike the reference, which remembers
        only the last used code, no code used within its validity window is accepted again
        (`core.mfa.used_codes`); `mru_token` is still kept for the reference's daemon."""
        if not self._box.schema.has_mfa:
            return
        rows = self._box.db.query(
            "SELECT mfa.id, mfa.secret, mfa.mru_token FROM mfa JOIN users"
            " ON users.id = mfa.user_id WHERE users.email=? AND mfa.type='totp'"
            " ORDER BY mfa.id",
            (email,),
        )
        if not rows:
            return
        hints: list[str] = []
        # pyotp folds Unicode digits (NFKC); compare and store the folded form, or a used
        # code typed in full-width digits would pass the replay check.
        digits = normalize_token(token) if token else None
        for mfa_id, secret, mru_token in rows:
            if not token:
                hints.append("missing-totp-token")
                continue
            if digits is None or (
                mru_token and hmac.compare_digest(digits.encode(), mru_token.encode())
            ):
                hints.append("invalid-totp-token")
                continue
            try:
                ok = pyotp.TOTP(secret).verify(digits, for_time=self._box.clock(), valid_window=1)
            except (ValueError, TypeError):  # a corrupt stored secret matches nothing
                ok = False
            if not ok or not used_codes.claim(
                self._box.state_db, mfa_id, digits, self._box.clock()
            ):
                hints.append("invalid-totp-token")
                continue
            with self._box.db.write() as conn:
                conn.execute("UPDATE mfa SET mru_token=? WHERE id=?", (digits, mfa_id))
            return
        unique = tuple(dict.fromkeys(hints))
        raise AuthError(",".join(unique), hints=unique)

    # --- login keys (upstream's POST /login) ----------------------------------------------

    def login(
        self, header: str | None, *, token: str | None = None, address: str = ""
    ) -> tuple[Caller, str]:
        """Password (+TOTP) login that hands out a new login key for any user.

        Raises: as `authenticate`.
        """
        caller = self.authenticate(header, token=token, address=address, allow_keys=False)
        assert caller.email is not None
        pw_hash = self._box.mail.users.password_hash(caller.email) or ""
        key = secrets.token_hex(32)
        now = self._box.clock()
        with self._box.state_db.write() as conn:
            conn.execute("DELETE FROM login_keys WHERE last_used<?", (now - LOGIN_KEY_MAX_AGE,))
            conn.execute(
                "INSERT INTO login_keys (key_hash, email, kind, state_token, created,"
                " last_used) VALUES (?, ?, 'login', ?, ?, ?)",
                (_key_hash(key), caller.email, self._state_token(caller.email, pw_hash), now, now),
            )
            # This user's newest keys stay (ties in time: the newest made); no other user's
            # session is touched.
            conn.execute(
                "DELETE FROM login_keys WHERE email=? AND key_hash NOT IN (SELECT"
                " key_hash FROM login_keys WHERE email=? ORDER BY last_used DESC,"
                " created DESC, rowid DESC LIMIT ?)",
                (caller.email, caller.email, LOGIN_KEYS_PER_USER),
            )
        log.info("New login session created for %s", caller.email)
        return caller, key

    def logout(self, header: str | None) -> None:
        """Forget the login key in the header; never fails (as upstream)."""
        try:
            username, password = parse_basic(header)
        except AuthError:
            return
        with self._box.state_db.write() as conn:
            conn.execute(
                "DELETE FROM login_keys WHERE key_hash=? AND email=?",
                (_key_hash(password), username),
            )

    def _check_login_key(self, email: str, key: str, pw_hash: str) -> bool:
        rows = self._box.state_db.query(
            "SELECT state_token, last_used FROM login_keys WHERE key_hash=? AND email=?",
            (_key_hash(key), email),
        )
        if not rows:
            return False
        state_token, last_used = rows[0]
        now = self._box.clock()
        if now - last_used > LOGIN_KEY_MAX_AGE or not hmac.compare_digest(
            state_token, self._state_token(email, pw_hash)
        ):
            return False
        if now - last_used > _TOUCH_INTERVAL:
            with self._box.state_db.write() as conn:
                conn.execute(
                    "UPDATE login_keys SET last_used=? WHERE key_hash=?", (now, _key_hash(key))
                )
        return True

    def forget_login_keys(self, email: str) -> None:
        """Called on password and MFA changes and on removal: the user's sessions end."""
        with self._box.state_db.write() as conn:
            conn.execute("DELETE FROM login_keys WHERE email=?", (email,))


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()
