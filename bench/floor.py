"""The least a heavily overlapping declaration can cost on this machine: the geometry libraries' own work alone.

Issue 2 asks for 1,000 heavily overlapping declarations/s over HTTP on 2 cores. Each declaration of
``bench.scenario``'s heavily overlapping stream meets ~29 stored volumes of other parties and conflicts with ~21, so
that is ~21,000 conflicts/s, each with its overlap cut, drawn back to lon/lat and recorded. This bench measures what
that work costs when no Python runs between pairs, as a bound on any hub built on the same libraries (GEOS through
shapely, PROJ's geodesics through pyproj, SQLite), however it is written:

For each declaration of the stream, the hub's index gives the stored volumes it may meet, and every pair that
conflicts is drawn as the hub draws it for its overlap, in the pair's frame (untimed). Then, each as one vectorised
call over the whole stream:

* **GEOS**: the intersection of the two drawn footprints: every conflict's overlap is cut from it;
* **PROJ, in**: the geodesic projection of the vertices of the footprint the pair's frame is not centred on (one
  of the two must be brought into the other's frame);
* **PROJ, out**: the direct geodesic of every vertex of the recorded overlap (it is turned back into lon/lat);
* **SQLite**: one row per conflict holding its overlap, one transaction per declaration, no fsync (the hub writes
  each overlap four times: the conflict, both parties' events, the record's entry).

These undercount: no decision (most pairs need one before they are cut), no densified edges, no validation, no
HTTP, no JSON. Beside them, on the same declarations, the hub itself in-process (``bench.inprocess``'s way: one
transaction each, synchronous=OFF), and what each implies for a 2-core machine.

    .venv/bin/python -m bench.floor --db /tmp/bench.db --tokens /tmp/bench-tokens.json --volumes 1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from bench.inprocess import bench_parties, open_hub, to_volume
from bench.scenario import Scenario, VolumeColumns
from deconfliction.core import geodesy, rings
from deconfliction.core.model import Party
from deconfliction.core.volumes import Volume4D, volumes_overlap
from deconfliction.service import operations
from deconfliction.service.hub import KIND_OPERATION, KIND_SITE, Hub

REPEATS = 5  # each vectorised call is timed this many times; the fastest stands


class Work:
    """What the conflicts of the stream ask of the libraries, gathered pair by pair (untimed)."""

    def __init__(self) -> None:
        self.a: list[Any] = []  # the two drawn footprints of each conflict
        self.b: list[Any] = []
        self.frames_in: list[tuple[float, float]] = []  # per projected vertex: its frame's centre
        self.points_in: list[Any] = []
        self.frames_out: list[tuple[float, float]] = []  # per overlap vertex: its frame's centre, azimuth, distance
        self.polar_out: list[Any] = []
        self.rows: list[list[bytes]] = []  # per declaration, each conflict's overlap as stored

    def add(self, x: Volume4D, y: Volume4D, buffer_m: float, overlap: dict[str, Any]) -> None:
        pair = geodesy.Pair(x.footprint._shape, y.footprint._shape)  # the frame the hub draws this pair in
        self.a.append(rings.filled(pair.a, pair, buffer_m / 2))
        self.b.append(rings.filled(pair.b, pair, buffer_m / 2))
        moved = pair.b if pair.on is pair.a else pair.a
        lon0, lat0 = pair.lon0, pair.lat0
        self.frames_in.extend([(lon0, lat0)] * len(moved.lon))
        self.points_in.append(np.column_stack((moved.lon, moved.lat)))
        coords = overlap["coordinates"]
        polys = [coords] if overlap["type"] == "Polygon" else coords
        out = np.array([p for poly in polys for ring in poly for p in ring])
        az, _, dist = geodesy.GEOD.inv(np.full(len(out), lon0), np.full(len(out), lat0), out[:, 0], out[:, 1])
        self.frames_out.extend([(lon0, lat0)] * len(out))
        self.polar_out.append(np.column_stack((az, dist)))


def fastest(call: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(work: Work, declarations: int, scratch: Path) -> dict[str, float]:
    """Seconds per declaration of each library's share, each as one vectorised call over the stream."""
    a, b = np.array(work.a, dtype=object), np.array(work.b, dtype=object)
    c_in, p_in = np.array(work.frames_in), np.concatenate(work.points_in)
    c_out, p_out = np.array(work.frames_out), np.concatenate(work.polar_out)
    geod = geodesy.GEOD
    db = sqlite3.connect(scratch, isolation_level=None)
    db.executescript("PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; CREATE TABLE c (id INTEGER PRIMARY KEY, o BLOB)")
    rows = [[(o,) for o in declaration] for declaration in work.rows]

    def store() -> None:
        for declaration in rows:
            db.execute("BEGIN")
            db.executemany("INSERT INTO c (o) VALUES (?)", declaration)
            db.execute("COMMIT")

    shares = {
        "geos_intersection": fastest(lambda: shapely.intersection(a, b)),
        "proj_in": fastest(lambda: geod.inv(c_in[:, 0], c_in[:, 1], p_in[:, 0], p_in[:, 1])),
        "proj_out": fastest(lambda: geod.fwd(c_out[:, 0], c_out[:, 1], p_out[:, 0], p_out[:, 1])),
        "sqlite_one_copy": fastest(store),
    }
    db.close()
    return {k: v / declarations for k, v in shares.items()}


def declare_and_gather(hub: Hub, parties: list[Party], columns: VolumeColumns) -> tuple[Work, list[float], int, int]:
    """Declares the stream one by one, timing the hub, and gathers the work of the pairs each declaration met:
    (work, seconds per declaration, candidates, conflicts)."""
    work, hub_s, candidates, conflicts = Work(), [], 0, 0
    for data, owner in zip(columns.to_api(), columns.party.tolist(), strict=True):
        volume, caller = to_volume(data), parties[owner]
        found = hub.index.candidates(volume, hub.buffers, caller.id, None, (KIND_OPERATION, KIND_SITE))
        candidates += len(found)
        draft = operations.OperationDraft((volume,))
        t0 = time.perf_counter()
        result = hub.execute(lambda tx, c=caller, d=draft: operations.declare(hub, tx, c, d))
        hub_s.append(time.perf_counter() - t0)
        rows = []
        for cand in found:  # the same pairs the declaration met (untimed)
            overlap = volumes_overlap(volume, cand.volume, hub.buffers)
            if overlap is not None:
                work.add(volume, cand.volume, hub.buffers.horizontal_m, overlap.footprint)
                rows.append(overlap.footprint_json)
        work.rows.append(rows)
        conflicts += len(result.conflicts)
    return work, hub_s, candidates, conflicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True, help="a stored set made by bench.load (copied, not changed)")
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--volumes", type=int, default=1_000_000, help="the stored set's size (for the stream)")
    parser.add_argument("--declarations", type=int, default=500)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "hub.db"
        shutil.copyfile(args.db, copy)
        hub = open_hub(copy)
        gc.collect()
        gc.freeze()
        parties = bench_parties(args.tokens)
        columns = Scenario(volumes=args.volumes, parties=len(parties)).heavily_overlapping(args.declarations)
        work, hub_s, candidates, conflicts = declare_and_gather(hub, parties, columns)
        hub.stop()
        n = args.declarations
        shares = measure(work, n, Path(tmp) / "scratch.db")
    results = {
        "command": "python -m bench.floor " + " ".join(sys.argv[1:]),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "volumes": args.volumes,
        "declarations": n,
        "candidates_per_declaration": candidates / n,
        "conflicts_per_declaration": conflicts / n,
        "pairs_drawn": len(work.a),
        "vertices_in_per_declaration": sum(len(p) for p in work.points_in) / n,
        "vertices_out_per_declaration": sum(len(p) for p in work.polar_out) / n,
        "floor_ms": {k: v * 1000 for k, v in shares.items()},
        "floor_total_ms": sum(shares.values()) * 1000,
        "hub_mean_ms": float(np.mean(hub_s)) * 1000,
        "hub_p50_ms": float(np.percentile(hub_s, 50)) * 1000,
    }
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def markdown(r: dict[str, Any]) -> str:
    f, total, hub = r["floor_ms"], r["floor_total_ms"], r["hub_mean_ms"]
    rows = [
        ("GEOS: intersect the two drawn footprints of each conflict", f["geos_intersection"]),
        (f"PROJ: project {r['vertices_in_per_declaration']:.0f} vertices into the pairs' frames", f["proj_in"]),
        (f"PROJ: {r['vertices_out_per_declaration']:.0f} overlap vertices back to lon/lat", f["proj_out"]),
        ("SQLite: one row per conflict holding its overlap, one commit, no fsync", f["sqlite_one_copy"]),
        ("**the libraries' floor** (the sum)", total),
        (f"the hub, in-process, the same declarations (mean; p50 {r['hub_p50_ms']:.1f} ms)", hub),
    ]
    return "\n".join(
        [
            "## The least a heavily overlapping declaration costs",
            "",
            f"`bench/floor.py` (`{r['command']}`, {r['at']}; the module's docstring says what it counts and what it "
            f"leaves out): {r['declarations']:,} declarations of the heavily overlapping stream against "
            f"{r['volumes']:,} stored volumes, {r['candidates_per_declaration']:.1f} candidates and "
            f"{r['conflicts_per_declaration']:.1f} conflicts each. Each library's share is one vectorised call over "
            "the whole stream (no Python between pairs), the fastest of five, divided by the declarations.",
            "",
            "| work per heavily overlapping declaration | ms | share of this machine's 2 cores at 1,000/s |",
            "|---|---|---|",
            *(f"| {label} | {ms:.3f} | {ms / 2:.0%} |".replace("%", " %") for label, ms in rows),
            "",
            f"If the floor were all a declaration cost, 2 cores would do {2000 / total:,.0f}/s; the hub's one writer "
            f"does {1000 / hub:,.0f}/s in-process.",
        ]
    )


if __name__ == "__main__":
    main()
