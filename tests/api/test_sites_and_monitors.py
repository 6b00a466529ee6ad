"""Protected sites, monitors and the event log through the API."""

from __future__ import annotations

from datetime import timedelta

import orjson

from deconfliction.core.model import Role
from tests.api.conftest import Caller, World
from tests.api.test_line import endpoint, events
from tests.conftest import box, iso, volume


def test_operation_over_a_hospital_conflicts_for_both(world: World) -> None:
    relief, red = world.party("Relief"), world.party("Red")
    site = relief.post(
        "/v1/sites",
        json={
            "name": "Hospital",
            "category": "hospital",
            "footprint": {"type": "Point", "coordinates": [30, 50]},
            "radius_m": 300,
        },
    )
    assert site.status_code == 201, site.text
    assert site.json()["site"]["valid_to"] > site.json()["site"]["valid_from"]
    r = red.post("/v1/operations", json={"volumes": [volume(box(30.0, 50.0), world.clock.now + timedelta(hours=1))]})
    (c,) = r.json()["conflicts"]
    assert c["kind"] == "operation-site" and c["other_object_type"] == "site"
    assert c["overlap"]["altitude"]["lower"] == 1000.0  # the operation's band, in its own reference
    (theirs,) = relief.get("/v1/conflicts").json()["conflicts"]
    # the site reaches from the surface up, so the overlap's band is the operation's
    assert theirs["your_object"]["type"] == "site" and theirs["overlap"]["altitude"]["upper"] == 3000.0
    assert red.get(f"/v1/sites/{site.json()['site']['id']}").status_code == 200


def test_sites_protect_only_from_their_recipients(world: World) -> None:
    relief, red, blue = world.party("Relief"), world.party("Red"), world.party("Blue")
    body = {"name": "Depot", "category": "aid-warehouse", "footprint": box(30.0, 50.0, 0.01), "recipients": [blue.id]}
    site = relief.post("/v1/sites", json=body).json()["site"]
    vol = volume(box(30.0, 50.0), world.clock.now + timedelta(hours=1))
    assert red.post("/v1/operations", json={"volumes": [vol]}).json()["conflicts"] == []
    vol = volume(box(30.0, 50.0), world.clock.now + timedelta(hours=4))  # clear of Red's operation
    (hit,) = blue.post("/v1/operations", json={"volumes": [vol]}).json()["conflicts"]
    assert hit["other_party"]["name"] == "Relief"
    assert red.get(f"/v1/sites/{site['id']}").status_code == 404
    bad = relief.post("/v1/sites", json={**body, "recipients": ["pty_nope"]})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["unknown_recipients"] == ["pty_nope"]


def test_convoy_route_as_a_corridor(world: World) -> None:
    relief, red = world.party("Relief"), world.party("Red")
    route = {"type": "LineString", "coordinates": [[30.0, 50.0], [30.5, 50.2]]}
    r = relief.post(
        "/v1/sites",
        json={
            "name": "Convoy",
            "category": "convoy-route",
            "footprint": route,
            "radius_m": 1000,
            "valid_to": iso(world.clock.now + timedelta(days=2)),
        },
    )
    assert r.status_code == 201, r.text
    near = red.post("/v1/operations", json={"volumes": [volume(box(30.25, 50.1, 0.01), world.clock.now)]})
    assert len(near.json()["conflicts"]) == 1
    far = red.post("/v1/operations", json={"volumes": [volume(box(30.25, 50.3, 0.01), world.clock.now)]})
    assert far.json()["conflicts"] == []


def test_monitor_reads_every_conflict_but_no_mission(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    monitor = world.party("UN", role=Role.MONITOR)
    start = world.clock.now + timedelta(hours=1)
    red_op = red.post("/v1/operations", json={"volumes": [volume(box(30, 50), start)], "callsign": "HIDDEN"}).json()
    blue.post("/v1/operations", json={"volumes": [volume(box(30, 50), start)]})
    seen = monitor.get("/v1/conflicts").json()["conflicts"]
    assert len(seen) == 1
    assert {p["name"] for p in seen[0]["parties"]} == {"Blue", "Red"}
    assert "your_object" not in seen[0] and "HIDDEN" not in orjson.dumps(seen).decode()
    assert monitor.get(f"/v1/operations/{red_op['operation']['id']}").status_code == 404
    forbidden = monitor.post("/v1/operations", json={"volumes": [volume(box(30, 50), start)]})
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "forbidden"
    assert monitor.post(f"/v1/conflicts/{seen[0]['id']}/acknowledge").status_code == 404
    events = monitor.get("/v1/events", params={"follow": "false"}).text
    assert "event: conflict.opened" in events


def _events(text: str) -> list[tuple[int, str, dict]]:  # type: ignore[type-arg]
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "id" in fields:
            out.append((int(fields["id"]), fields["event"], orjson.loads(fields["data"])))
    return out


def test_event_log_in_order_and_resumable(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    red.post("/v1/operations", json={"volumes": [volume(box(30, 50), start)]})
    blue_op = blue.post("/v1/operations", json={"volumes": [volume(box(30, 50), start)]}).json()
    cid = blue_op["conflicts"][0]["id"]
    blue.post(f"/v1/conflicts/{cid}/acknowledge")
    blue.post(f"/v1/operations/{blue_op['operation']['id']}/cancel")
    log = _events(red.get("/v1/events", params={"follow": "false"}).text)
    assert [(i, t) for i, t, _ in log] == [
        (1, "conflict.opened"),
        (2, "conflict.acknowledged"),
        (3, "conflict.resolved"),
    ]
    assert all(d["id"] == cid and d["other_party"]["name"] == "Blue" for _, _, d in log)
    resumed = _events(red.get("/v1/events", params={"follow": "false"}, headers={"Last-Event-ID": "1"}).text)
    assert [i for i, _, _ in resumed] == [2, 3]
    bad = red.get("/v1/events", headers={"Last-Event-ID": "abc"})
    assert bad.status_code == 400


def test_a_site_notified_reaches_its_recipients_as_an_event_and_its_withdrawal_too(world: World) -> None:
    relief, red, blue, un = world.party("Relief"), world.party("Red"), world.party("Blue"), world.party("UN")
    sqn = endpoint(world, blue, "2nd Squadron", subscriptions=["site"])
    body = {"name": "Depot", "category": "aid-warehouse", "footprint": box(30.0, 50.0, 0.01), "recipients": [blue.id]}
    site = relief.post("/v1/sites", json=body).json()["site"]

    def site_events(who: Caller) -> list[tuple[str, str]]:
        return [(t, d["id"]) for _, t, d in events(who) if t.startswith("site.")]

    assert site_events(blue) == [("site.notified", site["id"])] == site_events(relief)
    assert site_events(sqn) == [("site.notified", site["id"])]  # a unit that subscribes to sites gets it
    assert site_events(red) == [] == site_events(un)  # not a recipient: not told
    (told,) = [d for _, t, d in events(blue) if t == "site.notified"]
    assert told["name"] == "Depot" and told["footprint"] == site["footprint"]
    assert relief.post(f"/v1/sites/{site['id']}/withdraw").status_code == 200
    assert site_events(blue) == [("site.notified", site["id"]), ("site.withdrawn", site["id"])]
    everyone = {**body, "name": "Hospital", "category": "hospital", "recipients": None}
    public = relief.post("/v1/sites", json=everyone).json()["site"]
    for who in (red, blue, un, relief):
        assert ("site.notified", public["id"]) in site_events(who)
