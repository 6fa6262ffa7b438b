"""The walls between the parts: core imports no face, and the faces never import each other."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loaded_after(import_line: str) -> set[str]:
    code = f"import sys; {import_line}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".")[0] for name in out.split()}


@pytest.mark.parametrize(
    ("import_line", "forbidden"),
    [
        (
            "import core, core.box, core.dns, core.mfa, core.mail.aliases",
            {"textual", "bottle", "gunicorn", "api_server", "miab_tui"},
        ),
        ("import api_server, api_server.app", {"textual", "miab_tui"}),
        ("import miab_tui.app", {"bottle", "gunicorn", "api_server"}),
    ],
)
def test_import_walls(import_line: str, forbidden: set[str]) -> None:
    assert not loaded_after(import_line) & forbidden
