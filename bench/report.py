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


def _row(label: str, d: dict[str, Any]) -> str:
    return f"| {label} | {d['n']:,} | {d['p50_ms']:.1f} | {d['p90_ms']:.1f} | {d['p99_ms']:.1f} | {d['max_ms']:.1f} |"


def line_section(line: dict[str, Any]) -> list[str]:
    """The two figures of the issue "The line" (``bench/line.py``): notification latency under load, 10,000
    connected endpoints."""
    lat, fan = line["latency"], line["fanout"]
    other = lat["other_party"]
    verdict = "**met**" if lat["met"] else "**not met**"
    cpu = lat["cpu_share"]
    last = fan["all"]["last_ms"] / 1000
    out = [
        "## The line",
        "",
        f"`bench/line.py` (`{line['command']}`, {line['at']}): one `deconfliction serve` process on a fresh SQLite "
        "database with default settings (synchronous=FULL, group commit, SSE keep-alive 15 s) except "
        f"{', '.join(f'`{k}={v}`' for k, v in lat.get('hub_env', {}).items()) or 'none'} (why: the docstring), "
        "the clients in other processes on uvloop (raw asyncio HTTP/1.1 and server-sent-events readers), every "
        "time on the machine's monotonic clock, which all processes share. The module's docstring gives the exact "
        "scenario.",
        "",
        "| figure | target | measured | verdict |",
        "|---|---|---|---|",
        f"| `conflict.opened` at the other party's endpoints, from the 201, at {lat['rate_target']:.0f} "
        f"declarations/s | p99 ≤ {lat['target_p99_ms']:.0f} ms | p50 {other['p50_ms']:.1f}, p99 "
        f"{other['p99_ms']:.1f}, max {other['max_ms']:.0f} ms ({other['n']:,} receipts, {other['missing']} missing; "
        f"{lat['achieved_per_s']:.0f} declarations/s achieved) | {verdict} |",
        f"| … timed from sending the declaration (includes the 201's own latency) | — | p50 "
        f"{lat['other_party_from_send']['p50_ms']:.1f}, p99 {lat['other_party_from_send']['p99_ms']:.1f}, max "
        f"{lat['other_party_from_send']['max_ms']:.0f} ms | — |",
        f"| SSE endpoints connected to one hub | {fan['endpoints']:,} | {fan['connected']:,} connected, "
        f"{fan['failed']} failed, {fan['kb_per_connection']:.0f} KB of hub RSS each | "
        f"{'**met**' if fan['connected'] >= fan['endpoints'] and not fan['failed'] else '**not met**'} |",
        f"| a message to all {fan['connected']:,} endpoints | — | from the 201: p50 {fan['all']['p50_ms']:.0f}, "
        f"p99 {fan['all']['p99_ms']:.0f} ms, last endpoint {last:.1f} s; from sending: last "
        f"{fan['all_from_send']['max_ms'] / 1000:.1f} s ({fan['missing']} missing) | — |",
        "",
        f"**Notification latency.** {lat['parties']} parties × {lat['endpoints_per_party']} endpoints, each with "
        f"its `GET /v1/events` stream open (one reader process); {lat['anchors']} stored anchor volumes; open loop at "
        f"{lat['rate_target']:.0f} declarations/s for {lat['duration_s']:.0f} s after a {lat['warmup_s']:.0f} s "
        f"warm-up, {lat['conflict_share']:.0%} of them overlapping exactly one anchor of another party. "
        f"{lat['declarations']:,} declarations ({lat['non_201']} not 201), {lat['conflicts']:,} conflicts "
        f"({lat['unexpected_conflict_counts']} declarations with an unexpected number), "
        f"{lat['connections_opened']} keep-alive connections opened by the generator. CPU over the load, in "
        f"shares of one core: hub {cpu['hub']:.0%}, reader {cpu['reader']:.0%}, generator {cpu['generator']:.0%}, "
        f"other processes on the machine {cpu.get('rest_of_machine', float('nan')):.0%} (2 cores).",
        "",
        "| measured | n | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
        _row("`conflict.opened` at the other party's endpoints, from the 201", other),
        _row("… from sending the declaration", lat["other_party_from_send"]),
        _row("`conflict.opened` at the declaring party's endpoints, from the 201", lat["declaring_party"]),
        _row("the 201 itself (sent → answer read)", lat["declare"]),
        _row("generator lateness (scheduled → sent)", lat["send_lag"]),
        "",
        f"**{fan['connected']:,} endpoints.** {fan['parties']} parties × {fan['endpoints_per_party']} endpoints "
        f"stored before start-up ({fan['setup_s']:.0f} s); hub start-up {fan['hub_startup_s']:.1f} s, "
        f"RLIMIT_NOFILE {fan['hub_nofile']:,}. Registering one more endpoint over HTTP at this scale: p50 "
        f"{fan['register_over_http']['p50_ms']:.0f} ms, max {fan['register_over_http']['max_ms']:.0f} ms "
        f"({fan['register_over_http']['n']} in a row). {fan['workers']} client processes opened the streams "
        f"({fan['connect_concurrency']} at a time each) in {fan['connect_s']:.1f} s "
        f"(hub {fan['connect_hub_cpu_s']:.1f} CPU s, clients {fan['connect_reader_cpu_s']:.1f} CPU s); hub RSS "
        f"{fan['rss_before_mb']:.0f} MB before, {fan['rss_connected_mb']:.0f} MB with every stream open "
        f"({fan['kb_per_connection']:.0f} KB per connection), {fan['rss_after_mb']:.0f} MB after the messages. "
        f"Holding them with nothing to send ({fan.get('idle_s', 0):.0f} s; a keep-alive per stream every 15 s): hub "
        f"{fan.get('idle_hub_cpu_share', float('nan')):.0%} of a core, clients "
        f"{fan.get('idle_clients_cpu_share', float('nan')):.0%}. "
        f"Delivery records of the first message marked delivered: {fan['delivered_records']['marked']:,} of "
        f"{fan['delivered_records']['records']:,}. Each message: `POST /v1/messages` to the {fan['parties']} "
        "parties, one at a time, the next once every endpoint has it and the hub is idle.",
        "",
        "| message | 201 ms | reached | p50 ms from 201 | p99 ms | last ms | p50 ms from sending | p99 ms | last ms "
        "| hub busy s | hub CPU ms per endpoint | clients CPU s | other processes, cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for i, m in enumerate(fan["messages"], 1):
        f = m["from_send"]
        out.append(
            f"| {i} | {m['post_ms']:.0f} | {m['received']:,} | {m['p50_ms']:.0f} | {m['p99_ms']:.0f} | "
            f"{m['last_ms']:.0f} | {f['p50_ms']:.0f} | {f['p99_ms']:.0f} | {f['max_ms']:.0f} | "
            f"{m['hub_busy_s']:.1f} | {m['hub_cpu_ms_per_endpoint']:.2f} | {m['reader_cpu_s']:.2f} | "
            f"{m.get('rest_of_machine_share', float('nan')):.2f} |"
        )
    return out


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
        f"({platform.python_implementation()} {platform.python_version()}); when a table comes from a later run of "
        "some of its steps, the notes after the issue-2 table say which. "
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
        f"{http['duration_s']} s per stream after a 2 s warm-up, each declaration with its party's token, each run "
        "on its own hub and copy. Placement (`bench.http.placements`): `own_core`, the hub on one core and wrk on the "
        "other, as remote clients would be; `shipped`, the hub's default (it keeps to the core it starts on) with wrk "
        "wherever the system puts it, at times on the hub's core; `any_core`, the hub not kept to one core "
        "(`DECONFLICTION_CPU=off`, the behaviour before that setting).",
        "",
        "| stream | placement | declarations/s | p50 ms | p90 ms | p99 ms | max ms | non-2xx | hub CPU ms/decl "
        "| hub RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for stream in STREAMS:
        for placement, h in http[stream].items():
            lines.append(
                f"| {stream} | {placement} | {h['per_s']:.0f} | {h['p50_ms']:.1f} | {h['p90_ms']:.1f} | "
                f"{h['p99_ms']:.1f} | {h['max_ms']:.0f} | {h['non_2xx']} | {h['hub_cpu_ms_per_request']:.2f} | "
                f"{h['rss_mb']:.0f} |"
            )
    if (RESULTS / "line.json").exists():
        lines += ["", *line_section(_load("line.json"))]
    print("\n".join(lines))
    notes = Path(__file__).with_name("NOTES.md")
    if notes.exists():
        print()
        print(notes.read_text().rstrip())


if __name__ == "__main__":
    main()
