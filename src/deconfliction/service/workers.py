"""The hub's worker processes: pure work that is large and needs no state, run beside the hub's one GIL (the
pairwise detector, the parsing of position-report batches)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def exit_with_parent(parent_pid: int) -> None:
    """In a worker process: end it when the hub that started it is gone (a ``kill -9`` of the hub would otherwise
    leave it behind for good, one more at every restart)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` processes, started on first use ("spawn": never fork a threaded hub), that end with the hub."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
