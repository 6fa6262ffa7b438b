"""Password rules and dovecot-compatible `{SHA512-CRYPT}` hashes, in-process.

The reference forks `doveadm pw` for every hash and every check; we compute the same glibc
SHA-512 crypt (`$6$`) here: through libxcrypt's `crypt_rn` when the C library is present
(fast, releases the GIL), else with a pure-Python implementation of the same algorithm.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import hmac
import secrets
import threading
from typing import Final

from core.errors import ValidationError

SCHEME_PREFIX: Final = "{SHA512-CRYPT}"
_SALT_ALPHABET: Final = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DEFAULT_ROUNDS: Final = 5000

# The longest password we set or check. 256 characters is far beyond any passphrase or
# password manager's output, and the UTF-8 bound is libxcrypt's: it refuses 512 bytes and
# more, so dovecot (which checks hashes with the same crypt) could never verify a longer one,
# and checking one would fall back to the slow pure-Python hash.
MAX_PASSWORD_LENGTH: Final = 256
MAX_PASSWORD_BYTES: Final = 511
TOO_LONG: Final = f"Passwords must be at most {MAX_PASSWORD_LENGTH} characters."
TOO_MANY_BYTES: Final = (
    f"Passwords must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8"
    " (a character other than plain ASCII takes 2 to 4)."
)


def password_too_long(password: str) -> bool:
    """True if `password` is over the length bound, in characters or in UTF-8 bytes; cheap
    whatever its length (the characters are counted first)."""
    return len(password) > MAX_PASSWORD_LENGTH or (
        not password.isascii()
        and len(password.encode("utf-8", "surrogatepass")) > MAX_PASSWORD_BYTES
    )


NO_PASSWORD: Final = "No password provided."
TOO_SHORT: Final = "Passwords must be at least eight characters."


def unmet_password_rules(password: str) -> tuple[str, ...]:
    """The messages of the password rules `password` breaks, in the order
    `validate_password` checks them (empty when it would be accepted): for a face that shows
    the rules as the admin types."""
    if not password or not password.strip():
        return (NO_PASSWORD,)
    if len(password) < 8:
        return (TOO_SHORT,)
    if len(password) > MAX_PASSWORD_LENGTH:
        return (TOO_LONG,)
    if password_too_long(password):
        return (TOO_MANY_BYTES,)
    return ()


def validate_password(password: str) -> None:
    """Apply the reference's two password rules (BEHAVIOUR.md §2.4) and our length bound.

    Raises:
        ValidationError: empty after strip, shorter than eight characters, or longer than
            `MAX_PASSWORD_LENGTH` characters (`MAX_PASSWORD_BYTES` in UTF-8).
    """
    unmet = unmet_password_rules(password)
    if unmet:
        raise ValidationError(unmet[0], field="password")


# --- SHA-512 crypt, pure Python (Drepper's "Unix crypt using SHA-256 and SHA-512") -------------

_B64_ORDER: Final = (
    (0, 21, 42),
    (22, 43, 1),
    (44, 2, 23),
    (3, 24, 45),
    (25, 46, 4),
    (47, 5, 26),
    (6, 27, 48),
    (28, 49, 7),
    (50, 8, 29),
    (9, 30, 51),
    (31, 52, 10),
    (53, 11, 32),
    (12, 33, 54),
    (34, 55, 13),
    (56, 14, 35),
    (15, 36, 57),
    (37, 58, 16),
    (59, 17, 38),
    (18, 39, 60),
    (40, 61, 19),
    (62, 20, 41),
)


def _b64_triplet(b2: int, b1: int, b0: int, n: int) -> str:
    w = (b2 << 16) | (b1 << 8) | b0
    out = []
    for _ in range(n):
        out.append(_SALT_ALPHABET[w & 0x3F])
        w >>= 6
    return "".join(out)


def _repeat_to(digest: bytes, length: int) -> bytes:
    return (digest * (length // 64 + 1))[:length]


def sha512_crypt_py(
    password: bytes, salt: str, rounds: int = _DEFAULT_ROUNDS, explicit_rounds: bool = False
) -> str:
    """SHA-512 crypt computed in Python; same output as glibc's `crypt(pw, "$6$salt")`.

    Memory stays linear in the password's length: the P sequence's digest (over the
    password repeated len(password) times) is fed piece by piece, never built as one string.
    """
    salt_b = salt.encode("ascii")[:16]
    alt = hashlib.sha512(password + salt_b + password).digest()
    a = hashlib.sha512(password + salt_b)
    a.update(_repeat_to(alt, len(password)))
    n = len(password)
    while n:
        a.update(alt if n & 1 else password)
        n >>= 1
    digest_a = a.digest()
    dp = hashlib.sha512()
    for _ in range(len(password)):
        dp.update(password)
    p_bytes = _repeat_to(dp.digest(), len(password))
    s_bytes = _repeat_to(hashlib.sha512(salt_b * (16 + digest_a[0])).digest(), len(salt_b))
    c = digest_a
    sha = hashlib.sha512
    for i in range(rounds):
        data = p_bytes if i & 1 else c
        if i % 3:
            data += s_bytes
        if i % 7:
            data += p_bytes
        data += c if i & 1 else p_bytes
        c = sha(data).digest()
    encoded = "".join(_b64_triplet(c[x], c[y], c[z], 4) for x, y, z in _B64_ORDER)
    encoded += _b64_triplet(0, 0, c[63], 2)
    rounds_part = f"rounds={rounds}$" if explicit_rounds else ""
    return f"$6${rounds_part}{salt_b.decode('ascii')}${encoded}"


# --- libxcrypt, when present ------------------------------------------------------------------

_CRYPT_DATA_SIZE: Final = 32768  # sizeof(struct crypt_data) in libxcrypt


class _LibCrypt:
    """`crypt_rn` from libxcrypt: reentrant, so threads need no lock; ctypes drops the GIL."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("crypt")
        if not name:
            raise OSError("libcrypt not found")
        lib = ctypes.CDLL(name)
        self._fn = lib.crypt_rn
        self._fn.restype = ctypes.c_char_p
        self._fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        self._buffers = threading.local()

    def crypt(self, password: bytes, setting: str) -> str | None:
        buf = getattr(self._buffers, "buf", None)
        if buf is None:
            buf = self._buffers.buf = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
        out = self._fn(password, setting.encode("ascii"), buf, _CRYPT_DATA_SIZE)
        if not out or out.startswith(b"*"):
            return None
        return str(out.decode("ascii"))


try:
    _LIBCRYPT: _LibCrypt | None = _LibCrypt()
except (OSError, AttributeError):
    _LIBCRYPT = None


def _sha512_crypt(password: bytes, setting: str) -> str:
    """Hash with the `$6$[rounds=N$]salt` setting, via libxcrypt when possible."""
    if _LIBCRYPT is not None and b"\x00" not in password:
        out = _LIBCRYPT.crypt(password, setting)
        if out is not None:
            return out
    parts = setting.split("$")
    rounds, explicit = _DEFAULT_ROUNDS, False
    if len(parts) > 3 and parts[2].startswith("rounds="):
        rounds = max(1000, min(999_999_999, int(parts[2][len("rounds=") :])))
        explicit = True
        salt = parts[3]
    else:
        salt = parts[2]
    return sha512_crypt_py(password, salt, rounds, explicit)


def hash_password(password: str) -> str:
    """Hash as `doveadm pw -s SHA512-CRYPT` does: 16-char salt, default rounds, with prefix."""
    salt = "".join(secrets.choice(_SALT_ALPHABET) for _ in range(16))
    return SCHEME_PREFIX + _sha512_crypt(password.encode("utf-8"), f"$6${salt}")


# A hash of a random password nobody knows, with the default rounds: an unknown user's
# password and an over-long one are checked against it, so they cost what a known user's
# wrong password costs and timing does not tell them apart.
DUMMY_HASH: Final = (
    "{SHA512-CRYPT}$6$bhjkXNkTJCnMpuiA$ah9TdcUk8Go54vTHDQhR55a20Tkx49PX3uTKsUex7yRzXsOGDR8EamQ"
    "RELO1qmPayYXT4XldymjxUWPhvcKzT0"
)
# What an over-long password is hashed as instead: a password of ordinary size.
_DUMMY_PASSWORD: Final = "x" * 16


class PasswordVerifier:
    """Checks passwords against stored hashes, remembering recent successes.

    A success is remembered as an HMAC of (hash, password) under a per-process random key, so
    repeated API calls with the same password skip the 5,000 SHA-512 rounds. The memo holds no
    password and dies with the process.
    """

    _MAX_ENTRIES: Final = 4096

    def __init__(self) -> None:
        self._memo_key = secrets.token_bytes(32)
        self._memo: set[bytes] = set()
        self._lock = threading.Lock()

    def _memo_token(self, stored: str, password: str) -> bytes:
        return hmac.new(
            self._memo_key,
            stored.encode() + b"\x00" + password.encode("utf-8", "surrogatepass"),
            hashlib.sha256,
        ).digest()

    def remembered(self, password: str, stored: str) -> bool:
        """True if this password was verified against `stored` recently: no hash to run."""
        return self._memo_token(stored, password) in self._memo

    def verify(self, password: str, stored: str) -> bool:
        """True if `password` matches `stored` (`{SHA512-CRYPT}$6$...` or a bare `$6$...`).
        A password over the length bound never matches (it is not hashed at all)."""
        token = self._memo_token(stored, password)
        if token in self._memo:
            return True
        ok = verify_password(password, stored)
        if ok:
            with self._lock:
                if len(self._memo) >= self._MAX_ENTRIES:
                    self._memo.clear()
                self._memo.add(token)
        return ok

    def fail_like_a_check(self, password: str) -> bool:
        """Pay what checking `password` against a real hash costs, and fail: an unknown user's
        login, or (hashed as an ordinary-size one) an over-long password's. Always False."""
        if password_too_long(password):
            password = _DUMMY_PASSWORD
        verify_password(password, DUMMY_HASH)
        return False


def verify_password(password: str, stored: str) -> bool:
    """Check a password against a dovecot hash; unknown schemes never match, nor does a
    password over the length bound (no hash is computed for it)."""
    if password_too_long(password):
        return False
    crypted = stored
    if crypted.startswith("{"):
        scheme, _, crypted = crypted[1:].partition("}")
        if scheme.upper() not in ("SHA512-CRYPT", "CRYPT"):
            return False
    if not crypted.startswith("$6$"):
        return False
    setting = crypted[: crypted.rfind("$")]
    try:
        computed = _sha512_crypt(password.encode("utf-8"), setting)
    except (ValueError, IndexError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(computed.encode(), crypted.encode())
