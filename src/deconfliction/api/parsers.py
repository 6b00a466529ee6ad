"""Parsing large request bodies in worker processes, beside the hub's GIL.

The hub is one process: its event loop and its writer share one GIL, so everything a request costs in Python
comes off the same core. Checking a batch of 1,000 position reports (``core.tracks.parse_batch``: JSON, then every
field of every report) is ~2.5 ms of it; a parsing worker does that on the other core and sends back the columns
(~0.2 ms to receive). Small bodies are parsed in the request: for them the round trip would cost more than it
saves. A worker that dies (or is killed) is replaced, and the batch in hand is parsed in the request: nothing a
client sent is lost to it, and what it is told is the same either way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from deconfliction.service.workers import worker_pool

log = logging.getLogger(__name__)
T = TypeVar("T")


class Parsers:
    """``workers`` parsing processes (none: parse in the request), for bodies of at least ``min_bytes``."""

    def __init__(self, workers: int, min_bytes: int) -> None:
        self.workers = workers
        self.min_bytes = min_bytes
        self._pool = worker_pool(workers) if workers > 0 else None

    async def parse(self, parse: Callable[..., T], body_size: int, *args: object) -> T:
        """``parse(*args)`` (a module-level function of the core: it runs in another process), in a worker when
        the body is large, else here. Its errors reach the caller as they would from here."""
        pool = self._pool
        if pool is None or body_size < self.min_bytes:
            return parse(*args)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, parse, *args)
        except BrokenProcessPool:
            log.warning("a report-parsing worker died; starting a new one and parsing this batch here")
            if self._pool is pool:
                self._pool = worker_pool(self.workers)
                pool.shutdown(wait=False, cancel_futures=True)
            return parse(*args)

    def pids(self) -> list[int]:
        """The process ids of the live parsing workers (none until the first large batch)."""
        processes = getattr(self._pool, "_processes", None) or {}  # the executor's own table of its workers
        return [p.pid for p in processes.values() if p.pid is not None and p.is_alive()]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
