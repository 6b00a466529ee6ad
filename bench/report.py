"""Turn ``bench/results/*.json`` (written by ``bench/run.sh``) into the tables of ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results")
STREAMS = ("non_overlapping", "heavily_overlapping")


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((RESULTS / name).read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--volumes", type=int, required=True)
    parser.add_argument("--queries", type=int, required=True)
    args = parser.parse_args()
    off, full = _load("inprocess_OFF.json"), _load("inprocess_FULL.json")
    http, pg = _load("http.json"), _load("baseline_postgis.json")
    pg_rows = {(r["stream"], r["synchronous_commit"]): r for r in pg["results"]}
    lines = [
        "# Benchmarks",
        "",
        f"Produced by `bench/run.sh {args.volumes} {args.queries}` on this project's 2-core machine "
        f"({platform.python_implementation()} {platform.python_version()}), everything in the same run. "
        "The stored set and the query streams are `bench/scenario.py` (its docstring gives the exact numbers):",
        f"{args.volumes:,} volumes over Europe and one day, 12 parties; `non_overlapping` declarations meet nothing; "
        "`heavily_overlapping` ones each meet ~20 stored volumes of other parties.",
        "",
        "## Declaring one operation in-process (check + store + conflicts + events, one transaction each)",
        "",
        "Hub: `bench/inprocess.py`, one declaration per transaction, sequential. Baseline: `bench/baseline_postgis.py`,"
        " a plain PostGIS table with GiST indexes queried for overlaps then written, one connection, sequential "
        "(it computes no overlap geometry and writes no events).",
        "",
        "| system | stream | fsync | conflicts/decl | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for stream in STREAMS:
        for label, run in (("off", off), ("on", full)):
            d = run[stream]["declare"]
            lines.append(
                f"| hub | {stream} | {label} | {run[stream]['conflicts_mean']:.1f} | {d['p50_ms']:.2f} | "
                f"{d['p95_ms']:.2f} | {d['p99_ms']:.2f} | {d['max_ms']:.1f} |"
            )
        for label in ("off", "on"):
            r = pg_rows[(stream, label)]
            lines.append(
                f"| PostGIS + GiST | {stream} | {label} | {r['conflicts_mean']:.1f} | {r['p50_ms']:.2f} | "
                f"{r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} |"
            )
    parse = off["non_overlapping"]["parse"]
    lines += [
        "",
        f"Parsing and validating the declaration (not in the figures above) adds p50 {parse['p50_ms']:.2f} ms, "
        f"p99 {parse['p99_ms']:.2f} ms. Hub start-up with {off['volumes']:,} indexed volumes: "
        f"{off['startup_s']:.0f} s to rebuild the index from SQLite; RSS {off['rss_mb']:.0f} MB after start-up, "
        f"{off['rss_after_mb']:.0f} MB after the streams. PostGIS: load {pg['load']['total_s']:.0f} s, "
        f"database {pg['sizes']['database_bytes'] / 2**20:.0f} MiB.",
        "",
        "## Declarations over HTTP",
        "",
        f"`bench/http.py`: `deconfliction serve` (SQLite WAL, synchronous=FULL: every 201 is fsynced) on the same "
        f"stored set, wrk on loopback with 2 threads and {http['connections']} connections, closed loop, "
        f"{http['duration_s']} s per stream after a 2 s warm-up, each declaration with its party's token.",
        "",
        "| stream | declarations/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | hub CPU ms/decl | hub RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stream in STREAMS:
        h = http[stream]
        lines.append(
            f"| {stream} | {h['per_s']:.0f} | {h['p50_ms']:.1f} | {h['p90_ms']:.1f} | {h['p99_ms']:.1f} | "
            f"{h['max_ms']:.0f} | {h['non_2xx']} | {h.get('hub_cpu_ms_per_request', float('nan')):.2f} | "
            f"{h['rss_mb']:.0f} |"
        )
    print("\n".join(lines))
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        print()
        print(notes.read_text().rstrip())


if __name__ == "__main__":
    main()
