"""Live-track detection: the search misses nothing anywhere on Earth, and the answers are BlueSky's.

Three references, none of them the search under test:

* ``detect_reference``: the same per-pair formulas on all N² pairs (property tests: whole Earth, the poles,
  the antimeridian, any order of the tracks);
* BlueSky's own detectors (``bluesky-simulator``): the C++ ``cstatebased.detect`` and the numpy
  ``StateBased.detect``, called on the same arrays, on random scenarios like the benchmark's (level, and 30 %
  climbing or descending) and on pairs built to sit on a threshold to the last bits: the same pairs;
* real ADS-B states replayed from the ``traffic`` package's samples: every alert BlueSky raises, we raise
  (exactly those of its C++ path; its numpy path adds alerts between level aircraft exactly 1,000 ft apart).
"""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.errors import InvalidInput
from deconfliction.core.tactical import FT, NM, CdParams, Encounters, TrackStates, detect, detect_reference

with warnings.catch_warnings():  # BlueSky's import prints its plugin status and may warn about optional parts
    warnings.simplefilter("ignore")
    from bluesky.traffic.asas import cstatebased
    from bluesky.traffic.asas.statebased import StateBased

PROPS = settings(max_examples=int(os.environ.get("TACTICAL_EXAMPLES", "60")), deadline=None)
KT = 0.514444  # BlueSky's knot
FPM = 0.00508  # BlueSky's ft/min


# ---------------------------------------------------------------------------------------------------------------
# BlueSky, driven headless on our arrays


class BlueSkyTraffic:
    """What ``detect(ownship, intruder, ...)`` reads: SI arrays (degrees for angles), ``ntraf`` and ``id``."""

    def __init__(self, s: TrackStates) -> None:
        self.ntraf = len(s)
        self.id = list(range(len(s)))
        self.lat, self.lon, self.alt = s.lat, s.lon, s.alt_m
        self.gs, self.trk, self.vs = s.gs_mps, s.trk_deg, s.vs_mps


def bluesky(s: TrackStates, p: CdParams, compiled: bool = True) -> tuple[set[tuple[int, int]], dict[Any, Any]]:
    """BlueSky's conflict pairs (unordered, as its ``confpairs_unique``) and its values per ordered pair."""
    traf = BlueSkyTraffic(s)
    n = len(s)
    args = (traf, traf, np.full(n, p.rpz_m), np.full(n, p.hpz_m), np.full(n, p.lookahead_s))
    if compiled:
        out = cstatebased.detect(*args)
    else:
        with warnings.catch_warnings():  # np.asmatrix
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            out = StateBased.detect(None, *args)
    confpairs, _, _, _, qdr, dist, dcpa, tcpa, tlos = out
    values = {pair: v for pair, *v in zip(confpairs, qdr, dist, dcpa, tcpa, tlos, strict=True)}
    return {(min(a, b), max(a, b)) for a, b in confpairs}, values


def scenario(n: int, seed: int, climbing: float = 0.0, side_km: float = 1000.0) -> TrackStates:
    """The benchmark's traffic: a box centred at 50°N 5°E, FL100-400, random tracks at 250 kt; a share climbs
    or descends at 1,000-3,000 ft/min."""
    rng = np.random.default_rng(seed)
    half_lat = side_km / 2 / 111.32
    lat = 50.0 + rng.uniform(-half_lat, half_lat, n)
    lon = 5.0 + rng.uniform(-half_lat, half_lat, n) / math.cos(math.radians(50.0))
    vs = rng.choice([-1.0, 1.0], n) * rng.uniform(1000, 3000, n) * FPM
    vs = np.where(rng.random(n) < climbing, vs, 0.0)
    alt = rng.uniform(10_000, 40_000, n) * FT
    return TrackStates(np.arange(n), lat, lon, alt, np.full(n, 250 * KT), rng.uniform(0, 360, n), vs)


# ---------------------------------------------------------------------------------------------------------------
# Property tests against the O(N²) reference


@st.composite
def clusters(draw: st.DrawFn, lat: st.SearchStrategy[float], lon: st.SearchStrategy[float]) -> TrackStates:
    """Up to 40 tracks within a few tens of km and ±2,000 ft, so that conflicts are common."""
    n = draw(st.integers(2, 40))
    lat0, lon0 = draw(lat), draw(lon)
    spread_km = draw(st.sampled_from([3.0, 20.0, 60.0, 400.0]))
    climbing = draw(st.sampled_from([0.0, 0.3, 1.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    north = rng.uniform(-spread_km, spread_km, n) / 111.2
    east = rng.uniform(-spread_km, spread_km, n) / (111.2 * max(math.cos(math.radians(lat0)), 0.01))
    lats = np.clip(lat0 + north, -90.0, 90.0)
    lons = np.mod(lon0 + east + 180.0, 360.0) - 180.0
    alt = 10_000.0 + rng.uniform(-600.0, 600.0, n)
    gs = rng.choice([0.0, 60.0, 250.0, 600.0], n) * KT * rng.uniform(0.5, 1.0, n)
    vs = np.where(rng.random(n) < climbing, rng.uniform(-25.0, 25.0, n), 0.0)
    return TrackStates(rng.integers(0, 3, n), lats, lons, alt, gs, rng.uniform(0.0, 360.0, n), vs)


anywhere = clusters(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0))
polar = clusters(st.one_of(st.floats(88.0, 90.0), st.floats(-90.0, -88.0)), st.floats(-180.0, 180.0))
antimeridian = clusters(st.floats(-80.0, 80.0), st.one_of(st.floats(179.5, 180.0), st.floats(-180.0, -179.5)))
params = st.builds(
    CdParams,
    rpz_m=st.sampled_from([5 * NM, 3 * NM, 500.0, 50 * NM]),
    hpz_m=st.sampled_from([1000 * FT, 500 * FT]),
    lookahead_s=st.sampled_from([300.0, 120.0, 600.0, 3600.0]),
    same_party=st.booleans(),
)


def same_answers(a: Encounters, b: Encounters) -> None:
    assert a.pairs() == b.pairs()
    order_a = np.lexsort((a.j, a.i))
    order_b = np.lexsort((b.j, b.i))
    for field in ("tcpa", "dcpa", "tlos", "tout", "qdr", "dist"):
        np.testing.assert_allclose(getattr(a, field)[order_a], getattr(b, field)[order_b], rtol=1e-9, atol=1e-6)


@PROPS
@given(anywhere, params)
def test_the_search_finds_every_conflict_anywhere(states: TrackStates, p: CdParams) -> None:
    same_answers(detect(states, p), detect_reference(states, p))


@PROPS
@given(polar, params)
def test_the_search_finds_every_conflict_near_the_poles(states: TrackStates, p: CdParams) -> None:
    same_answers(detect(states, p), detect_reference(states, p))


@PROPS
@given(antimeridian, params)
def test_the_search_finds_every_conflict_across_the_antimeridian(states: TrackStates, p: CdParams) -> None:
    same_answers(detect(states, p), detect_reference(states, p))


@PROPS
@given(anywhere, params, st.randoms(use_true_random=False))
def test_the_answer_does_not_depend_on_the_order_of_the_tracks(states: TrackStates, p: CdParams, rnd: Any) -> None:
    order = np.arange(len(states))
    rnd.shuffle(order)
    shuffled = TrackStates(*(getattr(states, f)[order] for f in TrackStates.__dataclass_fields__))
    back = {tuple(sorted((int(order[i]), int(order[j])))) for i, j in detect(shuffled, p).pairs()}
    assert back == detect(states, p).pairs()


@PROPS
@given(clusters(st.floats(-80.0, 80.0), st.floats(-10.0, 10.0)), params, st.floats(100.0, 260.0))
def test_moving_traffic_across_the_antimeridian_changes_nothing(states: TrackStates, p: CdParams, shift: float) -> None:
    """The model depends on longitude differences only, so moving a cluster east (here onto ±180°) may change a
    pair only at the last bits: whatever the moved traffic yields lies between what slightly tighter and slightly
    looser limits yield where it was."""
    moved = TrackStates(
        states.party,
        states.lat,
        np.mod(states.lon + shift + 180.0, 360.0) - 180.0,
        states.alt_m,
        states.gs_mps,
        states.trk_deg,
        states.vs_mps,
    )
    tight = CdParams(p.rpz_m * (1 - 1e-6) - 1e-3, p.hpz_m - 1e-3, p.lookahead_s - 1e-3, p.same_party)
    loose = CdParams(p.rpz_m * (1 + 1e-6) + 1e-3, p.hpz_m + 1e-3, p.lookahead_s + 1e-3, p.same_party)
    found = detect(moved, p).pairs()
    assert detect_reference(states, tight).pairs() <= found <= detect_reference(states, loose).pairs()


# ---------------------------------------------------------------------------------------------------------------
# Exactly BlueSky's answers


@pytest.mark.parametrize("climbing", [0.0, 0.3])
@pytest.mark.parametrize(("n", "seed"), [(500, 1), (1000, 2), (2000, 3), (2000, 4)])
def test_same_conflicts_as_bluesky_compiled(n: int, seed: int, climbing: float) -> None:
    states = scenario(n, seed, climbing, side_km=1000.0 * math.sqrt(n / 20_000))  # the benchmark's density
    p = CdParams(same_party=True)
    ours = detect(states, p)
    theirs, values = bluesky(states, p)
    assert len(theirs) > 10
    assert ours.pairs() == theirs
    for k in range(len(ours)):  # the values BlueSky reports for own = i, intruder = j
        qdr, dist, dcpa, tcpa, tlos = values[(int(ours.i[k]), int(ours.j[k]))]
        assert ours.dist[k] == dist and ours.tlos[k] == pytest.approx(tlos, rel=1e-9, abs=1e-9)
        assert (ours.qdr[k], ours.dcpa[k], ours.tcpa[k]) == pytest.approx((qdr, dcpa, tcpa), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("climbing", [0.0, 0.3])
@pytest.mark.parametrize("seed", [5, 6])
def test_same_conflicts_as_bluesky_numpy(seed: int, climbing: float) -> None:
    states = scenario(700, seed, climbing, side_km=200.0)
    p = CdParams(same_party=True)
    theirs, _ = bluesky(states, p, compiled=False)
    assert len(theirs) > 10
    assert detect(states, p).pairs() == theirs


def on_the_thresholds(m: int, seed: int, p: CdParams) -> TrackStates:
    """``m`` pairs (level, far from each other) built in BlueSky's flat model to sit within ~1e-13 of a threshold:
    closest approach exactly ``rpz`` away, or loss of separation starting exactly at the look-ahead, or both.
    Which side of the line each falls on is decided by the last bits of the arithmetic."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, ...]] = []
    for k in range(m):
        lat0, lon0 = -60.0 + 3.0 * (k // 60), -177.0 + 6.0 * (k % 60)
        (g1, g2), (t1, t2) = rng.uniform(100, 260, 2), rng.uniform(0, 360, 2)
        vx = g2 * math.sin(math.radians(t2)) - g1 * math.sin(math.radians(t1))
        vy = g2 * math.cos(math.radians(t2)) - g1 * math.cos(math.radians(t1))
        speed = math.hypot(vx, vy)
        jitter = 1 + rng.uniform(-3e-13, 3e-13)
        if k % 3 == 0:
            dcpa, tcpa = p.rpz_m * jitter, rng.uniform(30, 250)
        elif k % 3 == 1:
            dcpa = rng.uniform(0, 0.9) * p.rpz_m
            tcpa = p.lookahead_s + math.sqrt(p.rpz_m**2 - dcpa**2) / speed * jitter
        else:
            dcpa, tcpa = p.rpz_m * (1 - rng.uniform(0, 1e-12)), p.lookahead_s * jitter
        px = -vx / speed * tcpa * speed - vy / speed * dcpa
        py = -vy / speed * tcpa * speed + vx / speed * dcpa
        lat2 = lat0 + math.degrees(py / 6_371_000)
        lon2 = lon0 + math.degrees(px / (6_371_000 * math.cos(math.radians((lat0 + lat2) / 2))))
        alt = 1000.0 + 50 * k
        rows += [(lat0, lon0, alt, g1, t1), (lat2, lon2, alt + rng.uniform(-200, 200), g2, t2)]
    lat, lon, alt, gs, trk = (np.array(c) for c in zip(*rows, strict=True))
    return TrackStates(np.arange(2 * m), lat, lon, alt, gs, trk, np.zeros(2 * m))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pairs_on_the_thresholds_are_decided_as_bluesky_decides(seed: int) -> None:
    p = CdParams(same_party=True)
    states = on_the_thresholds(1200, seed, p)
    theirs, _ = bluesky(states, p)
    assert 500 < len(theirs) < 1100  # about half of the 1,200 pairs fall on either side
    assert detect(states, p).pairs() == theirs


def snapshots(sample: Any, every_s: int) -> list[TrackStates]:
    """Each airborne aircraft's latest report (newest known value of each field, at most 30 s old) every
    ``every_s`` seconds, in SI units; aircraft with a field still unknown are left out."""
    data = sample.data.sort_values("timestamp")
    onground = data.onground.astype(bool) if "onground" in data.columns else False
    data = data.assign(t=(data.timestamp - data.timestamp.min()).dt.total_seconds(), onground=onground)
    out = []
    for t in range(every_s, int(data.t.max()), every_s):
        recent = data[(data.t > t - 30) & (data.t <= t)]
        last = recent.groupby("icao24").last()
        last = last[~last.onground].dropna(subset=["latitude", "longitude", "altitude", "groundspeed", "track"])
        last = last.dropna(subset=["vertical_rate"])
        if len(last) < 2:
            continue
        f = {c: last[c].to_numpy(dtype=float) for c in ("latitude", "longitude", "altitude", "groundspeed")}
        out.append(
            TrackStates(
                np.arange(len(last)),
                f["latitude"],
                f["longitude"],
                f["altitude"] * FT,
                f["groundspeed"] * KT,
                last.track.to_numpy(dtype=float),
                last.vertical_rate.to_numpy(dtype=float) * FPM,
            )
        )
    return out


@pytest.fixture(scope="module")
def replays() -> list[TrackStates]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from traffic.data.samples import quickstart, switzerland

        return snapshots(quickstart, 300) + snapshots(switzerland, 600)


def at_the_vertical_minimum(s: TrackStates, p: CdParams, pair: tuple[int, int]) -> bool:
    """Both level and exactly the vertical minimum apart (to rounding), e.g. adjacent RVSM flight levels: not a
    loss of separation. BlueSky's numpy path clamps the vertical speed difference to +1e-6 m/s whatever its
    sign, so in one of the two orders it sees them converge by a fraction of a nanometre and raises an alert
    (its C++ path does not)."""
    i, j = pair
    level = abs(s.vs_mps[i] - s.vs_mps[j]) < 1e-6
    return bool(level and 0.0 <= abs(s.alt_m[i] - s.alt_m[j]) - p.hpz_m < 1e-6)


def test_real_adsb_states_raise_every_alert_bluesky_raises(replays: list[TrackStates]) -> None:
    p = CdParams(same_party=True)
    alerts = artefacts = 0
    for states in replays:
        ours = detect(states, p).pairs()
        compiled, _ = bluesky(states, p)
        numpy_path, _ = bluesky(states, p, compiled=False)
        assert compiled <= ours
        assert ours == compiled  # our two departures (antimeridian, equal velocities) do not occur here
        extra = numpy_path - ours
        assert all(at_the_vertical_minimum(states, p, pair) for pair in extra)
        assert numpy_path - extra <= ours
        assert ours == detect_reference(states, p).pairs()
        alerts += len(compiled)
        artefacts += len(extra)
    assert len(replays) > 100 and alerts > 200, (len(replays), alerts)
    assert artefacts < alerts / 5


# ---------------------------------------------------------------------------------------------------------------
# Where we depart from BlueSky, and the inputs


def two(**fields: Any) -> TrackStates:
    base = {"party": [0, 1], "lat": [0.0, 0.0], "lon": [0.0, 0.5], "alt_m": [3000.0, 3000.0]}
    base |= {"gs_mps": [100.0, 100.0], "trk_deg": [90.0, 270.0], "vs_mps": [0.0, 0.0]}
    return TrackStates(**(base | fields))  # type: ignore[arg-type]


def test_a_head_on_pair_across_the_antimeridian_is_a_conflict_bluesky_compiled_misses() -> None:
    states = two(lon=[179.98, -179.98])
    found = detect(states)
    assert found.pairs() == {(0, 1)} and found.dist[0] == pytest.approx(0.04 * 111_194.9, rel=1e-3)
    assert bluesky(states, CdParams())[0] == set()  # its C++ sees them 360° apart
    assert bluesky(states, CdParams(), compiled=False)[0] == {(0, 1)}


def test_a_pair_flying_in_formation_inside_the_zone_is_a_conflict() -> None:
    states = two(lon=[0.0, 0.01], trk_deg=[90.0, 90.0])
    found = detect(states)
    assert found.pairs() == {(0, 1)} and bool(found.los[0]) and found.tlos[0] == 0.0
    assert bluesky(states, CdParams())[0] == set()  # its C++ divides 0 by 0 here


def test_own_party_pairs_only_when_asked() -> None:
    states = two(party=[3, 3])
    assert detect(states).pairs() == set()
    assert detect(states, CdParams(same_party=True)).pairs() == {(0, 1)}


def test_the_encounter_says_where_and_when() -> None:
    found = detect(two())
    dist = 0.5 * math.pi / 180 * 6_371_000
    assert found.tcpa[0] == pytest.approx(dist / 200) and found.dcpa[0] == pytest.approx(0.0, abs=1e-6)
    assert found.tlos[0] == pytest.approx((dist - 5 * NM) / 200) and found.tout[0] == pytest.approx(
        (dist + 5 * NM) / 200
    )
    assert found.qdr[0] == pytest.approx(90.0) and not found.los[0]
    assert found.lon_i[0] == pytest.approx(0.25, abs=1e-9) and found.lon_j[0] == pytest.approx(0.25, abs=1e-9)
    assert found.lat_i[0] == pytest.approx(0.0, abs=1e-12) and found.alt_j[0] == 3000.0


def test_tracks_with_unknown_values_take_no_part() -> None:
    states = TrackStates(
        np.array([0, 1, 2]),
        np.zeros(3),
        np.array([0.0, 0.5, 0.2]),
        np.array([3000.0, 3000.0, np.nan]),
        np.full(3, 100.0),
        np.array([90.0, 270.0, 0.0]),
        np.zeros(3),
    )
    assert detect(states).pairs() == {(0, 1)}
    assert len(detect(TrackStates(*([np.zeros(1)] * 7)))) == 0
    assert len(detect(TrackStates(*([np.zeros(0)] * 7)))) == 0


@pytest.mark.parametrize(
    "bad",
    [{"lat": [0.0, 91.0]}, {"gs_mps": [-1.0, 0.0]}, {"lon": [0.0]}, {"alt_m": [[1.0, 2.0]]}],
)
def test_unusable_states_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        two(**bad)


@pytest.mark.parametrize("bad", [{"rpz_m": 0.0}, {"hpz_m": -1.0}, {"lookahead_s": math.inf}])
def test_unusable_parameters_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(InvalidInput):
        CdParams(**bad)  # type: ignore[arg-type]
