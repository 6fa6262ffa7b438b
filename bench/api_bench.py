"""API throughput and latency on the benchmark data set, measured with wrk.

Seeds a box (20 domains, 1,000 users, 2,000 aliases), starts `miab serve` on a loopback port
in a child process, loads each route with wrk at concurrency 8 for a bounded time, then times
`POST /mail/users/add` one request at a time. Prints a table with the machine's core count.

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
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-H",
         f"Authorization: {auth}", url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw errors for {url}:\n{out}")
    return parse_wrk(out)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def time_adds(base: str, auth: str, domain: str, count: int) -> list[float]:
    timings = []
    for i in range(count):
        body = urllib.parse.urlencode({"email": f"bench{i:03d}@{domain}",
                                       "password": "bench-password-2"}).encode()
        req = urllib.request.Request(base + "/mail/users/add", data=body,
                                     headers={"Authorization": auth})
        start = time.perf_counter()
        with urllib.request.urlopen(req) as resp:
            resp.read()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=None,
                        help="server worker processes (default: the server's own choice)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--adds", type=int, default=50)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")

    workdir = Path(tempfile.mkdtemp(prefix="miab-bench-"))
    box = init_box(workdir / "box")
    admin = seed(box)
    api_key = box.auth.user_api_key(admin)
    box.close()
    port = free_port()
    cmd = [sys.executable, "-m", "miab_tui", "serve", "--box", str(workdir / "box"),
           "--port", str(port)]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/mail/users")
        key_auth = basic(admin, api_key)
        pw_auth = basic(admin, BENCH_PASSWORD)
        cheap = f"{base}/mail/users/privileges?email={admin}"
        rows = [
            ("GET /mail/users?format=json (API key)", "users",
             run_wrk(base + "/mail/users?format=json", key_auth, args.seconds)),
            ("GET /mail/aliases?format=json (API key)", "aliases",
             run_wrk(base + "/mail/aliases?format=json", key_auth, args.seconds)),
            ("GET /mail/users/privileges (API key)", "cheap-key",
             run_wrk(cheap, key_auth, args.seconds)),
            ("GET /mail/users/privileges (password)", "cheap-password",
             run_wrk(cheap, pw_auth, args.seconds)),
        ]
        adds = time_adds(base, key_auth, "domain01.example", args.adds)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"machine: {os.cpu_count()} cores; wrk -t2 -c8 -d{args.seconds}s; "
          "data: 20 domains, 1,000 users, 2,064 aliases")
    print("| route | req/s | p50 ms | p99 ms | reference |")
    print("|---|---:|---:|---:|---|")
    for label, ref, (rps, p50, p99) in rows:
        print(f"| {label} | {rps:,.0f} | {p50:.1f} | {p99:.1f} | {REFERENCE[ref]} |")
    adds.sort()
    p99 = adds[min(len(adds) - 1, int(len(adds) * 0.99))]
    print(f"| POST /mail/users/add, one at a time (n={len(adds)}) | - | "
          f"{statistics.median(adds):.1f} | {p99:.1f} | {REFERENCE['add']} |")


if __name__ == "__main__":
    main()
