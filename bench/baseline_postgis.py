"""Baseline: what a user would build instead of the hub - one PostGIS table and a GiST index.

Measures, on a throw-away PostgreSQL + PostGIS cluster (``bench/postgis.py``):

* the bulk load of the scenario's stored set (``bench/scenario.py``): COPY of hex EWKB polygons,
  COPY of circle centres into a temp table then ``ST_Buffer(geography, radius_m)`` into the table,
  primary key, GiST indexes, ANALYZE; and the database size after it;
* for each declaration of the two query streams, the hub's unit of work: find every stored volume
  of OTHER parties that overlaps it in time (``tstzrange &&``), altitude (strict ``<``) and
  footprint (``ST_Intersects`` on geography), INSERT the declaration and one ``conflicts(a, b)`` row
  per hit, COMMIT. Latency is from the first statement to the return of COMMIT, one connection,
  sequential (no concurrency), so throughput is that of a single client. Each stream runs with
  ``synchronous_commit=off`` (no wait for fsync) and ``on`` (fsync per commit), on the same cluster;
  between runs the stream's rows are deleted and vacuumed (untimed), so every run starts from the
  same stored set and both settings see the same declarations.

Not included (the hub does them): JSON parsing and validation, the overlap geometry, altitude
reference conversion (the baseline compares AMSL/AGL/WGS84 numbers as they are), events, audit.

Indexes: ``--index separate`` (default) is GiST(footprint) + GiST(during), what most users write;
``--index composite`` is one multi-column GiST(footprint, during). btree_gist was considered and
not used: it would only add ``party`` (``<>`` cannot use an index) or one altitude bound.

    .venv/bin/python -m bench.baseline_postgis --volumes 1000000 --queries 2000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import shapely

from bench.postgis import DEFAULT_SETTINGS, postgis_cluster
from bench.scenario import MAX_VERTICES, QUIET_CAPACITY, Scenario, VolumeColumns

SCHEMA = """
CREATE TABLE volumes (
    id bigserial,
    party int NOT NULL,
    footprint geography NOT NULL,
    alt_lower double precision NOT NULL,
    alt_upper double precision NOT NULL,
    during tstzrange NOT NULL
);
CREATE TABLE conflicts (a bigint NOT NULL, b bigint NOT NULL);
CREATE TEMP TABLE circles (
    id bigint, party int, centre geography, radius_m double precision,
    alt_lower double precision, alt_upper double precision, during tstzrange
);
"""
COLUMNS = "id, party, footprint, alt_lower, alt_upper, during"
BUFFER_CIRCLES = f"""INSERT INTO volumes ({COLUMNS})
SELECT id, party, ST_Buffer(centre, radius_m), alt_lower, alt_upper, during FROM circles"""
INDEXES = {
    "separate": [
        "CREATE INDEX volumes_footprint ON volumes USING gist (footprint)",
        "CREATE INDEX volumes_during ON volumes USING gist (during)",
    ],
    "composite": ["CREATE INDEX volumes_footprint_during ON volumes USING gist (footprint, during)"],
}
POLYGON = "%(footprint)s::geography"
CIRCLE = "ST_Buffer(%(footprint)s::geography, %(radius_m)s)"
SEARCH = """SELECT id FROM volumes
WHERE party <> %(party)s AND during && %(during)s::tstzrange
  AND alt_lower < %(upper)s AND alt_upper > %(lower)s
  AND ST_Intersects(footprint, {footprint})"""
INSERT = """INSERT INTO volumes (party, footprint, alt_lower, alt_upper, during)
VALUES (%(party)s, {footprint}, %(lower)s, %(upper)s, %(during)s::tstzrange) RETURNING id"""
RECORD_CONFLICTS = "INSERT INTO conflicts (a, b) SELECT %s, unnest(%s::bigint[])"


def footprints_ewkb(cols: VolumeColumns) -> list[str]:
    """Hex EWKB (SRID 4326) per volume: the polygon, or the circle's centre point."""
    out = np.empty(len(cols), dtype=object)
    circle = cols.is_circle
    out[circle] = shapely.points(cols.center_lon[circle], cols.center_lat[circle])
    for k in range(1, MAX_VERTICES + 1):
        rows = cols.n_vertices == k
        if rows.any():
            ring = np.stack([cols.vertex_lon[rows, :k], cols.vertex_lat[rows, :k]], axis=-1)
            out[rows] = shapely.polygons(np.concatenate([ring, ring[:, :1]], axis=1))
    return list(shapely.to_wkb(shapely.set_srid(out, 4326), hex=True, include_srid=True))


def ranges(cols: VolumeColumns) -> list[str]:
    """The time windows as half-open tstzrange literals."""
    starts, ends = cols.rfc3339()
    return [f"[{s},{e})" for s, e in zip(starts, ends, strict=True)]


def _copy_lines(cols: VolumeColumns, ids: np.ndarray, with_radius: bool) -> Iterator[str]:
    parts = [ids.tolist(), cols.party.tolist(), footprints_ewkb(cols)]
    if with_radius:
        parts.append(cols.radius_m.tolist())
    parts += [cols.alt_lower.tolist(), cols.alt_upper.tolist(), ranges(cols)]
    for row in zip(*parts, strict=True):
        yield "\t".join(map(str, row)) + "\n"


def _copy(cur: psycopg.Cursor[Any], sql: str, lines: Iterator[str]) -> None:
    with cur.copy(sql) as copy:
        batch: list[str] = []
        for line in lines:
            batch.append(line)
            if len(batch) == 20_000:
                copy.write("".join(batch))
                batch.clear()
        copy.write("".join(batch))


def load(conn: psycopg.Connection[Any], stored: VolumeColumns, index: str) -> dict[str, float]:
    """Create the schema and bulk-load ``stored``; return seconds per step."""
    timings: dict[str, float] = {}
    ids = np.arange(1, len(stored) + 1)
    circle = stored.is_circle
    with conn.cursor() as cur:
        cur.execute(SCHEMA)
        started = time.perf_counter()
        polygons = _copy_lines(stored.take(~circle), ids[~circle], with_radius=False)
        _copy(cur, f"COPY volumes ({COLUMNS}) FROM STDIN", polygons)
        _copy(cur, "COPY circles FROM STDIN", _copy_lines(stored.take(circle), ids[circle], with_radius=True))
        timings["copy_s"] = time.perf_counter() - started
        step = time.perf_counter()
        cur.execute(BUFFER_CIRCLES)
        cur.execute("DROP TABLE circles")
        cur.execute("SELECT setval('volumes_id_seq', %s)", (len(stored),))
        timings["buffer_circles_s"] = time.perf_counter() - step
        step = time.perf_counter()
        cur.execute("ALTER TABLE volumes ADD PRIMARY KEY (id)")
        for statement in INDEXES[index]:
            cur.execute(statement)
        conn.commit()
        timings["indexes_s"] = time.perf_counter() - step
        step = time.perf_counter()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE volumes")
        conn.autocommit = False
        timings["analyze_s"] = time.perf_counter() - step
        timings["total_s"] = time.perf_counter() - started
    return timings


def sizes(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Bytes of the database, the volumes table with its indexes, and its indexes alone."""
    row = conn.execute(
        "SELECT pg_database_size(current_database()), pg_total_relation_size('volumes'), pg_indexes_size('volumes')"
    ).fetchone()
    assert row is not None
    return {"database_bytes": row[0], "volumes_total_bytes": row[1], "volumes_indexes_bytes": row[2]}


def declarations(cols: VolumeColumns) -> list[dict[str, Any]]:
    """Query parameters per declaration, built before the clock starts."""
    return [
        {"party": p, "footprint": f, "radius_m": r, "lower": lo, "upper": up, "during": d}
        for p, f, r, lo, up, d in zip(
            cols.party.tolist(),
            footprints_ewkb(cols),
            cols.radius_m.tolist(),
            cols.alt_lower.tolist(),
            cols.alt_upper.tolist(),
            ranges(cols),
            strict=True,
        )
    ]


def declare(cur: psycopg.Cursor[Any], params: dict[str, Any]) -> int:
    """The hub's unit of work for one declaration; returns the number of conflicts recorded."""
    footprint = POLYGON if params["radius_m"] != params["radius_m"] else CIRCLE  # NaN: polygon
    hits = [row[0] for row in cur.execute(SEARCH.format(footprint=footprint), params).fetchall()]
    row = cur.execute(INSERT.format(footprint=footprint), params).fetchone()
    assert row is not None
    if hits:
        cur.execute(RECORD_CONFLICTS, (row[0], hits))
    cur.connection.commit()
    return len(hits)


def run_stream(conn: psycopg.Connection[Any], decls: list[dict[str, Any]]) -> dict[str, Any]:
    """Declare each in turn; latency and conflict statistics."""
    latency_ns = np.empty(len(decls), dtype=np.int64)
    conflicts = np.empty(len(decls), dtype=np.int64)
    with conn.cursor() as cur:
        started = time.perf_counter()
        for i, params in enumerate(decls):
            t0 = time.perf_counter_ns()
            conflicts[i] = declare(cur, params)
            latency_ns[i] = time.perf_counter_ns() - t0
        wall = time.perf_counter() - started
    ms = latency_ns / 1e6
    return {
        "declarations": len(decls),
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "mean_ms": float(ms.mean()),
        "throughput_per_s": len(decls) / wall,
        "conflicts_mean": float(conflicts.mean()),
        "conflicts_p5": float(np.percentile(conflicts, 5)),
        "conflicts_p95": float(np.percentile(conflicts, 95)),
        "conflicts_min": int(conflicts.min()),
        "conflicts_max": int(conflicts.max()),
    }


def reset(conn: psycopg.Connection[Any], stored_count: int) -> None:
    """Forget what a run declared, so the next run starts from the same stored set (untimed)."""
    conn.execute("DELETE FROM conflicts")
    conn.execute("DELETE FROM volumes WHERE id > %s", (stored_count,))
    conn.commit()
    conn.autocommit = True
    conn.execute("VACUUM volumes, conflicts")
    conn.execute("CHECKPOINT")
    conn.autocommit = False


def explain(conn: psycopg.Connection[Any], params: dict[str, Any]) -> str:
    """The search's plan and timing for one declaration (rolled back)."""
    footprint = POLYGON if params["radius_m"] != params["radius_m"] else CIRCLE
    sql = "EXPLAIN (ANALYZE, BUFFERS) " + SEARCH.format(footprint=footprint)
    plan = "\n".join(row[0] for row in conn.execute(sql, params).fetchall())
    conn.rollback()
    return plan


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    lines = [
        "| stream | synchronous_commit | declarations | conflicts each: mean (p5-p95) "
        "| p50 ms | p95 ms | p99 ms | max ms | declarations/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['stream']} | {r['synchronous_commit']} | {r['declarations']} "
            f"| {r['conflicts_mean']:.1f} ({r['conflicts_p5']:.0f}-{r['conflicts_p95']:.0f}) "
            f"| {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} "
            f"| {r['throughput_per_s']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print what was measured and the table; optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--volumes", type=int, default=1_000_000, help="stored volumes to bulk-load")
    parser.add_argument("--queries", type=int, default=2000, help="declarations per stream and setting")
    parser.add_argument("--warmup", type=int, default=100, help="untimed declarations per stream first")
    parser.add_argument("--parties", type=int, default=12)
    parser.add_argument("--seed", type=int, default=None, help="scenario seed (default: the scenario's)")
    parser.add_argument("--index", choices=sorted(INDEXES), default="separate")
    parser.add_argument("--explain", action="store_true", help="print the plan of one search per stream")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.queries + args.warmup > QUIET_CAPACITY:
        parser.error(f"--queries + --warmup must be <= {QUIET_CAPACITY} (the quiet strip's cells)")

    scenario = Scenario(args.volumes, args.parties, *(() if args.seed is None else (args.seed,)))
    step = time.perf_counter()
    stored = scenario.stored()
    streams = {
        "non_overlapping": scenario.non_overlapping(args.queries + args.warmup),
        "heavily_overlapping": scenario.heavily_overlapping(args.queries + args.warmup),
    }
    generate_s = time.perf_counter() - step
    decls = {name: declarations(cols) for name, cols in streams.items()}
    print(f"# Baseline: plain PostGIS table, {args.volumes:,} stored volumes, {args.parties} parties")
    print(f"generated the scenario in {generate_s:.1f} s (seed {scenario.seed})")

    with postgis_cluster() as dsn, psycopg.connect(dsn) as conn:
        versions = conn.execute("SELECT version(), postgis_full_version()").fetchone()
        assert versions is not None
        timings = load(conn, stored, args.index)
        db_sizes = sizes(conn)
        print(
            f"loaded in {timings['total_s']:.1f} s (COPY {timings['copy_s']:.1f} s, circles buffered "
            f"{timings['buffer_circles_s']:.1f} s, indexes {timings['indexes_s']:.1f} s, "
            f"VACUUM ANALYZE {timings['analyze_s']:.1f} s); "
            f"database {db_sizes['database_bytes'] / 2**20:.0f} MiB, "
            f"volumes {db_sizes['volumes_total_bytes'] / 2**20:.0f} MiB of which indexes "
            f"{db_sizes['volumes_indexes_bytes'] / 2**20:.0f} MiB"
        )
        for name, params in decls.items():
            for warm in params[args.queries :]:
                declare(conn.cursor(), warm)
            if args.explain:
                print(f"\nplan of one {name} search:\n{explain(conn, params[0])}\n")
        reset(conn, len(stored))
        results = []
        for setting in ("off", "on"):
            conn.execute(f"SET synchronous_commit = {setting}")
            conn.commit()
            for name, params in decls.items():
                result = run_stream(conn, params[: args.queries])
                results.append({"stream": name, "synchronous_commit": setting, **result})
                reset(conn, len(stored))
                print(f"  {name}, synchronous_commit={setting}: p50 {result['p50_ms']:.2f} ms", flush=True)

    quiet_hits = [r["conflicts_max"] for r in results if r["stream"] == "non_overlapping"]
    if max(quiet_hits) != 0:
        print("WARNING: a non_overlapping declaration had conflicts: the scenario is broken", file=sys.stderr)
    print(
        "\nMeasured: per declaration, search other parties' overlapping volumes + INSERT it and its "
        "conflict rows + COMMIT;\none connection, sequential (single-client latency and throughput), "
        f"PostgreSQL {versions[0].split()[1]}, PostGIS, index '{args.index}', "
        f"{args.queries} declarations per row after {args.warmup} untimed.\n"
        "Compared against: nothing - this is the baseline the hub's own benchmarks compare with.\n"
    )
    print(markdown(results))
    report = {
        "benchmark": "baseline_postgis",
        "command": " ".join(["python -m bench.baseline_postgis", *(sys.argv[1:] if argv is None else argv)]),
        "volumes": args.volumes,
        "parties": args.parties,
        "seed": scenario.seed,
        "queries": args.queries,
        "warmup": args.warmup,
        "index": args.index,
        "client": "one connection, sequential",
        "postgres": versions[0],
        "postgis": versions[1],
        "settings": dict(DEFAULT_SETTINGS),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "generate_s": generate_s,
        "load": timings,
        "sizes": db_sizes,
        "results": results,
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
