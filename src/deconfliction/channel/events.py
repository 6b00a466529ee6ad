"""The durable per-party event log and the wake-up of live listeners.

Every event is written in the same transaction as the change that caused it, under a per-party sequence number
that is also its SSE id: a listener that reconnects with ``Last-Event-ID: N`` reads everything after N from the
store, in order, whether the hub restarted in between or not. In memory the log only keeps the next sequence per
party (rebuilt from the store at start-up) and wakes listeners after a commit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from deconfliction.store.port import UnitOfWork


class EventLog:
    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def load(self, uow: UnitOfWork) -> None:
        self._last = uow.last_event_seqs()

    def last(self, party_id: str) -> int:
        """The sequence of the party's newest event (0: none yet)."""
        return self._last.get(party_id, 0)

    def append(
        self,
        uow: UnitOfWork,
        party_id: str,
        type_: str,
        data: dict[str, Any],
        at: datetime,
        endpoint_id: str | None = None,
    ) -> int:
        """Append to the party's log (for one of its endpoints only, with ``endpoint_id``); returns the seq."""
        seq = self._last.get(party_id, 0) + 1
        uow.append_event(party_id, seq, type_, data, at, endpoint_id)
        self._last[party_id] = seq
        return seq


class Listeners:
    """Wakes the SSE streams of parties whose logs grew. Safe to call from the writer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def subscribe(self, party_id: str) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        handle = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.setdefault(party_id, set()).add(handle)
        return handle

    def unsubscribe(self, party_id: str, handle: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._waiting.get(party_id, set()).discard(handle)

    def wake(self, party_ids: Iterable[str]) -> None:
        with self._lock:
            handles = [h for p in set(party_ids) for h in self._waiting.get(p, ())]
        for loop, ev in handles:
            if not loop.is_closed():
                loop.call_soon_threadsafe(ev.set)
