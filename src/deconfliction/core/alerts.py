"""Tactical alerts: one per encounter between two tracks, from the pass that first predicts it to the pass that
no longer does.

Every detection pass yields the encounters it predicts (``Encounter``: two tracks that will lose both horizontal
and vertical separation within the look-ahead, with the time to that loss and the closest point of approach).
``AlertBook.reconcile`` turns the passes into an alert's life: **opened** when a pair first appears, **updated**
when what it predicts moved enough to matter (the predicted time of the loss of separation by ``min_change_s`` or
more, or the predicted minimum distance by ``min_change_m`` or more), **closed** when the pair is no longer
predicted. An alert's times (``loss_at``, ``cpa_at``, ``entry_at``) are absolute, so a steady encounter is told
once and its countdown runs on the parties' clocks. The
book holds the last state sent of each open alert, so a party hears of a change once, not once a second.

How one party sees an alert is decided here too (``alert_view``): its own track in full; of the other party's
track only what the encounter needs — where it is, where it is going, how high — behind an opaque reference, never
its id, callsign or ICAO address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from deconfliction.core.tracks import kinematics

TrackKey = tuple[str, str]  # (party id, the party's track id)


@dataclass(frozen=True, slots=True)
class Side:
    """One track of an encounter, as it was when the pass predicted it."""

    party_id: str
    track_id: str
    lat: float
    lon: float
    alt_m: float
    alt_ref: str
    gs: float
    trk: float
    vs: float

    @property
    def key(self) -> TrackKey:
        return (self.party_id, self.track_id)


@dataclass(frozen=True, slots=True)
class Encounter:
    """A predicted loss of separation between ``a`` and ``b`` (``a.key < b.key``)."""

    a: Side
    b: Side
    t_los_s: float  # seconds from the pass to the loss of separation (0: already lost)
    t_cpa_s: float  # seconds to the closest point of approach
    d_cpa_m: float  # predicted minimum horizontal distance
    dv_cpa_m: float  # vertical distance at the closest point of approach
    cpa_lat: float  # where the closest approach happens (midpoint of the two)
    cpa_lon: float

    @property
    def key(self) -> tuple[TrackKey, TrackKey]:
        return (self.a.key, self.b.key)


@dataclass(frozen=True, slots=True)
class VolumeEntry:
    """A predicted entry of ``track`` into a protected site or another party's declared volume."""

    track: Side
    object_type: str  # "site" or "operation"
    object_id: str
    volume: int
    owner: str
    t_entry_s: float  # seconds from the pass (0: inside already)
    lat: float  # where it enters
    lon: float

    @property
    def key(self) -> tuple[TrackKey, TrackKey]:
        return (self.track.key, (self.owner, f"{self.object_type}:{self.object_id}:{self.volume}"))

    @property
    def t_los_s(self) -> float:
        return self.t_entry_s

    @property
    def d_cpa_m(self) -> float:
        return 0.0


Predicted = Encounter | VolumeEntry


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    encounter: Predicted
    opened_at_s: float
    updated_at_s: float
    closed_at_s: float | None = None

    @property
    def kind(self) -> str:
        return "encounter" if isinstance(self.encounter, Encounter) else "intrusion"

    @property
    def party_ids(self) -> tuple[str, str]:
        enc = self.encounter
        if isinstance(enc, Encounter):
            return (enc.a.party_id, enc.b.party_id)
        return (enc.track.party_id, enc.owner)


@dataclass(frozen=True, slots=True)
class Changes:
    opened: list[Alert]
    updated: list[Alert]
    closed: list[Alert]


class AlertBook:
    """The open alerts, by pair of tracks."""

    def __init__(self, min_change_s: float = 5.0, min_change_m: float = 185.2) -> None:
        self.min_change_s = min_change_s
        self.min_change_m = min_change_m
        self._open: dict[tuple[TrackKey, TrackKey], Alert] = {}

    def __len__(self) -> int:
        return len(self._open)

    def load(self, alerts: Iterable[Alert]) -> None:
        self._open = {a.encounter.key: a for a in alerts if a.closed_at_s is None}

    def open_alerts(self) -> list[Alert]:
        return list(self._open.values())

    def _moved(self, held: Alert, now: Predicted, now_s: float) -> bool:
        """Whether the prediction changed: the *time* of the loss of separation (not the time left, which runs
        down by itself) or the predicted minimum distance."""
        before = held.encounter
        if abs(now.d_cpa_m - before.d_cpa_m) >= self.min_change_m:
            return True
        if before.t_los_s <= 0.0 and now.t_los_s <= 0.0:
            return False  # separation lost already, and still: nothing new to tell
        at_before, at_now = held.updated_at_s + before.t_los_s, now_s + now.t_los_s
        return abs(at_now - at_before) >= self.min_change_s

    def reconcile(self, encounters: Iterable[Predicted], now_s: float, new_id: Any) -> Changes:
        """Apply one pass: ``new_id()`` names each new alert. The book is changed in place."""
        opened: list[Alert] = []
        updated: list[Alert] = []
        seen = set()
        for enc in encounters:
            key = enc.key
            seen.add(key)
            held = self._open.get(key)
            if held is None:
                alert = Alert(new_id(), enc, now_s, now_s)
                self._open[key] = alert
                opened.append(alert)
            elif self._moved(held, enc, now_s):
                alert = replace(held, encounter=enc, updated_at_s=now_s)
                self._open[key] = alert
                updated.append(alert)
        closed = []
        for key in [k for k in self._open if k not in seen]:
            closed.append(replace(self._open.pop(key), closed_at_s=now_s))
        return Changes(opened, updated, closed)


def track_ref(secret: bytes, viewer_id: str, key: TrackKey) -> str:
    """How ``viewer_id`` tells another party's tracks apart without learning their ids (an HMAC per viewer)."""
    digest = hmac.new(secret, f"{viewer_id}\x00track\x00{key[0]}\x00{key[1]}".encode(), hashlib.sha256).digest()
    return "trk_" + base64.urlsafe_b64encode(digest[:12]).decode()


def alert_common(alert: Alert, at_iso: Any) -> dict[str, Any]:
    enc = alert.encounter
    common: dict[str, Any] = {
        "id": alert.id,
        "kind": alert.kind,
        "status": "closed" if alert.closed_at_s is not None else "open",
        "opened_at": at_iso(alert.opened_at_s),
        "updated_at": at_iso(alert.updated_at_s),
        "closed_at": at_iso(alert.closed_at_s) if alert.closed_at_s is not None else None,
    }
    at = alert.updated_at_s  # the predictions below were made then
    if isinstance(enc, Encounter):
        common |= {
            "loss_at": at_iso(at + enc.t_los_s),
            "cpa_at": at_iso(at + enc.t_cpa_s),
            "time_to_loss_s": round(enc.t_los_s, 1),
            "time_to_cpa_s": round(enc.t_cpa_s, 1),
            "predicted_min_distance_m": round(enc.d_cpa_m, 1),
            "vertical_distance_at_cpa_m": round(enc.dv_cpa_m, 1),
            "cpa": {"lat": enc.cpa_lat, "lon": enc.cpa_lon},
        }
    else:
        common |= {
            "entry_at": at_iso(at + enc.t_entry_s),
            "time_to_entry_s": round(enc.t_entry_s, 1),
            "entry": {"lat": enc.lat, "lon": enc.lon},
        }
    return common


def alert_view(
    alert: Alert, viewer_id: str, secret: bytes, at_iso: Any, names: dict[str, str], target: dict[str, Any] | None
) -> dict[str, Any]:
    """The alert as one of its two parties sees it: its own track (or volume) in full, the other side behind an
    opaque ref. ``target``: how the entered volume is shown to the track's party (for an intrusion)."""
    enc = alert.encounter
    view = alert_common(alert, at_iso)
    if isinstance(enc, Encounter):
        mine, other = (enc.a, enc.b) if enc.a.party_id == viewer_id else (enc.b, enc.a)
        view["your_track"] = {"track_id": mine.track_id, **kinematics(mine)}
        view["other_party"] = {"id": other.party_id, "name": names.get(other.party_id)}
        view["other_track"] = {"ref": track_ref(secret, viewer_id, other.key), **kinematics(other)}
    elif viewer_id == enc.track.party_id:
        view["your_track"] = {"track_id": enc.track.track_id, **kinematics(enc.track)}
        view["other_party"] = {"id": enc.owner, "name": names.get(enc.owner)}
        view["into"] = target
    else:
        view["your_object"] = {"type": enc.object_type, "id": enc.object_id, "volume": enc.volume}
        view["other_party"] = {"id": enc.track.party_id, "name": names.get(enc.track.party_id)}
        view["other_track"] = {"ref": track_ref(secret, viewer_id, enc.track.key), **kinematics(enc.track)}
    return view


def monitor_view(alert: Alert, viewer_id: str, secret: bytes, at_iso: Any, names: dict[str, str]) -> dict[str, Any]:
    view = alert_common(alert, at_iso)
    enc = alert.encounter
    sides = (enc.a, enc.b) if isinstance(enc, Encounter) else (enc.track,)
    view["parties"] = [
        {"id": s.party_id, "name": names.get(s.party_id), "track_ref": track_ref(secret, viewer_id, s.key)}
        for s in sides
    ]
    if isinstance(enc, VolumeEntry):
        view["parties"].append({"id": enc.owner, "name": names.get(enc.owner), "object_type": enc.object_type})
    return view
