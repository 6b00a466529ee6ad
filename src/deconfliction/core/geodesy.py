"""Geodesy for footprints: geodesic edges on WGS84, measured in azimuthal-equidistant (AEQD) frames.

A footprint's edges are geodesics. To use planar tools (shapely) we project into an ellipsoidal AEQD frame
built on ``pyproj.Geod``: a point at geodesic distance ``s`` and azimuth ``az`` from the frame centre maps
to ``(s·sin az, s·cos az)``. Two facts make this exact enough to decide to the metre:

* distances *from the centre* are exact, so a circle (or any point core) is measured exactly in its own frame;
* elsewhere the map only stretches: radial scale 1, tangential scale ``s/m(s)`` (``m`` the reduced length),
  which is >= 1 and, as WGS84's Gaussian curvature never exceeds ``1/b²``, at most ``θ/sin θ`` with
  ``θ = s/b`` (:func:`scale_bound`). Planar distances are therefore never shorter than geodesic ones and at
  most ``k`` times longer.

Geodesic edges map to curves; we cut each into chords whose deviation from the curve is bounded by
:func:`chord_bound` (an empirical bound with a margin of >= 25 % over WGS84, checked by the tests).

A :class:`Shape` is a footprint's *core* (a point, a line, or polygon parts) plus a radius; the distance
between two buffered cores is the distance between the cores minus both radii, which is exact on any
surface where distances are lengths. That is why circles and corridors are never approximated by polygons
when deciding a conflict. A :class:`Pair` holds two shapes drawn in one frame, so that a decision and the
overlap drawn after it (in :mod:`deconfliction.core.rings`, with validation and areas) share the work.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Geod

Array = NDArray[np.float64]
ShapeKind = Literal["point", "line", "polygon"]

# Immutable, so one shared instance is not hidden state; building one costs ~20 µs.
GEOD = Geod(ellps="WGS84")
B_M = 6_356_752.314245  # WGS84 semi-minor axis: 1/b² bounds the ellipsoid's Gaussian curvature
EARTH_AREA_M2 = 510_065_621_724_088.5

COARSE_TOL_M = 0.05  # chord deviation allowed when deciding in a shared frame
EXACT_TOL_M = 0.01  # ... and when measuring from one vertex in its own frame
OUTPUT_TOL_M = 0.5  # ... for drawn overlap polygons and areas, which are shown, not decided on
TRUST_ERR_M = 0.25  # when the rigorous bracket on a distance is narrower, the estimate stands
THICK_HALF_M = 0.25  # overlaps thinner than 2×this count as touching (shared edges, T-junctions)
FRAME_LIMIT_M = 11_000_000.0  # beyond this from a frame centre the chord bound is no longer checked
MAX_SPLIT = 4096
MAX_PAIRS = 50_000  # vertex-edge pairs measured one by one before the estimate stands
MIN_RING_AREA_M2 = 1.0  # a ring enclosing less is degenerate (e.g. collinear corners)
SMALL_N = 16  # up to this many points, loops of scalar calls beat numpy and pyproj on arrays


def project(lon0: float, lat0: float, lon: Array, lat: Array) -> tuple[Array, Array]:
    """AEQD coordinates of points as rows (x east, y north), and their geodesic distances from (lon0, lat0)."""
    n = lon.shape[0]
    if n <= SMALL_N:  # pyproj's and numpy's per-call overheads dominate on a few points: loop (same C code)
        xy, ss = [], []
        for lo, la in zip(lon.tolist(), lat.tolist(), strict=True):
            a, _, d = GEOD.inv(lon0, lat0, lo, la)
            r = math.radians(a)
            xy.append((d * math.sin(r), d * math.cos(r)))
            ss.append(d)
        return np.array(xy).reshape(n, 2), np.array(ss)
    az, _, s = GEOD.inv(np.full(n, lon0), np.full(n, lat0), lon, lat)
    rad = np.radians(az)
    out = np.empty((n, 2))
    np.multiply(s, np.sin(rad), out=out[:, 0])
    np.multiply(s, np.cos(rad), out=out[:, 1])
    return out, np.asarray(s, dtype=np.float64)


def _unit_sum(lonlat: list[list[float]]) -> tuple[float, float, float]:
    """Sum of the points as unit vectors."""
    x = y = z = 0.0
    for lo, la in lonlat:
        lo, la = math.radians(lo), math.radians(la)
        x, y, z = x + math.cos(la) * math.cos(lo), y + math.cos(la) * math.sin(lo), z + math.sin(la)
    return x, y, z


def unproject(lon0: float, lat0: float, x: Array, y: Array) -> tuple[Array, Array]:
    n = x.shape[0]
    lon, lat, _ = GEOD.fwd(np.full(n, lon0), np.full(n, lat0), np.degrees(np.arctan2(x, y)), np.hypot(x, y))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2])


def scale_bound(rho: float) -> float:
    """Largest AEQD scale factor within ``rho`` of the centre (sphere of radius b, see module doc)."""
    theta = rho / B_M
    if theta >= 3.0:
        return 1e9
    return 1.0 + theta * theta / 6.0 if theta < 1e-4 else theta / math.sin(theta)


def chord_bound(length: Array, rho1: Array, rho2: Array) -> Array:
    """Bound on how far a geodesic edge's AEQD image strays from its chord.

    The image's curvature is below ~1.6·tan(θ/2)/b at distance ``bθ`` from the centre (measured over WGS84;
    we use 2), and no point of an edge is farther than (ρ1 + ρ2 + L)/2; sagitta = L²κ/8.
    """
    theta = np.minimum((rho1 + rho2 + length) / (2.0 * B_M), 3.0)
    return np.asarray(length * length * np.tan(theta / 2.0) / (4.0 * B_M), dtype=np.float64)


def splits(sag: Array, tol: float) -> NDArray[np.int64]:
    return np.clip(np.ceil(np.sqrt(sag / tol)), 1, MAX_SPLIT).astype(np.int64)  # chord strays ∝ length²


class Shape:
    """A footprint's core in lon/lat (geodesic edges) and its radius; immutable by convention."""

    __slots__ = (
        *("kind", "paths", "parts", "radius", "lon", "lat", "bounds", "edge_start"),
        *("center", "core_cap", "_home", "_edges", "_planar"),
    )

    def __init__(self, kind: ShapeKind, paths: list[Array], parts: tuple[tuple[int, ...], ...], radius: float) -> None:
        self.kind = kind
        self.paths = paths  # closed rings, or the line, or the point, each (n, 2)
        self.parts = parts  # polygon parts as indices into paths, shell first
        self.radius = radius
        allv = paths[0] if len(paths) == 1 else np.concatenate(paths)
        self.lon: Array = np.ascontiguousarray(allv[:, 0])
        self.lat: Array = np.ascontiguousarray(allv[:, 1])
        ends = list(itertools.accumulate(len(p) for p in paths))
        self.bounds = list(zip([0, *ends[:-1]], ends, strict=True))
        starts = [np.arange(a, b - 1) for a, b in self.bounds]
        self.edge_start = starts[0] if len(starts) == 1 else np.concatenate(starts)
        self._edges: tuple[Array, Array, float] | None = None
        self._planar: Planar | None = None  # the core drawn at home, once drawn
        if kind == "point":
            self.center, self.core_cap = (float(self.lon[0]), float(self.lat[0])), 0.0
            self._home = (np.zeros((1, 2)), np.zeros(1))
            return
        # Centre: the mean of the outer vertices on the unit sphere. For any footprint within a hemisphere it
        # lies on the side of the smaller region (poles included); an uneven spread only loosens the cap.
        shells = [paths[p[0]][:-1] for p in parts] if parts else paths  # a ring's last vertex repeats its first
        outer = shells[0] if len(shells) == 1 else np.concatenate(shells)
        n = len(self.lon)
        if n <= SMALL_N:  # numpy's per-call overhead dominates on a few vertices
            c = _unit_sum(outer.tolist())
        else:
            r = np.radians(outer)
            cos, sin = np.cos(r), np.sin(r)
            c = (float(cos[:, 1] @ cos[:, 0]), float(cos[:, 1] @ sin[:, 0]), float(sin[:, 1].sum()))
        if math.hypot(*c) < 1e-9 * len(outer):  # spread round a great circle: far too wide, refused by the caller
            c = _unit_sum(outer[:1].tolist())
        self.center = (math.degrees(math.atan2(c[1], c[0])), math.degrees(math.atan2(c[2], math.hypot(c[0], c[1]))))
        self._home = project(*self.center, self.lon, self.lat)
        rho = self._home[1]
        # The farthest point of a geodesic edge from a centre less than a quarter-globe away is an endpoint;
        # the margin covers rounding and the ellipsoid's departure from that spherical fact.
        self.core_cap = float(rho.max()) * (1.0 + 1e-6) + 1e-3

    @property
    def home(self) -> tuple[Array, Array]:
        """The vertices drawn in the frame at the centre, and their distances from it."""
        return self._home

    @property
    def edges(self) -> tuple[Array, Array, float]:
        """(forward azimuth, length) of every edge, in the order of ``edge_start``, and the longest length."""
        if self._edges is None:
            s, e = self.edge_start, self.edge_start + 1
            az, _, length = GEOD.inv(self.lon[s], self.lat[s], self.lon[e], self.lat[e])
            self._edges = (az, length, float(length.max()))
        return self._edges

    def distinct_edges(self, a: int, b: int) -> int:
        """Edges between vertices a..b-1 that join different points (180° and -180° are one meridian)."""
        if b - a <= SMALL_N:
            pts = list(zip(self.lon[a:b].tolist(), self.lat[a:b].tolist(), strict=True))
            same = sum(
                p[1] == q[1] and (abs(p[1]) == 90.0 or (q[0] - p[0]) % 360.0 == 0.0) for p, q in itertools.pairwise(pts)
            )
            return int(b - a - 1 - same)
        lon, lat = self.lon[a:b], self.lat[a:b]
        same = (lat[1:] == lat[:-1]) & ((np.abs(lat[1:]) == 90.0) | (np.mod(lon[1:] - lon[:-1], 360.0) == 0.0))
        return int(b - a - 1 - same.sum())


def shape_from_geojson(gtype: str, coords: Any, radius: float) -> Shape:
    """A Shape from validated GeoJSON coordinates (nested lists, or arrays for the rings)."""
    if gtype in ("Point", "LineString"):
        arr = np.asarray([coords] if gtype == "Point" else coords, dtype=np.float64)
        return Shape("point" if gtype == "Point" else "line", [arr], (), radius)
    polys = [coords] if gtype == "Polygon" else coords
    paths = [np.asarray(ring, dtype=np.float64) for poly in polys for ring in poly]
    first = np.cumsum([0] + [len(poly) for poly in polys]).tolist()
    return Shape("polygon", paths, tuple(tuple(range(a, b)) for a, b in itertools.pairwise(first)), radius)


@dataclass(slots=True)
class Planar:
    """A shape's core drawn in one AEQD frame."""

    geom: Any
    sag: float  # max chord deviation over all edges
    rho: Array  # distance of each vertex from the frame centre
    rho_max: float
    vertex_xy: Array  # images of the shape's vertices (undensified), in ``Shape.lon`` order
    paths_xy: list[Array]


def draw(shape: Shape, lon0: float, lat0: float, tol: float, merge: bool = True) -> Planar:
    """Project ``shape``'s core into the AEQD frame at (lon0, lat0), chords within ``tol`` of the edges.

    With ``merge`` False a polygon's geometry is the list of its parts, unmerged (for validation). A shape's
    drawing at its own centre is kept, as shapes are compared in their own frame again and again.
    """
    home = (lon0, lat0) == shape.center
    if home and (kept := shape._planar) is not None and kept.sag <= tol and (merge or len(shape.parts) == 1):
        return kept if merge else Planar([kept.geom], kept.sag, kept.rho, kept.rho_max, kept.vertex_xy, kept.paths_xy)
    vxy, rho = shape.home if home else project(lon0, lat0, shape.lon, shape.lat)
    rho_max = float(rho.max())
    if shape.kind == "point":
        return Planar(shapely.points(vxy[0]), 0.0, rho, rho_max, vxy, [vxy])
    # An edge is no longer than the sum of its ends' distances from the centre, so small shapes need no lengths.
    lmax = shape._edges[2] if shape._edges is not None else 2 * rho_max
    theta = min((2 * rho_max + lmax) / (2.0 * B_M), 3.0)
    sag = lmax * lmax * math.tan(theta / 2.0) / (4.0 * B_M)  # bounds every edge's chord_bound
    if sag <= tol:
        out = vxy
        paths_xy = [vxy] if len(shape.bounds) == 1 else [vxy[a:b] for a, b in shape.bounds]
    else:
        es = shape.edge_start
        sags = chord_bound(shape.edges[1], rho[es], rho[es + 1])
        n = splits(sags, tol)
        sag = float((sags / (n * n)).max())
        cnt = np.ones(len(vxy), dtype=np.int64)
        cnt[es] = n
        vpos = np.concatenate(([0], np.cumsum(cnt)[:-1]))
        out = np.empty((int(cnt.sum()), 2))
        out[vpos] = vxy
        if (n > 1).any():
            k, j, ixy, irho = _interior(shape, np.arange(len(es)), n, lon0, lat0)
            out[vpos[es[k]] + j] = ixy
            rho_max = max(rho_max, float(irho.max()))
        paths_xy = [out[vpos[a] : vpos[b - 1] + 1] for a, b in shape.bounds]
    if shape.kind == "line":
        return Planar(shapely.linestrings(paths_xy[0]), sag, rho, rho_max, vxy, paths_xy)
    polys = [  # the constructor for plain rings is the cheaper
        shapely.polygons(paths_xy[p[0]])
        if len(p) == 1
        else shapely.Polygon(paths_xy[p[0]], [paths_xy[j] for j in p[1:]])
        for p in shape.parts
    ]
    if not merge:
        if home and len(polys) == 1:
            shape._planar = Planar(polys[0], sag, rho, rho_max, vxy, paths_xy)
        return Planar(polys, sag, rho, rho_max, vxy, paths_xy)
    # Parts may share edges (a polygon split at the antimeridian); only their union is a valid geometry.
    planar = Planar(polys[0] if len(polys) == 1 else shapely.union_all(polys), sag, rho, rho_max, vxy, paths_xy)
    if home:
        shape._planar = planar
    return planar


def _segments_to_origin(ax: Array, ay: Array, bx: Array, by: Array) -> Array:
    dx, dy = bx - ax, by - ay
    dd = dx * dx + dy * dy
    safe = np.where(dd > 0.0, dd, 1.0)
    t = np.where(dd > 0.0, np.clip(-(ax * dx + ay * dy) / safe, 0.0, 1.0), 0.0)
    return np.asarray(np.hypot(ax + t * dx, ay + t * dy), dtype=np.float64)


def _interior(
    shape: Shape, edges: NDArray[np.int64], n: NDArray[np.int64], lon0: float, lat0: float
) -> tuple[NDArray[np.int64], NDArray[np.int64], Array, Array]:
    """Points cutting ``edges[k]`` into ``n[k]`` chords, as (k, j = 1..n-1, xy, rho) in the frame at lon0, lat0."""
    az, length, _ = shape.edges
    dense = np.nonzero(n > 1)[0]
    reps = n[dense] - 1
    k = np.repeat(dense, reps)
    j = np.arange(int(reps.sum())) - np.repeat(np.cumsum(reps) - reps, reps) + 1
    e = edges[k]
    s = shape.edge_start[e]
    lon, lat, _ = GEOD.fwd(shape.lon[s], shape.lat[s], az[e], length[e] * j / n[k])
    return (k, j, *project(lon0, lat0, lon, lat))


def distance_to_edges(lon: float, lat: float, shape: Shape, edges: NDArray[np.int64]) -> float:
    """Geodesic distance from a point to some of ``shape``'s edges, exact to EXACT_TOL_M.

    Measured in the AEQD frame centred on the point, where every distance from the origin is exact; only
    the edges' chords approximate.
    """
    s = shape.edge_start[edges]
    a, r1 = project(lon, lat, shape.lon[s], shape.lat[s])
    b, r2 = project(lon, lat, shape.lon[s + 1], shape.lat[s + 1])
    ax, ay, bx, by = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    n = splits(chord_bound(shape.edges[1][edges], r1, r2), EXACT_TOL_M)
    if int(n.max()) == 1:
        return float(_segments_to_origin(ax, ay, bx, by).min())
    base = np.concatenate(([0], np.cumsum(n + 1)[:-1]))
    px, py = np.empty(int((n + 1).sum())), np.empty(int((n + 1).sum()))
    px[base], py[base], px[base + n], py[base + n] = ax, ay, bx, by
    k, j, ixy, _ = _interior(shape, edges, n, lon, lat)
    px[base[k] + j], py[base[k] + j] = ixy[:, 0], ixy[:, 1]
    first = np.delete(np.arange(len(px)), base + n)
    return float(_segments_to_origin(px[first], py[first], px[first + 1], py[first + 1]).min())


def _midpoint(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    az, _, d = GEOD.inv(a[0], a[1], b[0], b[1])
    lon, lat, _ = GEOD.fwd(a[0], a[1], az, d / 2.0)
    return float(lon), float(lat)


def frame(a: Shape, b: Shape, d_c: float) -> tuple[tuple[float, float], Shape | None]:
    """Frame centre for a pair, and the shape it is centred on (None for the midpoint fallback)."""
    if a.kind == "point" or b.kind == "point":
        p, other = (a, b) if a.kind == "point" else (b, a)
        if d_c + other.core_cap <= FRAME_LIMIT_M:
            return p.center, p
    small, big = (a, b) if a.core_cap <= b.core_cap else (b, a)
    if d_c + big.core_cap <= FRAME_LIMIT_M:
        return small.center, small
    return _midpoint(a.center, b.center), None


class Pair:
    """Two shapes in one frame (see :func:`frame`), each drawn at most once: a decision and the overlap drawn
    after it share the drawings (a drawing within ``tol`` serves any coarser tolerance)."""

    __slots__ = ("a", "b", "d_c", "_frame", "_drawn", "_overlap")

    def __init__(self, a: Shape, b: Shape, d_c: float | None = None) -> None:
        self.a, self.b = a, b
        self.d_c = distance(*a.center, *b.center) if d_c is None else d_c
        self._frame: tuple[tuple[float, float], Shape | None] | None = None  # most pairs are decided without
        self._drawn: list[Planar | None] = [None, None]
        self._overlap: tuple[Any, Any, Any] | None = None

    @property
    def lon0(self) -> float:
        return self.frame[0][0]

    @property
    def lat0(self) -> float:
        return self.frame[0][1]

    @property
    def on(self) -> Shape | None:
        """The shape the frame is centred on (None for the midpoint fallback)."""
        return self.frame[1]

    @property
    def frame(self) -> tuple[tuple[float, float], Shape | None]:
        if self._frame is None:
            self._frame = frame(self.a, self.b, self.d_c)
        return self._frame

    @classmethod
    def home(cls, shape: Shape) -> Pair:
        """The frame at ``shape``'s centre, with ``shape`` on both sides."""
        return cls(shape, shape, 0.0)

    def draw(self, shape: Shape, tol: float) -> Planar:
        """``shape`` (one of the pair) drawn in the frame with chords within ``tol`` of its edges."""
        i = 0 if shape is self.a else 1
        planar = self._drawn[i]
        if planar is None or planar.sag > tol:
            planar = self._drawn[i] = draw(shape, self.lon0, self.lat0, tol)
        return planar

    def overlap(self, g1: Any, g2: Any) -> Any:
        """The areal intersection of two geometries drawn in the frame, kept for the last two given: a decision that
        measured how thick two polygons' overlap is and the overlap drawn after it (at no horizontal buffer, from
        the same drawings) intersect them once."""
        kept = self._overlap
        if kept is not None and kept[0] is g1 and kept[1] is g2:
            return kept[2]
        inter = polygonal(overlay(shapely.intersection, g1, g2))
        self._overlap = (g1, g2, inter)
        return inter


def polygonal(geom: Any) -> Any:
    """The areal part of an overlay result (which may also hold the lines and points where shapes touch)."""
    if shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [g for g in shapely.get_parts(geom) if shapely.get_type_id(g) in (3, 6) and shapely.area(g) > 0]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def overlay(fn: Any, g1: Any, g2: Any) -> Any:
    try:
        return fn(g1, g2)
    except shapely.errors.GEOSException:  # chords of nearly touching rings can cross; repair and retry
        return fn(shapely.make_valid(g1), shapely.make_valid(g2))


def separation(pair: Pair, target: float | None = None) -> float:
    """Signed geodesic separation of a pair's buffered cores (see ``footprint_separation_m``).

    With ``target`` set, the answer may stop early at any value on the correct side of ``target``.
    """
    a, b, d_c = pair.a, pair.b, pair.d_c
    ra, rb = a.radius, b.radius
    if a.kind == "point" and b.kind == "point":
        return d_c - ra - rb
    lower = d_c - a.core_cap - b.core_cap - ra - rb
    if target is not None and lower >= target:
        return lower
    lon0, lat0, on = pair.lon0, pair.lat0, pair.on
    pa, pb = pair.draw(a, COARSE_TOL_M), pair.draw(b, COARSE_TOL_M)
    sag = pa.sag + pb.sag
    radial = on is not None and on.kind == "point"
    if len(pa.vertex_xy) + len(pb.vertex_xy) > 200:  # index them: GEOS is brute force otherwise
        shapely.prepare([pa.geom, pb.geom])
    if shapely.intersects(pa.geom, pb.geom):
        if target is not None and -(ra + rb) < target:  # any depth only deepens it
            return 0.0 - ra - rb
        if a.kind == "point" or b.kind == "point":
            other = pb.geom if a.kind == "point" else pa.geom
            depth = shapely.distance(shapely.points(0.0, 0.0), shapely.boundary(other)) if radial else 0.0
            return 0.0 - float(depth if shapely.get_type_id(other) in (3, 6) else 0.0) - ra - rb
        if a.kind != "polygon" or b.kind != "polygon":
            return 0.0 - ra - rb
        k = scale_bound(max(pa.rho_max, pb.rho_max))
        return 0.0 - overlap_thickness(pair.overlap(pa.geom, pb.geom), k, sag, exact=target is None) - ra - rb
    xy = shapely.get_coordinates(shapely.shortest_line(pa.geom, pb.geom))
    s = float(np.hypot(*(xy[1] - xy[0])))
    if radial:
        return s - ra - rb
    # The scale bound k brackets the truth rigorously: most decisions need nothing more.
    k = scale_bound(on.core_cap + s + 2 * sag if on is not None else max(pa.rho_max, pb.rho_max))
    lo, hi = (s - 2 * sag) / k, s + 2 * sag
    if target is not None and (hi - ra - rb < target or lo - ra - rb >= target):
        return (hi if hi - ra - rb < target else lo) - ra - rb
    # The true distance between the points nearest in the plane is exact to second order (the nearest pair is
    # stationary), so it is a near-exact estimate.
    lon, lat = unproject(lon0, lat0, xy[:, 0], xy[:, 1])
    est = distance(lon[0], lat[0], lon[1], lat[1])
    hi = min(s, est) + 2 * sag
    if hi - lo <= TRUST_ERR_M:
        return est - ra - rb
    if target is not None and (hi - ra - rb < target or lo - ra - rb >= target):
        return (hi if hi - ra - rb < target else lo) - ra - rb
    return min(_vertex_edge_distance(a, b, pa, pb, k * hi + 2 * sag + 1e-3, est), est) - ra - rb


def overlap_thickness(inter: Any, k: float, sag: float, exact: bool) -> float:
    """Lower bound on the width of ``inter``, the overlap of two planar polygons; 0 if thinner than 2·THICK_HALF_M."""
    a = float(shapely.area(inter))
    if a < math.pi * THICK_HALF_M**2:  # cannot hold the disc
        return 0.0
    # A convex region holds a disc of radius area/perimeter; most overlaps are convex and wide, so this
    # spares the costlier erosion below.
    wide = a >= THICK_HALF_M * shapely.length(inter) and shapely.area(shapely.convex_hull(inter)) <= a * (1 + 1e-9)
    if not wide and shapely.is_empty(shapely.buffer(inter, -THICK_HALF_M, quad_segs=2)):
        return 0.0
    if not exact:
        return max((2 * THICK_HALF_M - 2 * sag) / k, 1e-3)
    tol = max(0.01, math.sqrt(a) * 1e-4)
    radius = float(shapely.length(shapely.maximum_inscribed_circle(inter, tol)))
    return max((2 * radius - 2 * sag) / k, 1e-3)


def _vertex_edge_distance(a: Shape, b: Shape, pa: Planar, pb: Planar, bound: float, est: float) -> float:
    """Exact distance between disjoint cores: the minimum over (vertex of one, edge of the other).

    Between non-crossing geodesic segments the minimum is at an endpoint of one of them, so this is the
    separation. Candidates are filtered in the shared frame with ``bound``, a planar distance no nearest
    pair can exceed; past MAX_PAIRS candidate pairs (only far-apart, continental shapes) ``est`` stands.
    """
    best, todo = math.inf, []
    for src, dst, psrc, pdst in ((a, b, pa, pb), (b, a, pb, pa)):
        if dst.kind == "point":
            continue
        shapely.prepare(pdst.geom)  # indexed: shapes may have thousands of vertices
        near = np.nonzero(shapely.dwithin(pdst.geom, shapely.points(psrc.vertex_xy), bound))[0]
        es = dst.edge_start
        chords = shapely.linestrings(np.stack((pdst.vertex_xy[es], pdst.vertex_xy[es + 1]), axis=1))
        shapely.prepare(psrc.geom)
        sags = chord_bound(dst.edges[1], pdst.rho[es], pdst.rho[es + 1])  # each edge as one chord
        edges = np.nonzero(shapely.dwithin(psrc.geom, chords, bound + sags))[0]
        todo.append((np.unique(np.column_stack((src.lon[near], src.lat[near])), axis=0), dst, edges))
    if sum(len(v) * len(e) for v, _, e in todo) > MAX_PAIRS:
        return est
    for lonlat, dst, edges in todo:
        for v in lonlat if edges.size else ():
            best = min(best, distance_to_edges(float(v[0]), float(v[1]), dst, edges))
    return best
