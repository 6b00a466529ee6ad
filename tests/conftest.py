"""Shared test helpers: volumes in the wire format, a controllable clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def box(lon: float, lat: float, half_deg: float = 0.05) -> dict[str, Any]:
    """A small square footprint centred on (lon, lat)."""
    ring = [
        [lon - half_deg, lat - half_deg],
        [lon + half_deg, lat - half_deg],
        [lon + half_deg, lat + half_deg],
        [lon - half_deg, lat + half_deg],
        [lon - half_deg, lat - half_deg],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def volume(
    footprint: dict[str, Any],
    start: datetime,
    hours: float = 2.0,
    lower: float = 1000.0,
    upper: float = 3000.0,
    reference: str = "AMSL",
    radius_m: float | None = None,
) -> dict[str, Any]:
    vol: dict[str, Any] = {
        "footprint": footprint,
        "altitude": {"lower": lower, "upper": upper, "reference": reference},
        "time": {"start": iso(start), "end": iso(start + timedelta(hours=hours))},
    }
    if radius_m is not None:
        vol["radius_m"] = radius_m
    return vol


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
