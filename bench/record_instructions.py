"""What the record adds to a declaration, counted in instructions: a deterministic twin of ``bench.record``'s first
figure.

This machine's speed drifts by 20-35 % within hours (bench/NOTES.md), so a few per cent of latency only show when
two hubs are interleaved for minutes, and even then move by several points between runs. The instructions a
declaration executes do not drift. This declares ``--declarations`` of one stream of ``bench.scenario`` in-process,
one transaction each and without fsync (as ``bench.inprocess`` does), on a copy of ``bench.record``'s database with
10,000 volumes and a 20,000-entry log, under valgrind's callgrind, counting only the declarations (after 20 to warm
up): once with the record as shipped and once with it switched off as ``bench/record_hub.py --no-record`` does.

What it does not count: time spent waiting (I/O, fsync, the GIL), the HTTP stack, which makes the denominator of
``bench.record`` larger, and cache misses. And under valgrind OpenSSL does not see SHA-NI, so it hashes with its
AVX2 code at about four times the instructions: the ``libcrypto`` column (SHA-256 and Ed25519) overstates it.

    .venv/bin/python -m bench.record_instructions                        # both streams, ~4 min
    .venv/bin/python -m bench.record_instructions --stream non_overlapping --declarations 200
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

STREAMS = {"non_overlapping": 200, "heavily_overlapping": 30}
WARM_UP = 20


def child(record: bool, stream: str, n: int, db: Path, tokens: Path) -> None:
    """Runs under callgrind: set up, say READY, declare when told, say DONE, exit when told."""
    if not record:
        from bench.record_hub import switch_record_off

        switch_record_off()
    import gc

    from bench.inprocess import bench_parties, open_hub, to_volume
    from bench.scenario import Scenario
    from deconfliction.service import operations

    hub = open_hub(db)
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)  # as ``deconfliction serve`` runs
    parties = bench_parties(tokens)
    columns = getattr(Scenario(volumes=10_000, parties=len(parties)), stream)(WARM_UP + n)
    drafts = [operations.OperationDraft((to_volume(v),)) for v in columns.to_api()]
    owners = [parties[i] for i in columns.party.tolist()]

    def declare(lo: int, hi: int) -> None:
        for draft, owner in zip(drafts[lo:hi], owners[lo:hi], strict=True):
            hub.execute(lambda tx, c=owner, d=draft: operations.declare(hub, tx, c, d))

    declare(0, WARM_UP)
    print("READY", flush=True)
    sys.stdin.readline()
    declare(WARM_UP, WARM_UP + n)
    print("DONE", flush=True)
    sys.stdin.readline()
    hub.stop()


def count(record: bool, stream: str, n: int, db: Path, tokens: Path, out: Path) -> dict[str, float]:
    """Instructions per declaration (all, and in libcrypto) of one child run under callgrind."""
    copy = out.with_suffix(".db")
    shutil.copy(db, copy)
    args = ["--child", "on" if record else "off", stream, str(n), str(copy), str(tokens)]
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    proc = subprocess.Popen(
        [*cmd, sys.executable, "-m", "bench.record_instructions", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for word, switch in (("READY", "on"), ("DONE", "off")):
        line = proc.stdout.readline().strip()
        if line != word:
            raise SystemExit(f"the child said {line!r}, not {word}")
        subprocess.run(["callgrind_control", "-i", switch, str(proc.pid)], check=True, capture_output=True)
        proc.stdin.write("go\n")
        proc.stdin.flush()
    proc.wait()
    annotated = subprocess.run(
        ["callgrind_annotate", "--threshold=100", str(out)], check=True, capture_output=True, text=True
    ).stdout
    total = crypto = 0
    for line in annotated.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(.*?\)\s+(.*)$", line)
        if m is None:
            continue
        cost = int(m.group(1).replace(",", ""))
        if "PROGRAM TOTALS" in m.group(2):
            total = cost
        elif "libcrypto" in m.group(2):
            crypto += cost
    return {"per_declaration": total / n, "libcrypto": crypto / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", choices=sorted(STREAMS), help="one stream (default: both)")
    parser.add_argument("--declarations", type=int, help="declarations counted (default 200 / 30 by stream)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, stream, n, db, tokens = args.child
        child(mode == "on", stream, int(n), Path(db), Path(tokens))
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind (apt-get install valgrind)")
    from bench.record import build_record, volumes_db

    base, tokens = volumes_db(10_000)
    db = build_record(base, tokens, 20_000)
    print(
        "Instructions per declaration (`python -m bench.record_instructions`: in-process at 10,000 volumes and a "
        "20,000-entry log, one transaction each, no fsync, under callgrind; `libcrypto` is overstated, see its "
        "docstring):\n"
    )
    print("| stream | declarations | record on, M instr/decl | off | record's share | of it in libcrypto |")
    print("|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for stream in [args.stream] if args.stream else list(STREAMS):
            n = args.declarations or STREAMS[stream]
            on, off = (count(r, stream, n, db, tokens, Path(tmp) / f"{stream}-{r}.out") for r in (True, False))
            added = on["per_declaration"] - off["per_declaration"]
            print(
                f"| {stream} | {n} | {on['per_declaration'] / 1e6:.3f} | {off['per_declaration'] / 1e6:.3f} "
                f"| {added / off['per_declaration']:+.1%} | {(on['libcrypto'] - off['libcrypto']) / 1e6:.3f} M |",
                flush=True,
            )


if __name__ == "__main__":
    main()
