"""``service.workers.keep_on_one_core``: run in a child interpreter, since it narrows the whole process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

_PROBE = textwrap.dedent(
    """
    import json, os, sys, threading
    from deconfliction.service.workers import keep_on_one_core, worker_pool

    before = sorted(os.sched_getaffinity(0))
    started = threading.Event()
    stop = threading.Event()
    earlier = threading.Thread(target=lambda: (started.set(), stop.wait()))
    earlier.start()
    started.wait()
    try:
        core = keep_on_one_core(sys.argv[1])
    except ValueError as e:
        core = str(e)
    with worker_pool(1) as pool:
        worker = sorted(pool.submit(os.sched_getaffinity, 0).result())
    threads = sorted({tuple(sorted(os.sched_getaffinity(int(t)))) for t in os.listdir("/proc/self/task")})
    stop.set()
    print(json.dumps({"before": before, "core": core, "threads": threads, "worker": worker}))
    """
)


def _probe(choice: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _PROBE, choice], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


CORES = sorted(os.sched_getaffinity(0))


def test_auto_keeps_every_thread_on_one_core_and_gives_workers_the_rest() -> None:
    seen = _probe("auto")
    assert seen["before"] == CORES
    if len(CORES) < 2:
        assert seen == {"before": CORES, "core": None, "threads": [CORES], "worker": CORES}
        return
    assert seen["core"] in CORES
    assert seen["threads"] == [[seen["core"]]], "a thread of the hub (the one started earlier too) was left out"
    assert seen["worker"] == CORES


@pytest.mark.parametrize("index", [0, -1])
def test_a_named_core_is_the_one_used(index: int) -> None:
    core = CORES[index]
    seen = _probe(str(core))
    assert (seen["core"], seen["threads"], seen["worker"]) == (core, [[core]], CORES)


def test_off_leaves_the_process_where_the_system_puts_it() -> None:
    assert _probe("off") == {"before": CORES, "core": None, "threads": [CORES], "worker": CORES}


def test_a_core_the_process_may_not_use_is_refused() -> None:
    seen = _probe(str(max(CORES) + 1))
    assert f"cpu {max(CORES) + 1} is not a core this process may run on" in str(seen["core"])
    assert seen["threads"] == [CORES]
