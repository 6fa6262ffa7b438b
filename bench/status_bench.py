"""Status checks benchmark: time to the first status item and to the full list, ours beside the
reference's `status_checks.py` run the way it runs (`run_checks` on a pool of processes, one
batch: 5 processes as `POST /system/status` makes them), on the same box and the same DNS.

    python3 -m bench.status_bench [--domains 0] [--latency-ms 0,30] [--runs 3]

Needs root, nsd and port 53 on loopback: nsd serves the box's zones on a free loopback port and
a small proxy on 127.0.0.1:53 (UDP and TCP) answers from it after `--latency-ms` (a recursive
resolver's time for a name it has not cached); both sides ask that proxy (ours through the
box's `MIAB_DNS_RESOLVER`, the reference through dnspython's default resolver), and the
reference finds its "Local DNS (bind9)" listening there. The box's public address is 127.0.0.1,
so every service probe stays on this machine.

The reference comes from the mirror (`git archive f66e609d management`) into a temp folder, with
its Python dependencies installed there by pip (`--target`); nothing of it is kept. Two shims
let it run on a machine that is not a Mail-in-a-Box: `shell` reads a missing program (`/bin/nc`,
`rndc`) as a failed one instead of raising, and `get_ssh_port` is None when `sshd -T` fails.

"cold" = the apt list not cached (the first run: `apt-get -s upgrade` takes seconds); "warm" =
cached, as in the reference's daemon after its first request (it keeps the list 8 hours).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query

from core import Box, init_box, open_box, seed_demo
from core.system.apt import forget_cache
from core.tls.service import DNS_RESOLVER_KEY

MIRROR = Path("/work/.mirror/mail-in-a-box+mailinabox/repo")
REFERENCE_COMMIT = "f66e609d"
# The reference's own dependencies; cryptography of its era (it sets attributes on certificate
# objects, which releases from 35 on refuse).
REFERENCE_DEPS = (
    "psutil",
    "python-dateutil",
    "rtyaml",
    "postfix-mta-sts-resolver",
    "cryptography<35",
)
DEPS_DIR = Path(tempfile.gettempdir()) / "miab-status-bench-deps"


# --- DNS: nsd with the box's zones, behind a proxy on 127.0.0.1:53 -----------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nsd(box: Box, folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    nsd = shutil.which("nsd", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if nsd is None:
        sys.exit("status_bench: nsd is not installed (apt-get install nsd)")
    port = free_port()
    state = folder / "nsd-state"
    state.mkdir()
    conf = folder / "nsd.conf"
    conf.write_text(
        "server:\n"
        f"\tip-address: 127.0.0.1@{port}\n\tserver-count: 1\n"
        '\tusername: ""\n\tchroot: ""\n'
        f'\tzonesdir: "{box.dns.zones_dir}"\n\tpidfile: "{state}/nsd.pid"\n\tdatabase: ""\n'
        f'\txfrdfile: "{state}/xfrd.state"\n\txfrdir: "{state}"\n'
        f'\tzonelistfile: "{state}/zone.list"\n\tlogfile: "{state}/nsd.log"\n'
        "remote-control:\n\tcontrol-enable: no\n"
        f'include: "{box.dns.zones_conf}"\n'
    )
    process = subprocess.Popen([nsd, "-d", "-c", str(conf)])
    deadline = time.monotonic() + 15
    while True:
        try:
            dns.query.udp(
                dns.message.make_query("example.com", "SOA"), "127.0.0.1", port=port, timeout=1
            )
            return process, port
        except (dns.exception.Timeout, OSError):
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit("status_bench: nsd did not start")
            time.sleep(0.1)


class DelayProxy:
    """UDP and TCP on 127.0.0.1:53: each query answered from nsd after `delay` seconds."""

    def __init__(self, upstream: int, delay: float, drop: str = "") -> None:
        self.upstream, self.delay, self.drop = upstream, delay, drop
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.udp.bind(("127.0.0.1", 53))
            self.tcp.bind(("127.0.0.1", 53))
        except OSError as exc:
            sys.exit(f"status_bench: cannot listen on 127.0.0.1:53 ({exc.strerror}); run as root")
        self.tcp.listen(64)
        self.stop = threading.Event()
        threading.Thread(target=self._udp, daemon=True).start()
        threading.Thread(target=self._tcp, daemon=True).start()

    def _answer(self, wire: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
            name = query.question[0].name.to_text().rstrip(".")
            if self.drop and (name == self.drop or name.endswith("." + self.drop)):
                return None  # never answered: the asker waits out its timeout
            reply = dns.query.udp(query, "127.0.0.1", port=self.upstream, timeout=2)
        except (dns.exception.DNSException, OSError):
            return None
        time.sleep(self.delay)
        return reply.to_wire()

    def _udp(self) -> None:
        self.udp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._reply_udp, args=(wire, peer), daemon=True).start()

    def _reply_udp(self, wire: bytes, peer: tuple[str, int]) -> None:
        answer = self._answer(wire)
        if answer is not None:
            self.udp.sendto(answer, peer)

    def _tcp(self) -> None:
        self.tcp.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._reply_tcp, args=(conn,), daemon=True).start()

    def _reply_tcp(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(2)
            try:
                size = conn.recv(2)
                if len(size) < 2:
                    return
                wire = conn.recv(int.from_bytes(size, "big"))
                answer = self._answer(wire)
                if answer is not None:
                    conn.sendall(len(answer).to_bytes(2, "big") + answer)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.udp.close()
        self.tcp.close()


def _serve_proxy(upstream: int, delay: float, drop: str, ready: Any) -> None:
    DelayProxy(upstream, delay, drop)
    ready.set()
    threading.Event().wait()


def start_proxy(upstream: int, delay: float, drop: str) -> multiprocessing.Process:
    """The proxy in a process of its own, so that neither side pays for its threads."""
    ready = multiprocessing.Event()
    process = multiprocessing.Process(
        target=_serve_proxy, args=(upstream, delay, drop, ready), daemon=True
    )
    process.start()
    if not ready.wait(10):
        sys.exit("status_bench: the DNS proxy did not start")
    return process


# --- the box -----------------------------------------------------------------------------------


def make_box(folder: Path, domains: int) -> Box:
    box = init_box(folder / "box", public_ip="127.0.0.1", public_ipv6="")
    seed_demo(box, admin_password="bench-password-1")
    from core.audit import Actor

    actor = Actor("bench", "cli")
    for i in range(domains):
        box.mail.users.add_user(f"user@domain{i:03d}.example", "bench-password-1", actor=actor)
    return box


# --- ours --------------------------------------------------------------------------------------


def run_ours(conf_dir: Path, runs: int) -> list[dict[str, Any]]:
    """`runs` runs on one open box, as an API worker answers one request after another: the
    first with the apt list not cached (cold), the others warm."""
    box = open_box(conf_dir)
    box.status.probe_services = True  # probe the ports as on a real box (all on loopback)
    forget_cache(box.system.apt_cache)
    out = []
    for _ in range(runs):
        start = time.monotonic()
        plan = box.status.plan()
        first = None
        items = 0
        slowest = 0.0
        timed_out = 0
        for result in box.status.stream(plan):
            if result.items and first is None:
                first = time.monotonic() - start
            items += len(result.items)
            slowest = max(slowest, result.elapsed)
            timed_out += result.timed_out
        out.append(
            {
                "first": first,
                "total": time.monotonic() - start,
                "items": items + len(plan.sections),
                "checks": len(plan.checks),
                "slowest_check": slowest,
                "max_timeout": max(c.timeout for c in plan.checks),
                "timed_out": timed_out,
            }
        )
    box.close()
    return out


# --- the reference -----------------------------------------------------------------------------

HARNESS = r"""
import json, multiprocessing.pool, subprocess, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import dns.resolver
resolver = dns.resolver.get_default_resolver()
resolver.nameservers = ["127.0.0.1"]
resolver.port = 53
import utils
original = utils.shell
def shell(method, cmd_args, env={}, capture_stderr=False, return_bytes=False, trap=False, input=None):
    try:
        return original(method, cmd_args, env=dict(env), capture_stderr=capture_stderr,
                        return_bytes=return_bytes, trap=trap, input=input)
    except FileNotFoundError:
        if trap:
            return 127, ""
        raise
utils.shell = shell
import dns_update, ssl_certificates, web_update, status_checks
for module in (dns_update, ssl_certificates, web_update, status_checks):
    module.shell = shell
def ssh_port():
    try:
        out = subprocess.run(["sshd", "-T"], capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        return None
    return int(out[out.index("port") + 1]) if "port" in out else None
status_checks.get_ssh_port = ssh_port
env = json.loads(sys.argv[3])

class Output:
    def __init__(self, start):
        self.start, self.items, self.first = start, [], None
    def add_heading(self, heading):
        self.items.append({"type": "heading", "text": heading, "extra": []})
    def _item(self, kind, message):
        if self.first is None:
            self.first = time.monotonic() - self.start
        self.items.append({"type": kind, "text": message, "extra": []})
    def print_ok(self, message): self._item("ok", message)
    def print_error(self, message): self._item("error", message)
    def print_warning(self, message): self._item("warning", message)
    def print_line(self, message, monospace=False):
        self.items[-1]["extra"].append({"text": message, "monospace": monospace})

for run in range(int(sys.argv[4])):
    start = time.monotonic()
    output = Output(start)
    with multiprocessing.pool.Pool(processes=5) as pool:
        status_checks.run_checks(False, env, output, pool)
    total = time.monotonic() - start
    print(json.dumps({"first_produced": output.first, "total": total,
                      "items": len(output.items)}), flush=True)
"""


def reference_tree(folder: Path) -> Path:
    if not MIRROR.exists():
        sys.exit(f"status_bench: the reference's mirror is not at {MIRROR}")
    archive = subprocess.run(
        ["git", "-C", str(MIRROR), "archive", REFERENCE_COMMIT, "management"],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "management"


def reference_deps(folder: Path) -> Path:
    marker = folder / ".installed"
    if not marker.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--target",
                str(folder),
                *REFERENCE_DEPS,
            ],
            check=True,
        )
        marker.write_text("")
    return folder


def run_reference(tree: Path, deps: Path, box: Box, runs: int) -> list[dict[str, Any]]:
    config = box.config
    env = {
        "STORAGE_ROOT": str(config.storage_root),
        "STORAGE_USER": "user-data",
        "PRIMARY_HOSTNAME": config.primary_hostname,
        "PUBLIC_IP": config.public_ip,
        "PUBLIC_IPV6": config.public_ipv6,
        "PRIVATE_IP": config.public_ip,
        "PRIVATE_IPV6": config.public_ipv6,
    }
    done = subprocess.run(
        [sys.executable, "-c", HARNESS, str(deps), str(tree), json.dumps(env), str(runs)],
        capture_output=True,
        text=True,
        cwd=tree,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode != 0:
        sys.exit("status_bench: the reference's run failed:\n" + done.stderr[-3000:])
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


# --- report ------------------------------------------------------------------------------------


def fmt(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:,.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=0, help="mail domains beyond the demo's")
    parser.add_argument("--latency-ms", default="0,30", help="DNS answer delays to measure")
    parser.add_argument(
        "--drop",
        default="",
        metavar="DOMAIN",
        help="never answer names under DOMAIN (e.g. spamhaus.org: a blocklist out of reach)",
    )
    parser.add_argument("--runs", type=int, default=3, help="warm runs per side (median shown)")
    parser.add_argument("--deps", type=Path, default=DEPS_DIR, help="the reference's pip target")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="status-bench-") as tmp:
        folder = Path(tmp)
        box = make_box(folder, args.domains)
        nsd, nsd_port = start_nsd(box, folder)
        assert box.config.conf_path is not None
        with box.config.conf_path.open("a") as conf:
            conf.write(f"{DNS_RESOLVER_KEY}=127.0.0.1:53\n")
        tree = reference_tree(folder)
        deps = reference_deps(args.deps)
        conf_dir = box.config.system_root
        print(
            f"box: {len(box.dns.zones())} zones, {len(box.mail.housekeeping.mail_domains())} "
            f"mail domains; {os.cpu_count()} cores\n"
        )
        rows = []
        try:
            for latency in (float(x) / 1000 for x in args.latency_ms.split(",")):
                proxy = start_proxy(nsd_port, latency, args.drop)
                try:
                    ours = run_ours(conf_dir, args.runs + 1)
                    ref = run_reference(tree, deps, box, args.runs + 1)
                finally:
                    proxy.terminate()
                    proxy.join()
                cold, warm = ours[0], ours[1:]
                ref_cold, ref_warm = ref[0], ref[1:]
                ours_warm_total = statistics.median(r["total"] for r in warm)
                ref_warm_total = statistics.median(r["total"] for r in ref_warm)
                rows.append(
                    (
                        latency,
                        cold,
                        warm,
                        ref_cold,
                        ref_warm,
                        ours_warm_total,
                        ref_warm_total,
                    )
                )
        finally:
            nsd.terminate()
            nsd.wait()
        for latency, cold, warm, ref_cold, ref_warm, ours_total, ref_total in rows:
            med = lambda rs, k: statistics.median(r[k] for r in rs)  # noqa: E731
            dropped = f", names under {args.drop} never answered" if args.drop else ""
            print(f"DNS answers after {latency * 1000:.0f} ms{dropped}")
            print(
                "| run | ours: first item | ours: full list | reference: full list (= its first item over the API) | reference: first item produced | speed-up |"
            )
            print("|---|---:|---:|---:|---:|---:|")
            print(
                f"| cold (apt not cached) | {fmt(cold['first'])} | {fmt(cold['total'])} | "
                f"{fmt(ref_cold['total'])} | {fmt(ref_cold['first_produced'])} | "
                f"{ref_cold['total'] / cold['total']:.1f}× |"
            )
            print(
                f"| warm (median of {len(warm)}) | {fmt(med(warm, 'first'))} | {fmt(ours_total)} | "
                f"{fmt(ref_total)} | {fmt(med(ref_warm, 'first_produced'))} | "
                f"{ref_total / ours_total:.1f}× |"
            )
            print(
                f"items: ours {warm[0]['items']} ({warm[0]['checks']} checks), reference "
                f"{ref_warm[0]['items']}; our slowest check {fmt(max(r['slowest_check'] for r in warm))}"
                f" (time limits up to {warm[0]['max_timeout']:g} s), timed out: "
                f"{sum(r['timed_out'] for r in warm)}\n"
            )
        box.close()


if __name__ == "__main__":
    main()
