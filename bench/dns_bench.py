"""DNS benchmark: rebuild and sign 100 zones in-process, against ldns-signzone on the same files,
and the cost of the DNS update inside `add_user` with 20 mail domains.

    python3 -m bench.dns_bench [--domains 100] [--repeat 5]

Key generation is done before timing (it happens once per box). `ldns-signzone` is run once
per zone as the reference does, with keys from `ldns-keygen`; skipped when ldnsutils is absent.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from core import Box, init_box
from core.audit import Actor
from core.mail.passwords import hash_password

TEST_ACTOR = Actor("bench", "cli")

PASSWORD = "bench-password-1"


def seed_domains(box: Box, count: int) -> None:
    hashed = hash_password(PASSWORD)
    with box.db.write() as conn:
        conn.executemany(
            "INSERT INTO users (email, password, privileges) VALUES (?, ?, '')",
            [(f"user@domain{i:03d}.example", hashed) for i in range(count)],
        )
        conn.execute(
            "INSERT INTO aliases (source, destination) VALUES (?, ?)",
            ("administrator@box.example.com", "user@domain000.example"),
        )


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def change_one(box: Box, n: int) -> None:
    """One DNS-visible change in one zone (a custom TXT record), written as the API would."""
    box.dns.custom_yaml.write_text(f"domain007.example:\n  TXT: bench-{n}\n")


def our_signing(tmp: Path, domains: int, algorithm: str) -> tuple[float, float, Box]:
    box = init_box(tmp / f"box-{algorithm}")
    seed_domains(box, domains)
    box.dns.set_dnssec_algorithm(
        algorithm, actor=TEST_ACTOR
    )  # keys made (and zones signed) before timing
    box.dns._signer = type(box.dns._signer)()  # a cold signature cache
    fresh = timed(lambda: box.dns.update(force=True, actor=TEST_ACTOR))
    changes = []
    for n in range(3):
        change_one(box, n)
        changes.append(timed(box.dns.update))
    return fresh, statistics.median(changes), box


def ldns_signing(tmp: Path, box: Box, algorithm: str) -> float | None:
    keygen, signzone = shutil.which("ldns-keygen"), shutil.which("ldns-signzone")
    if keygen is None or signzone is None:
        return None
    work = tmp / f"ldns-{algorithm}"
    work.mkdir()
    flags = {"RSASHA256": (["-b", "2048"], ["-b", "1024"]), "ECDSAP256SHA256": ([], [])}
    ksk_args, zsk_args = flags[algorithm]
    run = {"cwd": work, "capture_output": True, "text": True, "check": True}
    ksk = subprocess.run(
        [keygen, "-a", algorithm, *ksk_args, "-k", "_domain_"], **run
    ).stdout.strip()
    zsk = subprocess.run([keygen, "-a", algorithm, *zsk_args, "_domain_"], **run).stdout.strip()
    expiry = time.strftime("%Y%m%d", time.localtime(time.time() + 30 * 86400))
    zones = box.dns.zones()
    start = time.perf_counter()
    for zone in zones:
        # What the reference does per zone: patched key copies, then ldns-signzone -n.
        names = []
        for base in (ksk, zsk):
            patched = base.replace("_domain_", zone)
            for ext in (".key", ".private"):
                text = (work / f"{base}{ext}").read_text().replace("_domain_", zone)
                (work / f"{patched}{ext}").write_text(text)
            names.append(str(work / patched))
        zonefile = box.dns.zones_dir / f"{zone}.txt"
        subprocess.run(
            [
                signzone,
                "-e",
                expiry,
                "-n",
                "-f",
                str(work / f"{zone}.signed"),
                str(zonefile),
                *names,
            ],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start


def add_user_timing(tmp: Path, repeat: int) -> tuple[float, float]:
    box = init_box(tmp / "box-users")
    seed_domains(box, 20)
    box.dns.update(force=True, actor=TEST_ACTOR)
    existing, new = [], []
    for n in range(repeat):
        existing.append(
            timed(
                lambda n=n: box.mail.users.add_user(
                    f"u{n}@domain003.example", PASSWORD, actor=TEST_ACTOR
                )
            )
        )
        new.append(
            timed(
                lambda n=n: box.mail.users.add_user(
                    f"first@new{n}.example", PASSWORD, actor=TEST_ACTOR
                )
            )
        )
    return statistics.median(existing), statistics.median(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for algorithm in ("RSASHA256", "ECDSAP256SHA256"):
            fresh, one, box = our_signing(tmp, args.domains, algorithm)
            ldns = ldns_signing(tmp, box, algorithm)
            rows.append(
                (f"{args.domains} zones, {algorithm}: build + sign all (force)", fresh, ldns)
            )
            rows.append((f"{args.domains} zones, {algorithm}: one zone changed", one, None))
            box.close()
        existing, new = add_user_timing(tmp, args.repeat)
        rows.append(("add_user, 20 domains, existing domain (incl. DNS)", existing, None))
        rows.append(("add_user, 20 domains, new domain (new zone signed)", new, None))
    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'miab-tui':>10}  {'ldns-signzone':>14}")
    for label, ours, ldns in rows:
        other = f"{ldns * 1000:11.0f} ms" if ldns is not None else f"{'':>11}   "
        print(f"{label:<{width}}  {ours * 1000:7.1f} ms  {other}")


if __name__ == "__main__":
    main()
