"""Webhook push: signatures a receiver can check, and a sender that reports every failure instead of raising.

The sender is driven against a real HTTP server on a loopback port (stdlib ``http.server`` in a thread) that
verifies signatures and deduplicates by event id, as the module docstring of ``channel/webhooks.py`` tells
receivers to.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deconfliction.channel.webhooks import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Attempt,
    WebhookSender,
    sign_headers,
    validate_webhook_url,
    verify,
)
from deconfliction.core.backoff import RetryPolicy
from deconfliction.core.errors import InvalidInput

SECRET = b"s3cret-shared-with-the-receiver"
TS = 1_750_000_000
BODY = b'{"type":"conflict.opened","conflict":"cfl_01"}'


# --- signatures -------------------------------------------------------------------------------------------------


def test_signature_round_trip() -> None:
    headers = sign_headers(SECRET, "evt_1", BODY, TS)
    assert set(headers) == {EVENT_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER}
    assert headers[EVENT_ID_HEADER] == "evt_1"
    assert headers[TIMESTAMP_HEADER] == str(TS)
    assert headers[SIGNATURE_HEADER].startswith("v1=") and len(headers[SIGNATURE_HEADER]) == 3 + 64
    assert verify(SECRET, headers, BODY, now=TS)
    assert verify(SECRET, {k.lower(): v for k, v in headers.items()}, BODY, now=TS + 10)


@given(
    secret=st.binary(min_size=1),
    event_id=st.from_regex(r"[A-Za-z0-9_:\-]{1,40}", fullmatch=True),
    body=st.binary(),
    ts=st.integers(min_value=0, max_value=2**40),
)
def test_any_signed_body_verifies(secret: bytes, event_id: str, body: bytes, ts: int) -> None:
    assert verify(secret, sign_headers(secret, event_id, body, ts), body, now=ts)


def _with(headers: dict[str, str], name: str, value: str) -> dict[str, str]:
    return {**headers, name: value}


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, b: (h, b + b" "), id="body"),
        pytest.param(lambda h, b: (h, b.replace(b"cfl_01", b"cfl_02")), id="body-content"),
        pytest.param(lambda h, b: (_with(h, EVENT_ID_HEADER, "evt_2"), b), id="event-id"),
        pytest.param(lambda h, b: (_with(h, TIMESTAMP_HEADER, str(TS + 1)), b), id="timestamp"),
        pytest.param(lambda h, b: (_with(h, SIGNATURE_HEADER, "v1=" + "0" * 64), b), id="signature"),
        pytest.param(lambda h, b: (_with(h, SIGNATURE_HEADER, h[SIGNATURE_HEADER].upper()), b), id="sig-case"),
        pytest.param(lambda h, b: (_with(h, SIGNATURE_HEADER, h[SIGNATURE_HEADER].replace("v1", "v2")), b), id="v2"),
        pytest.param(lambda h, b: (_with(h, SIGNATURE_HEADER, "v1="), b), id="empty-sig"),
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if k != SIGNATURE_HEADER}, b), id="no-sig"),
        pytest.param(lambda h, b: ({k: v for k, v in h.items() if k != TIMESTAMP_HEADER}, b), id="no-ts"),
        pytest.param(lambda h, b: (_with(h, TIMESTAMP_HEADER, "１７"), b), id="unicode-digits"),
    ],
)
def test_tampering_is_detected(tamper: Callable[[dict[str, str], bytes], tuple[dict[str, str], bytes]]) -> None:
    headers, body = tamper(sign_headers(SECRET, "evt_1", BODY, TS), BODY)
    assert not verify(SECRET, headers, body, now=TS)


def test_an_id_and_body_cannot_trade_bytes() -> None:
    # "evt:1" + "x" and "evt" + ":1.x" would sign the same bytes if ids could hold the separator.
    with pytest.raises(ValueError):
        sign_headers(SECRET, "evt.1", BODY, TS)
    headers = sign_headers(SECRET, "evt", b"1." + BODY, TS)
    assert not verify(SECRET, _with(headers, EVENT_ID_HEADER, "evt.1"), BODY, now=TS)


def test_the_wrong_secret_fails() -> None:
    assert not verify(b"another secret", sign_headers(SECRET, "evt_1", BODY, TS), BODY, now=TS)


def test_stale_and_future_timestamps_are_refused() -> None:
    headers = sign_headers(SECRET, "evt_1", BODY, TS)
    assert verify(SECRET, headers, BODY, now=TS + 300)
    assert verify(SECRET, headers, BODY, now=TS - 300)
    assert not verify(SECRET, headers, BODY, now=TS + 301)
    assert not verify(SECRET, headers, BODY, now=TS - 301)
    assert not verify(SECRET, headers, BODY, now=TS + 61, tolerance_s=60)


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    old = sign_headers(b"old secret", "evt_1", BODY, TS)[SIGNATURE_HEADER]
    new = sign_headers(SECRET, "evt_1", BODY, TS)[SIGNATURE_HEADER]
    headers = _with(sign_headers(SECRET, "evt_1", BODY, TS), SIGNATURE_HEADER, f"{old}, {new}")
    assert verify(SECRET, headers, BODY, now=TS)
    assert verify(b"old secret", headers, BODY, now=TS)


@pytest.mark.parametrize(
    ("secret", "event_id", "ts"), [(b"", "evt_1", TS), (SECRET, "", TS), (SECRET, "a b", TS), (SECRET, "evt_1", -1)]
)
def test_signing_refuses_what_would_be_a_hub_bug(secret: bytes, event_id: str, ts: int) -> None:
    with pytest.raises(ValueError):
        sign_headers(secret, event_id, BODY, ts)


# --- URLs -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/deconfliction?party=a", "http://127.0.0.1:8080/hook", "HTTPS://[::1]:9/x"]
)
def test_good_urls_pass_unchanged(url: str) -> None:
    assert validate_webhook_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "hooks.example.com/path",
        "ftp://hooks.example.com/",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https://",
        "http:///path-only",
        "https://exa mple.com/",
        "https://example.com/\n",
        "http://example.com:99999/",
        "http://example.com:0/",
        "http://example.com:port/",
        "https://" + "a" * 3000 + ".com/",
    ],
)
def test_bad_urls_are_refused_with_a_message(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_webhook_url(url)
    assert caught.value.details == {"field": "url"}
    assert caught.value.message.startswith("The webhook URL ")


# --- a real receiver --------------------------------------------------------------------------------------------


class Receiver:
    """A well-behaved receiver: verify, store each event id once, then answer.

    To stand for a receiver whose answer never reached the hub, the first ``fail_first`` requests store the event
    and then answer 500, and the first ``slow_first`` requests store it and then stall for ``stall_s``.
    """

    def __init__(self, fail_first: int = 0, slow_first: int = 0, stall_s: float = 0.0, status: int = 204) -> None:
        self.fail_first, self.slow_first, self.stall_s, self.status = fail_first, slow_first, stall_s, status
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.requests: list[str] = []  # event id of every POST that arrived, duplicates included
        self.processed: list[tuple[str, bytes]] = []  # what the receiving application acted on
        self.seen: set[str] = set()

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str]]:
        if not verify(SECRET, headers, body, now=int(time.time())):
            return 401, {}
        event_id = headers[EVENT_ID_HEADER]
        with self.lock:
            index = len(self.requests)
            self.requests.append(event_id)
            if event_id not in self.seen:  # in a real receiver: a unique key in the same transaction
                self.seen.add(event_id)
                self.processed.append((event_id, body))
        if index < self.slow_first:
            self.release.wait(self.stall_s)
        if index < self.fail_first:
            return 500, {}
        if 300 <= self.status < 400:
            return self.status, {"Location": "/elsewhere"}
        return self.status, {}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        status, extra = self.server.receiver.handle(dict(self.headers.items()), body)
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the stalled request's client is gone when it answers; that broken pipe is the point of the test


@contextmanager
def serving(receiver: Receiver) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.receiver = receiver
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _sender(timeout_s: float = 5.0) -> WebhookSender:
    return WebhookSender(timeout_s=timeout_s, trust_env=False)  # no proxy from the environment on loopback


async def _deliver(
    sender: WebhookSender, url: str, events: list[tuple[str, bytes]], policy: RetryPolicy
) -> list[Attempt]:
    """The delivery loop in miniature: retry each event until a 2xx or the policy gives up (without sleeping)."""
    attempts: list[Attempt] = []
    rng, now = random.Random(0), datetime.now(UTC)
    for event_id, body in events:
        posts = 0
        while True:
            attempt = await sender.post(url, SECRET, event_id, body, int(time.time()))
            attempts.append(attempt)
            posts += 1
            if attempt.ok or policy.next_attempt_at(posts, now, rng) is None:
                break
    return attempts


EVENTS = [(f"evt_{n}", b'{"n":%d}' % n) for n in range(1, 4)]


def test_sender_reports_failures_then_success_and_the_receiver_sees_each_event_once() -> None:
    receiver = Receiver(fail_first=2)
    with serving(receiver) as url:

        async def run() -> list[Attempt]:
            async with _sender() as sender:
                return await _deliver(sender, url, EVENTS, RetryPolicy(max_attempts=5))

        attempts = asyncio.run(run())
    assert [(a.ok, a.status, a.error) for a in attempts] == [
        (False, 500, "HTTP 500"),
        (False, 500, "HTTP 500"),
        (True, 204, None),
        (True, 204, None),
        (True, 204, None),
    ]
    assert all(a.duration_s >= 0 for a in attempts)
    assert receiver.requests == ["evt_1", "evt_1", "evt_1", "evt_2", "evt_3"]  # at least once...
    assert receiver.processed == EVENTS  # ...and, deduplicated by event id, exactly once, in order


def test_sender_gives_up_when_the_policy_says_so() -> None:
    receiver = Receiver(fail_first=100)
    with serving(receiver) as url:

        async def run() -> list[Attempt]:
            async with _sender() as sender:
                return await _deliver(sender, url, EVENTS[:1], RetryPolicy(max_attempts=3))

        attempts = asyncio.run(run())
    assert [a.status for a in attempts] == [500, 500, 500]
    assert receiver.processed == EVENTS[:1]


def test_a_timeout_is_reported_not_raised_and_the_retry_is_deduplicated() -> None:
    receiver = Receiver(slow_first=1, stall_s=10.0)
    with serving(receiver) as url:

        async def run() -> list[Attempt]:
            async with _sender(timeout_s=1.0) as sender:
                return await _deliver(sender, url, EVENTS[:1], RetryPolicy(max_attempts=3))

        started = time.monotonic()
        attempts = asyncio.run(run())
        elapsed = time.monotonic() - started
    first, second = attempts
    assert (first.ok, first.status, first.error) == (False, None, "timed out after 1s")
    assert 0.9 <= first.duration_s < 5.0
    assert (second.ok, second.status) == (True, 204)
    assert elapsed < 8.0  # the stalled handler did not hold the sender
    assert receiver.requests == ["evt_1", "evt_1"]
    assert receiver.processed == EVENTS[:1]


def test_connection_refused_is_reported_not_raised() -> None:
    # A bound socket that does not listen: the kernel refuses connections, and nothing else can take the port.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}/hook"

        async def run() -> Attempt:
            async with _sender() as sender:
                return await sender.post(url, SECRET, "evt_1", BODY, TS)

        attempt = asyncio.run(run())
    assert (attempt.ok, attempt.status) == (False, None)
    assert attempt.error is not None and attempt.error.startswith("connection failed: ")


def test_redirects_are_not_followed() -> None:
    receiver = Receiver(status=302)
    with serving(receiver) as url:

        async def run() -> Attempt:
            async with _sender() as sender:
                return await sender.post(url, SECRET, "evt_1", BODY, int(time.time()))

        attempt = asyncio.run(run())
    assert (attempt.ok, attempt.status) == (False, 302)
    assert attempt.error is not None and "redirect" in attempt.error
    assert receiver.requests == ["evt_1"]


def test_a_receiver_refuses_a_request_signed_with_another_secret() -> None:
    receiver = Receiver()
    with serving(receiver) as url:

        async def run() -> Attempt:
            async with _sender() as sender:
                return await sender.post(url, b"not the shared secret", "evt_1", BODY, int(time.time()))

        attempt = asyncio.run(run())
    assert (attempt.ok, attempt.status, attempt.error) == (False, 401, "HTTP 401")
    assert receiver.processed == []


@pytest.mark.parametrize("url", ["ftp://example.com/hook", "http:///no-host", "not a url"])
def test_an_invalid_url_is_reported_not_raised(url: str) -> None:
    async def run() -> Attempt:
        async with _sender() as sender:
            return await sender.post(url, SECRET, "evt_1", BODY, TS)

    attempt = asyncio.run(run())
    assert (attempt.ok, attempt.status) == (False, None)
    assert attempt.error is not None and attempt.error.startswith("invalid URL: ")
