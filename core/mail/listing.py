"""The reference's listing shapes (BEHAVIOUR.md §3.1, §3.9) as plain data, for every face.

The API serialises these; the command line prints the same, so a script sees one shape
whichever way it asks.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.mail.aliases import Alias, DomainAliases
from core.mail.users import DomainUsers, MailUser, human_size, quota_bytes


def quota_fields(quota: str, size: int | None) -> dict[str, object]:
    """Upstream HEAD's usage figures: `percent` is '' for an unlimited (`0`) quota and '?'
    when the mailbox's size is unknown."""
    try:
        limit = quota_bytes(quota)
    except ValueError:  # a quota some other tool wrote; show it, don't fail the listing
        limit = None
    if size is None or limit is None:
        return {
            "quota": quota,
            "box_quota": "?",
            "box_size": "?",
            "percent": "" if quota == "0" else "?",
        }
    percent = "" if limit == 0 else f"{int(size / limit * 100):3d}%"
    return {"quota": quota, "box_quota": limit, "box_size": human_size(size), "percent": percent}


def user_entry(user: MailUser, with_quota: bool) -> dict[str, object]:
    """One user as §3.1 lists it: `mailbox` only for archived (inactive) accounts."""
    if user.status == "inactive":
        entry: dict[str, object] = {
            "email": user.email,
            "privileges": [],
            "status": "inactive",
            "mailbox": user.mailbox,
        }
        if with_quota:
            entry.update(box_quota="?", box_size="?", percent="?")
        return entry
    entry = {"email": user.email, "privileges": list(user.privileges), "status": "active"}
    if with_quota and user.quota is not None:
        entry.update(quota_fields(user.quota, user.box_size))
    return entry


def users_listing(groups: Sequence[DomainUsers], with_quota: bool) -> list[dict[str, object]]:
    """`GET /mail/users?format=json`: users grouped by (Unicode) domain."""
    return [
        {
            "domain": group.domain_display,
            "users": [user_entry(user, with_quota) for user in group.users],
        }
        for group in groups
    ]


def alias_entry(alias: Alias) -> dict[str, object]:
    senders = alias.senders
    entry: dict[str, object] = {
        "address": alias.address,
        "address_display": alias.address_display,
        # An empty destination (permitted senders only) lists as [] rather than the
        # reference's [""] (docs/compatibility.md).
        "forwards_to": list(alias.forwards_to),
        "permitted_senders": None if senders is None else list(senders),
        "required": alias.required,
    }
    if alias.auto:
        entry["auto"] = True
    return entry


def aliases_listing(groups: Sequence[DomainAliases]) -> list[dict[str, object]]:
    """`GET /mail/aliases?format=json`: aliases grouped by (Unicode) domain."""
    return [
        {"domain": group.domain_display, "aliases": [alias_entry(alias) for alias in group.aliases]}
        for group in groups
    ]


def alias_text(rows: Sequence[tuple[str, str, str | None]]) -> str:
    """§3.9's text form: address, destination, permitted senders ('' for NULL)."""
    return "".join(
        f"{address}\t{destination}\t{senders or ''}\n" for address, destination, senders in rows
    )
