"""Print the README's test command exactly as written: the `sh` block that runs pytest.

CI runs what a new user would copy from the README, not a copy of it kept in CI (which could
drift from what the README says)."""

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
commands = [block.strip() for block in blocks if "pytest" in block]
if not commands:
    sys.exit(".ci/readme_command.py: no sh block in README.md runs pytest")
print(commands[0])
