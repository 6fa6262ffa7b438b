"""Fail when the pytest log (`-ra`) reports a skip for want of a file or a program.

CI installs every daemon and ships every file the tests need, so such a skip means a test
that silently did not run (as the 94 API tests that once skipped without the spec file).
Usage: check_skips.py LOG"""

import re
import sys
from pathlib import Path

# `SKIPPED [3] tests/x.py:12: reason` in pytest's short summary.
SKIPPED = re.compile(r"^SKIPPED \[\d+\] (?P<where>\S+): (?P<reason>.*)$")
# A reason that names a path, or says a file or program is not there.
MISSING = re.compile(
    r"(?:^|[\s'\"(])/\w|\bnot installed\b|\bmissing\b|\bno such file\b|\bnot found\b"
    r"|\bis not at\b|\bnot there\b",
    re.I,
)

found = []
for line in Path(sys.argv[1]).read_text(encoding="utf-8", errors="replace").splitlines():
    match = SKIPPED.match(line.strip())
    if match and MISSING.search(match["reason"]):
        found.append(line.strip())
if found:
    print(".ci/run: tests skipped for want of a file or program:", file=sys.stderr)
    print("\n".join(found), file=sys.stderr)
    sys.exit(1)
