"""TLS status benchmark: the certificate status of every web domain of a box with 100 mail
domains, each with its own certificate (domain, www. and mta-sts. names: 300 rows), in-process,
against the reference's approach of one `openssl verify` process per row.

    python3 -m bench.tls_bench [--domains 100] [--repeat 5]

The certificates are issued by a CA made here and trusted through SSL_CERT_FILE, which both
our check and openssl honour. With `pebble-challtestsrv` installed, the whole `/ssl/status`
(public DNS lookups included, answered by it on loopback) is timed too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from core import Box, init_box
from core.tls import check
from core.tls.inventory import scan
from tests.core.tls_factory import box_key, intermediate_ca, leaf, pem, root_ca, write_ca_file

BENCH_CLOCK = time.time


def seed(box: Box, domains: int, ca_dir: Path) -> None:
    """`domains` alias-only mail domains, each with one certificate for its three web names."""
    with box.db.write() as conn:
        conn.executemany(
            "INSERT INTO aliases (source, destination) VALUES (?, ?)",
            [(f"info@domain{i:03d}.example", "someone@elsewhere.example") for i in range(domains)],
        )
    root = root_ca("Bench Root")
    inter = intermediate_ca(root, "Bench Intermediate")
    os.environ["SSL_CERT_FILE"] = str(write_ca_file(ca_dir / "roots.pem", root))
    os.environ["SSL_CERT_DIR"] = str(ca_dir / "none")
    key = box_key(box.config.ssl_dir)
    for i in range(domains):
        d = f"domain{i:03d}.example"
        cert = leaf(inter, key, [d, "www." + d, "mta-sts." + d])
        (box.config.ssl_dir / f"{d}-cert.pem").write_text(pem(cert, inter.cert))


def reference_approach(box: Box) -> float:
    """One `openssl verify` per web domain, as the reference's check_certificate runs it."""
    inventory = scan(box.config.ssl_dir, box.hostname, box.tls.now())
    rows = box.tls.web_domains()
    start = time.perf_counter()
    for domain in rows:
        cert = box.tls.certificate_for(domain, inventory)
        if cert is None:
            continue
        data = cert.path.read_bytes()  # the reference reads and splits each file per row
        chain = data.split(b"-----END CERTIFICATE-----", 1)[1]
        subprocess.run(
            ["openssl", "verify", "-verbose", "-purpose", "sslserver", "-policy_check"]
            + (["-untrusted", "/proc/self/fd/0"] if chain.strip() else [])
            + [str(cert.path)],
            input=chain,
            capture_output=True,
            check=False,
        )
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--provision", type=int, default=10, help="mail domains to provision")
    args = parser.parse_args()
    if args.provision:
        provisioning_round(args.provision)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        dns_port = free_port()
        challtestsrv = None
        if shutil.which("pebble-challtestsrv"):
            challtestsrv = subprocess.Popen(
                [
                    "pebble-challtestsrv",
                    "-defaultIPv4",
                    "127.0.0.1",
                    "-defaultIPv6",
                    "",
                    "-dns01",
                    f"127.0.0.1:{dns_port}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                    "-management",
                    f"127.0.0.1:{free_port()}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        try:
            box = init_box(tmp_path / "box", public_ip="127.0.0.1", public_ipv6="")
            seed(box, args.domains, tmp_path)
            conf = box.config.conf_path
            conf.write_text(conf.read_text() + f"MIAB_DNS_RESOLVER=127.0.0.1:{dns_port}\n")
            rows = len(box.tls.web_domains())
            print(f"{args.domains} domains with their own certificates, {rows} web domains")

            cold, warm, full_cold, full_warm = [], [], [], []
            for _ in range(args.repeat):
                fresh = Box(box.config)
                for cache in (check._chain_cache, check._trust_cache, check._key_cache):
                    cache.clear()  # as a new process: nothing parsed or verified yet
                start = time.perf_counter()
                statuses = fresh.tls.web_statuses()
                cold.append(time.perf_counter() - start)
                start = time.perf_counter()
                fresh.tls.web_statuses()
                warm.append(time.perf_counter() - start)
                fresh.close()
            ok = sum(1 for s in statuses if s.status == "success")
            print(f"  rows signed & valid: {ok} of {len(statuses)}")
            print(
                f"  ours, certificate status of every row (new process state): {statistics.median(cold) * 1000:.0f} ms"
            )
            print(
                f"  ours, the same again (inventory cached): {statistics.median(warm) * 1000:.0f} ms"
            )
            if challtestsrv is not None:
                from core.box import open_box

                for _ in range(args.repeat):
                    fresh = open_box(box.config.conf_path)
                    for cache in (check._chain_cache, check._trust_cache, check._key_cache):
                        cache.clear()
                    start = time.perf_counter()
                    status = fresh.tls.status()
                    full_cold.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    fresh.tls.status()
                    full_warm.append(time.perf_counter() - start)
                    fresh.close()
                print(
                    f"  ours, whole /ssl/status with {rows} DNS lookups at challtestsrv: "
                    f"{statistics.median(full_cold) * 1000:.0f} ms cold, "
                    f"{statistics.median(full_warm) * 1000:.0f} ms warm "
                    f"({len(status.can_provision)} can be provisioned)"
                )
            if shutil.which("openssl"):
                reference = statistics.median(
                    reference_approach(box) for _ in range(max(1, args.repeat // 2))
                )
                print(
                    f"  reference's approach, one openssl verify per row: {reference * 1000:.0f} ms"
                )
                print(f"  speed-up (cold): {reference / statistics.median(cold):.1f}x")
        finally:
            if challtestsrv is not None:
                challtestsrv.terminate()
                challtestsrv.wait()


def provisioning_round(domains: int) -> None:
    """One full provisioning round against pebble for `domains` mail domains (each its own
    zone, so one order each, plus the primary hostname's), run in-process."""
    import shutil as sh

    from core.box import open_box
    from tests.conftest import TEST_ACTOR
    from tests.integration.pebble import running_pebble

    pebble, challtestsrv = sh.which("pebble"), sh.which("pebble-challtestsrv")
    if not pebble or not challtestsrv:
        print("provisioning round: skipped (pebble is not installed)")
        return
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_pebble(Path(tmp) / "pebble", pebble=pebble, challtestsrv=challtestsrv) as ca,
    ):
        folder = Path(tmp) / "box"
        init_box(folder, public_ip="127.0.0.1", public_ipv6="").close()
        conf = folder / "mailinabox.conf"
        conf.write_text(
            conf.read_text()
            + f"MIAB_DNS_RESOLVER={ca.dns_server}\nMIAB_ACME_SERVER={ca.directory_url}\n"
            + f"MIAB_ACME_CA_BUNDLE={ca.ca_bundle}\n"
        )
        box = open_box(folder)
        box.config.acme_webroot.parent.mkdir(parents=True, exist_ok=True)
        box.config.acme_webroot.symlink_to(ca.webroot)
        with box.db.write() as conn:
            conn.executemany(
                "INSERT INTO aliases (source, destination) VALUES (?, ?)",
                [(f"info@d{i:02d}.example", "someone@elsewhere.example") for i in range(domains)],
            )
        start = time.perf_counter()
        outcome = box.tls.provision(actor=TEST_ACTOR)
        took = time.perf_counter() - start
        installed = [r for r in outcome.requests if r.result == "installed"]
        names = sum(len(r.domains) for r in installed)
        print(
            f"provisioning round against pebble: {len(installed)} certificates "
            f"({names} names) for {domains} mail domains in {took:.1f} s"
        )
        box.close()


if __name__ == "__main__":
    main()
