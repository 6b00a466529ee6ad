"""Live tracks against a real ``deconfliction serve``: reports over HTTP become alerts on both parties' event
streams on the hub's own pass, survive a ``kill -9``, and close when the track turns away."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import box
from tests.integration.conftest import EventStream, HubProcess, cli

TACTICAL_ENV = {"DECONFLICTION_TACTICAL_PASS_S": "0.2", "DECONFLICTION_EVENT_HEARTBEAT_S": "0.2"}
# Red's name for its track, which Aid must never see. Spaces never occur in an id, an opaque reference or a signature:
# a short name such as "R1" once turned up inside a random opaque reference and failed the check below.
SECRET_TRACK = "red secret track 1"


def _client(hub: HubProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _report(track: str, lon: float, heading: float) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "track_id": track,
        "time": now,
        "lat": 45.0,
        "lon": lon,
        "altitude": 800.0,
        "altitude_reference": "AMSL",
        "ground_speed": 120.0,
        "track": heading,
        "vertical_rate": 0.0,
    }


def test_a_track_heading_into_a_site_alerts_both_parties_and_the_alert_survives_a_kill(
    hub_process: HubProcess,
) -> None:
    aid = cli("admin", "create-party", "Aid", "--db", str(hub_process.db))  # makes the database
    red = cli("admin", "create-party", "Red", "--db", str(hub_process.db))
    hub_process.env = TACTICAL_ENV
    hub_process.start()
    with _client(hub_process, aid["token"]) as a, _client(hub_process, red["token"]) as r:
        site = a.post("/v1/sites", json={"name": "Clinic", "category": "hospital", "footprint": box(20.3, 45.0, 0.02)})
        assert site.status_code == 201, site.text
        red_events = EventStream(hub_process.url, red["token"], "red").connect()
        aid_events = EventStream(hub_process.url, aid["token"], "aid").connect()
        try:
            assert r.post("/v1/tracks", json=[_report(SECRET_TRACK, 20.0, 90.0)]).status_code == 200
            opened = red_events.wait_for("alert.opened", timeout=15)
            assert opened.data["kind"] == "intrusion" and opened.data["into"]["name"] == "Clinic"
            assert opened.data["your_track"]["track_id"] == SECRET_TRACK  # what Aid's copy must not carry
            told = aid_events.wait_for("alert.opened", timeout=15)
            assert told.data["id"] == opened.data["id"] and SECRET_TRACK not in str(told.data)
        finally:
            red_events.close()
            aid_events.close()
    hub_process.kill9()
    hub_process.start()
    with _client(hub_process, red["token"]) as r:
        still = r.get("/v1/alerts", params={"status": "open"}).json()["alerts"]
        assert [x["id"] for x in still] == [opened.data["id"]]
        stream = EventStream(hub_process.url, red["token"], "red").connect()
        try:
            assert r.post("/v1/tracks", json=[_report(SECRET_TRACK, 20.0, 270.0)]).status_code == 200
            closed = stream.wait_for("alert.closed", timeout=15)
            assert closed.data["id"] == opened.data["id"]
        finally:
            stream.close()


def test_two_parties_converging_tracks_are_both_warned(hub_process: HubProcess) -> None:
    blue = cli("admin", "create-party", "Blue", "--db", str(hub_process.db))
    red = cli("admin", "create-party", "Red", "--db", str(hub_process.db))
    hub_process.env = TACTICAL_ENV
    hub_process.start()
    streams = [EventStream(hub_process.url, p["token"], n).connect() for p, n in ((blue, "blue"), (red, "red"))]
    try:
        with _client(hub_process, blue["token"]) as b, _client(hub_process, red["token"]) as r:
            assert b.post("/v1/tracks", json=[{**_report("B1", 20.0, 90.0), "altitude": 9_000.0}]).status_code == 200
            assert r.post("/v1/tracks", json=[{**_report("R1", 20.4, 270.0), "altitude": 9_100.0}]).status_code == 200
        seen = [s.wait_for("alert.opened", timeout=15).data for s in streams]
        assert seen[0]["id"] == seen[1]["id"] and seen[0]["kind"] == "encounter"
        assert seen[0]["your_track"]["track_id"] == "B1" and seen[1]["your_track"]["track_id"] == "R1"
        assert 0 < seen[0]["time_to_loss_s"] < 300
    finally:
        for s in streams:
            s.close()


def _children(pid: int) -> set[int]:
    return {int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_the_worker_processes_run_beside_the_hub_and_end_with_it(hub_process: HubProcess) -> None:
    """The hub's threads keep to one core and its worker processes (the detector's, the report parser's) get every
    core it had; a ``kill -9`` of the hub must not leave them behind."""
    blue = cli("admin", "create-party", "Blue", "--db", str(hub_process.db))
    red = cli("admin", "create-party", "Red", "--db", str(hub_process.db))
    hub_process.env = TACTICAL_ENV
    hub_process.start()
    assert hub_process.proc is not None
    hub_pid = hub_process.proc.pid
    with _client(hub_process, blue["token"]) as b, _client(hub_process, red["token"]) as r:
        assert b.post("/v1/tracks", json=[_report("B1", 20.0, 90.0)]).status_code == 200
        assert r.post("/v1/tracks", json=[_report("R1", 20.4, 270.0)]).status_code == 200
        large = [_report(f"F{i}", 30.0 + i / 1000, 90.0) for i in range(400)]  # parsed in the parsing worker
        assert b.post("/v1/tracks", json=large).json()["accepted"] == 400
    deadline = time.monotonic() + 20
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline:  # the detector's starts on the first pass with pairs
        workers = {c for c in _children(hub_pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()}
        time.sleep(0.05)
    assert len(workers) == 2, f"expected the detector and the parser, found {len(workers)} worker process(es)"
    all_cores = os.sched_getaffinity(0)
    (hub_cores,) = {frozenset(os.sched_getaffinity(int(t))) for t in os.listdir(f"/proc/{hub_pid}/task")}  # one for all
    assert len(hub_cores) == 1 and hub_cores <= all_cores, hub_cores
    while any(os.sched_getaffinity(w) != all_cores for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the detector's worker to finish starting
    assert [os.sched_getaffinity(w) for w in workers] == [all_cores, all_cores]
    hub_process.kill9()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling for the orphan to notice, not sleeping to pass
    assert not any(Path(f"/proc/{w}").exists() for w in workers), "a worker process outlived its hub"
