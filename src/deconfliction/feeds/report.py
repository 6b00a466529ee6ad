"""A position report as a feed builds it, in SI units, and its wire form for ``POST /v1/tracks``."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from deconfliction.core.tracks import MAX_SPEED_MPS, MAX_VERTICAL_MPS

FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0
FPM_MPS = FT_M / 60.0
MIN_ALTITUDE_M = -1_000.0  # the hub's bounds (core/tracks.parse_reports)
MAX_ALTITUDE_M = 100_000.0


@dataclass(frozen=True, slots=True)
class PositionReport:
    track_id: str
    t: float  # seconds since the Unix epoch, UTC
    lat: float
    lon: float
    altitude_m: float
    altitude_reference: str  # BARO | AMSL | WGS84
    ground_speed: float  # m/s
    track: float  # degrees clockwise from true north
    vertical_rate: float  # m/s, up positive
    callsign: str | None = None
    icao24: str | None = None

    def at(self, t: float) -> PositionReport:
        """The same report, stamped with another time (a replay shifted to now)."""
        return replace(self, t=t)

    def to_wire(self) -> dict[str, Any]:
        """The JSON object ``POST /v1/tracks`` takes."""
        wire: dict[str, Any] = {
            "track_id": self.track_id,
            "time": rfc3339(self.t),
            "lat": self.lat,
            "lon": self.lon,
            "altitude": self.altitude_m,
            "altitude_reference": self.altitude_reference,
            "ground_speed": self.ground_speed,
            "track": self.track,
            "vertical_rate": self.vertical_rate,
        }
        if self.callsign:
            wire["callsign"] = self.callsign
        if self.icao24:
            wire["icao24"] = self.icao24
        return wire


def rfc3339(t: float) -> str:
    """Epoch seconds as RFC 3339 UTC with microseconds, e.g. ``2026-11-22T10:00:00.250000Z``."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def implausible(r: PositionReport) -> str | None:
    """Why the hub would refuse this report (and with it its whole batch), or ``None`` if it would take it."""
    values = (r.t, r.lat, r.lon, r.altitude_m, r.ground_speed, r.track, r.vertical_rate)
    if not all(math.isfinite(v) for v in values):
        return "a value is not a finite number"
    if not (-90.0 <= r.lat <= 90.0 and -180.0 <= r.lon <= 180.0):
        return f"position {r.lat}, {r.lon} is off the globe"
    if not MIN_ALTITUDE_M <= r.altitude_m <= MAX_ALTITUDE_M:
        return f"altitude {r.altitude_m:.0f} m is out of [{MIN_ALTITUDE_M:g}, {MAX_ALTITUDE_M:g}]"
    if not 0.0 <= r.ground_speed <= MAX_SPEED_MPS:
        return f"ground speed {r.ground_speed:.0f} m/s is out of [0, {MAX_SPEED_MPS:g}]"
    if not 0.0 <= r.track <= 360.0:
        return f"track {r.track} is out of [0, 360]"
    if not -MAX_VERTICAL_MPS <= r.vertical_rate <= MAX_VERTICAL_MPS:
        return f"vertical rate {r.vertical_rate:.0f} m/s is out of ±{MAX_VERTICAL_MPS:g}"
    if not 1 <= len(r.track_id) <= 100 or (r.callsign is not None and not 1 <= len(r.callsign) <= 16):
        return "track id or callsign has a bad length"
    return None
