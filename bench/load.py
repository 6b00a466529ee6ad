"""Bulk-load a scenario into a hub database, the way a long-running hub would have accumulated it.

Operations are written straight into the store's tables (one volume each, 12 parties + tokens), without running
detection: the benchmarks measure what happens to *new* declarations against this stored set, and a hub that
starts on this file rebuilds its index from it, as after a restart.

    .venv/bin/python -m bench.load --volumes 1000000 --db /tmp/bench.db --tokens /tmp/bench-tokens.json
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert

from bench.scenario import DEFAULT_SEED, Scenario, day_start
from deconfliction.core.model import Role
from deconfliction.core.volumes import Footprint
from deconfliction.service import admin
from deconfliction.store import tables
from deconfliction.store.sql import SqlStore

CHUNK = 50_000


def with_caps(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the bounding cap the hub stores with each volume (what lets it restart without rebuilding geometry)."""
    for vol in volumes:
        fp = Footprint.from_trusted(vol["footprint"], vol.get("radius_m"))
        vol["cap"] = [fp.center_lon, fp.center_lat, fp.cap_radius_m]
    return volumes


def load(db: Path, volumes: int, parties: int, seed: int = DEFAULT_SEED) -> dict[str, str]:
    """Write ``volumes`` stored operations to ``db``; returns party id → token."""
    if db.exists():
        raise SystemExit(f"{db} exists; remove it first")
    store = SqlStore.sqlite(db, synchronous="OFF")
    tokens: dict[str, str] = {}
    ids: list[str] = []
    with store.write() as uow:
        for p in range(parties):
            party, token = admin.create_party(uow, f"Party {p:02d}", Role.PARTY, None, datetime.now(UTC))
            tokens[party.id] = token
            ids.append(party.id)
    scenario = Scenario(volumes=volumes, parties=parties, seed=seed)
    columns = scenario.stored()
    created = (day_start(scenario.day) - timedelta(hours=12)).isoformat()  # declared the day before
    t0 = time.perf_counter()
    for lo in range(0, len(columns), CHUNK):
        part = columns.take(slice(lo, lo + CHUNK))
        rows = [
            {
                "id": f"op_{lo + i:012d}",
                "party_id": ids[owner],
                "version": 1,
                "volumes": orjson.dumps([vol]).decode(),
                "description": None,
                "callsign": None,
                "priority": None,
                "cancelled": False,
                "ended_at": None,
                "ends_at": float(end),
                "created_at": created,
                "updated_at": created,
            }
            for i, (vol, owner, end) in enumerate(
                zip(with_caps(part.to_api()), part.party.tolist(), part.end.tolist(), strict=True)
            )
        ]
        with store.engine.begin() as conn:
            conn.execute(insert(tables.operations), rows)
    store.close()
    print(f"loaded {len(columns):,} operations into {db} in {time.perf_counter() - t0:.1f} s")
    return tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--volumes", type=int, default=1_000_000)
    parser.add_argument("--parties", type=int, default=12)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--tokens", type=Path, required=True, help="where to write party id → token (JSON)")
    args = parser.parse_args()
    tokens = load(args.db, args.volumes, args.parties)
    args.tokens.write_text(json.dumps(tokens))


if __name__ == "__main__":
    main()
