"""Converters between domain objects and their stored JSON. Stored data was validated on the way in, so
footprints are rebuilt with ``Footprint.from_trusted`` (no re-validation)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from deconfliction.core.index import Envelope
from deconfliction.core.volumes import (
    AltitudeBand,
    AltitudeReference,
    Footprint,
    Overlap,
    TimeWindow,
    Volume4D,
)


def ts(dt: datetime) -> str:
    # A change writes the same few instants (its time, its volumes' windows) into several rows: times in UTC, as
    # the hub keeps them, are written once. Others are not memoised: equal instants in other zones read differently.
    return _utc_text(dt) if dt.tzinfo is UTC else dt.isoformat()


@lru_cache(maxsize=8192)
def _utc_text(dt: datetime) -> str:
    return dt.isoformat()


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def opt_ts(dt: datetime | None) -> str | None:
    return ts(dt) if dt is not None else None


def opt_parse_ts(text: str | None) -> datetime | None:
    return parse_ts(text) if text else None


def band_to_json(band: AltitudeBand | None) -> dict[str, Any] | None:
    if band is None:
        return None
    return {"lower": band.lower, "upper": band.upper, "reference": str(band.reference)}


def band_from_json(data: dict[str, Any] | None) -> AltitudeBand | None:
    if data is None:
        return None
    return AltitudeBand(float(data["lower"]), float(data["upper"]), AltitudeReference(data["reference"]))


def window_to_json(window: TimeWindow) -> dict[str, str]:
    return {"start": ts(window.start), "end": ts(window.end)}


def window_from_json(data: dict[str, str]) -> TimeWindow:
    return TimeWindow(parse_ts(data["start"]), parse_ts(data["end"]))


def volume_to_json(volume: Volume4D) -> dict[str, Any]:
    fp = volume.footprint
    return {
        "footprint": fp.geojson,
        "radius_m": fp.radius_m,
        "altitude": band_to_json(volume.altitude),
        "time": window_to_json(volume.time),
        # the bounding cap, so that the index is rebuilt at start-up without rebuilding any geometry
        "cap": [fp.center_lon, fp.center_lat, fp.cap_radius_m],
    }


def volume_text(volume: Volume4D) -> str:
    # Text, not orjson's bytes: those keep a 4 KiB buffer each, which a million indexed volumes cannot afford.
    return orjson.dumps(volume_to_json(volume)).decode()


def volume_from_text(payload: str) -> Volume4D:
    return volume_from_json(orjson.loads(payload))


def envelope_from_json(data: dict[str, Any]) -> Envelope:
    """The index's view of a stored volume, without decoding its geometry (when the cap was stored)."""
    cap = data.get("cap")
    if cap is None:
        fp = Footprint.from_trusted(data["footprint"], data.get("radius_m"))
        cap = [fp.center_lon, fp.center_lat, fp.cap_radius_m]
    window = window_from_json(data["time"])
    return Envelope(
        center_lon=cap[0],
        center_lat=cap[1],
        cap_radius_m=cap[2],
        start_s=window.start.timestamp(),
        end_s=window.end.timestamp(),
        altitude=band_from_json(data.get("altitude")),
    )


def volume_from_json(data: dict[str, Any]) -> Volume4D:
    return Volume4D(
        footprint=Footprint.from_trusted(data["footprint"], data.get("radius_m")),
        altitude=band_from_json(data.get("altitude")),
        time=window_from_json(data["time"]),
    )


def volumes_dumps(volumes: tuple[Volume4D, ...]) -> str:
    return orjson.dumps([volume_to_json(v) for v in volumes]).decode()


def volumes_loads(text: str) -> tuple[Volume4D, ...]:
    return tuple(volume_from_json(v) for v in orjson.loads(text))


def overlap_dumps(overlap: Overlap) -> str:
    return orjson.dumps(
        {
            "footprint": orjson.Fragment(overlap.footprint_json),
            "altitude_a": band_to_json(overlap.altitude_a),
            "altitude_b": band_to_json(overlap.altitude_b),
            "time": window_to_json(overlap.time),
        }
    ).decode()


def overlap_loads(text: str) -> Overlap:
    data = orjson.loads(text)
    return Overlap(
        footprint=data["footprint"],
        altitude_a=band_from_json(data["altitude_a"]),
        altitude_b=band_from_json(data["altitude_b"]),
        time=window_from_json(data["time"]),
    )
