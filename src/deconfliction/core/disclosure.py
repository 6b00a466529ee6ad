"""Who may see what: a conflict as one party (or a monitor) sees it.

A party sees its own objects in full; of another party's object it learns only what the conflict discloses: the
other party's identity, an opaque reference to the other object and the overlap itself (intersected footprint,
altitude band in the viewer's own reference, time window). Never the other side's description, callsign,
priority, full volumes or object id. The reference is an HMAC of the object, keyed per viewer, so a party can tell
two conflicts come from the same foreign operation but can neither reverse it nor compare it with another party's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from deconfliction.core.model import Conflict, ObjectRef, Operation, Party, Role, Site
from deconfliction.core.record import Verbatim
from deconfliction.core.volumes import AltitudeBand, Volume4D


@lru_cache(maxsize=8192)
def iso_z(dt: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, to the microsecond when there is one. Memoised: a conflict's few times are
    written into its record entry and every view of it (equal instants give equal text, whatever their zone)."""
    text = dt.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def iso_z_at(epoch_s: float) -> str:
    """A time in seconds since the Unix epoch, as ``iso_z`` writes it."""
    return iso_z(datetime.fromtimestamp(epoch_s, UTC))


def iso_z_or_none(dt: datetime | None) -> str | None:
    return iso_z(dt) if dt is not None else None


def same_side(a: Party, b: Party) -> bool:
    """The same party, or coalition partners: they read each other's operations and unit names."""
    return a.id == b.id or (a.coalition_id is not None and a.coalition_id == b.coalition_id)


def endpoint_label(secret: bytes, viewer: Party, owner: Party, endpoint_id: str, name: str) -> str:
    """An endpoint as ``viewer`` may see it: its name on its own side, an opaque ``unit_…`` ref otherwise."""
    return name if same_side(viewer, owner) else endpoint_ref(secret, viewer.id, endpoint_id)


def opaque_ref(secret: bytes, viewer_id: str, ref: ObjectRef) -> str:
    return _opaque_ref(secret, viewer_id, str(ref.type), ref.id)


@lru_cache(maxsize=8192)
def _opaque_ref(secret: bytes, viewer_id: str, type_: str, object_id: str) -> str:
    """Memoised: the other side's view of a conflict and its record entry name the same object for the same party."""
    digest = hmac.new(secret, f"{viewer_id}\x00{type_}\x00{object_id}".encode(), hashlib.sha256).digest()
    return "ref_" + base64.urlsafe_b64encode(digest[:18]).decode()


def endpoint_ref(secret: bytes, viewer_id: str, endpoint_id: str) -> str:
    """How a party that is not a coalition partner tells another party's endpoints apart without their names."""
    digest = hmac.new(secret, f"{viewer_id}\x00endpoint\x00{endpoint_id}".encode(), hashlib.sha256).digest()
    return "unit_" + base64.urlsafe_b64encode(digest[:12]).decode()


def _band(band: AltitudeBand | None) -> dict[str, Any] | None:
    if band is None:
        return None  # unlimited on both sides: protected from the surface up
    return {"lower": band.lower, "upper": band.upper, "reference": str(band.reference)}


def _acks(conflict: Conflict) -> list[dict[str, Any]]:
    return [
        {"party_id": a.party_id, "at": iso_z(a.at), "note": a.note, "revision": a.revision}
        for a in conflict.acknowledgements
    ]


def conflict_common(conflict: Conflict) -> dict[str, Any]:
    """The fields of a conflict that its record entry and every view of it show alike. Made once for all of them
    when a change is published (``common`` below): each takes a copy, with what it changes copied again."""
    ov = conflict.overlap
    return {
        "id": conflict.id,
        "kind": str(conflict.kind),
        "status": str(conflict.status),
        "revision": conflict.revision,
        "created_at": iso_z(conflict.created_at),
        "updated_at": iso_z(conflict.updated_at),
        "resolved_at": iso_z_or_none(conflict.resolved_at),
        "resolution": str(conflict.resolution) if conflict.resolution else None,
        "overlap": {
            "footprint": ov.footprint,
            "time": {"start": iso_z(ov.time.start), "end": iso_z(ov.time.end)},
        },
        "acknowledgements": _acks(conflict),
    }


def _copy(common: dict[str, Any] | None, conflict: Conflict) -> dict[str, Any]:
    if common is None:
        return conflict_common(conflict)
    return {**common, "overlap": {**common["overlap"]}}


def conflict_view(
    conflict: Conflict,
    viewer: Party,
    parties: Mapping[str, Party],
    secret: bytes,
    common: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The conflict as ``viewer`` may see it, or None when the viewer is not entitled to it at all."""
    if viewer.role is Role.MONITOR:
        return _monitor_view(conflict, parties, viewer, secret, common)
    sides = conflict.side_of(viewer.id)
    if sides is None:
        return None
    mine, other = sides
    view = _copy(common, conflict)
    view["your_object"] = {"type": str(mine.type), "id": mine.id, "volume": mine.volume}
    other_party = parties.get(other.party_id)
    view["other_party"] = {"id": other.party_id, "name": other_party.name if other_party else None}
    view["other_object_ref"] = opaque_ref(secret, viewer.id, other)
    view["other_object_type"] = str(other.type)
    band = conflict.overlap.altitude_a if mine is conflict.a else conflict.overlap.altitude_b
    view["overlap"]["altitude"] = _band(band)
    return view


def _monitor_view(
    conflict: Conflict, parties: Mapping[str, Party], viewer: Party, secret: bytes, common: dict[str, Any] | None
) -> dict[str, Any]:
    view = _copy(common, conflict)
    view["parties"] = [
        {
            "id": side.party_id,
            "name": parties[side.party_id].name if side.party_id in parties else None,
            "object_type": str(side.type),
            "object_ref": opaque_ref(secret, viewer.id, side),
            "altitude": _band(band),
        }
        for side, band in (
            (conflict.a, conflict.overlap.altitude_a),
            (conflict.b, conflict.overlap.altitude_b),
        )
    ]
    return view


# --- One's own objects, in full (the owner and its coalition) -----------------------------------------------------


def volume_public(volume: Volume4D) -> dict[str, Any]:
    band = volume.altitude
    return {
        "footprint": volume.footprint.geojson,
        "radius_m": volume.footprint.radius_m,
        "altitude": None
        if band is None
        else {"lower": band.lower, "upper": band.upper, "reference": str(band.reference)},
        "time": {"start": iso_z(volume.time.start), "end": iso_z(volume.time.end)},
    }


def operation_public(op: Operation, now: datetime) -> dict[str, Any]:
    return {
        "id": op.id,
        "party_id": op.party_id,
        "version": op.version,
        "state": str(op.state(now)),
        "volumes": [volume_public(v) for v in op.volumes],
        "description": op.description,
        "callsign": op.callsign,
        "priority": op.priority,
        "created_at": iso_z(op.created_at),
        "updated_at": iso_z(op.updated_at),
    }


def site_public(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "party_id": site.party_id,
        "version": site.version,
        "name": site.name,
        "category": site.category,
        "footprint": site.volume.footprint.geojson,
        "radius_m": site.volume.footprint.radius_m,
        "valid_from": iso_z(site.volume.time.start),
        "valid_to": iso_z(site.volume.time.end),
        "recipients": sorted(site.recipients) if site.recipients is not None else None,
        "withdrawn": site.withdrawn,
        "created_at": iso_z(site.created_at),
    }


def conflict_record(conflict: Conflict, secret: bytes, common: dict[str, Any] | None = None) -> dict[str, Any]:
    """A conflict as the record keeps it: one document that both parties and the monitors may read. Each side's
    object appears as the opaque ref the *other* side knows it by; acknowledgements carry their signatures. The
    overlap's polygon goes in as the canonical JSON its conflict row is also written with (see ``Overlap``)."""
    doc = _copy(common, conflict)
    doc["overlap"]["footprint"] = Verbatim(conflict.overlap.footprint_json)
    doc["acknowledgements"] = [
        {
            "party_id": a.party_id,
            "at": iso_z(a.at),
            "revision": a.revision,
            "note": a.note,
            "signature": a.signature,
            "key_id": a.key_id,
            "signed_at": iso_z_or_none(a.signed_at),
        }
        for a in conflict.acknowledgements
    ]
    doc["sides"] = [
        {
            "party_id": side.party_id,
            "object_type": str(side.type),
            "object_ref": opaque_ref(secret, other.party_id, side),
            "altitude": _band(band),
        }
        for side, other, band in (
            (conflict.a, conflict.b, conflict.overlap.altitude_a),
            (conflict.b, conflict.a, conflict.overlap.altitude_b),
        )
    ]
    return doc
