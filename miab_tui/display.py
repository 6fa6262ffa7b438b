"""How the TUI words what it shows: counts with their plurals, and core's text with every
IDNA domain in Unicode (`erin@xn--bcher-kva.example` reads `erin@bücher.example`) and the
reference's terse DNS lines in words."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

from core.mail.addresses import prettify_domain, prettify_idn_email_address

# A word holding an IDNA label: an address or a domain, up to punctuation around it.
_IDNA_WORD: Final = re.compile(r"[^\s,;()<>\[\]'\"=]*xn--[^\s,;()<>\[\]'\"=]*", re.IGNORECASE)
_DNS_LINE: Final = re.compile(r"^updated DNS: (.+)$", re.MULTILINE)
# What the reference's DNS update names when no zone changed (core keeps its words for the
# API); said here as what changed.
DNS_PARTS: Final = {
    "DNS configuration": "the nameserver's list of zones (zones.conf)",
    "OpenDKIM configuration": "OpenDKIM's signing tables",
}


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 user`, `2 users`, `1,000 users` (`words` when the plural is not word + s)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def shown_path(path: Path | str) -> str:
    """How a file of the box is shown (the snapshots put a real box's paths here)."""
    return str(path)


def shown_address(address: str) -> str:
    """An address as the TUI shows it: its domain in Unicode."""
    return prettify_idn_email_address(address)


def _unicode_word(match: re.Match[str]) -> str:
    word = match.group(0)
    # A sentence's full stop after a domain is not part of it.
    end = "." if word.endswith(".") and not word.endswith("..") else ""
    core = word[: len(word) - len(end)]
    shown = prettify_idn_email_address(core) if "@" in core else prettify_domain(core)
    return shown + end


def _dns_line(match: re.Match[str]) -> str:
    parts = [DNS_PARTS.get(part, part) for part in match.group(1).split(",")]
    return "updated DNS: " + ", ".join(parts)


def display_text(text: str) -> str:
    """Core's text (a change's lines, a refusal) as the TUI shows it."""
    if "xn--" in text.lower():
        text = _IDNA_WORD.sub(_unicode_word, text)
    if "updated DNS: " in text:
        text = _DNS_LINE.sub(_dns_line, text)
    return text
