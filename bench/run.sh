#!/usr/bin/env bash
# Every benchmark of docs/benchmarks.md in one run, then the report:  bench/run.sh [VOLUMES] [QUERIES]
# Needs wrk, valgrind and PostgreSQL 15 + PostGIS (apt-get install -y wrk valgrind postgresql-15-postgis-3).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
Q="${2:-2000}"
scripts/setup test,bench  # the hub, and what the benchmarks drive it with (psycopg, playwright, bluesky, traffic)
PY=.venv/bin/python
OUT=bench/results
# The scenario's day (bench/scenario.py), fixed once so that a run that crosses midnight stays on one day
export DECONFLICTION_BENCH_DAY="${DECONFLICTION_BENCH_DAY:-$(date -u -d '+2 days' +%F)}"
DB="/tmp/deconfliction-bench-$N-$DECONFLICTION_BENCH_DAY.db"
# Cached databases of other days (~2.3 GB a day at 1M: the stored set and bench.record's log) are no use to this run
find /tmp -maxdepth 1 -name 'deconfliction-*-20??-??-??*' ! -name "*-$DECONFLICTION_BENCH_DAY*" -delete
mkdir -p "$OUT"
if [ ! -f "$DB" ]; then
  $PY -m bench.load --volumes "$N" --db "$DB" --tokens "$DB.tokens.json"
fi
for sync in OFF FULL; do
  cp "$DB" "$DB.run"
  $PY -m bench.inprocess --db "$DB.run" --tokens "$DB.tokens.json" --volumes "$N" --queries "$Q" \
    --synchronous "$sync" --json "$OUT/inprocess_$sync.json"
  rm -f "$DB.run" "$DB.run-wal" "$DB.run-shm"
done
$PY -m bench.http --db "$DB" --tokens "$DB.tokens.json" --volumes "$N" --duration 10 --json "$OUT/http.json"
$PY -m bench.baseline_postgis --volumes "$N" --queries "$Q" --json "$OUT/baseline_postgis.json"
# The line (its own small hub: 200 declarations/s with 24 SSE endpoints, then 10,000 SSE endpoints), ~2 min
$PY -m bench.line --json "$OUT/line.json"
# The record (two hubs on copies of the stored set + a 1M-entry log, with and without the record; a 1M-entry bundle
# exported and verified; inclusion proofs served). The log is built once (~75 s) and cached in /tmp; ~5 min
$PY -m bench.record --volumes "$N" --json > "$OUT/record.json"
# ... and what it adds counted in instructions under callgrind (deterministic, unlike the latencies), ~3 min
$PY -m bench.record_instructions > "$OUT/record_instructions.md"
# What a declaration over HTTP costs the hub in instructions (a real hub under callgrind, one client), ~1 min
$PY -m bench.http_instructions > "$OUT/http_instructions.md"
# The least a heavily overlapping declaration costs: GEOS, PROJ and SQLite's own work, vectorised, ~2 min
$PY -m bench.floor --db "$DB" --tokens "$DB.tokens.json" --volumes "$N" --json "$OUT/floor.json" > "$OUT/floor.md"
# Live tracks: ingest (its own fresh hubs: 8 connections posting batches of 1,000 reports, then streaming NDJSON;
# as shipped and with the tactical pass out of the way; py-spy on the first), ~2 min
$PY -m bench.ingest --profile 10 --json "$OUT/ingest.json"
# Live tracks: detection against BlueSky's C++ detector (5,000 to 100,000 aircraft), ~2 min
$PY bench/tactical.py > "$OUT/tactical.txt"
# The map: first render in headless Chromium with 5,000 volumes, 500 sites, 2,000 tracks; 1 Hz updates, ~1 min
$PY -m bench.map --json "$OUT/map.json"
$PY -m bench.report --volumes "$N" --queries "$Q" > docs/benchmarks.md
{ echo; cat "$OUT/http_instructions.md"; echo; cat "$OUT/floor.md"; } >> docs/benchmarks.md
# Generated tables, each followed by its hand-written analysis (bench/notes/: update them with the figures)
{ echo; $PY -m bench.record --markdown "$OUT/record.json"; echo; cat "$OUT/record_instructions.md"; echo;
  cat bench/notes/record.md; } >> docs/benchmarks.md
{ echo; cat bench/notes/detection.md; echo; echo '```'; cat "$OUT/tactical.txt"; echo '```'; } >> docs/benchmarks.md
{ echo; $PY -m bench.ingest --markdown "$OUT/ingest.json"; echo; cat bench/notes/ingest.md; } >> docs/benchmarks.md
{ echo; $PY -m bench.map --markdown "$OUT/map.json"; echo; cat bench/notes/map.md; } >> docs/benchmarks.md
echo "wrote docs/benchmarks.md"
