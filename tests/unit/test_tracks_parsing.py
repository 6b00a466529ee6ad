"""Parsing position reports: the column-wise fast path accepts exactly what the careful per-report path accepts,
and builds the same columns."""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core import tracks as T
from deconfliction.core.errors import InvalidInput

good = {
    "track_id": "A",
    "time": "2026-11-22T10:00:00Z",
    "lat": 50.0,
    "lon": 5.0,
    "altitude": 9000.0,
    "ground_speed": 128.6,
    "track": 90.0,
}
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "BARO",
            "AMSL",
            "WGS84",
            "3C6444",
            "3c644z",
            " X ",
            "",
            "2026-11-22T10:00:00+02:00",
            "2026-11-22T10:00:00",
            "2026-11-22",
        ]
    ),
    st.lists(st.integers(), max_size=2),
)
fields = st.sampled_from(sorted(T._KNOWN) + ["speed"])
reports = st.builds(
    lambda over, drop: {**{k: v for k, v in good.items() if k not in drop}, **over},
    st.dictionaries(fields, values, max_size=3),
    st.sets(st.sampled_from(sorted(good)), max_size=1),
)


def careful(items: list[Any]) -> Any:
    fast = T._parse_fast
    T._parse_fast = lambda items: None  # type: ignore[assignment]
    try:
        return T.parse_reports(items)
    finally:
        T._parse_fast = fast


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(reports, st.just(good), st.integers()), min_size=1, max_size=5))
def test_fast_and_careful_agree(items: list[Any]) -> None:
    try:
        want = careful(items)
    except InvalidInput:
        assert T._parse_fast(items) is None
        return
    got = T._parse_fast(items)
    assert got is not None
    for name in ("track_id", "alt_ref", "callsign", "icao24"):
        assert getattr(got, name) == getattr(want, name)
    for name in ("t", "lat", "lon", "alt_m", "gs", "trk", "vs"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_a_refusal_crosses_a_process_boundary_whole() -> None:
    # Large batches are parsed in a worker process (api/parsers.py): its refusal must reach the client unchanged.
    with pytest.raises(InvalidInput) as caught:
        T.parse_batch(b'[{"track_id": "A", "time": "2026-12-01T08:00:00Z", "lat": 91}]')
    back = pickle.loads(pickle.dumps(caught.value))
    assert type(back) is InvalidInput
    assert (back.message, back.details) == (caught.value.message, caught.value.details)
    assert back.details["field"] == "reports[0].lat"
