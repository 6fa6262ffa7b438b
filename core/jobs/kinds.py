"""The job kinds core provides."""

from __future__ import annotations

import time

from core.errors import ValidationError
from core.jobs.registry import JobContext, register

DNS_UPDATE = "dns-update"
SELF_TEST = "self-test"
TLS_PROVISION = "tls-provision"


@register(DNS_UPDATE)
def dns_update(ctx: JobContext) -> str:
    """`box.dns.update(force=True)`: rebuild, re-sign and reload every zone. The result is
    the update's response body (its lines, each followed by a newline)."""
    ctx.progress("rebuilding and signing every zone", 0.0)
    change = ctx.box.dns.update(force=True, actor=ctx.actor)
    for line in change.lines:
        ctx.progress(line, None)
    ctx.progress("", 1.0)
    return change.text


@register(TLS_PROVISION)
def tls_provision(ctx: JobContext) -> str:
    """`box.tls.provision`: request, install and renew certificates over ACME. Parameter
    `domains` (a list) limits it to those names. The result is the outcome as JSON."""
    limit = ctx.params.get("domains")
    if limit is not None and (
        not isinstance(limit, list)
        or len(limit) > 1000
        or not all(isinstance(d, str) for d in limit)
    ):
        raise ValidationError("domains must be a list of domain names.", field="domains")
    outcome = ctx.box.tls.provision(actor=ctx.actor, limit=limit, progress=ctx.progress)
    return outcome.to_json()


@register(SELF_TEST)
def self_test(ctx: JobContext) -> str:
    """Exercise the job machinery without touching the box: `steps` lines, `delay` seconds
    apart; `fail` makes it end failed. Parameters are bounded (at most 1,000 steps of 10 s)."""
    steps, delay = ctx.params.get("steps", 3), ctx.params.get("delay", 0.1)
    if not isinstance(steps, int) or isinstance(steps, bool) or not 0 <= steps <= 1000:
        raise ValidationError("steps must be a whole number from 0 to 1000.", field="steps")
    if not isinstance(delay, int | float) or isinstance(delay, bool) or not 0 <= delay <= 10:
        raise ValidationError("delay must be a number of seconds from 0 to 10.", field="delay")
    for step in range(1, steps + 1):
        time.sleep(delay)
        ctx.progress(f"step {step} of {steps}", step / steps)
    if ctx.params.get("fail"):
        raise ValidationError("The self-test was asked to fail.")
    return f"{steps} steps done\n"


# --- backups (core.backup): each returns its outcome as JSON -----------------------------------

BACKUP = "backup"
BACKUP_VERIFY = "backup-verify"
BACKUP_RESTORE = "backup-restore"


@register(BACKUP)
def backup(ctx: JobContext) -> str:
    """`box.backup.back_up`: parameter `full` (bool); `stall_timeout` (seconds)."""
    return ctx.box.backup.run_job(BACKUP, ctx.params, ctx.actor, ctx.progress)


@register(BACKUP_VERIFY)
def backup_verify(ctx: JobContext) -> str:
    """`box.backup.verify`: parameter `time` (a backup's date, or null for the newest)."""
    return ctx.box.backup.run_job(BACKUP_VERIFY, ctx.params, ctx.actor, ctx.progress)


@register(BACKUP_RESTORE)
def backup_restore(ctx: JobContext) -> str:
    """`box.backup.restore`: the parameters of a `core.backup.RestoreRequest`."""
    return ctx.box.backup.run_job(BACKUP_RESTORE, ctx.params, ctx.actor, ctx.progress)


# --- system packages (core.system) ---------------------------------------------------------------

UPDATE_PACKAGES = "update-packages"


@register(UPDATE_PACKAGES)
def update_packages(ctx: JobContext) -> str:
    """`box.system.upgrade_packages`: apt-get update, then apt-get -y upgrade, each output line
    a progress line as it comes. The result is the upgrade's output."""
    return ctx.box.system.upgrade_packages(actor=ctx.actor, progress=ctx.progress)
