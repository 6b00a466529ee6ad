"""Live tracks: predicted close approaches between tracks, with BlueSky's state-based model, over the whole Earth.

The model (BlueSky's ``StateBased`` conflict detection, its C++ ``cstatebased`` path, reproduced operation for
operation): every track flies straight at its ground speed, track and vertical speed. For an ordered pair (own
``i``, intruder ``j``), with positions in radians and ``RE = 6,371,000 m``::

    dlat = latj - lati     dlon = lonj - loni     cavelat = cos((lati + latj) / 2)
    d = RE * sqrt(dlat² + dlon²·cavelat²)                      (equirectangular, "kwikdist")
    q = atan2(dlon·cavelat, dlat);  dx, dy = d·sin q, d·cos q  (j relative to i, east/north)
    du, dv = gs·sin(trk) of i minus j, gs·cos(trk) of i minus j
    tcpa = (du·dx + dv·dy) / (du² + dv²);   dcpa² = d² - (du·dx + dv·dy)·tcpa
    horizontal loss between tcpa ∓ sqrt(max(rpz² - dcpa², 0) / (du² + dv²))
    vertical loss between the crossings of ±hpz by alt_i - alt_j + (vs_i - vs_j)·t (from 0; always if level and
    already within hpz)
    conflict: both windows overlap, the overlap starts within the look-ahead and ends after now.

Two deliberate departures, both only ever adding alerts: the longitude difference is wrapped to ±180° (BlueSky's
C++ path does not wrap, so it misses every pair across the antimeridian; its numpy path does wrap), and a pair
with exactly equal velocities that is already within ``rpz`` is in horizontal conflict for all time (BlueSky's
C++ divides 0 by 0 there and drops the pair).

The maths is BlueSky's, not the pair search: BlueSky tests all N² ordered pairs. Here candidates come from a
search that is conservative for that maths anywhere on Earth, and costs with the number of candidates:

* rows of latitude (north position at mid-look-ahead), each cut into an odd number of longitude cells sized to
  the row's latitude (one cell per row near the poles; columns wrap at the antimeridian); inside a cell the
  tracks are sorted by altitude at mid-look-ahead, so a track's neighbourhood is a few ``searchsorted`` ranges
  (its own cell forward, the cells east in its row, the cells of the next row within reach). The reach is
  bounded from the formulas themselves: relative motion over half the look-ahead plus ``rpz``, the spread of
  cos(latitude) across the rows, and for altitude ``hpz`` plus each side's climb;
* tracks are classed by vertical speed, so level traffic meets level traffic only within ``hpz``; pairs with a
  steep track are searched in two halves of the look-ahead (shorter sweeps, fewer candidates);
* a cheap screen (least distance over the time window in the same flat model, with the error of taking
  cos(mean latitude) from the two cosines bounded) leaves little more than the conflicts;
* on those, BlueSky's formulas. A pair whose outcome hangs on the last bits (numpy's ``arctan2`` is not the C
  library's to the bit; the two orders of a pair round differently) is decided by a scalar copy of the C++,
  in both orders: BlueSky reports a pair if either order flags it.

Candidates are made and screened a block of tracks at a time in reused scratch arrays: fresh temporaries of
that size cost more in page faults than the arithmetic does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np
from numpy.typing import NDArray

from deconfliction.core.errors import InvalidInput

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Bools = NDArray[np.bool_]

NM: Final = 1852.0
FT: Final = 0.3048
EARTH_RADIUS_M: Final = 6371000.0  # BlueSky's ``re`` (geo.hpp) and ``Rearth``
DEG2RAD: Final = 0.017453292519943295  # the C++ constants, so products round the same way
RAD2DEG: Final = 57.29577951308232
_TWO_PI: Final = 2.0 * math.pi
_LEVEL_DVS: Final = 1e-6  # |vs_i - vs_j| at or below this is "level" in BlueSky
_LEVEL_TOUT_S: Final = 1e4  # BlueSky's end of a level pair's vertical window
_SLACK_M: Final = 1.0  # added to every distance bound of the search and the screen (rounding, never geometry)
_REL_SLACK: Final = 1e-9
_ULPS: Final = 1e-12  # relative rounding error granted to each operation when looking for border cases
_MAX_COLS_BITS: Final = 20
_MAX_ROWS_BITS: Final = 21
_CLASS_EDGES: Final = (0.25, 2.0)  # vertical half-sweep |vs|·T/2, in units of hpz, splitting level from climbing
_STEEP: Final = 2  # classes from this one on are "steep": their pairs are searched in time slices
_SLICES_CLIMBING: Final = 2  # pairs with a steep track are searched in this many time slices
_BLOCK_PAIRS: Final = 16384  # candidates made and screened at a time (temporaries stay in cache)
_EXACT_BLOCK: Final = 2048  # pairs through the exact formulas at a time (smaller: their temporaries are many)


@dataclass(frozen=True, eq=False)
class TrackStates:
    """Tracks at one common instant, as a structure of arrays: row ``k`` is track ``k``.

    ``party`` is the owning party's index. Positions are WGS-84 degrees, altitude metres, ground speed m/s, track
    degrees true, vertical speed m/s. Rows with a non-finite value take no part in detection.
    """

    party: I64
    lat: F64
    lon: F64
    alt_m: F64
    gs_mps: F64
    trk_deg: F64
    vs_mps: F64

    def __post_init__(self) -> None:
        n = np.shape(self.lat)[0] if np.ndim(self.lat) == 1 else -1
        for name in ("lat", "lon", "alt_m", "gs_mps", "trk_deg", "vs_mps", "party"):
            dtype = np.int64 if name == "party" else np.float64
            arr = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            if arr.ndim != 1 or arr.shape[0] != n:
                raise InvalidInput(f"track states: '{name}' must be a 1-D array as long as 'lat' ({n})")
            object.__setattr__(self, name, arr)
        with np.errstate(invalid="ignore"):
            if np.any(np.abs(self.lat) > 90.0):
                raise InvalidInput("track states: latitudes must lie within [-90, 90] degrees")
            if np.any(self.gs_mps < 0.0):
                raise InvalidInput("track states: ground speeds must not be negative")

    def __len__(self) -> int:
        return int(self.lat.shape[0])

    def valid(self) -> Bools:
        """The rows that take part: every value finite."""
        ok = np.isfinite(self.lat) & np.isfinite(self.lon) & np.isfinite(self.alt_m)
        return ok & np.isfinite(self.gs_mps) & np.isfinite(self.trk_deg) & np.isfinite(self.vs_mps)


@dataclass(frozen=True)
class CdParams:
    """Protected zone (radius ``rpz_m``, half-height ``hpz_m``), look-ahead, and whether a party's own tracks
    are paired with each other. Defaults are BlueSky's: 5 NM, 1,000 ft, 300 s."""

    rpz_m: float = 5.0 * NM
    hpz_m: float = 1000.0 * FT
    lookahead_s: float = 300.0
    same_party: bool = False

    def __post_init__(self) -> None:
        for name in ("rpz_m", "hpz_m", "lookahead_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise InvalidInput(f"detection parameters: '{name}' must be a positive number, not {value!r}")


@dataclass(frozen=True, eq=False)
class Encounters:
    """Predicted conflicts, one row per unordered pair ``i < j`` (rows of the ``TrackStates``), sorted.

    Seen from ``i``: ``qdr`` bearing to ``j`` (degrees, -180..180), ``dist`` now (m), ``tcpa`` / ``dcpa`` time
    (s) and horizontal distance (m) at the closest point of approach, ``tlos`` / ``tout`` when the loss of
    separation starts and ends (s from now), ``los`` whether it has already started; ``lat_i``, ``lon_i``,
    ``alt_i`` and the same for ``j``: where each will be at the closest approach (now if it is past).
    ``candidates`` and ``screened``: pairs the search proposed and pairs that reached the exact formulas.
    """

    i: I64
    j: I64
    tcpa: F64
    dcpa: F64
    tlos: F64
    tout: F64
    qdr: F64
    dist: F64
    los: Bools
    lat_i: F64
    lon_i: F64
    alt_i: F64
    lat_j: F64
    lon_j: F64
    alt_j: F64
    candidates: int = 0
    screened: int = 0

    def __len__(self) -> int:
        return int(self.i.shape[0])

    def pairs(self) -> set[tuple[int, int]]:
        return set(zip(self.i.tolist(), self.j.tolist(), strict=True))


class _Kin(NamedTuple):
    """Per-track inputs of the formulas, computed once (``u``/``v`` exactly as the C++ computes them)."""

    latr: F64
    lonr: F64
    u: F64
    v: F64
    cos_lat: F64
    alt: F64
    vs: F64
    party: I64


def _kinematics(states: TrackStates, rows: I64) -> _Kin:
    everyone = rows.shape[0] == len(states)

    def take(values: NDArray[Any]) -> NDArray[Any]:
        return values if everyone else values[rows]

    latr = take(states.lat) * DEG2RAD
    trkr = take(states.trk_deg) * DEG2RAD
    gs = take(states.gs_mps)
    return _Kin(
        latr=latr,
        lonr=take(states.lon) * DEG2RAD,
        u=gs * np.sin(trkr),
        v=gs * np.cos(trkr),
        cos_lat=np.cos(latr),
        alt=take(states.alt_m),
        vs=take(states.vs_mps),
        party=take(states.party),
    )


def _wrap(dlon: F64) -> F64:
    """Longitude differences to [-π, π]. Those already inside keep their bits (x - 2π·0 is x), so BlueSky's
    results are untouched away from the antimeridian."""
    out: F64 = dlon - _TWO_PI * np.rint(dlon * (1.0 / _TWO_PI))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Candidate search


class _Grid(NamedTuple):
    """Tracks at time ``t_mid`` in rows of latitude and odd numbers of longitude cells per row, for pairs whose
    conflict, if any, touches [t_mid - half, t_mid + half]. Row tables are indexed by ``row - row0``."""

    t_mid: float
    half: float
    rows: I64  # per track
    cols: I64
    lam: F64  # east coordinate: radians in [0, 2π)
    north: F64  # north coordinate: metres
    zq: I64  # quantised altitude
    row_h: float
    row0: int
    col_shift: int
    row_shift: int
    z0: float
    z_quantum: float
    z_top: int
    cmin: F64  # least cos(latitude) of a track of the row or the rows either side
    kappa: F64  # bound on cos(mean latitude) / cos(own latitude) - 1 for pairs of those rows
    ncols: I64
    wide: bool  # rows so tall that |dlat| of a candidate may exceed 1 radian


def _grid(k: _Kin, p: CdParams, t_mid: float, half: float) -> _Grid:
    r_m = p.rpz_m + _SLACK_M
    umax = float(np.abs(k.u).max())
    vmax = float(np.abs(k.v).max())
    north = EARTH_RADIUS_M * k.latr + k.v * t_mid
    row_h = (r_m + 2.0 * vmax * half) * (1.0 + _REL_SLACK) + _SLACK_M
    drift = vmax * t_mid + _SLACK_M
    row_h = max(row_h, (math.pi * EARTH_RADIUS_M + 2 * drift) / 2 ** (_MAX_ROWS_BITS - 2))
    rows = np.floor(north / row_h).astype(np.int64)
    row0 = int(rows.min()) - 2
    table = np.arange(row0, int(rows.max()) + 3, dtype=np.int64)
    lo = np.clip(((table - 1) * row_h - drift) / EARTH_RADIUS_M, -math.pi / 2, math.pi / 2)
    hi = np.clip(((table + 2) * row_h + drift) / EARTH_RADIUS_M, -math.pi / 2, math.pi / 2)
    near = np.where((lo <= 0.0) & (hi >= 0.0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    cmin = np.maximum(np.cos(np.maximum(np.abs(lo), np.abs(hi))), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = np.where(cmin > 1e-9, np.cos(near) / cmin - 1.0, np.inf)
        width = (r_m + 2.0 * umax * (half + t_mid * kappa)) / (EARTH_RADIUS_M * cmin)
        ncols_f = np.where(np.isfinite(width), np.floor(_TWO_PI / np.maximum(width, 1e-300)), 1.0)
    ncols = np.clip(ncols_f, 1.0, float(2**_MAX_COLS_BITS - 1)).astype(np.int64)
    ncols -= 1 - (ncols & 1)  # odd
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(k.cos_lat > 1e-12, k.u * t_mid / (EARTH_RADIUS_M * k.cos_lat), 0.0)
    lam = np.mod(_wrap(k.lonr) + shift + math.pi, _TWO_PI)
    n = ncols[rows - row0]
    cols = np.minimum(np.floor(lam * n / _TWO_PI).astype(np.int64), n - 1)
    z = k.alt + k.vs * t_mid
    z0 = float(z.min()) - 1.0
    col_bits = int(ncols.max()).bit_length()
    z_bits = 62 - int(table.shape[0]).bit_length() - col_bits
    z_quantum = max(0.125, (float(z.max()) - z0 + 1.0) / 2 ** (z_bits - 1))
    zq = np.floor((z - z0) / z_quantum).astype(np.int64)
    wide = 2.0 * (row_h + drift) > 0.5 * EARTH_RADIUS_M
    return _Grid(
        t_mid, half, rows, cols, lam, north, zq, row_h, row0, z_bits, z_bits + col_bits, z0, z_quantum,
        2**z_bits - 1, cmin, kappa, ncols, wide,
    )  # fmt: skip


class _Bucket(NamedTuple):
    """The tracks of one vertical-speed class, sorted by (row, column, altitude)."""

    members: I64
    keys: I64
    umax: float
    vmax: float
    zmax: float  # largest |vs|·half


def _bucket(g: _Grid, k: _Kin, members: I64) -> _Bucket:
    keys = ((g.rows[members] - g.row0) << g.row_shift) + (g.cols[members] << g.col_shift) + g.zq[members]
    order = np.argsort(keys)
    members = members[order]
    return _Bucket(
        members,
        keys[order],
        float(np.abs(k.u[members]).max()),
        float(np.abs(k.v[members]).max()),
        float(np.abs(k.vs[members]).max()) * g.half,
    )


def _pairs_from(g: _Grid, k: _Kin, p: CdParams, src: _Bucket, dst: _Bucket, start: int, stop: int) -> tuple[I64, I64]:
    """Candidate pairs (a of ``src.members[start:stop]``, b of ``dst``); each unordered pair once overall when
    ``src is dst``. Queries are issued column offset by column offset so that they arrive nearly sorted, which
    is what makes ``searchsorted`` fast."""
    same = src is dst
    r_m = p.rpz_m + _SLACK_M
    a = src.members[start:stop]
    wz = (p.hpz_m + _SLACK_M + np.abs(k.vs[a]) * g.half + dst.zmax + g.z_quantum) * (1.0 + _REL_SLACK)
    z_mid = g.z0 + (g.zq[a] + 0.5) * g.z_quantum
    zlo = np.clip(np.floor((z_mid - wz - g.z0) / g.z_quantum), 0, g.z_top + 1).astype(np.int64)
    zhi = np.clip(np.floor((z_mid + wz - g.z0) / g.z_quantum), -1, g.z_top).astype(np.int64)
    wy = (r_m + (np.abs(k.v[a]) + dst.vmax) * g.half) * (1.0 + _REL_SLACK)
    row = g.rows[a]
    row_lo = np.floor((g.north[a] - wy) / g.row_h).astype(np.int64)
    row_hi = np.floor((g.north[a] + wy) / g.row_h).astype(np.int64)
    cmin = g.cmin[row - g.row0]
    with np.errstate(divide="ignore", invalid="ignore"):
        wl = (r_m + (np.abs(k.u[a]) + dst.umax) * (g.half + g.t_mid * g.kappa[row - g.row0])) * (1.0 + _REL_SLACK)
        wl = np.where(cmin > 1e-9, wl / (EARTH_RADIUS_M * cmin), np.inf)
    slots: list[I64] = [np.zeros(0, dtype=np.int64)]
    cells: list[I64] = [np.zeros(0, dtype=np.int64)]
    for drow in (0, 1) if same else (-1, 0, 1):
        idx = np.flatnonzero((row + drow >= row_lo) & (row + drow <= row_hi))
        target = row[idx] + drow
        n = g.ncols[target - g.row0]
        w = wl[idx]
        finite = w < math.pi
        lam = g.lam[a[idx]]
        with np.errstate(invalid="ignore"):
            first = np.where(finite, np.floor((lam - w) * n / _TWO_PI), 0.0).astype(np.int64)
            last = np.where(finite, np.floor((lam + w) * n / _TWO_PI), 0.0).astype(np.int64)
        count = np.where(finite, np.minimum(last - first + 1, n), n)
        if same and drow == 0:
            # Own row: only cells to the east (the own cell is scanned forward below), fewer than half of an
            # odd row, so the other track of a pair never reaches back the other way round.
            own = g.cols[a[idx]]
            first = own + 1
            count = np.maximum(np.where(finite, np.minimum(last - own, (n - 1) // 2), (n - 1) // 2), 0)
        row_key = (target - g.row0) << g.row_shift
        for step in range(int(count.max(initial=0))):
            sel = np.flatnonzero(count > step)
            slots.append(idx[sel])
            cells.append(row_key[sel] + (np.mod(first[sel] + step, n[sel]) << g.col_shift))
    slot = np.concatenate(slots)
    base = np.concatenate(cells)
    # zlo may be one past the top and zhi one below the bottom: the key then lands on the boundary of the cell
    # and the range is empty, never another cell's tracks.
    lo = np.searchsorted(dst.keys, base + zlo[slot], side="left")
    hi = np.searchsorted(dst.keys, base + zhi[slot], side="right")
    if same:  # the own cell, forward: the bucket is sorted by altitude inside it
        own_key = ((row - g.row0) << g.row_shift) + (g.cols[a] << g.col_shift) + zhi
        slot = np.concatenate([np.arange(a.shape[0], dtype=np.int64), slot])
        lo = np.concatenate([np.arange(start + 1, stop + 1, dtype=np.int64), lo])
        hi = np.concatenate([np.searchsorted(dst.keys, own_key, side="right"), hi])
    length = np.maximum(hi - lo, 0)
    ends = np.cumsum(length)
    pos = np.arange(int(ends[-1]) if ends.shape[0] else 0, dtype=np.int64) - np.repeat(ends - length - lo, length)
    return np.repeat(a[slot], length), dst.members[pos]


def _search(k: _Kin, p: CdParams, t0: float, t1: float, cls: I64, climbing: bool) -> tuple[I64, I64, int]:
    """Pairs that pass the screen for [t0, t1], each once, and how many candidates the search proposed: the
    pairs with a steep track (vertical-speed class ``cls`` >= _STEEP) when ``climbing``, else the others.
    Candidates are made and screened a block of source tracks at a time, sized to stay in cache."""
    half = 0.5 * (t1 - t0)
    g = _grid(k, p, t0 + half, half)
    members = [(c, np.flatnonzero(cls == c)) for c in range(len(_CLASS_EDGES) + 1)]
    buckets = [(c, _bucket(g, k, m)) for c, m in members if m.shape[0] > 0]
    out_a: list[I64] = [np.zeros(0, dtype=np.int64)]
    out_b: list[I64] = [np.zeros(0, dtype=np.int64)]
    proposed = 0
    work = _Work()
    for s, (c_src, src) in enumerate(buckets):
        for c_dst, dst in buckets[: s + 1]:
            if (max(c_src, c_dst) >= _STEEP) != climbing:
                continue
            start, size, total = 0, 1024, src.members.shape[0]
            while start < total:
                stop = min(start + size, total)
                a, b = _pairs_from(g, k, p, src, dst, start, stop)
                keep = np.flatnonzero(_screen(k, p, a, b, t0, t1, g.wide, work))
                out_a.append(a[keep])
                out_b.append(b[keep])
                proposed += a.shape[0]
                size = int(np.clip(_BLOCK_PAIRS * (stop - start) / max(a.shape[0], 1), 64, 65536))
                start = stop
    return np.concatenate(out_a), np.concatenate(out_b), proposed


# ----------------------------------------------------------------------------------------------------------------
# Screen and exact formulas


class _Work:
    """Scratch arrays reused block after block: fresh temporaries of this size cost more in page faults (the
    allocator hands them back to the system between blocks) than the arithmetic on them."""

    def __init__(self) -> None:
        self.size = 0
        self.f: list[F64] = []
        self.b: list[Bools] = []
        self.i: list[I64] = []

    def views(self, m: int) -> tuple[list[F64], list[Bools], list[I64]]:
        if m > self.size or not self.f:
            self.size = max(m, 2 * self.size)
            self.f = [np.empty(self.size) for _ in range(8)]
            self.b = [np.empty(self.size, dtype=np.bool_) for _ in range(3)]
            self.i = [np.empty(self.size, dtype=np.int64) for _ in range(2)]
        return [x[:m] for x in self.f], [x[:m] for x in self.b], [x[:m] for x in self.i]


def _screen(k: _Kin, p: CdParams, a: I64, b: I64, t0: float, t1: float, wide: bool, work: _Work) -> Bools:
    """A conservative test for BlueSky's conflict during [t0, t1]: within ``hpz`` and within ``rpz`` at some
    time of it, in the same flat model (cos of the mean latitude from the two cosines, its error bounded).
    The result is a view into ``work``, valid until its next use."""
    with np.errstate(all="ignore"):  # nothing here overflows short of speeds or distances beyond 1e100
        return _screen_in(k, p, a, b, t0, t1, wide, work)


def _screen_in(k: _Kin, p: CdParams, a: I64, b: I64, t0: float, t1: float, wide: bool, work: _Work) -> Bools:
    (f0, f1, f2, f3, f4, f5, f6, f7), (keep, close, far), (i0, i1) = work.views(a.shape[0])

    def pair(values: NDArray[Any], x: NDArray[Any], y: NDArray[Any]) -> None:
        np.take(values, b, out=x, mode="clip")
        np.take(values, a, out=y, mode="clip")
        np.subtract(x, y, out=x)  # the value of b minus that of a

    tc, hw = 0.5 * (t0 + t1), 0.5 * (t1 - t0)
    # Vertical: |dalt + dvs·t| <= hpz for some t of [t0, t1], i.e. |dalt + dvs·tc| <= hpz + |dvs|·hw
    pair(k.vs, f0, f1)
    pair(k.alt, f1, f2)
    np.multiply(f0, tc, out=f2)
    np.add(f2, f1, out=f2)
    np.abs(f2, out=f2)
    np.abs(f0, out=f0)
    np.multiply(f0, hw, out=f0)
    np.add(f0, p.hpz_m + _SLACK_M, out=f0)
    np.less_equal(f2, f0, out=keep)
    if not p.same_party:
        pair(k.party, i0, i1)
        np.not_equal(i0, 0, out=close)
        np.logical_and(keep, close, out=keep)
    # Horizontal: b relative to a at t is (px, py) + (dx, dy)·t; its least length over [t0, t1]
    pair(k.latr, f0, f1)  # dlat
    pair(k.lonr, f1, f2)
    np.multiply(f1, 1.0 / _TWO_PI, out=f2)
    np.rint(f2, out=f2)
    np.multiply(f2, _TWO_PI, out=f2)
    np.subtract(f1, f2, out=f1)  # dlon, wrapped
    np.take(k.cos_lat, a, out=f2, mode="clip")
    np.take(k.cos_lat, b, out=f3, mode="clip")
    np.add(f2, f3, out=f2)
    np.multiply(f2, 0.5 * EARTH_RADIUS_M, out=f2)
    np.multiply(f1, f2, out=f1)  # px
    np.multiply(f0, EARTH_RADIUS_M, out=f2)  # py
    pair(k.u, f3, f4)  # dx
    pair(k.v, f4, f5)  # dy
    np.multiply(f3, f3, out=f5)
    np.multiply(f4, f4, out=f6)
    np.add(f5, f6, out=f5)
    np.add(f5, 1e-300, out=f5)  # |d|², never 0
    np.multiply(f1, f3, out=f6)
    np.multiply(f2, f4, out=f7)
    np.add(f6, f7, out=f6)
    np.divide(f6, f5, out=f6)
    np.negative(f6, out=f6)
    np.maximum(f6, t0, out=f6)
    np.minimum(f6, t1, out=f6)  # time of least distance in [t0, t1]
    np.multiply(f3, f6, out=f3)
    np.add(f3, f1, out=f3)
    np.multiply(f4, f6, out=f4)
    np.add(f4, f2, out=f4)
    np.multiply(f3, f3, out=f3)
    np.multiply(f4, f4, out=f4)
    np.add(f3, f4, out=f3)  # least distance²
    # cos((a + b) / 2) = (cos a + cos b) / 2 / cos((a - b) / 2): px is short by at most |px|·0.15·dlat² while
    # |dlat| <= 1; _SLACK_M covers rounding (relative 1e-16 of any distance on Earth).
    if wide:
        np.abs(f0, out=f7)
        np.greater(f7, 1.0, out=far)
    np.multiply(f0, f0, out=f0)
    np.multiply(f0, 0.15, out=f0)
    np.abs(f1, out=f1)
    np.multiply(f1, f0, out=f1)
    np.add(f1, p.rpz_m + _SLACK_M, out=f1)
    np.multiply(f1, f1, out=f1)  # reach²
    np.less_equal(f3, f1, out=close)
    if wide:
        np.logical_or(close, far, out=close)
    np.logical_and(keep, close, out=keep)
    return keep


class _Exact(NamedTuple):
    conflict: Bools
    border: Bools
    tin: F64
    tout: F64
    tcpa: F64
    dcpa: F64
    qdr: F64
    dist: F64
    los: Bools


def _state_based(k: _Kin, p: CdParams, i: I64, j: I64) -> _Exact:
    """BlueSky's ``cstatebased`` for own ``i``, intruder ``j``, vectorised, same operations in the same order."""
    rpz, hpz, tlook = p.rpz_m, p.hpz_m, p.lookahead_s
    with np.errstate(divide="ignore", invalid="ignore"):
        dalt = k.alt[i] - k.alt[j]
        dvs = k.vs[i] - k.vs[j]
        los_v = np.abs(dalt) < hpz
        moving = np.abs(dvs) > _LEVEL_DVS
        cross_hi = (dalt + hpz) / -dvs
        cross_lo = (dalt - hpz) / -dvs
        first = np.where(cross_hi < cross_lo, cross_hi, cross_lo)
        tin_v = np.where(moving, np.where(first > 0.0, first, 0.0), 0.0)
        tout_v = np.where(moving, np.where(cross_lo < cross_hi, cross_hi, cross_lo), _LEVEL_TOUT_S)
        ok_v = np.where(moving, (tin_v <= tlook) & (tout_v > 0.0), los_v)

        du = k.u[i] - k.u[j]
        dv = k.v[i] - k.v[j]
        lat1 = k.latr[i]
        lat2 = k.latr[j]
        dlat = lat2 - lat1
        dlon = _wrap(k.lonr[j] - k.lonr[i])
        cavelat = np.cos(0.5 * (lat1 + lat2))
        dist = EARTH_RADIUS_M * np.sqrt(dlat * dlat + dlon * dlon * cavelat * cavelat)
        q = np.arctan2(dlon * cavelat, dlat)
        dx = dist * np.sin(q)
        dy = dist * np.cos(q)
        vreldotdx = du * dx + dv * dy
        los_h = dist < rpz
        vrel2 = du * du + dv * dv
        still = vrel2 == 0.0
        tcpa = np.where(still, 0.0, vreldotdx / vrel2)
        cpa2 = np.where(still, dist * dist, dist * dist - vreldotdx * tcpa)
        dcpa = np.sqrt(np.maximum(cpa2, 0.0))  # BlueSky: NaN when rounding makes cpa2 a hair below 0
        room = rpz * rpz - cpa2
        dt = np.where(still, np.where(los_h, np.inf, 0.0), np.sqrt(np.where(room < 0.0, 0.0, room) / vrel2))
        tin_h = tcpa - dt
        tout_h = tcpa + dt
        ok_h = ~((vreldotdx < 0.0) & ~los_h) & (los_h | (tin_h <= tlook))
        tin = np.where(tin_h < tin_v, tin_v, tin_h)
        tout = np.where(tout_v < tout_h, tout_v, tout_h)
        conflict = ok_v & ok_h & (tin <= tlook) & (tin < tout) & (tout > 0.0)
        # Outcomes that a last-bit difference could flip (numpy's atan2 is not the C library's to the bit; the
        # other order of the pair rounds differently) are re-decided in scalar code. Bounds on the rounding
        # error, with ~5,000 ulps to spare: of du·dx + dv·dy (q off by an ulp moves dx, dy by d·ulp), then of
        # tcpa, of rpz² - dcpa² (cancellation) and of dt = sqrt of it while it is well above its own error.
        e_v = _ULPS * (np.abs(du * dx) + np.abs(dv * dy) + np.sqrt(vrel2) * dist)
        e_tcpa = e_v / vrel2 + _ULPS * np.abs(tcpa)
        e_room = _ULPS * (dist * dist + rpz * rpz + np.abs(vreldotdx * tcpa)) + np.abs(tcpa) * e_v
        e_room += np.abs(vreldotdx) * e_tcpa
        e_t = e_tcpa + dt * e_room / np.maximum(room, 2.0 * e_room) + _ULPS * (np.abs(tcpa) + dt + tlook)
        border = ok_v & (
            (np.abs(vreldotdx) <= e_v)
            | (np.abs(room) <= 2.0 * e_room)
            | (np.abs(tin_h - tlook) <= e_t)
            | (np.abs(tin - tlook) <= e_t)
            | (np.abs(tout - tin) <= 2.0 * e_t)
            | (np.abs(tout) <= e_t)
        )
    return _Exact(conflict, border & ~still, tin, tout, tcpa, dcpa, q * RAD2DEG, dist, los_h & los_v)


def _state_based_scalar(k: _Kin, p: CdParams, i: int, j: int) -> bool:
    """The C++ ``cstatebased`` pair test line by line (``math`` is the C library, as in the extension)."""
    rpz, hpz, tlook = p.rpz_m, p.hpz_m, p.lookahead_s
    dalt = float(k.alt[i] - k.alt[j])
    dvs = float(k.vs[i] - k.vs[j])
    if abs(dvs) > _LEVEL_DVS:
        cross_hi = (dalt + hpz) / -dvs
        cross_lo = (dalt - hpz) / -dvs
        first = cross_hi if cross_hi < cross_lo else cross_lo
        tin_v = first if 0.0 < first else 0.0
        tout_v = cross_hi if cross_lo < cross_hi else cross_lo
        if not (tin_v <= tlook and tout_v > 0.0):
            return False
    elif abs(dalt) < hpz:
        tin_v, tout_v = 0.0, _LEVEL_TOUT_S
    else:
        return False
    du = float(k.u[i] - k.u[j])
    dv = float(k.v[i] - k.v[j])
    lat1, lat2 = float(k.latr[i]), float(k.latr[j])
    dlat = lat2 - lat1
    dlon = float(_wrap(np.array([k.lonr[j] - k.lonr[i]]))[0])
    cavelat = math.cos(0.5 * (lat1 + lat2))
    dist = EARTH_RADIUS_M * math.sqrt(dlat * dlat + dlon * dlon * cavelat * cavelat)
    q = math.fmod(math.atan2(dlon * cavelat, dlat), 360.0)
    dx = dist * math.sin(q)
    dy = dist * math.cos(q)
    vreldotdx = du * dx + dv * dy
    los_h = dist < rpz
    if vreldotdx < 0.0 and not los_h:
        return False
    vrel2 = du * du + dv * dv
    if vrel2 == 0.0:
        tin_h, tout_h = (-math.inf, math.inf) if los_h else (0.0, 0.0)
    else:
        tcpa = vreldotdx / vrel2
        cpa2 = dist * dist - vreldotdx * tcpa
        room = rpz * rpz - cpa2
        dt = math.sqrt((0.0 if room < 0.0 else room) / vrel2)
        tin_h, tout_h = tcpa - dt, tcpa + dt
    if not (los_h or tin_h <= tlook):
        return False
    tin = tin_v if tin_h < tin_v else tin_h
    tout = tout_v if tout_v < tout_h else tout_h
    return tin <= tlook and tin < tout and tout > 0.0


def _encounters(k: _Kin, p: CdParams, rows: I64, i: I64, j: I64, candidates: int) -> Encounters:
    """Exact formulas on the pairs (i < j, indices into ``k``), border cases re-decided, the result assembled."""
    screened = int(i.shape[0])
    parts: list[tuple[I64, I64, _Exact]] = []
    for start in range(0, i.shape[0], _EXACT_BLOCK):
        ii, jj = i[start : start + _EXACT_BLOCK], j[start : start + _EXACT_BLOCK]
        ex = _state_based(k, p, ii, jj)
        conflict = ex.conflict
        for n in np.flatnonzero(ex.border).tolist():
            a, b = int(ii[n]), int(jj[n])
            conflict[n] = _state_based_scalar(k, p, a, b) or _state_based_scalar(k, p, b, a)
        sel = np.flatnonzero(conflict)
        parts.append((ii[sel], jj[sel], _Exact._make(x[sel] for x in ex)))
    if not parts:  # no pairs: the formulas on nothing give the empty arrays
        parts.append((i, j, _state_based(k, p, i, j)))
    i = np.concatenate([x[0] for x in parts])
    j = np.concatenate([x[1] for x in parts])
    ex = _Exact._make(np.concatenate(f) for f in zip(*(x[2] for x in parts), strict=True))
    when = np.maximum(ex.tcpa, 0.0)
    ends = []
    for side in (i, j):
        cos_lat = np.maximum(k.cos_lat[side], 1e-12)
        lat = (k.latr[side] + k.v[side] * when / EARTH_RADIUS_M) * RAD2DEG
        lon = (k.lonr[side] + k.u[side] * when / (EARTH_RADIUS_M * cos_lat)) * RAD2DEG
        ends.append((np.clip(lat, -90.0, 90.0), np.mod(lon + 180.0, 360.0) - 180.0, k.alt[side] + k.vs[side] * when))
    return Encounters(
        i=rows[i],
        j=rows[j],
        tcpa=ex.tcpa,
        dcpa=ex.dcpa,
        tlos=ex.tin,
        tout=ex.tout,
        qdr=ex.qdr,
        dist=ex.dist,
        los=ex.los,
        lat_i=ends[0][0],
        lon_i=ends[0][1],
        alt_i=ends[0][2],
        lat_j=ends[1][0],
        lon_j=ends[1][1],
        alt_j=ends[1][2],
        candidates=candidates,
        screened=screened,
    )


def detect(states: TrackStates, params: CdParams | None = None) -> Encounters:
    """Every pair of tracks (of different parties unless ``params.same_party``) in predicted conflict."""
    p = params or CdParams()
    rows = np.flatnonzero(states.valid()).astype(np.int64)
    k = _kinematics(states, rows)
    n = rows.shape[0]
    if n < 2:
        return _encounters(k, p, rows, np.zeros(0, np.int64), np.zeros(0, np.int64), 0)
    t = p.lookahead_s
    # The search runs on the tracks in grid order, so that the tracks of a block sit close in memory.
    g = _grid(k, p, 0.5 * t, 0.5 * t)
    near = np.argsort(((g.rows - g.row0) << g.row_shift) + (g.cols << g.col_shift))
    local = _Kin._make(x[near] for x in k)
    # Vertical-speed classes: pairs with a steep track are searched in time slices (shorter sweeps, fewer
    # candidates), the others over the whole look-ahead at once.
    cls = np.searchsorted(np.array(_CLASS_EDGES) * p.hpz_m, np.abs(local.vs) * (0.5 * t), side="left")
    slices = _SLICES_CLIMBING if np.any(cls >= _STEEP) else 0
    found: list[I64] = []
    candidates = 0
    for t0, t1, climbing in [(0.0, t, False)] + [(t * s / slices, t * (s + 1) / slices, True) for s in range(slices)]:
        a, b, proposed = _search(local, p, t0, t1, cls, climbing)
        candidates += proposed
        a, b = near[a], near[b]
        found.append(np.minimum(a, b) * n + np.maximum(a, b))
    pair = np.sort(np.concatenate(found))
    if slices > 1:  # a pair can be found in two slices
        pair = pair[np.concatenate([pair[:1] == pair[:1], pair[1:] != pair[:-1]])]
    return _encounters(k, p, rows, pair // n, pair % n, candidates)


def detect_reference(states: TrackStates, params: CdParams | None = None) -> Encounters:
    """The same formulas on all N² pairs, no search and no screen: O(N²), for tests and small N."""
    p = params or CdParams()
    rows = np.flatnonzero(states.valid()).astype(np.int64)
    k = _kinematics(states, rows)
    i, j = np.triu_indices(rows.shape[0], k=1)
    i, j = i.astype(np.int64), j.astype(np.int64)
    if not p.same_party:
        keep = k.party[i] != k.party[j]
        i, j = i[keep], j[keep]
    return _encounters(k, p, rows, i, j, int(i.shape[0]))
