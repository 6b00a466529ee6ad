"""Tactical alerts from live tracks: each pass's predicted encounters become alerts, told to both parties.

A pass (``app._tactical``, every ``tactical_pass_s``) predicts encounters from a snapshot of the live tracks off
the write path (``predict``), then ``apply_pass`` reconciles them with the open alerts in one transaction: each
alert opened, materially changed or closed is stored, logged in the record, and sent as ``alert.opened`` /
``alert.updated`` / ``alert.closed`` to its two parties (each with its own view) and the monitors.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from deconfliction.core.alerts import Alert, Changes, Encounter, alert_common, alert_view, monitor_view, track_ref
from deconfliction.core.disclosure import iso_z
from deconfliction.core.model import Role
from deconfliction.service.hub import Hub, Tx

OPENED = "alert.opened"
UPDATED = "alert.updated"
CLOSED = "alert.closed"


def _iso(at_s: float) -> str:
    return iso_z(datetime.fromtimestamp(at_s, UTC))


def _record(hub: Hub, alert: Alert) -> dict[str, Any]:
    """The alert as the record keeps it: what both parties and the monitors may read; tracks behind refs."""
    doc = alert_common(alert, _iso)
    doc["sides"] = [
        {
            "party_id": s.party_id,
            "track_ref": track_ref(hub.secret, "record", s.key),
            "lat": s.lat,
            "lon": s.lon,
            "altitude": s.alt_m,
            "altitude_reference": s.alt_ref,
            "ground_speed": s.gs,
            "track": s.trk,
            "vertical_rate": s.vs,
        }
        for s in (alert.encounter.a, alert.encounter.b)
    ]
    return doc


def view(hub: Hub, alert: Alert, viewer_id: str) -> dict[str, Any] | None:
    """The alert as ``viewer_id`` may see it; None when it is neither a party to it nor a monitor."""
    names = {pid: p.name for pid, p in hub.parties.items()}
    if viewer_id in alert.party_ids:
        return alert_view(alert, viewer_id, hub.secret, _iso, names)
    viewer = hub.parties.get(viewer_id)
    if viewer is not None and viewer.role is Role.MONITOR:
        return monitor_view(alert, viewer_id, hub.secret, _iso, names)
    return None


def _publish(hub: Hub, tx: Tx, type_: str, alert: Alert) -> None:
    readers = {*alert.party_ids, *(m.id for m in hub.monitors())}
    entry = tx.uow.record(tx.now, type_, alert.id, _record(hub, alert), readers)
    receipt = hub.audit.receipt(entry) if type_ != CLOSED else None
    for pid in sorted(readers):
        data = view(hub, alert, pid)
        if data is not None:
            if receipt is not None and pid in alert.party_ids:
                data["receipt"] = receipt
            hub.deliver(tx, pid, type_, data)


def apply_pass(hub: Hub, tx: Tx, encounters: list[Encounter]) -> Changes:
    """Reconcile one pass's encounters with the open alerts: store, log and tell every change."""
    changes = hub.alerts.reconcile(encounters, tx.now.timestamp(), lambda: hub.new_id("al", tx.now))
    for type_, alerts, fresh in ((OPENED, changes.opened, True), (UPDATED, changes.updated, False)):
        for alert in alerts:
            tx.uow.save_alert(alert, fresh)
            _publish(hub, tx, type_, alert)
    for alert in changes.closed:
        tx.uow.save_alert(alert, False)
        _publish(hub, tx, CLOSED, alert)
    return changes
