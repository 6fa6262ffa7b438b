"""TUI benchmark: first frame, a 10,000-user users screen, and one filter keystroke.

Runs the real MiabApp headless (Textual's `run_test`) on a demo box and on a demo box with
10,000 extra users, and prints a small table. Usage: `python bench/tui_bench.py`.
Budgets (DESIGN.md): first frame < 0.5 s, 10,000 users loaded < 0.5 s, keystroke < 50 ms.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import Box, init_box, seed_demo  # noqa: E402
from core.mail.passwords import hash_password  # noqa: E402
from miab_tui.app import MiabApp  # noqa: E402
from miab_tui.widgets.record_table import RecordTable  # noqa: E402

SIZE = (120, 36)
BIG = 10_000


def demo_box(root: Path) -> Box:
    box = init_box(root, clock=lambda: 1795521600.0)
    seed_demo(box, admin_password="demo-admin-pass")
    return box


def big_box(root: Path) -> Box:
    """A demo box plus 10,000 users over 50 domains, inserted directly (one shared hash)."""
    box = demo_box(root)
    hashed = hash_password("bench-password")
    domains = [f"domain{n:02d}.example" for n in range(50)]
    with box.db.write() as conn:
        conn.executemany(
            "INSERT INTO users (email, password, privileges, quota) VALUES (?, ?, '', '0')",
            [(f"user{n:05d}@{domains[n % 50]}", hashed) for n in range(BIG)],
        )
    return box


async def wait_for_rows(app: MiabApp, at_least: int, limit: float = 30.0) -> None:
    deadline = time.perf_counter() + limit
    while True:
        tables = app.screen.query(RecordTable)
        if tables and tables.first().row_count >= at_least:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError("the users table never filled")
        await asyncio.sleep(0.001)


async def time_until_loaded(box: Box, rows: int) -> tuple[float, float]:
    """Seconds from starting the app to its first frame, and to the users table filled."""
    start = time.perf_counter()
    app = MiabApp(box, cursor_blink=False, area="users")
    async with app.run_test(size=SIZE) as pilot:
        first_frame = time.perf_counter() - start
        await wait_for_rows(app, rows)
        await pilot.pause()
        loaded = time.perf_counter() - start
    return first_frame, loaded


async def time_reload(box: Box, rows: int) -> float:
    """Seconds from asking the users screen to (re)load until all rows are painted."""
    app = MiabApp(box, cursor_blink=False, area="users")
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_rows(app, rows)
        await pilot.pause()
        table = app.screen.query_one(RecordTable)
        table.clear()
        start = time.perf_counter()
        await pilot.press("ctrl+r")
        await wait_for_rows(app, rows)
        await pilot.pause()
        return time.perf_counter() - start


async def time_keystrokes(box: Box, rows: int) -> tuple[list[float], list[float]]:
    """Per filter keystroke (typing `user01`, then deleting it), each re-filtered and
    repainted: the UI thread's CPU seconds, and wall seconds through the pilot (which adds
    its own idle waits, about 0.1 s even on a 7-row table)."""
    app = MiabApp(box, cursor_blink=False, area="users")
    cpu: list[float] = []
    wall: list[float] = []
    async with app.run_test(size=SIZE) as pilot:
        await wait_for_rows(app, rows)
        await pilot.press("slash")
        await pilot.pause()
        for key in [*"user01", *["backspace"] * 6]:
            cpu_start, wall_start = time.thread_time(), time.perf_counter()
            await pilot.press(key)
            await pilot.pause()  # the table has taken the new rows and repainted
            cpu.append(time.thread_time() - cpu_start)
            wall.append(time.perf_counter() - wall_start)
    return cpu, wall


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        small = demo_box(Path(tmp) / "demo")
        small_rows = sum(len(g.users) for g in small.mail.users.list_users())
        seed_start = time.perf_counter()
        big = big_box(Path(tmp) / "big")
        seed_time = time.perf_counter() - seed_start
        big_rows = small_rows + BIG

        asyncio.run(time_until_loaded(small, small_rows))  # warm imports and CSS parsing
        demo_first, demo_loaded = asyncio.run(time_until_loaded(small, small_rows))
        big_first, big_loaded = asyncio.run(time_until_loaded(big, big_rows))
        big_reload = asyncio.run(time_reload(big, big_rows))
        small_cpu, small_wall = asyncio.run(time_keystrokes(small, small_rows))
        cpu, wall = asyncio.run(time_keystrokes(big, big_rows))

    rows = [
        ("first frame, demo box (app start)", demo_first, 0.5),
        ("users shown, demo box (app start)", demo_loaded, 0.5),
        (f"users shown, {big_rows:,} (app start)", big_loaded, 0.5),
        (f"users screen reload, {big_rows:,}", big_reload, 0.5),
        (f"keystroke UI CPU, {big_rows:,}, median", statistics.median(cpu), 0.05),
        (f"keystroke UI CPU, {big_rows:,}, worst", max(cpu), 0.05),
        (f"keystroke via pilot, {big_rows:,}, median", statistics.median(wall), None),
        (f"keystroke via pilot, {small_rows} rows, median", statistics.median(small_wall), None),
        (f"keystroke UI CPU, {small_rows} rows, median", statistics.median(small_cpu), None),
    ]
    print(f"(seeded {BIG:,} users in {seed_time:.2f} s; terminal {SIZE[0]}x{SIZE[1]})")
    print(f"{'measure':<40} {'time':>10} {'budget':>8}  ok")
    for name, seconds, budget in rows:
        if budget is None:
            print(f"{name:<40} {seconds * 1000:>8.1f}ms {'-':>8}")
            continue
        verdict = "yes" if seconds < budget else "NO"
        print(f"{name:<40} {seconds * 1000:>8.1f}ms {budget * 1000:>6.0f}ms  {verdict}")


if __name__ == "__main__":
    main()
