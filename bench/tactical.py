"""Live tracks: one detection pass (``core.tactical.detect``) against BlueSky's detector on the same states.

Scenario (issue 5): N aircraft uniformly in a square box centred at 50°N 5°E, 1,000 km a side at N = 20,000 and
scaled by sqrt(N / 20,000) otherwise (constant density); altitudes uniform over FL100-400, tracks uniform, 250 kt;
``--climbing`` of them climb or descend at 1,000-3,000 ft/min (uniform, either sign), the rest are level.
Protected zone 5 NM / 1,000 ft, look-ahead 300 s, all pairs (``same_party=True``, as BlueSky pairs everyone).

* **ours**: ``detect`` on the ``TrackStates``, the median wall time of ``--passes`` passes after one warm-up
  (``perf_counter``; CPU time alongside), then the process's peak RSS (``VmHWM``) before BlueSky is imported.
* **BlueSky**: ``bluesky-simulator``'s compiled ``cstatebased.detect(ownship, intruder, rpz, hpz, dtlookahead)``
  (its C++ state-based detector, O(N²), one core) on the same arrays; one pass at N ≥ 10,000, else the median
  of three. Skipped above ``--bluesky-max``. Its numpy ``StateBased`` needs N² matrices (~5.5 GB at N = 5,000)
  and is not timed here.
* **identical**: our unordered conflict pairs equal BlueSky's ``confpairs_unique``.

    .venv/bin/python bench/tactical.py                      # the sweep below, each case in its own process
    .venv/bin/python bench/tactical.py --n 20000 --json     # one case, one JSON object
    .venv/bin/python bench/tactical.py --n 20000 --climbing 0.3

Default sweep: 5,000; 20,000; 20,000 with 30 % climbing; 100,000 and 100,000 with 30 % climbing (ours only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from deconfliction.core.tactical import FT, CdParams, TrackStates, detect

KT = 0.514444  # BlueSky's knot (m/s)
FPM = 0.00508  # BlueSky's ft/min (m/s)
SWEEP = [(5_000, 0.0), (20_000, 0.0), (20_000, 0.3), (100_000, 0.0), (100_000, 0.3)]
TARGETS = {(20_000, 0.0): 0.05, (20_000, 0.3): 0.1, (100_000, 0.0): 0.3}  # issue 5, seconds per pass


def scenario(n: int, climbing: float, seed: int) -> tuple[TrackStates, float]:
    side_km = 1000.0 * math.sqrt(n / 20_000)
    rng = np.random.default_rng(seed)
    half_lat = side_km / 2 / 111.32
    lat = 50.0 + rng.uniform(-half_lat, half_lat, n)
    lon = 5.0 + rng.uniform(-half_lat, half_lat, n) / math.cos(math.radians(50.0))
    alt = rng.uniform(10_000, 40_000, n) * FT
    vs = rng.choice([-1.0, 1.0], n) * rng.uniform(1000, 3000, n) * FPM
    vs = np.where(rng.random(n) < climbing, vs, 0.0)
    states = TrackStates(np.arange(n), lat, lon, alt, np.full(n, 250 * KT), rng.uniform(0, 360, n), vs)
    return states, side_km


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class BlueSkyTraffic:
    """What BlueSky's ``detect(ownship, intruder, ...)`` reads: SI arrays, degrees for angles, ``ntraf``, ``id``."""

    def __init__(self, s: TrackStates) -> None:
        self.ntraf = len(s)
        self.id = list(range(len(s)))
        self.lat, self.lon, self.alt = s.lat, s.lon, s.alt_m
        self.gs, self.trk, self.vs = s.gs_mps, s.trk_deg, s.vs_mps


def run_case(n: int, climbing: float, passes: int, bluesky_max: int, seed: int) -> dict[str, Any]:
    states, side_km = scenario(n, climbing, seed)
    params = CdParams(same_party=True)
    found = detect(states, params)  # warm-up
    wall, cpu = [], []
    for _ in range(passes):
        w0, c0 = time.perf_counter(), time.process_time()
        found = detect(states, params)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    out: dict[str, Any] = {
        "n": n,
        "climbing": climbing,
        "side_km": round(side_km, 1),
        "conflicts": len(found),
        "candidates": found.candidates,
        "screened": found.screened,
        "ours_s": statistics.median(wall),
        "ours_min_s": min(wall),
        "ours_cpu_s": statistics.median(cpu),
        "ours_passes": passes,
        "rss_mb": round(peak_rss_mb(), 1),
        "target_s": TARGETS.get((n, climbing)),
        "bluesky_s": None,
        "ratio": None,
        "identical": None,
        "bluesky_conflicts": None,
    }
    if n > bluesky_max:
        return out
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):  # BlueSky prints as it starts
        warnings.simplefilter("ignore")
        from bluesky.traffic.asas import cstatebased

    traf = BlueSkyTraffic(states)
    args = (traf, traf, np.full(n, params.rpz_m), np.full(n, params.hpz_m), np.full(n, params.lookahead_s))
    times = []
    for _ in range(1 if n >= 10_000 else 3):
        t0 = time.perf_counter()
        confpairs = cstatebased.detect(*args)[0]
        times.append(time.perf_counter() - t0)
    theirs = {(min(a, b), max(a, b)) for a, b in confpairs}
    out["bluesky_s"] = statistics.median(times)
    out["ratio"] = out["bluesky_s"] / out["ours_s"]
    out["identical"] = theirs == found.pairs()
    out["bluesky_conflicts"] = len(theirs)
    return out


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| N | climbing | box km | conflicts | ours s (median) | ours CPU s | target s | BlueSky C++ s | ratio"
        " | identical pairs | peak RSS MB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in rows:
        blue = "—" if r["bluesky_s"] is None else f"{r['bluesky_s']:.2f}"
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.0f}×"
        same = "—" if r["identical"] is None else ("yes" if r["identical"] else "**no**")
        target = "—" if r["target_s"] is None else f"≤ {r['target_s']:g}"
        lines.append(
            f"| {r['n']:,} | {r['climbing']:.0%} | {r['side_km']:,.0f} | {r['conflicts']:,} | {r['ours_s']:.4f}"
            f" | {r['ours_cpu_s']:.4f} | {target} | {blue} | {ratio} | {same} | {r['rss_mb']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, help="one case of N aircraft (default: the sweep)")
    parser.add_argument("--climbing", type=float, default=0.0, help="share climbing or descending (with --n)")
    parser.add_argument("--passes", type=int, default=9, help="timed passes of ours (median reported)")
    parser.add_argument("--bluesky-max", type=int, default=20_000, help="largest N BlueSky is run on")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print JSON only (an object for --n, else a list)")
    args = parser.parse_args()
    if args.n is not None:
        row = run_case(args.n, args.climbing, args.passes, args.bluesky_max, args.seed)
        if args.json:
            print(json.dumps(row))
        else:
            print(table([row]))
        return
    rows = []
    for n, climbing in SWEEP:  # each case in a fresh process, so that its peak RSS is its own
        cmd = [sys.executable, __file__, "--n", str(n), "--climbing", str(climbing), "--json"]
        cmd += ["--passes", str(args.passes), "--bluesky-max", str(args.bluesky_max), "--seed", str(args.seed)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rows.append(json.loads(done.stdout))
        if not args.json:
            print(f"  N = {n:,}, climbing {climbing:.0%}: done", file=sys.stderr)
    print(json.dumps(rows, indent=2) if args.json else table(rows))


if __name__ == "__main__":
    main()
