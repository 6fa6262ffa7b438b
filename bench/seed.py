"""Seed a box with the benchmark's data: 20 domains, 1,000 users, 2,000 aliases.

Rows go in through one write transaction with one precomputed hash (seeding speed is not what
is measured); the housekeeping then runs once, as after any change.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core import Box, init_box
from core.mail.passwords import hash_password

BENCH_PASSWORD = "bench-password-1"


def seed(box: Box, *, domains: int = 20, users: int = 1000, aliases: int = 2000) -> str:
    """Fill the box; returns the admin's address (its password is BENCH_PASSWORD)."""
    hashed = hash_password(BENCH_PASSWORD)
    names = [f"domain{i:02d}.example" for i in range(domains)]
    admin = f"admin@{names[0]}"
    with box.db.write() as conn:
        conn.execute(
            "INSERT INTO users (email, password, privileges) VALUES (?, ?, 'admin')",
            (admin, hashed),
        )
        conn.executemany(
            "INSERT INTO users (email, password, privileges, quota) VALUES (?, ?, '', ?)",
            [
                (f"user{i:04d}@{names[i % domains]}", hashed, "1G" if i % 3 else "0")
                for i in range(users - 1)
            ],
        )
        conn.executemany(
            "INSERT INTO aliases (source, destination, permitted_senders) VALUES (?, ?, NULL)",
            [
                (
                    f"alias{i:04d}@{names[i % domains]}",
                    f"user{i % (users - 1):04d}@{names[i % (users - 1) % domains]}",
                )
                for i in range(aliases)
            ],
        )
        conn.execute(
            "INSERT INTO aliases (source, destination) VALUES (?, ?)",
            ("administrator@" + box.hostname, admin),
        )
    box.mail.housekeeping.kick()
    return admin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--aliases", type=int, default=2000)
    parser.add_argument("--domains", type=int, default=20)
    args = parser.parse_args()
    box = init_box(Path(args.directory))
    admin = seed(box, domains=args.domains, users=args.users, aliases=args.aliases)
    print(f"{admin} / {BENCH_PASSWORD}")


if __name__ == "__main__":
    main()
