"""End to end against real ``deconfliction serve`` processes: three parties, a coalition and a monitor; a kill -9
in the middle of a burst of writes; an SSE client that reconnects with Last-Event-ID."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.conftest import box, volume
from tests.integration.conftest import SSE, HubProcess, cli


def _client(hub: HubProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_three_parties_coalition_monitor_kill_and_resume(hub_process: HubProcess) -> None:
    db = str(hub_process.db)
    a = cli("admin", "create-party", "Alpha", "--coalition", "Blue", "--db", db)
    b = cli("admin", "create-party", "Bravo", "--coalition", "Blue", "--db", db)
    c = cli("admin", "create-party", "Charlie", "--db", db)
    m = cli("admin", "create-party", "Observer", "--role", "monitor", "--db", db)
    hub_process.start()
    alpha, bravo, charlie, monitor = clients = [_client(hub_process, p["token"]) for p in (a, b, c, m)]
    try:
        _scenario(hub_process, a, b, c, alpha, bravo, charlie, monitor)
    finally:
        for client in clients:
            client.close()


def _scenario(
    hub_process: HubProcess,
    a: dict[str, Any],
    b: dict[str, Any],
    c: dict[str, Any],
    alpha: httpx.Client,
    bravo: httpx.Client,
    charlie: httpx.Client,
    monitor: httpx.Client,
) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)

    op_a = alpha.post("/v1/operations", json={"volumes": [volume(box(20.0, 45.0), start)], "callsign": "A1"})
    op_b = bravo.post("/v1/operations", json={"volumes": [volume(box(20.02, 45.0), start)]})
    assert op_a.status_code == op_b.status_code == 201
    assert [x["other_party"]["name"] for x in op_b.json()["conflicts"]] == ["Alpha"]  # coalition partners collide
    op_c = charlie.post("/v1/operations", json={"volumes": [volume(box(20.01, 45.0), start)]})
    assert sorted(x["other_party"]["name"] for x in op_c.json()["conflicts"]) == ["Alpha", "Bravo"]
    assert bravo.get(f"/v1/operations/{op_a.json()['operation']['id']}").json()["callsign"] == "A1"
    assert charlie.get(f"/v1/operations/{op_a.json()['operation']['id']}").status_code == 404
    assert len(monitor.get("/v1/conflicts").json()["conflicts"]) == 3

    sse = SSE(hub_process.url, c["token"])
    first = sse.read(2)
    assert [(i, t) for i, t, _ in first] == [(1, "conflict.opened"), (2, "conflict.opened")]

    # A burst of overlapping declarations by Alpha while the hub is killed with -9 part-way through.
    accepted: list[str] = []
    errors: list[str] = []

    def burst() -> None:
        with _client(hub_process, a["token"]) as client:
            for i in range(400):
                try:
                    r = client.post(
                        "/v1/operations",
                        json={"volumes": [volume(box(20.01, 45.0), start)]},
                        headers={"Idempotency-Key": f"burst-{i}"},
                    )
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    accepted.append(r.json()["operation"]["id"])
                else:
                    errors.append(r.text)

    writer = threading.Thread(target=burst)
    writer.start()
    # Kill once Charlie's stream shows the burst is under way: each accepted op opens a conflict with Charlie.
    sse.read(5)
    hub_process.kill9()
    writer.join(timeout=60)
    assert not errors and len(accepted) >= 4

    hub_process.start()
    mine = {op["id"] for op in alpha.get("/v1/operations").json()["operations"]}
    assert set(accepted) <= mine  # every acknowledged write survived the kill
    with_alpha = [
        x
        for x in charlie.get("/v1/conflicts", params={"limit": 1000}).json()["conflicts"]
        if x["other_party"]["name"] == "Alpha"
    ]
    assert len(with_alpha) >= len(accepted) + 1
    for _ in range(3):  # the restarted hub goes on detecting
        after = alpha.post("/v1/operations", json={"volumes": [volume(box(20.01, 45.0), start)]})
        assert len(after.json()["conflicts"]) == 2  # Charlie's and Bravo's operations
    conflicts_c = charlie.get("/v1/conflicts", params={"limit": 1000}).json()["conflicts"]

    # Charlie's stream resumes after the last event it saw: nothing lost, nothing twice, in order.
    rest = sse.read(len(conflicts_c) - len(sse.events))
    ids = [i for i, _, _ in sse.events]
    assert ids == list(range(1, len(ids) + 1))
    assert {d["id"] for _, _, d in sse.events} == {x["id"] for x in conflicts_c}
    assert rest

    # Acknowledgement reaches the other side as an event, live: the stream is open and caught up first.
    conflict = op_c.json()["conflicts"][0]
    other = SSE(hub_process.url, a["token"] if conflict["other_party"]["name"] == "Alpha" else b["token"])
    backlog = httpx.get(
        hub_process.url + "/v1/events",
        params={"follow": "false"},
        headers={"Authorization": f"Bearer {other.token}"},
        timeout=30,
    ).text
    other.last_id = max(int(line[4:]) for line in backlog.splitlines() if line.startswith("id: "))
    ready = threading.Event()
    reader = threading.Thread(target=other.read, kwargs={"count": 1, "on_open": ready.set})
    reader.start()
    assert ready.wait(timeout=20)
    assert charlie.post(f"/v1/conflicts/{conflict['id']}/acknowledge", json={"note": "roger"}).status_code == 200
    reader.join(timeout=30)
    ((_, kind, data),) = other.events
    assert kind == "conflict.acknowledged" and data["id"] == conflict["id"]
    assert data["acknowledgements"][0]["note"] == "roger"
