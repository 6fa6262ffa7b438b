"""DNS lookups for the status checks, with the reference's `query_dns` rules (SYSTEM.md §5):
an answer is its values normalized (IP addresses canonical, trailing dots removed), sorted and
joined by `; `; no answer is `[Not Set]` (or what the caller says), a timeout `[timeout]`.

Lookups go to the box's resolver setting `MIAB_DNS_RESOLVER` ("IP" or "IP:PORT", the one the
TLS checks use) or else the system's resolver (a real box's local bind9), each bounded by the
reference's 5 seconds. Within one run every name and type is asked once: checks that need the
same answer at the same time wait for the one lookup in flight.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from typing import Final, Literal

import dns.exception
import dns.name
import dns.rdata
import dns.resolver
import dns.reversename

from core.hostnames import parse_nameserver

NOT_SET: Final = "[Not Set]"
TIMEOUT: Final = "[timeout]"
LIFETIME: Final = 5.0  # the reference's resolver timeout, for the whole lookup
ATTEMPT: Final = 2.0  # one try of it: a lost UDP packet is asked again within the 5 seconds

Outcome = Literal["answer", "nxdomain", "no-answer", "no-nameservers", "timeout"]
Key = tuple[str, str, str]


def normalize_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


@dataclass(frozen=True, slots=True)
class Answer:
    """One lookup's result. `values` are the reference's strings (sorted); `records` the
    parsed records, for the checks that read fields (TXT strings, DS fields)."""

    outcome: Outcome
    values: tuple[str, ...] = ()
    records: tuple[dns.rdata.Rdata, ...] = ()

    @property
    def found(self) -> bool:
        return self.outcome == "answer"

    def text(self, missing: str | None = NOT_SET) -> str | None:
        """The reference's answer text: the values joined by `; `, `missing` when the name
        has no such record (or no server would answer), `[timeout]` when none answered in time."""
        if self.outcome == "answer":
            return "; ".join(self.values)
        if self.outcome == "timeout":
            return TIMEOUT
        return missing

    def txt(self) -> tuple[str, ...]:
        """TXT answers as their strings joined (a long record is split into 255-byte strings)."""
        out = []
        for record in self.records:
            strings = getattr(record, "strings", ())
            out.append(b"".join(strings).decode("utf-8", "replace"))
        return tuple(out)


def _key(name: str | dns.name.Name, rtype: str, at: str | None) -> Key:
    return (str(name).rstrip(".").lower(), rtype, at or "")


class DnsLookup:
    """The lookups of one status run (answers kept for that run only, so a re-run sees the
    changes made since)."""

    def __init__(self, nameserver: str | None, *, lifetime: float = LIFETIME) -> None:
        self.lifetime = lifetime
        self.nameserver: tuple[str, int] | None = None
        self.problem = ""
        if nameserver:
            try:
                self.nameserver = parse_nameserver(nameserver)
            except ValueError:
                self.problem = (
                    f"The DNS resolver setting {nameserver[:60]!r} is not an IP address"
                    " (IP or IP:PORT); the system's resolver was used."
                )
        self._system: list[str] | None = None
        self._lock = threading.Lock()
        self._answers: dict[Key, Answer] = {}
        self._inflight: dict[Key, threading.Event] = {}
        self._resolvers: dict[str, dns.resolver.Resolver] = {}

    @property
    def local_resolver(self) -> bool:
        """True when lookups go to a resolver on this machine's port 53 (a real box's bind9):
        then, as for the reference, nothing can be looked up while it is down."""
        if self.nameserver is not None:
            return False
        return any(ns in ("127.0.0.1", "::1") for ns in self._system_nameservers())

    def _system_nameservers(self) -> list[str]:
        with self._lock:
            if self._system is None:
                try:
                    self._system = [str(ns) for ns in dns.resolver.Resolver().nameservers]
                except (dns.exception.DNSException, OSError):
                    self._system = []
            return self._system

    def _resolver(self, at: str | None) -> dns.resolver.Resolver:
        """One resolver per server asked, shared by the run's threads (making one reads the
        host name, which costs more than a lookup on loopback)."""
        key = at or ""
        with self._lock:
            resolver = self._resolvers.get(key)
        if resolver is not None:
            return resolver
        nameservers = self._system_nameservers()
        resolver = dns.resolver.Resolver(configure=False)
        if at:
            resolver.nameservers = [at]
        elif self.nameserver is not None:
            resolver.nameservers = [self.nameserver[0]]
            resolver.port = self.nameserver[1]
        else:
            resolver.nameservers = nameservers or ["127.0.0.1"]
        resolver.timeout = min(ATTEMPT, self.lifetime)
        resolver.lifetime = self.lifetime
        with self._lock:
            return self._resolvers.setdefault(key, resolver)

    def query(self, name: str | dns.name.Name, rtype: str, *, at: str | None = None) -> Answer:
        """Ask for `name`'s `rtype` records (at the server `at`, port 53, if given)."""
        key = _key(name, rtype, at)
        with self._lock:
            if key in self._answers:
                return self._answers[key]
            waiting = self._inflight.get(key)
            if waiting is None:
                self._inflight[key] = threading.Event()
        if waiting is not None:
            waiting.wait(self.lifetime * 2 + 1)
            with self._lock:
                if key in self._answers:
                    return self._answers[key]
        return self._settle(key, self._ask(name, rtype, at))

    def prefetch(self, *queries: tuple[str | dns.name.Name, str]) -> None:
        """Start these lookups now, each on a thread of its own, so that a check needing
        several waits for the slowest of them rather than for their sum."""
        for name, rtype in queries:
            key = _key(name, rtype, None)
            with self._lock:
                if key in self._answers or key in self._inflight:
                    continue
                self._inflight[key] = threading.Event()
            threading.Thread(
                target=self._prefetched, args=(key, name, rtype), name="miab-dns", daemon=True
            ).start()

    def _prefetched(self, key: Key, name: str | dns.name.Name, rtype: str) -> None:
        self._settle(key, self._ask(name, rtype, None))

    def _settle(self, key: Key, answer: Answer) -> Answer:
        with self._lock:
            self._answers[key] = answer
            event = self._inflight.pop(key, None)
        if event is not None:
            event.set()
        return answer

    def text(
        self, name: str | dns.name.Name, rtype: str, *, missing: str | None = NOT_SET
    ) -> str | None:
        return self.query(name, rtype).text(missing)

    def reverse(self, address: str) -> Answer:
        """The PTR of an address. Raises: ValueError: not an address."""
        return self.query(dns.reversename.from_address(address), "PTR")

    def _ask(self, name: str | dns.name.Name, rtype: str, at: str | None) -> Answer:
        try:
            qname = name if isinstance(name, dns.name.Name) else dns.name.from_text(name + ".")
            response = self._resolver(at).resolve(qname, rtype, search=False)
        except dns.resolver.NXDOMAIN:
            return Answer("nxdomain")
        except dns.resolver.NoAnswer:
            return Answer("no-answer")
        except dns.resolver.NoNameservers:
            return Answer("no-nameservers")
        except dns.exception.Timeout:
            return Answer("timeout")
        except (dns.exception.DNSException, ValueError, OSError):
            # A name that cannot be asked (too long, an empty label) or a resolver that cannot
            # be reached at all: no answer, as the reference reads a failed lookup.
            return Answer("no-nameservers")
        records = tuple(response)
        texts = [r.to_text() for r in records]
        if rtype in ("A", "AAAA"):
            texts = [normalize_ip(t) for t in texts]
        return Answer("answer", tuple(sorted(t.rstrip(".") for t in texts)), records)
