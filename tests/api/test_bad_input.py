"""Every malformed request gets the documented 4xx shape, and nothing stored changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.api.conftest import World
from tests.conftest import box, iso, volume


def _good(world: World) -> dict[str, Any]:
    return {"volumes": [volume(box(30.0, 50.0), world.clock.now + timedelta(hours=1))]}


def _mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node: Any = body
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    node[keys[-1]] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "status", "code", "words"),
    [
        ("volumes.0.altitude.reference", "QNH", 422, "invalid_volume", "reference"),
        ("volumes.0.altitude.lower", 5000.0, 422, "invalid_volume", "altitude"),
        ("volumes.0.altitude.lower", "high", 422, "invalid_request", "altitude.lower"),
        ("volumes.0.time.start", "yesterday", 422, "invalid_request", "time.start"),
        ("volumes.0.time.start", "2026-12-01T10:00:00", 422, "invalid_request", "timezone"),
        (
            "volumes.0.footprint",
            {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
            422,
            "invalid_volume",
            "self-intersect",
        ),
        (
            "volumes.0.footprint",
            {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [1, 1], [0, 0]]]},
            422,
            "invalid_volume",
            "longitude",
        ),
        ("volumes.0.footprint", {"type": "Point", "coordinates": [0, 0]}, 422, "invalid_volume", "radius_m"),
        ("volumes.0.footprint", {"type": "Blob"}, 422, "invalid_volume", "type"),
        ("volumes.0.extra", 1, 422, "invalid_request", "extra"),
        ("volumes", [], 422, "invalid_request", "volumes"),
    ],
)
def test_bad_volume(world: World, path: str, value: Any, status: int, code: str, words: str) -> None:
    blue = world.party("Blue")
    r = blue.post("/v1/operations", json=_mutate(_good(world), path, value))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code
    assert words.lower() in (err["message"] + str(err["details"])).lower()
    assert blue.get("/v1/operations").json()["operations"] == []


def test_reversed_and_past_time_windows(world: World) -> None:
    blue = world.party("Blue")
    body = _good(world)
    start, end = body["volumes"][0]["time"]["start"], body["volumes"][0]["time"]["end"]
    body["volumes"][0]["time"] = {"start": end, "end": start}
    r = blue.post("/v1/operations", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_volume"
    assert r.json()["error"]["details"]["field"].startswith("volumes[0].")
    body["volumes"][0]["time"] = {
        "start": iso(world.clock.now - timedelta(hours=3)),
        "end": iso(world.clock.now - timedelta(hours=1)),
    }
    r = blue.post("/v1/operations", json=body)
    assert r.status_code == 422 and "past" in r.json()["error"]["message"]


def test_broken_json_and_wrong_shapes(world: World) -> None:
    blue = world.party("Blue")
    r = blue.post("/v1/operations", content=b'{"volumes": [', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"
    r = blue.post("/v1/operations", json=[1, 2])
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    r = blue.post("/v1/operations", json={"volumes": [_good(world)["volumes"][0]], "priority": "high"})
    assert r.status_code == 422 and r.json()["error"]["details"]["problems"][0]["field"] == "priority"


def test_tokens(world: World) -> None:
    r = world.client.get("/v1/operations")
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"
    assert r.headers["www-authenticate"] == "Bearer"
    r = world.client.get("/v1/operations", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = world.client.get("/v1/operations", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_unknown_ids_and_routes(world: World) -> None:
    blue = world.party("Blue")
    assert blue.get("/v1/operations/op_nope").json()["error"]["code"] == "not_found"
    assert blue.post("/v1/operations/op_nope/cancel").status_code == 404
    assert blue.post("/v1/conflicts/cf_nope/acknowledge").status_code == 404
    assert blue.get("/v1/nothing").json()["error"]["code"] == "not_found"
    assert blue.request("DELETE", "/v1/operations").status_code == 405
    r = blue.put("/v1/operations/op_nope", json=_good(world), headers={"If-Match": "x"})
    assert r.status_code == 400


def test_openapi_documents_acknowledgement_is_not_approval(world: World) -> None:
    spec = world.client.get("/openapi.json").json()
    ack = spec["paths"]["/v1/conflicts/{conflict_id}/acknowledge"]["post"]["description"]
    assert "never approval" in ack
