"""The web domains (SYSTEM.md §2.1): what nginx serves and what needs a TLS certificate."""

from __future__ import annotations

from core.dns.records import ZoneFacts, domains_with_a_records_elsewhere
from core.mail.domains import sort_domains


def web_domains(facts: ZoneFacts, *, exclude_elsewhere: bool = True) -> list[str]:
    """Every mail domain, `www.` of every zone, `autoconfig.`/`autodiscover.` of domains with
    users, `mta-sts.` of mail domains; minus names a custom record points elsewhere (unless
    `exclude_elsewhere` is False); plus the primary hostname always. Domain-sorted."""
    primary = facts.primary_hostname
    names = set(facts.mail_domains)
    names.update("www." + zone for zone in facts.zones)
    for domain in facts.user_domains:
        names.update(("autoconfig." + domain, "autodiscover." + domain))
    names.update("mta-sts." + domain for domain in facts.mail_domains)
    if exclude_elsewhere:
        names -= domains_with_a_records_elsewhere(facts.custom, facts.ipv4)
    names.add(primary)
    return sort_domains(names, primary)
