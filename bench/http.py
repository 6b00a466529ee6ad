"""Declarations over HTTP: a real ``deconfliction serve`` process, loaded by wrk on loopback.

Copies a database made by ``bench.load`` (so every run starts from the same stored set), starts the hub on it with
its defaults (SQLite WAL, ``synchronous=FULL``: every 201 is fsynced), waits for the index to be rebuilt, then
for each stream of ``bench.scenario`` and each placement of hub and wrk on the cores (``placements``) runs wrk (C,
2 threads, N connections, closed loop) for a fixed time, cycling through the stream's declarations with each
declaration's party token; every run has its own hub on its own copy. Reports throughput and latency
percentiles as wrk measured them, the 201 / other counts, and the conflicts per declaration (from a sample).

    .venv/bin/python -m bench.http --db /tmp/bench.db --tokens /tmp/bench-tokens.json --duration 10
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.inprocess import rss_mb
from bench.scenario import Scenario

LUA = r"""
local lines, n, i, counts = {}, 0, 0, {}
local offset = 0
function setup(thread) offset = offset + 1; thread:set("offset", offset) end
function init(args)
  for line in io.lines(args[1]) do
    local tab = line:find("\t")
    lines[#lines + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
  end
  n = #lines
  i = (tonumber(offset or 1) * 7919) % n
end
function request()
  i = i % n + 1
  local token, body = lines[i][1], lines[i][2]
  return wrk.format("POST", "/v1/operations",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %d %d %d %d %.1f %.1f %.1f %.1f %.1f\n", summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_hub(db: Path, port: int, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "deconfliction", "serve", "--db", str(db), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DECONFLICTION_SWEEP_INTERVAL_S": "3600", **(env or {})},
        )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"hub exited: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("hub did not start")


def cpu_s(pid: int) -> float:
    """User + system CPU time a process has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> dict[int, float]:
    """CPU seconds so far of a process and of each of its live descendants (the hub's worker processes: the
    detector, the report parsers), by pid."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue  # gone meanwhile
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for child, parent in parents.items() if parent in frontier]
        tree.extend(frontier)
    out: dict[int, float] = {}
    for p in tree:
        try:
            out[p] = cpu_s(p)
        except OSError:
            continue
    return out


def tree_cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds a process tree used between two ``tree_cpu_s`` readings (a worker started meanwhile counts
    from zero)."""
    return sum(cpu - before.get(p, 0.0) for p, cpu in after.items())


def placements() -> dict[str, tuple[dict[str, str], list[str]]]:
    """Where the hub and wrk run, by name: the hub's settings and the prefix of the wrk command.

    ``own_core``: the hub on the last core (``DECONFLICTION_CPU``), wrk on the others, as clients on other
    machines would be. ``shipped``: the hub's default (it keeps to the core it starts on) and wrk wherever the
    system puts it, sometimes on the hub's core. ``any_core``: the hub not kept to one core (as before
    ``DECONFLICTION_CPU`` existed)."""
    cores = sorted(os.sched_getaffinity(0))
    others = cores[:-1] or cores
    return {
        "own_core": ({"DECONFLICTION_CPU": str(cores[-1])}, ["taskset", "-c", ",".join(map(str, others))]),
        "shipped": ({}, []),
        "any_core": ({"DECONFLICTION_CPU": "off"}, []),
    }


def run_wrk(
    url: str, bodies: Path, script: Path, connections: int, duration: int, prefix: list[str] | None = None
) -> dict[str, float]:
    out = subprocess.run(
        [
            *(prefix or []),
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
            "--",
            str(bodies),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+)", out)
    if match is None:
        raise SystemExit(f"unexpected wrk output:\n{out}")
    requests, duration_us, non2xx, socket_errors = (int(match.group(i)) for i in range(1, 5))
    p50, p90, p99, p999, worst = (float(match.group(i)) / 1000 for i in range(5, 10))
    return {
        "requests": requests,
        "per_s": requests / (duration_us / 1e6),
        "non_2xx": non2xx,
        "socket_errors": socket_errors,
        "p50_ms": p50,
        "p90_ms": p90,
        "p99_ms": p99,
        "p999_ms": p999,
        "max_ms": worst,
    }


def _run_stream(
    args: argparse.Namespace, tmp: Path, bodies: Path, script: Path, env: dict[str, str], prefix: list[str], token: str
) -> dict[str, Any]:
    """One stream against a fresh hub on a fresh copy of the stored set."""
    db = tmp / "hub.db"
    shutil.copy(args.db, db)
    port = free_port()
    t0 = time.perf_counter()
    proc = start_hub(db, port, tmp / "hub.log", env)
    startup = time.perf_counter() - t0
    try:
        url = f"http://127.0.0.1:{port}"
        run_wrk(url, bodies, script, args.connections, 2, prefix)  # warm-up, not reported
        cpu0 = cpu_s(proc.pid)
        res: dict[str, Any] = dict(run_wrk(url, bodies, script, args.connections, args.duration, prefix))
        res["hub_cpu_ms_per_request"] = 1000 * (cpu_s(proc.pid) - cpu0) / max(res["requests"], 1)
        res["startup_s"] = startup
        res["rss_mb"] = rss_mb(proc.pid)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
            sample = client.get("/v1/conflicts", params={"limit": 1000}).json()["conflicts"]
        res["conflicts_seen_by_party0"] = len(sample)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--volumes", type=int, default=1_000_000, help="the stored set's size (for the streams)")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")

    tokens = list(json.loads(args.tokens.read_text()).values())
    scenario = Scenario(volumes=args.volumes, parties=len(tokens))
    results: dict[str, Any] = {"connections": args.connections, "duration_s": args.duration}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        script = tmp / "declare.lua"
        script.write_text(LUA)
        streams = (
            ("non_overlapping", scenario.non_overlapping(4000)),
            ("heavily_overlapping", scenario.heavily_overlapping(4000)),
        )
        for name, columns in streams:
            bodies = tmp / f"{name}.tsv"
            with bodies.open("w") as f:
                for vol, party in zip(columns.to_api(), columns.party.tolist(), strict=True):
                    f.write(f"{tokens[party]}\t{json.dumps({'volumes': [vol]})}\n")
            results[name] = {}
            for placement, (env, prefix) in placements().items():
                res = _run_stream(args, tmp, bodies, script, env, prefix, tokens[0])
                results[name][placement] = res
                print(
                    f"{name:>20} {placement:>9}: {res['per_s']:.0f} decl/s, p50 {res['p50_ms']:.1f} "
                    f"p90 {res['p90_ms']:.1f} p99 {res['p99_ms']:.1f} max {res['max_ms']:.0f} ms, "
                    f"non-2xx {res['non_2xx']}, socket errors {res['socket_errors']}; "
                    f"hub CPU {res['hub_cpu_ms_per_request']:.2f} ms/request, RSS {res['rss_mb']:.0f} MB, "
                    f"start {res['startup_s']:.1f} s",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
