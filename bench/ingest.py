"""Live tracks: position reports into a running hub over HTTP, against the goal of 100,000 reports/s.

A real ``deconfliction serve`` process on a fresh SQLite database (default settings: WAL, ``synchronous=FULL``, group
commit, so every 200 means the batch is fsynced and in the record; ``DECONFLICTION_SWEEP_INTERVAL_S=3600`` as
``bench/http.py`` sets it), one party made with ``deconfliction admin create-party`` before it starts.

Client *worker* processes (``--workers``, default 2 on this 2-core machine, each with ``--connections`` keep-alive
HTTP/1.1 connections, default 4, one thread each, stdlib ``http.client``) post, closed loop, JSON arrays of
``--batch`` reports (default 1,000). Every connection has its own tracks (``--tracks`` per connection, default
10,000, so 80,000 live tracks: 10 pre-serialised bodies of 1,000 reports, each report with all 11 fields); before
each POST the body's time placeholder is replaced by the current time (``bytes.replace``, ~0.1 ms), so every
report is fresh and newer than its track's last one: the hub accepts all of them (the answers are summed and
checked). Phase 1 (*array*): ``--warmup`` s (default 3), then ``--duration`` s (default 20) measured: reports/s
accepted, batches/s, the latency of each POST (sent → answer read) for those sent in the window, hub CPU (from
``/proc``, as a share of one core: the hub process, per thread, and its worker processes, the detector and the
report parsers), the clients' own CPU. Phase 2 (*ndjson*): the same
connections each stream one ``Content-Type: application/x-ndjson`` POST (chunked, 1,000 lines per chunk, fresh
times) for ``--duration`` s; the hub stores every 1,000 lines; throughput from the final answers.

The two phases run three times, on three fresh hubs: *as shipped*; with ``DECONFLICTION_TRACK_PARSE_WORKERS=0``,
every batch parsed in the request, on the hub's own GIL (the baseline of the parsing workers); and with
``DECONFLICTION_TACTICAL_PASS_S=60`` (the most allowed), which takes the tactical pass (every live track
dead-reckoned and checked for intrusions, every second, in the writer thread) out of the way, to show the ingest
path alone (``--only-shipped`` skips the last two). ``--hub-env NAME=VALUE`` adds a setting to all. The "rest of
machine" column is the CPU everything else used meanwhile (this is a shared 2-core box: other people's test suites
skew a run).

``--profile S`` attaches py-spy (``--nonblocking``, 100 Hz, with thread ids) to the as-shipped hub for S seconds in
the middle of phase 1 and summarises where its time goes (``--folded PATH`` keeps the stacks).

    .venv/bin/python -m bench.ingest --json bench/results/ingest.json [--profile 10]
    .venv/bin/python -m bench.ingest --markdown bench/results/ingest.json    # the docs section from a result
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.http import free_port, start_hub, tree_cpu_s, tree_cpu_used

GOAL_PER_S = 100_000
PLACEHOLDER = b"@" * 27  # as long as 2026-11-22T10:00:00.000000Z


def stamp(t: float) -> bytes:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


def templates(worker: int, connection: int, tracks: int, batch: int, ndjson: bool) -> list[bytes]:
    """Pre-serialised bodies of ``batch`` reports each, covering ``tracks`` tracks, with a time placeholder."""
    import random

    rng = random.Random(worker * 1_000 + connection)
    out: list[bytes] = []
    for first in range(0, tracks, batch):
        reports = []
        for i in range(first, min(first + batch, tracks)):
            serial = (worker * 16 + connection) * 100_000 + i
            reports.append(
                {
                    "track_id": f"w{worker}c{connection}-{i:06d}",
                    "time": PLACEHOLDER.decode(),
                    "lat": round(rng.uniform(36.0, 60.0), 6),
                    "lon": round(rng.uniform(-10.0, 30.0), 6),
                    "altitude": round(rng.uniform(300.0, 12_500.0), 1),
                    "altitude_reference": "BARO",
                    "ground_speed": round(rng.uniform(60.0, 260.0), 2),
                    "track": round(rng.uniform(0.0, 359.9), 2),
                    "vertical_rate": round(rng.uniform(-15.0, 15.0), 2),
                    "callsign": f"BCH{i % 10_000:04d}",
                    "icao24": f"{serial & 0xFFFFFF:06x}",
                }
            )
        if ndjson:
            out.append(b"\n".join(orjson.dumps(r) for r in reports) + b"\n")
        else:
            out.append(orjson.dumps(reports))
    return out


# --- the client side: one worker process, several connections ---


def _array_loop(spec: dict[str, Any], connection: int, out: dict[str, Any]) -> None:
    bodies = templates(spec["worker"], connection, spec["tracks"], spec["batch"], ndjson=False)
    headers = {"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=60)
    latencies: list[float] = []
    counts: Counter[str] = Counter()
    k = 0
    while (now := time.time()) < spec["until"]:
        body = bodies[k % len(bodies)].replace(PLACEHOLDER, stamp(now))
        k += 1
        t0 = time.perf_counter()
        conn.request("POST", "/v1/tracks", body, headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - t0
        if not spec["measure_from"] <= now < spec["until"]:
            continue
        latencies.append(elapsed)
        if response.status != 200:
            counts["non_200"] += 1
            counts["reports_refused"] += spec["batch"]
            if counts["non_200"] == 1:
                out["first_error"] = data[:300].decode(errors="replace")
            continue
        for name, value in orjson.loads(data).items():
            counts[name] += value
        counts["batches"] += 1
    conn.close()
    out["latencies"] = latencies
    out["counts"] = dict(counts)


def _ndjson_stream(spec: dict[str, Any], connection: int, out: dict[str, Any]) -> None:
    bodies = templates(spec["worker"], connection, spec["tracks"], spec["batch"], ndjson=True)
    headers = {"Authorization": f"Bearer {spec['token']}", "Content-Type": "application/x-ndjson"}
    sent = 0

    def chunks() -> Any:
        nonlocal sent
        k = 0
        while (now := time.time()) < spec["until"]:
            yield bodies[k % len(bodies)].replace(PLACEHOLDER, stamp(now))
            sent += spec["batch"]
            k += 1

    conn = http.client.HTTPConnection("127.0.0.1", spec["port"], timeout=120)
    t0 = time.time()
    conn.request("POST", "/v1/tracks", chunks(), headers, encode_chunked=True)
    response = conn.getresponse()
    data = response.read()
    out["elapsed_s"] = time.time() - t0
    out["sent"] = sent
    out["status"] = response.status
    out["answer"] = orjson.loads(data) if response.status == 200 else data[:300].decode(errors="replace")
    conn.close()


def worker(spec: dict[str, Any]) -> None:
    """One client process: ``spec["connections"]`` threads, each its own connection and tracks; JSON on stdout."""
    target = _ndjson_stream if spec["mode"] == "ndjson" else _array_loop
    outs: list[dict[str, Any]] = [{} for _ in range(spec["connections"])]
    threads = [threading.Thread(target=target, args=(spec, c, outs[c])) for c in range(spec["connections"])]
    cpu0 = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"connections": outs, "cpu_s": time.process_time() - cpu0}))


# --- the hub side ---


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of a process, by thread id and name."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[f"{name}:{task.name}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def spawn_workers(spec: dict[str, Any], workers: int) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "bench.ingest", "--worker", json.dumps({**spec, "worker": w})],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]


def collect(procs: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        if p.returncode != 0:
            raise SystemExit(f"a client worker failed ({p.returncode})")
        results.append(json.loads(out))
    return results


def py_spy(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        print("py-spy not found (pip install py-spy): no profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        [exe, "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "--nonblocking", "--threads", "-f", "raw"]
        + ["-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


_FRAME = re.compile(r"^(.*) \((.*?)(?::\d+)?\)$")
_PLUMBING = ("deconfliction/cli.py", "deconfliction/__main__.py", "deconfliction/service/writer.py")


def summarise_profile(folded: Path, top: int = 25) -> dict[str, Any]:
    """Shares of the hub's samples (py-spy's folded stacks, ``--threads``): per thread, and per function of the
    hub (and SQLite's execute/commit) inclusive of what it calls, lines merged."""
    per_thread: Counter[str] = Counter()
    inclusive: Counter[tuple[str, str]] = Counter()
    names_by_tid: dict[str, str] = {}
    for line in folded.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        tid, _, thread = frames[0].partition(": ")  # "thread (TID): NAME"
        names_by_tid[tid.removeprefix("thread (").rstrip(")")] = thread
        per_thread[thread] += count
        names = set()
        for frame in frames[1:]:
            found = _FRAME.match(frame)
            if found is None:
                continue
            function, where = found.groups()
            if ("deconfliction/" in where and not where.endswith(_PLUMBING)) or function in ("do_commit", "do_execute"):
                names.add(f"{function} ({where.split('site-packages/')[-1]})")
        for name in names:
            inclusive[(thread, name)] += count
    total = sum(per_thread.values()) or 1
    return {
        "samples": total,
        "threads": {k: v / total for k, v in per_thread.most_common()},
        "thread_names": names_by_tid,
        "inclusive": [(t, f, c / total) for (t, f), c in inclusive.most_common(top)],
    }


def array_phase(
    hub: subprocess.Popen[bytes], spec: dict[str, Any], args: argparse.Namespace, tmp: Path, profile: int
) -> dict[str, Any]:
    start = time.time()
    measure_from = start + 2 + args.warmup  # the workers take ~1-2 s to start and build their bodies
    until = measure_from + args.duration
    procs = spawn_workers({**spec, "mode": "array", "measure_from": measure_from, "until": until}, args.workers)
    time.sleep(max(0.0, measure_from - time.time()))
    cpu0, threads0, machine0 = tree_cpu_s(hub.pid), thread_cpu(hub.pid), machine_cpu()
    profiler = None
    if profile:
        time.sleep(max(0.0, (args.duration - profile) / 2))
        profiler = py_spy(hub.pid, profile, tmp / "hub.folded")
    time.sleep(max(0.0, until - time.time()))
    cpu1, threads1, machine1 = tree_cpu_s(hub.pid), thread_cpu(hub.pid), machine_cpu()
    results = collect(procs)
    conns = [c for r in results for c in r["connections"]]
    latencies = [x for c in conns for x in c["latencies"]]
    counts: Counter[str] = Counter()
    for c in conns:
        counts.update(c["counts"])
    hub_cpu = tree_cpu_used(cpu0, cpu1)  # its worker processes included
    workers_cpu = hub_cpu - (cpu1[hub.pid] - cpu0[hub.pid])
    client_cpu = sum(r["cpu_s"] for r in results)
    out: dict[str, Any] = {
        "duration_s": args.duration,
        "batches": counts["batches"],
        "reports_per_s": counts["accepted"] / args.duration,
        "batches_per_s": counts["batches"] / args.duration,
        "accepted": counts["accepted"],
        "dropped": {k: counts[k] for k in ("stale", "out_of_order", "future")},
        "non_200": counts["non_200"],
        "first_error": next((c["first_error"] for c in conns if "first_error" in c), None),
        "p50_ms": 1000 * percentile(latencies, 0.50),
        "p90_ms": 1000 * percentile(latencies, 0.90),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies, default=float("nan")),
        "hub_cpu_share": hub_cpu / args.duration,
        "hub_cpu_us_per_report": 1e6 * hub_cpu / max(counts["accepted"], 1),
        "hub_threads_cpu_share": {
            k: round((threads1[k] - threads0.get(k, 0.0)) / args.duration, 3)
            for k in threads1
            if threads1[k] - threads0.get(k, 0.0) > 0.01 * args.duration
        },
        "hub_workers_cpu_share": workers_cpu / args.duration,
        "clients_cpu_share": client_cpu / (until - start),
        "machine_cpu_share": (machine1 - machine0) / args.duration,
        # Everything else the machine ran meanwhile (other people's tests on a shared box), in cores.
        "rest_of_machine_cpu_share": (machine1 - machine0 - hub_cpu) / args.duration - client_cpu / (until - start),
    }
    if profiler is not None:
        profiler.wait(timeout=profile + 60)
        folded = tmp / "hub.folded"
        if folded.exists():
            out["profile"] = summarise_profile(folded)
            names = out["profile"]["thread_names"]
            out["hub_threads_cpu_share"] = {
                names.get(k.split(":")[-1], k): v for k, v in out["hub_threads_cpu_share"].items()
            }
            if args.folded:
                shutil.copy(folded, args.folded)
    return out


def ndjson_phase(hub: subprocess.Popen[bytes], spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    start = time.time() + 2
    until = start + args.duration
    procs = spawn_workers({**spec, "mode": "ndjson", "measure_from": start, "until": until}, args.workers)
    time.sleep(max(0.0, start - time.time()))
    cpu0 = tree_cpu_s(hub.pid)
    results = collect(procs)
    hub_cpu = tree_cpu_used(cpu0, tree_cpu_s(hub.pid))  # its worker processes included
    conns = [c for r in results for c in r["connections"]]
    accepted = sum(c["answer"]["accepted"] for c in conns if c["status"] == 200)
    elapsed = max(c["elapsed_s"] for c in conns)
    return {
        "streams": len(conns),
        "elapsed_s": elapsed,
        "sent": sum(c["sent"] for c in conns),
        "accepted": accepted,
        "reports_per_s": accepted / elapsed,
        "non_200": sum(c["status"] != 200 for c in conns),
        "errors": [c["answer"] for c in conns if c["status"] != 200][:2],
        "dropped": {
            k: sum(c["answer"].get(k, 0) for c in conns if c["status"] == 200) for k in ("stale", "out_of_order")
        },
        "hub_cpu_us_per_report": 1e6 * hub_cpu / max(accepted, 1),
        "hub_cpu_share": hub_cpu / elapsed,
    }


def one_hub(args: argparse.Namespace, label: str, env: dict[str, str], profile: int) -> dict[str, Any]:
    """Both phases against one fresh hub started with ``env`` added to its settings."""
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        db = tmp / "hub.db"
        made = subprocess.run(
            [sys.executable, "-m", "deconfliction", "admin", "create-party", "Bench Air", "--db", str(db)],
            check=True,
            capture_output=True,
            text=True,
        )
        token = json.loads(made.stdout)["token"]
        port = free_port()
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)  # start_hub passes the environment on
        try:
            hub = start_hub(db, port, tmp / "hub.log")
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k)
                else:
                    os.environ[k] = v
        try:
            spec = {"port": port, "token": token, "tracks": args.tracks, "batch": args.batch}
            spec["connections"] = args.connections
            array = array_phase(hub, spec, args, tmp, profile)
            ndjson = ndjson_phase(hub, spec, args)
        finally:
            hub.send_signal(signal.SIGTERM)
            hub.wait(timeout=30)
        db_mb = sum(p.stat().st_size for p in tmp.glob("hub.db*")) / 2**20
    return {"label": label, "hub_env": env, "array": array, "ndjson": ndjson, "db_mb_after": db_mb}


def run(args: argparse.Namespace) -> dict[str, Any]:
    variants = [("as shipped", dict(args.hub_env))]
    if not args.only_shipped:
        variants.append(("parsed in the request", {**args.hub_env, "DECONFLICTION_TRACK_PARSE_WORKERS": "0"}))
        # The tactical pass (every DECONFLICTION_TACTICAL_PASS_S, 1 s by default) dead-reckons every live track and
        # looks for intrusions in the writer thread; at 60 s (the most allowed) it is out of the way of the ingest.
        variants.append(("tactical pass every 60 s", {**args.hub_env, "DECONFLICTION_TACTICAL_PASS_S": "60"}))
    runs = [one_hub(args, label, env, args.profile if i == 0 else 0) for i, (label, env) in enumerate(variants)]
    return {
        "command": "python -m bench.ingest " + " ".join(sys.argv[1:]),
        "at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cores": os.cpu_count(),
        "goal_per_s": GOAL_PER_S,
        "workers": args.workers,
        "connections_per_worker": args.connections,
        "batch": args.batch,
        "tracks": args.tracks * args.workers * args.connections,
        "duration_s": args.duration,
        "runs": runs,
    }


def markdown(r: dict[str, Any]) -> str:
    """The section "Live tracks: ingest" of docs/benchmarks.md, from one result."""
    shipped = r["runs"][0]["array"]
    verdict = "**met**" if shipped["reports_per_s"] >= r["goal_per_s"] else "**not met**"
    lines = [
        "## Live tracks: ingest",
        "",
        f"`bench/ingest.py` (`{r['command']}`, {r['at']}, {r['python']}, {r['cores']} cores): a `deconfliction "
        "serve` on a fresh SQLite database with default settings (synchronous=FULL, group commit: each 200 means "
        f"the batch is fsynced and in the record), {r['workers']} client processes × {r['connections_per_worker']} "
        f"keep-alive connections (stdlib `http.client`, closed loop) posting JSON arrays of {r['batch']:,} "
        f"pre-serialised reports (all 11 fields) with fresh times over {r['tracks']:,} tracks; {r['duration_s']} s "
        "measured after a warm-up; then the same connections each stream NDJSON for as long. The module's "
        "docstring gives the exact scenario.",
        "",
        "| figure | goal | measured | verdict |",
        "|---|---|---|---|",
        f"| position reports into a running hub over HTTP, batches of {r['batch']:,} | ≥ {r['goal_per_s']:,}/s | "
        f"{shipped['reports_per_s']:,.0f}/s as shipped ({shipped['non_200']} not 200) | {verdict} |",
        "",
        "| hub | path | reports/s | batches/s | p50 ms | p90 ms | p99 ms | max ms "
        "| hub CPU, its workers included (1 core = 100 %) | hub CPU µs/report | rest of machine |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in r["runs"]:
        a, n = run["array"], run["ndjson"]
        lines += [
            f"| {run['label']} | JSON arrays | {a['reports_per_s']:,.0f} | {a['batches_per_s']:.1f} | "
            f"{a['p50_ms']:.1f} | {a['p90_ms']:.1f} | {a['p99_ms']:.1f} | {a['max_ms']:.0f} | "
            f"{a['hub_cpu_share']:.0%} | {a['hub_cpu_us_per_report']:.1f} | "
            f"{a.get('rest_of_machine_cpu_share', float('nan')):.0%} |",
            f"| {run['label']} | NDJSON, {n['streams']} streams | {n['reports_per_s']:,.0f} | — | — | — | — | — | "
            f"{n['hub_cpu_share']:.0%} | {n['hub_cpu_us_per_report']:.1f} | — |",
        ]
    for run in r["runs"]:
        a, n = run["array"], run["ndjson"]
        busy = sorted(a["hub_threads_cpu_share"].items(), key=lambda kv: -kv[1])
        threads = ", ".join(f"{k.replace('python:', 'thread ')} {v:.0%}" for k, v in busy)
        dropped = sum(a["dropped"].values()) + sum(n["dropped"].values())
        lines.append("")
        lines.append(
            f"*{run['label']}*: hub threads {threads} of a core, its worker processes "
            f"{a.get('hub_workers_cpu_share', float('nan')):.0%} (JSON arrays); clients "
            f"{a['clients_cpu_share']:.0%}; {dropped} reports dropped as stale, out of order or future; "
            f"database {run['db_mb_after']:.0f} MB after (the sweep that prunes old batches was off)."
        )
    profile = shipped.get("profile")
    if profile:
        threads = ", ".join(f"{k} {v:.0%}" for k, v in profile["threads"].items())
        lines += [
            "",
            f"Where the hub's time goes, as shipped (py-spy, {profile['samples']:,} samples at 100 Hz during the JSON "
            f"phase; by thread: {threads}; shares of all samples, inclusive of callees):",
            "",
            "| thread | function | share |",
            "|---|---|---:|",
        ]
        lines += [f"| {t} | `{f}` | {share:.0%} |" for t, f, share in profile["inclusive"][:20]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=4, help="connections (threads) per client process")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--tracks", type=int, default=10_000, help="tracks per connection")
    parser.add_argument("--only-shipped", action="store_true", help="skip the run with the tactical pass at 60 s")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--profile", type=int, default=0, help="seconds of py-spy on the hub during phase 1")
    parser.add_argument(
        "--hub-env", action="append", default=[], metavar="NAME=VALUE", help="a setting for the hub (repeat)"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--folded", type=Path, help="keep py-spy's folded stacks here (with --profile)")
    parser.add_argument("--markdown", type=Path, help="print the docs section from a saved --json result, and stop")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker))
        return
    args.hub_env = dict(item.split("=", 1) for item in args.hub_env)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    result = run(args)
    for one in result["runs"]:
        a, n = one["array"], one["ndjson"]
        print(
            f"[{one['label']}] JSON arrays: {a['reports_per_s']:,.0f} reports/s ({a['batches_per_s']:.1f} batches/s, "
            f"{a['non_200']} not 200), p50 {a['p50_ms']:.1f} p90 {a['p90_ms']:.1f} p99 {a['p99_ms']:.1f} max "
            f"{a['max_ms']:.0f} ms; hub CPU {a['hub_cpu_share']:.0%} of a core ({a['hub_cpu_us_per_report']:.1f} "
            f"µs/report) {a['hub_threads_cpu_share']}; clients {a['clients_cpu_share']:.0%}; rest of machine "
            f"{a['rest_of_machine_cpu_share']:.0%}; goal {GOAL_PER_S:,}/s: "
            f"{'met' if a['reports_per_s'] >= GOAL_PER_S else 'NOT met'}"
        )
        print(
            f"[{one['label']}] NDJSON: {n['reports_per_s']:,.0f} reports/s over {n['streams']} streams "
            f"({n['accepted']:,} in {n['elapsed_s']:.1f} s, {n['non_200']} not 200); hub CPU "
            f"{n['hub_cpu_share']:.0%} ({n['hub_cpu_us_per_report']:.1f} µs/report)"
        )
        if a.get("first_error") or n["errors"]:
            print(f"errors: {a.get('first_error')} {n['errors']}")
        if "profile" in a:
            p = a["profile"]
            print(f"profile: {p['samples']} samples; threads {p['threads']}")
            for thread, frame, share in p["inclusive"]:
                print(f"  {share:6.1%}  {thread:<22} {frame}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
