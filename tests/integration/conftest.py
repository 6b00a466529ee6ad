"""Real hub processes on free loopback ports, and event-stream readers for them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "deconfliction", *args], check=True, capture_output=True, text=True, timeout=60
    )
    return dict(json.loads(out.stdout))


def cli_many(*commands: list[str]) -> list[dict[str, Any]]:
    """Run several admin commands at once (each CLI start costs about a second); results in the given order.
    They must not depend on each other (e.g. two creating the same coalition), and the database must exist."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "deconfliction", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for args in commands
    ]
    results = []
    for args, proc in zip(commands, procs, strict=True):
        out, errors = proc.communicate(timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"{args} failed ({proc.returncode}): {errors}")
        results.append(dict(json.loads(out)))
    return results


@dataclass
class HubProcess:
    """``deconfliction serve`` on a free port. ``env`` adds ``DECONFLICTION_*`` settings (or overrides the ones set
    here); it is read at each ``start()``, so a test may change it between a kill and a restart."""

    db: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.db.with_suffix(".log")

    def start(self) -> None:
        env = {**os.environ, "DECONFLICTION_SWEEP_INTERVAL_S": "3600", **self.env}
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "deconfliction", "serve", "--db", str(self.db), "--port", str(self.port)],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)  # polling for the port to open, not sleeping to pass
        raise RuntimeError("hub did not start within 30 s")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def hub_process(tmp_path: Path) -> Iterator[HubProcess]:
    hub = HubProcess(db=tmp_path / "hub.db")
    yield hub
    hub.stop()


class SSE:
    """A minimal event-stream reader that remembers the last id, like a browser's EventSource."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.last_id: int | None = None
        self.events: list[tuple[int, str, dict[str, Any]]] = []

    def read(
        self,
        count: int | None = None,
        until: Callable[[tuple[int, str, dict[str, Any]]], bool] | None = None,
        on_open: Callable[[], None] | None = None,
        timeout: float = 20.0,
    ) -> list[tuple[int, str, dict[str, Any]]]:
        """Read events (resuming after the last one seen) until ``count`` arrived or ``until`` holds; disconnect."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        got: list[tuple[int, str, dict[str, Any]]] = []
        fields: dict[str, str] = {}
        with httpx.stream("GET", self.url + "/v1/events", headers=headers, timeout=timeout) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("retry:") and on_open is not None:
                    on_open()  # the hub subscribes this stream before it sends anything
                elif line == "":
                    if "id" in fields:
                        event = (int(fields["id"]), fields["event"], orjson.loads(fields["data"]))
                        got.append(event)
                        self.last_id = event[0]
                        if len(got) == count or (until is not None and until(event)):
                            break
                    fields = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(": ")
                    fields[key] = value
        self.events.extend(got)
        return got


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]
    received_at: float  # time.time() when the reader had it whole


def parse_events(text: str) -> list[Event]:
    """The events of a whole (closed) event stream, e.g. ``GET /v1/events?follow=false``."""
    out = []
    now = time.time()
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append(Event(int(fields["id"]), fields["event"], orjson.loads(fields["data"]), now))
    return out


class EventStream:
    """``GET /v1/events`` read in a background thread, collecting every event; like a browser's EventSource it
    remembers the last id, and ``reconnect()`` resumes after it with ``Last-Event-ID``. It does not reconnect by
    itself: a test sees exactly when its connection ended (``ended``) and why (``error``).

    A stream notices ``close()`` at its next line, so run the hub with a short ``DECONFLICTION_EVENT_HEARTBEAT_S``.
    """

    def __init__(self, url: str, token: str, name: str = "stream") -> None:
        self.url, self.token, self.name = url, token, name
        self.last_id: int | None = None
        self.connections = 0
        self.error: BaseException | None = None
        self._events: list[Event] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False

    # -- connecting ---

    def connect(self, timeout: float = 20.0) -> EventStream:
        """Open the stream (after ``last_id`` if set) and return once the hub has subscribed it: from then on,
        every new event reaches it."""
        assert not self._running, f"{self.name} is already connected"
        opened = threading.Event()
        self._stop.clear()
        self.error = None
        with self._cond:
            self._running = True
        self._thread = threading.Thread(target=self._run, args=(opened,), name=f"sse-{self.name}", daemon=True)
        self._thread.start()
        if not opened.wait(timeout):
            raise AssertionError(f"{self.name}: the hub did not open the event stream within {timeout} s")
        if self.error is not None:
            raise AssertionError(f"{self.name}: could not open the event stream: {self.error!r}")
        self.connections += 1
        return self

    def reconnect(self, timeout: float = 20.0) -> EventStream:
        """Resume after the last event received, as an EventSource does (``Last-Event-ID``)."""
        self.close()
        return self.connect(timeout)

    def stop_soon(self) -> None:
        """Tell the reader to stop at its next line (``close()`` waits for it)."""
        self._stop.set()

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            assert not self._thread.is_alive(), f"{self.name}: the reader did not stop within {timeout} s"
            self._thread = None

    def wait_ended(self, timeout: float = 10.0) -> None:
        """Wait until the hub ended the connection (e.g. it was killed)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.name}: still connected after {timeout} s")
                self._cond.wait(remaining)

    @property
    def ended(self) -> bool:
        with self._cond:
            return not self._running

    def _run(self, opened: threading.Event) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        fields: dict[str, str] = {}
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10.0, read=60.0)) as client,
                client.stream("GET", self.url + "/v1/events", headers=headers) as r,
            ):
                if r.status_code != 200 or not r.headers["content-type"].startswith("text/event-stream"):
                    raise RuntimeError(f"GET /v1/events answered {r.status_code}: {r.read()!r}")
                for line in r.iter_lines():
                    if self._stop.is_set():
                        return
                    if line.startswith("retry:"):
                        opened.set()  # the hub subscribes the stream before it sends this
                    elif line == "":
                        if "id" in fields:
                            event = Event(int(fields["id"]), fields["event"], orjson.loads(fields["data"]), time.time())
                            with self._cond:
                                self._events.append(event)
                                self.last_id = event.id
                                self._cond.notify_all()
                        fields = {}
                    elif not line.startswith(":"):
                        key, _, value = line.partition(": ")
                        fields[key] = value
        except Exception as exc:  # the hub went away (or answered an error): recorded, never raised in a thread
            self.error = exc
        finally:
            opened.set()
            with self._cond:
                self._running = False
                self._cond.notify_all()

    # -- what arrived ---

    @property
    def events(self) -> list[Event]:
        with self._cond:
            return list(self._events)

    def of_type(self, *types: str) -> list[Event]:
        return [e for e in self.events if e.type in types]

    def wait_until(
        self, predicate: Callable[[list[Event]], bool], what: str = "the condition", timeout: float = 10.0
    ) -> list[Event]:
        """Wait (at most ``timeout`` seconds) until ``predicate(events so far)`` holds; return the events so far.
        Fails at once if the connection ended before it held."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self._events):
                remaining = deadline - time.monotonic()
                if not self._running:
                    raise AssertionError(f"{self.name}: connection ended ({self.error!r}) before {what}; {self}")
                if remaining <= 0:
                    raise AssertionError(f"{self.name}: no {what} within {timeout} s; {self}")
                self._cond.wait(remaining)
            return list(self._events)

    def wait_count(self, count: int, timeout: float = 10.0) -> list[Event]:
        """Wait until at least ``count`` events arrived (over all connections); return them all."""
        return self.wait_until(lambda events: len(events) >= count, f"{count} events", timeout)

    def wait_for(self, type_: str, what: str | None = None, timeout: float = 10.0, **data: Any) -> Event:
        """The first event of ``type_`` whose data has these values; waits for it (at most ``timeout`` s)."""

        def match(e: Event) -> bool:
            return e.type == type_ and all(e.data.get(k) == v for k, v in data.items())

        found = self.wait_until(lambda evs: any(match(e) for e in evs), what or f"{type_} {data}", timeout)
        return next(e for e in found if match(e))

    def __str__(self) -> str:
        return f"{self.name} got {[(e.id, e.type) for e in self.events]}"
