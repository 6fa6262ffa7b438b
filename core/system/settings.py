"""`STORAGE_ROOT/settings.yaml` (STORAGE.md §3): the reference's misc settings, of which the
admin layer uses one key, `privacy` (true = never contact mailinabox.email; default true).

Read as the reference reads it: a missing, unreadable or non-mapping file is `{}`. Written
with every other key kept as it was, atomically, under the folder's lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml

from core.formats import FormatError, yaml_document
from core.storage.files import atomic_write, file_lock

PRIVACY_KEY: Final = "privacy"
MAX_SETTINGS_BYTES: Final = 1 << 20  # a settings file bigger than this is not read
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_settings(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SETTINGS_BYTES + 1)
    except OSError:
        return {}
    if len(data) > MAX_SETTINGS_BYTES:
        return {}
    try:
        loaded = yaml.load(data.decode("utf-8", "replace"), Loader=_LOADER)  # noqa: S506
    except yaml.YAMLError:
        return {}
    return dict(loaded) if isinstance(loaded, dict) else {}


def privacy_of(settings: dict[str, object]) -> bool:
    """The reference reads `privacy` by truthiness, default true; a value that is not a
    boolean counts as private (the safe reading, never a surprise phone-home)."""
    value = settings.get(PRIVACY_KEY, True)
    return value if isinstance(value, bool) else True


def _dump(data: object) -> str:
    text: str = yaml.safe_dump(data, default_flow_style=False, sort_keys=False, allow_unicode=True)
    return text


def write_setting(path: Path, key: str, value: object) -> bool:
    """Set one key, keeping the others; False if it held that value already.

    Raises:
        FormatError: the file would not load back to the same values (not written).
    """
    with file_lock(path):
        settings = read_settings(path)
        if key in settings and settings[key] == value and type(settings[key]) is type(value):
            return False
        settings[key] = value
        atomic_write(path, yaml_document(settings, _dump), mode=0o644)
        return True


__all__ = ["PRIVACY_KEY", "FormatError", "privacy_of", "read_settings", "write_setting"]
