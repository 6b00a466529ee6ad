"""Intrusions: when a live track will enter a protected site or another party's declared volume.

A track is dead-reckoned along its great circle at its ground speed and vertical rate over the look-ahead. The
index's ``near`` sieve picks the tracks within reach of any volume; for those, ``candidates`` gives the volumes
their swept cap may meet in space, time and altitude. For each candidate the part of the look-ahead when the track
is inside the volume's time window and altitude band is worked out exactly (altitude is linear in time), and the
path over that part is tested against the footprint with the strategic, geodesic machinery (a corridor of 1 m
along the path): a hit is refined by bisection to the first second of entry. Altitudes in another reference than
the volume's are compared conservatively, as strategic conflicts are; a pressure altitude (``BARO``) is taken as
height above mean sea level give or take ``BARO_MARGIN`` (ISA deviation), so the hub warns rather than misses.

Correct everywhere on Earth: the path is a geodesic computed by PROJ (``pyproj.Geod``) and the footprint test is
the strategic one (antimeridian and poles included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from pyproj import Geod

from deconfliction.core.index import NEAR_M, Candidate, SpatioTemporalIndex
from deconfliction.core.volumes import (
    GEOID_UNDULATION_M,
    AltitudeBand,
    AltitudeReference,
    Buffers,
    Footprint,
    TimeWindow,
    Volume4D,
    footprints_conflict,
    parse_footprint,
)

F64 = npt.NDArray[np.float64]
_GEOD = Geod(ellps="WGS84")
BARO_MARGIN_M = 300.0  # + 5% of the altitude: pressure altitude against geometric height, ISA deviations included
_STEP_S = 10.0  # path vertices along the look-ahead
_PRECISION_S = 1.0


@dataclass(frozen=True, slots=True)
class Mover:
    """One live track as the intrusion check needs it (altitudes in metres in ``alt_ref``)."""

    index: int
    party_id: str
    group: str | None
    lat: float
    lon: float
    alt_m: float
    alt_ref: str
    gs: float
    trk: float
    vs: float


@dataclass(frozen=True, slots=True)
class Intrusion:
    track: int  # the Mover's index
    key: tuple[str, str, int]  # the volume's key in the index: (object type, object id, volume number)
    owner: str
    t_entry_s: float  # from now; 0: inside already
    lat: float  # where it enters
    lon: float


def _amsl_bounds(m: Mover, t: float) -> tuple[float, float]:
    """The track's possible heights above mean sea level at ``t`` seconds from now."""
    alt = m.alt_m + m.vs * t
    if m.alt_ref == "BARO":
        margin = BARO_MARGIN_M + 0.05 * abs(alt)
        return alt - margin, alt + margin
    if m.alt_ref == "WGS84":
        return alt - GEOID_UNDULATION_M[1], alt - GEOID_UNDULATION_M[0]
    return alt, alt


def _in_band(m: Mover, band: AltitudeBand | None, t0: float, t1: float) -> tuple[float, float] | None:
    """The part of [t0, t1] when the track may be within the band (heights linear in time); None: never."""
    if band is None:
        return t0, t1
    lo, hi = band.lower, band.upper
    if band.reference is AltitudeReference.WGS84:
        lo, hi = lo - GEOID_UNDULATION_M[1], hi - GEOID_UNDULATION_M[0]
    elif band.reference is AltitudeReference.AGL:
        lo, hi = lo - 430.0, hi + 8_849.0  # terrain: the lowest and highest ground on Earth
    # Sample the (piecewise linear) bounds finely enough: altitude is linear, margins are linear in |alt|.
    ts = np.linspace(t0, t1, max(2, int((t1 - t0) / _PRECISION_S) + 1))
    inside = [t for t in ts.tolist() if (b := _amsl_bounds(m, t))[1] >= lo and b[0] <= hi]
    if not inside:
        return None
    return inside[0], inside[-1]


def _path(m: Mover, t0: float, t1: float) -> tuple[F64, F64]:
    ts = np.unique(np.concatenate((np.arange(t0, t1, _STEP_S), [t1])))
    lon, lat, _ = _GEOD.fwd(np.full(len(ts), m.lon), np.full(len(ts), m.lat), np.full(len(ts), m.trk), m.gs * ts)
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _corridor(m: Mover, t0: float, t1: float) -> Footprint:
    if t1 - t0 < 1e-3 or m.gs * (t1 - t0) < 1.0:
        lon, lat = _path(m, t0, t0)
        return parse_footprint({"type": "Point", "coordinates": [float(lon[0]), float(lat[0])]}, 1.0)
    lon, lat = _path(m, t0, t1)
    coords = [[float(x), float(y)] for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    return parse_footprint({"type": "LineString", "coordinates": coords}, 1.0)


def _entry(m: Mover, fp: Footprint, t0: float, t1: float) -> float | None:
    """The first time in [t0, t1] the track's path meets the footprint (to a second), or None."""
    if not footprints_conflict(_corridor(m, t0, t1), fp, 0.0):
        return None
    if footprints_conflict(_corridor(m, t0, t0), fp, 0.0):
        return t0
    lo, hi = t0, t1  # the path up to lo stays out; up to hi it meets the footprint
    while hi - lo > _PRECISION_S:
        mid = (lo + hi) / 2
        if footprints_conflict(_corridor(m, t0, mid), fp, 0.0):
            hi = mid
        else:
            lo = mid
    return hi


def _swept(m: Mover, now_s: float, lookahead_s: float) -> Volume4D:
    """A volume holding everywhere the track can be over the look-ahead (for the index's coarse query)."""
    reach = max(1.0, m.gs * lookahead_s)
    fp = parse_footprint({"type": "Point", "coordinates": [m.lon, m.lat]}, reach)
    lows, highs = zip(*(_amsl_bounds(m, t) for t in (0.0, lookahead_s)), strict=True)
    band = AltitudeBand(min(lows), max(highs), AltitudeReference.AMSL)
    start = datetime.fromtimestamp(now_s, UTC)
    end = datetime.fromtimestamp(now_s + lookahead_s, UTC)
    return Volume4D(fp, band, TimeWindow(start, end))


def predict_intrusions(
    index: SpatioTemporalIndex,
    movers: list[Mover],
    now_s: float,
    lookahead_s: float,
    kinds: tuple[int, ...],
    eligible: Callable[[Mover, Candidate], bool],
) -> list[Intrusion]:
    """Every (track, volume) entry predicted within the look-ahead, with its time and place."""
    if not movers:
        return []
    lat = np.array([m.lat for m in movers])
    lon = np.array([m.lon for m in movers])
    reach = np.array([m.gs for m in movers]) * lookahead_s
    near = index.near(lat, lon) | (reach > NEAR_M)  # faster tracks than the sieve assumes are always queried
    found: list[Intrusion] = []
    none = Buffers(0.0, 0.0, 0.0)
    for k in np.flatnonzero(near).tolist():
        m = movers[k]
        for cand in index.candidates(_swept(m, now_s, lookahead_s), none, m.party_id, None, kinds):
            if not eligible(m, cand):
                continue
            vol = cand.volume
            t0 = max(0.0, vol.time.start.timestamp() - now_s)
            t1 = min(lookahead_s, vol.time.end.timestamp() - now_s)
            if t1 < t0:
                continue
            window = _in_band(m, vol.altitude, t0, t1)
            if window is None:
                continue
            t = _entry(m, vol.footprint, *window)
            if t is None:
                continue
            elon, elat, _ = _GEOD.fwd(m.lon, m.lat, m.trk, m.gs * t)
            found.append(Intrusion(m.index, cand.key, cand.owner, t, float(elat), float(elon)))
    return found


def dead_reckon(lat: F64, lon: F64, trk: F64, gs: F64, dt: F64) -> tuple[F64, F64]:
    """Positions ``dt`` seconds on along each track's geodesic (vectorized; PROJ)."""
    lon2, lat2, _ = _GEOD.fwd(lon, lat, trk, gs * dt)
    return np.asarray(lat2, dtype=np.float64), np.asarray(lon2, dtype=np.float64)
