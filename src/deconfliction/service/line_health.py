"""Line tests and line health: is every unit of every party reachable right now?

The hub sends each endpoint a ``line.test`` event every ``line_test_interval_s`` (and whenever a party asks for an
immediate test of a line it shares); the unit answers ``POST /v1/line-tests/{id}/answer`` with its own token within
``line_test_answer_s``. Each endpoint's state (``core/health.py``) is re-evaluated when a test is answered or its
window closes. Every change (but a first verdict of up or degraded) is a ``line.state`` event to the endpoint's
own party's duty endpoints (the whole party when it has none); a change into or out of
``down`` is also told to every party that shares an active channel with it (``line.down`` / ``line.up``), with the
endpoint named only to coalition partners.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from deconfliction.core.disclosure import endpoint_label, iso_z, iso_z_or_none, same_side
from deconfliction.core.errors import InvalidInput, InvalidTransition, NotFound
from deconfliction.core.health import LineState, LineTest, line_state
from deconfliction.core.line import LINE_TEST, Endpoint
from deconfliction.core.model import Party, Role
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.record import log_about, record_ref
from deconfliction.store.port import UnitOfWork

_EXPIRED_PAGE = 1000
_SEND_PAGE = 500
KEEP_DECIDED_S = 86_400.0  # decided tests stay this long at least (each is in the record for good)


def prune(hub: Hub, tx: Tx) -> int:
    """Forget line tests decided long ago: one per endpoint every ``line_test_interval_s`` would otherwise grow
    without bound (10,000 endpoints: ~2.9 million rows a day). Health needs only the last
    ``line_test_missed_down``; a day (or that many intervals, if longer) is kept."""
    s = hub.settings
    keep = max(KEEP_DECIDED_S, s.line_test_interval_s * (s.line_test_missed_down + 1) + s.line_test_answer_s)
    return tx.uow.prune_line_tests(tx.now - timedelta(seconds=keep))


class LineScheduler:
    """When each endpoint's next scheduled line test is due, kept in memory (rebuilt from the store at start)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.interval = timedelta(seconds=hub.settings.line_test_interval_s)
        with hub.store.read() as uow:
            last = uow.last_scheduled_line_tests()
        self.next_at: dict[str, datetime] = {ep_id: at + self.interval for ep_id, at in last.items()}

    def due(self, uow: UnitOfWork, now: datetime) -> bool:
        """Whether ``tick`` has anything to do (a read, so that idle seconds cost no write)."""
        if any(self._is_due(ep, now) for eps in self.hub.endpoints.values() for ep in eps):
            return True
        return bool(uow.expired_line_tests(now, 1))

    def _is_due(self, ep: Endpoint, now: datetime) -> bool:
        at = self.next_at.get(ep.id)
        return at is None or now >= at

    def tick(self, tx: Tx) -> dict[str, datetime]:
        """Count closed windows as missed (re-evaluating those endpoints), then send the tests that are due.
        Returns when those endpoints are next due: the caller applies it (``scheduled``) once this committed."""
        expired = tx.uow.expired_line_tests(tx.now, _EXPIRED_PAGE)
        tx.uow.mark_line_tests_missed([lt.id for lt in expired])
        for lt in expired:
            data = {"test_id": lt.id, "party_id": lt.party_id, "answer_by": iso_z(lt.answer_by)}
            log_about(tx.uow, tx.now, "line_test.missed", lt.id, data)
        by_id = {ep.id: ep for eps in self.hub.endpoints.values() for ep in eps}
        for endpoint_id in dict.fromkeys(lt.endpoint_id for lt in expired):
            if endpoint_id in by_id:
                evaluate(self.hub, tx, by_id[endpoint_id])
        # At most a page per pass: 10,000 endpoints starting together are tested over 20 passes, not in one
        # transaction that would hold up every other write.
        due = [ep for ep in by_id.values() if self._is_due(ep, tx.now)][:_SEND_PAGE]
        send_tests(self.hub, tx, due, None)
        return {ep.id: tx.now + self.interval for ep in due}

    def scheduled(self, next_at: dict[str, datetime]) -> None:
        self.next_at.update(next_at)


def send_tests(hub: Hub, tx: Tx, endpoints: list[Endpoint], requested_by: str | None) -> list[LineTest]:
    answer_by = tx.now + timedelta(seconds=hub.settings.line_test_answer_s)
    sent = []
    for ep in endpoints:
        lt = LineTest(hub.new_id("lt", tx.now), ep.id, ep.party_id, tx.now, answer_by, requested_by)
        tx.uow.insert_line_test(lt)
        record = {
            "test_id": lt.id,
            "party_id": ep.party_id,
            "endpoint_ref": record_ref(hub.secret, ep.id),
            "sent_at": iso_z(lt.sent_at),
            "answer_by": iso_z(lt.answer_by),
            "requested_by": requested_by,
        }
        tx.uow.record(tx.now, "line_test.sent", lt.id, record, {ep.party_id, *([requested_by] if requested_by else [])})
        data = {
            "test_id": lt.id,
            "sent_at": iso_z(lt.sent_at),
            "answer_by": iso_z(lt.answer_by),
            "requested": requested_by is not None,
            "answer": f"POST /v1/line-tests/{lt.id}/answer with this endpoint's token",
        }
        hub.deliver(tx, ep.party_id, LINE_TEST, data, endpoint_id=ep.id)
        sent.append(lt)
    return sent


def evaluate(hub: Hub, tx: Tx, ep: Endpoint) -> LineState:
    """Work out the endpoint's state from its recent tests; on a change, store it and tell who must know."""
    n = hub.settings.line_test_missed_down
    state, why = line_state(tx.uow.recent_line_tests(ep.id, n + 4), tx.now, n)
    previous, _ = tx.uow.endpoint_line_state(ep.id)
    if state == previous:
        return state
    tx.uow.set_endpoint_line_state(ep.id, state, tx.now)
    own = hub.party(tx.uow, ep.party_id)
    change = {"state": str(state), "previous": str(previous) if previous else None, "since": iso_z(tx.now)}
    told = _line_partners(tx.uow, own.id) if LineState.DOWN in (state, previous) else set()
    record = {"party_id": own.id, "endpoint_ref": record_ref(hub.secret, ep.id), **change, "reason": why}
    tx.uow.record(tx.now, "line.state", ep.id, record, {own.id, *told})
    if previous is None and state is not LineState.DOWN:
        return state  # a first verdict that is not bad news tells nobody anything
    # To the party's duty endpoints (its other units need not hear of every unit's line); with none, the party.
    data = {"party": _party(own), "endpoint": ep.name, **change, "reason": why}
    duty: list[str | None] = [d.id for d in hub.endpoints.get(own.id, ()) if d.duty]
    duty = duty or [None]
    for endpoint_id in duty:
        hub.deliver(tx, own.id, "line.state", data, endpoint_id=endpoint_id)
    if LineState.DOWN in (state, previous):
        type_ = "line.down" if state is LineState.DOWN else "line.up"
        for pid in sorted(told):
            viewer = hub.party(tx.uow, pid)
            data = {"party": _party(own), "endpoint": _endpoint_label(hub, viewer, own, ep), **change}
            hub.deliver(tx, pid, type_, data)
    return state


def answer(hub: Hub, tx: Tx, caller: Party, endpoint: Endpoint | None, test_id: str) -> dict[str, Any]:
    """The unit answers a line test (with its own token: the test checks that unit's line, not its party's)."""
    lt = tx.uow.line_test(test_id)
    if lt is None or lt.party_id != caller.id:
        raise NotFound(f"There is no line test {test_id!r} for you.", {"test_id": test_id})
    if endpoint is None or endpoint.id != lt.endpoint_id:
        raise InvalidInput(
            "Answer a line test with the token of the endpoint it was sent to: it tests that unit's line.",
            {"test_id": test_id},
        )
    tx.uow.touch_endpoint(endpoint.id, tx.now)
    if lt.answered_at is None:
        if tx.now >= lt.answer_by:
            raise InvalidTransition(
                f"This line test's window closed at {iso_z(lt.answer_by)}; it counts as missed. Answer the next one "
                "sooner, or ask for an immediate test.",
                {"test_id": test_id, "answer_by": iso_z(lt.answer_by)},
            )
        tx.uow.answer_line_test(lt.id, tx.now)
        data = {"test_id": lt.id, "party_id": lt.party_id, "answered_at": iso_z(tx.now)}
        log_about(tx.uow, tx.now, "line_test.answered", lt.id, data)
        lt = LineTest(lt.id, lt.endpoint_id, lt.party_id, lt.sent_at, lt.answer_by, lt.requested_by, tx.now)
    state = evaluate(hub, tx, endpoint)
    assert lt.answered_at is not None
    return {"test_id": lt.id, "answered_at": iso_z(lt.answered_at), "rtt_ms": lt.rtt_ms, "state": str(state)}


def request(hub: Hub, tx: Tx, caller: Party, party_id: str) -> dict[str, Any]:
    """An immediate line test of every endpoint of ``party_id`` (the caller's own, or a line it shares)."""
    target = _visible_party(hub, tx.uow, caller, party_id)
    endpoints = hub.endpoints.get(target.id, [])
    if not endpoints:
        raise InvalidTransition(f"{target.name!r} has no endpoints to test.", {"party_id": party_id})
    sent = send_tests(hub, tx, endpoints, caller.id)
    by_id = {ep.id: ep for ep in endpoints}
    tests = [{"test_id": lt.id, "endpoint": _endpoint_label(hub, caller, target, by_id[lt.endpoint_id])} for lt in sent]
    return {"party": _party(target), "sent_at": iso_z(tx.now), "answer_by": iso_z(sent[0].answer_by), "tests": tests}


def line_view(hub: Hub, uow: UnitOfWork, caller: Party, party_id: str, now: datetime) -> dict[str, Any]:
    """``GET /v1/parties/{id}/line``: each endpoint's state, last seen time and last round-trip time."""
    target = _visible_party(hub, uow, caller, party_id)
    n = hub.settings.line_test_missed_down
    rows = []
    for ep in hub.endpoints.get(target.id, []):
        recent = uow.recent_line_tests(ep.id, n + 4)
        state, why = line_state(recent, now, n)
        _, since = uow.endpoint_line_state(ep.id)
        _, seen = uow.endpoint_status(ep.id)
        answered = next((t for t in recent if t.answered_at is not None), None)
        rows.append(
            {
                "endpoint": _endpoint_label(hub, caller, target, ep),
                "state": str(state),
                "reason": why,
                "since": iso_z_or_none(since),
                "last_seen_at": iso_z_or_none(seen),
                "rtt_ms": answered.rtt_ms if answered else None,
                "last_test_at": iso_z(recent[0].sent_at) if recent else None,
                "last_answer_at": iso_z_or_none(answered.answered_at) if answered else None,
            }
        )
    states = {r["state"] for r in rows}
    if not rows or states == {str(LineState.DOWN)}:
        overall = LineState.DOWN
    elif states == {str(LineState.UP)}:
        overall = LineState.UP
    else:
        overall = LineState.DEGRADED
    return {"party": _party(target), "state": str(overall), "checked_at": iso_z(now), "endpoints": rows}


def _party(p: Party) -> dict[str, str]:
    return {"id": p.id, "name": p.name}


def _endpoint_label(hub: Hub, viewer: Party, owner: Party, ep: Endpoint) -> str:
    return endpoint_label(hub.secret, viewer, owner, ep.id, ep.name)


def _line_partners(uow: UnitOfWork, party_id: str) -> set[str]:
    """Parties that share an active channel with ``party_id``."""
    return {m for ch in uow.channels_of(party_id) if ch.active for m in ch.members} - {party_id}


def _visible_party(hub: Hub, uow: UnitOfWork, caller: Party, party_id: str) -> Party:
    """A party whose line the caller may see: its own, a coalition partner's, one it shares an active channel
    with; monitors see every line."""
    target = hub.parties.get(party_id) or uow.party(party_id)
    allowed = target is not None and (
        caller.role is Role.MONITOR or same_side(caller, target) or target.id in _line_partners(uow, caller.id)
    )
    if target is None or not allowed:
        raise NotFound(
            f"You share no line with a party {party_id!r}: you can see your own line, your coalition partners' and "
            "those of parties you share an active channel with.",
            {"party_id": party_id},
        )
    return target
