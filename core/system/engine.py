"""Many small blocking tasks on threads, each with its own time limit, handed back as each
finishes: the status checks run this way (the reference runs them in one batch on a pool of
processes and answers when the slowest domain is done).

A task still running at its limit is reported as timed out at that moment and left to end on
its own (every check bounds its own waits: DNS lifetimes, connect and program timeouts), and a
new thread takes its place so the others are not held up. Tasks marked `held` start only once
the `gate` task has finished (the DNS checks wait for the resolver's cache flush).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

T = TypeVar("T")

MAX_WORKERS: Final = 64


@dataclass(frozen=True, slots=True)
class Task(Generic[T]):
    key: str
    run: Callable[[], T]
    timeout: float
    held: bool = False  # starts after the gate task has finished


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    key: str
    value: T | None
    error: Exception | None
    elapsed: float
    timed_out: bool = False


_Done = tuple[int, object, Exception | None, float]


class _Pool:
    def __init__(self, tasks: Sequence[Task[T]]) -> None:
        self.tasks = tasks
        self.todo: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self.done: queue.SimpleQueue[_Done] = queue.SimpleQueue()
        self.started: dict[int, float] = {}
        self.lock = threading.Lock()
        self.threads = 0

    def add_thread(self) -> None:
        self.threads += 1
        threading.Thread(target=self._work, name="miab-status", daemon=True).start()

    def _work(self) -> None:
        while True:
            index = self.todo.get()
            if index is None:
                return
            began = time.monotonic()
            with self.lock:
                self.started[index] = began
            value: object = None
            error: Exception | None = None
            try:
                value = self.tasks[index].run()
            except Exception as exc:  # a face shows it as the check's own failure
                error = exc
            self.done.put((index, value, error, time.monotonic() - began))

    def stop(self) -> None:
        for _ in range(self.threads):
            self.todo.put(None)


def run_tasks(
    tasks: Sequence[Task[T]],
    *,
    gate: Task[object] | None = None,
    max_workers: int = MAX_WORKERS,
    stop: threading.Event | None = None,
) -> Iterator[Outcome[T]]:
    """Run `tasks` (and `gate`, not reported) concurrently; yield each outcome as it comes.

    Closing the iterator, or setting `stop` (from any thread; seen within a quarter of a
    second), ends it early; tasks already running end on their own, queued ones never start.
    """
    everything: list[Task[object]] = list(tasks)  # type: ignore[arg-type]
    gate_index = -1
    if gate is not None:
        gate_index = len(everything)
        everything.append(gate)
    pool = _Pool(everything)
    held = [i for i, t in enumerate(everything) if t.held and i != gate_index]
    ready = [i for i, t in enumerate(everything) if not (t.held and i != gate_index)]
    if gate is None:
        ready, held = ready + held, []
    if gate_index >= 0:  # the gate first
        ready.remove(gate_index)
        ready.insert(0, gate_index)
    for _ in range(max(1, min(max_workers, len(everything)))):
        pool.add_thread()
    for index in ready:
        pool.todo.put(index)
    pending = set(range(len(everything)))
    abandoned: set[int] = set()

    def release() -> None:
        for index in held:
            pool.todo.put(index)
        held.clear()

    try:
        while pending and not (stop is not None and stop.is_set()):
            now = time.monotonic()
            with pool.lock:
                running = {i: pool.started[i] for i in pending if i in pool.started}
            for index, began in running.items():
                if now - began < everything[index].timeout:
                    continue
                pending.discard(index)
                abandoned.add(index)
                pool.add_thread()  # the stuck one goes on; a fresh one takes its place
                if index == gate_index:
                    release()
                else:
                    yield Outcome(everything[index].key, None, None, now - began, timed_out=True)
            if not pending:
                break
            deadlines = [
                began + everything[i].timeout - now for i, began in running.items() if i in pending
            ]
            wait = min(deadlines) if deadlines else 0.25
            try:
                index, value, error, elapsed = pool.done.get(timeout=max(0.001, min(wait, 0.25)))
            except queue.Empty:
                continue
            if index in abandoned:
                continue
            pending.discard(index)
            if index == gate_index:
                release()
                continue
            yield Outcome(everything[index].key, value, error, elapsed)  # type: ignore[arg-type]
    finally:
        while True:  # queued tasks never start
            try:
                pool.todo.get_nowait()
            except queue.Empty:
                break
        held.clear()
        pool.stop()
