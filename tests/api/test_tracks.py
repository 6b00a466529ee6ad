"""Live position reports through the API: batches and NDJSON, staleness, order, refusal of bad batches, restart."""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from typing import Any

import orjson
import pytest

from deconfliction.api.parsers import Parsers
from deconfliction.service.hub import Hub
from deconfliction.store.sql import SqlStore
from tests.api.conftest import World
from tests.conftest import iso


def report(world: World, track: str, ago_s: float = 0.0, **over: Any) -> dict[str, Any]:
    return {
        "track_id": track,
        "time": iso(world.clock.now - timedelta(seconds=ago_s)),
        "lat": 50.0,
        "lon": 5.0,
        "altitude": 9_000.0,
        "ground_speed": 128.6,
        "track": 90.0,
        "vertical_rate": 0.0,
        **over,
    }


def test_reports_keep_the_latest_state_of_each_track_and_count_what_they_drop(world: World) -> None:
    blue = world.party("Blue")
    batch = [
        report(world, "A", 10, lat=50.1),
        report(world, "A", 5, lat=50.2),  # the newest of A in the batch wins
        report(world, "B", 3, callsign="VIPER1", icao24="3C6444"),
        report(world, "C", 3600),  # stale
    ]
    r = blue.post("/v1/tracks", json=batch)
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "stale": 1, "out_of_order": 1, "future": 0}
    older = blue.post("/v1/tracks", json=[report(world, "A", 8, lat=49.0)])
    assert older.json()["out_of_order"] == 1  # never moves A back in time
    live = {t["track_id"]: t for t in blue.get("/v1/tracks").json()["tracks"]}
    assert sorted(live) == ["A", "B"] and live["A"]["lat"] == 50.2
    assert live["B"]["icao24"] == "3c6444" and live["B"]["callsign"] == "VIPER1"
    assert world.party("Red").get("/v1/tracks").json()["tracks"] == []  # scoped to the party that reported


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"lat": 91.0}, "reports[1].lat"),
        ({"time": "yesterday"}, "reports[1].time"),
        ({"ground_speed": float("nan")}, "reports[1].ground_speed"),
        ({"altitude_reference": "AGL"}, "reports[1].altitude_reference"),
        ({"icao24": "XYZ"}, "reports[1].icao24"),
        ({"speed": 3.0}, "reports[1].speed"),
    ],
)
def test_a_bad_report_refuses_the_whole_batch_and_says_which(world: World, bad: dict[str, Any], field: str) -> None:
    blue = world.party("Blue")
    body = orjson.dumps([report(world, "A"), {**report(world, "B"), **bad}], option=orjson.OPT_NON_STR_KEYS)
    r = blue.post("/v1/tracks", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == field
    assert blue.get("/v1/tracks").json()["tracks"] == []


def test_ndjson_streams_are_stored_every_thousand_lines(world: World) -> None:
    blue = world.party("Blue")
    lines = [orjson.dumps(report(world, f"T{i}", lat=40 + i / 1000)) for i in range(2_500)]
    r = blue.post("/v1/tracks", content=b"\n".join(lines) + b"\n", headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2_500
    entries = [e for e in _documents(blue) if e["kind"] == "tracks.received"]
    assert [e["data"]["reports"] for e in entries] == [1_000, 1_000, 500]
    broken = blue.post(
        "/v1/tracks", content=b'{"track_id": "X"}\nnot json\n', headers={"Content-Type": "application/x-ndjson"}
    )
    assert broken.status_code == 400 and "line 2" in broken.json()["error"]["message"]


def _parsers(world: World) -> Parsers:
    parsers: Parsers = world.client.app.state.parsers  # type: ignore[attr-defined]
    return parsers


def test_large_batches_are_parsed_in_a_worker_process_and_refused_as_in_the_request(world: World) -> None:
    blue = world.party("Blue")
    batch = [report(world, f"T{i}", lat=40 + i / 1000) for i in range(400)]
    assert len(orjson.dumps(batch)) >= world.hub.settings.track_parse_min_bytes  # large enough for the workers
    bad = [*batch[:321], {**batch[321], "lat": 91.0}, *batch[322:]]
    r = blue.post("/v1/tracks", content=orjson.dumps(bad), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == "reports[321].lat"
    assert "91" in r.json()["error"]["message"]
    assert _parsers(world).pids(), "the batch was not parsed in a worker process"
    assert blue.get("/v1/tracks").json()["tracks"] == []
    ok = blue.post("/v1/tracks", json=batch)
    assert ok.status_code == 200 and ok.json()["accepted"] == 400
    lines = [orjson.dumps(x) for x in batch * 4]
    lines[1_499] = b"{not json"
    streamed = blue.post("/v1/tracks", content=b"\n".join(lines), headers={"Content-Type": "application/x-ndjson"})
    assert streamed.status_code == 400 and "line 1500" in streamed.json()["error"]["message"]


def test_a_killed_parsing_worker_is_replaced_and_no_batch_is_lost(world: World) -> None:
    blue = world.party("Blue")
    batch = [report(world, f"T{i}", lat=40 + i / 1000) for i in range(400)]
    assert blue.post("/v1/tracks", json=batch).json()["accepted"] == 400
    (first,) = _parsers(world).pids()
    os.kill(first, signal.SIGKILL)
    world.clock.advance(seconds=1)
    again = [report(world, f"T{i}", lat=41 + i / 1000) for i in range(400)]
    r = blue.post("/v1/tracks", json=again)
    assert r.status_code == 200 and r.json()["accepted"] == 400
    world.clock.advance(seconds=1)
    third = [report(world, f"T{i}", lat=42 + i / 1000) for i in range(400)]
    assert blue.post("/v1/tracks", json=third).json()["accepted"] == 400
    assert _parsers(world).pids() and first not in _parsers(world).pids()
    live = {t["track_id"]: t["lat"] for t in blue.get("/v1/tracks").json()["tracks"]}
    assert live["T7"] == 42.007


def test_a_restarted_hub_rebuilds_the_live_tracks_from_the_stored_batches(world: World) -> None:
    blue = world.party("Blue")
    blue.post("/v1/tracks", json=[report(world, "A", 1), report(world, "B", 2)])
    blue.post("/v1/tracks", json=[report(world, "A", 0, lat=51.0)])
    again = Hub(SqlStore.sqlite(world.db), world.hub.settings, clock=world.clock)
    assert sorted((s.track_id, s.lat) for s in again.tracks.of_party(blue.id)) == [("A", 51.0), ("B", 50.0)]
    world.clock.advance(seconds=world.hub.settings.track_stale_s + 1)
    later = Hub(SqlStore.sqlite(world.db), world.hub.settings, clock=world.clock)
    assert len(later.tracks) == 0  # silent longer than the staleness limit: gone


def _documents(who: Any) -> list[dict[str, Any]]:
    page = who.get("/v1/audit/entries", params={"limit": 10_000}).json()
    return [orjson.loads(e["document"]) for e in page["entries"] if "document" in e]
