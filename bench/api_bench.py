"""API throughput and latency on the benchmark data set, measured with wrk.

Seeds a box (20 domains, 1,000 users, 2,000 aliases), starts `miab serve` on a loopback port
in a child process, loads each route with wrk at concurrency 8 for a bounded time, then times
`POST /mail/users/add` one request at a time. Then the cost of refused logins (server CPU
and worker RSS per request: a wrong password, an unknown user, a 60 kB password), each
request from its own loopback address so the throttle does not answer instead, and the
workers' memory on a box with 10,000 users. Prints tables with the machine's core count.

    python3 -m bench.api_bench [--seconds 10] [--workers N] [--threads N]
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from bench.seed import BENCH_PASSWORD, seed
from core import init_box

# The reference on a 2-core machine with the same data (figures from the issue).
REFERENCE = {
    "users": "42 req/s, p99 222 ms",
    "aliases": "9.5 req/s, p99 1.1 s",
    "cheap-key": "1,300 req/s",
    "cheap-password": "138 req/s",
    "add": "566 ms",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers (401 without credentials)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer at {url}")


def parse_wrk(output: str) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))

    def pct(label: str) -> float:
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, pct("50"), pct("99")


def run_wrk(url: str, auth: str, seconds: int, connections: int = 8) -> tuple[float, float, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"Authorization: {auth}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors for {url}:\n{out}")
    return parse_wrk(out)


def run_wrk_median(url: str, auth: str, seconds: int, repeats: int) -> tuple[float, float, float]:
    """The run with the median throughput of `repeats` runs: this kind of machine (a shared
    VM) has stretches of a few seconds where everything runs at a third of its speed."""
    runs = sorted((run_wrk(url, auth, seconds) for _ in range(repeats)), key=lambda r: r[0])
    return runs[len(runs) // 2]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def time_adds(base: str, auth: str, domain: str, count: int) -> list[float]:
    timings = []
    for i in range(count):
        body = urllib.parse.urlencode(
            {"email": f"bench{i:03d}@{domain}", "password": "bench-password-2"}
        ).encode()
        req = urllib.request.Request(
            base + "/mail/users/add", data=body, headers={"Authorization": auth}
        )
        start = time.perf_counter()
        with urllib.request.urlopen(req) as resp:
            resp.read()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def start_serve(box_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """`miab serve` on the box as an admin starts it (its own defaults unless `extra`)."""
    return subprocess.Popen(
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def server_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The server process and its workers."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [server.pid, *map(int, children)]


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def refused_login_cost(
    port: int, pids: list[int], user: str, password: str, count: int, first_address: int
) -> tuple[float, float, str]:
    """(server CPU ms per request, highest worker peak RSS MB, statuses) for `count` requests
    with these credentials, each from a loopback address of its own."""
    header = f"Authorization: {basic(user, password)}\r\n"
    request = (
        f"GET /mail/users/privileges?email={user} HTTP/1.1\r\nHost: x\r\n"
        f"{header}Connection: close\r\n\r\n"
    ).encode()
    statuses: dict[str, int] = {}
    before = cpu_seconds(pids)
    for n in range(first_address, first_address + count):
        source = f"127.{(n >> 16) & 0xFF or 1}.{(n >> 8) & 0xFF}.{n & 0xFF or 1}"
        with socket.create_connection(
            ("127.0.0.1", port), timeout=120, source_address=(source, 0)
        ) as sock:
            sock.sendall(request)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        status = reply.split(b" ", 2)[1].decode() if reply else "closed"
        statuses[status] = statuses.get(status, 0) + 1
    cpu_ms = (cpu_seconds(pids) - before) * 1000 / count
    peak = max(rss_mb(pid, "VmHWM") for pid in pids[1:])
    return cpu_ms, peak, ", ".join(f"{k}×{v}" for k, v in sorted(statuses.items()))


def worker_memory(users: int, seconds: int) -> list[float]:
    """Each worker's RSS (MB) after serving the users and aliases listings of a big box."""
    workdir = Path(tempfile.mkdtemp(prefix="miab-bench-big-"))
    try:
        box = init_box(workdir / "box")
        admin = seed(box, users=users, aliases=users * 2)
        api_key = box.auth.user_api_key(admin)
        box.close()
        port = free_port()
        server = start_serve(workdir / "box", port)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/mail/users")
            auth = basic(admin, api_key)
            for path in (
                "/mail/users?format=json",
                "/mail/aliases?format=json",
                "/mail/domains",
                "/dns/zones",
            ):
                run_wrk(base + path, auth, max(1, seconds // 4))
            return [rss_mb(pid) for pid in server_pids(server)[1:]]
        finally:
            server.terminate()
            server.wait(10)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per route; the median run is reported"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="server worker processes (default: the server's own choice)",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--adds", type=int, default=50)
    parser.add_argument(
        "--logins", type=int, default=200, help="refused logins per kind for the cost rows"
    )
    parser.add_argument(
        "--big-users",
        type=int,
        default=10_000,
        help="users on the box whose worker memory is measured",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="miab-bench-"))
    box = init_box(workdir / "box")
    admin = seed(box)
    api_key = box.auth.user_api_key(admin)
    box.close()
    port = free_port()
    extra: list[str] = []
    if args.workers:
        extra += ["--workers", str(args.workers)]
    if args.threads:
        extra += ["--threads", str(args.threads)]
    server = start_serve(workdir / "box", port, *extra)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/mail/users")
        key_auth = basic(admin, api_key)
        pw_auth = basic(admin, BENCH_PASSWORD)
        cheap = f"{base}/mail/users/privileges?email={admin}"
        # Warm up every worker and thread first (connections, caches, page cache).
        for path in ("/mail/users?format=json", "/mail/aliases?format=json"):
            run_wrk(base + path, key_auth, 3)
        rows = [
            (
                "GET /mail/users?format=json (API key)",
                "users",
                run_wrk_median(
                    base + "/mail/users?format=json", key_auth, args.seconds, args.repeats
                ),
            ),
            (
                "GET /mail/aliases?format=json (API key)",
                "aliases",
                run_wrk_median(
                    base + "/mail/aliases?format=json", key_auth, args.seconds, args.repeats
                ),
            ),
            (
                "GET /mail/users/privileges (API key)",
                "cheap-key",
                run_wrk_median(cheap, key_auth, args.seconds, args.repeats),
            ),
            (
                "GET /mail/users/privileges (password)",
                "cheap-password",
                run_wrk_median(cheap, pw_auth, args.seconds, args.repeats),
            ),
        ]
        adds = time_adds(base, key_auth, "domain01.example", args.adds)
        pids = server_pids(server)
        long_password = "x" * 60_000
        costs = [
            (
                "wrong password, known user",
                refused_login_cost(port, pids, admin, "wrong-password-1", args.logins, 1),
            ),
            (
                "unknown user",
                refused_login_cost(
                    port,
                    pids,
                    "nobody@domain00.example",
                    "wrong-password-1",
                    args.logins,
                    1 + args.logins,
                ),
            ),
            (
                "60 kB password, known user",
                refused_login_cost(
                    port, pids, admin, long_password, args.logins, 1 + 2 * args.logins
                ),
            ),
        ]
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"machine: {os.cpu_count()} cores; wrk -t2 -c8 -d{args.seconds}s, median of "
        f"{args.repeats}; "
        "data: 20 domains, 1,000 users, 2,064 aliases"
    )
    print("| route | req/s | p50 ms | p99 ms | reference |")
    print("|---|---:|---:|---:|---|")
    for label, ref, (rps, p50, p99) in rows:
        print(f"| {label} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {REFERENCE[ref]} |")
    adds.sort()
    p99 = adds[min(len(adds) - 1, int(len(adds) * 0.99))]
    print(
        f"| POST /mail/users/add, one at a time (n={len(adds)}) | - | "
        f"{statistics.median(adds):.1f} | {p99:.1f} | {REFERENCE['add']} |"
    )
    print()
    print(f"Refused logins, {args.logins} of each, one per loopback address:")
    print("| request | server CPU ms/request | worker peak RSS MB | answers |")
    print("|---|---:|---:|---|")
    for label, (cpu_ms, peak, statuses) in costs:
        print(f"| {label} | {cpu_ms:.2f} | {peak:.0f} | {statuses} |")
    print()
    memory = worker_memory(args.big_users, args.seconds)
    print(
        f"Worker RSS with {args.big_users:,} users after serving the listings: "
        + ", ".join(f"{mb:.0f} MB" for mb in memory)
    )


if __name__ == "__main__":
    main()
