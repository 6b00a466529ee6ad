"""Declare → detect → notify → acknowledge through the API, with two and three parties."""

from __future__ import annotations

from datetime import timedelta

from deconfliction.api.schemas import ConflictListPublic, ConflictPublic, OperationResultPublic
from tests.api.conftest import World
from tests.conftest import box, volume


def declare(caller, vol, **extra):  # type: ignore[no-untyped-def]
    return caller.post("/v1/operations", json={"volumes": [vol], **extra})


def test_declaring_alone_finds_nothing_and_the_owner_reads_it_in_full(world: World) -> None:
    blue = world.party("Blue")
    start = world.clock.now + timedelta(hours=1)
    r = declare(blue, volume(box(30.0, 50.0), start), description="strike", callsign="VIPER 1", priority=2)
    assert r.status_code == 201, r.text
    body = OperationResultPublic.model_validate(r.json())
    assert body.conflicts == []
    assert body.operation.state == "declared" and body.operation.version == 1
    got = blue.get(f"/v1/operations/{body.operation.id}")
    assert got.status_code == 200
    assert got.json()["callsign"] == "VIPER 1" and got.json()["description"] == "strike"
    assert got.headers["etag"] == '"1"'
    assert [op["id"] for op in blue.get("/v1/operations").json()["operations"]] == [body.operation.id]


def test_listing_own_operations_by_page_and_liveness(world: World) -> None:
    blue = world.party("Blue")
    start = world.clock.now + timedelta(hours=1)
    ids = [declare(blue, volume(box(30.0 + i, 50.0), start)).json()["operation"]["id"] for i in range(5)]
    blue.post(f"/v1/operations/{ids[1]}/cancel")
    first = blue.get("/v1/operations", params={"limit": 2}).json()
    assert [op["id"] for op in first["operations"]] == ids[:2] and first["next_after"] == ids[1]
    rest = blue.get("/v1/operations", params={"limit": 10, "after": first["next_after"]}).json()
    assert [op["id"] for op in rest["operations"]] == ids[2:] and rest["next_after"] is None
    live = blue.get("/v1/operations", params={"live": "true"}).json()["operations"]
    assert [op["id"] for op in live] == [ids[0], *ids[2:]]


def test_overlap_between_two_parties_is_told_to_both_without_mission_details(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    first = declare(red, volume(box(30.0, 50.0), start), description="SECRET-DESC", callsign="SECRET-CS", priority=7)
    assert first.json()["conflicts"] == []
    second = declare(blue, volume(box(30.05, 50.0), start + timedelta(minutes=30)), description="blue plan")
    assert second.status_code == 201
    conflicts = second.json()["conflicts"]
    assert len(conflicts) == 1
    mine = ConflictPublic.model_validate(conflicts[0])
    assert mine.kind == "operation-operation" and mine.status == "open"
    assert mine.other_party == {"id": red.id, "name": "Red"}
    assert mine.your_object == {"type": "operation", "id": second.json()["operation"]["id"], "volume": 0}
    assert mine.overlap.time.start == start + timedelta(minutes=30)
    assert mine.overlap.time.end == start + timedelta(hours=2)
    assert mine.overlap.altitude is not None and mine.overlap.altitude.lower == 1000.0
    # the overlap footprint is the intersection: 0.05° wide, not either box
    lons = [p[0] for p in mine.overlap.footprint["coordinates"][0]]
    assert 29.999 < min(lons) < 30.001 and 30.049 < max(lons) < 30.051

    listed = ConflictListPublic.model_validate(red.get("/v1/conflicts", params={"status": "open"}).json())
    assert [c.id for c in listed.conflicts] == [mine.id]
    theirs = listed.conflicts[0]
    assert theirs.your_object == {"type": "operation", "id": first.json()["operation"]["id"], "volume": 0}
    assert theirs.other_party == {"id": blue.id, "name": "Blue"}
    assert theirs.other_object_ref != mine.other_object_ref
    # Nothing of Red's mission details reaches Blue: not in conflicts, events or the operation read.
    blue_sees = blue.get("/v1/conflicts").text + blue.get("/v1/events", params={"follow": "false"}).text
    for secret in ("SECRET-DESC", "SECRET-CS", first.json()["operation"]["id"]):
        assert secret not in blue_sees
    other = blue.get(f"/v1/operations/{first.json()['operation']['id']}")
    assert other.status_code == 404 and "SECRET" not in other.text
    assert other.json()["error"]["code"] == "not_found"


def test_own_operations_never_conflict(world: World) -> None:
    blue = world.party("Blue")
    start = world.clock.now + timedelta(hours=1)
    assert declare(blue, volume(box(30.0, 50.0), start)).json()["conflicts"] == []
    assert declare(blue, volume(box(30.0, 50.0), start)).json()["conflicts"] == []


def test_coalition_partners_conflict_and_read_each_other(world: World) -> None:
    blue, green = world.party("Blue", coalition="NATO"), world.party("Green", coalition="NATO")
    start = world.clock.now + timedelta(hours=1)
    op = declare(blue, volume(box(30.0, 50.0), start), callsign="B1").json()["operation"]
    assert len(declare(green, volume(box(30.0, 50.0), start)).json()["conflicts"]) == 1
    assert green.get(f"/v1/operations/{op['id']}").json()["callsign"] == "B1"


def test_volumes_apart_in_altitude_or_time_do_not_conflict_but_unlike_references_are_conservative(
    world: World,
) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    declare(red, volume(box(30.0, 50.0), start, lower=1000, upper=3000))
    assert declare(blue, volume(box(30.0, 50.0), start, lower=3000, upper=5000)).json()["conflicts"] == []
    assert declare(blue, volume(box(30.0, 50.0), start + timedelta(hours=2))).json()["conflicts"] == []
    # 3,200 m above ground may be below 3,000 m above sea level (the Dead Sea shore): terrain is unknown, so it
    # conflicts; 3,500 m above ground is above 3,070 m AMSL everywhere on Earth, so it does not.
    clear = declare(blue, volume(box(30.0, 50.0), start, lower=3500, upper=5000, reference="AGL"))
    assert clear.json()["conflicts"] == []
    agl = declare(blue, volume(box(30.0, 50.0), start, lower=3200, upper=5000, reference="AGL"))
    assert len(agl.json()["conflicts"]) == 1


def test_change_needs_if_match_and_a_move_resolves_or_revises(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    declare(red, volume(box(30.0, 50.0), start))
    op = declare(blue, volume(box(30.05, 50.0), start)).json()
    op_id, conflict_id = op["operation"]["id"], op["conflicts"][0]["id"]
    body = {"volumes": [volume(box(30.08, 50.0), start)]}
    r = blue.put(f"/v1/operations/{op_id}", json=body)
    assert r.status_code == 428 and r.json()["error"]["code"] == "precondition_required"
    r = blue.put(f"/v1/operations/{op_id}", json=body, headers={"If-Match": "7"})
    assert r.status_code == 412 and r.json()["error"]["details"]["current_version"] == 1
    assert red.post(f"/v1/conflicts/{conflict_id}/acknowledge").status_code == 200
    # still overlapping but less: same conflict, new revision, Red's acknowledgement no longer counts
    moved = blue.put(f"/v1/operations/{op_id}", json=body, headers={"If-Match": "1"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["operation"]["version"] == 2
    (c,) = moved.json()["conflicts"]
    assert c["id"] == conflict_id and c["revision"] == 2 and c["status"] == "open"
    # moved clear: resolved
    away = {"volumes": [volume(box(31.0, 50.0), start)]}
    clear = blue.put(f"/v1/operations/{op_id}", json=away, headers={"If-Match": "2"})
    assert clear.json()["conflicts"] == []
    seen = red.get(f"/v1/conflicts/{conflict_id}").json()
    assert seen["status"] == "resolved" and seen["resolution"] == "changed"
    # another party cannot change it, and learns nothing
    assert red.put(f"/v1/operations/{op_id}", json=away, headers={"If-Match": "3"}).status_code == 404


def test_cancel_resolves_open_conflicts_and_cannot_be_repeated(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    declare(red, volume(box(30.0, 50.0), start))
    op = declare(blue, volume(box(30.0, 50.0), start)).json()
    r = blue.post(f"/v1/operations/{op['operation']['id']}/cancel")
    assert r.status_code == 200 and r.json()["operation"]["state"] == "cancelled"
    assert red.get("/v1/conflicts", params={"status": "open"}).json()["conflicts"] == []
    (c,) = red.get("/v1/conflicts", params={"status": "resolved"}).json()["conflicts"]
    assert c["resolution"] == "cancelled"
    again = blue.post(f"/v1/operations/{op['operation']['id']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_transition"


def test_acknowledgement_by_each_side_and_only_by_them(world: World) -> None:
    blue, red, grey = world.party("Blue"), world.party("Red"), world.party("Grey")
    start = world.clock.now + timedelta(hours=1)
    declare(red, volume(box(30.0, 50.0), start))
    cid = declare(blue, volume(box(30.0, 50.0), start)).json()["conflicts"][0]["id"]
    assert grey.post(f"/v1/conflicts/{cid}/acknowledge").status_code == 404
    world.clock.advance(minutes=5)
    r = red.post(f"/v1/conflicts/{cid}/acknowledge", json={"note": "copy, will hold north"})
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert r.json()["acknowledgements"][0]["party_id"] == red.id
    assert r.json()["acknowledgements"][0]["note"] == "copy, will hold north"
    assert r.json()["acknowledgements"][0]["at"] == "2026-12-01T08:05:00Z"
    again = red.post(f"/v1/conflicts/{cid}/acknowledge")
    assert len(again.json()["acknowledgements"]) == 1
    assert [c["id"] for c in blue.get("/v1/conflicts", params={"status": "open"}).json()["conflicts"]] == [cid]
    both = blue.post(f"/v1/conflicts/{cid}/acknowledge")
    assert both.json()["status"] == "acknowledged"
    assert blue.get("/v1/conflicts", params={"status": "open"}).json()["conflicts"] == []
    listed = red.get("/v1/conflicts", params={"status": "acknowledged"}).json()["conflicts"]
    assert [c["id"] for c in listed] == [cid]
    assert {a["party_id"] for a in both.json()["acknowledgements"]} == {red.id, blue.id}


def test_a_third_party_is_told_of_its_own_conflicts_only(world: World) -> None:
    a, b, c = world.party("A"), world.party("B"), world.party("C")
    start = world.clock.now + timedelta(hours=1)
    declare(a, volume(box(30.0, 50.0), start))
    declare(b, volume(box(30.0, 50.0), start))
    third = declare(c, volume(box(30.0, 50.0), start)).json()["conflicts"]
    assert sorted(x["other_party"]["name"] for x in third) == ["A", "B"]
    assert len(a.get("/v1/conflicts").json()["conflicts"]) == 2
    assert len(c.get("/v1/conflicts").json()["conflicts"]) == 2


def test_idempotent_declaration(world: World) -> None:
    blue = world.party("Blue")
    body = {"volumes": [volume(box(30.0, 50.0), world.clock.now + timedelta(hours=1))]}
    first = blue.post("/v1/operations", json=body, headers={"Idempotency-Key": "k1"})
    again = blue.post("/v1/operations", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 201 and first.content == again.content
    assert len(blue.get("/v1/operations").json()["operations"]) == 1
    body["volumes"][0]["altitude"]["upper"] = 4000.0
    other = blue.post("/v1/operations", json=body, headers={"Idempotency-Key": "k1"})
    assert other.status_code == 400 and "Idempotency-Key" in other.json()["error"]["message"]


def test_end_and_expiry_end_conflicts(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(minutes=10)
    declare(red, volume(box(30.0, 50.0), start, hours=1))
    op = declare(blue, volume(box(30.0, 50.0), start, hours=3)).json()["operation"]
    world.clock.advance(minutes=20)
    assert blue.get(f"/v1/operations/{op['id']}").json()["state"] == "active"
    world.clock.advance(hours=1)
    from deconfliction.service.conflicts import expire

    assert world.hub.execute(lambda tx: expire(world.hub, tx)) == 1
    (c,) = blue.get("/v1/conflicts").json()["conflicts"]
    assert c["status"] == "resolved" and c["resolution"] == "expired"
    assert blue.post(f"/v1/operations/{op['id']}/end").json()["operation"]["state"] == "ended"
