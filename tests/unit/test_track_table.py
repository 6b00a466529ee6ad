"""The live track table against a plain dictionary of the newest report per track: the same tracks, the same
states and the same counts for every batch, whatever the order, duplicates, staleness and expiry."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core import tracks as T

STALE_S = 60.0

report = st.tuples(
    st.sampled_from(["A", "B", "C", "D", "E"]),  # track id
    st.integers(-90, 30),  # time, seconds from the batch's arrival (some stale, some from the future)
    st.floats(-80, 80),  # lat
)
batch = st.tuples(st.sampled_from(["p1", "p2"]), st.lists(report, max_size=12), st.integers(0, 40))


def reports(items: list[tuple[str, int, float]], now: float) -> T.Reports:
    n = len(items)
    return T.Reports(
        track_id=[i for i, _, _ in items],
        t=np.array([now + dt for _, dt, _ in items], dtype=np.float64),
        lat=np.array([lat for _, _, lat in items], dtype=np.float64),
        lon=np.full(n, 5.0),
        alt_m=np.full(n, 3000.0),
        alt_ref=["BARO"] * n,
        gs=np.full(n, 100.0),
        trk=np.full(n, 90.0),
        vs=np.zeros(n),
        callsign=[f"CS{i}" for i, _, _ in items],
        icao24=[None] * n,
    )


def naive(table: dict, party: str, items: list[tuple[str, int, float]], now: float) -> T.Applied:  # type: ignore[type-arg]
    accepted = out_of_order = stale = future = 0
    seen: set[str] = set()
    usable = []
    for k, (track, dt, lat) in enumerate(items):
        t = now + dt
        if t < now - STALE_S:
            stale += 1
        elif t > now + T._FUTURE_S:
            future += 1
        else:
            usable.append((-t, k, track, t, lat))
    for _, _, track, t, lat in sorted(usable):  # newest first, ties in batch order
        held = table.get((party, track))
        if track in seen or (held is not None and t <= held[0]):
            out_of_order += 1
            seen.add(track)
            continue
        seen.add(track)
        table[(party, track)] = (t, lat)
        accepted += 1
    return T.Applied(accepted, stale, out_of_order, future)


@settings(max_examples=300, deadline=None)
@given(st.lists(batch, min_size=1, max_size=12))
def test_the_table_keeps_the_newest_report_of_each_track(batches: list) -> None:  # type: ignore[type-arg]
    table, reference = T.TrackTable(), {}
    now = 1_000_000.0
    for party, items, advance in batches:
        now += advance
        assert table.update(party, reports(items, now), now, STALE_S) == naive(reference, party, items, now)
        gone = {(s.party_id, s.track_id) for s in table.expire(now, STALE_S)}
        assert gone == {key for key, (t, _) in reference.items() if t < now - STALE_S}
        reference = {key: v for key, v in reference.items() if key not in gone}
        for p in ("p1", "p2"):
            held = {(s.track_id): (s.t, s.lat, s.callsign) for s in table.of_party(p)}
            assert held == {tr: (t, lat, f"CS{tr}") for (q, tr), (t, lat) in reference.items() if q == p}
        columns = table.columns()
        assert sorted(columns.keys) == sorted(reference)
        assert len(set(columns.party.tolist())) == len({p for p, _ in reference})
        for key, t, lat in zip(columns.keys, columns.t.tolist(), columns.lat.tolist(), strict=True):
            assert (t, lat) == reference[key]
