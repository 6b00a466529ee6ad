"""A dry run of a declaration (``POST /v1/operations/check``): what it would open, stored nowhere, told to nobody,
and seen in the record by each party whose object it met."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deconfliction.api.schemas import ConflictCheckPublic
from deconfliction.core.model import Role
from tests.api.conftest import Caller, World
from tests.api.test_record import documents
from tests.conftest import box, volume


def _state(caller: Caller) -> tuple[Any, ...]:
    return (
        caller.get("/v1/operations").json()["operations"],
        caller.get("/v1/conflicts").json()["conflicts"],
        caller.get("/v1/notices").json(),
        caller.get("/v1/events", params={"follow": "false"}).text,
    )


def test_a_check_shows_what_a_declaration_would_open_and_changes_nothing(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    red.post("/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)], "description": "SECRET-DESC"})
    red_before, blue_before = _state(red), _state(blue)
    plan = {"volumes": [volume(box(30.05, 50.0), start + timedelta(minutes=30))], "callsign": "BLUE 1"}
    r = blue.post("/v1/operations/check", json=plan)
    assert r.status_code == 200, r.text
    found = ConflictCheckPublic.model_validate(r.json()).conflicts
    assert len(found) == 1
    assert found[0].kind == "operation-operation" and found[0].other_party == {"id": red.id, "name": "Red"}
    assert found[0].your_object["type"] == "operation" and found[0].your_object["volume"] == 0
    assert found[0].overlap.time.start == start + timedelta(minutes=30)
    assert "SECRET-DESC" not in r.text and "id" not in r.json()["conflicts"][0]
    # nothing declared, no conflict, no notice, no event: for either side
    assert _state(red) == red_before and _state(blue) == blue_before
    # declaring the same plan opens exactly what the check showed
    declared = blue.post("/v1/operations", json=plan).json()["conflicts"]
    assert [(c["other_object_ref"], c["overlap"]) for c in declared] == [
        (c.other_object_ref, c.overlap.model_dump(mode="json")) for c in found
    ]


def test_the_party_whose_plan_a_check_met_finds_it_in_the_record(world: World) -> None:
    blue, red, green = world.party("Blue"), world.party("Red"), world.party("Green")
    start = world.clock.now + timedelta(hours=1)
    red.post("/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)]})
    blue.post("/v1/operations/check", json={"volumes": [volume(box(30.05, 50.0), start)]})
    blue.post("/v1/operations/check", json={"volumes": [volume(box(40.0, 50.0), start)]})  # meets nothing

    def checks(caller: Caller) -> list[dict[str, Any]]:
        return [d["data"] for d in documents(caller) if d["kind"] == "operation.checked"]

    (seen_by_red,) = checks(red)
    assert seen_by_red["checked_by"] == blue.id and len(seen_by_red["overlaps"]) == 1
    assert checks(blue) == [seen_by_red] and checks(green) == []


def test_a_check_is_validated_like_a_declaration(world: World) -> None:
    blue = world.party("Blue")
    past = world.clock.now - timedelta(hours=5)
    r = blue.post("/v1/operations/check", json={"volumes": [volume(box(30.0, 50.0), past)]})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_volume"
    assert "past" in r.json()["error"]["message"]
    r = blue.post("/v1/operations/check", json={"volumes": []})
    assert r.status_code == 422
    monitor = world.party("UN", role=Role.MONITOR)
    r = monitor.post("/v1/operations/check", json={"volumes": [volume(box(30.0, 50.0), world.clock.now)]})
    assert r.status_code == 403
