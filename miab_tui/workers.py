"""The worker edge: every call into core that the TUI makes off the UI thread goes through
`core_worker`, which maps what can go wrong once.

- Core refused (`MiabError`): the node gets `ChangeRefused` with core's own text and the
  field it names; screens show it as a notification, forms beside the field.
- Anything else is a bug or a broken box: its traceback goes to the box's log file (the
  app's `file_log`, see `open_log`) and the node gets a short `ChangeRefused` saying where the
  details are, so nothing vanishes with a toast.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

from textual import work

from core.errors import MiabError
from miab_tui.messages import ChangeRefused

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from core.config import BoxConfig

P = ParamSpec("P")
R = TypeVar("R")
NodeT = TypeVar("NodeT", bound="DOMNode")

LOG_NAME: Final = "miab-tui.log"
LOG_MODE: Final = 0o600  # tracebacks may quote the box's data: root's alone
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(message)s"


def log_path(config: BoxConfig) -> Path:
    """The TUI's log: beside our state database (`/var/lib/mailinabox` on a real box)."""
    return config.state_db.parent / LOG_NAME


def open_log(path: Path) -> logging.Logger:
    """A logger of its own (not in logging's global registry, so two apps in one process
    never write to each other's box) appending to `path`, created 0600."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, LOG_MODE)
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8"))
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logger = logging.Logger("miab_tui", logging.INFO)
    logger.addHandler(handler)
    return logger


def close_log(logger: logging.Logger) -> None:
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
        stream = getattr(handler, "stream", None)
        if stream is not None:
            stream.close()


def report_failure(node: DOMNode, doing: str, exc: BaseException) -> None:
    """Log an unexpected exception with its traceback and tell the admin, briefly."""
    app = node.app
    logger: logging.Logger | None = getattr(app, "file_log", None)
    where = getattr(app, "log_path", None)
    if logger is not None:
        logger.error("%s failed", doing, exc_info=(type(exc), exc, exc.__traceback__))
    detail = f" Details in {where}." if where is not None else ""
    node.post_message(
        ChangeRefused(f"{doing} failed: {type(exc).__name__}.{detail}", title="Failed")
    )


def guarded(node: DOMNode, doing: str, call: Callable[[], R]) -> tuple[bool, R | None]:
    """Run `call()`; `(True, result)`, or `(False, None)` once the failure is reported."""
    try:
        return True, call()
    except MiabError as exc:
        node.post_message(ChangeRefused(exc.message, field=exc.field))
    except Exception as exc:  # noqa: BLE001 - the worker edge: logged, then reported
        report_failure(node, doing, exc)
    return False, None


def core_worker(
    *, doing: str, group: str, exclusive: bool = True
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Make a method of a widget or screen run in a thread worker whose failures are mapped
    as this module says. `doing` names the work in the notification and the log
    ("Reading the box")."""

    def decorate(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def edge(self: DOMNode, *args: Any, **kwargs: Any) -> None:
            guarded(self, doing, lambda: method(self, *args, **kwargs))

        return work(thread=True, exclusive=exclusive, exit_on_error=False, group=group)(edge)

    return decorate
