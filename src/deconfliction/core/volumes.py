"""4D volumes (footprint × altitude band × time window): parsing, validation and overlap decisions.

Footprints are GeoJSON geometries in [lon, lat] whose edges are geodesics on WGS84; a ring bounds the smaller
of the two regions it separates, so rings may cross the antimeridian or enclose a pole. ``Point`` and
``LineString`` footprints carry ``radius_m`` (a geodesic circle, a corridor); on polygons it is an outward
buffer. The geodesy lives in :mod:`deconfliction.core.geodesy`.

Overlap is decided time first, then altitude, then a cheap bounding-cap test, then the footprint
(:func:`volumes_overlap`), every binary decision being exactly symmetric in its arguments.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, NoReturn, cast

import numpy as np
import orjson

from deconfliction.core import geodesy as geo
from deconfliction.core import rings
from deconfliction.core.errors import InvalidVolume

# Geoid undulation N = h(WGS84) − H(AMSL) lies within [-107, +86] m everywhere (EGM2008 extremes: ≈ -106.6 m
# south of India, ≈ +85.8 m over New Guinea). Without a geoid model we widen by this range, which never
# misses a conflict.
GEOID_UNDULATION_M = (-107.0, 86.0)
# Terrain elevation (AMSL = AGL + terrain) runs from the Dead Sea shore to the top of Everest.
TERRAIN_ELEVATION_M = (-430.0, 8_849.0)
ALTITUDE_RANGE_M = (-1_000.0, 100_000.0)
# Beyond this from their centre, footprints distort too much in one frame to decide to the metre.
MAX_EXTENT_M = 5_000_000.0


class AltitudeReference(StrEnum):
    WGS84 = "WGS84"  # height above the ellipsoid
    AMSL = "AMSL"  # above mean sea level (the geoid)
    AGL = "AGL"  # above the ground below


@dataclass(frozen=True, slots=True)
class AltitudeBand:
    lower: float
    upper: float
    reference: AltitudeReference


@dataclass(frozen=True, slots=True)
class TimeWindow:
    start: datetime  # aware, UTC
    end: datetime


@dataclass(frozen=True, slots=True)
class VolumeLimits:
    max_vertices: int = 10_000
    max_area_km2: float = 250_000.0


@dataclass(frozen=True, slots=True)
class Buffers:
    horizontal_m: float = 0.0
    vertical_m: float = 0.0
    seconds: float = 0.0


FootprintKind = Literal["polygon", "circle", "corridor"]
_KINDS: dict[str, FootprintKind] = {"point": "circle", "line": "corridor", "polygon": "polygon"}
_GEOJSON_KINDS: dict[str, FootprintKind] = {
    "Point": "circle",
    "LineString": "corridor",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}


def _vertex_count(gtype: str, coords: Any) -> int:
    """Positions in validated GeoJSON coordinates (every ring's closing position included), as the shape has them."""
    if gtype == "Point":
        return 1
    if gtype == "LineString":
        return len(coords)
    polys = [coords] if gtype == "Polygon" else coords
    return sum(len(ring) for poly in polys for ring in poly)


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Footprint:
    """A validated footprint. Immutable; built only by :func:`parse_footprint` or :meth:`from_trusted`.

    ``geojson`` is shared, not copied: treat it as read-only.
    """

    geojson: dict[str, Any]  # the geometry as given, normalised to lists of floats
    radius_m: float | None
    kind: FootprintKind
    vertex_count: int
    _lazy: dict[str, Any]  # the shape, the area and an ordering text, each computed on first use

    @classmethod
    def from_trusted(cls, geojson: Mapping[str, Any], radius_m: float | None) -> Footprint:
        """Rebuild a footprint that was validated before (e.g. read back from storage), skipping validation. Its
        shape is built on first use: a footprint only listed or shown never needs it."""
        gtype, coords = geojson["type"], geojson["coordinates"]
        count = _vertex_count(gtype, coords)
        return cls({"type": gtype, "coordinates": coords}, radius_m or None, _GEOJSON_KINDS[gtype], count, {})

    @property
    def _shape(self) -> geo.Shape:
        shape = self._lazy.get("shape")
        if shape is None:  # two threads may both build it: the same shape, no harm
            gtype, coords = self.geojson["type"], self.geojson["coordinates"]
            shape = self._lazy["shape"] = geo.shape_from_geojson(gtype, coords, float(self.radius_m or 0.0))
        return cast(geo.Shape, shape)

    @property
    def center_lon(self) -> float:
        return self._shape.center[0]

    @property
    def center_lat(self) -> float:
        return self._shape.center[1]

    @property
    def cap_radius_m(self) -> float:
        """Every point of the footprint lies within this geodesic distance of the centre (never too small)."""
        return self._shape.core_cap + self._shape.radius

    @property
    def area_m2(self) -> float:
        """Geodesic area including any radius; computed on first use for trusted footprints."""
        if "area" not in self._lazy:
            self._lazy["area"] = rings.area(self._shape)
        return float(self._lazy["area"])

    def _order_key(self) -> tuple[float, float, float, int]:
        return (self.center_lon, self.center_lat, self._shape.radius, self.vertex_count)

    def _order_text(self) -> str:
        if "text" not in self._lazy:
            self._lazy["text"] = f"{self.kind}|{self.radius_m!r}|{self.geojson!r}"
        return str(self._lazy["text"])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Footprint):
            return NotImplemented
        return (self.kind, self.radius_m, self.geojson) == (other.kind, other.radius_m, other.geojson)

    def __hash__(self) -> int:
        return hash((self.kind, self.radius_m, *self._order_key()))

    def __repr__(self) -> str:
        return f"Footprint({self.kind}, center=({self.center_lon:.6f}, {self.center_lat:.6f}), n={self.vertex_count})"


@dataclass(frozen=True, slots=True)
class Volume4D:
    footprint: Footprint
    altitude: AltitudeBand | None  # None: from the surface up, unlimited (protected sites)
    time: TimeWindow


@dataclass(frozen=True, slots=True)
class Overlap:
    # GeoJSON Polygon/MultiPolygon: buffer(a, h/2) ∩ buffer(b, h/2). Only lists and finite floats under its
    # "coordinates" (checked where it is drawn, or read from JSON): the record embeds its JSON unchecked.
    footprint: dict[str, Any]
    altitude_a: AltitudeBand | None  # the overlapping band in a's reference
    altitude_b: AltitudeBand | None  # ... and in b's
    time: TimeWindow
    _footprint_json: bytes | None = dataclasses.field(default=None, init=False, compare=False, repr=False)

    @property
    def footprint_json(self) -> bytes:
        """The footprint's canonical JSON (sorted keys), written once for the conflict's row and its record entry."""
        if self._footprint_json is None:
            object.__setattr__(self, "_footprint_json", orjson.dumps(self.footprint, option=orjson.OPT_SORT_KEYS))
        return cast(bytes, self._footprint_json)


# --- parsing ------------------------------------------------------------------------------------------------

_NESTING = {
    "Point": "a single [lon, lat] position",
    "LineString": "a list of [lon, lat] positions",
    "Polygon": "a list of rings, each a list of [lon, lat] positions",
    "MultiPolygon": "a list of polygons, each a list of rings of [lon, lat] positions",
}


def _fail(message: str, field: str, **details: Any) -> NoReturn:
    raise InvalidVolume(message, {"field": field, **details})


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    return f"{type(value).__name__} {value!r}"[:60]


_JSON_NUMBERS = (int, float)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: float) -> bool:
    return math.isfinite(value) if not isinstance(value, int) else abs(value) < 2**1023


def _list(value: Any, path: str, gtype: str) -> list[Any] | tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        hint = f"{gtype} coordinates are {_NESTING[gtype]} (is a level of nesting missing?)"
        _fail(f"{path} must be a list, got {_describe(value)}: {hint}.", path)
    return value


def _position(value: Any, path: str, gtype: str) -> None:
    if not isinstance(value, (list, tuple)):
        _fail(
            f"{path} must be a [lon, lat] position, got {_describe(value)}: {gtype} coordinates are "
            f"{_NESTING[gtype]} (is a level of nesting missing?).",
            path,
        )
    if any(isinstance(v, (list, tuple)) for v in value):
        _fail(
            f"{path} holds lists where a [lon, lat] position was expected: one level of nesting too many; "
            f"{gtype} coordinates are {_NESTING[gtype]}.",
            path,
        )
    if len(value) != 2:
        hint = " Give heights in the altitude band, not in positions." if len(value) == 3 else ""
        _fail(f"{path} must be a position of exactly two numbers [lon, lat], got {len(value)}.{hint}", path)
    for v, name in ((value[0], "longitude"), (value[1], "latitude")):
        if not _is_number(v):
            _fail(f"{path} {name} must be a number in degrees, got {_describe(v)}.", path)
        if not _finite(v):
            _fail(f"{path} {name} must be a finite number of degrees, got {v}.", path)
    lon, lat = value
    if not -180.0 <= lon <= 180.0:
        _fail(f"{path} longitude {lon} is outside [-180, 180]; positions are [lon, lat] (swapped?).", path)
    if not -90.0 <= lat <= 90.0:
        _fail(f"{path} latitude {lat} is outside [-90, 90]; positions are [lon, lat] (swapped?).", path)


def _path(value: Any, path: str, gtype: str, ring: bool) -> geo.Array:
    positions = _list(value, path, gtype)
    for i, p in enumerate(positions):  # the common JSON case is checked inline; _position explains the rest
        if not (type(p) is list and len(p) == 2 and type(p[0]) in _JSON_NUMBERS and type(p[1]) in _JSON_NUMBERS):
            _position(p, f"{path}[{i}]", gtype)
        elif not (-180.0 <= p[0] <= 180.0 and -90.0 <= p[1] <= 90.0):  # NaN fails too
            _position(p, f"{path}[{i}]", gtype)
    need = 4 if ring else 2
    if len(positions) < need:
        what = "A ring needs at least 4 (3 corners, then the first repeated)" if ring else "A line needs 2"
        _fail(f"{path} has {len(positions)} positions. {what}.", path)
    arr = np.array(positions, dtype=np.float64)  # every position is now two finite numbers within range
    if ring and list(positions[0]) != list(positions[-1]):
        _fail(
            f"{path} is not closed: its last position {list(positions[-1])} must repeat its first "
            f"{list(positions[0])}.",
            path,
        )
    return arr


def _radius(value: Any, gtype: str) -> float | None:
    field = "footprint.radius_m"
    needs = gtype in ("Point", "LineString")
    what = "the circle's radius" if gtype == "Point" else "the corridor's half-width"
    if value is None:
        if needs:
            _fail(f"A {gtype} footprint needs radius_m > 0 ({what} in metres).", field)
        return None
    if not _is_number(value) or not _finite(value):
        _fail(f"radius_m must be a finite number of metres, got {_describe(value)}.", field)
    if value < 0:
        _fail(f"radius_m must not be negative (got {value}); omit it or use 0 for no buffer.", field)
    if value == 0 and needs:
        _fail(f"A {gtype} footprint needs radius_m > 0 ({what} in metres), got 0.", field)
    return float(value) or None


def _rough_count(gtype: str, coords: Any) -> int:
    """Positions in ``coords``, counted before validating them so huge inputs are refused cheaply."""
    depth = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}[gtype]
    items = [coords]
    for _ in range(depth - 1):
        items = [c for item in items if isinstance(item, (list, tuple)) for c in item]
    return sum(len(item) if isinstance(item, (list, tuple)) else 0 for item in items) if depth else 1


def parse_footprint(geometry: Any, radius_m: Any, limits: VolumeLimits = VolumeLimits()) -> Footprint:
    """Validate a GeoJSON footprint (+ radius) and build it; raises :class:`InvalidVolume` saying what to fix."""
    if not isinstance(geometry, Mapping):
        _fail('The footprint must be a GeoJSON geometry object such as {"type": "Polygon", ...}.', "footprint")
    gtype = geometry.get("type")
    if gtype not in _NESTING:
        use = "use Polygon, MultiPolygon, Point (with radius_m) or LineString (with radius_m)"
        _fail(f"Footprint type {gtype!r} is not supported; {use}.", "footprint.type", allowed=list(_NESTING))
    if extra := sorted(str(k) for k in geometry if k not in ("type", "coordinates", "bbox")):
        _fail(f"The footprint has unknown members {extra}; a geometry has only type and coordinates.", "footprint")
    if "coordinates" not in geometry:
        _fail(f"The footprint has no coordinates; a {gtype} needs {_NESTING[gtype]}.", "footprint.coordinates")
    radius = _radius(radius_m, gtype)
    coords, base = geometry["coordinates"], "footprint.coordinates"
    if (count := _rough_count(gtype, coords)) > limits.max_vertices:
        msg = f"The footprint has {count:,} positions, more than the {limits.max_vertices:,} allowed"
        _fail(f"{msg}; simplify it or split it into several volumes.", "footprint.coordinates", vertex_count=count)
    ring_paths: list[str] = []
    arrays: Any = coords
    if gtype == "Point":
        _position(coords, base, gtype)
    elif gtype == "LineString":
        arrays = _path(coords, base, gtype, ring=False)
    else:
        polys = [coords] if gtype == "Polygon" else _list(coords, base, gtype)
        if not polys:
            _fail("A MultiPolygon needs at least one polygon.", base)
        arrays = []
        for i, poly in enumerate(polys):
            ppath = base if gtype == "Polygon" else f"{base}[{i}]"
            if not _list(poly, ppath, gtype):
                _fail(f"{ppath} has no rings; a polygon needs an outer ring (then any holes).", ppath)
            ring_paths += [f"{ppath}[{j}]" for j in range(len(poly))]
            arrays.append([_path(ring, f"{ppath}[{j}]", gtype, ring=True) for j, ring in enumerate(poly)])
        arrays = arrays[0] if gtype == "Polygon" else arrays
    shape = geo.shape_from_geojson(gtype, arrays, radius or 0.0)
    if (reach := shape.core_cap + shape.radius) > MAX_EXTENT_M:
        msg = (
            f"The footprint reaches {reach / 1000:,.0f} km from its centre, more than the {MAX_EXTENT_M / 1000:,.0f} km"
        )
        _fail(f"{msg} the hub handles; split it into smaller volumes.", "footprint", extent_km=reach / 1000)
    if gtype == "LineString" and not shape.distinct_edges(0, len(shape.lon)):
        _fail(f"{base} has all its positions at one place; a corridor needs two distinct points.", base)
    area, fault = rings.polygon_faults(shape) if shape.parts else (0.0, None)
    if fault is not None:
        path = "footprint.coordinates" if fault[0] == "parts" else ring_paths[fault[1]]
        path = path.rsplit("[", 1)[0] if fault[0] in ("hole", "rings") else path
        _fail(_FAULTS[fault[0]].format(path=path, where=fault[2]), path)
    area = rings.area(shape) if radius or not shape.parts else area
    if area > limits.max_area_km2 * 1e6:
        msg = f"The footprint covers {area / 1e6:,.0f} km², more than the {limits.max_area_km2:,.0f} km² allowed"
        _fail(f"{msg}; split it into smaller volumes.", "footprint", area_km2=area / 1e6)
    paths = [p.tolist() for p in shape.paths]
    normal: Any = [[paths[i] for i in part] for part in shape.parts] if gtype == "MultiPolygon" else paths
    normal = {"Point": paths[0][0], "LineString": paths[0]}.get(gtype, normal)
    geojson = {"type": gtype, "coordinates": normal}
    return Footprint(geojson, radius, _KINDS[shape.kind], len(shape.lon), {"area": area, "shape": shape})


_FAULTS = {
    "collapsed": "{path} collapses to under 3 distinct corners once repeated consecutive positions are removed.",
    "flat": "{path} encloses (almost) no area: are its corners in a line?",
    "crossed": "{path} self-intersects{where}: its edges cross or touch; reorder its positions so they do not.",
    "hole": "In {path} a hole lies outside the outer ring{where}; holes must lie inside the outer ring.",
    "rings": "{path} has rings that cross or nest{where}; holes must not cross the outer ring or each other.",
    "parts": "The MultiPolygon's polygons overlap; merge them into one or make them disjoint (a shared edge is fine).",
}


def _number(value: Any, field: str, what: str) -> float:
    if not _is_number(value) or not _finite(value):
        _fail(f"{field} must be a finite number of {what}, got {_describe(value)}.", field)
    return float(value)


def parse_altitude(lower: Any, upper: Any, reference: Any) -> AltitudeBand:
    """Validate an altitude band in metres; raises :class:`InvalidVolume` saying what to fix."""
    allowed = [r.value for r in AltitudeReference]
    if not isinstance(reference, str) or reference not in allowed:
        _fail(
            f"Altitude reference {reference!r} is not known; use one of {', '.join(allowed)}.",
            "altitude.reference",
            allowed=allowed,
        )
    lo, hi = _number(lower, "altitude.lower", "metres"), _number(upper, "altitude.upper", "metres")
    for v, field in ((lo, "altitude.lower"), (hi, "altitude.upper")):
        if not ALTITUDE_RANGE_M[0] <= v <= ALTITUDE_RANGE_M[1]:
            _fail(f"{field} {v:g} m is outside the supported range [-1,000, 100,000] m.", field)
    if lo > hi:
        _fail(f"Inverted altitude band: lower ({lo:g} m) is above upper ({hi:g} m); swap them.", "altitude")
    if lo == hi:
        _fail(f"Empty altitude band: lower equals upper ({lo:g} m); upper must be above lower.", "altitude")
    return AltitudeBand(lo, hi, AltitudeReference(reference))


def parse_time(start: datetime, end: datetime) -> TimeWindow:
    """Validate a time window of aware datetimes and return it in UTC."""
    for value, field in ((start, "time.start"), (end, "time.end")):
        if not isinstance(value, datetime):
            _fail(f"{field} must be a date-time such as 2025-01-01T10:00:00Z, got {_describe(value)}.", field)
        if value.utcoffset() is None:
            _fail(f"{field} has no time zone; add an offset such as Z or +02:00.", field)
    s, e = start.astimezone(UTC), end.astimezone(UTC)
    if s > e:
        _fail(f"Reversed time window: start {s.isoformat()} is after end {e.isoformat()}; swap them.", "time")
    if s == e:
        _fail(f"Empty time window: start equals end ({s.isoformat()}); end must be after start.", "time")
    return TimeWindow(s, e)


# --- decisions ----------------------------------------------------------------------------------------------


def _buffer(value: float, name: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _ordered(a: Footprint, b: Footprint) -> tuple[Footprint, Footprint]:
    """The pair in a canonical order, so every decision is exactly symmetric."""
    ka, kb = a._order_key(), b._order_key()
    if ka != kb:
        return (a, b) if ka < kb else (b, a)
    return (a, b) if a._order_text() <= b._order_text() else (b, a)


def footprint_separation_m(a: Footprint, b: Footprint) -> float:
    """Geodesic distance between two footprints (to ~0.1 m), negative when they overlap.

    A negative value is a lower bound on the penetration depth (the shortest move that would separate
    them): the radii's overlap, plus how deep a circle's centre lies inside a polygon, plus twice the
    radius of the largest disc inside two overlapping polygons. Overlaps thinner than 0.5 m (shared edges,
    T-junctions) count as touching, 0.
    """
    a, b = _ordered(a, b)
    return geo.separation(geo.Pair(a._shape, b._shape))


def footprints_conflict(a: Footprint, b: Footprint, buffer_m: float) -> bool:
    """Whether the footprints are closer than ``buffer_m`` (overlap counts as negative separation).

    Exact to 1 m and symmetric; at ``buffer_m`` 0 footprints that only share an edge do not conflict.
    """
    h = _buffer(buffer_m, "buffer_m")
    a, b = _ordered(a, b)
    return geo.separation(geo.Pair(a._shape, b._shape), target=h) < h


def overlap_footprint(a: Footprint, b: Footprint, buffer_m: float) -> dict[str, Any]:
    """buffer(a, h/2) ∩ buffer(b, h/2) as GeoJSON (empty MultiPolygon if they do not meet).

    Edges are cut within 0.5 m of geodesics; longitudes are in [-180, 180], so a ring crossing the
    antimeridian jumps from 179.9 to -179.9 — read as a geodesic edge, that is the short way round.
    """
    h = _buffer(buffer_m, "buffer_m")
    a, b = _ordered(a, b)
    return _overlap_geojson(geo.Pair(a._shape, b._shape), h)


def _overlap_geojson(pair: geo.Pair, h: float, conflict: bool = False) -> dict[str, Any]:
    parts = [[ring.tolist() for ring in part] for part in rings.overlap_rings(pair, h, conflict)]
    if len(parts) == 1:
        return {"type": "Polygon", "coordinates": parts[0]}
    return {"type": "MultiPolygon", "coordinates": parts}


_LEVELS = (AltitudeReference.AGL, AltitudeReference.AMSL, AltitudeReference.WGS84)
_STEPS = (TERRAIN_ELEVATION_M, GEOID_UNDULATION_M)  # from each level to the next


def _offset(src: AltitudeReference, dst: AltitudeReference) -> tuple[float, float]:
    """Range of (height in dst) − (height in src) over the whole Earth."""
    i, j = _LEVELS.index(src), _LEVELS.index(dst)
    lo = sum(_STEPS[k][0] for k in range(min(i, j), max(i, j)))
    hi = sum(_STEPS[k][1] for k in range(min(i, j), max(i, j)))
    return (lo, hi) if j >= i else (-hi, -lo)


def _meet(a: AltitudeBand, b: AltitudeBand, half: float) -> AltitudeBand:
    """b's possible heights, in a's reference, intersected with a; both widened by ``half``."""
    lo, hi = _offset(b.reference, a.reference)
    return AltitudeBand(max(a.lower, b.lower + lo) - half, min(a.upper, b.upper + hi) + half, a.reference)


def altitude_overlap(
    a: AltitudeBand | None, b: AltitudeBand | None, vertical_m: float
) -> tuple[AltitudeBand | None, AltitudeBand | None] | None:
    """The overlapping band in a's and in b's reference, or None; conservative across references.

    ``None`` (unlimited) overlaps everything; its side of the pair is then the other side's band (widened by
    half the buffer), or None when both are unlimited.
    """
    half = _buffer(vertical_m, "vertical_m") / 2
    if a is None or b is None:
        known = a or b
        band = None if known is None else AltitudeBand(known.lower - half, known.upper + half, known.reference)
        return band, band
    band_a, band_b = _meet(a, b, half), _meet(b, a, half)
    first = band_a if (a.reference, a.lower, a.upper) <= (b.reference, b.lower, b.upper) else band_b
    if not first.lower < first.upper:  # decided on one canonical side so rounding cannot break symmetry
        return None
    return band_a, band_b


def time_overlap(a: TimeWindow, b: TimeWindow, seconds: float) -> TimeWindow | None:
    """Windows conflict iff a.start < b.end + s and b.start < a.end + s; returns both widened by s/2, met."""
    s = timedelta(seconds=_buffer(seconds, "seconds"))
    if not (a.start < b.end + s and b.start < a.end + s):
        return None
    return TimeWindow(max(a.start, b.start) - s / 2, min(a.end, b.end) + s / 2)


def volumes_overlap(a: Volume4D, b: Volume4D, buffers: Buffers) -> Overlap | None:
    """The 4D overlap of two volumes under ``buffers``, or None: time, then altitude, then footprint."""
    window = time_overlap(a.time, b.time, buffers.seconds)
    if window is None:
        return None
    bands = altitude_overlap(a.altitude, b.altitude, buffers.vertical_m)
    if bands is None:
        return None
    fa, fb, h = *_ordered(a.footprint, b.footprint), buffers.horizontal_m
    gap = geo.distance(fa.center_lon, fa.center_lat, fb.center_lon, fb.center_lat)
    if gap - fa.cap_radius_m - fb.cap_radius_m >= h:
        return None
    pair = geo.Pair(fa._shape, fb._shape, gap)  # decided and drawn in one frame: the overlap reuses the drawings
    if geo.separation(pair, target=(h := _buffer(h, "buffer_m"))) >= h:
        return None
    return Overlap(_overlap_geojson(pair, h, conflict=True), bands[0], bands[1], window)
