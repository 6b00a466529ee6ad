"""Intrusion prediction: when a dead-reckoned track enters a volume, in space, time and altitude, anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from deconfliction.core.index import Envelope, SpatioTemporalIndex
from deconfliction.core.intrusion import Mover, dead_reckon, predict_intrusions
from deconfliction.core.volumes import AltitudeBand, AltitudeReference, TimeWindow, Volume4D, parse_footprint
from deconfliction.store import codec

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GEOD = Geod(ellps="WGS84")


def index_with(*volumes: tuple[str, Volume4D]) -> SpatioTemporalIndex:
    index = SpatioTemporalIndex(codec.volume_from_text)
    for i, (owner, vol) in enumerate(volumes):
        index.add(("site", f"s{i}", 0), Envelope.of(vol), codec.volume_text(vol), owner, None, 1, vol)
    return index


def disc(lon: float, lat: float, radius_m: float, band: AltitudeBand | None = None, hours: float = 2) -> Volume4D:
    fp = parse_footprint({"type": "Point", "coordinates": [lon, lat]}, radius_m)
    return Volume4D(fp, band, TimeWindow(NOW - timedelta(hours=1), NOW + timedelta(hours=hours)))


def mover(lon: float, lat: float, trk: float, gs: float = 128.0, alt: float = 9_000.0, vs: float = 0.0) -> Mover:
    return Mover(0, "blue", None, lat, lon, alt, "BARO", gs, trk, vs)


def predict(index: SpatioTemporalIndex, *movers: Mover) -> list:  # type: ignore[type-arg]
    return predict_intrusions(index, list(movers), NOW.timestamp(), 300.0, (1,), lambda m, c: True)


def test_a_track_heading_for_a_site_enters_it_when_its_path_reaches_the_edge() -> None:
    index = index_with(("red", disc(5.5, 50.0, 5_000)))
    m = mover(5.0, 50.0, 90.0)
    found = predict(index, m)
    assert len(found) == 1
    _, _, dist = GEOD.inv(m.lon, m.lat, 5.5, 50.0)
    expected = (dist - 5_000) / m.gs
    assert abs(found[0].t_entry_s - expected) <= 1.5
    _, _, at_entry = GEOD.inv(found[0].lon, found[0].lat, 5.5, 50.0)
    assert at_entry == pytest.approx(5_000, abs=200)
    assert predict(index, mover(5.0, 50.0, 270.0)) == []  # heading away
    assert predict(index, mover(5.0, 50.0, 90.0, gs=50.0)) == []  # too slow to get there in 300 s


def test_a_track_inside_already_is_intruding_now() -> None:
    index = index_with(("red", disc(5.0, 50.0, 5_000)))
    assert [i.t_entry_s for i in predict(index, mover(5.01, 50.0, 0.0))] == [0.0]


def test_altitude_and_time_windows_are_respected() -> None:
    low = AltitudeBand(0.0, 3_000.0, AltitudeReference.AMSL)
    index = index_with(("red", disc(5.5, 50.0, 5_000, low)))
    assert predict(index, mover(5.0, 50.0, 90.0, alt=9_000.0)) == []  # passes far above
    descending = predict(index, mover(5.0, 50.0, 90.0, alt=9_000.0, vs=-25.0))
    assert len(descending) == 1  # low enough by the time it gets there
    later = index_with(
        (
            "red",
            Volume4D(
                disc(5.5, 50.0, 5_000).footprint, None, TimeWindow(NOW + timedelta(hours=1), NOW + timedelta(hours=2))
            ),
        )
    )
    assert predict(later, mover(5.0, 50.0, 90.0)) == []  # the volume is not live within the look-ahead


def test_across_the_antimeridian_and_near_a_pole() -> None:
    east = index_with(("red", disc(-179.9, 10.0, 3_000)))
    assert len(predict(east, mover(179.8, 10.0, 90.0))) == 1
    polar = index_with(("red", disc(0.0, 89.95, 3_000)))
    assert len(predict(polar, mover(180.0, 89.8, 0.0))) == 1  # over the pole, onto the far side


@settings(max_examples=40, deadline=None)
@given(lon=st.floats(-180, 180), lat=st.floats(-85, 85), trk=st.floats(0, 359.9), dist_km=st.floats(5, 36))
def test_a_site_on_the_path_is_always_found_and_never_off_it(
    lon: float, lat: float, trk: float, dist_km: float
) -> None:
    ahead_lon, ahead_lat, _ = GEOD.fwd(lon, lat, trk, dist_km * 1_000)
    index = index_with(("red", disc(float(ahead_lon), float(ahead_lat), 2_000)))
    on = predict(index, mover(lon, lat, trk))
    assert len(on) == 1 and abs(on[0].t_entry_s - (dist_km * 1_000 - 2_000) / 128.0) <= 2.0
    assert predict(index, mover(lon, lat, (trk + 180.0) % 360.0)) == []


def test_dead_reckoning_follows_the_geodesic() -> None:
    lat, lon = dead_reckon(np.array([50.0]), np.array([179.99]), np.array([90.0]), np.array([100.0]), np.array([60.0]))
    _, _, dist = GEOD.inv(179.99, 50.0, float(lon[0]), float(lat[0]))
    assert dist == pytest.approx(6_000, abs=0.01) and lon[0] < 0  # crossed the antimeridian
