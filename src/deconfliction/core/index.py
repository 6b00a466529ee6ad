"""An in-memory spatio-temporal index of live volumes, for the strategic check.

Why not an R-tree: footprints live on the ellipsoid, cross the antimeridian and cover poles, and the index
changes on every declaration. A fixed grid of near-equal-area cells (bands of ``cell_deg`` latitude, each cut into
as many longitude cells as keep them roughly square) plus hour buckets handles all of that with dictionary look-ups:

- every volume is bounded by a spherical cap (centre n-vector, angle) that is conservative for the ellipsoid;
- it is registered in each cell its cap touches, and in each hour bucket its time window touches (volumes longer
  than ``long_s``, such as protected sites valid for months, go into one per-cell bucket instead);
- a query gathers the slots of the cells and hours it touches, then filters them with numpy on time, altitude
  (conservative across references), owner and cap distance. Only survivors reach the exact geodesic test.

The index never decides a conflict: it must only never drop a pair that could conflict.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from deconfliction.core.volumes import (
    GEOID_UNDULATION_M,
    TERRAIN_ELEVATION_M,
    AltitudeBand,
    AltitudeReference,
    Buffers,
    Volume4D,
)

# The smallest radius of curvature of WGS84 (meridional, at the equator). A geodesic of length s spans at most
# s / R_MIN radians between the n-vectors of its ends, so caps built with it are never too small.
R_MIN_M = 6_335_439.0
_SLACK_RAD = 1e-9

NO_GROUP = -1
NEAR_M = 100_000.0  # ``near``: how far around every volume a point counts as near it (a reach of 333 m/s × 300 s)

# (object type, object id, volume number)
Key = tuple[str, str, int]
G = TypeVar("G", bound=np.generic)


def wgs84_bounds(band: AltitudeBand | None) -> tuple[float, float]:
    """A WGS84 height range that surely holds the band wherever it is (for coarse filtering only)."""
    if band is None:
        return (-math.inf, math.inf)
    lower, upper = band.lower, band.upper
    if band.reference is AltitudeReference.AGL:
        lower, upper = lower + TERRAIN_ELEVATION_M[0], upper + TERRAIN_ELEVATION_M[1]
    if band.reference is not AltitudeReference.WGS84:
        lower, upper = lower + GEOID_UNDULATION_M[0], upper + GEOID_UNDULATION_M[1]
    return (lower, upper)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the index keeps of a volume: a bounding cap, the time window (epoch seconds), the altitude band."""

    center_lon: float
    center_lat: float
    cap_radius_m: float
    start_s: float
    end_s: float
    altitude: AltitudeBand | None

    @classmethod
    def of(cls, volume: Volume4D) -> Envelope:
        fp = volume.footprint
        return cls(
            fp.center_lon,
            fp.center_lat,
            fp.cap_radius_m,
            volume.time.start.timestamp(),
            volume.time.end.timestamp(),
            volume.altitude,
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored volume that may conflict: its key, its owner, the volume itself for the exact test, and the priority
    its object was indexed with (what a conflict's acknowledgement deadline is set by)."""

    key: Key
    volume: Volume4D
    owner: str
    priority: int | None


class SpatioTemporalIndex:
    """Live volumes keyed by ``(object type, object id, volume number)``.

    To hold a million volumes in little memory, the index keeps numbers in numpy columns and each volume only as
    its stored JSON text (``payload``); ``decode`` turns those back into a ``Volume4D`` when a candidate needs the
    exact test, and the most recently used volumes are kept decoded.
    """

    def __init__(
        self,
        decode: Callable[[str], Volume4D],
        cell_deg: float = 0.5,
        bucket_s: int = 3600,
        long_s: int = 48 * 3600,
        cache_size: int = 50_000,
    ) -> None:
        self._decode = decode
        self._cell = cell_deg
        self._bucket_s = bucket_s
        self._long_s = long_s
        n_bands = math.ceil(180.0 / cell_deg)
        self._n_lon = [
            max(1, round(360.0 * math.cos(math.radians(-90.0 + (b + 0.5) * cell_deg)) / cell_deg))
            for b in range(n_bands)
        ]
        self._band_offset = [0]
        for n in self._n_lon:
            self._band_offset.append(self._band_offset[-1] + n)
        self._buckets: dict[int, list[int]] = {}
        self._slot_of: dict[Key, int] = {}
        self._keys: list[Key | None] = []
        self._payloads: list[str] = []
        self._owners: list[str] = []
        self._priorities: list[int | None] = []
        self._cache: OrderedDict[int, Volume4D] = OrderedDict()
        self._cache_size = cache_size
        self._free: list[int] = []
        self._party_ids: dict[str, int] = {}
        cap = 1024
        self._xyz: npt.NDArray[np.float64] = np.zeros((cap, 3))
        self._latlon: npt.NDArray[np.float64] = np.zeros((cap, 2))
        self._ang: npt.NDArray[np.float64] = np.zeros(cap)
        self._t: npt.NDArray[np.float64] = np.zeros((cap, 2))
        self._alt: npt.NDArray[np.float64] = np.zeros((cap, 2))
        self._owner: npt.NDArray[np.int32] = np.full(cap, -1, dtype=np.int32)
        self._group: npt.NDArray[np.int32] = np.full(cap, NO_GROUP, dtype=np.int32)
        self._kind: npt.NDArray[np.int8] = np.zeros(cap, dtype=np.int8)
        self._near: dict[int, int] = {}  # cell → how many volumes lie within NEAR_M of it
        self._near_cells: npt.NDArray[np.int64] | None = None
        self._n_lon_arr = np.array(self._n_lon, dtype=np.int64)
        self._band_offset_arr = np.array(self._band_offset[:-1], dtype=np.int64)

    def __len__(self) -> int:
        return len(self._slot_of)

    # -- writes ---

    def add(
        self,
        key: Key,
        envelope: Envelope,
        payload: str,
        owner: str,
        group: str | None,
        kind: int,
        volume: Volume4D | None = None,
        priority: int | None = None,
    ) -> None:
        """Index a volume under ``key`` (replacing what the key held). ``kind`` is a small int the caller defines;
        ``volume``, when the caller has it decoded already, saves decoding it again soon; ``priority`` is handed back
        with it as a candidate (the index does not use it)."""
        if key in self._slot_of:
            self.remove(key)
        slot = self._free.pop() if self._free else self._grow()
        lat, lon = math.radians(envelope.center_lat), math.radians(envelope.center_lon)
        self._xyz[slot] = (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))
        self._latlon[slot] = (envelope.center_lat, envelope.center_lon)
        self._ang[slot] = envelope.cap_radius_m / R_MIN_M + _SLACK_RAD
        self._t[slot] = (envelope.start_s, envelope.end_s)
        self._alt[slot] = wgs84_bounds(envelope.altitude)
        self._owner[slot] = self._party_int(owner)
        self._group[slot] = NO_GROUP if group is None else self._party_int("coalition:" + group)
        self._kind[slot] = kind
        self._slot_of[key] = slot
        self._keys[slot] = key
        self._payloads[slot] = payload
        self._owners[slot] = owner
        self._priorities[slot] = priority
        if volume is not None:
            self._remember(slot, volume)
        for bucket in self._bucket_keys(slot):
            self._buckets.setdefault(bucket, []).append(slot)
        for cell in self._near_of(slot):
            self._near[cell] = self._near.get(cell, 0) + 1
        self._near_cells = None

    def remove(self, key: Key) -> bool:
        slot = self._slot_of.pop(key, None)
        if slot is None:
            return False
        for bucket in self._bucket_keys(slot):
            members = self._buckets[bucket]
            members.remove(slot)
            if not members:
                del self._buckets[bucket]
        for cell in self._near_of(slot):
            left = self._near[cell] - 1
            if left:
                self._near[cell] = left
            else:
                del self._near[cell]
        self._near_cells = None
        self._keys[slot] = None
        self._payloads[slot] = ""
        self._cache.pop(slot, None)
        self._owner[slot] = -1
        self._free.append(slot)
        return True

    def remove_ended(self, now_s: float) -> list[Key]:
        """Drop every volume whose window ended at or before ``now_s``; returns their keys."""
        n = len(self._keys)
        ended = np.nonzero((self._owner[:n] >= 0) & (self._t[:n, 1] <= now_s))[0]
        keys = [k for k in (self._keys[int(s)] for s in ended) if k is not None]
        for key in keys:
            self.remove(key)
        return keys

    # -- queries ---

    def near(self, lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Which points (degrees) lie in a cell within ``NEAR_M`` of some volume: a vectorized first sieve, so that
        only those need a ``candidates`` query. Conservative: a point within NEAR_M of a volume is always near."""
        if self._near_cells is None:
            self._near_cells = np.array(sorted(self._near), dtype=np.int64)
        if len(self._near_cells) == 0:
            return np.zeros(len(lat), dtype=bool)
        band = np.clip(np.floor((lat + 90.0) / self._cell).astype(np.int64), 0, len(self._n_lon) - 1)
        n = self._n_lon_arr[band]
        idx = np.floor((lon + 180.0) / 360.0 * n).astype(np.int64) % n
        return np.isin(self._band_offset_arr[band] + idx, self._near_cells)

    def candidates(
        self,
        volume: Volume4D,
        buffers: Buffers,
        exclude_owner: str,
        exclude_group: str | None,
        kinds: Iterable[int],
    ) -> list[Candidate]:
        """Stored volumes of other owners (and other groups, when ``exclude_group`` is given) that may conflict."""
        fp = volume.footprint
        lat, lon = math.radians(fp.center_lat), math.radians(fp.center_lon)
        xyz = np.array((math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)))
        reach = (fp.cap_radius_m + buffers.horizontal_m) / R_MIN_M + _SLACK_RAD
        t0 = volume.time.start.timestamp() - buffers.seconds
        t1 = volume.time.end.timestamp() + buffers.seconds
        gathered: list[int] = []
        for bucket in self._query_bucket_keys(fp.center_lat, fp.center_lon, reach, t0, t1):
            members = self._buckets.get(bucket)
            if members:
                gathered.extend(members)
        if not gathered:
            return []
        slots = np.unique(np.fromiter(gathered, dtype=np.int64, count=len(gathered)))
        lo, hi = wgs84_bounds(volume.altitude)
        t, alt = self._t[slots], self._alt[slots]
        keep = (t[:, 0] < t1) & (t[:, 1] > t0)
        keep &= (alt[:, 0] < hi + buffers.vertical_m) & (alt[:, 1] > lo - buffers.vertical_m)
        keep &= self._owner[slots] != self._party_ids.get(exclude_owner, -2)
        if exclude_group is not None:
            keep &= self._group[slots] != self._party_ids.get("coalition:" + exclude_group, -2)
        kind_of = self._kind[slots]
        wanted = np.zeros(len(slots), dtype=bool)
        for kind in kinds:
            wanted |= kind_of == kind
        keep &= wanted
        slots = slots[keep]
        cos_angle = np.clip(self._xyz[slots] @ xyz, -1.0, 1.0)
        slots = slots[np.arccos(cos_angle) <= self._ang[slots] + reach]
        out = []
        for s in slots.tolist():
            key = self._keys[s]
            assert key is not None
            out.append(Candidate(key, self._volume(s), self._owners[s], self._priorities[s]))
        return out

    # -- internals ---

    def _party_int(self, party: str) -> int:
        return self._party_ids.setdefault(party, len(self._party_ids))

    def _grow(self) -> int:
        slot = len(self._keys)
        if slot == len(self._ang):
            new = 2 * slot
            self._xyz = _resized(self._xyz, new)
            self._latlon = _resized(self._latlon, new)
            self._ang = _resized(self._ang, new)
            self._t = _resized(self._t, new)
            self._alt = _resized(self._alt, new)
            self._owner = _resized(self._owner, new, -1)
            self._group = _resized(self._group, new, NO_GROUP)
            self._kind = _resized(self._kind, new)
        self._keys.append(None)
        self._payloads.append("")
        self._owners.append("")
        self._priorities.append(None)
        return slot

    def _volume(self, slot: int) -> Volume4D:
        volume = self._cache.get(slot)
        if volume is None:
            volume = self._decode(self._payloads[slot])
            self._remember(slot, volume)
        else:
            self._cache.move_to_end(slot)
        return volume

    def _remember(self, slot: int, volume: Volume4D) -> None:
        self._cache[slot] = volume
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _near_of(self, slot: int) -> list[int]:
        lat, lon = self._latlon[slot].tolist()  # not unpacked from the row: numpy then formats an IndexError
        return self._cells(lat, lon, float(self._ang[slot]) + NEAR_M / R_MIN_M)

    def _bucket_keys(self, slot: int) -> list[int]:
        lat, lon = self._latlon[slot].tolist()
        t0, t1 = self._t[slot].tolist()
        return self._query_bucket_keys(lat, lon, float(self._ang[slot]), t0, t1, registering=True)

    def _query_bucket_keys(
        self, lat: float, lon: float, ang: float, t0: float, t1: float, registering: bool = False
    ) -> list[int]:
        cells = self._cells(lat, lon, ang)
        hours = range(math.floor(t0 / self._bucket_s), math.floor(t1 / self._bucket_s) + 1)
        if registering:
            if t1 - t0 > self._long_s:
                return [(c << 32) | 0xFFFFFFFF for c in cells]
            return [(c << 32) | h for c in cells for h in hours]
        # A query looks in the hour buckets it spans and in the long-lived bucket of each cell.
        return [(c << 32) | h for c in cells for h in (*hours, 0xFFFFFFFF)]

    def _cells(self, lat: float, lon: float, ang: float) -> list[int]:
        reach = math.degrees(ang)
        lat_lo, lat_hi = lat - reach, lat + reach
        n_bands = len(self._n_lon)
        b0 = max(0, math.floor((lat_lo + 90.0) / self._cell))
        b1 = min(n_bands - 1, math.floor((lat_hi + 90.0) / self._cell))
        if lat_hi >= 90.0 or lat_lo <= -90.0:
            dlon = 180.0  # the cap holds a pole: every longitude
        else:
            s = math.sin(ang) / math.cos(math.radians(lat))
            dlon = 180.0 if s >= 1.0 else math.degrees(math.asin(s))
        cells: list[int] = []
        for band in range(b0, b1 + 1):
            n = self._n_lon[band]
            base = self._band_offset[band]
            if dlon >= 180.0:
                cells.extend(range(base, base + n))
                continue
            i0 = math.floor((lon - dlon + 180.0) / 360.0 * n)
            i1 = math.floor((lon + dlon + 180.0) / 360.0 * n)
            if i1 - i0 + 1 >= n:
                cells.extend(range(base, base + n))
            elif 0 <= i0 and i1 < n:
                cells.extend(range(base + i0, base + i1 + 1))
            else:  # across the antimeridian
                cells.extend(base + (i % n) for i in range(i0, i1 + 1))
        return cells


def _resized(a: npt.NDArray[G], n: int, fill: float = 0.0) -> npt.NDArray[G]:
    out = np.full((n, *a.shape[1:]), fill, dtype=a.dtype)
    out[: len(a)] = a
    return out
