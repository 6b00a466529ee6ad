"""A deterministic, numpy-vectorised scenario of 4D volume declarations for the benchmarks.

The stored set (``Scenario.stored()``) covers Europe (lon -10..40, lat 35..70) over one day, ``bench_day()``:
``$DECONFLICTION_BENCH_DAY`` (YYYY-MM-DD) when set, else the UTC day after tomorrow. The hubs under benchmark run on
the real clock and refuse volumes that have already ended, so a fixed date would stop the benchmarks working once it
passed; ``bench/run.sh`` sets the day once, so that one run stays on one day across midnight. Each volume has:

* footprint: 70 % small polygons, 30 % circles (GeoJSON Point + ``radius_m``). Sizes are
  log-uniform, 2-20 km across (circle radius 1-10 km). A polygon has 4-8 vertices at strictly
  increasing angles (jitter 0.3 of the spacing) and 0.85-1.0 of its radius from its centre, so its
  ring is simple, counter-clockwise, closed and convex-ish;
* altitude in metres: lower 0-6,000 (skewed low: 6000 * u**1.5, to 10 m), thickness 150-3,000;
  reference 80 % "AMSL", 15 % "AGL", 5 % "WGS84";
* time: 30-180 min (whole minutes), wholly inside the day;
* party: one of ``parties`` (default 12), mildly skewed (weight 1/sqrt(1 + index)).

Where the stored set lies:

* background (all but the hot-spot): half uniform over the continent, half Gaussian around 40 fixed
  activity centres (sigma 0.3-1.2 deg). No stored centre lies in lon 19.7..21.3, so nothing stored
  reaches lon 20..21 (a footprint reaches at most 10 km = 0.263 deg of longitude at lat 70);
* hot-spot: ``min(20,000, n // 5)`` volumes (2 % of 1,000,000) with centres uniform in a square
  around lon 10, lat 50 (Frankfurt) of side 315 km at 20,000 volumes (scaled by sqrt(count/20,000)
  so the density does not depend on ``n``), times inside 08:00-14:00Z, lower altitude 0-1,500 m.

The two query streams for the measured phase:

* ``non_overlapping(n)``: declarations in the quiet strip lon 20..21 (centres lon 20.35..20.65),
  each in its own cell of 174 latitude rows (0.2 deg = 22 km, footprints at most 20 km) x 8
  three-hour time slots (windows 30-170 min, 5 min clear of the slot's ends) x 3 altitude layers of
  2,000 m (0-2,000, 2,000-4,000, 4,000-6,000; bands 150-1,500 m, 10 m clear of the layer's edges).
  All in AMSL (the hub compares unlike references conservatively). None overlaps a stored volume
  nor another declaration of the stream: conflicts per declaration are exactly 0. At most 4,176
  declarations (``QUIET_CAPACITY``).
* ``heavily_overlapping(n)``: declarations in the hot-spot, centres at least 10 km inside its
  square, radius 4-5 km (8-10 km across; 30 % circles), 75-105 min inside 09:00-13:00Z, lower
  altitude 0-600 m, thickness 300-1,500 m. Each overlaps stored volumes of other parties in time,
  altitude and footprint: measured against the 1,000,000 set, mean 20, median 19, p5 10, p95 32,
  90 % of declarations between 10 and 30 (the 10,000 set's smaller hot-spot has the same density).
  Once stored, a stream's own declarations add to the hot-spot: q of them raise the mean by
  ~q/20,000 of itself (by ~q/(n/5) below 100,000 volumes).

Use::

    scenario = Scenario(volumes=1_000_000, parties=12, seed=DEFAULT_SEED)
    stored = scenario.stored()                    # VolumeColumns, numpy columns for bulk loads
    api = stored.to_api()                         # list of Volume4D dicts (1M in ~8 s)
    owners = stored.party                         # parallel int32 party indexes
    quiet = scenario.non_overlapping(2000)        # VolumeColumns again; .take(slice) to split
    busy = scenario.heavily_overlapping(2000)

Every call is seeded: the same arguments give the same volumes.
"""

from __future__ import annotations

import dataclasses
import gc
import os
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np

BENCH_DAY_ENV = "DECONFLICTION_BENCH_DAY"
DAY_SECONDS = 86_400
LON_RANGE = (-10.0, 40.0)
LAT_RANGE = (35.0, 70.0)
REFERENCES = ("AMSL", "AGL", "WGS84")
REFERENCE_WEIGHTS = (0.80, 0.15, 0.05)
CIRCLE_SHARE = 0.30
MAX_VERTICES = 8
KM_PER_DEG_LAT = 111.32
DEFAULT_SEED = 20261201

QUIET_LON = (20.0, 21.0)
QUIET_EXCLUSION = (19.7, 21.3)  # no stored centre here: 0.3 deg > 0.263 deg, the widest reach
QUIET_LAT_ROWS = 174
QUIET_LAT_STEP = 0.2
QUIET_SLOTS = 8
QUIET_LAYERS = 3
QUIET_LAYER_M = 2000.0
QUIET_CAPACITY = QUIET_LAT_ROWS * QUIET_SLOTS * QUIET_LAYERS

HOT_CENTER = (10.0, 50.0)
HOT_VOLUMES = 20_000
HOT_SIDE_KM = 315.0
HOT_WINDOW_S = (8 * 3600, 14 * 3600)
HOT_MAX_LOWER_M = 1500.0
HOT_QUERY_WINDOW_S = (9 * 3600, 13 * 3600)
ACTIVITY_CENTRES = 40

# Independent random streams, so that one part of the scenario never shifts another.
_STORED, _QUIET, _HOT, _CENTRES = range(4)


@dataclass(frozen=True)
class VolumeColumns:
    """Volumes as parallel numpy columns; row i of every column describes volume i."""

    party: np.ndarray  # int32 party index, 0..parties-1
    center_lon: np.ndarray  # float64 degrees; a circle's centre, a polygon's generating centre
    center_lat: np.ndarray
    radius_m: np.ndarray  # float64, NaN for polygons
    n_vertices: np.ndarray  # int8, 0 for circles; the ring is open here (no repeated first vertex)
    vertex_lon: np.ndarray  # float64 (n, MAX_VERTICES), NaN past n_vertices
    vertex_lat: np.ndarray
    alt_lower: np.ndarray  # float64 metres
    alt_upper: np.ndarray
    reference: np.ndarray  # uint8 index into REFERENCES
    start: np.ndarray  # int64 unix seconds, UTC
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.party)

    @property
    def is_circle(self) -> np.ndarray:
        """Boolean mask of the circles (GeoJSON Point + radius_m)."""
        return self.n_vertices == 0

    def take(self, index: Any) -> VolumeColumns:
        """The rows selected by a slice, a mask or an index array."""
        return VolumeColumns(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def rfc3339(self) -> tuple[list[str], list[str]]:
        """Start and end times as RFC 3339 UTC strings with ``Z``."""
        return _rfc3339(self.start), _rfc3339(self.end)

    def to_api(self) -> list[dict[str, Any]]:
        """The volumes as the HTTP contract's Volume4D dicts."""
        starts, ends = self.rfc3339()
        refs = [REFERENCES[r] for r in self.reference.tolist()]
        # Closing vertex written at column n_vertices, so one tolist() gives every ring.
        j = np.arange(MAX_VERTICES + 1)
        k = self.n_vertices.astype(np.int64)[:, None]
        pad = np.full((len(self), 1), np.nan)
        ring_lon = np.where(j < k, np.hstack([self.vertex_lon, pad]), self.vertex_lon[:, :1])
        ring_lat = np.where(j < k, np.hstack([self.vertex_lat, pad]), self.vertex_lat[:, :1])
        # Millions of small containers make the cyclic GC rescan again and again (3x slower).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._dicts(np.stack([ring_lon, ring_lat], axis=-1).tolist(), refs, starts, ends)
        finally:
            if was_enabled:
                gc.enable()

    def _dicts(self, rings: list[Any], refs: list[str], starts: list[str], ends: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        rows = zip(
            self.n_vertices.tolist(),
            self.center_lon.tolist(),
            self.center_lat.tolist(),
            self.radius_m.tolist(),
            rings,
            self.alt_lower.tolist(),
            self.alt_upper.tolist(),
            refs,
            starts,
            ends,
            strict=True,
        )
        for n, lon, lat, radius, ring, lower, upper, ref, start, end in rows:
            volume: dict[str, Any]
            if n == 0:
                volume = {"footprint": {"type": "Point", "coordinates": [lon, lat]}, "radius_m": radius}
            else:
                volume = {"footprint": {"type": "Polygon", "coordinates": [ring[: n + 1]]}}
            volume["altitude"] = {"lower": lower, "upper": upper, "reference": ref}
            volume["time"] = {"start": start, "end": end}
            out.append(volume)
        return out


def _rfc3339(seconds: np.ndarray) -> list[str]:
    text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
    return [t + "Z" for t in text.tolist()]


def bench_day() -> date:
    """The day the scenario is on: ``$DECONFLICTION_BENCH_DAY`` when set, else the UTC day after tomorrow."""
    given = os.environ.get(BENCH_DAY_ENV)
    return date.fromisoformat(given) if given else datetime.now(UTC).date() + timedelta(days=2)


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(), UTC)


class Scenario:
    """The stored set and the two query streams for ``volumes`` stored declarations, on ``day`` (``bench_day()``)."""

    def __init__(self, volumes: int, parties: int = 12, seed: int = DEFAULT_SEED, day: date | None = None) -> None:
        if volumes < 5 or parties < 2:
            raise ValueError("need at least 5 volumes and 2 parties")
        self.day = day or bench_day()
        self.day_start_s = int(day_start(self.day).timestamp())
        self.volumes = volumes
        self.parties = parties
        self.seed = seed
        self.hot_volumes = min(HOT_VOLUMES, volumes // 5)
        self.hot_side_km = HOT_SIDE_KM * float(np.sqrt(self.hot_volumes / HOT_VOLUMES))

    def _rng(self, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, stream])

    def stored(self) -> VolumeColumns:
        """The ``volumes`` declarations to load before measuring, in a shuffled order."""
        rng = self._rng(_STORED)
        n_hot = self.hot_volumes
        n_bg = self.volumes - n_hot
        lon, lat = self._background_centres(rng, n_bg)
        hot_lon, hot_lat = self._hot_centres(rng, n_hot, inset_km=0.0)
        start, end = _times(rng, n_bg, self.day_start_s, 0, DAY_SECONDS, 30, 180)
        hot_start, hot_end = _times(rng, n_hot, self.day_start_s, *HOT_WINDOW_S, 30, 180)
        lower = np.round(6000.0 * rng.random(n_bg) ** 1.5, -1)
        hot_lower = np.round(HOT_MAX_LOWER_M * rng.random(n_hot) ** 1.5, -1)
        thickness = np.round(rng.uniform(150.0, 3000.0, self.volumes), -1)
        lower_all = np.concatenate([lower, hot_lower])
        cols = self._build(
            rng,
            np.concatenate([lon, hot_lon]),
            np.concatenate([lat, hot_lat]),
            lower_all,
            lower_all + thickness,
            np.concatenate([start, hot_start]),
            np.concatenate([end, hot_end]),
            size_km=(1.0, 10.0),
        )
        return cols.take(rng.permutation(self.volumes))

    def non_overlapping(self, n: int) -> VolumeColumns:
        """``n`` declarations in the quiet strip, each in its own cell: zero conflicts each."""
        if n > QUIET_CAPACITY:
            raise ValueError(f"the quiet strip holds at most {QUIET_CAPACITY} declarations, asked {n}")
        rng = self._rng(_QUIET)
        cell = rng.permutation(QUIET_CAPACITY)[:n]
        row, rest = np.divmod(cell, QUIET_SLOTS * QUIET_LAYERS)
        slot, layer = np.divmod(rest, QUIET_LAYERS)
        lat = LAT_RANGE[0] + (row + 0.5) * QUIET_LAT_STEP
        lon = sum(QUIET_LON) / 2 + rng.uniform(-0.15, 0.15, n)
        slot_start = self.day_start_s + slot * 3 * 3600
        minutes = rng.integers(30, 171, n)
        offset = 5 + np.floor(rng.random(n) * (180 - 10 - minutes + 1)).astype(np.int64)
        start = slot_start + offset * 60
        thickness = np.round(rng.uniform(150.0, 1500.0, n), -1)
        lower = layer * QUIET_LAYER_M + 10.0
        lower = lower + np.round(rng.random(n) * (QUIET_LAYER_M - 20.0 - thickness), -1)
        lower = np.minimum(lower, (layer + 1) * QUIET_LAYER_M - 10.0 - thickness)
        quiet = self._build(rng, lon, lat, lower, lower + thickness, start, start + minutes * 60, (1.0, 10.0))
        # One reference: the hub compares bands in different references conservatively (terrain may be anywhere
        # from -430 to 8,849 m), so an AGL band in one layer could meet an AMSL band in the next.
        return dataclasses.replace(quiet, reference=np.zeros(n, dtype=np.uint8))

    def heavily_overlapping(self, n: int) -> VolumeColumns:
        """``n`` declarations inside the hot-spot: ~20 conflicts each with the stored set."""
        rng = self._rng(_HOT)
        lon, lat = self._hot_centres(rng, n, inset_km=10.0)
        start, end = _times(rng, n, self.day_start_s, *HOT_QUERY_WINDOW_S, 75, 105)
        lower = np.round(rng.uniform(0.0, 600.0, n), -1)
        upper = lower + np.round(rng.uniform(300.0, 1500.0, n), -1)
        return self._build(rng, lon, lat, lower, upper, start, end, (4.0, 5.0))

    def _background_centres(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        centres = np.random.default_rng([DEFAULT_SEED, _CENTRES])
        c_lon = _uniform_lon(centres, ACTIVITY_CENTRES)
        c_lat = centres.uniform(*LAT_RANGE, ACTIVITY_CENTRES)
        c_sigma = centres.uniform(0.3, 1.2, ACTIVITY_CENTRES)
        clustered = rng.random(n) < 0.5
        which = rng.integers(0, ACTIVITY_CENTRES, n)
        spread = c_sigma[which]
        lon = np.where(clustered, c_lon[which] + rng.normal(0, 1, n) * spread, _uniform_lon(rng, n))
        lat = np.where(clustered, c_lat[which] + rng.normal(0, 1, n) * spread, rng.uniform(*LAT_RANGE, n))
        lon = np.clip(lon, *LON_RANGE)
        lat = np.clip(lat, *LAT_RANGE)
        inside = (lon >= QUIET_EXCLUSION[0]) & (lon <= QUIET_EXCLUSION[1])
        lon[inside] = _uniform_lon(rng, int(inside.sum()))
        return lon, lat

    def _hot_centres(self, rng: np.random.Generator, n: int, inset_km: float) -> tuple[np.ndarray, np.ndarray]:
        half_km = self.hot_side_km / 2 - inset_km
        x = rng.uniform(-half_km, half_km, n)
        y = rng.uniform(-half_km, half_km, n)
        lat = HOT_CENTER[1] + y / KM_PER_DEG_LAT
        lon = HOT_CENTER[0] + x / (KM_PER_DEG_LAT * np.cos(np.radians(HOT_CENTER[1])))
        return lon, lat

    def _build(
        self,
        rng: np.random.Generator,
        lon: np.ndarray,
        lat: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        start: np.ndarray,
        end: np.ndarray,
        size_km: tuple[float, float],
    ) -> VolumeColumns:
        n = len(lon)
        weights = 1.0 / np.sqrt(1.0 + np.arange(self.parties))
        party = rng.choice(self.parties, n, p=weights / weights.sum()).astype(np.int32)
        reference = rng.choice(len(REFERENCES), n, p=REFERENCE_WEIGHTS).astype(np.uint8)
        circle = rng.random(n) < CIRCLE_SHARE
        radius_km = np.exp(rng.uniform(np.log(size_km[0]), np.log(size_km[1]), n))
        k = np.where(circle, 0, rng.integers(4, MAX_VERTICES + 1, n)).astype(np.int8)
        j = np.arange(MAX_VERTICES)
        spacing = 2 * np.pi / np.maximum(k, 1)
        turn = rng.uniform(0, 2 * np.pi, n)
        angle = turn[:, None] + (j + rng.uniform(-0.3, 0.3, (n, MAX_VERTICES))) * spacing[:, None]
        reach = radius_km[:, None] * rng.uniform(0.85, 1.0, (n, MAX_VERTICES))
        km_per_deg_lon = KM_PER_DEG_LAT * np.cos(np.radians(lat))
        vertex_lon = np.round(lon[:, None] + reach * np.cos(angle) / km_per_deg_lon[:, None], 6)
        vertex_lat = np.round(lat[:, None] + reach * np.sin(angle) / KM_PER_DEG_LAT, 6)
        pad = j[None, :] >= k[:, None]
        vertex_lon[pad] = np.nan
        vertex_lat[pad] = np.nan
        return VolumeColumns(
            party=party,
            center_lon=np.round(lon, 6),
            center_lat=np.round(lat, 6),
            radius_m=np.where(circle, np.round(radius_km * 1000.0, 1), np.nan),
            n_vertices=k,
            vertex_lon=vertex_lon,
            vertex_lat=vertex_lat,
            alt_lower=lower.astype(np.float64),
            alt_upper=upper.astype(np.float64),
            reference=reference,
            start=start.astype(np.int64),
            end=end.astype(np.int64),
        )


def _uniform_lon(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform longitudes over the continent outside the quiet exclusion zone."""
    width = QUIET_EXCLUSION[1] - QUIET_EXCLUSION[0]
    lon = rng.uniform(LON_RANGE[0], LON_RANGE[1] - width, n)
    return np.where(lon >= QUIET_EXCLUSION[0], lon + width, lon)


def _times(
    rng: np.random.Generator, n: int, day_s: int, lo_s: int, hi_s: int, min_minutes: int, max_minutes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of whole minutes, wholly inside [lo_s, hi_s) seconds after the day's start (``day_s``, Unix time)."""
    minutes = rng.integers(min_minutes, max_minutes + 1, n)
    free = (hi_s - lo_s) // 60 - minutes
    start = day_s + lo_s + np.floor(rng.random(n) * (free + 1)).astype(np.int64) * 60
    return start, start + minutes * 60
