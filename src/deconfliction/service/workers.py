"""The hub's worker processes: pure work that is large and needs no state, run beside the hub's one GIL (the
pairwise detector, the parsing of position-report batches); and the one core the hub itself runs on.

The hub's Python runs under one GIL, so it never uses more than one core for it; but its two busy threads (the
event loop and the writer) hand the GIL back and forth thousands of times a second, and on two cores every hand-over
wakes the other core. Kept on one core, the same hand-over is a plain context switch: over HTTP at 1M volumes the hub
then did 20–75 % more non-overlapping declarations per second, for 20–45 % less CPU each (bench/NOTES.md, "One
core"). Its worker processes are made for the other cores, so they get back the cores the hub had. Several hubs on
one machine should each be given a core of their own (``Settings.cpu``): "auto" takes whichever core it starts on.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

# The cores this process could use before ``keep_on_one_core`` narrowed it: the worker processes' cores.
_worker_cores: set[int] | None = None


def exit_with_parent(parent_pid: int) -> None:
    """In a worker process: end it when the hub that started it is gone (a ``kill -9`` of the hub would otherwise
    leave it behind for good, one more at every restart)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _start_worker(parent_pid: int, cores: set[int] | None) -> None:
    if cores:
        os.sched_setaffinity(0, cores)
    exit_with_parent(parent_pid)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` processes, started on first use ("spawn": never fork a threaded hub), that end with the hub and
    run on every core the hub could use before it kept to one."""
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(), _worker_cores),
    )


def _current_core() -> int | None:
    """The core this thread is running on (Linux: field 39 of ``/proc/thread-self/stat``), None if unknown."""
    try:
        stat = Path("/proc/thread-self/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[36])
    except (OSError, ValueError, IndexError):
        return None


def keep_on_one_core(choice: str) -> int | None:
    """Run every thread of this process, now and later, on one core (``Settings.cpu``: "auto" for the core it is on
    now, a core number, or "off"). Returns the core, or None where it does nothing: "off", one core only, or a
    system without CPU affinity. A core this process may not use is a ValueError."""
    global _worker_cores
    if choice == "off" or not hasattr(os, "sched_setaffinity"):
        return None
    cores = os.sched_getaffinity(0)
    if choice == "auto":
        if len(cores) < 2:
            return None
        current = _current_core()
        core = current if current in cores else min(cores)
    elif (core := int(choice)) not in cores:
        raise ValueError(f"cpu {core} is not a core this process may run on (it may use {sorted(cores)})")
    _worker_cores = cores
    for task in os.listdir("/proc/self/task"):  # a thread's affinity is its own: set it for those running already
        os.sched_setaffinity(int(task), {core})
    return core
