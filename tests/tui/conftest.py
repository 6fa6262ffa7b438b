"""TUI fixtures: the app on the seeded demo box (fixed clock), blink off, a fixed size."""

from __future__ import annotations

import asyncio
import contextlib
import inspect

import pytest
from textual.pilot import Pilot
from textual.worker import WorkerCancelled

from core import Box
from miab_tui.app import MiabApp

SIZE = (120, 36)


def record_pushed(app: MiabApp, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every screen pushed from now on, kept in order: a quick job's dialog can come and go
    within one keypress (the pilot waits for the app to be idle after it)."""
    pushed: list[object] = []
    push_screen = app.push_screen

    def recording(screen: object, *args: object, **kwargs: object) -> object:
        pushed.append(screen)
        return push_screen(screen, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(app, "push_screen", recording)
    return pushed


async def wait_for_workers(pilot: Pilot) -> None:
    """Wait for every worker; one cancelled on the way (a dismissed form's, or a reload
    replaced by a newer one) is done too."""
    for worker in list(pilot.app.workers):
        with contextlib.suppress(WorkerCancelled):
            await worker.wait()


async def settle(pilot: Pilot) -> None:
    """Let workers finish and their messages land, then let the screen repaint."""
    await pilot.pause()
    await wait_for_workers(pilot)
    await pilot.pause()
    await wait_for_workers(pilot)
    await pilot.pause()


@pytest.fixture
def app(demo_box: Box) -> MiabApp:
    # The tests of an area start on it; the dashboard (the first area) has its own tests.
    return MiabApp(demo_box, cursor_blink=False, area="users")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests on a fresh event loop (no async plugin is a dependency)."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    asyncio.run(pyfuncitem.obj(**{name: pyfuncitem.funcargs[name] for name in names}))
    return True
