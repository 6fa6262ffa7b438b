"""Issue 7, authentication: bounded cost, no timing difference between unknown and known
users, an atomic throttle, per-user login keys, no TOTP replay, fixed header messages."""

from __future__ import annotations

import base64
import threading
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest

from core import Box, open_box
from core.auth import service
from core.config import TRUSTED_PROXIES_KEY, BoxConfig, load_config
from core.errors import AuthError, RateLimited, ValidationError
from core.mail import passwords
from core.mfa import used_codes
from tests.conftest import DEMO_ADMIN_PASSWORD, FIXED_TIME, TEST_ACTOR

ADMIN = "me@example.com"
ADDRESS = "198.51.100.20"
BAD = "Incorrect email address or password."


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def refusal(box: Box, header: str | None, **kw: Any) -> AuthError:
    with pytest.raises(AuthError) as exc:
        box.auth.authenticate(header, **kw)
    return exc.value


def users_table(box: Box) -> list[tuple[Any, ...]]:
    return box.db.query("SELECT * FROM users ORDER BY id")


def failures(box: Box) -> list[tuple[Any, ...]]:
    return box.state_db.query("SELECT address, time FROM failed_logins ORDER BY rowid")


class HashCalls:
    """Every SHA-512 crypt the password code runs: (password length in bytes, setting)."""

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, before: Callable[[], None] | None = None
    ) -> None:
        self.calls: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        real = passwords._sha512_crypt

        def counted(password: bytes, setting: str) -> str:
            with self._lock:
                self.calls.append((len(password), setting))
            if before is not None:
                before()
            return real(password, setting)

        monkeypatch.setattr(passwords, "_sha512_crypt", counted)


def setting_of(stored: str) -> str:
    crypted = stored.removeprefix(passwords.SCHEME_PREFIX)
    return crypted[: crypted.rfind("$")]


# --- the cost of a password check is bounded ----------------------------------------------------


@pytest.mark.parametrize("length", [passwords.MAX_PASSWORD_LENGTH + 1, 3000])
def test_over_long_password_is_one_ordinary_hash_and_no_lookup(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch, length: int
) -> None:
    before = users_table(demo_box)
    hashes = HashCalls(monkeypatch)
    lookups: list[str] = []
    real_query = demo_box.db.query

    def query(sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        lookups.append(sql)
        return real_query(sql, params)

    monkeypatch.setattr(demo_box.db, "query", query)
    exc = refusal(demo_box, basic(ADMIN, "p" * length), address=ADDRESS)
    assert exc.message == BAD
    # One hash, of an ordinary-size password against the dummy hash; no user looked up.
    assert hashes.calls == [(16, setting_of(passwords.DUMMY_HASH))]
    assert not [sql for sql in lookups if "FROM users" in sql]
    # Counted by the throttle, once; nothing else stored changed.
    assert failures(demo_box) == [(ADDRESS, FIXED_TIME)]
    monkeypatch.undo()
    assert users_table(demo_box) == before


def test_sixty_thousand_characters_are_refused_unread(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = users_table(demo_box)
    hashes = HashCalls(monkeypatch)
    exc = refusal(demo_box, basic(ADMIN, "p" * 60_000), address=ADDRESS)
    # The header alone is over the bound: not even decoded.
    assert exc.message == "Authorization header invalid."
    assert hashes.calls == []
    assert failures(demo_box) == [(ADDRESS, FIXED_TIME)]
    assert users_table(demo_box) == before


def test_the_longest_password_still_logs_in(demo_box: Box) -> None:
    longest = "x" * passwords.MAX_PASSWORD_LENGTH
    demo_box.mail.users.set_password("bob@example.com", longest, actor=TEST_ACTOR)
    assert demo_box.auth.authenticate(basic("bob@example.com", longest)).email == (
        "bob@example.com"
    )
    assert refusal(demo_box, basic("bob@example.com", longest + "x")).message == BAD


def test_setting_an_over_long_password_is_refused(demo_box: Box) -> None:
    users = demo_box.mail.users
    before = users_table(demo_box)
    too_long = "Passwords must be at most 256 characters."
    for password, message in (
        ("p" * (passwords.MAX_PASSWORD_LENGTH + 1), too_long),
        ("p" * 60_000, too_long),
        # 200 characters, but 800 bytes: libxcrypt (and so dovecot) could not check it.
        ("\U0001f600" * 200, passwords.TOO_MANY_BYTES),
    ):
        with pytest.raises(ValidationError) as exc:
            users.set_password("bob@example.com", password, actor=TEST_ACTOR)
        assert exc.value.message == message
        with pytest.raises(ValidationError) as exc:
            users.add_user("new@example.com", password, actor=TEST_ACTOR)
        assert exc.value.message == message
    assert users_table(demo_box) == before


def test_unknown_user_pays_the_same_hash_as_a_known_one(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = demo_box.mail.users.password_hash(ADMIN)
    assert stored is not None
    hashes = HashCalls(monkeypatch)
    assert refusal(demo_box, basic(ADMIN, "wrong-password")).message == BAD
    assert refusal(demo_box, basic("nobody@example.com", "wrong-password")).message == BAD
    (known_len, known_setting), (unknown_len, unknown_setting) = hashes.calls
    assert known_len == unknown_len == len("wrong-password")
    assert known_setting == setting_of(stored)
    assert unknown_setting == setting_of(passwords.DUMMY_HASH)
    # Same algorithm, same rounds (the default: no explicit rounds in either setting).
    assert known_setting.count("$") == unknown_setting.count("$") == 2


def test_throttle_refuses_before_hashing(demo_box: Box, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(service.THROTTLE_LIMIT):
        refusal(demo_box, basic(ADMIN, "wrong-password"), address=ADDRESS)
    hashes = HashCalls(monkeypatch)
    for header in (
        basic(ADMIN, "wrong-password"),
        basic("nobody@example.com", "x" * 20),
        basic(ADMIN, "p" * 300),
    ):
        with pytest.raises(RateLimited):
            demo_box.auth.authenticate(header, address=ADDRESS)
    assert hashes.calls == []
    assert len(failures(demo_box)) == service.THROTTLE_LIMIT


def test_parallel_failures_cannot_all_pass_the_throttle(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 wrong passwords at once from one address: only THROTTLE_LIMIT of them are hashed,
    the rest are refused before hashing, although all passed the first (read-only) check."""
    threads_n = 2 * service.THROTTLE_LIMIT
    arrived = threading.Semaphore(0)
    go = threading.Event()

    def hold() -> None:  # every hash waits until all requests are hashing or refused
        arrived.release()
        go.wait(30)

    hashes = HashCalls(monkeypatch, before=hold)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            demo_box.auth.authenticate(basic(ADMIN, "wrong-password"), address=ADDRESS)
        except RateLimited:
            with lock:
                outcomes.append("429")
            arrived.release()
        except AuthError:
            with lock:
                outcomes.append("401")

    threads = [threading.Thread(target=attempt) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for _ in range(threads_n):
        assert arrived.acquire(timeout=30)
    go.set()
    for t in threads:
        t.join(30)
    assert len(hashes.calls) == service.THROTTLE_LIMIT
    assert sorted(outcomes) == ["401"] * service.THROTTLE_LIMIT + ["429"] * service.THROTTLE_LIMIT
    assert len(failures(demo_box)) == service.THROTTLE_LIMIT


def test_a_remembered_password_needs_no_hash_and_no_write(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = basic(ADMIN, DEMO_ADMIN_PASSWORD)
    demo_box.auth.authenticate(header, address=ADDRESS)  # hashed: reserved, then released
    assert failures(demo_box) == []
    hashes = HashCalls(monkeypatch)
    writes: list[int] = []
    real_write = demo_box.state_db.write

    def write() -> Any:
        writes.append(1)
        return real_write()

    monkeypatch.setattr(demo_box.state_db, "write", write)
    assert demo_box.auth.authenticate(header, address=ADDRESS).method == "password"
    assert (hashes.calls, writes) == ([], [])


def test_a_good_password_after_failures_leaves_only_the_failures(demo_box: Box) -> None:
    for _ in range(3):
        refusal(demo_box, basic(ADMIN, "wrong-password"), address=ADDRESS)
    demo_box.auth.authenticate(basic(ADMIN, DEMO_ADMIN_PASSWORD), address=ADDRESS)
    assert len(failures(demo_box)) == 3


def test_stored_and_logged_address_is_bounded(
    demo_box: Box, caplog: pytest.LogCaptureFixture
) -> None:
    huge = "203.0.113.9" + "x" * 250_000 + "\n-timestamp 1"
    refusal(demo_box, basic(ADMIN, "wrong-password"), address=huge)
    ((stored, _),) = failures(demo_box)
    assert len(stored) == service.MAX_ADDRESS_LENGTH and stored.startswith("203.0.113.9x")
    (record,) = [r for r in caplog.records if r.name == "miab.auth"]
    assert stored in record.getMessage() and "\n" not in record.getMessage()
    assert len(record.getMessage()) < 200
    assert service.bounded_address("2001:db8::1\t") == "2001:db8::1?"


# --- the pure-Python SHA-512 crypt --------------------------------------------------------------


def test_fallback_memory_is_linear_in_the_password_length() -> None:
    # The P sequence hashes the password repeated len times; built as one string that was
    # 16 MB for 4,000 characters (3.6 GB for 60,000).
    tracemalloc.start()
    try:
        passwords.sha512_crypt_py(b"p" * 4000, "saltsaltsaltsalt", 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


@pytest.mark.skipif(passwords._LIBCRYPT is None, reason="libxcrypt is not installed")
@pytest.mark.parametrize("length", [0, 1, 63, 64, 65, 127, 128, 255, 256, 300, 511])
def test_fallback_agrees_with_libxcrypt(length: int) -> None:
    password = bytes(range(1, 256)) * 2
    password = password[:length]
    assert passwords._LIBCRYPT is not None
    for salt in ("saltsaltsaltsalt", "ab"):
        assert passwords.sha512_crypt_py(password, salt) == passwords._LIBCRYPT.crypt(
            password, f"$6${salt}"
        )
    assert passwords.sha512_crypt_py(password, "x", 1234, True) == passwords._LIBCRYPT.crypt(
        password, "$6$rounds=1234$x"
    )


# --- Authorization header -----------------------------------------------------------------------


def test_header_errors_never_carry_exception_texts(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    for header in ("Basic abc", "Basic /w==", "Basic w7w6eA==", "Basic é", "Basic ====="):
        assert refusal(demo_box, header).message == "Authorization header invalid."
    decoded: list[object] = []
    real = base64.b64decode
    monkeypatch.setattr(base64, "b64decode", lambda s, *a: decoded.append(s) or real(s, *a))
    long_header = "Basic " + "A" * service.MAX_AUTHORIZATION_LENGTH
    assert refusal(demo_box, long_header).message == "Authorization header invalid."
    assert decoded == []


# --- login keys are bounded per user ------------------------------------------------------------


def test_login_keys_are_bounded_per_user(demo_box: Box) -> None:
    auth = demo_box.auth
    _, admin_key = auth.login(basic(ADMIN, DEMO_ADMIN_PASSWORD))
    demo_box.mail.users.set_password("bob@example.com", "bob-password", actor=TEST_ACTOR)
    bob_keys = [auth.login(basic("bob@example.com", "bob-password"))[1] for _ in range(70)]
    # Bob's 70 logins did not end the admin's session.
    assert auth.authenticate(basic(ADMIN, admin_key)).method == "login_key"
    kept = bob_keys[-service.LOGIN_KEYS_PER_USER :]
    for key in kept:
        assert auth.authenticate(basic("bob@example.com", key)).method == "login_key"
    for key in bob_keys[: -service.LOGIN_KEYS_PER_USER]:
        assert refusal(demo_box, basic("bob@example.com", key)).message == BAD
    counts = dict(demo_box.state_db.query("SELECT email, COUNT(*) FROM login_keys GROUP BY email"))
    assert counts == {ADMIN: 1, "bob@example.com": service.LOGIN_KEYS_PER_USER}


def test_a_new_login_evicts_the_users_least_recently_used_key(demo_box: Box) -> None:
    now = [FIXED_TIME]
    demo_box.clock = lambda: now[0]
    auth = demo_box.auth
    header = basic(ADMIN, DEMO_ADMIN_PASSWORD)
    keys = []
    for _ in range(service.LOGIN_KEYS_PER_USER):
        keys.append(auth.login(header)[1])
        now[0] += 120
    auth.authenticate(basic(ADMIN, keys[0]))  # the oldest key is used again: kept
    auth.login(header)
    assert auth.authenticate(basic(ADMIN, keys[0])).method == "login_key"
    assert refusal(demo_box, basic(ADMIN, keys[1])).message == BAD


# --- TOTP codes are never accepted twice within their window -----------------------------------


def add_totp(box: Box, email: str = ADMIN) -> pyotp.TOTP:
    secret = pyotp.random_base32(32)
    with box.db.write() as conn:
        conn.execute(
            "INSERT INTO mfa (user_id, type, secret) SELECT id, 'totp', ? FROM users WHERE email=?",
            (secret, email),
        )
    return pyotp.TOTP(secret)


def two_codes(totp: pyotp.TOTP) -> tuple[str, str]:
    """Two different codes valid at FIXED_TIME (steps -1, 0, +1)."""
    codes = [totp.at(FIXED_TIME + d) for d in (-30, 0, 30)]
    a = codes[0]
    b = next(c for c in codes[1:] if c != a)
    return a, b


def mru_token(box: Box) -> str | None:
    rows = box.db.query("SELECT mru_token FROM mfa")
    return str(rows[0][0]) if rows[0][0] is not None else None


def test_totp_a_then_b_then_a_again_is_refused(demo_box: Box) -> None:
    a, b = two_codes(add_totp(demo_box))
    header = basic(ADMIN, DEMO_ADMIN_PASSWORD)
    assert demo_box.auth.authenticate(header, token=a).email == ADMIN
    assert demo_box.auth.authenticate(header, token=b).email == ADMIN
    assert mru_token(demo_box) == b  # still kept for the reference's daemon
    exc = refusal(demo_box, header, token=a)
    assert (exc.message, exc.hints) == ("invalid-totp-token", ("invalid-totp-token",))
    assert mru_token(demo_box) == b
    # Another process (its own Box, own connections) refuses both too.
    other = open_box(demo_box.config.system_root, clock=demo_box.clock)
    try:
        for code in (a, b):
            assert refusal(other, header, token=code).message == "invalid-totp-token"
    finally:
        other.close()


def test_used_codes_are_purged_after_their_window(demo_box: Box) -> None:
    now = [FIXED_TIME]
    demo_box.clock = lambda: now[0]
    totp = add_totp(demo_box)
    header = basic(ADMIN, DEMO_ADMIN_PASSWORD)
    demo_box.auth.authenticate(header, token=totp.at(now[0]))
    assert len(demo_box.state_db.query("SELECT * FROM used_totp_codes")) == 1
    now[0] += used_codes.KEEP_SECONDS + 30
    demo_box.auth.authenticate(header, token=totp.at(now[0]))
    rows = demo_box.state_db.query("SELECT code, time FROM used_totp_codes")
    assert rows == [(totp.at(now[0]), now[0])]


def test_the_enabling_code_is_used_up(demo_box: Box) -> None:
    secret = pyotp.random_base32(32)
    totp = pyotp.TOTP(secret)
    a, b = two_codes(totp)
    demo_box.mfa.enable_totp(ADMIN, secret, a, actor=TEST_ACTOR)
    header = basic(ADMIN, DEMO_ADMIN_PASSWORD)
    assert demo_box.auth.authenticate(header, token=b).email == ADMIN
    assert refusal(demo_box, header, token=a).message == "invalid-totp-token"


def test_one_code_sent_at_the_same_moment_passes_once(
    demo_box: Box, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = add_totp(demo_box).at(FIXED_TIME)
    header = basic(ADMIN, DEMO_ADMIN_PASSWORD)
    # The password is checked (and remembered) before the missing code is asked for.
    assert refusal(demo_box, header).message == "missing-totp-token"
    n = 6
    barrier = threading.Barrier(n, timeout=30)
    real_verify = pyotp.TOTP.verify

    def verify(self: pyotp.TOTP, *args: Any, **kwargs: Any) -> bool:
        barrier.wait()  # every request has passed the mru_token check before any stores
        return bool(real_verify(self, *args, **kwargs))

    monkeypatch.setattr(pyotp.TOTP, "verify", verify)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            demo_box.auth.authenticate(header, token=code)
            result = "ok"
        except AuthError as exc:
            result = exc.message
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["invalid-totp-token"] * (n - 1) + ["ok"]


# --- the trusted proxies setting ----------------------------------------------------------------


def test_trusted_proxies_default_and_override(tmp_path: Path, box: Box) -> None:
    assert box.config.is_local and box.config.trusted_proxies == ()
    real = BoxConfig(storage_root=tmp_path, primary_hostname="box.example.com")
    assert [str(n) for n in real.trusted_proxies] == ["127.0.0.1/32", "::1/128"]
    override = real.with_values(extra={TRUSTED_PROXIES_KEY: " 10.0.0.0/8, bogus ,::1"})
    assert [str(n) for n in override.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert real.with_values(extra={TRUSTED_PROXIES_KEY: ""}).trusted_proxies == ()
    # Read from the box's conf file, and kept when the conf is written back.
    conf = box.config.conf_path
    assert conf is not None
    conf.write_text(conf.read_text() + f"{TRUSTED_PROXIES_KEY}=192.0.2.7\n")
    loaded = load_config(box.config.system_root)
    assert [str(n) for n in loaded.trusted_proxies] == ["192.0.2.7/32"]
    assert loaded.conf_values()[TRUSTED_PROXIES_KEY] == "192.0.2.7"
