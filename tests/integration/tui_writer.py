"""A TUI in a process of its own that adds users through the Users form until time is up.

`python -m tests.integration.tui_writer BOX_DIR SECONDS TAG` prints one line per add the TUI
acknowledged (the form closed and the Users screen came back), `refused EMAIL MESSAGE` for
a refusal, and `done` at the end; the many-processes test reads these lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

from textual.widgets import Input
from textual.worker import WorkerCancelled

from core import open_box
from miab_tui.app import MiabApp
from miab_tui.modals.user_form import UserForm
from miab_tui.screens.users import UsersScreen
from miab_tui.widgets.form_field import FormField

SIZE = (120, 36)


async def settle(app: MiabApp, pilot: object) -> None:
    for _ in range(3):
        await pilot.pause()  # type: ignore[attr-defined]
        # A refresh worker replaced by a newer one ends cancelled; that is normal.
        with contextlib.suppress(WorkerCancelled):
            await app.workers.wait_for_complete()


def set_field(app: MiabApp, name: str, value: str) -> None:
    control = app.screen.query_one(f"#field-{name}", FormField).control
    assert isinstance(control, Input)
    control.value = value


async def add_users(box_dir: str, seconds: float, tag: str) -> None:
    box = open_box(box_dir)
    app = MiabApp(box, cursor_blink=False, area="users")
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            email = f"{tag}-{i}@example.com"
            i += 1
            await pilot.press("a")
            await settle(app, pilot)
            assert isinstance(app.screen, UserForm), app.screen
            set_field(app, "email", email)
            set_field(app, "password", "tui-password-1")
            set_field(app, "password-again", "tui-password-1")  # the form asks twice
            await pilot.press("ctrl+s")
            await settle(app, pilot)
            if isinstance(app.screen, UsersScreen):
                print(f"added {email}", flush=True)
            else:
                errors = [f.error for f in app.screen.query(FormField) if f.error]
                print(f"refused {email} {errors}", flush=True)
                await pilot.press("escape")
                await settle(app, pilot)
    box.close()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(add_users(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
