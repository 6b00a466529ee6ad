"""The line end to end, against real ``deconfliction serve`` processes: parties with two endpoints each, messages of
every priority to every endpoint, per-endpoint delivery records as the sender sees them, an endpoint that connects
only at the end, escalation of missed deadlines on the hub's own clock, and ``kill -9`` in the middle of it all.

Every wait is for an event on a stream or an HTTP condition, with a timeout; nothing sleeps to pass.

Helpers for more tests: the ``line`` fixture (a running hub with the parties of the ``theatre``; ``make_line`` for
other settings), ``Line.units`` / ``Line.register`` (endpoints), ``Line.stream`` (an ``EventStream`` read in a
background thread, with ``wait_for`` / ``wait_until`` / ``wait_count``), ``Line.send``, ``Line.message`` (the sender's
view), ``Line.backlog`` (a whole log, read without following), ``poll`` (an HTTP condition with a deadline), and
``party_wide`` / ``view_of`` / ``wait_view`` (what an endpoint's stream must hold, given its party's log).
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.conftest import box, volume
from tests.integration.conftest import Event, EventStream, HubProcess, cli, cli_many, parse_events
from tests.webhook_receiver import receiver

T = TypeVar("T")

# Deadlines are looked for ten times a second, and streams say something five times a second (so that a reader
# notices quickly that it is told to stop). Default acknowledgement windows stay as documented.
LINE_ENV = {"DECONFLICTION_DEADLINE_CHECK_S": "0.1", "DECONFLICTION_EVENT_HEARTBEAT_S": "0.2"}
PRIORITIES = ("routine", "priority", "immediate", "flash")
DEFAULT_WINDOW_S = {"flash": 120.0, "immediate": 600.0, "priority": 3600.0, "routine": 86_400.0}  # the README
STEPS = ("none", "resent", "duty", "monitors")
DELIVERY_STATES = ("queued", "delivered", "read", "acknowledged")
# Events the hub may address to one endpoint alone: line tests (every endpoint gets its own) and the duty step of an
# escalation (the duty endpoints). A party's token reads them all, without saying whose they are.
ADDRESSED = frozenset({"line.test", "notice.overdue"})


# -- the theatre: parties made with the admin CLI before the hub starts ---


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    token: str


@dataclass(frozen=True)
class Unit:
    """One endpoint of a party, with its own token."""

    id: str
    name: str
    token: str
    party: Party
    duty: bool
    subscriptions: frozenset[str] | None

    def wants(self, event_type: str) -> bool:
        return self.subscriptions is None or event_type.split(".", 1)[0] in self.subscriptions


@dataclass(frozen=True)
class Theatre:
    db: Path  # a template: each test's hub runs on a copy
    parties: dict[str, Party]


@pytest.fixture(scope="module")
def theatre(tmp_path_factory: pytest.TempPathFactory) -> Theatre:
    """Alpha and Bravo are coalition partners (Blue), Charlie is alone, Observer is a monitor."""
    db = tmp_path_factory.mktemp("theatre") / "theatre.db"
    # The first command makes the database and the coalition; the others may then run at once.
    made = [cli("admin", "create-party", "Alpha", "--coalition", "Blue", "--db", str(db))]
    made += cli_many(
        ["admin", "create-party", "Bravo", "--coalition", "Blue", "--db", str(db)],
        ["admin", "create-party", "Charlie", "--db", str(db)],
        ["admin", "create-party", "Observer", "--role", "monitor", "--db", str(db)],
    )
    return Theatre(db, {p["name"]: Party(p["party_id"], p["name"], p["token"]) for p in made})


def copy_db(source: Path, target: Path) -> None:
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


# -- a running hub and its clients ---


def poll(fetch: Callable[[], T], until: Callable[[T], bool], what: str, timeout: float = 10.0) -> T:
    """Fetch until ``until(value)`` holds (an HTTP condition), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s; last seen: {value}")
        time.sleep(0.05)  # polling an HTTP condition, not sleeping to pass


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def recipient(view: dict[str, Any], party: Party) -> dict[str, Any]:
    """One recipient party's status in the sender's view of a message."""
    (found,) = [r for r in view["recipients"] if r["party_id"] == party.id]
    return dict(found)


def increasing(ids: list[int]) -> bool:
    return all(a < b for a, b in zip(ids, ids[1:], strict=False))


def received(events: list[Event], type_: str = "message.received") -> list[str]:
    """The message ids of these events, in order."""
    return [e.data["id"] for e in events if e.type == type_]


def party_wide(events: list[Event]) -> list[Event]:
    """The events that are not (or may not be) addressed to one endpoint alone."""
    return [e for e in events if e.type not in ADDRESSED]


def view_of(unit: Unit, party_log: list[Event]) -> list[Event]:
    """Of its party's log, the party-wide events the endpoint must get: those of the families it subscribes to."""
    return [e for e in party_wide(party_log) if unit.wants(e.type)]


def wait_view(stream: EventStream, unit: Unit, party_log: list[Event], timeout: float = 10.0) -> list[Event]:
    """Wait until the endpoint's stream got its share of ``party_log``; check that it is exactly that share (same
    ids, types and data, in order), and that the whole stream's ids increase. Returns the stream's events."""
    want = view_of(unit, party_log)
    stream.wait_until(lambda evs: len(party_wide(evs)) >= len(want), f"{len(want)} party-wide events", timeout)
    got = stream.events
    assert [(e.id, e.type, e.data) for e in party_wide(got)] == [(e.id, e.type, e.data) for e in want], stream
    assert increasing([e.id for e in got]), stream
    return got


class Line:
    """A running hub with the theatre's parties: endpoints, messages, event streams."""

    def __init__(self, hub: HubProcess, parties: dict[str, Party]) -> None:
        self.hub = hub
        self.parties = parties
        self.streams: list[EventStream] = []
        self._clients: dict[str, httpx.Client] = {}

    def __getitem__(self, name: str) -> Party:
        return self.parties[name]

    def http(self, who: Party | Unit) -> httpx.Client:
        """A client with the party's or endpoint's token (it outlives hub restarts: same port)."""
        client = self._clients.get(who.token)
        if client is None:
            client = httpx.Client(base_url=self.hub.url, headers={"Authorization": f"Bearer {who.token}"}, timeout=30)
            self._clients[who.token] = client
        return client

    def register(self, party: Party, name: str, *, duty: bool = False, subscriptions: set[str] | None = None) -> Unit:
        body: dict[str, Any] = {"name": name, "duty": duty}
        if subscriptions is not None:
            body["subscriptions"] = sorted(subscriptions)
        r = self.http(party).post("/v1/endpoints", json=body)
        assert r.status_code == 201, r.text
        got = r.json()
        assert (got["name"], got["duty"], got["subscriptions"]) == (name, duty, body.get("subscriptions"))
        subs = frozenset(subscriptions) if subscriptions is not None else None
        return Unit(got["id"], name, got["token"], party, duty, subs)

    def units(self, party: Party, sqn_subscriptions: set[str] | None = None) -> tuple[Unit, Unit]:
        """The party's two endpoints: '<party> ops' (its duty endpoint) and '<party> sqn'."""
        ops = self.register(party, f"{party.name} ops", duty=True)
        sqn = self.register(party, f"{party.name} sqn", subscriptions=sqn_subscriptions)
        return ops, sqn

    def stream(self, who: Party | Unit, connect: bool = True) -> EventStream:
        """``who``'s event stream, connected (subscribed by the hub) when this returns, unless ``connect=False``."""
        stream = EventStream(self.hub.url, who.token, name=who.name)
        self.streams.append(stream)
        return stream.connect() if connect else stream

    def send(self, sender: Party | Unit, to: list[Party], priority: str = "routine", **body: Any) -> dict[str, Any]:
        r = self.http(sender).post("/v1/messages", json={"to": [p.id for p in to], "priority": priority, **body})
        assert r.status_code == 201, r.text
        return dict(r.json())

    def message(self, viewer: Party | Unit, message_id: str) -> dict[str, Any]:
        r = self.http(viewer).get(f"/v1/messages/{message_id}")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def backlog(self, who: Party | Unit) -> list[Event]:
        """Everything in ``who``'s stream so far (``follow=false``). With a party's token: its whole log, and no
        delivery is recorded; with an endpoint's token it is that endpoint's stream (and records deliveries)."""
        r = self.http(who).get("/v1/events", params={"follow": "false"})
        assert r.status_code == 200, r.text
        return parse_events(r.text)

    def close(self) -> None:
        for stream in self.streams:
            stream.stop_soon()
        for stream in self.streams:
            stream.close()
        for client in self._clients.values():
            client.close()


@pytest.fixture
def make_line(tmp_path: Path, theatre: Theatre) -> Iterator[Callable[..., Line]]:
    """Start a hub on a copy of the theatre, with ``LINE_ENV`` and these extra ``DECONFLICTION_*`` settings."""
    started: list[Line] = []

    def make(**env: str) -> Line:
        db = tmp_path / f"hub{len(started)}.db"
        copy_db(theatre.db, db)
        hub = HubProcess(db=db, env={**LINE_ENV, **env})
        started.append(Line(hub, theatre.parties))
        hub.start()
        return started[-1]

    yield make
    for the_line in started:
        the_line.close()
        the_line.hub.stop()


@pytest.fixture
def line(make_line: Callable[..., Line]) -> Line:
    return make_line()


@contextmanager
def write_lock(db: Path) -> Iterator[None]:
    """Hold the database's write lock: the hub goes on reading (WAL) and sending events, but cannot commit."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=10)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


# -- 1-3: every priority to every endpoint; delivery records; an endpoint that connects only at the end ---


def test_messages_of_every_priority_reach_every_endpoint_and_the_sender_sees_how_far(line: Line) -> None:
    alpha, bravo, charlie = line["Alpha"], line["Bravo"], line["Charlie"]
    line.units(alpha)
    bravo_ops, bravo_sqn = line.units(bravo)
    # Charlie sqn takes messages only, and stays disconnected until the end of the test.
    charlie_ops, late = line.units(charlie, sqn_subscriptions={"message"})
    live = {unit: line.stream(unit) for unit in (bravo_ops, bravo_sqn, charlie_ops)}
    sender = line.stream(alpha)

    # Something in Charlie's log that is not a message: a conflict with Alpha.
    start = datetime.now(UTC) + timedelta(hours=1)
    for party in (alpha, charlie):
        r = line.http(party).post("/v1/operations", json={"volumes": [volume(box(31.0, 48.0), start)]})
        assert r.status_code == 201, r.text
    assert len(r.json()["conflicts"]) == 1

    line_test = {"template": "line_test", "fields": {"test_id": "LT-7", "sent_at": "2026-12-01T08:00:00Z"}}
    plan: list[tuple[str, list[Party], dict[str, Any]]] = [
        ("routine", [bravo, charlie], {"body": "Convoy on MSR Tampa at 06:00"}),
        ("priority", [bravo, charlie], {"body": "Tanker track moved 20 km north"}),
        ("immediate", [bravo, charlie], line_test),
        ("flash", [bravo, charlie], {"body": "Break right, traffic at your 2 o'clock"}),
        ("flash", [bravo], {"body": "For Bravo only"}),
        ("routine", [charlie], {"body": "For Charlie only"}),
    ]
    sent: list[tuple[dict[str, Any], list[Party]]] = []
    for priority, to, body in plan:
        msg = line.send(alpha, to, priority, **body)
        assert msg["priority"] == priority and msg["ack_within_s"] == DEFAULT_WINDOW_S[priority]
        assert [r["party_id"] for r in msg["recipients"]] == sorted(p.id for p in to)
        for party in to:
            status = recipient(msg, party)
            # Nothing can have reached a stream before the transaction that made the message committed.
            assert (status["state"], status["escalation"]) == ("queued", "none")
            assert [e["state"] for e in status["endpoints"]] == ["queued", "queued"]
            assert ts(status["deadline_at"]) == ts(msg["created_at"]) + timedelta(seconds=DEFAULT_WINDOW_S[priority])
        sent.append((msg, to))
    expected = {p.id: [m["id"] for m, to in sent if p in to] for p in (bravo, charlie)}

    # Each recipient's log holds each of its messages once, in the order they were sent, and nobody else's.
    logs = {p.id: line.backlog(p) for p in (bravo, charlie)}
    for party in (bravo, charlie):
        assert received(logs[party.id]) == expected[party.id]
    assert [e.type for e in party_wide(logs[bravo.id])] == ["message.received"] * len(expected[bravo.id])
    assert [e.type for e in party_wide(logs[charlie.id])][0] == "conflict.opened"

    # Every connected endpoint's stream gets exactly its share of its party's log (all of it: they subscribe to
    # everything), in order, with increasing ids; what is addressed to one endpoint reaches no other.
    for unit, stream in live.items():
        wait_view(stream, unit, logs[unit.party.id])
    assert not {e.id for e in live[bravo_ops].events if e.type in ADDRESSED} & {e.id for e in live[bravo_sqn].events}
    by_id = {e.data["id"]: e.data for e in live[bravo_sqn].of_type("message.received")}
    for msg, _ in sent[:5]:
        got = by_id[msg["id"]]
        assert got["from"] == {"id": alpha.id, "name": "Alpha"} and got["body"] == msg["body"]
        assert (got["priority"], got["escalation"], got["acknowledged_at"]) == (msg["priority"], "none", None)
    assert "LT-7" in by_id[sent[2][0]["id"]]["rendered"]["body"]

    # The sender sees each endpoint's record move to delivered once its stream got it; the late endpoint's stays
    # queued. A coalition partner's endpoints are named; anyone else's are opaque (and stable) references.
    def delivered_to_live(view: dict[str, Any]) -> bool:
        states = {r["party_id"]: sorted(e["state"] for e in r["endpoints"]) for r in view["recipients"]}
        return states.get(bravo.id, []) in ([], ["delivered"] * 2) and states.get(charlie.id, []) in (
            [],
            ["delivered", "queued"],
        )

    refs: dict[str, set[str]] = {}
    for msg, to in sent:
        view = poll(functools.partial(line.message, alpha, msg["id"]), delivered_to_live, f"{msg['id']} delivered")
        assert sorted(r["party_id"] for r in view["recipients"]) == sorted(p.id for p in to)
        if bravo in to:
            rows = recipient(view, bravo)["endpoints"]
            assert sorted(r["endpoint"] for r in rows) == ["Bravo ops", "Bravo sqn"]
            assert recipient(view, bravo)["state"] == "delivered"
        if charlie in to:
            rows = recipient(view, charlie)["endpoints"]
            assert all(r["endpoint"].startswith("unit_") for r in rows)
            assert not {r["endpoint"] for r in rows} & {"Charlie ops", "Charlie sqn", charlie_ops.id, late.id}
            for r in rows:
                refs.setdefault(r["state"], set()).add(r["endpoint"])
        for status in view["recipients"]:
            for r in status["endpoints"]:
                assert (r["read_at"], r["acknowledged_at"]) == (None, None)
                if r["delivered_at"] is not None:
                    assert ts(r["queued_at"]) <= ts(r["delivered_at"])
    assert len(refs["delivered"]) == len(refs["queued"]) == 1 and refs["delivered"] != refs["queued"]
    opaque_late = refs["queued"].pop()

    # read, then acknowledged, per endpoint, with times in order; the sender is told of the acknowledgement.
    flash = sent[3][0]
    r = line.http(bravo_sqn).post(f"/v1/messages/{flash['id']}/read")
    assert r.status_code == 200 and r.json()["acknowledged_at"] is None
    status = recipient(line.message(alpha, flash["id"]), bravo)
    rows = {e["endpoint"]: e for e in status["endpoints"]}
    assert (status["state"], rows["Bravo sqn"]["state"], rows["Bravo ops"]["state"]) == ("read", "read", "delivered")
    r = line.http(bravo_sqn).post(f"/v1/messages/{flash['id']}/acknowledge", json={"note": "wilco"})
    assert r.status_code == 200 and r.json()["acknowledged_at"] is not None
    status = recipient(line.message(alpha, flash["id"]), bravo)
    assert (status["state"], status["note"]) == ("acknowledged", "wilco")
    assert status["acknowledged_at"] == r.json()["acknowledged_at"]
    rows = {e["endpoint"]: e for e in status["endpoints"]}
    assert (rows["Bravo sqn"]["state"], rows["Bravo ops"]["state"]) == ("acknowledged", "delivered")
    times = [ts(rows["Bravo sqn"][f"{s}_at"]) for s in DELIVERY_STATES]
    assert times == sorted(times) and times[2] < times[3]
    ack = sender.wait_for("message.acknowledged", message_id=flash["id"])
    assert (ack.data["party_id"], ack.data["name"], ack.data["note"]) == (bravo.id, "Bravo", "wilco")

    # An endpoint that acknowledges without reading first read it at that moment. Charlie's other endpoint (not
    # connected) stays queued.
    assert line.http(charlie_ops).post(f"/v1/messages/{flash['id']}/acknowledge").status_code == 200
    rows = {e["endpoint"]: e for e in recipient(line.message(alpha, flash["id"]), charlie)["endpoints"]}
    assert rows[opaque_late]["state"] == "queued"
    (acked,) = [e for k, e in rows.items() if k != opaque_late]
    assert acked["state"] == "acknowledged" and acked["read_at"] == acked["acknowledged_at"]
    assert ts(acked["delivered_at"]) <= ts(acked["acknowledged_at"])
    sender.wait_for("message.acknowledged", message_id=flash["id"], party_id=charlie.id)
    assert [e.data["party_id"] for e in sender.of_type("message.acknowledged")] == [bravo.id, charlie.id]

    # 3. The endpoint that was never connected connects now: it gets everything for it, in order, nothing missing:
    # what its sibling got, filtered by its subscriptions (plus what is addressed to it alone, and nothing addressed
    # to its sibling); then its records say delivered.
    (status,) = [e for e in line.http(charlie).get("/v1/endpoints").json() if e["id"] == late.id]
    assert (status["delivered_seq"], status["last_seen_at"]) == (0, None)
    charlie_log = line.backlog(charlie)
    sibling = party_wide(wait_view(live[charlie_ops], charlie_ops, charlie_log))
    late_stream = line.stream(late)
    late_got = wait_view(late_stream, late, charlie_log)
    assert [(e.id, e.type, e.data) for e in party_wide(late_got)] == [
        (e.id, e.type, e.data) for e in sibling if late.wants(e.type)
    ]
    assert len(party_wide(late_got)) < len(sibling)  # its subscriptions left something out (the conflict)
    assert received(late_got) == expected[charlie.id]
    assert not {e.id for e in late_got} & {e.id for e in live[charlie_ops].events if e.type in ADDRESSED}
    assert {e.id for e in late_got} <= {e.id for e in charlie_log}

    def late_delivered(views: list[dict[str, Any]]) -> bool:
        states = [{e["endpoint"]: e["state"] for e in recipient(v, charlie)["endpoints"]} for v in views]
        return all(s[opaque_late] in ("delivered", "acknowledged") for s in states)

    views = poll(
        lambda: [line.message(alpha, m) for m in expected[charlie.id]], late_delivered, "delivered to the late one"
    )
    rows = {e["endpoint"]: e for e in recipient(views[3], charlie)["endpoints"]}  # the flash message
    assert rows[opaque_late]["state"] == "delivered" and rows[opaque_late]["read_at"] is None
    assert ts(rows[opaque_late]["delivered_at"]) > ts(acked["acknowledged_at"])  # only now that it connected


# -- 4: missed deadlines escalate through every step on the hub's own clock; an acknowledgement stops that ---


def test_missed_deadlines_escalate_step_by_step_and_an_acknowledgement_stops_them(line: Line) -> None:
    alpha, bravo, charlie, observer = line["Alpha"], line["Bravo"], line["Charlie"], line["Observer"]
    line.units(alpha)
    bravo_ops, bravo_sqn = line.units(bravo)
    charlie_ops, charlie_sqn = line.units(charlie)
    sender, monitor = line.stream(alpha), line.stream(observer)
    streams = {unit: line.stream(unit) for unit in (bravo_ops, bravo_sqn, charlie_ops, charlie_sqn)}

    for too_short in (0, 0.999):
        r = line.http(alpha).post("/v1/messages", json={"to": [charlie.id], "body": "x", "ack_within_s": too_short})
        assert r.status_code == 400 and "ack_within_s" in r.json()["error"]["message"], r.text

    # Bravo acknowledges its message after the first step; Charlie never acknowledges its own. Bravo's would reach
    # its next step (duty) before Charlie's reaches its last (monitors): windows of 1.4 s and 1 s (the shortest).
    acked = line.send(alpha, [bravo], "flash", body="Hold at the IP", ack_within_s=1.4)
    missed = line.send(alpha, [charlie], "flash", body="Climb to FL300 now", ack_within_s=1)
    assert (acked["ack_within_s"], missed["ack_within_s"]) == (1.4, 1)
    first_deadline = ts(recipient(missed, charlie)["deadline_at"])
    assert first_deadline == ts(missed["created_at"]) + timedelta(seconds=1)

    resent_to_bravo = streams[bravo_sqn].wait_for("message.resent", id=acked["id"])
    assert resent_to_bravo.data["escalation"] == "resent"
    r = line.http(bravo_ops).post(f"/v1/messages/{acked['id']}/acknowledge", json={"note": "holding"})
    assert r.status_code == 200, r.text
    assert r.json()["escalation"] == "resent"
    acked_next = ts(sender.wait_for("notice.escalated", notice_id=acked["id"], step="resent").data["next_deadline_at"])
    assert ts(r.json()["acknowledged_at"]) < acked_next  # acknowledged before its next step was due

    # Charlie's message goes through every step, each on the hub's clock one window after the last.
    escalated: list[Event] = []
    missed_at = first_deadline
    for step in STEPS[1:]:
        event = sender.wait_for("notice.escalated", notice_id=missed["id"], step=step)
        data = event.data
        assert (data["recipient_id"], data["kind"], data["priority"]) == (charlie.id, "message", "flash")
        assert ts(data["missed_deadline_at"]) == missed_at
        assert ts(data["next_deadline_at"]) == missed_at + timedelta(seconds=1)
        assert event.received_at >= missed_at.timestamp()  # never before the deadline passed
        view = line.message(alpha, missed["id"])
        assert STEPS.index(recipient(view, charlie)["escalation"]) >= STEPS.index(step)
        escalated.append(event)
        missed_at = ts(data["next_deadline_at"])
        if step == "resent":
            for unit in (charlie_ops, charlie_sqn):
                resent = streams[unit].wait_for("message.resent", id=missed["id"])
                assert (resent.data["escalation"], resent.data["body"]) == ("resent", "Climb to FL300 now")
                assert resent.id > streams[unit].wait_for("message.received", id=missed["id"]).id
        elif step == "duty":
            overdue = streams[charlie_ops].wait_for("notice.overdue", notice_id=missed["id"])
            assert overdue.data["step"] == "duty" and overdue.data["recipient_id"] == charlie.id
        else:
            told = monitor.wait_for("notice.overdue", notice_id=missed["id"])
            assert (told.data["step"], told.data["recipient_name"]) == ("monitors", "Charlie")
            assert "body" not in told.data  # the monitor learns that it is overdue, not what it says
    assert increasing([e.id for e in escalated])
    steps = [e.data["step"] for e in sender.of_type("notice.escalated") if e.data["notice_id"] == missed["id"]]
    assert steps == ["resent", "duty", "monitors"]
    status = recipient(line.message(alpha, missed["id"]), charlie)
    assert (status["escalation"], status["acknowledged_at"]) == ("monitors", None)
    assert ts(status["deadline_at"]) == missed_at
    inbox = line.http(charlie).get("/v1/notices").json()["notices"]
    assert [(n["id"], n["escalation"]) for n in inbox] == [(missed["id"], "monitors")]

    # Bravo's acknowledgement stopped its escalation: its next deadline had passed when Charlie's last step was taken
    # (the hub takes due steps earliest deadline first), and it went no further than resent.
    assert ts(escalated[-1].data["missed_deadline_at"]) > acked_next
    steps = [e.data["step"] for e in sender.of_type("notice.escalated") if e.data["notice_id"] == acked["id"]]
    assert steps == ["resent"]
    status = recipient(line.message(alpha, acked["id"]), bravo)
    assert (status["state"], status["escalation"], status["note"]) == ("acknowledged", "resent", "holding")
    assert line.http(bravo).get("/v1/notices").json()["notices"] == []
    assert [e.data["notice_id"] for e in monitor.of_type("notice.overdue")] == [missed["id"]]

    # The duty step went to Charlie's duty endpoint alone; the resend to both. Each stream holds its whole share.
    for unit, stream in streams.items():
        backlog = line.backlog(unit)  # the endpoint's own view (its streams were sent all of it already)
        got = stream.wait_count(len(backlog))
        assert [(e.id, e.type) for e in got] == [(e.id, e.type) for e in backlog]
        wait_view(stream, unit, line.backlog(unit.party))
    types = {unit: [e.type for e in stream.events if e.type != "line.test"] for unit, stream in streams.items()}
    assert types[charlie_ops] == ["message.received", "message.resent", "notice.overdue"]
    assert types[charlie_sqn] == types[bravo_ops] == types[bravo_sqn] == ["message.received", "message.resent"]


# -- 5: kill -9 in the middle of delivery loses nothing ---


def test_kill_9_mid_delivery_loses_no_acknowledged_message(line: Line) -> None:
    alpha, bravo, charlie = line["Alpha"], line["Bravo"], line["Charlie"]
    # Bravo ops reads live through the kill; Bravo sqn connects only after the restart.
    bravo_ops, bravo_sqn = line.units(bravo)
    live = line.stream(bravo_ops)

    accepted: dict[str, list[str]] = {alpha.id: [], charlie.id: []}  # message ids that got a 2xx, in order
    in_flight: dict[str, tuple[str, dict[str, Any]]] = {}  # the request each sender had out when the hub died
    refused: list[str] = []

    def burst(sender: Party) -> None:
        with httpx.Client(base_url=line.hub.url, headers={"Authorization": f"Bearer {sender.token}"}) as client:
            for i in range(5000):
                key = f"{sender.name}-{i}"
                body = {"to": [bravo.id], "priority": PRIORITIES[i % 4], "body": f"{sender.name} #{i}"}
                try:
                    r = client.post("/v1/messages", json=body, headers={"Idempotency-Key": key}, timeout=30)
                except httpx.TransportError:
                    in_flight[sender.id] = (key, body)
                    return
                if r.status_code == 201:
                    accepted[sender.id].append(r.json()["id"])
                else:
                    refused.append(f"{r.status_code} {r.text}")
                    return

    threads = [threading.Thread(target=burst, args=(p,)) for p in (alpha, charlie)]
    for thread in threads:
        thread.start()
    live.wait_until(lambda evs: len(received(evs)) >= 30, "30 messages")  # mid-burst: Bravo ops is being delivered to
    line.hub.kill9()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    live.wait_ended()
    assert not refused
    assert set(in_flight) == {alpha.id, charlie.id}  # both bursts were cut short by the kill
    assert all(len(ids) >= 5 for ids in accepted.values()), accepted

    line.hub.start()
    # A retry with the same Idempotency-Key settles what was in flight: committed once, never twice.
    for sender_id, (key, body) in in_flight.items():
        who = alpha if sender_id == alpha.id else charlie
        r = line.http(who).post("/v1/messages", json=body, headers={"Idempotency-Key": key})
        assert r.status_code == 201, r.text
        accepted[sender_id].append(r.json()["id"])
    live.reconnect()  # resumes after the last event it got, with Last-Event-ID
    late = line.stream(bravo_sqn)

    log = line.backlog(bravo)
    logged = received(log)
    assert [e.type for e in party_wide(log)] == ["message.received"] * len(logged)
    assert len(set(logged)) == len(logged)  # no message twice
    for ids in accepted.values():
        assert [m for m in logged if m in set(ids)] == ids  # every 2xx, in the order it was sent
    bodies = [e.data["body"] for e in party_wide(log)]
    assert len(set(bodies)) == len(bodies)  # the in-flight retries did not make a second message
    for unit, stream in ((bravo_ops, live), (bravo_sqn, late)):
        got = wait_view(stream, unit, log)  # every event once, in order, no gaps: across the kill for Bravo ops
        assert received(got) == logged
    assert live.connections == 2 and late.connections == 1

    # The delivery records catch up: every message that got a 2xx shows delivered at both endpoints.
    wanted = set(accepted[alpha.id] + accepted[charlie.id])

    def sent_views() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for who in (alpha, charlie):
            r = line.http(who).get("/v1/messages", params={"limit": 1000})
            assert r.status_code == 200, r.text
            out += [m for m in r.json()["messages"] if m["id"] in wanted]
        return out

    def all_delivered(views: list[dict[str, Any]]) -> bool:
        states = [e["state"] for v in views for e in recipient(v, bravo)["endpoints"]]
        return len(views) == len(wanted) and states == ["delivered"] * (2 * len(wanted))

    views = poll(sent_views, all_delivered, "every accepted message delivered to Bravo ops and Bravo sqn")
    # Alpha (a coalition partner of Bravo) sees Bravo's endpoints by name; Charlie sees opaque references.
    names = {v["from"]["id"]: {r["endpoint"] for r in recipient(v, bravo)["endpoints"]} for v in views}
    assert names[alpha.id] == {"Bravo ops", "Bravo sqn"}
    assert len(names[charlie.id]) == 2 and all(n.startswith("unit_") for n in names[charlie.id])


def test_a_delivery_sent_just_before_a_kill_is_recorded_once_the_endpoint_resumes(line: Line) -> None:
    """The hub writes an event to an endpoint's stream, then records the delivery: kill -9 can land in between.
    The endpoint then resumes with Last-Event-ID past that event; its record must still come to say delivered."""
    alpha, bravo = line["Alpha"], line["Bravo"]
    bravo_ops = line.register(bravo, "Bravo ops", duty=True)
    # Let the hub finish what registering set off (the endpoint's first line test), so that it owes the endpoint
    # nothing new after the restart.
    poll(lambda: line.backlog(bravo), lambda log: "line.test" in {e.type for e in log}, "the first line test")
    msg = line.send(alpha, [bravo], "immediate", body="Corridor 3 closed")
    stream = line.stream(bravo_ops, connect=False)
    with write_lock(line.hub.db):  # the hub can send, but not record that it did, until it is killed
        stream.connect()
        got = stream.wait_for("message.received", id=msg["id"])
        line.hub.kill9()
    stream.wait_ended()
    line.hub.start()
    stream.reconnect()
    assert stream.last_id is not None and stream.last_id >= got.id
    assert max(e.id for e in line.backlog(bravo)) == stream.last_id  # nothing new for it since the restart
    # Bravo ops said, with Last-Event-ID, that it has the message.
    poll(
        lambda: line.message(alpha, msg["id"]),
        lambda v: [e["state"] for e in recipient(v, bravo)["endpoints"]] == ["delivered"],
        "the message recorded as delivered to Bravo ops",
        timeout=3,
    )


# -- 5 (continued): a deadline that passed while the hub was down fires at start-up ---


def test_a_deadline_that_passed_while_the_hub_was_down_fires_at_start_up(line: Line) -> None:
    alpha, charlie, observer = line["Alpha"], line["Charlie"], line["Observer"]
    line.units(alpha)
    charlie_ops, charlie_sqn = line.units(charlie)
    sender = line.stream(alpha)
    msg = line.send(alpha, [charlie], "flash", body="Hold short of the corridor", ack_within_s=1)
    line.hub.kill9()
    killed_at = time.time()
    deadline = ts(recipient(msg, charlie)["deadline_at"])
    assert killed_at < deadline.timestamp()  # killed before the first deadline
    sender.wait_ended()
    assert sender.of_type("notice.escalated") == []

    # The first deadline passes while the hub is down.
    while time.time() <= deadline.timestamp():
        time.sleep(0.02)  # waiting for the deadline to pass without a hub is the scenario, not the assertion

    line.hub.start()
    started_at = time.time()
    sender.reconnect()
    first = sender.wait_for("notice.escalated", notice_id=msg["id"], step="resent")
    assert ts(first.data["missed_deadline_at"]) == deadline
    assert killed_at < deadline.timestamp() < started_at  # it passed while the hub was down, and fired once it was up
    # Then the later steps, one window apart, whether they too were missed while it was down or came after.
    sender.wait_until(lambda evs: [e.type for e in evs].count("notice.escalated") >= 3, "three escalation steps")
    escalated = sender.of_type("notice.escalated")
    assert [(e.data["notice_id"], e.data["step"]) for e in escalated] == [
        (msg["id"], "resent"),
        (msg["id"], "duty"),
        (msg["id"], "monitors"),
    ]
    missed = [ts(e.data["missed_deadline_at"]) for e in escalated]
    assert missed == [deadline + timedelta(seconds=i) for i in range(3)]
    assert increasing([e.id for e in escalated]) and escalated[0] == first

    # The recipient's endpoints, connecting now, find the resend, and the duty endpoint the overdue notice.
    charlie_log = line.backlog(charlie)
    ops_stream, sqn_stream = line.stream(charlie_ops), line.stream(charlie_sqn)
    ops = party_wide(wait_view(ops_stream, charlie_ops, charlie_log))
    sqn = party_wide(wait_view(sqn_stream, charlie_sqn, charlie_log))
    assert [(e.type, e.data["id"]) for e in ops] == [(e.type, e.data["id"]) for e in sqn]
    assert [(e.type, e.data["id"]) for e in sqn] == [("message.received", msg["id"]), ("message.resent", msg["id"])]
    overdue = ops_stream.wait_for("notice.overdue", notice_id=msg["id"])
    assert (overdue.data["step"], overdue.data["next_deadline_at"]) == ("duty", escalated[1].data["next_deadline_at"])
    assert "notice.overdue" not in {e.type for e in line.backlog(charlie_sqn)}  # the duty endpoint's alone
    told = line.stream(observer).wait_for("notice.overdue", notice_id=msg["id"])
    assert (told.data["step"], told.data["recipient_name"]) == ("monitors", "Charlie")
    status = recipient(line.message(alpha, msg["id"]), charlie)
    assert status["escalation"] == "monitors" and status["acknowledged_at"] is None


# -- webhooks: a receiver that fails its first attempts, and a kill -9 in the middle of a push ---


def test_a_failing_webhook_receiver_gets_each_delivery_exactly_once_across_a_kill_9(
    make_line: Callable[..., Line],
) -> None:
    line = make_line(
        DECONFLICTION_WEBHOOK_BASE_S="0.05", DECONFLICTION_WEBHOOK_CAP_S="0.2", DECONFLICTION_WEBHOOK_MAX_ATTEMPTS="50"
    )
    alpha, bravo = line["Alpha"], line["Bravo"]
    with receiver() as rx:
        rx.fail_next = 3  # the first three POSTs get a 500
        r = line.http(bravo).post("/v1/endpoints", json={"name": "Bravo hook", "webhook_url": rx.url})
        assert r.status_code == 201, r.text
        rx.use_secret(r.json()["webhook_secret"])
        hook = r.json()["id"]
        sent = [line.send(alpha, [bravo], "priority", body=f"burst {i}")["id"] for i in range(12)]
        rx.wait_until(lambda x: len(x.of_type("message.")) >= 5, timeout=20)
        line.hub.kill9()  # somewhere in the middle of pushing the burst
        pushed_before_kill = len(rx.of_type("message."))
        line.hub.start()
        sent += [line.send(alpha, [bravo], "flash", body=f"after {i}")["id"] for i in range(3)]
        rx.wait_until(lambda x: len(x.of_type("message.")) == len(sent), timeout=30)
        assert pushed_before_kill < len(sent)
        assert [e["data"]["id"] for e in rx.of_type("message.")] == sent  # each once, in order, across the kill
        assert increasing([e["id"] for e in rx.events]) and all(e["endpoint"] == hook for e in rx.events)
        assert rx.unsigned == 0
        assert len(rx.attempts) >= len(rx.events) + 3  # the failures were retried, with the same event ids
        assert len(set(rx.attempts)) == len(rx.events)
        for mid in sent:
            poll(
                lambda m=mid: line.message(alpha, m),
                lambda v: [e["state"] for e in recipient(v, bravo)["endpoints"]] == ["delivered"],
                f"{mid} recorded as delivered to the webhook",
            )
        state = poll(
            lambda: line.http(bravo).get(f"/v1/endpoints/{hook}").json()["webhook"],
            lambda w: w["backlog"] == 0,
            "the push backlog drained",
        )
        assert state["state"] == "ok" and state["last_status"] == 204


# -- line tests and line health ---


def test_line_tests_find_a_silent_unit_and_tell_the_parties_that_share_a_channel(
    make_line: Callable[..., Line],
) -> None:
    line = make_line(
        DECONFLICTION_LINE_TEST_INTERVAL_S="0.4",
        DECONFLICTION_LINE_TEST_ANSWER_S="0.3",
        DECONFLICTION_LINE_TEST_MISSED_DOWN="2",
    )
    alpha, bravo, charlie = line["Alpha"], line["Bravo"], line["Charlie"]
    proposed = line.http(alpha).post("/v1/channels", json={"name": "Hotline", "members": [charlie.id]})
    assert proposed.status_code == 201, proposed.text
    accepted = line.http(charlie).post(f"/v1/channels/{proposed.json()['id']}/accept")
    assert accepted.json()["state"] == "active"
    charlie_ops, charlie_sqn = line.units(charlie)  # ops answers every line test; sqn never does
    alpha_events, bravo_events = line.stream(alpha), line.stream(bravo)
    ops_stream = line.stream(charlie_ops)
    answered: list[float] = []

    def answer_line_tests() -> None:
        seen: set[str] = set()
        while not ops_stream.ended and len(answered) < 6:
            for e in ops_stream.of_type("line.test"):
                if e.data["test_id"] not in seen:
                    seen.add(e.data["test_id"])
                    done = line.http(charlie_ops).post(f"/v1/line-tests/{e.data['test_id']}/answer")
                    assert done.status_code == 200, done.text
                    answered.append(done.json()["rtt_ms"])
            time.sleep(0.01)  # the unit's own polling of what its stream received

    answerer = threading.Thread(target=answer_line_tests, daemon=True)
    answerer.start()
    down = alpha_events.wait_for("line.down", timeout=20)
    assert down.data["party"] == {"id": charlie.id, "name": "Charlie"} and down.data["endpoint"].startswith("unit_")
    seen_by_alpha = line.http(alpha).get(f"/v1/parties/{charlie.id}/line").json()
    states = sorted((e["state"], e["rtt_ms"] is not None) for e in seen_by_alpha["endpoints"])
    assert states == [("down", False), ("up", True)] and seen_by_alpha["state"] == "degraded"
    assert all(e["endpoint"].startswith("unit_") for e in seen_by_alpha["endpoints"])
    own = {e["endpoint"]: e for e in line.http(charlie).get(f"/v1/parties/{charlie.id}/line").json()["endpoints"]}
    assert own["Charlie sqn"]["state"] == "down" and own["Charlie ops"]["state"] == "up"
    assert line.http(bravo).get(f"/v1/parties/{charlie.id}/line").status_code == 404  # no channel with Charlie
    assert not bravo_events.of_type("line.down")
    assert answered and all(rtt >= 0 for rtt in answered)
    answerer.join(timeout=20)
