"""The index may return extra candidates, never miss one: checked against brute force on random scenes,
including the antimeridian and the poles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.index import Envelope, Key, SpatioTemporalIndex
from deconfliction.core.volumes import Buffers, Volume4D, parse_altitude, parse_footprint, parse_time, volumes_overlap
from deconfliction.store import codec

T0 = datetime(2026, 12, 1, tzinfo=UTC)
_decode = codec.volume_from_text


def _add(index: SpatioTemporalIndex, key: Key, vol: Volume4D, owner: str, group: str | None, kind: int) -> None:
    # Without the decoded volume: candidates must come back decoded from the stored bytes.
    index.add(key, Envelope.of(vol), codec.volume_text(vol), owner, group, kind)


@st.composite
def volumes(draw: st.DrawFn, lat_range: tuple[float, float] = (-89.5, 89.5)) -> Volume4D:
    lat = draw(st.floats(*lat_range))
    lon = draw(st.sampled_from([draw(st.floats(-180, 180)), draw(st.floats(178, 180)), draw(st.floats(-180, -178))]))
    radius = draw(st.floats(100, 150_000))
    lower = draw(st.floats(0, 5000))
    start = T0 + timedelta(minutes=draw(st.integers(0, 48 * 60)))
    hours = draw(st.sampled_from([0.5, 2, 30, 24 * 40]))
    return Volume4D(
        footprint=parse_footprint({"type": "Point", "coordinates": [lon, lat]}, radius),
        altitude=parse_altitude(lower, lower + draw(st.floats(50, 3000)), draw(st.sampled_from(["AMSL", "AGL"]))),
        time=parse_time(start, start + timedelta(hours=hours)),
    )


def _scene(lat_range: tuple[float, float]) -> st.SearchStrategy[list[Volume4D]]:
    return st.lists(volumes(lat_range), min_size=2, max_size=25)


def _check(scene: list[Volume4D], buffers: Buffers) -> None:
    index = SpatioTemporalIndex(_decode, cell_deg=0.5)
    for i, vol in enumerate(scene[1:]):
        _add(index, ("op", str(i), 0), vol, owner=f"p{i % 3}", group=None, kind=0)
    query = scene[0]
    got = {c.key for c in index.candidates(query, buffers, exclude_owner="nobody", exclude_group=None, kinds=[0])}
    for i, vol in enumerate(scene[1:]):
        if volumes_overlap(query, vol, buffers) is not None:
            assert ("op", str(i), 0) in got


@settings(max_examples=60, deadline=None)
@given(_scene((-60, 60)), st.sampled_from([0.0, 5000.0]))
def test_no_conflict_is_missed(scene: list[Volume4D], horizontal: float) -> None:
    _check(scene, Buffers(horizontal_m=horizontal, vertical_m=100, seconds=600))


@settings(max_examples=40, deadline=None)
@given(_scene((84, 90)))
def test_no_conflict_is_missed_near_the_pole(scene: list[Volume4D]) -> None:
    _check(scene, Buffers())


def test_removal_and_owner_filters() -> None:
    fp = parse_footprint({"type": "Point", "coordinates": [179.99, 10]}, 5000)
    alt = parse_altitude(0, 1000, "AMSL")
    vol = Volume4D(fp, alt, parse_time(T0, T0 + timedelta(hours=1)))
    other = Volume4D(parse_footprint({"type": "Point", "coordinates": [-179.99, 10]}, 5000), alt, vol.time)
    index = SpatioTemporalIndex(_decode)
    _add(index, ("op", "a", 0), vol, owner="red", group="g1", kind=0)
    _add(index, ("site", "b", 0), vol, owner="blue", group="g1", kind=1)
    assert {c.key for c in index.candidates(other, Buffers(), "green", None, [0, 1])} == {
        ("op", "a", 0),
        ("site", "b", 0),
    }
    assert {c.key for c in index.candidates(other, Buffers(), "red", None, [0, 1])} == {("site", "b", 0)}
    assert index.candidates(other, Buffers(), "green", "g1", [0, 1]) == []
    assert {c.key for c in index.candidates(other, Buffers(), "green", None, [1])} == {("site", "b", 0)}
    assert index.remove(("op", "a", 0)) and not index.remove(("op", "a", 0))
    assert {c.key for c in index.candidates(other, Buffers(), "green", None, [0, 1])} == {("site", "b", 0)}
    assert index.remove_ended((T0 + timedelta(hours=1)).timestamp()) == [("site", "b", 0)]
    assert len(index) == 0
