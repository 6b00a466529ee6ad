"""The line through the API: endpoints, messages, delivery records, deadlines and escalation, channels."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from deconfliction.api.app import create_app
from deconfliction.api.deps import TokenCache
from deconfliction.config import Settings
from deconfliction.core.model import Role
from deconfliction.service import admin, escalation
from deconfliction.service.hub import Hub
from deconfliction.store.sql import SqlStore
from tests.api.conftest import Caller, World
from tests.conftest import Clock, box, volume


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    # Deadlines are driven by hand in these tests: the background check only runs once, at start-up.
    return Settings(db=tmp_path / "hub.db", sweep_interval_s=3600, deadline_check_s=3600)


def events(who: Caller, **params: Any) -> list[tuple[int, str, dict[str, Any]]]:
    text = who.get("/v1/events", params={"follow": "false", **params}).text
    out = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":"))
        if "event" in fields:
            out.append((int(fields["id"]), fields["event"], orjson.loads(fields["data"])))
    return out


def endpoint(world: World, owner: Caller, name: str, **body: Any) -> Caller:
    r = owner.post("/v1/endpoints", json={"name": name, **body})
    assert r.status_code == 201, r.text
    return Caller(r.json()["id"], name, r.json()["token"], world.client)


def escalate(world: World) -> int:
    return world.hub.execute(lambda tx: escalation.escalate(world.hub, tx))


def test_endpoint_tokens_act_for_their_party(world: World) -> None:
    red = world.party("Red")
    ops = endpoint(world, red, "Ops centre", duty=True)
    assert ops.get("/v1/me").json()["id"] == red.id
    assert ops.get("/v1/me").json()["endpoint"] == {"id": ops.id, "name": "Ops centre"}
    assert red.get("/v1/me").json()["endpoint"] is None
    listed = red.get("/v1/endpoints").json()
    assert [(e["name"], e["duty"]) for e in listed] == [("Ops centre", True)]
    assert "token" not in listed[0]
    assert red.post("/v1/endpoints", json={"name": "Ops centre"}).status_code == 400
    bad = red.post("/v1/endpoints", json={"name": "Sqn", "subscriptions": ["gossip"]})
    assert bad.status_code in (400, 422)
    monitor = world.party("UN", role=Role.MONITOR)
    assert monitor.post("/v1/endpoints", json={"name": "Desk"}).status_code == 403
    assert red.request("DELETE", f"/v1/endpoints/{ops.id}").status_code == 204
    world.client.app.state.tokens = TokenCache()  # type: ignore[attr-defined]  # skip the 2 s the cache keeps it
    assert ops.get("/v1/me").status_code == 401


def test_message_reaches_every_endpoint_and_the_sender_sees_how_far(world: World) -> None:
    red, blue = world.party("Red", coalition="North"), world.party("Blue")
    green = world.party("Green", coalition="North")
    blue_ops, blue_sqn = endpoint(world, blue, "Blue ops"), endpoint(world, blue, "Blue 2 Sqn")
    green_ops = endpoint(world, green, "Green ops")
    body = {"to": [blue.id, green.id], "priority": "immediate", "body": "Tanker at FL250"}
    sent = red.post("/v1/messages", json=body)
    assert sent.status_code == 201, sent.text
    msg = sent.json()
    assert msg["ack_within_s"] == 600
    states = {r["name"]: r for r in msg["recipients"]}
    assert {e["state"] for r in states.values() for e in r["endpoints"]} == {"queued"}
    # a non-partner's units are opaque; a coalition partner's are named
    assert all(e["endpoint"].startswith("unit_") for e in states["Blue"]["endpoints"])
    assert [e["endpoint"] for e in states["Green"]["endpoints"]] == ["Green ops"]

    (got,) = [e for e in events(blue_sqn) if e[1] == "message.received"]
    assert got[2]["body"] == "Tanker at FL250" and got[2]["from"]["name"] == "Red"
    assert blue_sqn.post(f"/v1/messages/{msg['id']}/read").status_code == 200
    view = red.get(f"/v1/messages/{msg['id']}").json()
    blue_eps = sorted(e["state"] for e in {r["name"]: r for r in view["recipients"]}["Blue"]["endpoints"])
    assert blue_eps == ["queued", "read"]  # Blue ops has not connected yet

    ack = blue_ops.post(f"/v1/messages/{msg['id']}/acknowledge", json={"note": "seen"})
    assert ack.status_code == 200 and ack.json()["acknowledged_at"] is not None
    view = red.get(f"/v1/messages/{msg['id']}").json()
    blue_state = {r["name"]: r for r in view["recipients"]}["Blue"]
    assert blue_state["state"] == "acknowledged" and blue_state["note"] == "seen"
    assert sorted(e["state"] for e in blue_state["endpoints"]) == ["acknowledged", "read"]
    acks = [d for _, t, d in events(red) if t == "message.acknowledged"]
    assert [(a["name"], a["note"]) for a in acks] == [("Blue", "seen")]
    # acknowledging twice tells the sender nothing new
    blue.post(f"/v1/messages/{msg['id']}/acknowledge")
    assert len([t for _, t, _ in events(red) if t == "message.acknowledged"]) == 1
    assert green_ops.get(f"/v1/messages/{msg['id']}").json()["acknowledged_at"] is None
    outsider = world.party("Yellow")
    assert outsider.get(f"/v1/messages/{msg['id']}").status_code == 404


def test_templates_render_in_each_recipients_language(world: World) -> None:
    red = world.party("Red")
    with world.hub.store.write() as uow:
        party, token = admin.create_party(uow, "Ural", Role.PARTY, None, world.clock(), language="ru")
    ural = Caller(party.id, party.name, token, world.client)
    body = {
        "to": [ural.id],
        "priority": "priority",
        "template": "line_test",
        "fields": {"test_id": "LT-1", "sent_at": "2026-12-01T08:00:00Z"},
    }
    sent = red.post("/v1/messages", json=body)
    assert sent.status_code == 201, sent.text
    assert sent.json()["rendered"]["lang"] == "en"
    received = ural.get(f"/v1/messages/{sent.json()['id']}").json()
    assert received["rendered"]["lang"] == "ru" and "LT-1" in received["rendered"]["body"]
    assert received["rendered"]["title"] != sent.json()["rendered"]["title"]
    bad = red.post("/v1/messages", json={**body, "fields": {"test_id": "LT-2"}})
    assert bad.status_code == 400 and "sent_at" in bad.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"priority": "flash", "body": "x"}, "exactly one of"),
        ({"to": [], "body": "x"}, "at least one"),
        ({"to": ["SELF"], "body": "x"}, "yourself"),
        ({"to": ["pty_nope"], "body": "x"}, "No party"),
        ({"to": ["OTHER"]}, "template"),
        ({"to": ["OTHER"], "body": "x", "ack_within_s": 0}, "ack_within_s"),
        ({"to": ["OTHER"], "template": "no_such_template", "fields": {}}, "no_such_template"),
    ],
)
def test_bad_messages_say_what_to_fix(world: World, body: dict[str, Any], fragment: str) -> None:
    red, blue = world.party("Red"), world.party("Blue")
    if "to" in body:
        body = {**body, "to": [{"SELF": red.id, "OTHER": blue.id}.get(t, t) for t in body["to"]]}
    r = red.post("/v1/messages", json=body)
    assert r.status_code == 400, r.text
    assert fragment in r.json()["error"]["message"]
    assert red.get("/v1/messages").json()["messages"] == []


def test_missed_deadline_escalates_step_by_step(world: World) -> None:
    red, blue = world.party("Red"), world.party("Blue")
    monitor = world.party("UN", role=Role.MONITOR)
    duty, sqn = endpoint(world, blue, "Blue duty", duty=True), endpoint(world, blue, "Blue sqn")
    msg = red.post("/v1/messages", json={"to": [blue.id], "priority": "flash", "body": "Break right"}).json()
    assert msg["ack_within_s"] == 120
    assert escalate(world) == 0
    world.clock.advance(seconds=119)
    assert escalate(world) == 0
    world.clock.advance(seconds=1)
    assert escalate(world) == 1
    assert [t for _, t, _ in events(sqn)][-1] == "message.resent"
    world.clock.advance(seconds=120)
    assert escalate(world) == 1
    overdue = [d for _, t, d in events(duty) if t == "notice.overdue"]
    assert [(d["notice_id"], d["step"]) for d in overdue] == [(msg["id"], "duty")]
    assert "notice.overdue" not in [t for _, t, _ in events(sqn)]  # addressed to the duty endpoint alone
    world.clock.advance(seconds=120)
    assert escalate(world) == 1
    (to_monitor,) = [d for _, t, d in events(monitor) if t == "notice.overdue"]
    assert to_monitor["recipient_name"] == "Blue" and to_monitor["step"] == "monitors"
    world.clock.advance(days=1)
    assert escalate(world) == 0  # the last step: the record shows it was never acknowledged
    steps = [d["step"] for _, t, d in events(red) if t == "notice.escalated"]
    assert steps == ["resent", "duty", "monitors"]
    inbox = blue.get("/v1/notices").json()["notices"]
    assert [(n["id"], n["escalation"]) for n in inbox] == [(msg["id"], "monitors")]
    blue.post(f"/v1/messages/{msg['id']}/acknowledge")
    assert blue.get("/v1/notices").json()["notices"] == []


def test_acknowledged_in_time_never_escalates(world: World) -> None:
    red, blue = world.party("Red"), world.party("Blue")
    msg = red.post("/v1/messages", json={"to": [blue.id], "body": "Convoy at 10:00", "ack_within_s": 60}).json()
    world.clock.advance(seconds=30)
    blue.post(f"/v1/messages/{msg['id']}/acknowledge")
    world.clock.advance(hours=2)
    assert escalate(world) == 0
    assert "notice.escalated" not in [t for _, t, _ in events(red)]


def test_deadlines_that_passed_while_the_hub_was_down_fire_in_order(settings: Settings, clock: Clock) -> None:
    hub = Hub(SqlStore.sqlite(settings.db), settings, clock=clock)
    with hub.store.write() as uow:
        red, _ = admin.create_party(uow, "Red", Role.PARTY, None, clock())
        blue, _ = admin.create_party(uow, "Blue", Role.PARTY, None, clock())
    from deconfliction.core.line import Priority
    from deconfliction.service import messages

    first = hub.execute(
        lambda tx: messages.send(hub, tx, red, messages.MessageDraft(Priority.FLASH, to=(blue.id,), body="one"))
    )
    clock.advance(seconds=30)
    second = hub.execute(
        lambda tx: messages.send(hub, tx, red, messages.MessageDraft(Priority.FLASH, to=(blue.id,), body="two"))
    )
    hub.stop()
    clock.advance(hours=1)  # the hub is down for an hour
    hub = Hub(SqlStore.sqlite(settings.db), settings, clock=clock)
    assert hub.execute(lambda tx: escalation.escalate(hub, tx)) == 6
    with hub.store.read() as uow:
        log = [(t, orjson.loads(d)) for _, t, d in uow.events_after(red.id, 0, 100)]
    hub.stop()
    steps = [(d["notice_id"], d["step"]) for t, d in log if t == "notice.escalated"]
    assert steps == [
        (first.id, "resent"),
        (second.id, "resent"),
        (first.id, "duty"),
        (second.id, "duty"),
        (first.id, "monitors"),
        (second.id, "monitors"),
    ]


def test_channels_are_proposed_then_accepted(world: World) -> None:
    red, blue, green = world.party("Red"), world.party("Blue"), world.party("Green")
    ch = red.post("/v1/channels", json={"name": "Hotline", "members": [blue.id, green.id]})
    assert ch.status_code == 201 and ch.json()["state"] == "proposed"
    cid = ch.json()["id"]
    early = red.post("/v1/messages", json={"channel": cid, "body": "hello"})
    assert early.status_code == 400 and "accept" in early.json()["error"]["message"]
    assert blue.post(f"/v1/channels/{cid}/accept").json()["state"] == "proposed"
    assert green.post(f"/v1/channels/{cid}/accept").json()["state"] == "active"
    msg = red.post("/v1/messages", json={"channel": cid, "body": "hello"})
    assert msg.status_code == 201 and sorted(msg.json()["to"]) == sorted([blue.id, green.id])
    assert world.party("Yellow").post(f"/v1/channels/{cid}/accept").status_code == 404
    assert [c["name"] for c in green.get("/v1/channels").json()["channels"]] == ["Hotline"]


def test_conflicts_owe_acknowledgement_by_the_operations_priority(world: World) -> None:
    red, blue = world.party("Red"), world.party("Blue")
    ops = endpoint(world, blue, "Blue ops")
    start = world.clock.now + timedelta(hours=1)
    red.post("/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)], "priority": 3})
    r = blue.post("/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)]})
    (conflict,) = r.json()["conflicts"]
    (notice,) = blue.get("/v1/notices").json()["notices"]
    assert notice["id"] == conflict["id"] and notice["kind"] == "conflict" and notice["priority"] == "flash"
    world.clock.advance(seconds=121)
    assert escalate(world) == 2  # both parties missed it
    assert "conflict.reminder" in [t for _, t, _ in events(ops)]
    ops.post(f"/v1/conflicts/{conflict['id']}/acknowledge")
    assert blue.get("/v1/notices").json()["notices"] == []
    assert len(red.get("/v1/notices").json()["notices"]) == 1


def test_priorities_set_deadlines_after_a_change_and_a_restart(settings: Settings, clock: Clock) -> None:
    """The index holds each operation's priority for the deadlines of its conflicts: it must follow a change, and
    come back from the store when the hub restarts."""
    start = clock.now + timedelta(hours=1)
    hub = Hub(SqlStore.sqlite(settings.db), settings, clock=clock)
    with hub.store.write() as uow:
        red, red_token = admin.create_party(uow, "Red", Role.PARTY, None, clock())
        blue, blue_token = admin.create_party(uow, "Blue", Role.PARTY, None, clock())
    with TestClient(create_app(settings, hub)) as client:
        r = Caller(red.id, red.name, red_token, client)
        for lon, priority in ((10.0, 3), (12.0, None), (14.0, 0), (16.0, 1)):
            body: dict[str, Any] = {"volumes": [volume(box(lon, 50.0), start)], "priority": priority}
            made = r.post("/v1/operations", json=body).json()["operation"]
        body = {"volumes": [volume(box(16.0, 50.0), start)], "priority": 3}  # the last one, 1 → 3
        assert r.put(f"/v1/operations/{made['id']}", json=body, headers={"If-Match": "1"}).status_code == 200
    hub = Hub(SqlStore.sqlite(settings.db), settings, clock=clock)  # the index rebuilt from the store
    with TestClient(create_app(settings, hub)) as client:
        b = Caller(blue.id, blue.name, blue_token, client)
        opened = {}
        for lon in (10.0, 12.0, 14.0, 16.0):
            (conflict,) = b.post("/v1/operations", json={"volumes": [volume(box(lon, 50.0), start)]}).json()[
                "conflicts"
            ]
            opened[conflict["id"]] = lon
        owed = {opened[n["id"]]: n["priority"] for n in b.get("/v1/notices").json()["notices"]}
    assert owed == {10.0: "flash", 12.0: "routine", 14.0: "routine", 16.0: "flash"}


def test_webhook_endpoints_get_a_signing_secret_once(world: World) -> None:
    red = world.party("Red")
    r = red.post("/v1/endpoints", json={"name": "Hook", "webhook_url": "https://hooks.example.org/dh"})
    assert r.status_code == 201 and len(r.json()["webhook_secret"]) == 64
    assert "webhook_secret" not in red.get("/v1/endpoints").json()[0]
    bad = red.post("/v1/endpoints", json={"name": "Hook 2", "webhook_url": "ftp://example.org/x"})
    assert bad.status_code == 400 and "http" in bad.json()["error"]["message"]


def test_a_moved_overlap_is_owed_again_by_parties_with_endpoints(world: World) -> None:
    red, blue = world.party("Red"), world.party("Blue")
    endpoint(world, red, "Red ops")
    endpoint(world, blue, "Blue ops")
    start = world.clock.now + timedelta(hours=1)
    mine = red.post("/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)]}).json()["operation"]
    (conflict,) = blue.post("/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)]}).json()["conflicts"]
    red.post(f"/v1/conflicts/{conflict['id']}/acknowledge")
    assert red.get("/v1/notices").json()["notices"] == []
    moved = {"volumes": [volume(box(30.02, 50.0), start)]}
    r = red.put(f"/v1/operations/{mine['id']}", json=moved, headers={"If-Match": str(mine["version"])})
    assert r.status_code == 200, r.text
    assert [n["id"] for n in red.get("/v1/notices").json()["notices"]] == [conflict["id"]]
