"""Webhook push and line health through the API, on the hub's fake clock: signed in-order pushes to a real
loopback receiver, backoff then dead-letter then recovery, line tests, down endpoints told to channel partners."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from deconfliction.config import Settings
from deconfliction.service import admin, endpoints, line_health
from tests.api.conftest import Caller, World
from tests.api.test_line import endpoint, events
from tests.webhook_receiver import receiver


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(
        db=tmp_path / "hub.db",
        sweep_interval_s=3600,
        deadline_check_s=0.02,  # the background passes (deadlines, line tests, pushes) look at the fake clock often
        webhook_max_attempts=3,
        webhook_base_s=10,
        webhook_cap_s=40,
        webhook_dead_probe_s=600,
        line_test_interval_s=300,
        line_test_answer_s=60,
        line_test_missed_down=3,
    )


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until the hub's background work made ``condition`` true (returns its value)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)  # polling for the hub's background passes, not sleeping to pass
    return value


def message(sender: Caller, to: Caller, body: str, priority: str = "routine") -> str:
    r = sender.post("/v1/messages", json={"to": [to.id], "priority": priority, "body": body})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def webhook(owner: Caller, endpoint_id: str) -> dict[str, Any]:
    return dict(owner.get(f"/v1/endpoints/{endpoint_id}").json()["webhook"])


def test_webhook_pushes_each_event_once_in_order_signed_and_records_delivery(world: World) -> None:
    red, blue = world.party("Red"), world.party("Blue")
    with receiver(clock=lambda: world.clock().timestamp()) as rx:
        r = red.post("/v1/endpoints", json={"name": "Hook", "webhook_url": rx.url, "subscriptions": ["message"]})
        assert r.status_code == 201, r.text
        rx.use_secret(r.json()["webhook_secret"])
        hook = r.json()["id"]
        sent = [message(blue, red, f"m{i}", p) for i, p in enumerate(("routine", "flash", "priority"))]
        rx.wait_until(lambda x: len(x.of_type("message.")) == 3)
        assert [e["data"]["id"] for e in rx.of_type("message.")] == sent
        seqs = [e["id"] for e in rx.events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert all(e["endpoint"] == hook for e in rx.events)
        assert rx.unsigned == 0 and len(rx.attempts) == len(rx.events)  # nothing failed, nothing repeated
        assert [e["event"] for e in rx.events if not e["event"].startswith("message.")] == ["line.test"]
        state = wait_for(lambda: (w := webhook(red, hook))["backlog"] == 0 and w)
        assert state["state"] == "ok" and state["attempts"] == 0 and state["last_status"] == 204
        for mid in sent:
            (recipient,) = blue.get(f"/v1/messages/{mid}").json()["recipients"]
            assert [e["state"] for e in recipient["endpoints"]] == ["delivered"]


def test_failing_webhook_backs_off_goes_dead_letter_and_recovers_in_order(world: World) -> None:
    red, blue = world.party("Red"), world.party("Blue")
    with receiver(clock=lambda: world.clock().timestamp()) as rx:
        rx.fail_next = 1_000
        r = red.post("/v1/endpoints", json={"name": "Hook", "webhook_url": rx.url})
        rx.use_secret(r.json()["webhook_secret"])
        hook = r.json()["id"]
        first = message(blue, red, "held 1")
        rx.wait_until(lambda x: len(x.attempts) == 1)
        state = wait_for(lambda: (w := webhook(red, hook))["attempts"] == 1 and w)
        assert state["state"] == "retrying" and state["last_status"] == 500 and state["last_error"] == "HTTP 500"
        delay = _ts(state["next_attempt_at"]) - world.clock().timestamp()
        assert 5 <= delay <= 10  # base 10 s: the first retry waits between base/2 and base
        assert len(rx.attempts) == 1  # the clock has not moved: no retry yet
        world.clock.advance(seconds=10)
        rx.wait_until(lambda x: len(x.attempts) == 2)
        world.clock.advance(seconds=20)
        rx.wait_until(lambda x: len(x.attempts) == 3)
        state = wait_for(lambda: (w := webhook(red, hook))["state"] == "dead_letter" and w)
        assert state["attempts"] == 3 and _ts(state["next_attempt_at"]) - world.clock().timestamp() == 600
        assert len(set(rx.attempts)) == 1  # every retry was the same event, with the same id
        dead = [e for e in events(red) if e[1] == "line.webhook_dead"]
        assert len(dead) == 1 and dead[0][2]["endpoint"] == "Hook"
        second = message(blue, red, "held 2")
        rx.fail_next = 0
        assert red.post(f"/v1/endpoints/{hook}/webhook/retry").status_code == 202
        rx.wait_until(lambda x: len(x.of_type("message.")) == 2)
        assert [e["data"]["id"] for e in rx.of_type("message.")] == [first, second]
        seqs = [e["id"] for e in rx.events]
        assert seqs == sorted(seqs) and rx.unsigned == 0
        assert len(rx.events) == len(set(rx.attempts))  # each event processed once, however often it was sent
        state = wait_for(lambda: (w := webhook(red, hook))["state"] == "ok" and w["backlog"] == 0 and w)
        assert state["dead_since"] is None and state["attempts"] == 0
        assert [e[1] for e in events(red) if e[1].startswith("line.webhook")][-1] == "line.webhook_recovered"
    missing = red.post("/v1/endpoints/ep_nope/webhook/retry")
    assert missing.status_code == 404
    plain = endpoint(world, red, "Desk")
    assert red.post(f"/v1/endpoints/{plain.id}/webhook/retry").status_code == 400


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _line_tests(ep: Caller) -> list[dict[str, Any]]:
    return [data for _, type_, data in events(ep) if type_ == "line.test"]


def test_line_tests_mark_a_silent_endpoint_down_and_tell_channel_partners(world: World) -> None:
    red, blue, green = world.party("Red"), world.party("Blue"), world.party("Green")
    with world.hub.store.write() as uow:
        admin.create_channel(uow, "Hotline", [red.id, blue.id], world.clock())
    ops = endpoint(world, red, "Ops", subscriptions=["message"])  # line tests reach it all the same
    sqn = endpoint(world, red, "Sqn")  # never answers
    (test,) = wait_for(lambda: _line_tests(ops))
    wait_for(lambda: _line_tests(sqn))
    world.clock.advance(seconds=2)
    answered = ops.post(f"/v1/line-tests/{test['test_id']}/answer")
    assert answered.status_code == 200, answered.text
    assert answered.json()["rtt_ms"] == 2000 and answered.json()["state"] == "up"
    assert ops.post(f"/v1/line-tests/{test['test_id']}/answer").status_code == 200  # again: harmless
    (sqn_test,) = _line_tests(sqn)
    assert ops.post(f"/v1/line-tests/{sqn_test['test_id']}/answer").status_code == 400  # another unit's test
    assert red.post(f"/v1/line-tests/{sqn_test['test_id']}/answer").status_code == 400  # the party is not the unit
    assert blue.post(f"/v1/line-tests/{sqn_test['test_id']}/answer").status_code == 404

    own = {e["endpoint"]: e for e in red.get(f"/v1/parties/{red.id}/line").json()["endpoints"]}
    assert own["Ops"]["state"] == "up" and own["Ops"]["rtt_ms"] == 2000
    assert own["Sqn"]["state"] == "degraded" and own["Sqn"]["rtt_ms"] is None

    for round_ in range(3):  # three intervals: Ops answers each test, Sqn none
        world.clock.advance(seconds=300)
        latest = wait_for(lambda n=round_: len(_line_tests(ops)) == n + 2 and _line_tests(ops)[-1])
        assert ops.post(f"/v1/line-tests/{latest['test_id']}/answer").status_code == 200
    world.clock.advance(seconds=61)  # the last window closes
    down = wait_for(lambda: [d for _, t, d in events(blue) if t == "line.down"])
    assert len(down) == 1 and down[0]["party"] == {"id": red.id, "name": "Red"} and down[0]["state"] == "down"
    assert down[0]["endpoint"].startswith("unit_")  # not a coalition partner: no unit names
    assert not [t for _, t, _ in events(green) if t.startswith("line.")]  # no channel with Red: not told
    changes = [(d["endpoint"], d["state"]) for _, t, d in events(red) if t == "line.state"]
    assert changes == [("Sqn", "down")]  # first verdicts (Ops up, Sqn degraded) are not news

    seen_by_blue = blue.get(f"/v1/parties/{red.id}/line").json()
    assert seen_by_blue["state"] == "degraded"
    assert sorted(e["state"] for e in seen_by_blue["endpoints"]) == ["down", "up"]
    assert all(e["endpoint"].startswith("unit_") for e in seen_by_blue["endpoints"])
    assert green.get(f"/v1/parties/{red.id}/line").status_code == 404

    # Blue asks for an immediate test; Sqn answers it: back from down, and Blue is told.
    asked = blue.post(f"/v1/parties/{red.id}/line/test", headers={"Idempotency-Key": "lt-1"})
    assert asked.status_code == 202 and len(asked.json()["tests"]) == 2
    again = blue.post(f"/v1/parties/{red.id}/line/test", headers={"Idempotency-Key": "lt-1"})
    assert again.json() == asked.json()  # a retried request sends no second test
    fresh = wait_for(lambda: [t for t in _line_tests(sqn) if t["requested"]])
    assert sqn.post(f"/v1/line-tests/{fresh[0]['test_id']}/answer").json()["state"] == "degraded"
    assert [d["state"] for _, t, d in events(blue) if t == "line.up"] == ["degraded"]
    assert green.post(f"/v1/parties/{red.id}/line/test").status_code == 404

    stale = _line_tests(sqn)[0]  # its window closed long ago
    late = sqn.post(f"/v1/line-tests/{stale['test_id']}/answer")
    assert late.status_code == 409 and "missed" in late.json()["error"]["message"]


def test_an_endpoint_made_by_the_admin_cli_is_line_tested_without_having_called_in(world: World) -> None:
    red = world.party("Red")
    with world.hub.store.write() as uow:  # what `deconfliction admin create-endpoint` does, from another process
        owner = uow.party(red.id)
        assert owner is not None
        made = endpoints.create(uow, owner, endpoints.EndpointDraft("Convoy 7"), "ep_cli0000000001", world.clock())
    wait_for(lambda: [e for e in red.get(f"/v1/parties/{red.id}/line").json()["endpoints"] if e["last_test_at"]])
    convoy = Caller(made.endpoint.id, "Convoy 7", made.token, world.client)
    assert len(_line_tests(convoy)) == 1


def test_line_tests_decided_long_ago_are_forgotten_and_the_line_state_stands(world: World) -> None:
    red = world.party("Red")
    ops = endpoint(world, red, "Ops")
    (first,) = wait_for(lambda: _line_tests(ops))
    assert ops.post(f"/v1/line-tests/{first['test_id']}/answer").status_code == 200
    world.clock.advance(seconds=line_health.KEEP_DECIDED_S + 3_600)
    latest = wait_for(lambda: len(_line_tests(ops)) == 2 and _line_tests(ops)[-1])  # the next one, sent at once
    assert ops.post(f"/v1/line-tests/{latest['test_id']}/answer").status_code == 200

    assert world.hub.execute(lambda tx: line_health.prune(world.hub, tx)) == 1
    with sqlite3.connect(world.db) as db:
        kept = [test_id for (test_id,) in db.execute("SELECT id FROM line_tests")]
    assert kept == [latest["test_id"]]
    (ops_line,) = red.get(f"/v1/parties/{red.id}/line").json()["endpoints"]
    assert ops_line["state"] == "up"
    assert ops.post(f"/v1/line-tests/{first['test_id']}/answer").status_code == 404  # forgotten, not an error
