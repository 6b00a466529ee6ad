"""Tactical alerts from predicted encounters: opened, updated when it matters, closed; each side sees its own
track in full and the other only behind a ref; logged in the record; reloaded after a restart."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest

from deconfliction.config import Settings
from deconfliction.core.alerts import Encounter, Side
from deconfliction.core.model import Role
from deconfliction.service import tactical
from deconfliction.service.hub import Hub
from deconfliction.store.sql import SqlStore
from tests.api.conftest import Caller, World
from tests.api.test_line import events
from tests.conftest import box, iso

# Red's name for its track, which other parties must never see. Spaces never occur in an id, an opaque reference or
# a signature, so the name cannot turn up in another party's copy by chance (a short one such as "R1" can).
RED_TRACK = "red track 1"


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    # Passes are run by hand here: the hub's own pass would race them.
    return Settings(db=tmp_path / "hub.db", sweep_interval_s=3600, tactical_pass_s=60)


def encounter(a: Caller, b: Caller, t_los: float = 120.0, d_cpa: float = 3_000.0) -> Encounter:
    side_a = Side(a.id, "VIPER11", 50.0, 5.0, 9_000.0, "BARO", 128.0, 90.0, 0.0)
    side_b = Side(b.id, "RED-7", 50.0, 5.5, 9_100.0, "BARO", 128.0, 270.0, 0.0)
    first, second = sorted((side_a, side_b), key=lambda s: s.key)
    return Encounter(first, second, t_los, t_los + 30, d_cpa, 100.0, 50.0, 5.25)


def apply(world: World, *encounters: Encounter) -> Any:
    return world.hub.execute(lambda tx: tactical.apply_pass(world.hub, tx, list(encounters)))


def mine_loss_at_moved(opened: dict[str, Any], updated: dict[str, Any]) -> bool:
    """The update tells an earlier predicted time of loss of separation, as an absolute time."""
    return bool(updated["loss_at"] < opened["loss_at"])


def alerts_of(who: Caller, type_: str) -> list[dict[str, Any]]:
    return [d for _, t, d in events(who) if t == type_]


def test_an_encounter_opens_one_alert_updates_it_when_it_matters_and_closes_it(world: World) -> None:
    blue, red, green = world.party("Blue"), world.party("Red"), world.party("Green")
    monitor = world.party("UN", role=Role.MONITOR)
    enc = encounter(blue, red)
    assert len(apply(world, enc).opened) == 1
    world.clock.advance(seconds=1)
    assert apply(world, replace(enc, t_los_s=118.0)).updated == []  # 1 s later than predicted: not worth telling
    world.clock.advance(seconds=10)
    assert apply(world, replace(enc, t_los_s=109.0)).updated == []  # a steady countdown is not news
    world.clock.advance(seconds=1)
    assert len(apply(world, replace(enc, t_los_s=80.0, d_cpa_m=1_000.0)).updated) == 1
    world.clock.advance(seconds=1)
    assert len(apply(world).closed) == 1

    mine = alerts_of(blue, "alert.opened")[0]
    assert mine["your_track"]["track_id"] == "VIPER11" and mine["other_party"]["id"] == red.id
    assert mine["other_track"]["ref"].startswith("trk_") and "RED-7" not in orjson.dumps(mine).decode()
    theirs = alerts_of(red, "alert.opened")[0]
    assert theirs["id"] == mine["id"] and "VIPER11" not in orjson.dumps(theirs).decode()
    assert theirs["other_track"]["ref"] != mine["other_track"]["ref"]
    assert [a["time_to_loss_s"] for a in alerts_of(blue, "alert.updated")] == [80.0]
    assert mine_loss_at_moved(alerts_of(blue, "alert.opened")[0], alerts_of(blue, "alert.updated")[0])
    assert alerts_of(red, "alert.closed")[0]["status"] == "closed"
    assert alerts_of(green, "alert.opened") == []
    seen = alerts_of(monitor, "alert.opened")[0]
    assert {p["id"] for p in seen["parties"]} == {blue.id, red.id}
    assert "VIPER11" not in orjson.dumps(seen).decode()
    assert mine["receipt"]["index"] >= 0

    listed = blue.get("/v1/alerts").json()["alerts"]
    assert [a["status"] for a in listed] == ["closed"]
    assert blue.get("/v1/alerts", params={"status": "open"}).json()["alerts"] == []
    assert [a["id"] for a in blue.get("/v1/alerts", params={"status": "closed"}).json()["alerts"]] == [mine["id"]]
    assert blue.get(f"/v1/alerts/{mine['id']}").json()["predicted_min_distance_m"] == 1_000.0
    assert green.get(f"/v1/alerts/{mine['id']}").status_code == 404
    kinds = [
        orjson.loads(e["document"])["kind"] for e in blue.get("/v1/audit/entries").json()["entries"] if "document" in e
    ]
    assert [k for k in kinds if k.startswith("alert.")] == ["alert.opened", "alert.updated", "alert.closed"]


def test_open_alerts_survive_a_restart(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    apply(world, encounter(blue, red))
    again = Hub(SqlStore.sqlite(world.db), world.hub.settings, clock=world.clock)
    assert len(again.alerts) == 1
    assert blue.get("/v1/alerts", params={"status": "open"}).json()["alerts"][0]["status"] == "open"


def test_a_track_heading_into_a_site_alerts_its_party_and_the_sites_owner(world: World) -> None:
    aid, red, green = world.party("Aid"), world.party("Red"), world.party("Green")
    site = aid.post(
        "/v1/sites",
        json={
            "name": "Field hospital",
            "category": "hospital",
            "footprint": box(5.5, 50.0, 0.02),
            "recipients": [red.id],
        },
    )
    assert site.status_code == 201, site.text
    at = iso(world.clock.now)
    track = {
        "track_id": RED_TRACK,
        "time": at,
        "lat": 50.0,
        "lon": 5.2,
        "altitude": 1_000.0,
        "ground_speed": 100.0,
        "track": 90.0,
        "vertical_rate": 0.0,
    }
    assert red.post("/v1/tracks", json=[track, {**track, "track_id": "R2", "track": 270.0}]).status_code == 200
    green.post("/v1/tracks", json=[{**track, "track_id": "G1"}])  # not a recipient: the site is not its concern

    def run() -> Any:
        snap = tactical.snapshot(world.hub, world.clock.now)
        return world.hub.execute(lambda tx: tactical.apply_pass(world.hub, tx, tactical.intrusions(world.hub, snap)))

    changes = run()
    assert len(changes.opened) == 1
    mine = alerts_of(red, "alert.opened")[0]
    assert mine["kind"] == "intrusion" and mine["your_track"]["track_id"] == RED_TRACK
    assert mine["into"] == {
        "type": "site",
        "id": site.json()["site"]["id"],
        "name": "Field hospital",
        "category": "hospital",
    }
    assert 150 < mine["time_to_entry_s"] < 230
    owner = alerts_of(aid, "alert.opened")[0]
    assert owner["your_object"]["id"] == site.json()["site"]["id"] and owner["other_party"]["id"] == red.id
    assert RED_TRACK not in orjson.dumps(owner).decode()
    assert alerts_of(green, "alert.opened") == []
    # Red's track turns away: the alert closes on the next pass.
    world.clock.advance(seconds=2)
    red.post("/v1/tracks", json=[{**track, "time": iso(world.clock.now), "track": 270.0}])
    assert len(run().closed) == 1


def test_two_parties_tracks_head_on_make_one_encounter_alert(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    at = iso(world.clock.now)
    base = {"time": at, "lat": 50.0, "altitude": 9_000.0, "ground_speed": 128.6, "vertical_rate": 0.0}
    blue.post("/v1/tracks", json=[{**base, "track_id": "B1", "lon": 5.0, "track": 90.0}])
    red.post("/v1/tracks", json=[{**base, "track_id": RED_TRACK, "lon": 5.5, "track": 270.0}])
    red.post("/v1/tracks", json=[{**base, "track_id": "R2", "lon": 5.5, "track": 270.0, "altitude": 11_000.0}])
    found = tactical.encounters(world.hub, tactical.snapshot(world.hub, world.clock.now))
    assert [(e.a.track_id, e.b.track_id) for e in found] in ([("B1", RED_TRACK)], [(RED_TRACK, "B1")])
    enc = found[0]
    assert 80 < enc.t_los_s < 120 and enc.d_cpa_m < 100 and enc.dv_cpa_m == 0.0
    assert abs(enc.cpa_lon - 5.25) < 0.01
    world.hub.execute(lambda tx: tactical.apply_pass(world.hub, tx, found))
    mine = alerts_of(blue, "alert.opened")[0]
    assert mine["kind"] == "encounter" and mine["your_track"]["track_id"] == "B1"
    assert RED_TRACK not in orjson.dumps(mine).decode()
