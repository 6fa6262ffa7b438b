"""The spec's backup operations (tag System): `GET /system/backup/status`, `GET` and
`POST /system/backup/config` (BEHAVIOUR.md §9, SYSTEM.md §3).

Admin-only like every route but `/me`. Where the spec and the reference disagree (refusals
answered 400 instead of 200, `OK` as text, `unmatched_file_size` always present, RFC 3339
dates) docs/compatibility.md ("Backup operations") records what we answer and why.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server import responses
from api_server.fields import field
from api_server.routes import actor, paths
from core.errors import HostError

if TYPE_CHECKING:
    from core.auth import Caller
    from core.box import Box


def register(app: Bottle, box: Box) -> None:
    backup = box.backup

    @app.get(paths("/system/backup/status"))
    def status() -> HTTPResponse:
        # Problems with the target or duplicity are in the body's `error`, as the reference.
        return responses.json(backup.status().as_json())

    @app.get(paths("/system/backup/config"))
    def get_config(caller: Caller) -> HTTPResponse:
        # The key rsync targets must accept is made on first need, so the admin can copy it
        # before choosing such a target (setup made it on a reference box).
        with contextlib.suppress(HostError):  # no ssh-keygen here: the key is shown empty
            backup.ensure_ssh_key(actor=actor(caller))
        body = backup.get_config().for_ui()
        body.setdefault("ssh_pub_key", "")
        return responses.json(body)

    @app.post(paths("/system/backup/config"))
    def set_config(caller: Caller) -> HTTPResponse:
        # The reference reads `min_age`; the spec's examples say `minAge`: both are read.
        change = backup.set_config(
            field("target"),
            field("target_user"),
            field("target_pass"),
            field("min_age", "minAge"),
            actor=actor(caller),
        )
        return responses.text(change.text)
