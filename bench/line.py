"""The line: how fast a conflict reaches the other party's units, and 10,000 units on one hub.

Both figures are taken against a real ``deconfliction serve`` process (its own fresh SQLite database in a temporary
directory; a free loopback port; RLIMIT_NOFILE raised to the hard limit through ``preexec_fn``; default settings,
so every 2xx is fsynced, except ``DECONFLICTION_LINE_TEST_ANSWER_S=86400`` (``--line-test-answer-s``, 0 for the
default): the hub sends every new endpoint a ``line.test`` at once, which these silent clients do not answer, and
at the default 60 s window it would count them missed in the middle of the run and tell every change of every
endpoint's line state to all the endpoints of its party, a storm that is not what is measured here (bench/NOTES.md).
The clients run in other processes, on uvloop, with a minimal HTTP/1.1 client and a minimal
server-sent-events reader written on raw asyncio (no HTTP library: the client side must stay cheap on 2 cores).
Every time is ``time.monotonic()``, which on Linux is CLOCK_MONOTONIC, one clock for every process of the machine,
so a time taken in one client process is comparable with a time taken in another.

**1. Notification latency under load** (``latency`` in the JSON). Parties (default 12) are created in the database
(the admin path, as ``deconfliction admin create-party`` does), each registers endpoints over HTTP (default 2,
``POST /v1/endpoints``, all families), and every endpoint holds ``GET /v1/events`` open with its own token in a
*reader* process. Each party first declares "anchor" volumes over HTTP (default 20 each): 4 h-long boxes of
0.06 degree on a grid of 0.1 degree, so that no two anchors meet. Then the *load generator* (the main process)
declares, open loop, at a fixed rate (default 200/s: declaration i is sent at t0 + i/rate whatever the answers,
over keep-alive connections, a new one whenever none is idle) for ``--warmup`` + ``--duration`` seconds; only the
declarations scheduled after the warm-up are reported. A share of them (default 0.5) overlaps exactly one anchor
of another party: a 0.02-degree box at the anchor's centre, in the anchor's time, each declaration on the same
anchor in its own 60 s window (120 s apart), so that declarations never meet each other and each such declaration
opens exactly one conflict. The others lie in a grid of empty cells, again one time slot each: no conflict. The
201 gives the conflict's id; the anchor owner's endpoints receive ``conflict.opened`` with the same id in ``data``.
The figure is, per (conflict, endpoint of the other party), receipt time minus the time the generator had read
the whole 201; the declaring party's own endpoints (they get ``conflict.opened`` too) are reported beside it.
Missing = expected receipts that did not arrive within 10 s after the last 201. Also reported: the same receipts
timed from the moment the declaration was sent (``other_party_from_send``: a stall of the hub delays the 201 and
the event alike, so the figure from the 201 does not show it; receipts can even come before the 201), the achieved
rate (201s over the measured window), how late the generator sent (``send_lag``), the 201 latency, its worst per
second, and the CPU share of the hub, the reader and the generator over the whole load (warm-up included).
Target (issue "The line"): p99 <= 50 ms from the 201.

**2. 10,000 connected endpoints** (``fanout``). 100 parties with 100 endpoints each, plus a sender party with none,
are written to the database before the hub starts (``admin.create_party`` and the store's ``insert_endpoint``, i.e.
what ``deconfliction admin create-endpoint`` stores, minus its per-name uniqueness scan, which is O(endpoints) per
endpoint); the hub loads them at start-up. Then ``--register-sample`` more endpoints are registered over HTTP (for
the sender party, which receives nothing) to time that path at this scale. The hub's RSS is read from ``/proc``
before any stream is open, and again once every stream is open (``GET /v1/events`` with the endpoint's token
answered 200 and sent its ``retry:`` line, which the hub sends after it has subscribed the stream); memory per
connection = the difference / connections. ``--workers`` client processes hold the streams (connections opened
``--connect-concurrency`` at a time per process). Once the hub is idle, the CPU the hub and the clients use over
``--idle-s`` seconds (default 16: one keep-alive period and a bit) with nothing to send. Then the sender posts
``--messages`` messages, one at a time, ``POST /v1/messages {"to": [the 100 parties], "priority": "routine", "body":
...}``: each reaches every endpoint as ``message.received``. Per message: the 201 latency, and per endpoint receipt
time minus the time the 201 was read (p50 / p99 / max, "last" = the last endpoint) and minus the time the POST was
sent (the hub answers the POST only after it has woken the streams, so many endpoints get the message before the
sender gets its 201), how many got it, and the hub's CPU per endpoint reached; between messages the benchmark waits
until every endpoint got it (or 120 s) and then until the hub is idle (CPU < 5 % over 200 ms), and reports how long
the hub stayed busy after the 201 (it writes one ``delivered`` record per endpoint). At the end one ``GET
/v1/messages/{id}`` counts the delivery records the hub marked delivered.

    .venv/bin/python -m bench.line --json bench/results/line.json           # both, ~2-3 min
    .venv/bin/python -m bench.line --endpoints 1000 --duration 10           # a quick check
    .venv/bin/python -m bench.line --only latency --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, cast

import orjson

HOST = "127.0.0.1"
TARGET_P99_MS = 50.0
IDLE_S = 3.0  # a kept-alive connection idle longer than this is not reused (uvicorn closes them after 5 s)
Receipt = tuple[str, int, float]  # (id in the event's data, stream index, receipt time)


# -- processes and resources ---


def raise_nofile() -> int:
    """Raise this process's RLIMIT_NOFILE soft limit to its hard limit; returns it."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def machine_busy_s() -> float:
    """CPU time all the machine's cores have spent busy so far (from /proc/stat), in seconds."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU time a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def nofile_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return -1


def start_hub(db: Path, port: int, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deconfliction", "serve", "--db", str(db), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
            env={**os.environ, **env},
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"hub exited: {log.read_text()}")
        try:
            with socket.create_connection((HOST, port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.1)  # polling for the port to open
    raise SystemExit("hub did not start")


def hub_env(args: argparse.Namespace) -> dict[str, str]:
    """The hub's settings that differ from its defaults (none, unless ``--line-test-answer-s`` is given)."""
    return {"DECONFLICTION_LINE_TEST_ANSWER_S": f"{args.line_test_answer_s:g}"} if args.line_test_answer_s else {}


def stop_hub(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_idle(pid: int, threshold: float = 0.05, window_s: float = 0.2, limit_s: float = 60.0) -> float:
    """Wait until the process used less than ``threshold`` of a core over ``window_s``; returns the seconds waited
    (measurement of how long the hub stays busy, not a pause to improve any figure)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        c0, w0 = cpu_s(pid), time.monotonic()
        time.sleep(window_s)
        if (cpu_s(pid) - c0) / (time.monotonic() - w0) < threshold:
            break
    return time.monotonic() - t0


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]  # nearest rank


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "p50_ms": pct(ms, 50),
        "p90_ms": pct(ms, 90),
        "p99_ms": pct(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
    }


# -- a minimal HTTP/1.1 client: one keep-alive connection, one request at a time, Content-Length answers ---


class Http:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = time.monotonic()

    @classmethod
    async def open(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection(HOST, port, limit=2**24)
        return cls(reader, writer)

    async def request(self, method: str, path: str, token: str, body: bytes | None = None) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n")[1:]:
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


# -- a minimal server-sent-events reader on asyncio.Protocol (chunked transfer decoding, SSE blocks) ---


class SSEStream(asyncio.Protocol):
    def __init__(
        self,
        index: int,
        token: str,
        loop: asyncio.AbstractEventLoop,
        on_event: Callable[[int, bytes, bytes, float], None],
        on_lost: Callable[[SSEStream], None],
    ) -> None:
        self.index, self.on_event, self.on_lost = index, on_event, on_lost
        self.request = (
            f"GET /v1/events HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.in_body = False
        self.chunked = False
        self.raw = b""
        self.need = 0  # payload bytes left in the current chunk
        self.skip = 0  # CRLF bytes left after it
        self.text = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the stream opened: {exc!r}"))
        self.on_lost(self)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        t = time.monotonic()
        if not self.in_body:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self.head[:end], self.head[end + 4 :]
            self.head = b""
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            if status != 200:
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(f"HTTP {status}"))
                self.close()
                return
            self.chunked = any(
                x.lower().startswith(b"transfer-encoding:") and b"chunked" in x.lower() for x in lines[1:]
            )
            self.in_body = True
        if self.chunked:
            data = self._dechunk(data)
        if not data:
            return
        text = self.text + data
        start = 0
        while True:
            end = text.find(b"\n\n", start)
            if end < 0:
                break
            etype = edata = None
            for line in text[start:end].split(b"\n"):
                if line.startswith(b"event: "):
                    etype = line[7:]
                elif line.startswith(b"data: "):
                    edata = line[6:]
                elif line.startswith(b"retry:") and not self.opened.done():
                    self.opened.set_result(None)
            if etype is not None and edata is not None:
                self.on_event(self.index, etype, edata, t)
            start = end + 2
        self.text = text[start:]

    def _dechunk(self, data: bytes) -> bytes:
        buf = self.raw + data if self.raw else data
        out: list[bytes] = []
        pos, size_of = 0, len(buf)
        while pos < size_of:
            if self.skip:
                k = min(self.skip, size_of - pos)
                pos += k
                self.skip -= k
            elif self.need:
                k = min(self.need, size_of - pos)
                out.append(buf[pos : pos + k])
                pos += k
                self.need -= k
                if not self.need:
                    self.skip = 2
            else:
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    break
                size = int(buf[pos:nl].split(b";")[0], 16)
                pos = nl + 2
                if size == 0:
                    pos = size_of
                    break
                self.need = size
        self.raw = buf[pos:]
        return b"".join(out)


# -- the reader processes ---


def sse_worker(
    conn: Connection, port: int, tokens: list[str], first_index: int, want: str, concurrency: int, notify: bool
) -> None:
    """A client process: open one stream per token, record ``want`` events, answer the parent's commands."""
    raise_nofile()
    import uvloop

    uvloop.run(_sse_worker(conn, port, tokens, first_index, want.encode(), concurrency, notify))


async def _sse_worker(
    conn: Connection, port: int, tokens: list[str], first: int, want: bytes, concurrency: int, notify: bool
) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(conn.fileno(), lambda: commands.put_nowait(conn.recv()))

    def send(message: tuple[Any, ...]) -> None:
        os.set_blocking(conn.fileno(), True)  # the loop made the pipe non-blocking; a large send must not fail
        conn.send(message)
        os.set_blocking(conn.fileno(), False)

    receipts: list[Receipt] = []
    counts: dict[str, int] = {}
    by_type: dict[bytes, int] = {}
    streams: list[SSEStream] = []
    state = {"open": 0, "dropped": 0}

    def on_event(index: int, etype: bytes, data: bytes, t: float) -> None:
        by_type[etype] = by_type.get(etype, 0) + 1
        if etype != want:
            return
        ident = str(orjson.loads(data)["id"])
        receipts.append((ident, index, t))
        if notify:
            n = counts[ident] = counts.get(ident, 0) + 1
            if n == state["open"]:
                send(("complete", ident, t))

    def on_lost(stream: SSEStream) -> None:
        opened = stream.opened
        if opened.done() and not opened.cancelled() and opened.exception() is None:
            state["dropped"] += 1

    limit = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def open_one(i: int, token: str) -> None:
        async with limit:
            stream = SSEStream(first + i, token, loop, on_event, on_lost)
            try:
                await loop.create_connection(lambda: stream, HOST, port)
                await asyncio.wait_for(stream.opened, 60)
                streams.append(stream)
                state["open"] += 1
            except Exception as exc:  # a failed connection is counted and reported, not fatal
                failures.append(f"{type(exc).__name__}: {exc}")
                stream.close()

    t0 = time.monotonic()
    await asyncio.gather(*(open_one(i, token) for i, token in enumerate(tokens)))
    send(("connected", state["open"], len(failures), failures[:5], time.monotonic() - t0))
    while True:
        command = await commands.get()
        if command[0] == "count":
            send(("count", len(receipts)))
        elif command[0] == "stop":
            dropped = state["dropped"]
            for stream in streams:
                stream.close()
            send(("results", receipts, dropped, {k.decode(): v for k, v in by_type.items()}))
            loop.remove_reader(conn.fileno())
            return


class Readers:
    """Client processes holding the streams of ``tokens`` (split evenly)."""

    def __init__(self, port: int, tokens: list[str], workers: int, want: str, concurrency: int, notify: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        self.by_type: dict[str, int] = {}
        share = -(-len(tokens) // workers)
        for w in range(workers):
            part = tokens[w * share : (w + 1) * share]
            if not part:
                continue
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=sse_worker, args=(child, port, part, w * share, want, concurrency, notify), daemon=True
            )
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    def wait_connected(self, timeout: float = 600) -> dict[str, Any]:
        ok = failed = 0
        errors: list[str] = []
        slowest = 0.0
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise SystemExit("a reader process did not finish connecting")
            _, n_ok, n_failed, sample, took = pipe.recv()
            ok, failed, slowest = ok + n_ok, failed + n_failed, max(slowest, took)
            errors += sample
        return {"connected": ok, "failed": failed, "errors": errors[:10], "connect_s": slowest}

    def count(self) -> int:
        for pipe in self.pipes:
            pipe.send(("count",))
        return sum(pipe.recv()[1] for pipe in self.pipes)

    def wait_complete(self, ident: str, timeout: float) -> bool:
        """Wait until every process said that all its streams received ``ident``."""
        deadline = time.monotonic() + timeout
        pending = set(range(len(self.pipes)))
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for w in list(pending):
                if self.pipes[w].poll(min(left, 0.05)):
                    kind, got, _ = self.pipes[w].recv()
                    if kind == "complete" and got == ident:
                        pending.discard(w)
        return True

    def stop(self) -> tuple[list[Receipt], int]:
        """Close every stream; returns the receipts of the wanted events and how many streams the hub dropped.
        ``self.by_type`` then holds how many events of each type the streams received in all."""
        receipts: list[Receipt] = []
        dropped = 0
        for pipe in self.pipes:
            pipe.send(("stop",))
        for pipe in self.pipes:
            while True:
                message = pipe.recv()
                if message[0] == "results":
                    receipts += message[1]
                    dropped += message[2]
                    for k, v in message[3].items():
                        self.by_type[k] = self.by_type.get(k, 0) + v
                    break
        for proc in self.procs:
            proc.join(timeout=30)
        return receipts, dropped

    def kill(self) -> None:
        for proc in self.procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(timeout=10)

    def pids(self) -> list[int]:
        return [int(p.pid) for p in self.procs]


# -- database set-up (the admin path, before the hub starts) ---


def make_parties(db: Path, names: list[str]) -> list[tuple[str, str]]:
    """Create parties as ``deconfliction admin create-party`` does; returns (party id, token) each."""
    from deconfliction.core.model import Role
    from deconfliction.service import admin
    from deconfliction.store.sql import SqlStore

    store = SqlStore.sqlite(db)
    now = datetime.now(UTC)
    with store.write() as uow:
        made = [admin.create_party(uow, name, Role.PARTY, None, now) for name in names]
    store.close()
    return [(party.id, token) for party, token in made]


def make_endpoints(db: Path, party_ids: list[str], per_party: int) -> list[str]:
    """Store ``per_party`` endpoints for each party (subscribed to everything); returns their tokens, by party."""
    from deconfliction.core.line import Endpoint
    from deconfliction.service.hub import new_token, token_hash
    from deconfliction.store.sql import SqlStore

    store = SqlStore.sqlite(db)
    now = datetime.now(UTC)
    tokens: list[str] = []
    with store.write() as uow:
        for party_id in party_ids:
            for j in range(per_party):
                token = new_token()
                ep = Endpoint(id=f"ep_{secrets.token_hex(8)}", party_id=party_id, name=f"unit {j:03d}", created_at=now)
                uow.insert_endpoint(ep, token_hash(token), None)
                tokens.append(token)
    store.close()
    return tokens


# -- 1. notification latency under an open-loop load ---


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _box(lon: float, lat: float, half: float) -> dict[str, Any]:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half], [lon - half, lat + half]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _volume(lon: float, lat: float, half: float, start: datetime, seconds: float) -> dict[str, Any]:
    return {
        "footprint": _box(lon, lat, half),
        "altitude": {"lower": 0.0, "upper": 1000.0, "reference": "AMSL"},
        "time": {"start": _iso(start), "end": _iso(start + timedelta(seconds=seconds))},
    }


def _cell(index: int, lat0: float) -> tuple[float, float]:
    return 10.0 + (index % 50) * 0.1, lat0 + (index // 50) * 0.1


class Plan:
    """The declarations of the latency run: anchors, then the measured stream (see the module docstring)."""

    def __init__(self, parties: int, anchors_per_party: int, count: int, share: float, seed: int = 7) -> None:
        rng = random.Random(seed)
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        self.anchors: list[tuple[int, bytes]] = []  # (owner, body)
        n_anchors = parties * anchors_per_party
        owners = [a % parties for a in range(n_anchors)]
        for a, owner in enumerate(owners):
            lon, lat = _cell(a, 40.0)
            self.anchors.append((owner, orjson.dumps({"volumes": [_volume(lon, lat, 0.03, start, 4 * 3600)]})))
        self.stream: list[tuple[int, int, bytes]] = []  # (declarer, anchor owner or -1, body)
        hits = misses = 0
        n_quiet_cells = max(n_anchors, 200)
        for _ in range(count):
            if rng.random() < share:
                a = hits % n_anchors
                slot = hits // n_anchors
                hits += 1
                if slot * 120 + 60 > 4 * 3600:
                    raise SystemExit("too many declarations for the anchors: raise --anchors-per-party")
                lon, lat = _cell(a, 40.0)
                declarer = rng.choice([p for p in range(parties) if p != owners[a]])
                vol = _volume(lon, lat, 0.01, start + timedelta(seconds=slot * 120), 60)
                self.stream.append((declarer, owners[a], orjson.dumps({"volumes": [vol]})))
            else:
                c = misses % n_quiet_cells
                slot = misses // n_quiet_cells
                misses += 1
                lon, lat = _cell(c, 50.0)
                vol = _volume(lon, lat, 0.01, start + timedelta(seconds=slot * 120), 60)
                self.stream.append((rng.randrange(parties), -1, orjson.dumps({"volumes": [vol]})))


async def _declare_all(port: int, tokens: list[str], bodies: list[tuple[int, bytes]], parallel: int = 16) -> None:
    conns = [await Http.open(port) for _ in range(parallel)]
    queue = list(enumerate(bodies))

    async def drain(conn: Http) -> None:
        while queue:
            _, (party, body) = queue.pop()
            status, answer = await conn.request("POST", "/v1/operations", tokens[party], body)
            if status != 201:
                raise SystemExit(f"anchor declaration failed: {status} {answer[:300]!r}")

    await asyncio.gather(*(drain(c) for c in conns))
    for c in conns:
        c.close()


async def _register_endpoints(port: int, party_tokens: list[str], per_party: int) -> list[list[str]]:
    conn = await Http.open(port)
    tokens: list[list[str]] = []
    for p, token in enumerate(party_tokens):
        mine = []
        for j in range(per_party):
            body = orjson.dumps({"name": f"unit {p:02d}-{j}"})
            status, answer = await conn.request("POST", "/v1/endpoints", token, body)
            if status != 201:
                raise SystemExit(f"endpoint registration failed: {status} {answer[:300]!r}")
            mine.append(str(orjson.loads(answer)["token"]))
        tokens.append(mine)
    conn.close()
    return tokens


class OpenLoop:
    """Sends ``bodies`` at a fixed rate whatever the answers; records (scheduled, sent, answered, status, conflicts)."""

    def __init__(self, port: int, rate: float) -> None:
        self.port, self.rate = port, rate
        self.idle: list[Http] = []
        self.opened = 0
        self.results: list[tuple[float, float, float, int, list[str]]] = []

    async def _one(self, i: int, scheduled: float, token: str, body: bytes) -> None:
        conn = None
        while self.idle:
            conn = self.idle.pop()
            if time.monotonic() - conn.used < IDLE_S:
                break
            conn.close()  # uvicorn closes keep-alive connections idle for 5 s
            conn = None
        if conn is None:
            conn = await Http.open(self.port)
            self.opened += 1
        sent = time.monotonic()
        try:
            status, answer = await conn.request("POST", "/v1/operations", token, body)
        except (OSError, asyncio.IncompleteReadError):
            conn.close()
            self.results[i] = (scheduled, sent, time.monotonic(), -1, [])
            return
        done = conn.used = time.monotonic()
        self.idle.append(conn)
        ids = [str(c["id"]) for c in orjson.loads(answer)["conflicts"]] if status == 201 else []
        self.results[i] = (scheduled, sent, done, status, ids)

    async def run(self, work: list[tuple[str, bytes]]) -> float:
        tasks = []
        self.results = [(0.0, 0.0, 0.0, 0, [])] * len(work)
        t0 = time.monotonic() + 0.05
        for i, (token, body) in enumerate(work):
            due = t0 + i / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the schedule itself: open loop
            tasks.append(asyncio.create_task(self._one(i, due, token, body)))
        await asyncio.gather(*tasks)
        for conn in self.idle:
            conn.close()
        return t0


def run_latency(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import uvloop

    parties = args.parties
    db = tmp / "latency.db"
    made = make_parties(db, [f"Party {p:02d}" for p in range(parties)])
    party_tokens = [token for _, token in made]
    port = free_port()
    hub = start_hub(db, port, tmp / "latency.log", hub_env(args))
    readers: Readers | None = None
    try:
        ep_tokens = uvloop.run(_register_endpoints(port, party_tokens, args.endpoints_per_party))
        count = round(args.rate * (args.warmup + args.duration))
        plan = Plan(parties, args.anchors_per_party, count, args.conflict_share)
        uvloop.run(_declare_all(port, party_tokens, plan.anchors))
        flat = [t for mine in ep_tokens for t in mine]
        stream_party = [p for p, mine in enumerate(ep_tokens) for _ in mine]
        readers = Readers(port, flat, 1, "conflict.opened", args.connect_concurrency, notify=False)
        connected = readers.wait_connected()
        if connected["failed"]:
            raise SystemExit(f"streams failed to open: {connected}")
        work = [(party_tokens[declarer], body) for declarer, _, body in plan.stream]
        loop_gen = OpenLoop(port, args.rate)
        hub_cpu0, reader_cpu0, gen_cpu0 = cpu_s(hub.pid), cpu_s(readers.pids()[0]), cpu_s(os.getpid())
        busy0, wall0 = machine_busy_s(), time.monotonic()
        t0 = uvloop.run(loop_gen.run(work))
        wall, busy = time.monotonic() - wall0, machine_busy_s() - busy0
        hub_cpu, reader_cpu, gen_cpu = (
            cpu_s(hub.pid) - hub_cpu0,
            cpu_s(readers.pids()[0]) - reader_cpu0,
            cpu_s(os.getpid()) - gen_cpu0,
        )
        conflicting = [i for i, (_, owner, _) in enumerate(plan.stream) if owner >= 0]
        expected_events = 2 * args.endpoints_per_party * sum(1 for i in conflicting if len(loop_gen.results[i][4]) == 1)
        results = loop_gen.results
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and readers.count() < expected_events:
            time.sleep(0.05)  # waiting for stragglers; every receipt is timestamped when it arrived
        receipts, dropped = readers.stop()
        by_type = readers.by_type
        readers = None
        rss = rss_mb(hub.pid)
    finally:
        if readers is not None:
            readers.kill()
        stop_hub(hub)

    measured = [i for i in range(len(plan.stream)) if results[i][0] >= t0 + args.warmup]
    window = [results[i] for i in measured]
    ok = [r for r in window if r[3] == 201]
    first_due, last_due = window[0][0], window[-1][0]
    received: dict[tuple[str, int], float] = {}
    for ident, index, t in receipts:
        received.setdefault((ident, index), t)
    other: list[float] = []
    other_from_send: list[float] = []
    own: list[float] = []
    missing_other = missing_own = 0
    unexpected = conflicts = 0
    for i in measured:
        declarer, owner, _ = plan.stream[i]
        _, sent, done, status, ids = results[i]
        if status != 201:
            continue
        if len(ids) != (1 if owner >= 0 else 0):
            unexpected += 1
        conflicts += len(ids)
        for ident in ids:
            for s, party in enumerate(stream_party):
                if party not in (owner, declarer):
                    continue
                at = received.get((ident, s))
                if party == owner:
                    if at is None:
                        missing_other += 1
                    else:
                        other.append(at - done)
                        other_from_send.append(at - sent)
                elif at is None:
                    missing_own += 1
                else:
                    own.append(at - done)
    other_summary = summary_ms(other)
    result = {
        "rate_target": args.rate,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "parties": parties,
        "endpoints_per_party": args.endpoints_per_party,
        "streams": connected["connected"],
        "anchors": len(plan.anchors),
        "conflict_share": args.conflict_share,
        "declarations": len(window),
        "status_201": len(ok),
        "non_201": len(window) - len(ok),
        "achieved_per_s": len(ok) / max(max(r[2] for r in window) - first_due, 1e-9),
        "scheduled_per_s": (len(window) - 1) / max(last_due - first_due, 1e-9),
        "send_lag": summary_ms([r[1] - r[0] for r in window]),
        "declare": summary_ms([r[2] - r[1] for r in ok]),
        "declare_worst_ms_by_second": [
            round(max(((r[2] - r[1]) * 1000 for r in window if int(r[0] - first_due) == s), default=0.0), 1)
            for s in range(int(last_due - first_due) + 1)
        ],
        "connections_opened": loop_gen.opened,
        "conflicts": conflicts,
        "unexpected_conflict_counts": unexpected,
        "other_party": {**other_summary, "expected": len(other) + missing_other, "missing": missing_other},
        "other_party_from_send": summary_ms(other_from_send),
        "other_party_before_201": sum(1 for x in other if x < 0),
        "declaring_party": {**summary_ms(own), "expected": len(own) + missing_own, "missing": missing_own},
        "events_received": len(other) + len(own),
        "events_total": len(received),
        "streams_dropped": dropped,
        "target_p99_ms": TARGET_P99_MS,
        "met": bool(other_summary["p99_ms"] <= TARGET_P99_MS and missing_other == 0),
        "cpu_share": {
            "hub": hub_cpu / wall,
            "reader": reader_cpu / wall,
            "generator": gen_cpu / wall,
            "rest_of_machine": max(busy - hub_cpu - reader_cpu - gen_cpu, 0.0) / wall,  # other users of the 2 cores
        },
        "events_by_type": by_type,
        "hub_env": hub_env(args),
        "hub_rss_mb": rss,
    }
    o = result["other_party"]
    print(
        f"latency: {result['declarations']} declarations at {result['achieved_per_s']:.0f}/s "
        f"(target {args.rate:.0f}/s), {conflicts} conflicts; other party's endpoints: {o['n']} receipts, "
        f"{o['missing']} missing, p50 {o['p50_ms']:.1f} p90 {o['p90_ms']:.1f} p99 {o['p99_ms']:.1f} "
        f"max {o['max_ms']:.1f} ms; 201 p50 {result['declare']['p50_ms']:.1f} p99 {result['declare']['p99_ms']:.1f} "
        f"ms; CPU hub {result['cpu_share']['hub']:.0%} reader {result['cpu_share']['reader']:.0%} "
        f"generator {result['cpu_share']['generator']:.0%}",
        flush=True,
    )
    return result


# -- 2. ten thousand connected endpoints ---


async def _post_timed(port: int, path: str, token: str, body: bytes) -> tuple[int, bytes, float, float]:
    conn = await Http.open(port)
    sent = time.monotonic()
    status, answer = await conn.request("POST", path, token, body)
    done = time.monotonic()
    conn.close()
    return status, answer, sent, done


async def _get(port: int, path: str, token: str) -> tuple[int, bytes]:
    conn = await Http.open(port)
    try:
        return await conn.request("GET", path, token)
    finally:
        conn.close()


def run_fanout(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import uvloop

    hard = raise_nofile()
    if args.endpoints + 200 > hard:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} is too low for {args.endpoints} connections")
    per_party = -(-args.endpoints // args.fanout_parties)
    db = tmp / "fanout.db"
    t_setup = time.monotonic()
    made = make_parties(db, [f"Party {p:03d}" for p in range(args.fanout_parties)] + ["Sender"])
    party_ids = [pid for pid, _ in made[:-1]]
    sender_token = made[-1][1]
    tokens = make_endpoints(db, party_ids, per_party)[: args.endpoints]
    setup_s = time.monotonic() - t_setup
    port = free_port()
    t_start = time.monotonic()
    hub = start_hub(db, port, tmp / "fanout.log", hub_env(args))
    startup_s = time.monotonic() - t_start
    readers: Readers | None = None
    try:
        hub_nofile = nofile_of(hub.pid)
        register_ms: list[float] = []
        for j in range(args.register_sample):
            body = orjson.dumps({"name": f"extra {j}"})
            status, answer, sent, done = uvloop.run(_post_timed(port, "/v1/endpoints", sender_token, body))
            if status != 201:
                raise SystemExit(f"endpoint registration failed: {status} {answer[:300]!r}")
            register_ms.append((done - sent) * 1000)
        rss_before = rss_mb(hub.pid)
        hub_cpu0 = cpu_s(hub.pid)
        readers = Readers(port, tokens, args.workers, "message.received", args.connect_concurrency, notify=True)
        connected = readers.wait_connected()
        connect_hub_cpu = cpu_s(hub.pid) - hub_cpu0
        connect_reader_cpu = sum(cpu_s(p) for p in readers.pids())
        settle_s = wait_idle(hub.pid)
        rss_connected = rss_mb(hub.pid)
        # The cost of holding the streams with nothing to send: the hub's keep-alive comes every 15 s per stream.
        idle0, idle_readers0, idle_wall0 = cpu_s(hub.pid), sum(cpu_s(p) for p in readers.pids()), time.monotonic()
        time.sleep(args.idle_s)  # measuring an idle period, not waiting for anything
        idle_wall = time.monotonic() - idle_wall0
        idle_hub = (cpu_s(hub.pid) - idle0) / idle_wall
        idle_clients = (sum(cpu_s(p) for p in readers.pids()) - idle_readers0) / idle_wall
        print(
            f"fanout: {connected['connected']:,} streams open ({connected['failed']} failed) in "
            f"{connected['connect_s']:.1f} s; hub RSS {rss_before:.0f} -> {rss_connected:.0f} MB",
            flush=True,
        )
        messages: list[dict[str, Any]] = []
        for m in range(args.messages):
            reader_cpu0 = [cpu_s(p) for p in readers.pids()]
            hub_cpu0, busy0, wall0 = cpu_s(hub.pid), machine_busy_s() - cpu_s(os.getpid()), time.monotonic()
            body = orjson.dumps({"to": party_ids, "priority": "routine", "body": f"Line test {m}: acknowledge."})
            status, answer, sent, done = uvloop.run(_post_timed(port, "/v1/messages", sender_token, body))
            if status != 201:
                raise SystemExit(f"message failed: {status} {answer[:300]!r}")
            ident = str(orjson.loads(answer)["id"])
            complete = readers.wait_complete(ident, 120)
            busy_s = (time.monotonic() - done) + wait_idle(hub.pid)
            hub_cpu = cpu_s(hub.pid) - hub_cpu0
            reader_cpu = sum(cpu_s(p) - c for p, c in zip(readers.pids(), reader_cpu0, strict=True))
            rest = machine_busy_s() - cpu_s(os.getpid()) - busy0 - hub_cpu - reader_cpu  # not this process's
            messages.append(
                {
                    "id": ident,
                    "sent": sent,
                    "done": done,
                    "post_ms": (done - sent) * 1000,
                    "response_bytes": len(answer),
                    "complete": complete,
                    "hub_busy_s": busy_s,
                    "hub_cpu_s": hub_cpu,
                    "reader_cpu_s": reader_cpu,
                    "rest_of_machine_share": max(rest, 0.0) / (time.monotonic() - wall0),
                }
            )
        receipts, dropped = readers.stop()
        by_type = readers.by_type
        readers = None
        status, answer = uvloop.run(_get(port, f"/v1/messages/{messages[0]['id']}", sender_token))
        records = [ep for r in orjson.loads(answer)["recipients"] for ep in r["endpoints"]] if status == 200 else []
        delivered = sum(1 for ep in records if ep["state"] != "queued")
        rss_after = rss_mb(hub.pid)
    finally:
        if readers is not None:
            readers.kill()
        stop_hub(hub)

    by_message: dict[str, dict[int, float]] = {msg["id"]: {} for msg in messages}
    for ident, index, t in receipts:
        if ident in by_message:
            by_message[ident].setdefault(index, t)
    n_open = connected["connected"]
    every: list[float] = []
    every_from_send: list[float] = []
    for msg in messages:
        got = by_message[msg["id"]]
        lat = [t - msg["done"] for t in got.values()]
        every += lat
        every_from_send += [t - msg["sent"] for t in got.values()]
        msg.update(summary_ms(lat))
        msg["received"] = len(got)
        msg["missing"] = n_open - len(got)
        msg["last_ms"] = msg["max_ms"]
        msg["first_ms"] = min(lat) * 1000 if lat else float("nan")
        msg["from_send"] = summary_ms([t - msg["sent"] for t in got.values()])
        msg["hub_cpu_ms_per_endpoint"] = msg["hub_cpu_s"] * 1000 / max(len(got), 1)
        msg.pop("sent"), msg.pop("done")
        print(
            f"  message {msg['id']}: 201 in {msg['post_ms']:.0f} ms ({msg['response_bytes'] / 1e6:.1f} MB); "
            f"{msg['received']:,}/{n_open:,} endpoints, after the 201: p50 {msg['p50_ms']:.0f} p99 "
            f"{msg['p99_ms']:.0f} last {msg['last_ms']:.0f} ms; hub busy {msg['hub_busy_s']:.1f} s "
            f"({msg['hub_cpu_s']:.1f} CPU s), readers {msg['reader_cpu_s']:.2f} CPU s",
            flush=True,
        )
    result = {
        "endpoints": args.endpoints,
        "parties": args.fanout_parties,
        "endpoints_per_party": per_party,
        "workers": args.workers,
        "connect_concurrency": args.connect_concurrency,
        "setup_s": setup_s,
        "hub_startup_s": startup_s,
        "hub_nofile": hub_nofile,
        "register_over_http": summary_ms([ms / 1000 for ms in register_ms]),
        **{k: connected[k] for k in ("connected", "failed", "errors", "connect_s")},
        "connect_hub_cpu_s": connect_hub_cpu,
        "connect_reader_cpu_s": connect_reader_cpu,
        "connect_settle_s": settle_s,
        "idle_s": args.idle_s,
        "idle_hub_cpu_share": idle_hub,
        "idle_clients_cpu_share": idle_clients,
        "rss_before_mb": rss_before,
        "rss_connected_mb": rss_connected,
        "rss_after_mb": rss_after,
        "kb_per_connection": (rss_connected - rss_before) * 1024 / max(n_open, 1),
        "messages": messages,
        "all": {**summary_ms(every), "last_ms": max(m["last_ms"] for m in messages)},
        "all_from_send": summary_ms(every_from_send),
        "missing": sum(m["missing"] for m in messages),
        "streams_dropped": dropped,
        "events_by_type": by_type,
        "hub_env": hub_env(args),
        "delivered_records": {"marked": delivered, "records": len(records)},
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("latency", "fanout"))
    parser.add_argument("--rate", type=float, default=200.0, help="declarations per second (open loop)")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds at the same rate before, not reported")
    parser.add_argument("--parties", type=int, default=12)
    parser.add_argument("--endpoints-per-party", type=int, default=2)
    parser.add_argument("--anchors-per-party", type=int, default=20)
    parser.add_argument("--conflict-share", type=float, default=0.5)
    parser.add_argument("--endpoints", type=int, default=10_000, help="connected endpoints of the fan-out run")
    parser.add_argument("--fanout-parties", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="client processes holding the fan-out streams")
    parser.add_argument("--connect-concurrency", type=int, default=256, help="connections opening at once, each")
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--idle-s", type=float, default=16.0, help="seconds the open streams are watched idle")
    parser.add_argument("--register-sample", type=int, default=20, help="endpoints registered over HTTP at scale")
    parser.add_argument(
        "--line-test-answer-s",
        type=float,
        default=86_400.0,
        help="the hub's DECONFLICTION_LINE_TEST_ANSWER_S (0: the hub's default, 60 s; see the docstring)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "command": "python -m bench.line " + " ".join(sys.argv[1:]),
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    with tempfile.TemporaryDirectory() as tmp_dir:
        if args.only in (None, "latency"):
            results["latency"] = run_latency(args, Path(tmp_dir))
        if args.only in (None, "fanout"):
            results["fanout"] = run_fanout(args, Path(tmp_dir))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
