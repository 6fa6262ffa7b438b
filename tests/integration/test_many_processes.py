"""Many real processes on one box, as on a real server, and the API server's process model.

For about 20 seconds at once: `miab serve` started as an admin starts it (its default
workers), API clients adding and removing users through it, a loop of `miab user` CLI runs,
a TUI in a process of its own adding users through its form, postfix's `postmap -q` run as
the `postfix` user and dovecot IMAP logins, all on one box. Then every acknowledged add must
be in `users.sqlite`, every acknowledged remove gone, no request may have had a 5xx, the
database must pass `PRAGMA integrity_check`, and no worker may ever have held a deleted
database file open.
"""

from __future__ import annotations

import base64
import contextlib
import grp
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pytest

from core import Box, init_box
from tests.conftest import TEST_ACTOR
from tests.integration.conftest import free_tcp_port, missing_requirement, require_program
from tests.integration.test_dovecot_auth import (  # noqa: F401  (fixtures used by name)
    Dovecot,
    dovecot,
    imap_box,
    shared_dir,
)
from tests.integration.test_postfix_maps import V051_QUERIES, postfix_config_dir, write_maps

pytestmark = pytest.mark.integration

RUN_SECONDS: Final = 20.0
API_WRITERS: Final = 4
ADMIN: Final = "admin@example.com"
ADMIN_PASSWORD: Final = "admin-password-1"
STABLE: Final = "stable@example.com"
STABLE_PASSWORD: Final = "stable-password-1"
REPO: Final = Path(__file__).resolve().parents[2]
# postfix's sqlite client sets no busy timeout: a lookup that lands inside another process's
# commit (rollback journal: a few milliseconds of exclusive lock) fails and is retried by
# postfix later, as with the reference. Anything else is a failure.
LOCKED_DURING_COMMIT: Final = "database is locked"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def miab(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "miab_tui", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def wait_for_workers(self, count: int) -> list[int]:
        deadline = time.monotonic() + 30
        while len(pids := self.worker_pids()) != count and time.monotonic() < deadline:
            time.sleep(0.1)
        return pids

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start_server(box_dir: Path, port: int, log: Path, *extra: str) -> Server:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "miab_tui",
            "serve",
            "--box",
            str(box_dir),
            "--port",
            str(port),
            *extra,
        ],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(proc, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, server.log_text()
        try:
            urllib.request.urlopen(server.base + "/mail/users", timeout=2)
        except urllib.error.HTTPError:
            return server  # it answers (401: no credentials)
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the server did not answer:\n{server.log_text()}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=10)


def api_call(server: Server, path: str, fields: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(
        server.base + path,
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Authorization": basic(ADMIN, ADMIN_PASSWORD)},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def postmap_as_postfix(
    postmap: str, etc: Path, maps: Path, key: str
) -> subprocess.CompletedProcess[str]:
    """`postmap -q KEY` on the users map, as postfix's processes run: user and group postfix,
    no other groups."""
    return subprocess.run(
        [postmap, "-c", str(etc), "-q", key, f"sqlite:{maps}/virtual-mailbox-maps.cf"],
        capture_output=True,
        text=True,
        timeout=30,
        user="postfix",
        group="postfix",
        extra_groups=[],
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Ledger:
    """What each process was told: the last acknowledged state of every address."""

    expected: dict[str, bool] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acknowledged(self, who: str, email: str, present: bool) -> None:
        with self.lock:
            self.expected[email] = present
            self.counts[who] = self.counts.get(who, 0) + 1

    def failed(self, text: str) -> None:
        with self.lock:
            self.failures.append(text)


@pytest.fixture
def busy_box(imap_box: Box) -> Iterator[Box]:  # noqa: F811
    imap_box.mail.users.add_user(ADMIN, ADMIN_PASSWORD, "admin", actor=TEST_ACTOR)
    imap_box.mail.users.add_user(STABLE, STABLE_PASSWORD, actor=TEST_ACTOR)
    if os.geteuid() != 0:
        missing_requirement("needs root: postfix's lookups run as the postfix user")
    try:
        postfix_gid = grp.getgrnam("postfix").gr_gid
    except KeyError:
        missing_requirement("the postfix group is missing (Debian package postfix)")
    # What the README tells a real box's admin: postfix reads users.sqlite through its group.
    os.chown(imap_box.config.users_db, 0, postfix_gid)
    yield imap_box


def test_every_acknowledged_write_lands_with_every_face_and_daemon_at_once(
    busy_box: Box,
    dovecot: Dovecot,  # noqa: F811
    shared_dir: Path,  # noqa: F811
) -> None:
    postmap = require_program("postmap", "postfix")
    box_dir = busy_box.config.system_root
    maps = shared_dir / "maps"
    write_maps(maps, busy_box.config.users_db, V051_QUERIES)
    postfix_etc = postfix_config_dir(shared_dir / "postfix-etc")
    assert (busy_box.config.users_db.stat().st_mode & 0o777) == 0o640
    server = start_server(box_dir, free_tcp_port(), shared_dir / "serve.log")
    ledger = Ledger()
    deleted_files: list[str] = []
    stop = threading.Event()
    deadline = time.monotonic() + RUN_SECONDS

    def api_writer(n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            email = f"api{n}-{i}@example.com"
            status, body = api_call(
                server, "/mail/users/add", {"email": email, "password": "api-password-1"}
            )
            if status == 200:
                ledger.acknowledged("api add", email, True)
            else:
                ledger.failed(f"add {email}: {status} {body}")
            if i % 3 == 2:  # remove the one before
                gone = f"api{n}-{i - 1}@example.com"
                status, body = api_call(server, "/mail/users/remove", {"email": gone})
                if status == 200:
                    ledger.acknowledged("api remove", gone, False)
                else:
                    ledger.failed(f"remove {gone}: {status} {body}")
            i += 1

    def cli_loop() -> None:
        i = 0
        while time.monotonic() < deadline:
            email = f"cli-{i}@example.com"
            done = miab("user", "add", "--box", str(box_dir), email, "cli-password-1")
            if done.returncode == 0:
                ledger.acknowledged("cli add", email, True)
            else:
                ledger.failed(f"cli add {email}: {done.returncode} {done.stderr}")
            if i % 2 == 1:
                gone = f"cli-{i - 1}@example.com"
                done = miab("user", "remove", "--box", str(box_dir), gone)
                if done.returncode == 0:
                    ledger.acknowledged("cli remove", gone, False)
                else:
                    ledger.failed(f"cli remove {gone}: {done.returncode} {done.stderr}")
            i += 1

    def postfix_lookups() -> None:
        while time.monotonic() < deadline:
            result = postmap_as_postfix(postmap, postfix_etc, maps, STABLE)
            if result.returncode == 0 and result.stdout.strip() == "1":
                ledger.acknowledged("postmap as postfix", "", True)
            elif LOCKED_DURING_COMMIT in result.stderr:
                ledger.acknowledged("postmap met a commit", "", True)
            else:
                ledger.failed(
                    f"postmap as postfix: {result.returncode} {result.stdout!r} {result.stderr!r}"
                )

    def imap_logins() -> None:
        while time.monotonic() < deadline:
            if dovecot.can_log_in(STABLE, STABLE_PASSWORD):
                ledger.acknowledged("dovecot login", "", True)
            else:
                ledger.failed(f"dovecot refused {STABLE}:\n{dovecot.log_tail()}")

    def watch_worker_files() -> None:
        while not stop.is_set():
            for pid in server.worker_pids():
                fd_dir = Path(f"/proc/{pid}/fd")
                try:
                    targets = [os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)]
                except OSError:
                    continue
                deleted_files.extend(t for t in targets if "(deleted)" in t and "sqlite" in t)
            stop.wait(0.25)

    tui = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.tui_writer",
            str(box_dir),
            str(RUN_SECONDS),
            "tui",
        ],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    threads = [threading.Thread(target=api_writer, args=(n,)) for n in range(API_WRITERS)]
    threads += [threading.Thread(target=f) for f in (cli_loop, postfix_lookups, imap_logins)]
    watcher = threading.Thread(target=watch_worker_files)
    try:
        watcher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        tui_out, tui_err = tui.communicate(timeout=120)
    finally:
        stop.set()
        watcher.join()
        if tui.poll() is None:
            tui.kill()
        workers = server.worker_pids()
        stop_server(server)

    assert tui.returncode == 0, tui_err[-4000:]
    assert tui_out.rstrip().endswith("done"), tui_out[-2000:]
    for line in tui_out.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "added":
            ledger.acknowledged("tui add", rest, True)
        elif kind == "refused":
            ledger.failed(f"tui: {rest}")

    assert ledger.failures == [], "\n".join(ledger.failures[:20])
    # The journal choice (see test_the_journal_mode_is_the_one_postfix_can_read).
    for who in (
        "api add",
        "api remove",
        "cli add",
        "cli remove",
        "tui add",
        "postmap as postfix",
        "dovecot login",
    ):
        assert ledger.counts.get(who, 0) > 0, (who, ledger.counts)
    assert len(workers) == os.cpu_count(), "the server runs its default workers"
    assert deleted_files == []
    assert "Traceback" not in server.log_text(), server.log_text()

    conn = sqlite3.connect(busy_box.config.users_db)
    try:
        present = {row[0] for row in conn.execute("SELECT email FROM users")}
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()
    lost = sorted(e for e, want in ledger.expected.items() if e and want and e not in present)
    revived = sorted(e for e, want in ledger.expected.items() if e and not want and e in present)
    assert lost == [], f"{len(lost)} acknowledged adds missing: {lost[:10]}"
    assert revived == [], f"{len(revived)} acknowledged removes still present: {revived[:10]}"
    print(json.dumps(ledger.counts, sort_keys=True))


def test_the_journal_mode_is_the_one_postfix_can_read(busy_box: Box, shared_dir: Path) -> None:  # noqa: F811
    """Why users.sqlite keeps the rollback journal: postfix (its own user, read access only)
    reads it; the same database in WAL mode, with no process of ours holding it open, cannot
    be read at all (the reader would have to create the -shm file in a root-owned folder)."""
    postmap = require_program("postmap", "postfix")
    users_db = busy_box.config.users_db
    busy_box.close()
    etc = postfix_config_dir(shared_dir / "postfix-etc")
    write_maps(shared_dir / "maps", users_db, V051_QUERIES)
    found = postmap_as_postfix(postmap, etc, shared_dir / "maps", STABLE)
    assert (found.returncode, found.stdout.strip()) == (0, "1"), found.stderr

    wal_db = users_db.with_name("wal-copy.sqlite")
    shutil.copy2(users_db, wal_db)
    conn = sqlite3.connect(wal_db)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.close()  # the last connection: SQLite removes -wal and -shm
    write_maps(shared_dir / "wal-maps", wal_db, V051_QUERIES)
    refused = postmap_as_postfix(postmap, etc, shared_dir / "wal-maps", STABLE)
    assert refused.returncode != 0
    assert "unable to open database file" in refused.stderr, refused.stderr


# --- the server's process model ----------------------------------------------------------


def connect_refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
    return False


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_the_server_parent_stops_its_workers_and_frees_the_port(tmp_path: Path) -> None:
    init_box(tmp_path / "box").close()
    port = free_tcp_port()
    server = start_server(tmp_path / "box", port, tmp_path / "serve.log", "--workers", "2")
    workers = server.wait_for_workers(2)
    try:
        assert len(workers) == 2
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not connect_refused(port):
            time.sleep(0.1)
        assert connect_refused(port), "a worker still serves after its parent was killed"
        while time.monotonic() < deadline and any(map(running, workers)):
            time.sleep(0.1)
        assert not any(map(running, workers)), "a worker outlived its parent"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGKILL)  # whatever is left of its group

    again = start_server(tmp_path / "box", port, tmp_path / "serve2.log", "--workers", "1")
    stop_server(again)
    assert again.proc.returncode == 0, again.log_text()


def test_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    init_box(tmp_path / "box").close()
    server = start_server(
        tmp_path / "box", free_tcp_port(), tmp_path / "serve.log", "--workers", "2"
    )
    try:
        first = server.wait_for_workers(2)
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            now = server.worker_pids()
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.1)
        assert len(now) == 2 and first[0] not in now, (first, now)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.base + "/mail/users", timeout=5)
        assert refused.value.code == 401
    finally:
        stop_server(server)


def test_idle_connections_do_not_starve_other_clients_and_stalled_ones_are_cut(
    tmp_path: Path,
) -> None:
    from api_server.serving import READ_TIMEOUT, WORKER_CONNECTIONS

    box = init_box(tmp_path / "box")
    box.mail.users.add_user(ADMIN, ADMIN_PASSWORD, "admin", actor=TEST_ACTOR)
    box.close()
    server = start_server(
        tmp_path / "box",
        free_tcp_port(),
        tmp_path / "serve.log",
        "--workers",
        "1",
        "--threads",
        "4",
    )
    held: list[socket.socket] = []
    try:
        # Connected, never a byte sent: three times the waitress default that once stopped
        # the API for everyone, well under one worker's connection bound.
        for _ in range(min(300, WORKER_CONNECTIONS - 10)):
            held.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        for _ in range(20):  # answered and told to close, but never closing their end
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /mail/users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            held.append(sock)
        stalled = socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT + 10)
        stalled.sendall(b"GET /mail/users HTTP/1.1\r\nHost: x\r\n")  # then silence
        request = urllib.request.Request(
            server.base + f"/mail/users/privileges?email={ADMIN}",
            headers={"Authorization": basic(ADMIN, ADMIN_PASSWORD)},
        )
        # Served while all of those are held (long before any idle timeout frees them).
        with urllib.request.urlopen(request, timeout=4) as response:
            assert response.status == 200
        # The stalled request is given up on, freeing its thread: the server closes it.
        assert stalled.recv(1024) == b""
        stalled.close()
    finally:
        for sock in held:
            sock.close()
        stop_server(server)


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send `data`, then read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_requests_the_server_cannot_parse_get_a_plain_reason_and_no_echo(tmp_path: Path) -> None:
    init_box(tmp_path / "box").close()
    server = start_server(
        tmp_path / "box", free_tcp_port(), tmp_path / "serve.log", "--workers", "1"
    )
    try:
        huge = raw_exchange(
            server.port,
            b"GET /mail/users HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Basic " + b"QUFB" * 15_000 + b"\r\n\r\n",
        )
        garbage = raw_exchange(server.port, b"GAR\xffBAGE / HTTP/1.1\r\n\r\n")
    finally:
        stop_server(server)
    head, _, body = huge.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert b"Content-Type: text/plain" in head
    assert body == b"Request Header Fields Too Large\n"
    head, _, body = garbage.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert body == b"Bad Request\n"


def test_a_refused_oversized_body_ends_its_connection_without_draining_it(tmp_path: Path) -> None:
    init_box(tmp_path / "box").close()
    server = start_server(
        tmp_path / "box", free_tcp_port(), tmp_path / "serve.log", "--workers", "1"
    )
    try:
        # gthread alone would drain the body for 5 s before closing; 3 s tells them apart.
        with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
            sock.sendall(
                b"POST /mail/users/add HTTP/1.1\r\nHost: x\r\n"
                b"Content-Length: 104857600\r\n\r\nemail="
            )
            reply = b""
            while chunk := sock.recv(65536):  # the server closes: no wait for the body
                reply += chunk
    finally:
        stop_server(server)
    assert reply.startswith(b"HTTP/1.1 413 ")
