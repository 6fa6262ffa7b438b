"""The spec's System operations other than backups: status checks, version, the upstream
version, updates, upgrading, privacy and reboot (BEHAVIOUR.md §9, SYSTEM.md §5–§6).

Admin-only like every route but `/me`. Bodies follow the reference, except where it answers
500 or accepts anything: a privacy value other than `private`/`off` is a 400 (the reference
reads it as `off`); the upstream version is a 400 with the reason while the privacy setting is
on or when mailinabox.email cannot be reached (the reference asks anyway, and answers 500 when
it cannot); upgrading on a local box or a machine without apt is a 400 with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server import responses
from api_server.fields import field
from api_server.routes import actor, paths

if TYPE_CHECKING:
    from core.auth import Caller
    from core.box import Box


def register(app: Bottle, box: Box) -> None:
    system = box.system

    @app.post(paths("/system/status"))
    def status() -> HTTPResponse:
        # Every check at once, each with its own time limit; answered once all are in, in the
        # reference's order (the TUI and `miab status` show them as they come).
        return responses.json(box.status.run().as_reference())

    @app.get(paths("/system/version"))
    def version() -> HTTPResponse:
        return responses.text(system.version())

    @app.post(paths("/system/latest-upstream-version"))
    def latest_upstream_version() -> HTTPResponse:
        # Refused (400) while the privacy setting is on, or when mailinabox.email cannot be
        # reached; the reference asks anyway and answers 500 when it cannot.
        return responses.text(system.latest_version())

    @app.get(paths("/system/updates"))
    def updates() -> HTTPResponse:
        return responses.text(system.updates_text(refresh=True))

    @app.post(paths("/system/update-packages"))
    def update_packages(caller: Caller) -> HTTPResponse:
        # apt-get update and upgrade run as a job (one at a time across every face, going on
        # if this request is dropped), waited on for the spec's answer: the upgrade's output.
        return responses.text(system.upgrade(actor=actor(caller)))

    @app.get(paths("/system/privacy"))
    def privacy() -> HTTPResponse:
        return responses.json(system.privacy())

    @app.post(paths("/system/privacy"))
    def set_privacy(caller: Caller) -> HTTPResponse:
        # Only `private` and `off` (the spec's enum); the reference reads anything else, a
        # missing field too, as `off`.
        return responses.text(system.set_privacy(field("value"), actor=actor(caller)).text)

    @app.get(paths("/system/reboot"))
    def reboot_required() -> HTTPResponse:
        return responses.json(system.reboot_required())

    @app.post(paths("/system/reboot"))
    def reboot(caller: Caller) -> HTTPResponse:
        return responses.text(system.reboot(actor=actor(caller)).text)
