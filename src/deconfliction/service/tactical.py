"""Tactical alerts from live tracks: each pass's predicted encounters become alerts, told to both parties.

A pass (``app._tactical``, every ``tactical_pass_s``) predicts encounters from a snapshot of the live tracks off
the write path (``predict``), then ``apply_pass`` reconciles them with the open alerts in one transaction: each
alert opened, materially changed or closed is stored, logged in the record, and sent as ``alert.opened`` /
``alert.updated`` / ``alert.closed`` to its two parties (each with its own view) and the monitors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from deconfliction.core.alerts import (
    Alert,
    Changes,
    Encounter,
    Predicted,
    Side,
    VolumeEntry,
    alert_common,
    alert_view,
    monitor_view,
    track_ref,
)
from deconfliction.core.disclosure import iso_z_at, opaque_ref
from deconfliction.core.index import NEAR_M, Candidate
from deconfliction.core.intrusion import F64, Mover, dead_reckon, predict_intrusions
from deconfliction.core.model import ObjectRef, ObjectType, Role
from deconfliction.core.tactical import CdParams, Encounters, TrackStates, detect
from deconfliction.core.tracks import TrackColumns, kinematics
from deconfliction.service.hub import KIND_OPERATION, KIND_SITE, Hub, Tx
from deconfliction.store.port import UnitOfWork

OPENED = "alert.opened"
UPDATED = "alert.updated"
CLOSED = "alert.closed"


def _side_record(hub: Hub, s: Side) -> dict[str, Any]:
    return {"party_id": s.party_id, "track_ref": track_ref(hub.secret, "record", s.key), **kinematics(s)}


def _record(hub: Hub, alert: Alert) -> dict[str, Any]:
    """The alert as the record keeps it: what both parties and the monitors may read; tracks behind refs."""
    doc = alert_common(alert, iso_z_at)
    enc = alert.encounter
    if isinstance(enc, Encounter):
        doc["sides"] = [_side_record(hub, s) for s in (enc.a, enc.b)]
    else:
        doc["track"] = _side_record(hub, enc.track)
        ref = ObjectRef(ObjectType(enc.object_type), enc.object_id, enc.owner, enc.volume)
        doc["into"] = {
            "party_id": enc.owner,
            "object_type": enc.object_type,
            "ref": opaque_ref(hub.secret, "record", ref),
        }
    return doc


def _target(hub: Hub, uow: UnitOfWork, enc: VolumeEntry, viewer_id: str) -> dict[str, Any]:
    """The entered volume as the track's party may see it: a site it was notified of by name; another party's
    operation only as an opaque ref (as conflicts show it)."""
    if enc.object_type == ObjectType.SITE:
        site = uow.site(enc.object_id)
        return {
            "type": "site",
            "id": enc.object_id,
            "name": site.name if site else None,
            "category": site.category if site else None,
        }
    ref = ObjectRef(ObjectType.OPERATION, enc.object_id, enc.owner, enc.volume)
    return {"type": "operation", "ref": opaque_ref(hub.secret, viewer_id, ref)}


def view(hub: Hub, uow: UnitOfWork, alert: Alert, viewer_id: str) -> dict[str, Any] | None:
    """The alert as ``viewer_id`` may see it; None when it is neither a party to it nor a monitor."""
    names = {pid: p.name for pid, p in hub.parties.items()}
    if viewer_id in alert.party_ids:
        enc = alert.encounter
        target = None
        if isinstance(enc, VolumeEntry) and viewer_id == enc.track.party_id:
            target = _target(hub, uow, enc, viewer_id)
        return alert_view(alert, viewer_id, hub.secret, iso_z_at, names, target)
    viewer = hub.parties.get(viewer_id)
    if viewer is not None and viewer.role is Role.MONITOR:
        return monitor_view(alert, viewer_id, hub.secret, iso_z_at, names)
    return None


def _publish(hub: Hub, tx: Tx, type_: str, alert: Alert) -> None:
    document, parties = _record(hub, alert), alert.party_ids
    hub.announce(
        tx, type_, alert.id, document, parties, lambda pid: view(hub, tx.uow, alert, pid), receipt=type_ != CLOSED
    )


def apply_pass(hub: Hub, tx: Tx, predicted: list[Predicted]) -> Changes:
    """Reconcile one pass's predictions with the open alerts: store, log and tell every change."""
    changes = hub.alerts.reconcile(predicted, tx.now.timestamp(), lambda: hub.new_id("al", tx.now))
    for type_, alerts, fresh in ((OPENED, changes.opened, True), (UPDATED, changes.updated, False)):
        for alert in alerts:
            tx.uow.save_alert(alert, fresh)
            _publish(hub, tx, type_, alert)
    for alert in changes.closed:
        tx.uow.save_alert(alert, False)
        _publish(hub, tx, CLOSED, alert)
    return changes


# --- Predicting a pass -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every live track dead-reckoned to one instant, as columns; a ``Side`` is made only for the tracks that end
    up in an alert (tens of thousands of tracks make a pass, a handful make alerts)."""

    now_s: float
    tracks: TrackColumns  # as last reported
    lat: F64
    lon: F64
    alt: F64

    @property
    def gs(self) -> F64:
        return self.tracks.gs

    @property
    def trk(self) -> F64:
        return self.tracks.trk

    @property
    def vs(self) -> F64:
        return self.tracks.vs

    @property
    def party(self) -> npt.NDArray[np.int64]:
        return self.tracks.party

    def __len__(self) -> int:
        return len(self.tracks)

    def side(self, k: int) -> Side:
        c = self.tracks
        party_id, track_id = c.keys[k]
        lat, lon, alt = float(self.lat[k]), float(self.lon[k]), float(self.alt[k])
        return Side(party_id, track_id, lat, lon, alt, c.alt_ref[k], float(c.gs[k]), float(c.trk[k]), float(c.vs[k]))


def snapshot(hub: Hub, now: datetime) -> Snapshot:
    """The live tracks at ``now``, each moved on from its last report along its geodesic."""
    now_s = now.timestamp()
    c = hub.tracks.columns()
    dt = np.maximum(0.0, now_s - c.t)
    lat, lon = dead_reckon(c.lat, c.lon, c.trk, c.gs, dt)
    return Snapshot(now_s, c, lat, lon, c.alt_m + c.vs * dt)


def detection(hub: Hub, snap: Snapshot) -> tuple[TrackStates, CdParams] | None:
    """What the pairwise detector (``core.tactical.detect``) is given for this snapshot; None: nothing to pair.
    Plain arrays, so that the hub can run it in another process, off its GIL (``app._tactical``)."""
    if len(snap) < 2:
        return None
    cfg = hub.settings
    states = TrackStates(snap.party, snap.lat, snap.lon, snap.alt, snap.gs, snap.trk, snap.vs)
    params = CdParams(
        cfg.tactical_horizontal_m, cfg.tactical_vertical_m, cfg.tactical_lookahead_s, cfg.tactical_same_party
    )
    return states, params


def encounters(hub: Hub, snap: Snapshot) -> list[Encounter]:
    """Pairs of tracks predicted to lose separation (``core/tactical.py``, BlueSky's state-based model), here."""
    given = detection(hub, snap)
    return [] if given is None else encounters_of(snap, detect(*given))


def encounters_of(snap: Snapshot, found: Encounters) -> list[Encounter]:
    """The detector's pairs as encounters between the snapshot's tracks."""
    out = []
    for r in range(len(found)):
        a, b = snap.side(int(found.i[r])), snap.side(int(found.j[r]))
        if b.key < a.key:
            a, b = b, a
        lat_i, lon_i, lat_j, lon_j = (float(x[r]) for x in (found.lat_i, found.lon_i, found.lat_j, found.lon_j))
        mid_lon = (lon_i + ((lon_j - lon_i + 180.0) % 360.0 - 180.0) / 2 + 180.0) % 360.0 - 180.0
        out.append(
            Encounter(
                a,
                b,
                t_los_s=max(0.0, float(found.tlos[r])),
                t_cpa_s=max(0.0, float(found.tcpa[r])),
                d_cpa_m=float(found.dcpa[r]),
                dv_cpa_m=abs(float(found.alt_i[r]) - float(found.alt_j[r])),
                cpa_lat=(lat_i + lat_j) / 2,
                cpa_lon=mid_lon,
            )
        )
    return out


def intrusions(hub: Hub, snap: Snapshot) -> list[VolumeEntry]:
    """Entries into protected sites and other parties' volumes. It reads the strategic index, which only the
    writer may touch: call it in a Tx. The index's ``near`` sieve keeps the work to the tracks within reach."""
    if not len(snap) or not len(hub.index):
        return []
    lookahead = hub.settings.tactical_lookahead_s
    reach = snap.gs * lookahead
    rows = np.flatnonzero(hub.index.near(snap.lat, snap.lon) | (reach > NEAR_M)).tolist()
    if not rows:
        return []
    groups = {pid: p.coalition_id for pid, p in hub.parties.items()}
    sides = {k: snap.side(k) for k in rows}
    movers = [
        Mover(k, s.party_id, groups.get(s.party_id), s.lat, s.lon, s.alt_m, s.alt_ref, s.gs, s.trk, s.vs)
        for k, s in sides.items()
    ]

    def eligible(m: Mover, cand: Candidate) -> bool:
        if cand.key[0] == ObjectType.SITE:
            recipients = hub.site_recipients.get(cand.key[1])
            return recipients is None or m.party_id in recipients
        partners = m.group is not None and m.group == groups.get(cand.owner)
        return hub.settings.coalition_conflicts or not partners

    kinds = (KIND_OPERATION, KIND_SITE)
    found = predict_intrusions(hub.index, movers, snap.now_s, lookahead, kinds, eligible)
    return [
        VolumeEntry(sides[f.track], str(f.key[0]), f.key[1], f.key[2], f.owner, f.t_entry_s, f.lat, f.lon)
        for f in found
    ]
