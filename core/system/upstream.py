"""The latest Mail-in-a-Box version (SYSTEM.md §6): the first `TAG=` line of the setup script
at mailinabox.email, fetched with a 5-second timeout, the answer read up to 1 MiB."""

from __future__ import annotations

import re
import socket
import ssl
import urllib.error
import urllib.request
from typing import Final

UPSTREAM_URL: Final = "https://mailinabox.email/setup.sh?ping=1"
UPSTREAM_URL_KEY: Final = "MIAB_UPSTREAM_URL"  # our own conf key: where to ask instead
FETCH_TIMEOUT: Final = 5.0
MAX_BYTES: Final = 1 << 20
_TAG: Final = re.compile(rb"TAG=(.*)")
_PRINTABLE: Final = re.compile(r"[\x21-\x7e]{1,64}")


class UpstreamError(Exception):
    """Why the version could not be had, in a few words for the admin."""


def fetch_latest_version(url: str = UPSTREAM_URL, *, timeout: float = FETCH_TIMEOUT) -> str:
    """The `TAG=` value of the setup script at `url`.

    Raises:
        UpstreamError: it could not be reached, or named no version.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "miab-tui"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(MAX_BYTES)
    except urllib.error.HTTPError as exc:
        raise UpstreamError(f"{url} answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise UpstreamError(f"{url} did not answer within {timeout:g} seconds") from None
        if isinstance(reason, ssl.SSLError):
            raise UpstreamError(f"{url} could not be reached over TLS") from None
        if isinstance(reason, socket.gaierror):
            raise UpstreamError(f"the name in {url} could not be resolved") from None
        raise UpstreamError(f"{url} could not be reached") from None
    except TimeoutError:
        raise UpstreamError(f"{url} did not answer within {timeout:g} seconds") from None
    except (OSError, ValueError):
        raise UpstreamError(f"{url} could not be reached") from None
    match = _TAG.search(body)
    tag = match.group(1).decode("utf-8", "replace").strip() if match else ""
    if not _PRINTABLE.fullmatch(tag):
        raise UpstreamError(f"{url} names no version")
    return tag
