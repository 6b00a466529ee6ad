"""Webhook push: signed HTTP POSTs to a party's endpoint, and the check its receiver makes.

Every POST carries three headers::

    X-Deconfliction-Event-Id:   evt_0190...        the notification's id, the same on every retry
    X-Deconfliction-Timestamp:  1718000000         unix seconds when this POST was signed
    X-Deconfliction-Signature:  v1=<hex>           HMAC-SHA256(secret, f"{timestamp}.{event_id}.".encode() + body)

Signing the timestamp and the event id with the body means none of the three can be swapped without the receiver
noticing, and a captured request can only be replayed within the tolerance window. Event ids are restricted to
``[A-Za-z0-9_:-]`` so the dots in the signed string can only be the separators.

**Receiving.** Delivery is *at least once*: a POST whose 2xx was lost (timeout, crash after commit, network cut)
is sent again with the same event id and a fresh timestamp and signature. A receiver therefore:

1. reads the raw body bytes (before any JSON parsing) and calls :func:`verify` with its own clock; on ``False``
   it answers 401 and does nothing else;
2. in the same transaction that stores the notification, records the event id under a unique constraint
   (e.g. ``INSERT ... ON CONFLICT (event_id) DO NOTHING``); if the id was already there it skips processing;
3. answers 2xx in both cases (a repeat is a success: the hub must stop retrying), keeping the ids at least as
   long as the hub keeps retrying, and longer than the timestamp tolerance.

Only a 2xx stops the retries; redirects are not followed, so a moved endpoint must be re-registered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from deconfliction.core.errors import InvalidInput

EVENT_ID_HEADER = "X-Deconfliction-Event-Id"
TIMESTAMP_HEADER = "X-Deconfliction-Timestamp"
SIGNATURE_HEADER = "X-Deconfliction-Signature"
SIGNATURE_SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300
MAX_URL_LENGTH = 2048

_EVENT_ID = re.compile(r"[A-Za-z0-9_:\-]{1,200}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")
_MAX_ERROR_CHARS = 200


def _signature(secret: bytes, timestamp: int, event_id: str, body: bytes) -> str:
    message = f"{timestamp}.{event_id}.".encode() + body
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_headers(secret: bytes, event_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The three headers that let a receiver check ``body`` came from the hub, as event ``event_id``, at
    ``timestamp``.

    Raises ``ValueError`` for an empty secret, a negative timestamp, or an event id outside ``[A-Za-z0-9_:-]{1,200}``:
    these are the hub's own bugs, never a party's input.
    """
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    if timestamp < 0:
        raise ValueError(f"timestamp must be unix seconds >= 0, got {timestamp!r}")
    if not _EVENT_ID.fullmatch(event_id):
        raise ValueError(f"event id must match [A-Za-z0-9_:-]{{1,200}}, got {event_id!r}")
    return {
        EVENT_ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_SCHEME}={_signature(secret, timestamp, event_id, body)}",
    }


def verify(
    secret: bytes, headers: Mapping[str, str], body: bytes, now: int, tolerance_s: int = DEFAULT_TOLERANCE_S
) -> bool:
    """Whether ``headers`` sign exactly ``body`` with ``secret``, within ``tolerance_s`` of ``now`` (unix seconds).

    Header names are matched case-insensitively. The signature header may list several comma-separated
    ``v1=<hex>`` values (e.g. while a secret is rotated); one match is enough. Timestamps too far in the past *or*
    the future are refused. ``True`` proves authenticity, not novelty: deduplicate by the event id (see the module
    docstring) to process each notification once.
    """
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    if tolerance_s < 0:
        raise ValueError(f"tolerance_s must be >= 0, got {tolerance_s!r}")
    lowered = {name.lower(): value for name, value in headers.items()}
    event_id = lowered.get(EVENT_ID_HEADER.lower(), "")
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signatures = lowered.get(SIGNATURE_HEADER.lower(), "")
    if not (_EVENT_ID.fullmatch(event_id) and _TIMESTAMP.fullmatch(timestamp)):
        return False
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = _signature(secret, int(timestamp), event_id, body)
    matched = False
    for candidate in signatures.split(","):
        scheme, _, digest = candidate.strip().partition("=")
        if scheme == SIGNATURE_SCHEME and _HEX_SHA256.fullmatch(digest):
            # No early exit: the work done does not depend on which candidate matched.
            matched |= hmac.compare_digest(digest, expected)
    return matched


def validate_webhook_url(url: str) -> str:
    """``url`` unchanged if it is an absolute ``http``/``https`` URL with a host; else ``InvalidInput``.

    This refuses obvious mistakes at registration. It does not resolve the host, so it does not keep a party from
    naming a private or loopback address.
    """

    def bad(why: str) -> InvalidInput:
        return InvalidInput(f"The webhook URL {why}.", {"field": "url"})

    if not isinstance(url, str) or not url:
        raise bad("is empty; give an absolute URL such as https://hooks.example.com/deconfliction")
    if len(url) > MAX_URL_LENGTH:
        raise bad(f"is {len(url)} characters long; it must be at most {MAX_URL_LENGTH}")
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise bad("contains spaces or control characters; percent-encode them")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise bad(f"must start with http:// or https://, not {parts.scheme + ':' if parts.scheme else 'nothing'}")
    if not parts.hostname:
        raise bad("has no host; write it as https://host[:port]/path")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise bad("has an invalid port; use a number from 1 to 65535 or leave it out")
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise bad(f"cannot be sent to ({exc})") from None
    return url


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one POST. ``status`` is ``None`` when no response came back; ``error`` is ``None`` iff ok."""

    ok: bool
    status: int | None
    error: str | None
    duration_s: float


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


class WebhookSender:
    """Sends signed POSTs over one shared ``httpx.AsyncClient``; safe to use from many tasks of one event loop.

    ``timeout_s`` bounds each POST as a whole (connect, send, and waiting for the status line), not each phase.
    ``transport`` replaces the network, e.g. with ``httpx.MockTransport``. Close with :meth:`aclose` or use
    ``async with``.
    """

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        content_type: str = "application/json",
        user_agent: str = "deconfliction-webhooks/1",
        transport: httpx.AsyncBaseTransport | None = None,
        trust_env: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self._timeout_s = timeout_s
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            headers={"Content-Type": content_type, "User-Agent": user_agent},
            transport=transport,
            trust_env=trust_env,
        )

    async def post(self, url: str, secret: bytes, event_id: str, body: bytes, timestamp: int) -> Attempt:
        """POST ``body`` to ``url`` signed as event ``event_id`` at ``timestamp``; 2xx is ok, anything else is not.

        Network trouble (timeout, refused, reset, TLS) and an invalid URL come back as a failed ``Attempt``, never
        as an exception. The response body is not read. A bad ``secret`` or ``event_id`` raises ``ValueError``
        (see :func:`sign_headers`): that is a bug in the caller, not a delivery failure.
        """
        headers = sign_headers(secret, event_id, body, timestamp)
        started = self._clock()

        def failed(error: str, status: int | None = None) -> Attempt:
            return Attempt(ok=False, status=status, error=_short(error), duration_s=self._clock() - started)

        try:
            validate_webhook_url(url)
        except InvalidInput as exc:
            return failed(f"invalid URL: {exc.message}")
        try:
            async with asyncio.timeout(self._timeout_s):
                request = self._client.build_request("POST", url, content=body, headers=headers)
                response = await self._client.send(request, stream=True, follow_redirects=False)
                await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return failed(f"timed out after {self._timeout_s:g}s")
        except httpx.ConnectError as exc:
            return failed(f"connection failed: {str(exc) or type(exc).__name__}")
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            return failed(f"{type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return Attempt(ok=True, status=status, error=None, duration_s=self._clock() - started)
        if 300 <= status < 400:
            return failed(f"HTTP {status}: redirects are not followed; register the final URL", status)
        return failed(f"HTTP {status}", status)

    async def aclose(self) -> None:
        """Close the shared client and its connections."""
        await self._client.aclose()

    async def __aenter__(self) -> WebhookSender:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
