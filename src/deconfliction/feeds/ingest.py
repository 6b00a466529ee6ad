"""A live SBS-1 feed into a hub: read an ADS-B receiver's TCP stream, assemble reports, post them in batches.

Two tasks share one list. The reader turns each line into at most one report (``sbs.Assembler``) and appends it;
the sender posts what has gathered every ``flush_s`` seconds, or at once when ``batch`` reports wait, one batch at
a time (so the hub sees each aircraft's reports in order). While the hub is unreachable the reader keeps reading and
reports pile up to ``max_backlog``; past it the oldest are dropped, with a warning and a count (``backlog_dropped``),
since the hub would refuse them as stale by then anyway. When the receiver closes the connection (or cannot be
reached) the reader reconnects with backoff, unless ``exit_on_eof`` is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deconfliction.core.backoff import retry_delay
from deconfliction.feeds.client import HubClient
from deconfliction.feeds.report import PositionReport
from deconfliction.feeds.sbs import Assembler

log = logging.getLogger("deconfliction.feeds")


class FeedError(Exception):
    """The receiver could not be read (with ``exit_on_eof``: no reconnecting)."""


def parse_address(text: str, default_port: int = 30003) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6), or ``HOST`` alone for the SBS default port 30003."""
    host, sep, port = text.rpartition(":")
    if not sep or (host.count(":") and not host.endswith("]")):
        host, port = text, str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


@dataclass
class SbsFeed:
    """Where to read, how to batch, and when to stop. ``max_reports`` stops after that many reports (all posted)."""

    host: str
    port: int
    flush_s: float = 1.0
    batch: int = 1_000
    max_reports: int | None = None
    exit_on_eof: bool = False
    max_backlog: int = 100_000
    reconnect_cap_s: float = 30.0


class _Run:
    def __init__(self, feed: SbsFeed, assembler: Assembler, client: HubClient, clock: Callable[[], float]) -> None:
        self.feed, self.assembler, self.client, self.clock = feed, assembler, client, clock
        self.pending: list[PositionReport] = []
        self.wake = asyncio.Event()
        self.reading_done = False
        self.connections = 0
        self.backlog_dropped = 0
        self.emitted = 0
        self._rng = random.Random()

    async def read(self) -> None:
        attempt = 0
        try:
            while True:
                try:
                    reader, writer = await asyncio.open_connection(self.feed.host, self.feed.port, limit=1 << 16)
                except OSError as exc:
                    if self.feed.exit_on_eof:
                        raise FeedError(f"cannot connect to {self.feed.host}:{self.feed.port}: {exc}") from exc
                    delay = retry_delay(attempt, self._rng, 1.0, self.feed.reconnect_cap_s)
                    log.warning("cannot connect to the receiver (%s); trying again in %.0f s", exc, delay)
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                attempt = 0
                self.connections += 1
                log.info("reading SBS-1 from %s:%d", self.feed.host, self.feed.port)
                try:
                    if await self._lines(reader):
                        return
                except (OSError, asyncio.IncompleteReadError) as exc:
                    log.warning("the receiver connection failed: %s", exc)
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
                if self.feed.exit_on_eof:
                    return
                log.warning("the receiver closed the connection; reconnecting")
                await asyncio.sleep(retry_delay(0, self._rng, 1.0, self.feed.reconnect_cap_s))
        finally:
            self.reading_done = True
            self.wake.set()

    async def _lines(self, reader: asyncio.StreamReader) -> bool:
        """Read until end of stream (False) or until ``max_reports`` are out (True)."""
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a "line" longer than the limit: not SBS-1; the reader skipped past it
                self.assembler.stats.lines += 1
                self.assembler.stats.malformed += 1
                continue
            if not line:
                return False
            report = self.assembler.feed(line.decode("latin-1"), self.clock())
            if report is None:
                continue
            self.pending.append(report)
            self.emitted += 1
            if len(self.pending) > self.feed.max_backlog:
                excess = len(self.pending) - self.feed.max_backlog
                del self.pending[:excess]
                self.backlog_dropped += excess
                if self.backlog_dropped % 10_000 < excess:
                    log.warning("the hub is not keeping up: %d reports dropped from the backlog", self.backlog_dropped)
            if len(self.pending) >= self.feed.batch:
                self.wake.set()
            if self.feed.max_reports is not None and self.emitted >= self.feed.max_reports:
                return True

    async def send(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.feed.flush_s)
            self.wake.clear()
            done = self.reading_done
            while self.pending:
                batch = self.pending[: self.feed.batch]
                del self.pending[: self.feed.batch]
                await self.client.post(batch)
                if len(self.pending) < self.feed.batch and not done:
                    break  # a partial batch waits for the next flush
            if done and not self.pending:
                return


async def ingest_sbs(
    feed: SbsFeed,
    assembler: Assembler,
    client: HubClient,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Run the feed until the receiver's stream ends (``exit_on_eof``), ``max_reports`` are posted, or ``stop`` is
    set; everything read by then is posted. Returns the counts of lines, reports and the hub's answers."""
    run = _Run(feed, assembler, client, clock)
    reader = asyncio.create_task(run.read())
    sender = asyncio.create_task(run.send())
    stopper = asyncio.create_task(stop.wait()) if stop is not None else None
    try:
        waiting: set[asyncio.Task[Any]] = {reader, sender} | ({stopper} if stopper else set())
        finished, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if stopper in finished or sender in finished:
            reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await sender
    finally:
        for task in (reader, sender, stopper):
            if task is not None and not task.done():
                task.cancel()
    stats = assembler.stats
    return {
        "lines": stats.lines,
        "malformed": stats.malformed,
        "ignored": stats.ignored,
        "positions": stats.positions,
        "waiting": stats.waiting,
        "repeated": stats.repeated,
        "implausible": stats.implausible,
        "reports": stats.reports,
        "aircraft": len(assembler),
        "connections": run.connections,
        "backlog_dropped": run.backlog_dropped,
        **{f"hub_{k}": v for k, v in client.totals.as_dict().items()},
    }


async def run_sbs(feed: SbsFeed, assembler: Assembler, hub: str, token: str, retry_for_s: float) -> dict[str, Any]:
    """``ingest_sbs`` as a command runs it: SIGINT and SIGTERM stop it after posting what was read."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with HubClient(hub, token, retry_for_s=retry_for_s) as client:
        return await ingest_sbs(feed, assembler, client, stop)
