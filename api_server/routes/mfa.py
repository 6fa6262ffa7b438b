"""The spec's MFA tag: status, enabling TOTP, disabling (BEHAVIOUR.md §8, SYSTEM.md §4).

Admin-only like every route but `/me` (§1.2). Where the spec and the reference disagree on
names or shapes, docs/compatibility.md ("MFA operations") records what we answer and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bottle import Bottle, HTTPResponse

from api_server import bodies, responses
from api_server.fields import field
from api_server.routes import actor, paths

if TYPE_CHECKING:
    from core.auth import Caller
    from core.box import Box
    from core.mfa import MfaStatus


def status_json(status: MfaStatus) -> dict[str, object]:
    """§8.1's body. `new_mfa` carries the offer both under the reference's `totp` key and
    flat, as the spec's `MfaStatusResponse` has it, so either kind of client can enrol."""
    body: dict[str, object] = {
        "enabled_mfa": [
            {"id": method.id, "type": method.type, "label": method.label}
            for method in status.enabled
        ]
    }
    if status.new_totp is not None:
        offer = {
            "type": status.new_totp.type,
            "secret": status.new_totp.secret,
            "qr_code_base64": status.new_totp.qr_code_base64,
        }
        body["new_mfa"] = {"totp": offer, **offer}
    return body


def sent(*names: str) -> bool:
    """Whether the form has the field under any of its names: a missing token is refused
    with `Bad Input`, an empty one as a wrong code (§8.2)."""
    return any(bodies.forms().getall(name) for name in names)


def register(app: Bottle, box: Box) -> None:
    mfa = box.mfa

    def target_user(caller: Caller) -> str:
        # Absent means the caller. Present but empty stays empty (`User does not exist.`,
        # as the reference): a script whose variable came out blank must not act on its
        # own admin's account instead.
        return field("user", default=caller.email or "")

    @app.post(paths("/mfa/status"))
    def status(caller: Caller) -> HTTPResponse:
        email = target_user(caller)
        # A fresh secret is offered only to users asking about themselves (§8.1).
        return responses.json(status_json(mfa.status(email, provision=email == caller.email)))

    @app.post(paths("/mfa/totp/enable"))
    def enable_totp(caller: Caller) -> HTTPResponse:
        # The reference reads `token`; the spec (and clients generated from it) send `code`.
        token = field("token", "code") if sent("token", "code") else None
        label = field("label") if sent("label") else None
        mfa.enable_totp(caller.email, field("secret"), token, label, actor=actor(caller))
        return responses.text("OK")

    @app.post(paths("/mfa/disable"))
    def disable(caller: Caller) -> HTTPResponse:
        # `mfa-id` is the reference's name, `mfa_id` the spec's; empty means every method.
        mfa.disable(target_user(caller), field("mfa-id", "mfa_id"), actor=actor(caller))
        return responses.text("OK")
