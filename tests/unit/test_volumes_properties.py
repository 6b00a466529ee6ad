"""Property tests: footprint decisions agree with a geodesic ground truth to 1 m, everywhere, symmetrically.

Ground truths come from ``pyproj.Geod`` alone, never from the code under test: distances between circle centres,
cases built so the nearest points are known, and a golden-section search of the geodesic distance along each
edge (distance to a point is unimodal along a geodesic edge), which also checks those constructions.
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import numpy as np
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.core import geodesy, rings
from deconfliction.core.volumes import (
    Buffers,
    Footprint,
    TimeWindow,
    Volume4D,
    footprint_separation_m,
    footprints_conflict,
    overlap_footprint,
    parse_footprint,
    volumes_overlap,
)

GEOD = Geod(ellps="WGS84")
R_CAP = 280_000.0  # a circle of this radius is just under the 250,000 km² area cap
FAST = settings(max_examples=int(os.environ.get("VOLUME_EXAMPLES", "200")), deadline=None)

lons = st.one_of(st.floats(-180, 180), st.floats(179.0, 180.0), st.floats(-180.0, -179.0))
lats = st.one_of(st.floats(-89.9, 89.9), st.floats(85.0, 89.9), st.floats(-89.9, -85.0))
azimuths = st.floats(0.0, 360.0, exclude_max=True)
buffers = st.one_of(st.just(0.0), st.floats(0.0, 20_000.0))
# How far the true separation lies from the buffer: at least 1.5 m either side, up to 10 km.
misses = st.tuples(st.sampled_from([-1.0, 1.0]), st.floats(0.176, 4.0).map(lambda e: 10**e)).map(lambda t: t[0] * t[1])


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(math.log10(low), math.log10(high)).map(lambda e: 10**e)


def fwd(lon: float, lat: float, az: float, dist: float) -> tuple[float, float, float]:
    """Point at ``dist`` along ``az``, and the azimuth at that point pointing back."""
    lo, la, back = GEOD.fwd(lon, lat, az, dist)
    return float(lo), float(la), float(back)


def distance_to_edge(p: tuple[float, float], a: list[float], b: list[float]) -> float:
    az, _, length = GEOD.inv(a[0], a[1], b[0], b[1])

    def f(s: float) -> float:
        lo, la, _ = GEOD.fwd(a[0], a[1], az, s)
        return float(GEOD.inv(p[0], p[1], lo, la)[2])

    lo_s, hi_s, g = 0.0, float(length), (math.sqrt(5) - 1) / 2
    x1, x2 = hi_s - g * (hi_s - lo_s), lo_s + g * (hi_s - lo_s)
    f1, f2 = f(x1), f(x2)
    for _ in range(80):
        if f1 < f2:
            hi_s, x2, f2 = x2, x1, f1
            x1 = hi_s - g * (hi_s - lo_s)
            f1 = f(x1)
        else:
            lo_s, x1, f1 = x1, x2, f2
            x2 = lo_s + g * (hi_s - lo_s)
            f2 = f(x2)
    return min(f1, f2, f(0.0), f(float(length)))


def distance_to_path(p: tuple[float, float], path: list[list[float]]) -> float:
    return min(distance_to_edge(p, a, b) for a, b in zip(path[:-1], path[1:], strict=True))


def polygon(ring: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def circle(lon: float, lat: float, r: float) -> Footprint:
    return parse_footprint({"type": "Point", "coordinates": [lon, lat]}, r)


def wedge(apex: tuple[float, float], axis: float, half_angle: float, length: float) -> list[list[float]]:
    """A triangle with its apex at ``apex``, opening along azimuth ``axis``."""
    p1, p2 = fwd(*apex, axis - half_angle, length), fwd(*apex, axis + half_angle, length)
    return [list(apex), [p1[0], p1[1]], [p2[0], p2[1]]]


def check(a: Footprint, b: Footprint, h: float, truth: float) -> None:
    """The decision matches ``truth < h`` (with truth ≥ 1 m from h) and is symmetric."""
    assert abs(truth - h) >= 1.0
    assert footprints_conflict(a, b, h) == footprints_conflict(b, a, h) == (truth < h)


@FAST
@given(lons, lats, azimuths, log_uniform(1.0, R_CAP), log_uniform(1.0, R_CAP), buffers, misses)
def test_circle_circle(lon: float, lat: float, az: float, r1: float, r2: float, h: float, miss: float) -> None:
    gap = r1 + r2 + h + miss
    assume(gap > 0)
    lon2, lat2, _ = fwd(lon, lat, az, gap)
    truth = float(GEOD.inv(lon, lat, lon2, lat2)[2]) - r1 - r2
    a, b = circle(lon, lat, r1), circle(lon2, lat2, r2)
    check(a, b, h, truth)
    assert abs(footprint_separation_m(a, b) - truth) < 1e-3


@FAST
@given(lons, lats, azimuths, st.floats(10, 40), log_uniform(100, 300_000), log_uniform(1.0, 100_000), buffers, misses)
def test_wedge_vertex_against_circle(
    lon: float, lat: float, axis: float, half: float, length: float, r: float, h: float, miss: float
) -> None:
    """A circle on the wedge's axis, beyond its apex: the apex is the nearest point."""
    d = r + h + miss
    assume(d > 0.5)
    ring = wedge((lon, lat), axis + 180.0, half, length)
    clon, clat, _ = fwd(lon, lat, axis, d)
    truth = distance_to_path((clon, clat), ring + [ring[0]])
    assert abs(truth - d) < 0.01  # the construction is what we think it is
    a, b = parse_footprint(polygon(ring), None), circle(clon, clat, r)
    check(a, b, h, truth - r)
    assert abs(footprint_separation_m(a, b) - (truth - r)) < 0.5


@FAST
@given(
    lons, lats, azimuths, log_uniform(100, 200_000), log_uniform(100, 200_000), log_uniform(1, 50_000), buffers, misses
)
def test_rectangle_edge_against_circle(
    lon: float, lat: float, az: float, width: float, depth: float, r: float, h: float, miss: float
) -> None:
    """A circle on the outward normal from the middle of a long geodesic edge of a geodesic rectangle."""
    d = r + h + miss
    assume(d > 0.5)
    e1, e2 = fwd(lon, lat, az, width / 2), fwd(lon, lat, az + 180.0, width / 2)
    i1, i2 = fwd(e1[0], e1[1], e1[2] + 270.0, depth), fwd(e2[0], e2[1], e2[2] + 90.0, depth)
    ring = [[e1[0], e1[1]], [e2[0], e2[1]], [i2[0], i2[1]], [i1[0], i1[1]]]
    clon, clat, _ = fwd(lon, lat, az - 90.0, d)
    truth = distance_to_path((clon, clat), ring + [ring[0]])
    assert abs(truth - d) < 0.01
    a, b = parse_footprint(polygon(ring), None), circle(clon, clat, r)
    check(a, b, h, truth - r)


@FAST
@given(lons, lats, azimuths, st.floats(30, 60), log_uniform(1_000, 200_000), buffers, misses)
def test_wedges_apex_to_apex(
    lon: float, lat: float, axis: float, half: float, length: float, h: float, miss: float
) -> None:
    """Two triangles whose apexes face each other along a geodesic; overlap when the gap is negative."""
    gap = h + miss
    assume(abs(gap) < length / 4)
    lon2, lat2, _ = fwd(lon, lat, axis, gap)
    to_a = float(GEOD.inv(lon2, lat2, lon, lat)[0])
    a_ring = wedge((lon, lat), axis + 180.0, half, length)
    b_ring = wedge((lon2, lat2), to_a + (180.0 if gap >= 0 else 0.0), half, length)
    # Overlapping wedges of half-angle θ whose apexes passed each other by |gap| must move |gap|·sin θ apart.
    truth = gap if gap >= 0 else gap * math.sin(math.radians(half))
    assume(abs(truth - h) >= 1.2)
    if gap >= 0:  # near the apexes no pair of boundary points is closer than the apexes
        near = [
            fwd(*ring[0], float(GEOD.inv(*ring[0], *ring[k])[0]), s)[:2]
            for ring in (a_ring, b_ring)
            for k in (1, 2)
            for s in np.linspace(0, 3 * gap + 200, 30)
        ]
        pa, pb = np.array(near[:60]), np.array(near[60:])
        ia, ib = np.repeat(np.arange(60), 60), np.tile(np.arange(60), 60)
        assert GEOD.inv(pa[ia, 0], pa[ia, 1], pb[ib, 0], pb[ib, 1])[2].min() >= gap - 0.01
    a, b = parse_footprint(polygon(a_ring), None), parse_footprint(polygon(b_ring), None)
    check(a, b, h, truth)
    if gap >= 0:
        assert abs(footprint_separation_m(a, b) - gap) < 0.5


@FAST
@given(
    lons,
    lats,
    azimuths,
    st.lists(st.floats(0.5, 5), min_size=4, max_size=4),
    st.floats(-80, 80),
    st.floats(-80, 80),
    st.lists(log_uniform(300_000, 1_500_000), min_size=4, max_size=4),
    st.floats(0, 300_000),
    misses,
)
def test_long_lopsided_wedges_with_wide_buffers(
    lon: float,
    lat: float,
    axis: float,
    angles: list[float],
    tilt_a: float,
    tilt_b: float,
    lengths: list[float],
    h: float,
    miss: float,
) -> None:
    """Continental triangles whose apexes face each other, bodies tilted up to 80° off the apex line.

    Each still lies beyond the line through its apex perpendicular to the gap, so the apexes are the nearest
    points; but the gap now runs across the view from the shapes' centres, where no single frame is metre-true.
    """
    gap = h + miss
    assume(10.0 < gap < min(lengths) / 4)
    lon2, lat2, _ = fwd(lon, lat, axis, gap)
    to_a = float(GEOD.inv(lon2, lat2, lon, lat)[0])
    rings = []
    for (alon, alat), opening, (left, right), (l1, l2) in (
        ((lon, lat), axis + 180.0 + tilt_a, angles[:2], lengths[:2]),
        ((lon2, lat2), to_a + 180.0 + tilt_b, angles[2:], lengths[2:]),
    ):
        p1, p2 = fwd(alon, alat, opening - left, l1), fwd(alon, alat, opening + right, l2)
        rings.append([[alon, alat], [p1[0], p1[1]], [p2[0], p2[1]]])
    a, b = parse_footprint(polygon(rings[0]), None), parse_footprint(polygon(rings[1]), None)
    check(a, b, h, gap)
    assert abs(footprint_separation_m(a, b) - gap) < 0.5


@FAST
@given(
    lons,
    lats,
    st.lists(st.tuples(azimuths, log_uniform(100, 100_000)), min_size=2, max_size=4),
    azimuths,
    log_uniform(10, 100_000),
    log_uniform(1, 20_000),
    buffers,
    misses,
)
def test_corridor_against_circle(
    lon: float, lat: float, legs: list[tuple[float, float]], az: float, off: float, rl: float, h: float, miss: float
) -> None:
    path = [[lon, lat]]
    for leg_az, leg in legs:
        nxt = fwd(path[-1][0], path[-1][1], leg_az, leg)
        path.append([nxt[0], nxt[1]])
    clon, clat, _ = fwd(lon, lat, az, off)
    core = distance_to_path((clon, clat), path)
    rc = core - rl - h - miss  # the circle radius that puts the separation where we want it
    assume(rc > 1.0)
    truth = core - rl - rc
    a = parse_footprint({"type": "LineString", "coordinates": path}, rl)
    b = circle(clon, clat, rc)
    check(a, b, h, truth)


@FAST
@given(
    st.integers(3, 12),
    st.floats(87.6, 89.5),
    azimuths,
    st.sampled_from([1.0, -1.0]),
    lons,
    st.floats(0.05, 3.0),
    buffers,
    misses,
)
def test_polar_polygon_against_circles(
    n: int, ring_lat: float, turn: float, pole: float, clon: float, below: float, h: float, miss: float
) -> None:
    ring = [[(turn + 360.0 * k / n + 180.0) % 360.0 - 180.0, pole * ring_lat] for k in range(n)]
    fp = parse_footprint(polygon(ring), None)
    assert abs(fp.center_lat - pole * 90.0) < 1e-6  # the ring encloses the pole, not the rest of the Earth
    inside = circle(clon, pole * 89.9, 5.0)
    assert footprints_conflict(fp, inside, h) and footprints_conflict(inside, fp, h)
    clat = pole * (ring_lat - below)  # below the ring's lowest vertex: outside it
    core = distance_to_path((clon, clat), ring + [ring[0]])
    rc = core - h - miss
    assume(1.0 < rc < R_CAP)
    check(fp, circle(clon, clat, rc), h, core - rc)


@FAST
@given(
    st.floats(0.01, 1.0),
    st.floats(-80, 79),
    st.floats(0.01, 1.0),
    st.floats(0.001, 0.5),
    st.floats(0, 1),
    st.booleans(),
    buffers,
    misses,
)
def test_box_across_the_antimeridian_against_circle(
    half: float, south: float, height: float, beyond: float, along: float, east: bool, h: float, miss: float
) -> None:
    west_lon, east_lon = 180.0 - half, -180.0 + half
    ring = [[west_lon, south], [east_lon, south], [east_lon, south + height], [west_lon, south + height]]
    box = parse_footprint(polygon(ring), None)
    assert box.area_m2 < 2.5e11 and abs(box.center_lon) > 179.0
    clon = east_lon + beyond if east else west_lon - beyond
    clat = south + along * height
    core = distance_to_path((clon, clat), ring + [ring[0]])
    rc = core - h - miss
    assume(1.0 < rc < R_CAP)
    check(box, circle(clon, clat, rc), h, core - rc)


@settings(max_examples=40, deadline=None)
@given(lons, lats, azimuths, st.floats(10, 40), log_uniform(100, 300_000), log_uniform(1.0, 50_000))
def test_cap_radius_is_never_too_small_and_areas_are_geodesic(
    lon: float, lat: float, axis: float, half: float, length: float, r: float
) -> None:
    ring = wedge((lon, lat), axis, half, length)
    fp = parse_footprint(polygon(ring), None)
    closed = ring + [ring[0]]
    samples = [p for a, b in zip(closed[:-1], closed[1:], strict=True) for p in GEOD.npts(*a, *b, 200)]
    lo, la = np.array(samples).T
    far = GEOD.inv(np.full(len(lo), fp.center_lon), np.full(len(lo), fp.center_lat), lo, la)[2].max()
    assert far <= fp.cap_radius_m
    area, _ = GEOD.geometry_area_perimeter(shapely.Polygon(closed))
    assert abs(fp.area_m2 - abs(area)) <= 1e-6 * abs(area) + 1e-3
    buffered = parse_footprint(polygon(ring), r)
    assert buffered.cap_radius_m >= far + r and buffered.area_m2 > fp.area_m2
    c = circle(lon, lat, r)
    assert abs(c.area_m2 - math.pi * r * r) <= 1e-3 * math.pi * r * r


@settings(max_examples=30, deadline=None)
@given(lons, lats, azimuths, log_uniform(100, 50_000), log_uniform(100, 50_000), buffers)
def test_overlap_footprint_is_symmetric_and_inside_both(
    lon: float, lat: float, az: float, r1: float, r2: float, h: float
) -> None:
    lon2, lat2, _ = fwd(lon, lat, az, 0.8 * (r1 + r2 + h))
    a, b = circle(lon, lat, r1), circle(lon2, lat2, r2)
    shape = overlap_footprint(a, b, h)
    assert shape == overlap_footprint(b, a, h)
    ring = shape["coordinates"][0] if shape["type"] == "Polygon" else shape["coordinates"][0][0]
    lo, la = np.array(ring).T
    assert ((-180 <= lo) & (lo <= 180)).all()
    d1 = GEOD.inv(np.full(len(lo), lon), np.full(len(lo), lat), lo, la)[2]
    d2 = GEOD.inv(np.full(len(lo), lon2), np.full(len(lo), lat2), lo, la)[2]
    assert (d1 <= r1 + h / 2 + 1.0).all() and (d2 <= r2 + h / 2 + 1.0).all()
    assert (np.minimum(r1 + h / 2 - d1, r2 + h / 2 - d2) < 1.0).all()  # every vertex lies on one boundary


@settings(max_examples=40, deadline=None)
@given(lons, lats, azimuths, st.floats(10, 60), log_uniform(500, 100_000), st.floats(-0.9, 0.9), buffers)
def test_a_decided_pair_draws_the_overlap_it_would_draw_afresh(
    lon: float, lat: float, axis: float, half: float, length: float, shift: float, h: float
) -> None:
    """Deciding a pair and drawing its overlap share one intersection of the same drawings (``Pair.overlap``); the
    overlap a conflict records must be the one intersecting its drawings anew would give, at any buffer."""
    a_ring = wedge((lon, lat), axis, half, length)
    apex = fwd(lon, lat, axis, length * (1 + shift))
    b_ring = wedge(apex[:2], apex[2] + 180.0 + half / 2, half, length)
    a, b = parse_footprint(polygon(a_ring), None), parse_footprint(polygon(b_ring), None)
    window = TimeWindow(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC))
    va, vb = Volume4D(a, None, window), Volume4D(b, None, window)
    found = volumes_overlap(va, vb, Buffers(horizontal_m=h))
    assert (found is not None) == footprints_conflict(a, b, h)

    def afresh(pair: geodesy.Pair, g1: Any, g2: Any) -> Any:
        return geodesy.polygonal(geodesy.overlay(shapely.intersection, g1, g2))

    with mock.patch.object(geodesy.Pair, "overlap", afresh):
        again = volumes_overlap(
            Volume4D(parse_footprint(polygon(a_ring), None), None, window),
            Volume4D(parse_footprint(polygon(b_ring), None), None, window),
            Buffers(horizontal_m=h),
        )
    assert (found and found.footprint) == (again and again.footprint)


@settings(max_examples=150, deadline=None)
@given(lons, lats, azimuths, azimuths, log_uniform(1_000, 11_000_000), st.floats(0, 1), st.floats(0, 1))
def test_chord_bound_covers_how_far_edges_stray_in_a_frame(
    lon0: float, lat0: float, az1: float, az2: float, reach: float, f1: float, f2: float
) -> None:
    """``geodesy.chord_bound`` is empirical: check it against geodesics drawn point by point."""
    p1, p2 = fwd(lon0, lat0, az1, reach * f1), fwd(lon0, lat0, az2, reach * f2)
    length = float(GEOD.inv(p1[0], p1[1], p2[0], p2[1])[2])
    assume(length > 1.0)
    lon, lat = np.array(GEOD.npts(p1[0], p1[1], p2[0], p2[1], 400, initial_idx=0, terminus_idx=0)).T
    xy, rho = geodesy.project(lon0, lat0, lon, lat)
    x, y = xy[:, 0], xy[:, 1]
    chord = np.array([x[-1] - x[0], y[-1] - y[0]])
    strays = np.abs((x - x[0]) * chord[1] - (y - y[0]) * chord[0]) / np.hypot(*chord)
    bound = geodesy.chord_bound(np.array([length]), rho[:1], rho[-1:])[0]
    assert strays.max() <= bound + 1e-6


@settings(max_examples=40, deadline=None)
@given(lons, lats, log_uniform(10.0, 2_000_000.0))
def test_circle_area_matches_a_fine_geodesic_polygon(lon: float, lat: float, r: float) -> None:
    n = 4096
    lo, la, _ = GEOD.fwd(np.full(n, lon), np.full(n, lat), np.linspace(0.0, 360.0, n, endpoint=False), np.full(n, r))
    truth = abs(GEOD.polygon_area_perimeter(lo, la)[0]) * (2 * math.pi / n) / math.sin(2 * math.pi / n)
    fp = Footprint.from_trusted({"type": "Point", "coordinates": [lon, lat]}, r)  # past the default area cap
    rel = 1e-6 if r <= rings.ANALYTIC_CIRCLE_M else 2e-4  # exact formula, then an inscribed 64-gon
    assert abs(fp.area_m2 - truth) <= rel * truth + 1e-2


@settings(max_examples=40, deadline=None)
@given(lons, lats, azimuths, log_uniform(100, 50_000), log_uniform(100, 50_000), log_uniform(10, 200_000))
def test_circles_drawn_off_the_frame_centre_stay_inside_and_within_tolerance(
    lon: float, lat: float, az: float, r_home: float, r: float, gap: float
) -> None:
    """A circle drawn round the image of its centre sits inside the geodesic circle, within OUTPUT_TOL_M."""
    home = circle(lon, lat, r_home)._shape
    lon2, lat2, _ = fwd(lon, lat, az, gap)
    other = circle(lon2, lat2, r)._shape
    pair = geodesy.Pair(home, other)
    assert (pair.lon0, pair.lat0) == home.center
    xy = shapely.get_coordinates(rings.filled(other, pair, 0.0))
    lo, la = geodesy.unproject(pair.lon0, pair.lat0, xy[:, 0], xy[:, 1])
    d = GEOD.inv(np.full(len(lo), lon2), np.full(len(lo), lat2), lo, la)[2]
    assert (d <= r + 1e-6).all()
    # Vertices lie on the boundary; chords between them stray at most OUTPUT_TOL_M (checked via the count).
    assert (d >= r - geodesy.OUTPUT_TOL_M).all()
    q = len(xy) - 1
    assert r * (1 - math.cos(math.pi / q)) <= geodesy.OUTPUT_TOL_M


def test_a_drawn_polygon_is_never_given_non_finite_coordinates() -> None:
    """The record embeds overlap polygons without reading them back (``core.record.Verbatim``): none may hold a
    coordinate JSON cannot write."""
    square = shapely.box(-1000.0, -1000.0, 1000.0, 1000.0)
    assert np.isfinite(np.concatenate(rings.to_lonlat_rings(square, 10.0, 50.0)[0])).all()
    with pytest.raises(ValueError, match="non-finite"):
        rings.to_lonlat_rings(square, float("nan"), 50.0)
