"""Live tracks: a party's position reports in, the live track table kept, each batch durable and in the record.

A batch is stored as it was accepted (``track_batches``), so a restarted hub rebuilds the table from the batches
of the last ``track_stale_s`` (``Hub.reload``); older batches are pruned. The record gets one entry per batch — its
counts and the SHA-256 of what was stored — not one per report: a party can prove what it reported, and when,
without the log growing by a million entries a minute.
"""

from __future__ import annotations

import hashlib
from typing import Any

from deconfliction.core.disclosure import iso_z_at
from deconfliction.core.model import Party
from deconfliction.core.tracks import Applied, Reports, TrackState, encode_reports, kinematics
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.operations import require_party_role


def ingest(hub: Hub, tx: Tx, caller: Party, reports: Reports) -> Applied:
    require_party_role(caller, "report tracks")
    now_s = tx.now.timestamp()
    applied = hub.tracks.update(caller.id, reports, now_s, hub.settings.track_stale_s)
    blob = encode_reports(reports)
    tx.uow.insert_track_batch(caller.id, now_s, len(reports), blob)
    data = {
        "party_id": caller.id,
        "reports": len(reports),
        "accepted": applied.accepted,
        "stale": applied.stale,
        "out_of_order": applied.out_of_order,
        "future": applied.future,
        "sha256": hashlib.sha256(blob).hexdigest(),
    }
    tx.uow.record(tx.now, "tracks.received", None, data, [caller.id])
    return applied


def prune(hub: Hub, tx: Tx) -> list[TrackState]:
    """End tracks gone silent and forget batches that can no longer matter."""
    now_s = tx.now.timestamp()
    tx.uow.prune_track_batches(now_s - hub.settings.track_stale_s)
    return hub.tracks.expire(now_s, hub.settings.track_stale_s)


def track_view(s: TrackState) -> dict[str, Any]:
    return {
        "track_id": s.track_id,
        "time": iso_z_at(s.t),
        **kinematics(s),
        "callsign": s.callsign,
        "icao24": s.icao24,
    }
