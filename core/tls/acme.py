"""Getting a certificate from an ACME CA (Let's Encrypt) over HTTP-01 (SYSTEM.md §1.5).

The reference runs certbot for this; we speak the protocol ourselves with certbot's own protocol
library (`acme`), so the admin tool needs no certbot install, no certbot config folder and no
second process. Only the protocol part lives here: choosing the names, making the CSR and
installing the result are the caller's.

One call, `obtain_certificate`, does a whole order: reuse (or register) the box's ACME account,
order the CSR's names, put each HTTP-01 key authorization in the web root that nginx serves,
wait for the CA, finalize and return the full chain. Every step says what it does through
`log`, so a background job can show progress; any failure is one `AcmeError` whose message is
a single human line (the CA's own problem text where there is one).
"""

from __future__ import annotations

import datetime
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from acme import challenges, crypto_util, messages
from acme import errors as acme_errors
from acme.client import ClientNetwork, ClientV2
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from josepy.errors import DeserializationError
from josepy.jwa import ES256, RS256
from josepy.jwk import JWK, JWKEC
from requests.adapters import HTTPAdapter

from core.storage.files import atomic_write

ACCOUNT_FOLDER: Final = "miab-acme"
CHALLENGE_PATH: Final = Path(".well-known") / "acme-challenge"
USER_AGENT: Final = "miab-tui"
# One network call may take this long at most (connect, then each read).
MAX_CALL_SECONDS: Final = 30.0
FINALIZE_POLL_SECONDS: Final = 1.0
MAX_POLL_SECONDS: Final = 10.0

_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,512}")
_WAITING: Final = (messages.STATUS_PENDING, messages.STATUS_PROCESSING)


class AcmeError(Exception):
    """An order failed. `message` is one line for the admin; `log` is what happened before."""

    def __init__(self, message: str, *, log: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.log: list[str] = list(log or [])


def challenge_file_name(token: str) -> str:
    """The CA's challenge token, checked before it names a file in the web root: RFC 8555
    tokens are URL-safe base64, so anything else (a `/`, `..`, padding) is refused."""
    if not _TOKEN.fullmatch(token):
        raise AcmeError(f"The CA sent a challenge token that is not URL-safe base64: {token!r}")
    return token


def obtain_certificate(
    *,
    directory_url: str,
    account_dir: Path,
    csr_pem: bytes,
    webroot: Path,
    log: Callable[[str], None],
    ca_bundle: str | None = None,
    timeout: float = 90.0,
) -> str:
    """Register (or reuse) the ACME account, order a certificate for the CSR's names, answer
    every HTTP-01 challenge by writing the key authorization to
    webroot/.well-known/acme-challenge/<token> (files removed afterwards, also on failure),
    poll, finalize, and return the full chain PEM (leaf first).

    The account lives in `account_dir/miab-acme/<directory host[:port]>/`. `ca_bundle` is a CA
    file for the ACME server's own HTTPS (None: the system's store). Every network call is
    bounded and the whole order must finish within `timeout` seconds. Raises `AcmeError` with
    a clear message on any failure (network, a challenge the CA rejected with its problem
    detail, timeout)."""
    order = _Order(log, deadline=time.monotonic() + timeout, directory_url=directory_url)
    try:
        return order.run(
            account_dir=account_dir, csr_pem=csr_pem, webroot=webroot, ca_bundle=ca_bundle
        )
    except AcmeError as error:
        error.log = list(order.lines)
        raise
    except (acme_errors.Error, requests.RequestException, DeserializationError, OSError) as error:
        raise AcmeError(_reason(error, directory_url), log=order.lines) from error
    except ValueError as error:  # a JSON or PEM body that could not be read
        raise AcmeError(_reason(error, directory_url), log=order.lines) from error


# --- One order ----------------------------------------------------------------------------


class _Order:
    """The state of one `obtain_certificate` call: its log lines and its deadline."""

    def __init__(self, log: Callable[[str], None], *, deadline: float, directory_url: str):
        self._log = log
        self.lines: list[str] = []
        self.deadline = deadline
        self.directory_url = directory_url

    def say(self, line: str) -> None:
        self.lines.append(line)
        self._log(line)

    def remaining(self) -> float:
        """Seconds left before the deadline; past it the order stops with a timeout."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise AcmeError("The ACME order timed out before the CA had finished")
        return left

    def run(
        self, *, account_dir: Path, csr_pem: bytes, webroot: Path, ca_bundle: str | None
    ) -> str:
        csr = _load_csr(csr_pem)
        names = _csr_names(csr)
        folder = account_dir / ACCOUNT_FOLDER / _server_folder_name(self.directory_url)
        key = _load_or_make_key(folder / "private_key.json")
        net = _network(
            key, ca_bundle=ca_bundle, call_timeout=min(MAX_CALL_SECONDS, self.remaining())
        )
        try:
            directory = ClientV2.get_directory(self.directory_url, net)
            client = ClientV2(directory, net)
            self._use_account(client, folder / "regr.json")
            self.remaining()
            self.say(f"Ordering a certificate for {', '.join(names)}")
            order = client.new_order(csr_pem)
            written: list[Path] = []
            try:
                pending = self._answer_challenges(client, order, key, webroot, written)
                failures = [f for f in (self._wait_for(client, a) for a in pending) if f]
                if failures:
                    raise AcmeError(f"The CA could not validate {'; '.join(failures)}")
                # acme's finalize loop sleeps a second before it looks at its deadline.
                left = self.remaining() - FINALIZE_POLL_SECONDS
                finish_by = datetime.datetime.now() + datetime.timedelta(seconds=max(0.0, left))
                order = client.finalize_order(order, finish_by)
            finally:
                self._remove(written)
        finally:
            net.session.close()
        return self._checked_chain(order.fullchain_pem, csr, names)

    # --- the account ---

    def _use_account(self, client: ClientV2, regr_path: Path) -> None:
        """Reuse the stored account; register one when there is none or the CA forgot it."""
        stored = _load_regr(regr_path)
        if stored is not None:
            try:
                client.query_registration(stored)
                return
            except messages.Error as problem:
                if problem.code != "accountDoesNotExist":
                    raise
            self.say("The CA no longer knows the stored ACME account; registering it again")
        self._register(client, regr_path)

    def _register(self, client: ClientV2, regr_path: Path) -> None:
        if client.external_account_required():
            raise AcmeError(
                "The ACME server requires an external account binding, which is not supported"
            )
        self.remaining()
        self.say("Registering an ACME account")
        terms = getattr(client.directory.meta, "terms_of_service", None)
        if terms:
            self.say(f"Agreeing to the CA's terms of service: {terms}")
        # No contact address, as the reference's `--register-unsafely-without-email`.
        new = messages.NewRegistration.from_data(terms_of_service_agreed=True)
        try:
            regr = client.new_account(new)
        except acme_errors.ConflictError as conflict:
            # The CA knows this key already (an earlier run stopped before saving regr.json).
            known = messages.RegistrationResource(
                uri=conflict.location, body=messages.Registration()
            )
            regr = client.query_registration(known)
        atomic_write(regr_path, regr.json_dumps(indent=2) + "\n", mode=0o644)

    # --- the challenges ---

    def _answer_challenges(
        self,
        client: ClientV2,
        order: messages.OrderResource,
        key: JWK,
        webroot: Path,
        written: list[Path],
    ) -> list[messages.AuthorizationResource]:
        """Write every key authorization first, then tell the CA; returns what to wait for."""
        to_answer: list[
            tuple[
                messages.AuthorizationResource,
                messages.ChallengeBody,
                challenges.KeyAuthorizationChallengeResponse,
            ]
        ] = []
        for authzr in order.authorizations:
            name = _identifier(authzr)
            status = authzr.body.status
            if status == messages.STATUS_VALID:
                self.say(f"Validated {name} (the CA reused an earlier validation)")
                continue
            if status != messages.STATUS_PENDING:
                raise AcmeError(f"The CA's authorization for {name} is {status.name}")
            challb, chall = _http01(authzr)
            file_name = challenge_file_name(str(chall.encode("token")))
            path = webroot / CHALLENGE_PATH / file_name
            written.append(path)
            atomic_write(path, chall.validation(key), mode=0o644)
            to_answer.append((authzr, challb, chall.response(key)))
        for authzr, challb, response in to_answer:
            self.remaining()
            self.say(f"Answering the http-01 challenge for {_identifier(authzr)}")
            client.answer_challenge(challb, response)
        return [authzr for authzr, _, _ in to_answer]

    def _wait_for(self, client: ClientV2, authzr: messages.AuthorizationResource) -> str | None:
        """Poll one authorization until the CA has decided; None when valid, else
        "<name>: <the CA's problem>". Every name is waited for, so all failures are told."""
        name = _identifier(authzr)
        pause = 0.2
        while True:
            authzr, response = client.poll(authzr)
            status = authzr.body.status
            if status == messages.STATUS_VALID:
                self.say(f"Validated {name}")
                return None
            if status not in _WAITING:
                problems = [c.error for c in authzr.body.challenges if c.error is not None]
                detail = (
                    _problem_text(problems[0])
                    if problems
                    else f"the authorization is {status.name}"
                )
                self.say(f"The CA could not validate {name}: {detail}")
                return f"{name}: {detail}"
            # Soon at first (a CA often decides within a second), then less often; a
            # Retry-After from the CA is honoured up to MAX_POLL_SECONDS.
            wait = pause
            if "Retry-After" in response.headers:
                asked = ClientV2.retry_after(response, 1) - datetime.datetime.now()
                wait = max(wait, min(asked.total_seconds(), MAX_POLL_SECONDS))
            time.sleep(max(0.0, min(wait, self.remaining())))
            pause = min(pause * 2, 2.0)

    def _remove(self, written: list[Path]) -> None:
        for path in written:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                self.say(f"Could not remove the challenge file {path}: {_one_line(error)}")

    # --- the result ---

    def _checked_chain(
        self, fullchain: str | None, csr: x509.CertificateSigningRequest, names: list[str]
    ) -> str:
        """The chain as the CA sent it, once it is seen to be for our key and names."""
        if not fullchain:
            raise AcmeError("The CA finished the order but sent no certificate")
        try:
            chain = x509.load_pem_x509_certificates(fullchain.encode("ascii"))
        except ValueError as error:
            raise AcmeError(f"The CA sent a certificate that could not be read: {error}") from None
        leaf = chain[0]
        if leaf.public_key() != csr.public_key():
            raise AcmeError("The CA sent a certificate for another key than the request's")
        missing = sorted(set(names) - set(_certificate_names(leaf)))
        if missing:
            raise AcmeError(f"The CA's certificate does not cover {', '.join(missing)}")
        expires = leaf.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
        self.say(f"Certificate issued, expires {expires}")
        return fullchain


# --- Helpers ------------------------------------------------------------------------------


class _TrustAdapter(HTTPAdapter):
    """Checks the ACME server's HTTPS against one CA file, for this session only.

    acme's ClientNetwork passes its own `verify=True` on every request, which overrides a
    session-wide `verify`; an adapter sees the final value and can replace it."""

    def __init__(self, ca_bundle: str) -> None:
        super().__init__()
        self._ca_bundle = ca_bundle

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        return super().send(
            request,
            stream=stream,
            timeout=timeout,
            verify=self._ca_bundle,
            cert=cert,
            proxies=proxies,
        )


def _network(key: JWK, *, ca_bundle: str | None, call_timeout: float) -> ClientNetwork:
    alg = ES256 if isinstance(key, JWKEC) else RS256
    net = ClientNetwork(key, alg=alg, user_agent=USER_AGENT, timeout=max(1, int(call_timeout)))
    if ca_bundle is not None:
        net.session.mount("https://", _TrustAdapter(ca_bundle))
    return net


def _server_folder_name(directory_url: str) -> str:
    """`host[:port]` of the directory URL: one account per ACME server."""
    parts = urlsplit(directory_url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host or not re.fullmatch(r"[a-z0-9.:-]+", host):
        raise AcmeError(f"Not an ACME directory URL: {directory_url}")
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{host}:{parts.port}" if parts.port else host


def _load_or_make_key(path: Path) -> JWK:
    """The account key: an EC P-256 key made once and kept 0600 (josepy's JSON form)."""
    if path.exists():
        try:
            return JWK.json_loads(path.read_text())
        except (DeserializationError, ValueError) as error:
            raise AcmeError(f"The stored ACME account key {path} is unreadable: {error}") from None
    key = JWKEC(key=ec.generate_private_key(ec.SECP256R1()))
    atomic_write(path, key.json_dumps(indent=2) + "\n", mode=0o600)
    return key


def _load_regr(path: Path) -> messages.RegistrationResource | None:
    if not path.exists():
        return None
    try:
        regr = messages.RegistrationResource.json_loads(path.read_text())
    except (DeserializationError, ValueError):
        return None  # unreadable: registering again is the way out
    return regr if isinstance(regr, messages.RegistrationResource) else None


def _load_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError as error:
        raise AcmeError(f"The certificate request could not be read: {error}") from None
    if not csr.is_signature_valid:
        raise AcmeError("The certificate request's signature does not match its key")
    return csr


def _csr_names(csr: x509.CertificateSigningRequest) -> list[str]:
    """The names the order will carry, as acme reads them: the CN first, then the SANs."""
    dns_names, addresses = crypto_util.get_identifiers_from_x509(csr.subject, csr.extensions)
    names = list(dict.fromkeys([*dns_names, *addresses]))
    if not names:
        raise AcmeError("The certificate request names no domain")
    return names


def _certificate_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    addresses = [str(a) for a in san.get_values_for_type(x509.IPAddress)]
    return [*san.get_values_for_type(x509.DNSName), *addresses]


def _identifier(authzr: messages.AuthorizationResource) -> str:
    name = str(authzr.body.identifier.value)
    return f"*.{name}" if authzr.body.wildcard else name


def _http01(
    authzr: messages.AuthorizationResource,
) -> tuple[messages.ChallengeBody, challenges.HTTP01]:
    for challb in authzr.body.challenges:
        chall = challb.chall
        if isinstance(chall, challenges.HTTP01):
            return challb, chall
    raise AcmeError(f"The CA offers no http-01 challenge for {_identifier(authzr)}")


def _problem_text(problem: messages.Error) -> str:
    """An RFC 7807 problem as one line: its detail (or the standard description), then any
    sub-problems (one per name of a multi-name order)."""
    text = problem.detail or problem.description or problem.title or str(problem.typ)
    subs = [
        (f"{sub.identifier.value}: " if sub.identifier else "") + _problem_text(sub)
        for sub in problem.subproblems or ()
    ]
    return _one_line("; ".join([text, *subs]))


def _reason(error: Exception, directory_url: str) -> str:
    """One line for the admin about an exception from the ACME exchange."""
    if isinstance(error, messages.Error):  # the CA's own problem document
        return f"The CA refused the request: {_problem_text(error)}"
    if isinstance(error, acme_errors.IssuanceError):
        return f"The CA would not issue the certificate: {_problem_text(error.error)}"
    if isinstance(error, acme_errors.TimeoutError):
        return "The ACME order timed out before the CA had finished"
    if isinstance(error, (requests.exceptions.JSONDecodeError, DeserializationError, ValueError)):
        return f"The ACME server sent an answer that could not be read: {_one_line(error)}"
    if isinstance(error, requests.exceptions.SSLError):
        return f"The ACME server at {directory_url} has an untrusted HTTPS certificate"
    if isinstance(error, requests.exceptions.Timeout):
        return f"The ACME server at {directory_url} did not answer in time"
    if isinstance(error, requests.exceptions.ConnectionError):
        cause = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
        why = f" ({cause.group(1)})" if cause else ""
        return f"Could not connect to the ACME server at {directory_url}{why}"
    if isinstance(error, requests.RequestException):
        return f"Could not reach the ACME server at {directory_url}: {_one_line(error)}"
    if isinstance(error, OSError):
        return f"Could not write a file for the ACME order: {_one_line(error)}"
    return f"The ACME exchange failed: {_one_line(error)}"


def _one_line(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if not isinstance(value, str) and isinstance(value, BaseException) and not text:
        text = type(value).__name__
    return " ".join(text.split())


__all__ = ["AcmeError", "challenge_file_name", "obtain_certificate"]
