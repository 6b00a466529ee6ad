"""Validation of 4D volumes: every bad input is refused with a message that says what to fix."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pyproj import Geod

from deconfliction.core.errors import InvalidVolume
from deconfliction.core.volumes import (
    AltitudeBand,
    AltitudeReference,
    Buffers,
    Footprint,
    TimeWindow,
    Volume4D,
    VolumeLimits,
    altitude_overlap,
    footprint_separation_m,
    footprints_conflict,
    overlap_footprint,
    parse_altitude,
    parse_footprint,
    parse_time,
    time_overlap,
    volumes_overlap,
)

GEOD = Geod(ellps="WGS84")
T0 = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def polygon(*rings: list[list[float]]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [list(r) for r in rings]}


def square(lon: float, lat: float, half: float = 0.05) -> list[list[float]]:
    return [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]


def refused(geometry: Any, radius_m: Any = None, limits: VolumeLimits | None = None) -> InvalidVolume:
    with pytest.raises(InvalidVolume) as info:
        parse_footprint(geometry, radius_m, limits or VolumeLimits())
    assert info.value.details.get("field", "").startswith("footprint")
    return info.value


# --- footprints that must pass -------------------------------------------------------------------------------


def test_plain_polygon_is_normalised_to_lists_of_floats() -> None:
    fp = parse_footprint({"type": "Polygon", "coordinates": [[(0, 0), (1, 0), (1, 1), (0, 0)]]}, None)
    assert fp.kind == "polygon" and fp.radius_m is None
    assert fp.geojson == {"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]]}
    assert all(type(v) is float for p in fp.geojson["coordinates"][0] for v in p)
    assert fp.vertex_count == 4
    area, _ = GEOD.polygon_area_perimeter([0, 1, 1], [0, 0, 1])
    assert fp.area_m2 == pytest.approx(abs(area), rel=1e-9)


def test_polygon_across_the_antimeridian_is_the_small_box() -> None:
    fp = parse_footprint(polygon([[179, 0], [-179, 0], [-179, 1], [179, 1], [179, 0]]), None)
    assert abs(fp.center_lon) == pytest.approx(180.0) and fp.center_lat == pytest.approx(0.5, abs=1e-3)
    area, _ = GEOD.polygon_area_perimeter([179, -179, -179, 179], [0, 0, 1, 1])
    assert fp.area_m2 == pytest.approx(abs(area), rel=1e-9)
    assert fp.area_m2 < 3e10  # ~24,600 km², not the rest of the Earth
    assert fp.cap_radius_m < 200_000


def test_polygon_around_the_north_pole_encloses_it() -> None:
    ring = [[0, 88], [90, 88], [180, 88], [-90, 88], [0, 88]]
    fp = parse_footprint(polygon(ring), None)
    assert fp.center_lat == pytest.approx(90.0, abs=1e-6)
    circle_at_pole = parse_footprint({"type": "Point", "coordinates": [45, 89.99]}, 10.0)
    assert footprints_conflict(fp, circle_at_pole, 0.0)
    assert footprint_separation_m(fp, circle_at_pole) < -100_000  # the pole is deep inside


def test_multipolygon_split_at_the_antimeridian_acts_as_one() -> None:
    west = [[178, 0], [180, 0], [180, 1], [178, 1], [178, 0]]
    east = [[-180, 0], [-178, 0], [-178, 1], [-180, 1], [-180, 0]]
    fp = parse_footprint({"type": "MultiPolygon", "coordinates": [[west], [east]]}, None)
    assert fp.vertex_count == 10
    # Edges are geodesics, so the same region as one ring keeps the vertices on the seam.
    whole = parse_footprint(polygon([[178, 0], [180, 0], [-178, 0], [-178, 1], [180, 1], [178, 1], [178, 0]]), None)
    assert fp.area_m2 == pytest.approx(whole.area_m2, rel=1e-6)
    # A circle sitting on the seam is inside, and the seam itself is not a gap.
    seam = parse_footprint({"type": "Point", "coordinates": [180, 0.5]}, 100.0)
    assert footprint_separation_m(fp, seam) < -50_000


def test_polygon_with_a_hole_and_a_buffer() -> None:
    hole = list(reversed(square(10, 50, 0.01)))
    fp = parse_footprint(polygon(square(10, 50, 0.05), hole), 100)
    assert fp.radius_m == 100.0
    bare = parse_footprint(polygon(square(10, 50, 0.05), hole), None)
    assert fp.area_m2 > bare.area_m2
    inside_hole = parse_footprint({"type": "Point", "coordinates": [10, 50]}, 10.0)
    assert not footprints_conflict(bare, inside_hole, 0.0)
    # The hole's east and west edges are 0.01° of longitude at 50° N (≈ 715 m) from the centre.
    assert 690 < footprint_separation_m(bare, inside_hole) < 720


def test_circle_and_corridor() -> None:
    circle = parse_footprint({"type": "Point", "coordinates": [2.35, 48.85]}, 1500)
    assert circle.kind == "circle" and circle.cap_radius_m == pytest.approx(1500)
    assert circle.area_m2 == pytest.approx(math.pi * 1500**2, rel=1e-3)
    corridor = parse_footprint({"type": "LineString", "coordinates": [[2, 48], [2.5, 48.5], [3, 48]]}, 250)
    assert corridor.kind == "corridor"
    assert corridor.geojson["coordinates"] == [[2.0, 48.0], [2.5, 48.5], [3.0, 48.0]]


def test_radius_zero_on_a_polygon_means_no_buffer() -> None:
    assert parse_footprint(polygon(square(0, 0)), 0).radius_m is None


def test_geojson_bbox_member_is_accepted() -> None:
    geometry = polygon(square(0, 0)) | {"bbox": [-0.05, -0.05, 0.05, 0.05]}
    assert parse_footprint(geometry, None).geojson == polygon(square(0, 0))


def test_from_trusted_rebuilds_the_same_footprint() -> None:
    for geometry, radius in (
        (polygon(square(10, 50), list(reversed(square(10, 50, 0.01)))), None),
        ({"type": "MultiPolygon", "coordinates": [[square(0, 0)], [square(1, 1)]]}, 50.0),
        ({"type": "Point", "coordinates": [179.9, -89.0]}, 800.0),
        ({"type": "LineString", "coordinates": [[0, 0], [0.3, 0.1]]}, 40.0),
    ):
        parsed = parse_footprint(geometry, radius)
        trusted = Footprint.from_trusted(parsed.geojson, parsed.radius_m)
        assert trusted == parsed and hash(trusted) == hash(parsed)
        assert (trusted.center_lon, trusted.center_lat, trusted.cap_radius_m) == (
            parsed.center_lon,
            parsed.center_lat,
            parsed.cap_radius_m,
        )
        assert trusted.area_m2 == pytest.approx(parsed.area_m2, rel=1e-9)


def test_footprint_is_immutable() -> None:
    fp = parse_footprint(polygon(square(0, 0)), None)
    with pytest.raises(AttributeError):
        fp.radius_m = 3.0  # type: ignore[misc]


# --- footprints that must be refused -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("geometry", "words"),
    [
        ({"type": "GeometryCollection", "coordinates": []}, ["not supported", "Polygon", "LineString"]),
        ({"type": "MultiPoint", "coordinates": [[0, 0]]}, ["not supported"]),
        ({"coordinates": [[0, 0]]}, ["not supported"]),
        ("POLYGON((0 0, 1 0, 1 1, 0 0))", ["GeoJSON geometry object"]),
        ({"type": "Polygon"}, ["no coordinates"]),
        ({"type": "Polygon", "coordinates": [], "crs": "x"}, ["unknown members", "crs"]),
    ],
)
def test_unknown_or_malformed_geometry(geometry: Any, words: list[str]) -> None:
    error = refused(geometry)
    for word in words:
        assert word in error.message


def test_missing_nesting_names_the_position_and_the_expected_shape() -> None:
    error = refused({"type": "Polygon", "coordinates": square(0, 0)})
    assert error.details["field"] == "footprint.coordinates[0][0]"
    assert "nesting missing" in error.message and "list of rings" in error.message


def test_extra_nesting_is_named() -> None:
    error = refused({"type": "Polygon", "coordinates": [[square(0, 0)]]})
    assert error.details["field"] == "footprint.coordinates[0][0]"
    assert "nesting too many" in error.message


def test_multipolygon_given_polygon_coordinates_is_refused() -> None:
    error = refused({"type": "MultiPolygon", "coordinates": [square(0, 0)]})
    assert "nesting missing" in error.message and "MultiPolygon" in error.message


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (["1.0", 2.0], ["longitude", "must be a number", "str"]),
        ([1.0, True], ["latitude", "must be a number", "boolean"]),
        ([float("nan"), 0.0], ["longitude", "finite"]),
        ([0.0, float("inf")], ["latitude", "finite"]),
        ([181.0, 0.0], ["longitude", "outside [-180, 180]"]),
        ([10.0, -91.0], ["latitude", "outside [-90, 90]", "[lon, lat]"]),
        ([1.0, 2.0, 300.0], ["exactly two numbers", "altitude band"]),
        ([1.0], ["exactly two numbers"]),
        (None, ["must be a [lon, lat] position"]),
    ],
)
def test_bad_coordinates_name_the_exact_position(bad: Any, words: list[str]) -> None:
    ring = square(0, 0)
    ring[3] = bad
    error = refused(polygon(ring))
    assert error.details["field"] == "footprint.coordinates[0][3]"
    for word in words:
        assert word in error.message


def test_huge_integer_coordinate_is_not_finite() -> None:
    ring = square(0, 0)
    ring[2] = [10**400, 0]
    assert "finite" in refused(polygon(ring)).message


def test_bad_point_coordinates() -> None:
    error = refused({"type": "Point", "coordinates": [200, 0]}, 10)
    assert error.details["field"] == "footprint.coordinates" and "longitude" in error.message


def test_ring_with_too_few_positions() -> None:
    error = refused(polygon([[0, 0], [1, 0], [0, 0]]))
    assert "at least 4" in error.message and error.details["field"] == "footprint.coordinates[0]"


def test_ring_not_closed() -> None:
    error = refused(polygon([[0, 0], [1, 0], [1, 1], [0, 1]]))
    assert "not closed" in error.message and "repeat its first" in error.message


def test_ring_collapsed_by_repeated_vertices() -> None:
    error = refused(polygon([[0, 0], [0, 0], [1, 1], [1, 1], [0, 0]]))
    assert "collapses" in error.message and "distinct" in error.message


def test_antimeridian_twins_count_as_repeated() -> None:
    error = refused(polygon([[180, 0], [-180, 0], [179, 1], [180, 0]]))
    assert "collapses" in error.message


def test_ring_with_zero_area() -> None:
    error = refused(polygon([[0, 0], [1, 0], [2, 0], [0, 0]]))
    assert "no area" in error.message and "in a line" in error.message
    assert "no area" in refused(polygon([[0, 0], [1, 0], [0, 0], [1, 0], [0, 0]])).message


def test_self_intersecting_ring_says_where() -> None:
    error = refused(polygon([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]))
    assert "self-intersects" in error.message and "near [0.5" in error.message
    assert error.details["field"] == "footprint.coordinates[0]"


def test_self_intersecting_hole_is_named() -> None:
    bow = [[0.0, 0.0], [0.02, 0.02], [0.02, 0.0], [0.0, 0.02], [0.0, 0.0]]
    error = refused(polygon(square(0, 0), bow))
    assert error.details["field"] == "footprint.coordinates[1]" and "self-intersects" in error.message


def test_hole_outside_shell() -> None:
    error = refused(polygon(square(0, 0), square(1, 1, 0.01)))
    assert "hole lies outside" in error.message and "inside the outer ring" in error.message


def test_overlapping_multipolygon_parts() -> None:
    error = refused({"type": "MultiPolygon", "coordinates": [[square(0, 0)], [square(0.05, 0)]]})
    assert "overlap" in error.message


def test_point_needs_a_radius() -> None:
    for radius in (None, 0):
        error = refused({"type": "Point", "coordinates": [0, 0]}, radius)
        assert error.details["field"] == "footprint.radius_m" and "radius_m > 0" in error.message


def test_corridor_needs_a_radius_and_two_places() -> None:
    assert "half-width" in refused({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}).message
    error = refused({"type": "LineString", "coordinates": [[0, 0], [0, 0]]}, 10)
    assert "two distinct points" in error.message
    assert "A line needs 2" in refused({"type": "LineString", "coordinates": [[0, 0]]}, 10).message


@pytest.mark.parametrize(
    ("radius", "words"),
    [(-1, ["negative"]), (float("nan"), ["finite"]), (float("inf"), ["finite"]), ("5", ["number"]), (True, ["number"])],
)
def test_bad_radius(radius: Any, words: list[str]) -> None:
    error = refused({"type": "Point", "coordinates": [0, 0]}, radius)
    for word in words:
        assert word in error.message


def test_too_many_vertices_counts_all_rings() -> None:
    limits = VolumeLimits(max_vertices=9)
    geometry = polygon(square(0, 0), list(reversed(square(0, 0, 0.01))))
    error = refused(geometry, None, limits)
    assert "10 positions" in error.message and "9 allowed" in error.message
    assert parse_footprint(geometry, None, VolumeLimits(max_vertices=10)).vertex_count == 10


def test_too_large_an_area() -> None:
    error = refused(polygon(square(0, 0, 3.0)))
    assert "km²" in error.message and "250,000" in error.message and "split" in error.message
    r_cap = math.sqrt(250_000e6 / math.pi)
    assert "km²" in refused({"type": "Point", "coordinates": [0, 60]}, r_cap * 1.01).message
    parse_footprint({"type": "Point", "coordinates": [0, 60]}, r_cap * 0.99)
    assert "km²" in refused(polygon(square(0, 0, 0.1)), 30_000, VolumeLimits(max_area_km2=3_000)).message


def test_corridor_area_counts_towards_the_cap() -> None:
    line = {"type": "LineString", "coordinates": [[0, 0], [5, 0]]}
    assert "km²" in refused(line, 250_000.0).message
    fp = parse_footprint(line, 1_000.0)
    length = GEOD.inv(0, 0, 5, 0)[2]
    assert fp.area_m2 == pytest.approx(2_000 * length + math.pi * 1_000**2, rel=2e-3)


def test_too_wide_an_extent() -> None:
    line = {"type": "LineString", "coordinates": [[0, 0], [60, 0], [120, 0]]}
    error = refused(line, 10)
    assert "from its centre" in error.message and "split" in error.message


# --- altitude and time --------------------------------------------------------------------------------------


def test_altitude_band() -> None:
    band = parse_altitude(0, 120.5, "AGL")
    assert band == AltitudeBand(0.0, 120.5, AltitudeReference.AGL)
    assert parse_altitude(-1000, 100_000, AltitudeReference.WGS84).reference is AltitudeReference.WGS84


@pytest.mark.parametrize(
    ("lower", "upper", "reference", "field", "words"),
    [
        (100, 50, "AMSL", "altitude", ["Inverted altitude band", "swap"]),
        (50, 50, "AMSL", "altitude", ["Empty altitude band"]),
        (0, 100, "QNH", "altitude.reference", ["not known", "WGS84, AMSL, AGL"]),
        (0, 100, None, "altitude.reference", ["not known"]),
        (float("nan"), 100, "AGL", "altitude.lower", ["finite"]),
        (0, float("inf"), "AGL", "altitude.upper", ["finite"]),
        ("0", 100, "AGL", "altitude.lower", ["number"]),
        (0, True, "AGL", "altitude.upper", ["number"]),
        (-1500, 100, "AGL", "altitude.lower", ["outside", "-1,000"]),
        (0, 100_001, "AGL", "altitude.upper", ["outside", "100,000"]),
    ],
)
def test_bad_altitude(lower: Any, upper: Any, reference: Any, field: str, words: list[str]) -> None:
    with pytest.raises(InvalidVolume) as info:
        parse_altitude(lower, upper, reference)
    assert info.value.details["field"] == field
    for word in words:
        assert word in info.value.message


def test_time_window_is_converted_to_utc() -> None:
    plus2 = timezone(timedelta(hours=2))
    window = parse_time(datetime(2026, 6, 1, 12, 0, tzinfo=plus2), datetime(2026, 6, 1, 13, 0, tzinfo=plus2))
    assert window == TimeWindow(T0, T0 + timedelta(hours=1)) and window.start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("start", "end", "field", "words"),
    [
        (datetime(2026, 6, 1, 10), T0 + timedelta(hours=1), "time.start", ["no time zone", "offset"]),
        (T0, datetime(2026, 6, 1, 11), "time.end", ["no time zone"]),
        (T0 + timedelta(hours=1), T0, "time", ["Reversed time window", "swap"]),
        (T0, T0, "time", ["Empty time window"]),
        ("2026-06-01T10:00:00Z", T0, "time.start", ["date-time"]),
    ],
)
def test_bad_time(start: Any, end: Any, field: str, words: list[str]) -> None:
    with pytest.raises(InvalidVolume) as info:
        parse_time(start, end)
    assert info.value.details["field"] == field
    for word in words:
        assert word in info.value.message


# --- decision rules on hand-made cases ----------------------------------------------------------------------


def test_time_rule_half_open_and_buffered() -> None:
    a = TimeWindow(T0, T0 + timedelta(hours=1))
    b = TimeWindow(T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    assert time_overlap(a, b, 0) is None and time_overlap(b, a, 0) is None
    met = time_overlap(a, b, 60)
    assert met == TimeWindow(T0 + timedelta(minutes=59, seconds=30), T0 + timedelta(hours=1, seconds=30))
    assert time_overlap(a, TimeWindow(T0 + timedelta(hours=1, seconds=59), T0 + timedelta(hours=3)), 60) is not None
    assert time_overlap(a, TimeWindow(T0 + timedelta(hours=1, seconds=60), T0 + timedelta(hours=3)), 60) is None
    with pytest.raises(ValueError):
        time_overlap(a, b, -1)


def test_altitude_same_reference_is_exact() -> None:
    low, high = AltitudeBand(0, 100, AltitudeReference.AGL), AltitudeBand(100, 200, AltitudeReference.AGL)
    assert altitude_overlap(low, high, 0) is None
    got = altitude_overlap(low, high, 10)
    assert got == (AltitudeBand(95, 105, AltitudeReference.AGL), AltitudeBand(95, 105, AltitudeReference.AGL))
    assert altitude_overlap(low, AltitudeBand(110, 200, AltitudeReference.AGL), 10) is None


def test_altitude_across_references_is_conservative() -> None:
    amsl = AltitudeBand(1000, 1200, AltitudeReference.AMSL)
    # WGS84 = AMSL + N with N in [-107, 86]: 1000..1200 AMSL may be 893..1286 above the ellipsoid.
    assert altitude_overlap(amsl, AltitudeBand(1285, 1400, AltitudeReference.WGS84), 0) is not None
    assert altitude_overlap(amsl, AltitudeBand(1287, 1400, AltitudeReference.WGS84), 0) is None
    assert altitude_overlap(amsl, AltitudeBand(700, 894, AltitudeReference.WGS84), 0) is not None
    assert altitude_overlap(amsl, AltitudeBand(700, 892, AltitudeReference.WGS84), 0) is None
    # AMSL = AGL + terrain, terrain in [-430, 8849]: 0..150 AGL may be -430..8999 AMSL.
    agl = AltitudeBand(0, 150, AltitudeReference.AGL)
    got = altitude_overlap(amsl, agl, 0)
    assert got == (AltitudeBand(1000, 1200, AltitudeReference.AMSL), AltitudeBand(0, 150, AltitudeReference.AGL))
    assert altitude_overlap(AltitudeBand(9000, 9100, AltitudeReference.AMSL), agl, 0) is None
    assert altitude_overlap(AltitudeBand(9000, 9100, AltitudeReference.AMSL), agl, 2.0) is not None
    # Both directions agree, and the bands come back in each side's own reference.
    pair = altitude_overlap(agl, AltitudeBand(8_000, 9_100, AltitudeReference.WGS84), 0)
    assert pair is not None and pair[0].reference == "AGL" and pair[1].reference == "WGS84"
    assert pair == tuple(reversed(altitude_overlap(pair[1], pair[0], 0) or ()))  # type: ignore[arg-type]


def test_unlimited_altitude_overlaps_everything() -> None:
    band = AltitudeBand(50_000, 60_000, AltitudeReference.WGS84)
    assert altitude_overlap(None, None, 0) == (None, None)
    assert altitude_overlap(None, band, 0) == (band, band)
    assert altitude_overlap(band, None, 20) == (AltitudeBand(49_990, 60_010, AltitudeReference.WGS84),) * 2


def test_adjacent_blocks_do_not_conflict_overlapping_ones_do() -> None:
    a = parse_footprint(polygon([[0, 0], [0.1, 0], [0.1, 0.1], [0, 0.1], [0, 0]]), None)
    b = parse_footprint(polygon([[0.1, 0], [0.2, 0], [0.2, 0.1], [0.1, 0.1], [0.1, 0]]), None)
    t_junction = parse_footprint(polygon([[0.1, 0.03], [0.2, 0.03], [0.2, 0.06], [0.1, 0.06], [0.1, 0.03]]), None)
    for other in (b, t_junction):
        assert not footprints_conflict(a, other, 0.0) and not footprints_conflict(other, a, 0.0)
        assert footprints_conflict(a, other, 2.0)
        assert footprint_separation_m(a, other) == 0.0
    c = parse_footprint(polygon([[0.09999, 0], [0.2, 0], [0.2, 0.1], [0.09999, 0.1], [0.09999, 0]]), None)
    assert footprints_conflict(a, c, 0.0) and footprint_separation_m(a, c) < -1.0


def test_overlap_footprint_and_volume_overlap() -> None:
    a = parse_footprint(polygon([[179.9, 0], [-179.9, 0], [-179.9, 0.2], [179.9, 0.2], [179.9, 0]]), None)
    b = parse_footprint({"type": "Point", "coordinates": [180, 0.1]}, 5_000)
    shape = overlap_footprint(a, b, 0.0)
    assert shape["type"] == "Polygon"
    lons = [p[0] for p in shape["coordinates"][0]]
    assert all(-180 <= x <= 180 for x in lons) and min(lons) < -179.95 and max(lons) > 179.95
    assert shape == overlap_footprint(b, a, 0.0)
    far = parse_footprint({"type": "Point", "coordinates": [0, 0]}, 10)
    assert overlap_footprint(a, far, 0.0) == {"type": "MultiPolygon", "coordinates": []}

    band = AltitudeBand(0, 120, AltitudeReference.AGL)
    va = Volume4D(a, band, TimeWindow(T0, T0 + timedelta(hours=1)))
    vb = Volume4D(b, None, TimeWindow(T0 + timedelta(minutes=30), T0 + timedelta(hours=2)))
    got = volumes_overlap(va, vb, Buffers())
    assert got is not None and got.time == TimeWindow(T0 + timedelta(minutes=30), T0 + timedelta(hours=1))
    assert got.altitude_a == band and got.altitude_b == band and got.footprint == shape
    later = Volume4D(b, None, TimeWindow(T0 + timedelta(hours=1), T0 + timedelta(hours=2)))
    assert volumes_overlap(va, later, Buffers()) is None
    assert volumes_overlap(va, later, Buffers(seconds=1)) is not None
    high = Volume4D(b, AltitudeBand(9_000, 9_500, AltitudeReference.AMSL), vb.time)
    assert volumes_overlap(va, high, Buffers()) is None
    assert volumes_overlap(va, Volume4D(far, None, vb.time), Buffers(horizontal_m=1000)) is None


def _geodesic_area(rings: list[list[list[float]]]) -> float:
    lon_lat = [list(zip(*ring, strict=True)) for ring in rings]
    return abs(GEOD.polygon_area_perimeter(*lon_lat[0])[0]) - sum(
        abs(GEOD.polygon_area_perimeter(*h)[0]) for h in lon_lat[1:]
    )


def _box(w: float, s: float, e: float, n: float) -> list[list[float]]:
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


def _ccw(ring: list[list[float]]) -> bool:  # small rings: the planar sign in lon/lat is the geodesic one
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False)) > 0


@pytest.mark.parametrize("h", [0.0, 200.0])
def test_overlaps_with_holes_and_in_several_parts_are_drawn_whole(h: float) -> None:
    """An overlap keeps a hole of either footprint, and one that falls apart comes back as a MultiPolygon."""
    holed = parse_footprint(polygon(_box(10.0, 50.0, 10.4, 50.3), _box(10.1, 50.1, 10.2, 50.2)[::-1]), None)
    inner = parse_footprint(polygon(_box(10.05, 50.05, 10.35, 50.25)), None)
    shape = overlap_footprint(holed, inner, h)
    assert shape == overlap_footprint(inner, holed, h) and shape["type"] == "Polygon"
    shell, hole = shape["coordinates"]  # exactly one hole
    assert _ccw(shell) and not _ccw(hole) and shell[0] == shell[-1] and hole[0] == hole[-1]
    if h == 0.0:
        want = _geodesic_area([_box(10.05, 50.05, 10.35, 50.25), _box(10.1, 50.1, 10.2, 50.2)])
        assert _geodesic_area(shape["coordinates"]) == pytest.approx(want, rel=1e-4)

    u_shape = [[10.0, 50.0], [10.3, 50.0], [10.3, 50.3], [10.2, 50.3], [10.2, 50.1], [10.1, 50.1], [10.1, 50.3]]
    u = parse_footprint(polygon([*u_shape, [10.0, 50.3], [10.0, 50.0]]), None)
    bar = parse_footprint(polygon(_box(9.9, 50.2, 10.4, 50.25)), None)
    parts = overlap_footprint(u, bar, h)
    assert parts == overlap_footprint(bar, u, h) and parts["type"] == "MultiPolygon"
    assert len(parts["coordinates"]) == 2 and all(len(p) == 1 and _ccw(p[0]) for p in parts["coordinates"])
    if h == 0.0:
        got = sorted(_geodesic_area(p) for p in parts["coordinates"])
        want_one = _geodesic_area([_box(10.0, 50.2, 10.1, 50.25)])
        assert got == pytest.approx([want_one, _geodesic_area([_box(10.2, 50.2, 10.3, 50.25)])], rel=1e-4)
