"""In-process declaration latency against a large stored set, with and without fsync.

Starts a hub on a database made by ``bench.load`` (rebuilding its index, as after a restart), reports the
start-up time and RSS, then declares the two query streams of ``bench.scenario`` one by one, each in its own
transaction: parse (validation), then check + store + conflicts + events. ``synchronous=OFF`` is "excluding
fsync"; ``FULL`` is the default durable mode.

    .venv/bin/python -m bench.inprocess --db /tmp/bench.db --tokens /tmp/bench-tokens.json --queries 2000
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.scenario import Scenario, bench_day, day_start
from deconfliction.config import Settings
from deconfliction.core.model import Party, Role
from deconfliction.core.volumes import Volume4D, parse_altitude, parse_footprint, parse_time
from deconfliction.service import operations
from deconfliction.service.hub import Hub
from deconfliction.store.sql import SqlStore


def bench_now() -> datetime:
    """The hub's clock here: an hour before the scenario's day, when every stored volume is live."""
    return day_start(bench_day()) - timedelta(hours=1)


def open_hub(db: Path, synchronous: str = "OFF") -> Hub:
    """An in-process hub on a database made by ``bench.load`` (its index rebuilt), its clock stopped at
    ``bench_now()``."""
    now = bench_now()
    return Hub(SqlStore.sqlite(db, synchronous), Settings(db=db, sqlite_synchronous=synchronous), clock=lambda: now)


def bench_parties(tokens: Path) -> list[Party]:
    """The parties of ``bench.load``'s token file, in the order the scenario numbers them."""
    return [Party(id=p, name=p, role=Role.PARTY) for p in json.loads(tokens.read_text())]


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process (this one by default), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def to_volume(data: dict[str, Any]) -> Volume4D:
    alt, tw = data["altitude"], data["time"]
    return Volume4D(
        footprint=parse_footprint(data["footprint"], data.get("radius_m")),
        altitude=parse_altitude(alt["lower"], alt["upper"], alt["reference"]),
        time=parse_time(datetime.fromisoformat(tw["start"]), datetime.fromisoformat(tw["end"])),
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    a = np.array(samples) * 1000
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "p99_ms": float(np.percentile(a, 99)),
        "max_ms": float(a.max()),
        "mean_ms": float(a.mean()),
    }


def run_stream(hub: Hub, parties: list[Party], stream: list[dict[str, Any]], owners: list[int]) -> dict[str, Any]:
    parse_s, declare_s, conflicts = [], [], []
    for vol, owner in zip(stream, owners, strict=True):
        t0 = time.perf_counter()
        draft = operations.OperationDraft((to_volume(vol),))
        t1 = time.perf_counter()
        caller = parties[owner]
        result = hub.execute(lambda tx, c=caller, d=draft: operations.declare(hub, tx, c, d))
        t2 = time.perf_counter()
        parse_s.append(t1 - t0)
        declare_s.append(t2 - t1)
        conflicts.append(len(result.conflicts))
    return {
        "declare": percentiles(declare_s),
        "parse": percentiles(parse_s),
        "conflicts_mean": float(np.mean(conflicts)),
        "count": len(stream),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--volumes", type=int, default=1_000_000, help="the stored set's size (for the streams)")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--synchronous", choices=["OFF", "FULL"], default="OFF")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    rss0 = rss_mb()
    t0 = time.perf_counter()
    hub = open_hub(args.db, args.synchronous)
    startup = time.perf_counter() - t0
    gc.collect()
    gc.freeze()  # as `deconfliction serve` does
    rss = rss_mb()
    print(f"index: {len(hub.index):,} volumes rebuilt in {startup:.1f} s; RSS {rss:.0f} MB (before: {rss0:.0f} MB)")
    parties = bench_parties(args.tokens)
    scenario = Scenario(volumes=args.volumes, parties=len(parties))
    results: dict[str, Any] = {
        "volumes": len(hub.index),
        "startup_s": startup,
        "rss_mb": rss,
        "synchronous": args.synchronous,
    }
    for name, columns in (
        ("non_overlapping", scenario.non_overlapping(args.queries)),
        ("heavily_overlapping", scenario.heavily_overlapping(args.queries)),
    ):
        res = run_stream(hub, parties, columns.to_api(), columns.party.tolist())
        results[name] = res
        d, p = res["declare"], res["parse"]
        print(
            f"{name:>20} sync={args.synchronous:<4} declare p50 {d['p50_ms']:.2f} p95 {d['p95_ms']:.2f} "
            f"p99 {d['p99_ms']:.2f} max {d['max_ms']:.1f} ms | parse p50 {p['p50_ms']:.2f} p99 {p['p99_ms']:.2f} ms"
            f" | conflicts/decl {res['conflicts_mean']:.1f}"
        )
    results["rss_after_mb"] = rss_mb()
    print(f"RSS after the streams: {results['rss_after_mb']:.0f} MB")
    hub.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
