"""Copy the TUI snapshots into screenshots/ under readable names.

Run after `pytest tests/tui --snapshot-update`: `python tests/tui/make_screenshots.py`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).resolve().parent / "__snapshots__" / "test_snapshots"


def readable(stem: str) -> str:
    """`TestUserModals.test_add_user_refused` -> `user-modals-add-user-refused`; a picture
    at a size of its own (`...[80x24]`) ends in it (`...-80x24`), the usual size in nothing."""
    group, _, test = stem.partition(".")
    group = re.sub(r"(?<!^)(?=[A-Z])", "-", group.removeprefix("Test")).lower()
    test, _, size = test.partition("[")
    size = size.rstrip("]")
    suffix = f"-{size}" if size and size != "120x36" else ""
    return f"{group}-{test.removeprefix('test_').replace('_', '-')}{suffix}"


def main() -> None:
    target = ROOT / "screenshots"
    target.mkdir(exist_ok=True)
    for svg in sorted(SNAPSHOTS.glob("*.svg")):
        name = readable(svg.stem) + ".svg"
        shutil.copyfile(svg, target / name)
        print(name)


if __name__ == "__main__":
    main()
