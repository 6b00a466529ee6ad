"""The record: what the tamper-evident log adds to a declaration, and what checking and proving it costs.

The issue's three figures, each against its goal, on one database: the stored set of ``bench.load`` (``--volumes``)
plus a log of ``--entries`` entries appended through ``uow.record``, 1,000 per transaction, each sealed as
``AuditLog.seal`` does (``hub_key``, ``sign_head``, ``insert_head``): a synthetic history of the 12 parties
(operations declared with the scenario's volumes; conflicts between two parties with overlap polygons of 5-60
vertices; per conflict and party a ``notice.delivered`` and a ``notice.acknowledged`` bound to it as ``log_about``
does), party 00 (the one exported) on 1/3 of it. Cached as ``/tmp/deconfliction-record-{volumes}-{day}-{entries}e.db``.

**1. What the record adds to a declaration** (goal: <= +10 %). Two hubs on copies of that database, started alike
by ``bench/record_hub.py`` (the CLI's ``serve``; default settings, ``synchronous=FULL``, group commit, plus
``DECONFLICTION_SWEEP_INTERVAL_S=3600`` as in ``bench/http.py``): *on* as shipped, *off* with the record replaced
by no-ops in that process (``--no-record``, see its docstring). (a) One client, one keep-alive connection per hub,
closed loop: ``--declarations`` (default 4,000), 80 % from ``bench.scenario``'s non-overlapping stream and 20 %
from its heavily overlapping one (~20 conflicts each), shuffled, each with its party's token, sent in 40 chunks
(~100 declarations, ~0.6 s each), each chunk to both hubs in ABBA order, so both get the same declarations in the
same order and the machine's drift (±20 % within minutes here) cancels, after 1,000 more declarations (the same mix,
not timed) to each hub: a hub just started reads from disk the pages it writes to, which costs the hub with the
record (it writes more) more than the other (the first 1,000 declarations after start-up at 1M: +26 and +31 %
heavily overlapping, against +12 % for the next 1,000); latency from sending to the answer read, hub CPU from
``/proc``, and the other processes' CPU. Hubs run on one core and every wrk on the others (``WRK``). (b) wrk as
``bench/http.py`` runs it (2 threads, 16 connections, its Lua script) per stream: a 2 s warm-up per hub, then
``--wrk-duration`` s runs in the order on, off, off, on. The verdict is on the median of (a) per stream: p99 over a
few hundred samples moves ±15-25 % between runs on this machine (bench/NOTES.md), more than the effect measured.

**2. Verifying a bundle of the whole log** (goal: <= 10 s at 1,000,000 entries). ``export_bundle`` for party 00
here (timed; its JSON written with orjson: timed, size), then the file read, parsed, and ``verify_bundle`` run with
the hub's public key (each timed, and the verifier's steps timed apart), then ``deconfliction audit verify BUNDLE
--key HEX`` end to end as a subprocess (its peak RSS from ``wait4``): the goal is read on that wall time.

**3. Serving an inclusion proof** (goal: <= 1 ms). A hub as shipped on a copy of the database (start-up timed:
stored volumes, then every leaf hash read and the tree built); ``GET /v1/audit/proof/inclusion?index=I`` at random
indexes one at a time on one keep-alive connection, timed by wrk (C; 4 runs of 5 s each, ABBA twice with the floor
below, the means of their percentiles) and by ``http.client`` (``--proofs`` of them, 1,000 verified against the
signed head), beside ``GET /v1/audit/key`` (same authentication, a tiny answer: the
HTTP stack's floor) and what the route computes, timed here on a tree loaded with ``AuditLog.load``.

    .venv/bin/python -m bench.record                        # all three at 1M; ~8 min once the DB is built
    .venv/bin/python -m bench.record --quick                # 10k volumes, 20k entries, short runs, ~1 min
    .venv/bin/python -m bench.record --json > R.json; .venv/bin/python -m bench.record --markdown R.json
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from bench.http import LUA, cpu_s, free_port, placements, run_wrk
from bench.inprocess import rss_mb
from bench.line import machine_busy_s, stop_hub
from bench.load import load
from bench.scenario import Scenario, bench_day
from deconfliction.api.deps import dumps
from deconfliction.core import bundle as core_bundle
from deconfliction.core.merkle import MerkleLog, verify_inclusion
from deconfliction.core.record import (
    SignedHead,
    TreeHead,
    key_to_hex,
    public_key_from_hex,
    sign_head,
    to_ms,
    verify_head,
)
from deconfliction.service.audit import export_bundle
from deconfliction.service.record import AuditLog, hub_key
from deconfliction.store.sql import SqlStore

GOAL_OVERHEAD = 0.10
GOAL_VERIFY_S = 10.0
GOAL_PROOF_MS = 1.0
HOST = "127.0.0.1"
HISTORY_START = datetime(2026, 11, 20, tzinfo=UTC)
BATCH = 1000
# Hubs on one core and wrk on the others (``bench.http.placements``, "own_core"), as ``bench/http.py`` measures the
# issue's figure: clients would be on other machines, and wrk on a hub's core takes that core from it.
_HUB_CORE, WRK = placements()["own_core"]
HUB_ENV = {"DECONFLICTION_SWEEP_INTERVAL_S": "3600", **_HUB_CORE}
# wrk with one connection, one request at a time: round trips timed by a C client (args: path size token).
PROOF_LUA = r"""
local path, size, token
function init(args) path, size, token = args[1], tonumber(args[2]), args[3]; math.randomseed(11) end
function request()
  local query = path == "proof" and ("/v1/audit/proof/inclusion?index=" .. math.random(0, size - 1)) or "/v1/audit/key"
  return wrk.format("GET", query, {["Authorization"] = "Bearer " .. token})
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %.1f %.1f %.1f %.1f\n", summary.requests, summary.errors.status,
    latency.max, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end
"""


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary_ms(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    out = {"n": len(ms), "mean_ms": float(ms.mean()), "max_ms": float(ms.max())}
    return out | {f"p{q}_ms": float(np.percentile(ms, q)) for q in (50, 90, 99)}


# --- the database: a stored set plus a log --------------------------------------------------------------------


def volumes_db(volumes: int) -> tuple[Path, Path]:
    """The stored set of ``bench.load`` that ``bench/run.sh`` also uses (made when missing), on ``bench_day()``."""
    db = Path(f"/tmp/deconfliction-bench-{volumes}-{bench_day()}.db")
    tokens = Path(f"{db}.tokens.json")
    if not db.exists():
        say(f"loading {volumes:,} volumes into {db} (bench.load)")
        tokens.write_text(json.dumps(load(db, volumes, 12)))
    return db, tokens


class History:
    """A synthetic but realistic day of the record, drawn from a seeded generator (module docstring)."""

    def __init__(self, party_ids: list[str], seed: int = 1) -> None:
        self.parties = party_ids
        self.rng = random.Random(seed)
        self.volumes = Scenario(volumes=50_000, parties=len(party_ids), seed=seed).stored().to_api()
        self.at = HISTORY_START
        self.seq = 0

    def _id(self, prefix: str) -> str:
        self.seq += 1
        ms = int(self.at.timestamp() * 1000)
        return f"{prefix}_{ms:012x}{self.seq % 65536:04x}{self.rng.getrandbits(64):016x}"

    def _tick(self) -> str:
        self.at += timedelta(milliseconds=self.rng.randrange(1, 160))
        return self.at.isoformat().replace("+00:00", "Z")

    def _others(self, *but: str) -> str:
        return self.rng.choice([p for p in self.parties[1:] if p not in but])

    def _overlap(self, vol: dict[str, Any]) -> dict[str, Any]:
        fp = vol["footprint"]
        lon, lat = fp["coordinates"] if fp["type"] == "Point" else fp["coordinates"][0][0]
        n = self.rng.choice((5, 6, 7, 8, 12, 20, 30, 45, 60))
        r = self.rng.uniform(0.005, 0.05)
        ring = [
            [lon + r * np.cos(2 * np.pi * k / n).item(), lat + r * np.sin(2 * np.pi * k / n).item()] for k in range(n)
        ]
        return {"coordinates": [[*ring, ring[0]]], "type": "Polygon"}

    def episode(self) -> Iterator[tuple[datetime, str, str, dict[str, Any], list[str], int]]:
        """One operation declared and, half the time, a conflict with its deliveries and acknowledgements. Yields
        ``(at, kind, subject, data, visible, about)``; ``about`` = how many entries back the entry is about (0:
        none): the caller binds it as ``log_about`` does."""
        owner = self.parties[0] if self.rng.random() < 1 / 3 else self._others()
        vol = self.volumes[self.rng.randrange(len(self.volumes))]
        now = self._tick()
        op_id = self._id("op")
        op = {"id": op_id, "party_id": owner, "version": 1, "state": "declared", "volumes": [vol]}
        op |= {"description": None, "callsign": f"CS{self.rng.randrange(10_000):04d}", "priority": None}
        op |= {"created_at": now, "updated_at": now}
        yield self.at, "operation.declared", op_id, op, [owner], 0
        if self.rng.random() >= 0.5:
            return
        other = self._others(owner)
        cf_id = self._id("cf")
        band = {"lower": vol["altitude"]["lower"], "upper": vol["altitude"]["upper"], "reference": "AMSL"}
        conflict = {"id": cf_id, "kind": "operation-operation", "status": "open", "revision": 1}
        conflict |= {"created_at": now, "updated_at": now, "resolved_at": None, "resolution": None}
        conflict["overlap"] = {"footprint": self._overlap(vol), "time": vol["time"]}
        conflict["acknowledgements"] = []
        conflict["sides"] = [
            {"party_id": p, "object_type": "operation", "object_ref": self._id("ref"), "altitude": band}
            for p in (owner, other)
        ]
        pair = [owner, other]
        yield self.at, "conflict.opened", cf_id, conflict, pair, 0
        for back, (kind, stamp) in enumerate((("notice.delivered", "delivered_at"), ("notice.acknowledged", "at"))):
            for i, party in enumerate(pair):
                data = {
                    "notice_id": cf_id,
                    "party_id": party,
                    "endpoint_ref": self._id("rec"),
                    stamp: self._tick(),
                    **({"seq": self.rng.randrange(1, 10**6)} if back == 0 else {"note": None, "first": True}),
                }
                yield self.at, kind, cf_id, data, pair, 1 + 2 * back + i


def build_record(base: Path, tokens: Path, entries: int) -> Path:
    """``base`` (a stored set) plus a log of ``entries`` entries, cached under /tmp (module docstring)."""
    stored = base.stem.removeprefix("deconfliction-bench-")  # volumes and day, as ``volumes_db`` names them
    db = Path(f"/tmp/deconfliction-record-{stored}-{entries}e.db")
    if db.exists():
        return db
    work = db.with_suffix(".building")
    shutil.copy(base, work)
    say(f"building a {entries:,}-entry log on a copy of {base} (cached as {db}) …")
    t0 = time.perf_counter()
    store = SqlStore.sqlite(work, synchronous="OFF")
    history = History(list(json.loads(tokens.read_text())))
    tree = MerkleLog()
    with store.write() as uow:
        key = hub_key(uow)
        start = uow.audit_size()
        tree.extend(uow.audit_leaves(0, start))
    episodes = (item for _ in iter(int, 1) for item in history.episode())
    recent: list[Any] = []
    done = start
    while done < start + entries:
        with store.write() as uow:
            for _ in range(min(BATCH, start + entries - done)):
                at, kind, subject, data, visible, about = next(episodes)
                if about:
                    ref = recent[-about]
                    data = {**data, "about_index": ref.index, "about_leaf_hash": ref.leaf_hash.hex()}
                entry = uow.record(at, kind, subject, data, visible)
                recent = [*recent[-7:], entry]
                tree.append(entry.leaf_hash)
                done += 1
            head = TreeHead(tree.size, tree.root(), to_ms(at))
            uow.insert_head(SignedHead(head, sign_head(key, head)))
        if done % 100_000 < BATCH:
            say(f"  {done - start:,} entries, {time.perf_counter() - t0:.0f} s")
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    work.rename(db)
    say(f"built in {time.perf_counter() - t0:.0f} s: {db.stat().st_size / 2**20:,.0f} MiB")
    return db


def drop_db(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


# --- hubs -------------------------------------------------------------------------------------------------------


def start_hub(
    db: Path,
    port: int,
    log: Path,
    record: bool,
    wrapper: list[str] | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 900,
) -> tuple[subprocess.Popen[bytes], float]:
    """A hub through ``bench/record_hub.py`` (with or without the record), run under ``wrapper`` (e.g. valgrind)
    with ``env`` over ``HUB_ENV``; returns it and its start-up time."""
    cmd = [sys.executable, "-m", "bench.record_hub", *([] if record else ["--no-record"])]
    t0 = time.perf_counter()
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*(wrapper or []), *cmd, "serve", "--db", str(db), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **HUB_ENV, **(env or {})},
        )
    wait_until_up(proc, port, log, timeout_s)
    return proc, time.perf_counter() - t0


def wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path, timeout_s: float) -> None:
    """Until the hub answers ``/healthz``; exits with its log's end if it dies or takes longer than ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"hub exited: {log.read_text()[-4000:]}")
        probe = Client(port, "")
        try:
            if probe.request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            time.sleep(0.2)  # polling for the port to open
        finally:
            probe.close()
    raise SystemExit(f"hub did not start within {timeout_s:.0f} s")


class Client:
    """One keep-alive HTTP/1.1 connection (``http.client``: the cheapest client the standard library has)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.auth = {"Authorization": f"Bearer {token}"}

    def request(
        self, method: str, path: str, body: bytes | None = None, token: str | None = None
    ) -> tuple[int, bytes, float]:
        headers = {"Authorization": f"Bearer {token}"} if token else dict(self.auth)
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            t0 = time.perf_counter()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return response.status, response.read(), time.perf_counter() - t0
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()  # uvicorn closes a keep-alive connection idle for 5 s: open a new one, once
                if attempt:
                    raise
        raise AssertionError("not reached")

    def close(self) -> None:
        self.conn.close()


# --- 1. the record's share of a declaration -------------------------------------------------------------------


def log_counts(db: Path) -> tuple[int, int]:
    """(entries, signed heads) in a running hub's database, read beside it (WAL readers block no one)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT (SELECT count(*) FROM audit_entries), (SELECT count(*) FROM audit_heads)")
        entries, heads = row.fetchone()
        return int(entries), int(heads)
    finally:
        conn.close()


class Busy:
    """CPU seconds used by a hub, and by the rest of the machine (neither the hub nor this benchmark nor wrk)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.hub0, self.all0, self.own0 = cpu_s(pid), machine_busy_s(), sum(os.times()[:4])  # self + waited children

    def stop(self) -> tuple[float, float]:
        hub = cpu_s(self.pid) - self.hub0
        return hub, machine_busy_s() - self.all0 - hub - (sum(os.times()[:4]) - self.own0)


CHUNKS = 40  # a multiple of 4, for ABBA
WARM_UP = 1000  # declarations to each hub before the timed ones, not timed (80 % non-overlapping, as timed)


def sequential(
    hubs: dict[str, Any], bodies: list[tuple[str, bytes, str]], warm_up: list[tuple[str, bytes, str]], on_db: Path
) -> dict[str, Any]:
    """Every declaration to both hubs, in ``CHUNKS`` chunks sent in ABBA order, one keep-alive connection per hub,
    after the ``warm_up`` declarations (not timed) to each."""
    streams = ("non_overlapping", "heavily_overlapping")
    lat: dict[str, dict[str, list[float]]] = {h: {s: [] for s in streams} for h in hubs}
    conflicts = {h: dict.fromkeys(streams, 0) for h in hubs}
    cpu = {h: dict.fromkeys(streams, 0.0) for h in hubs}
    rest, wall, errors = (dict.fromkeys(hubs, 0.0) for _ in range(3))
    clients = {h: Client(port, "") for h, (_, port) in hubs.items()}
    for c in clients.values():  # one request each first: neither pays for opening its connection in the figures
        c.request("GET", "/healthz")
    for _, body, token in warm_up:  # a hub just started reads the pages it writes from disk at first
        for c in clients.values():
            if c.request("POST", "/v1/operations", body, token)[0] != 201:
                raise SystemExit("a warm-up declaration was refused")
    entries0, heads0 = log_counts(on_db)
    size = -(-len(bodies) // CHUNKS)
    for k in range(CHUNKS):
        for h in ("on", "off") if k % 4 in (0, 3) else ("off", "on"):
            for stream in streams:  # a chunk's declarations of one stream, then the other's: CPU per stream
                busy, t0 = Busy(hubs[h][0].pid), time.perf_counter()
                for _, body, token in (b for b in bodies[k * size : (k + 1) * size] if b[0] == stream):
                    status, answer, seconds = clients[h].request("POST", "/v1/operations", body, token)
                    if status != 201:
                        errors[h] += 1
                        continue
                    lat[h][stream].append(seconds)
                    conflicts[h][stream] += len(orjson.loads(answer).get("conflicts", ()))
                wall[h] += time.perf_counter() - t0
                hub_s, rest_s = busy.stop()
                cpu[h][stream], rest[h] = cpu[h][stream] + hub_s, rest[h] + rest_s
        if (k + 1) % 10 == 0:
            say(f"  sequential chunk {k + 1}/{CHUNKS}")
    for c in clients.values():
        c.close()
    entries1, heads1 = log_counts(on_db)
    out: dict[str, Any] = {"entries_per_declaration": (entries1 - entries0) / len(bodies)}
    out["heads_per_declaration"] = (heads1 - heads0) / len(bodies)
    for h in hubs:
        out[h] = {
            s: {**summary_ms(v), "conflicts_mean": conflicts[h][s] / len(v), "hub_cpu_ms": 1000 * cpu[h][s] / len(v)}
            for s, v in lat[h].items()
        }
        out[h]["hub_cpu_ms_per_declaration"] = 1000 * sum(cpu[h].values()) / len(bodies)
        out[h]["rest_of_machine_cores"] = rest[h] / wall[h]
        out[h]["non_201"] = errors[h]
        out[h]["rss_mb"] = rss_mb(hubs[h][0].pid)
    return out


def under_load(hubs: dict[str, Any], stream: str, tsv: Path, script: Path, wrk_s: int, on_db: Path) -> dict[str, Any]:
    """wrk on each hub: a 2 s warm-up each, then runs in the order on, off, off, on."""
    runs: dict[str, list[dict[str, float]]] = {"on": [], "off": []}
    for _, port in hubs.values():
        run_wrk(f"http://{HOST}:{port}", tsv, script, 16, 2, WRK)  # warm-up, not reported
    for h in ("on", "off", "off", "on"):
        proc, port = hubs[h]
        busy, (entries0, heads0) = Busy(proc.pid), log_counts(on_db)
        res = run_wrk(f"http://{HOST}:{port}", tsv, script, 16, wrk_s, WRK)
        hub_s, rest_s = busy.stop()
        res["hub_cpu_ms_per_request"] = 1000 * hub_s / max(res["requests"], 1)
        res["rest_of_machine_cores"] = rest_s / wrk_s
        if h == "on":
            entries1, heads1 = log_counts(on_db)
            res["entries_per_request"] = (entries1 - entries0) / max(res["requests"], 1)
            res["requests_per_head"] = res["requests"] / max(heads1 - heads0, 1)
        runs[h].append(res)
        say(f"  wrk {stream} {h}: {res['per_s']:.0f}/s p50 {res['p50_ms']:.1f} p99 {res['p99_ms']:.1f} ms")
    out: dict[str, Any] = {}
    for h, r in runs.items():
        out[h] = {k: float(np.mean([x[k] for x in r])) for k in r[0] if k not in ("requests", "non_2xx")}
        out[h].update(runs=r, non_2xx=sum(x["non_2xx"] for x in r))
        out[h]["per_s"] = sum(x["requests"] for x in r) / sum(x["requests"] / x["per_s"] for x in r)
    return out


def overhead(
    db: Path, tokens: list[str], volumes: int, declarations: int, wrk_s: int, tmp: Path, on: tuple[Any, int, Path]
) -> dict[str, Any]:
    scenario = Scenario(volumes=volumes, parties=len(tokens))
    heavy_n = declarations // 5
    quiet, busy = scenario.non_overlapping(4000), scenario.heavily_overlapping(max(heavy_n, 1000))
    quiet_rows = [("non_overlapping", v, p) for v, p in zip(quiet.to_api(), quiet.party.tolist(), strict=True)]
    busy_rows = [("heavily_overlapping", v, p) for v, p in zip(busy.to_api(), busy.party.tolist(), strict=True)]
    rows = quiet_rows[: declarations - heavy_n] + busy_rows[:heavy_n]
    warm = quiet_rows[declarations - heavy_n :][: WARM_UP * 4 // 5] + busy_rows[heavy_n:][: WARM_UP // 5]
    for r in (rows, warm):
        random.Random(7).shuffle(r)
    bodies, warm_up = ([(s, orjson.dumps({"volumes": [v]}), tokens[p]) for s, v, p in r] for r in (rows, warm))
    proc_on, port_on, on_db = on
    off_db = Path(shutil.copy(db, tmp / "off.db"))
    proc_off, startup_off = start_hub(off_db, port_off := free_port(), tmp / "off.log", record=False)
    hubs = {"on": (proc_on, port_on), "off": (proc_off, port_off)}
    try:
        result: dict[str, Any] = {"declarations": len(bodies), "startup_off_s": startup_off}
        result["sequential"] = sequential(hubs, bodies, warm_up, on_db)
        script = tmp / "declare.lua"
        script.write_text(LUA)
        result["wrk"] = {}
        for stream, columns in (("non_overlapping", quiet), ("heavily_overlapping", busy)):
            tsv = tmp / f"{stream}.tsv"
            with tsv.open("w") as f:
                for vol, party in zip(columns.to_api(), columns.party.tolist(), strict=True):
                    f.write(f"{tokens[party]}\t{json.dumps({'volumes': [vol]})}\n")
            result["wrk"][stream] = under_load(hubs, stream, tsv, script, wrk_s, on_db)
    finally:
        stop_hub(proc_off)
        drop_db(off_db)
    return result


# --- 2. a bundle of the whole log -----------------------------------------------------------------------------


def bundle(db: Path, party_id: str, tmp: Path) -> dict[str, Any]:
    store = SqlStore.sqlite(db)
    try:
        t0 = time.perf_counter()
        with store.read() as uow:
            exported = export_bundle(uow, party_id)
        out: dict[str, Any] = {"export_s": time.perf_counter() - t0}
        with store.read() as uow:
            key_hex = key_to_hex(hub_key(uow).public_key())
    finally:
        store.close()
    out["entries"], out["heads"] = len(exported["entries"]), len(exported["heads"])
    out["party_entries_shown"] = sum(1 for e in exported["entries"] if "document" in e)
    path = tmp / "bundle.json"
    t0 = time.perf_counter()
    path.write_bytes(orjson.dumps(exported))
    out["write_s"], out["bundle_mb"] = time.perf_counter() - t0, path.stat().st_size / 2**20
    del exported
    gc.collect()
    say(f"  exported {out['entries']:,} entries in {out['export_s']:.1f} s + {out['write_s']:.1f} s to write")

    # Where verify_bundle's time goes: its steps, each wrapped in a timer for this one call.
    phases: dict[str, float] = {}

    def timer(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t

        return timed

    steps = ("_column", "_leaf_bytes", "_check_sequence", "_check_documents", "_check_heads", "_check_known")
    saved = {name: getattr(core_bundle, name) for name in steps}
    build = MerkleLog.from_leaf_hashes
    t0 = time.perf_counter()
    raw = path.read_bytes()
    t1 = time.perf_counter()
    parsed = orjson.loads(raw)
    t2 = time.perf_counter()
    try:
        for name, fn in saved.items():
            setattr(core_bundle, name, timer(name.strip("_"), fn))
        MerkleLog.from_leaf_hashes = timer("tree", build)  # type: ignore[method-assign]
        report = core_bundle.verify_bundle(parsed, key_hex)
    finally:
        for name, fn in saved.items():
            setattr(core_bundle, name, fn)
        MerkleLog.from_leaf_hashes = build  # type: ignore[method-assign]
    t3 = time.perf_counter()
    del parsed, raw
    gc.collect()
    if not report.ok:
        raise SystemExit(f"the bundle did not verify: {report.message}")
    out.update(read_s=t1 - t0, parse_s=t2 - t1, verify_s=t3 - t2, verify_phases_s=phases)
    say(f"  verified in-process: parse {t2 - t1:.1f} s, verify {t3 - t2:.1f} s ({phases})")

    cmd = [sys.executable, "-m", "deconfliction", "audit", "verify", str(path), "--key", key_hex]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    text = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    out["cli_s"], out["cli_peak_rss_mb"] = time.perf_counter() - t0, usage.ru_maxrss / 1024
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4, for its rusage
    if proc.returncode != 0:
        raise SystemExit(f"audit verify failed: {text}")
    out["cli_output"] = text.strip()[:300]
    say(f"  CLI verify: {out['cli_s']:.1f} s, peak RSS {out['cli_peak_rss_mb']:.0f} MB")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import deconfliction.cli"], check=True)
    out["cli_import_s"] = time.perf_counter() - t0
    path.unlink()
    return out


# --- 3. inclusion proofs --------------------------------------------------------------------------------------


def wrk_one(port: int, script: Path, path: str, size: int, token: str, seconds: int) -> dict[str, float]:
    """Sequential round trips (wrk, 1 thread, 1 connection), its latency percentiles in ms."""
    cmd = [
        *WRK,
        "wrk",
        "-t1",
        "-c1",
        f"-d{seconds}s",
        "-s",
        str(script),
        f"http://{HOST}:{port}",
        "--",
        path,
        str(size),
        token,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    n, bad, worst, p50, p90, p99, mean = (float(x) for x in out.split("RESULT ")[1].split())
    return {"n": int(n), "non_2xx": int(bad), "mean_ms": mean / 1000, "max_ms": worst / 1000} | {
        f"p{q}_ms": v / 1000 for q, v in ((50, p50), (90, p90), (99, p99))
    }


def proofs(db: Path, port: int, startup_s: float, token: str, samples: int, tmp: Path) -> dict[str, Any]:
    client = Client(port, token)
    _, key_body, _ = client.request("GET", "/v1/audit/key")
    status, head_body, _ = client.request("GET", "/v1/audit/head")
    if status != 200:
        raise SystemExit(f"GET /v1/audit/head: {status} {head_body!r}")
    head = orjson.loads(head_body)
    size = head["size"]
    rng = random.Random(3)
    indexes = [rng.randrange(size) for _ in range(samples)]
    key_s = [client.request("GET", "/v1/audit/key")[2] for _ in range(min(samples, 2000))]
    served, proof_s = [], []
    for i in indexes:
        status, body, seconds = client.request("GET", f"/v1/audit/proof/inclusion?index={i}")
        if status != 200:
            raise SystemExit(f"GET /v1/audit/proof/inclusion?index={i}: {status} {body!r}")
        proof_s.append(seconds)
        served.append(body)
    client.close()

    # Check what was served as a client would: the head's signature with the served key, then each proof.
    public = public_key_from_hex(orjson.loads(key_body)["public_key"])
    root = bytes.fromhex(head["root_hash"])
    head_ok = verify_head(public, TreeHead(size, root, head["timestamp_ms"]), bytes.fromhex(head["signature"]))
    answers = [orjson.loads(body) for body in served[:1000]]
    ok = sum(
        a["size"] == size
        and verify_inclusion(a["index"], size, bytes.fromhex(a["leaf_hash"]), [*map(bytes.fromhex, a["proof"])], root)
        for a in answers
    )

    store = SqlStore.sqlite(db)  # the hub's copy: reads only, while the hub runs
    try:
        log = AuditLog(60)
        t0 = time.perf_counter()
        log.load(store)
        load_s = time.perf_counter() - t0
    finally:
        store.close()
    tree = log.tree
    build_s = []
    for i in indexes:
        t0 = time.perf_counter()
        leaf, at_size, path = tree.leaf_hash(i).hex(), tree.root(size).hex(), tree.inclusion_proof(i, size)
        dumps({"index": i, "size": size, "leaf_hash": leaf, "root_hash": at_size, "proof": [h.hex() for h in path]})
        build_s.append(time.perf_counter() - t0)
    script = tmp / "proof.lua"
    script.write_text(PROOF_LUA)
    runs: dict[str, list[dict[str, float]]] = {"proof": [], "key": []}
    for what in ("proof", "key", "key", "proof") * 2:  # ABBA twice, as in figure 1: drift cancels
        runs[what].append(wrk_one(port, script, what, size, token, max(2, samples // 1000)))
    wrk: dict[str, dict[str, Any]] = {k: {f: float(np.mean([x[f] for x in r])) for f in r[0]} for k, r in runs.items()}
    for k, r in runs.items():
        wrk[k] |= {"n": sum(x["n"] for x in r), "max_ms": max(x["max_ms"] for x in r), "runs": r}
    return {
        "wrk_proof": wrk["proof"],
        "wrk_key": wrk["key"],
        "size": size,
        "hub_startup_s": startup_s,
        "load_leaves_s": load_s,
        "http": summary_ms(proof_s),
        "http_key": summary_ms(key_s),
        "in_process_us": {k.replace("_ms", "_us"): v * 1000 for k, v in summary_ms(build_s).items() if k != "n"},
        "proof_hashes": len(orjson.loads(served[0])["proof"]),
        "proof_bytes": len(served[0]),
        "head_signature_ok": head_ok,
        "verified": ok,
        "checked": len(answers),
    }


# --- the table ------------------------------------------------------------------------------------------------


def ratio(on: float, off: float) -> float:
    return on / off - 1 if off else float("nan")


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """What, ours, goal, met? — one row per figure of the issue, and the load runs beside them."""
    rows = []
    seq, b, p = r["overhead"]["sequential"], r["bundle"], r["proofs"]
    for stream in ("non_overlapping", "heavily_overlapping"):
        on, off = seq["on"][stream], seq["off"][stream]
        d = ratio(on["p50_ms"], off["p50_ms"])
        what = f"latency the record adds to a declaration, {stream.replace('_', '-')} ({on['conflicts_mean']:.1f} "
        ours = (
            f"{d:+.1%} ({off['p50_ms']:.2f} → {on['p50_ms']:.2f} ms; mean {ratio(on['mean_ms'], off['mean_ms']):+.0%}"
        )
        ours += f", p99 {ratio(on['p99_ms'], off['p99_ms']):+.0%})"
        rows.append((what + "conflicts), one client, median", ours, f"≤ +{GOAL_OVERHEAD:.0%}", met(d <= GOAL_OVERHEAD)))
    for stream, w in r["overhead"]["wrk"].items():
        on, off = w["on"], w["off"]
        ours = f"throughput {ratio(on['per_s'], off['per_s']):+.1%} ({off['per_s']:.0f} → {on['per_s']:.0f}/s), "
        ours += f"p50 {ratio(on['p50_ms'], off['p50_ms']):+.0%}, p99 {ratio(on['p99_ms'], off['p99_ms']):+.0%}"
        rows.append((f"… under load (wrk, 16 connections), {stream.replace('_', '-')}", ours, "—", "—"))
    what = f"verify a bundle of {b['entries']:,} entries (`deconfliction audit verify`, end to end)"
    ours = f"{b['cli_s']:.1f} s (in-process: parse {b['parse_s']:.1f} s + verify {b['verify_s']:.1f} s)"
    rows.append((what, ours, f"≤ {GOAL_VERIFY_S:.0f} s", met(b["cli_s"] <= GOAL_VERIFY_S)))
    wp, wk = p["wrk_proof"], p["wrk_key"]
    what = f"serve an inclusion proof at size {p['size']:,} (loopback round trip, one connection, p99)"
    ours = f"{wp['p99_ms']:.2f} ms (p50 {wp['p50_ms']:.2f}; a bare authenticated GET: p99 {wk['p99_ms']:.2f}, "
    ours += f"p50 {wk['p50_ms']:.2f}; the proof itself: {p['in_process_us']['p50_us']:.0f} µs)"
    rows.append((what, ours, f"≤ {GOAL_PROOF_MS:.0f} ms", met(wp["p99_ms"] <= GOAL_PROOF_MS)))
    return rows


def markdown(r: dict[str, Any]) -> str:
    """The section "The record" of docs/benchmarks.md, from one result."""
    o, b, p = r["overhead"], r["bundle"], r["proofs"]
    seq, ip = o["sequential"], p["in_process_us"]
    on_w = o["wrk"]["non_overlapping"]["on"]
    lines = [
        "## The record",
        "",
        f"`bench/record.py` (`{r['command']}`, {r['at']}, {r['python']}; the module's docstring gives the method): "
        f"{r['volumes']:,} stored volumes and a log of {r['entries']:,} entries appended through `uow.record` (a "
        "synthetic history of 12 parties: operations, conflicts, deliveries, acknowledgements; a signed head per "
        "1,000 entries). The record's share is measured between two hub processes on copies of that database, one "
        "as shipped and one with the record replaced by no-ops (`bench/record_hub.py --no-record`), fed the same "
        "declarations in alternating (ABBA) order; default settings (`synchronous=FULL`, group commit).",
        "",
        "| what | ours | goal | met? |",
        "|---|---|---|---|",
        *(f"| {a} | {b_} | {c} | {d} |" for a, b_, c, d in table(r)),
        "",
        f"**One client, closed loop** ({o['declarations']:,} declarations, 80 % non-overlapping, one keep-alive "
        "connection per hub; each declaration is its own write batch with its own tree head, signed only when asked "
        "for or stored):",
        "",
        "| record | stream | n | conflicts/decl | mean ms | p50 ms | p90 ms | p99 ms | max ms | hub CPU ms/decl |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {h} | {st} | {s['n']:,} | {s['conflicts_mean']:.1f} | {s['mean_ms']:.2f} | {s['p50_ms']:.2f} | "
            f"{s['p90_ms']:.2f} | {s['p99_ms']:.2f} | {s['max_ms']:.1f} | {s.get('hub_cpu_ms', float('nan')):.2f} |"
            for st in ("non_overlapping", "heavily_overlapping")
            for h in ("off", "on")
            for s in (seq[h][st],)
        ),
        "",
        f"Entries appended per declaration: {seq['entries_per_declaration']:.2f}; signed heads stored per declaration: "
        f"{seq['heads_per_declaration']:.2f}. Other processes on the machine used "
        f"{seq['off']['rest_of_machine_cores']:.2f} (off) and "
        f"{seq['on']['rest_of_machine_cores']:.2f} (on) cores meanwhile. Hub RSS: off {seq['off']['rss_mb']:.0f} MB, "
        f"on {seq['on']['rss_mb']:.0f} MB (start-up with the record off {o['startup_off_s']:.0f} s).",
        "",
        f"**Under load** (wrk as `bench/http.py` runs it: 2 threads, 16 connections, closed loop, {r['wrk_s']} s "
        "per run, in the order on, off, off, on; the means of the two runs; with the record on, "
        f"{on_w.get('requests_per_head', float('nan')):.1f} non-overlapping declarations per stored signed head):",
        "",
        "| stream | record | declarations/s | p50 ms | p90 ms | p99 ms | hub CPU ms/decl | other processes, cores |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {st} | {h} | {x['per_s']:.0f} | {x['p50_ms']:.1f} | {x['p90_ms']:.1f} | {x['p99_ms']:.1f} | "
            f"{x['hub_cpu_ms_per_request']:.2f} | {max(x['rest_of_machine_cores'], 0):.2f} |"
            for st, w in o["wrk"].items()
            for h in ("off", "on")
            for x in (w[h],)
        ),
    ]
    ph = ", ".join(f"{k} {v:.2f} s" for k, v in b["verify_phases_s"].items())
    lines += [
        "",
        f"**The bundle** of party 00: {b['entries']:,} entries, {b['party_entries_shown']:,} of them with their "
        f"document, {b['heads']:,} signed heads, {b['bundle_mb']:,.0f} MiB of JSON. `export_bundle` "
        f"{b['export_s']:.1f} s in-process, plus {b['write_s']:.1f} s to write it. In-process: read "
        f"{b['read_s']:.1f} s, parse {b['parse_s']:.1f} s, `verify_bundle` {b['verify_s']:.1f} s ({ph}). "
        f"`deconfliction audit verify` end to end: {b['cli_s']:.1f} s, of which {b['cli_import_s']:.1f} s to start "
        f"the interpreter and import the CLI; peak RSS {b['cli_peak_rss_mb']:,.0f} MB.",
        "",
        f"**Inclusion proofs** at size {p['size']:,} ({p['proof_hashes']} hashes, {p['proof_bytes']:,} bytes of "
        f"JSON). Hub start-up {p['hub_startup_s']:.0f} s (the stored volumes, then the leaf hashes; "
        f"`AuditLog.load` alone: {p['load_leaves_s']:.1f} s). Round trips one at a time on one keep-alive connection, "
        "random indexes, timed by wrk and by this script's Python client (the one whose answers were verified):",
        "",
        "| request | n | mean ms | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| `GET /v1/audit/{path}`{extra}, {who} | {s['n']:,} | {s['mean_ms']:.3f} | {s['p50_ms']:.3f} | "
            f"{s['p90_ms']:.3f} | {s['p99_ms']:.3f} | {s['max_ms']:.2f} |"
            for path, extra, who, s in (
                ("proof/inclusion", "", "wrk (C)", p["wrk_proof"]),
                ("key", " (the floor)", "wrk (C)", p["wrk_key"]),
                ("proof/inclusion", "", "Python `http.client`", p["http"]),
                ("key", " (the floor)", "Python `http.client`", p["http_key"]),
            )
        ),
        "",
        f"What the route computes (leaf hash, root, proof, JSON), in-process: p50 {ip['p50_us']:.0f} µs, p99 "
        f"{ip['p99_us']:.0f} µs. {p['verified']:,} of {p['checked']:,} served proofs verify against the signed "
        f"head (its signature {'valid' if p['head_signature_ok'] else '**invalid**'}).",
    ]
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, help="entries in the log (default 1,000,000; --quick: 20,000)")
    parser.add_argument("--volumes", type=int, help="stored volumes (default 1,000,000; --quick: 10,000)")
    parser.add_argument("--declarations", type=int, help="for the one-client comparison (default 4,000)")
    parser.add_argument("--wrk-duration", type=int, help="seconds per wrk run (default 10)")
    parser.add_argument("--proofs", type=int, help="inclusion proofs requested (default 5,000)")
    parser.add_argument("--quick", action="store_true", help="a short run: 10k volumes, 20k entries, short loads")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the table goes to stderr)")
    parser.add_argument("--markdown", type=Path, help="print the docs section from a saved --json result, and stop")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    q = args.quick
    volumes, entries = args.volumes or (10_000 if q else 1_000_000), args.entries or (20_000 if q else 1_000_000)
    declarations, wrk_s = args.declarations or (400 if q else 4000), args.wrk_duration or (3 if q else 10)
    results: dict[str, Any] = {
        "command": "python -m bench.record " + " ".join(sys.argv[1:]),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
    results |= {"volumes": volumes, "entries": entries, "wrk_s": wrk_s}
    base, tokens_file = volumes_db(volumes)
    db = build_record(base, tokens_file, entries)
    party_tokens = json.loads(tokens_file.read_text())
    tokens, party0 = list(party_tokens.values()), next(iter(party_tokens))
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp_dir:
        tmp = Path(tmp_dir)
        say("2. the bundle")
        results["bundle"] = bundle(db, party0, tmp)
        say("3. inclusion proofs")
        on_db = Path(shutil.copy(db, tmp / "on.db"))
        proc, startup = start_hub(on_db, port := free_port(), tmp / "on.log", record=True)
        try:
            results["proofs"] = proofs(on_db, port, startup, tokens[0], args.proofs or (1000 if q else 5000), tmp)
            say("1. the record's share of a declaration")
            results["overhead"] = overhead(db, tokens, volumes, declarations, wrk_s, tmp, (proc, port, on_db))
        except BaseException:
            for log in tmp.glob("*.log"):
                say(f"--- {log.name} (tail):\n{log.read_text()[-3000:]}")
            raise
        finally:
            stop_hub(proc)
            drop_db(on_db)
    rows = [
        "| what | ours | goal | met? |",
        "|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in table(results)),
    ]
    print("\n".join(rows), file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
