"""A real webhook receiver on a loopback port, for tests: verifies signatures, deduplicates by event id, and can be
told to fail its next requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from deconfliction.channel.webhooks import EVENT_ID_HEADER, verify


@dataclass
class Receiver:
    secret: bytes = b""
    clock: Callable[[], float] = time.time
    fail_next: int = 0  # answer this many more requests with 500
    url: str = ""
    attempts: list[str] = field(default_factory=list)  # event ids of every POST, in arrival order
    unsigned: int = 0  # POSTs whose signature did not verify
    truncated: int = 0  # POSTs whose body ended before its Content-Length (the hub was killed while sending)
    events: list[dict[str, Any]] = field(default_factory=list)  # processed once each, in arrival order
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ready: threading.Event = field(default_factory=threading.Event)

    def use_secret(self, secret: str) -> None:
        """The endpoint's secret, as the hub showed it once at registration (its UTF-8 bytes are the HMAC key)."""
        self.secret = secret.encode()
        self._ready.set()

    def handle(self, headers: dict[str, str], body: bytes) -> int:
        self._ready.wait(10)  # a push may race the test's reading of the registration answer
        with self._lock:
            self.attempts.append(headers.get(EVENT_ID_HEADER.lower(), ""))
            if not verify(self.secret, headers, body, int(self.clock())):
                self.unsigned += 1
                return 401
            if self.fail_next > 0:
                self.fail_next -= 1
                return 500
            event_id = headers[EVENT_ID_HEADER.lower()]
            if event_id not in self._seen:  # at least once from the hub, exactly once here
                self._seen.add(event_id)
                self.events.append(orjson.loads(body))
            return 204

    def wait_until(self, condition: Callable[[Receiver], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: condition not met in {timeout} s; attempts={self.attempts}")
            time.sleep(0.01)  # polling for the hub's push, not sleeping to pass

    def of_type(self, prefix: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"].startswith(prefix)]


@contextmanager
def receiver(clock: Callable[[], float] = time.time) -> Iterator[Receiver]:
    """Serve a ``Receiver`` on 127.0.0.1 until the block ends; call ``use_secret`` once the endpoint is
    registered."""
    state = Receiver(clock=clock)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length)
            if len(body) < length:  # the sender died mid-request (a kill -9 in a test): nothing was delivered
                state.truncated += 1
                return
            status = state.handle({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
