"""Group commit: one thread drains queued writes and commits them together, so N requests share one fsync.

A 2xx still means durable: a request's future resolves only after the transaction holding it has committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class GroupCommitWriter:
    def __init__(self, run_batch: Callable[[list[Callable[..., Any]], list[Future[Any]]], Any], batch_max: int) -> None:
        self._run_batch = run_batch
        self._batch_max = batch_max
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="deconfliction-writer", daemon=True)
        self._thread.start()

    def submit(self, command: Callable[..., T]) -> Future[T]:
        fut: Future[T] = Future()
        self._queue.put((command, fut))
        return fut

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            stop = item is _STOP
            batch = [] if stop else [item]
            while len(batch) < self._batch_max:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
            if batch:
                self._run(batch)
            if stop:
                return

    def _run(self, batch: list[tuple[Callable[..., Any], Future[Any]]]) -> None:
        futures = [fut for _, fut in batch]
        try:
            self._run_batch([command for command, _ in batch], futures)
        except BaseException as exc:  # never let the writer die: fail the batch's unsettled requests instead
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc)
