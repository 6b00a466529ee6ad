"""Rings of footprints: validating them, measuring their geodesic area, and drawing overlaps back to lon/lat.

Built on the frames of :mod:`deconfliction.core.geodesy`. Decisions never use what is drawn here: drawn
buffers and overlaps are shown, and sit up to ``OUTPUT_TOL_M`` inside the true ones.
"""

from __future__ import annotations

import itertools
import math
import re
from functools import lru_cache
from typing import Any

import numpy as np
import shapely

from deconfliction.core.geodesy import (
    B_M,
    COARSE_TOL_M,
    EARTH_AREA_M2,
    GEOD,
    MIN_RING_AREA_M2,
    OUTPUT_TOL_M,
    Array,
    Pair,
    Shape,
    draw,
    project,
    scale_bound,
    separation,
    unproject,
)

_A_M = 6_378_137.0  # WGS84 semi-major axis
_E2 = (_A_M * _A_M - B_M * B_M) / (_A_M * _A_M)
ANALYTIC_CIRCLE_M = 1_000_000.0  # up to this radius a circle's area is exact to 2e-7 (checked over WGS84)


def ring_area(ring: Array) -> float:
    """Geodesic area of the smaller region a ring bounds (winding ignored)."""
    area = abs(float(GEOD.polygon_area_perimeter(ring[:, 0], ring[:, 1])[0]))
    return min(area, EARTH_AREA_M2 - area)


def circle_area(lon: float, lat: float, radius: float) -> float:
    """Geodesic area of a circle.

    Up to ANALYTIC_CIRCLE_M it is the area of a circle on a sphere of the ellipsoid's Gaussian curvature
    at the centre, ``4π sin²(r√K / 2) / K``: the curvature's variation across the disc cancels to first order.
    Beyond, an inscribed geodesic polygon corrected by the planar ratio of a circle to its inscribed n-gon.
    """
    if radius <= ANALYTIC_CIRCLE_M:
        s = math.sin(math.radians(lat))
        w2 = 1.0 - _E2 * s * s
        k = w2 * w2 / (_A_M * _A_M * (1.0 - _E2))  # 1 / (M·N)
        return 4.0 * math.pi * math.sin(radius * math.sqrt(k) / 2.0) ** 2 / k
    n = 64
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lo, la, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), az, np.full(n, radius))
    return ring_area(np.column_stack((lo, la))) * (2 * math.pi / n) / math.sin(2 * math.pi / n)


def area(shape: Shape) -> float:
    """Geodesic area of the buffered footprint."""
    if shape.kind == "point":
        return circle_area(*shape.center, shape.radius)
    if shape.radius <= 0:
        return sum(ring_area(shape.paths[p[0]]) - sum(ring_area(shape.paths[h]) for h in p[1:]) for p in shape.parts)
    parts = to_lonlat_rings(filled(shape, Pair.home(shape), 0.0), *shape.center)
    return sum(ring_area(part[0]) - sum(ring_area(h) for h in part[1:]) for part in parts)


def polygon_faults(shape: Shape) -> tuple[float, tuple[str, int, str] | None]:
    """A polygon shape's area (no radius), and its first fault as (code, ring index, " near [lon, lat]")."""
    areas = [ring_area(p) for p in shape.paths]
    for i, (a, b) in enumerate(shape.bounds):
        if shape.distinct_edges(a, b) < 3:
            return 0.0, ("collapsed", i, "")
    lon0, lat0 = shape.center
    drawn = draw(shape, lon0, lat0, COARSE_TOL_M, merge=False)
    for part, poly in zip(shape.parts, drawn.geom, strict=True):
        if shapely.is_valid(poly) and all(areas[i] >= MIN_RING_AREA_M2 for i in part):
            continue
        for i in part:  # name the ring at fault, if one is
            ring = shapely.Polygon(drawn.paths_xy[i])
            if areas[i] < MIN_RING_AREA_M2 and shapely.area(shapely.make_valid(ring)) < MIN_RING_AREA_M2:
                return 0.0, ("flat", i, "")
            if not shapely.is_valid(ring):
                return 0.0, ("crossed", i, _where(shapely.is_valid_reason(ring), lon0, lat0))
        reason = shapely.is_valid_reason(poly)
        return 0.0, ("hole" if reason.startswith("Hole") else "rings", part[0], _where(reason, lon0, lat0))
    if len(drawn.geom) > 1 and sum(p.area for p in drawn.geom) - shapely.union_all(drawn.geom).area > 1.0:
        return 0.0, ("parts", 0, "")
    return sum(areas[p[0]] - sum(areas[h] for h in p[1:]) for p in shape.parts), None


def _where(reason: str, lon0: float, lat0: float) -> str:
    """Where GEOS found a fault ("... [x y]"), back in lon/lat."""
    m = re.search(r"\[([-\d.eE+]+) ([-\d.eE+]+)\]", reason)
    if not m:
        return ""
    lon, lat = unproject(lon0, lat0, np.array([float(m[1])]), np.array([float(m[2])]))
    return f" near [{lon[0]:.6f}, {lat[0]:.6f}]"


def _quad_segs(radius: float, tol: float) -> int:
    # A circle drawn with 4q chords strays r(1 - cos(π/4q)) ≈ r·π²/(32q²) inside.
    return int(min(256, max(4, math.ceil(math.pi * math.sqrt(radius / (32 * tol))))))


@lru_cache(maxsize=256)
def _unit_polygon(q: int) -> Array:
    """The corners of the regular 4q-gon inscribed in the unit circle, as rows (read-only: shared)."""
    t = np.arange(4 * q) * (math.pi / (2 * q))
    corners = np.stack((np.cos(t), np.sin(t)), axis=1)
    corners.flags.writeable = False
    return corners


def _disc(x: float, y: float, radius: float, q: int) -> Any:
    """The regular 4q-gon inscribed in a planar circle (what ``buffer`` draws, without its overhead)."""
    return shapely.polygons(_unit_polygon(q) * radius + (x, y))


def filled(shape: Shape, pair: Pair, extra: float, tol: float = OUTPUT_TOL_M) -> Any:
    """The whole buffered footprint (core ⊕ radius+extra) as a planar polygon in the pair's frame.

    A circle away from the frame centre is drawn round the image of its centre when the frame's stretch
    (the image of the circle lies between r and k·r from there, see :mod:`geodesy`) costs under a tenth of
    ``tol``; otherwise from geodesic points. Other buffers are planar, which is exact at the frame centre and
    narrower by the tangential scale away from it (under 0.1 % within 500 km).
    """
    r = shape.radius + extra
    lon0, lat0 = pair.lon0, pair.lat0
    if shape.kind == "point":
        if shape.center == (lon0, lat0):
            return _disc(0.0, 0.0, r, _quad_segs(r, tol))
        xy, rho = project(lon0, lat0, np.array(shape.center[:1]), np.array(shape.center[1:]))
        slack = (scale_bound(float(rho[0]) + r) - 1.0) * r
        if slack <= tol / 10:
            return _disc(float(xy[0, 0]), float(xy[0, 1]), r, _quad_segs(r, tol - slack))
        q = _quad_segs(r, tol)
        az = np.linspace(0.0, 360.0, 4 * q, endpoint=False)
        lo, la, _ = GEOD.fwd(np.full(4 * q, shape.center[0]), np.full(4 * q, shape.center[1]), az, np.full(4 * q, r))
        return shapely.polygons(project(lon0, lat0, np.asarray(lo), np.asarray(la))[0])
    geom = pair.draw(shape, tol).geom
    return shapely.buffer(geom, r, quad_segs=_quad_segs(r, tol)) if r > 0 else geom


def to_lonlat_rings(geom: Any, lon0: float, lat0: float, tol: float = OUTPUT_TOL_M) -> list[list[Array]]:
    """Planar polygons back to lon/lat rings (CCW shells), cut finely enough to read edges as geodesics."""
    geom = shapely.orient_polygons(geom)
    if shapely.get_type_id(geom) == 3 and shapely.get_num_interior_rings(geom) == 0:  # the common case: one ring
        if shapely.is_empty(geom):
            return []
        polys, rings_of, xy = [geom], [1], shapely.get_coordinates(geom)
        sizes: list[int] = [len(xy)]
    else:
        polys = [p for p in shapely.get_parts(geom) if not shapely.is_empty(p)]
        if not polys:
            return []
        rings_of = (shapely.get_num_interior_rings(polys) + 1).tolist()  # each part's shell, then its holes
        every = shapely.get_rings(polys)
        xy, sizes = shapely.get_coordinates(every), shapely.get_num_coordinates(every).tolist()
    rho = max(1.0, float(np.sqrt((xy * xy).sum(axis=1).max())))
    step = math.sqrt(4 * B_M * tol / math.tan(min(rho / B_M, 3.0) / 2))
    if step < 2 * rho:  # an edge may be longer than step: cut the rings
        cut = shapely.get_rings(shapely.segmentize(polys, step))
        xy, sizes = shapely.get_coordinates(cut), shapely.get_num_coordinates(cut).tolist()
    lon, lat = unproject(lon0, lat0, np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1]))
    # JSON has no form for NaN or infinity, and the record embeds overlaps unchecked; a sum is finite iff all are.
    if not math.isfinite(float(lon.sum()) + float(lat.sum())):
        raise ValueError(f"a drawn polygon has non-finite coordinates (frame at {lon0}, {lat0})")
    lonlat = np.stack((lon, lat), axis=1)
    rings = [lonlat[a:b] for a, b in itertools.pairwise(itertools.accumulate(sizes, initial=0))]
    return [rings[a:b] for a, b in itertools.pairwise(itertools.accumulate(rings_of, initial=0))]


def overlap_rings(pair: Pair, h: float, conflict: bool = False) -> list[list[Array]]:
    """buffer(a, h/2) ∩ buffer(b, h/2) as lon/lat rings, drawn in the pair's frame (at the smaller footprint).

    ``conflict`` says the pair is known to conflict at ``h``, which spares deciding it again.
    """
    inter: Any = None
    # Drawn buffers sit up to OUTPUT_TOL_M inside the true ones: if a conflict is that thin, widen them.
    for extra in (0.0, 2 * OUTPUT_TOL_M):
        inter = pair.overlap(filled(pair.a, pair, h / 2 + extra), filled(pair.b, pair, h / 2 + extra))
        if not shapely.is_empty(inter) or not (conflict or separation(pair, target=h) < h):
            break
    return to_lonlat_rings(inter, pair.lon0, pair.lat0)
