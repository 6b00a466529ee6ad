"""What one declaration over HTTP costs the hub, counted in instructions: a deterministic twin of ``bench.http``.

``bench.http`` measures declarations per second, which on this VM drifts by 20-65 % from hour to hour
(bench/NOTES.md); a change worth a few per cent shows only in instructions. This starts a real
``deconfliction serve`` (through ``bench/record_hub.py``, i.e. the CLI) under valgrind's callgrind on a copy of
``bench.record``'s database (10,000 volumes, a 20,000-entry log), declares 20 operations of one stream of
``bench.scenario`` to warm it up, then counts every instruction of the hub's process (the event loop, the writer and
every other thread) while one client declares ``--declarations`` more, one at a time on one keep-alive connection.

With ``--against DIR`` it also counts the build checked out in DIR (its ``src/``, with this benchmark and this
virtual environment), so that two builds are compared in the same run:

    .venv/bin/python -m bench.http_instructions                                  # ~1 min
    git worktree add /tmp/base HEAD~3 && .venv/bin/python -m bench.http_instructions --against /tmp/base

What it does not count: waiting (I/O, fsync, the GIL), the client, and cache misses. One client means one
declaration per commit: the per-batch work (the transaction, the record's signed head) is not shared as it is under
load. The hub's timers (the record's head at least once a minute, the sweeps) run inside the window too; they are
set far apart here, and the count still moves by about 1 % from run to run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from bench.http import free_port
from bench.record import Client, build_record, start_hub, volumes_db
from bench.scenario import Scenario

WARM_UP = 20
# Over ``bench.record.HUB_ENV``: the hub's own timers, out of the counted window as far as they go.
QUIET = {
    "DECONFLICTION_CPU": "off",
    "DECONFLICTION_SWEEP_INTERVAL_S": "3600",
    "DECONFLICTION_TACTICAL_PASS_S": "60",
}


def count(stream: str, n: int, db: Path, tokens: list[str], tmp: Path, src: Path | None) -> float:
    """Instructions of the hub's process per declaration (``src``: the build to run, None for this one)."""
    work = Path(tempfile.mkdtemp(dir=tmp))  # a fresh directory per count: no log or database of the last one
    copy, out = work / "hub.db", work / "callgrind.out"
    shutil.copy(db, copy)
    env = {**QUIET, **({"PYTHONPATH": str(src)} if src is not None else {})}
    valgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    proc, _ = start_hub(copy, port := free_port(), work / "hub.log", True, valgrind, env, timeout_s=600)
    columns = getattr(Scenario(volumes=10_000, parties=len(tokens)), stream)(WARM_UP + n)
    owners = columns.party.tolist()
    bodies = [(tokens[p], json.dumps({"volumes": [v]}).encode()) for v, p in zip(columns.to_api(), owners, strict=True)]
    client = Client(port, "")

    def declare(lo: int, hi: int) -> None:
        for token, body in bodies[lo:hi]:
            status, answer, _ = client.request("POST", "/v1/operations", body, token=token)
            if status != 201:
                raise SystemExit(f"declaration answered {status}: {answer[:300]!r}")

    try:
        declare(0, WARM_UP)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True, capture_output=True)
        declare(WARM_UP, WARM_UP + n)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True, capture_output=True)
    finally:
        client.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=600)
    annotated = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(out)], check=True, capture_output=True, text=True
    ).stdout
    totals = re.search(r"^\s*([\d,]+)\s+\(.*?\)\s+PROGRAM TOTALS", annotated, re.MULTILINE)
    if totals is None:
        raise SystemExit("callgrind_annotate printed no total")
    shutil.rmtree(work)
    return int(totals.group(1).replace(",", "")) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", choices=["non_overlapping", "heavily_overlapping"], default="non_overlapping")
    parser.add_argument("--declarations", type=int, default=200)
    parser.add_argument("--against", type=Path, help="a checkout of another build, counted in the same run")
    parser.add_argument("--runs", type=int, default=2, help="counts per build, alternating builds")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    if args.against is not None and not (args.against / "src" / "deconfliction").is_dir():
        raise SystemExit(f"{args.against} is not a checkout of this project (no src/deconfliction)")
    base, token_file = volumes_db(10_000)
    db = build_record(base, token_file, 20_000)
    tokens = list(json.loads(token_file.read_text()).values())
    builds: dict[str, Path | None] = {"this build": None}
    if args.against is not None:
        builds[str(args.against)] = (args.against / "src").resolve()
    counts: dict[str, list[float]] = {name: [] for name in builds}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            for name, src in builds.items():
                counts[name].append(count(args.stream, args.declarations, db, tokens, Path(tmp), src))
    command = "python -m bench.http_instructions" + (f" --against {args.against}" if args.against else "")
    print(
        f"Hub instructions per declaration over HTTP (`{command}`: {args.stream}, "
        f"{args.declarations} declarations one at a time, 10,000 volumes, a 20,000-entry log, under callgrind):\n"
    )
    print("| build | M instructions / declaration, each run |")
    print("|---|---|")
    for name, values in counts.items():
        print(f"| {name} | {', '.join(f'{v / 1e6:.3f}' for v in values)} |")


if __name__ == "__main__":
    main()
