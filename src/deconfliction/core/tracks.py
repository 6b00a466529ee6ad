"""Live tracks: position reports in, the latest state of every track out, as arrays for the detector.

A **report** says where one of a party's tracks (an aircraft, a drone, a convoy) was at one time, and how it was
moving: ``track_id`` (the party's own name for it), ``time`` (RFC 3339, UTC), ``lat``, ``lon`` (degrees),
``altitude`` (metres) with ``altitude_reference``, ``ground_speed`` (m/s), ``track`` (degrees clockwise from true
north), ``vertical_rate`` (m/s, up positive) and optionally ``callsign`` and ``icao24`` (the 24-bit ICAO address
in hex). ``parse_reports`` checks a batch and turns it into columns; a batch with one bad report is refused as a
whole, naming the report and the field, so a feed never half-lands.

A ``TrackTable`` keeps the latest report of every track, keyed by (party, track id). ``update`` applies a batch at
a given time: reports older than the staleness limit are dropped (counted), and a report never moves a track back
in time — within a batch the newest report of each track wins, and one not newer than what the table holds is
dropped as out of order. Tracks whose last report has gone stale leave the table (``expire``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import orjson

from deconfliction.core.errors import InvalidInput

F64 = npt.NDArray[np.float64]
MAX_BATCH = 10_000
MAX_SPEED_MPS = 1_500.0  # Mach ~4.4: anything faster is a broken feed, not an aircraft
MAX_VERTICAL_MPS = 300.0
_FUTURE_S = 5.0  # a report this far ahead of the hub's clock is from a feed with a wrong clock


class TrackAltitudeReference(StrEnum):
    WGS84 = "WGS84"  # geometric, above the ellipsoid (GNSS)
    AMSL = "AMSL"  # above mean sea level
    BARO = "BARO"  # pressure altitude (ISA, 1013.25 hPa): what ADS-B and flight levels report


@dataclass(frozen=True, slots=True)
class Reports:
    """A checked batch, one column per field."""

    track_id: list[str]
    t: F64  # seconds since the Unix epoch
    lat: F64
    lon: F64
    alt_m: F64
    alt_ref: list[str]
    gs: F64
    trk: F64
    vs: F64
    callsign: list[str | None]
    icao24: list[str | None]

    def __len__(self) -> int:
        return len(self.track_id)


def _bad(i: int, field: str, why: str) -> InvalidInput:
    return InvalidInput(f"reports[{i}].{field} {why}; the batch was not stored.", {"field": f"reports[{i}].{field}"})


def _number(i: int, report: Mapping[str, Any], field: str, lo: float, hi: float, default: float | None = None) -> float:
    value = report.get(field, default)
    if value is None:
        raise _bad(i, field, "is missing")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(i, field, f"must be a finite number, got {value!r:.40}")
    if not lo <= value <= hi:
        raise _bad(i, field, f"must be within [{lo:g}, {hi:g}], got {value!r:.40}")
    return float(value)


def _text(i: int, report: Mapping[str, Any], field: str, max_len: int, required: bool) -> str | None:
    value = report.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= max_len:
        raise _bad(i, field, f"must be a string of 1 to {max_len} characters")
    return value.strip()


def _time(i: int, report: Mapping[str, Any]) -> float:
    value = report.get("time")
    if not isinstance(value, str):
        raise _bad(i, "time", "must be an RFC 3339 time in UTC, e.g. 2026-11-22T10:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _bad(i, "time", f"is not an RFC 3339 time: {value!r:.40}") from None
    if parsed.tzinfo is None:
        raise _bad(i, "time", "needs a time zone (Z for UTC)")
    return parsed.timestamp()


def _icao24(i: int, report: Mapping[str, Any]) -> str | None:
    value = report.get("icao24")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 6 or any(c not in "0123456789abcdefABCDEF" for c in value):
        raise _bad(i, "icao24", "must be 6 hex digits (the 24-bit ICAO address)")
    return value.lower()


_KNOWN = frozenset(
    {
        "track_id",
        "time",
        "lat",
        "lon",
        "altitude",
        "altitude_reference",
        "ground_speed",
        "track",
        "vertical_rate",
        "callsign",
        "icao24",
    }
)
_REFERENCES = frozenset(str(r) for r in TrackAltitudeReference)


_NUMBERS = (
    ("lat", -90.0, 90.0, None),
    ("lon", -180.0, 180.0, None),
    ("altitude", -1_000.0, 100_000.0, None),
    ("ground_speed", 0.0, MAX_SPEED_MPS, None),
    ("track", 0.0, 360.0, None),
    ("vertical_rate", -MAX_VERTICAL_MPS, MAX_VERTICAL_MPS, 0.0),
)
_NUMBER_TYPES = frozenset({int, float})
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _strings(values: list[Any], max_len: int, optional: bool) -> list[Any] | None:
    """The values stripped, if every one is a string of 1 to ``max_len`` characters once stripped (or ``None``)."""
    present = [v for v in values if v is not None] if optional else values
    if any(type(v) is not str for v in present):
        return None
    stripped = [v.strip() for v in present]
    if stripped and not (min(map(len, stripped)) >= 1 and max(map(len, stripped)) <= max_len):
        return None
    if not optional or len(present) == len(values):
        return stripped
    it = iter(stripped)
    return [None if v is None else next(it) for v in values]


def _parse_fast(items: Sequence[Any]) -> Reports | None:
    """The batch checked column by column (numpy for the numbers), or ``None`` if anything is off, for the careful
    path to name. It accepts exactly what the careful path accepts, and builds the same columns."""
    if any(type(r) is not dict for r in items) or not _KNOWN.issuperset(set().union(*items)):
        return None
    ids = _strings([r.get("track_id") for r in items], 100, optional=False)
    times = [r.get("time") for r in items]
    if ids is None or any(type(v) is not str for v in times):
        return None
    parsed: dict[str, float] = {}
    for text in set(times):  # a feed's batch often shares a few times
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            return None
        parsed[text] = when.timestamp()
    columns: dict[str, F64] = {}
    for name, lo, hi, default in _NUMBERS:
        values = [r.get(name, default) for r in items]
        if not _NUMBER_TYPES.issuperset(map(type, values)):
            return None
        array = np.array(values, dtype=np.float64)
        if not (np.isfinite(array).all() and array.min() >= lo and array.max() <= hi):
            return None
        columns[name] = array
    refs = [r.get("altitude_reference", "BARO") for r in items]
    if any(type(v) is not str for v in refs) or not _REFERENCES.issuperset(refs):
        return None
    callsign = _strings([r.get("callsign") for r in items], 16, optional=True)
    icao24 = [r.get("icao24") for r in items]
    if callsign is None or any(
        v is not None and (type(v) is not str or len(v) != 6 or not _HEX_DIGITS.issuperset(v)) for v in icao24
    ):
        return None
    return Reports(
        track_id=ids,
        t=np.array([parsed[v] for v in times]),
        lat=columns["lat"],
        lon=columns["lon"],
        alt_m=columns["altitude"],
        alt_ref=refs,
        gs=columns["ground_speed"],
        trk=columns["track"] % 360.0,
        vs=columns["vertical_rate"],
        callsign=callsign,
        icao24=[None if v is None else v.lower() for v in icao24],
    )


def parse_batch(body: bytes) -> Reports:
    """A request's body, a JSON array of reports, checked (``parse_reports``): what ``POST /v1/tracks`` parses,
    in the request or in a parsing worker (``api/parsers.py``)."""
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"The body is not JSON: {exc}. Send a JSON array of reports, or NDJSON.") from exc
    if not isinstance(items, list):
        raise InvalidInput(f"Send a JSON array of up to {MAX_BATCH:,} reports (or NDJSON, one per line).")
    return parse_reports(items)


def parse_lines(lines: Sequence[tuple[int, bytes]]) -> Reports:
    """NDJSON lines (each with its line number, blank lines left out), checked as one batch."""
    items = []
    for number, line in lines:
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"line {number} is not JSON: {exc}", {"line": number}) from exc
    return parse_reports(items)


def parse_reports(items: Sequence[Any]) -> Reports:
    """Check a batch of reports (parsed JSON objects); refuse it whole, naming the first bad report and field."""
    if not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput(f"Send 1 to {MAX_BATCH:,} reports per batch, got {len(items):,}.", {"field": "reports"})
    fast = _parse_fast(items)
    if fast is not None:
        return fast
    cols: dict[str, list[Any]] = {name: [] for name in ("id", "t", "lat", "lon", "alt", "ref", "gs", "trk", "vs")}
    callsign: list[str | None] = []
    icao24: list[str | None] = []
    for i, report in enumerate(items):
        if not isinstance(report, dict):
            raise _bad(i, "", "must be a JSON object")
        unknown = report.keys() - _KNOWN
        if unknown:
            raise _bad(i, sorted(unknown)[0], f"is not a report field; fields are {sorted(_KNOWN)}")
        cols["id"].append(_text(i, report, "track_id", 100, True))
        cols["t"].append(_time(i, report))
        cols["lat"].append(_number(i, report, "lat", -90.0, 90.0))
        cols["lon"].append(_number(i, report, "lon", -180.0, 180.0))
        cols["alt"].append(_number(i, report, "altitude", -1_000.0, 100_000.0))
        ref = report.get("altitude_reference", "BARO")
        if not isinstance(ref, str) or ref not in _REFERENCES:
            raise _bad(i, "altitude_reference", f"must be one of {sorted(_REFERENCES)}, got {ref!r:.40}")
        cols["ref"].append(ref)
        cols["gs"].append(_number(i, report, "ground_speed", 0.0, MAX_SPEED_MPS))
        cols["trk"].append(_number(i, report, "track", 0.0, 360.0))
        cols["vs"].append(_number(i, report, "vertical_rate", -MAX_VERTICAL_MPS, MAX_VERTICAL_MPS, 0.0))
        callsign.append(_text(i, report, "callsign", 16, False))
        icao24.append(_icao24(i, report))
    return Reports(
        track_id=cols["id"],
        t=np.array(cols["t"]),
        lat=np.array(cols["lat"]),
        lon=np.array(cols["lon"]),
        alt_m=np.array(cols["alt"]),
        alt_ref=cols["ref"],
        gs=np.array(cols["gs"]),
        trk=np.array(cols["trk"]) % 360.0,
        vs=np.array(cols["vs"]),
        callsign=callsign,
        icao24=icao24,
    )


@dataclass(frozen=True, slots=True)
class Applied:
    """What one batch did: reports taken, and those dropped (too old, not newer than the track, from the future)."""

    accepted: int
    stale: int
    out_of_order: int
    future: int


class TrackState(NamedTuple):
    """The latest report of one track, as the table hands it out (a party's track list, the tracks it expires).
    The table itself keeps columns; a NamedTuple is cheap to build for thousands of tracks at a time."""

    party_id: str
    track_id: str
    t: float
    lat: float
    lon: float
    alt_m: float
    alt_ref: str
    gs: float
    trk: float
    vs: float
    callsign: str | None
    icao24: str | None


@dataclass(frozen=True, slots=True)
class TrackColumns:
    """Every live track at one moment, one row each: what a tactical pass reads, copied out of the table."""

    keys: list[tuple[str, str]]  # (party id, track id)
    alt_ref: list[str]
    t: F64
    lat: F64
    lon: F64
    alt_m: F64
    gs: F64
    trk: F64
    vs: F64
    party: npt.NDArray[np.int64]  # one code per party, the same for the tracks of one party

    def __len__(self) -> int:
        return len(self.keys)


_T, _LAT, _LON, _ALT, _GS, _TRK, _VS = range(7)  # the rows of TrackTable._f


class TrackTable:
    """The latest state of every live track, by (party, track id), held as columns with one slot per track: a batch
    is applied and a pass reads every track with array operations, not an object per report."""

    def __init__(self) -> None:
        self._slot: dict[tuple[str, str], int] = {}
        self._free: list[int] = []
        self._f = np.zeros((7, 0))  # t, lat, lon, alt, gs, trk, vs per slot
        self._party = np.zeros(0, dtype=np.int64)
        self._live = np.zeros(0, dtype=bool)
        self._keys: list[tuple[str, str]] = []
        self._ref: list[str] = []
        self._callsign: list[str | None] = []
        self._icao: list[str | None] = []
        self._codes: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._slot)

    def _state(self, i: int) -> TrackState:
        t, lat, lon, alt, gs, trk, vs = self._f[:, i].tolist()
        party_id, track_id = self._keys[i]
        return TrackState(
            party_id, track_id, t, lat, lon, alt, self._ref[i], gs, trk, vs, self._callsign[i], self._icao[i]
        )

    def of_party(self, party_id: str) -> list[TrackState]:
        return [self._state(i) for (p, _), i in self._slot.items() if p == party_id]

    def columns(self) -> TrackColumns:
        """A copy of every live track's row (the table goes on changing under the writer)."""
        slots = np.flatnonzero(self._live)
        keys, refs = self._keys, self._ref
        f = self._f[:, slots]
        return TrackColumns(
            [keys[i] for i in slots.tolist()],
            [refs[i] for i in slots.tolist()],
            f[_T],
            f[_LAT],
            f[_LON],
            f[_ALT],
            f[_GS],
            f[_TRK],
            f[_VS],
            self._party[slots],
        )

    def _grow(self, count: int) -> list[int]:
        """``count`` free slots, the table widened when it has too few."""
        reused, self._free = self._free[:count], self._free[count:]
        more = count - len(reused)
        if not more:
            return reused
        base = len(self._keys)
        wider = max(more, base)  # doubling: a batch of new tracks costs one copy, not one per track
        self._f = np.concatenate([self._f, np.zeros((7, wider))], axis=1)
        self._party = np.concatenate([self._party, np.zeros(wider, dtype=np.int64)])
        self._live = np.concatenate([self._live, np.zeros(wider, dtype=bool)])
        self._keys += [("", "")] * wider
        self._ref += [""] * wider
        self._callsign += [None] * wider
        self._icao += [None] * wider
        self._free += list(range(base + more, base + wider))
        return reused + list(range(base, base + more))

    def update(self, party_id: str, reports: Reports, now_s: float, stale_s: float) -> Applied:
        """Apply a batch at time ``now_s``: the newest fresh report of each track, if newer than the table's."""
        fresh = reports.t >= now_s - stale_s
        future = reports.t > now_s + _FUTURE_S
        usable = np.flatnonzero(fresh & ~future)
        # Newest first within the batch, so that the first report seen of a track is its latest.
        order = usable[np.argsort(-reports.t[usable], kind="stable")].tolist()
        slot_of, ids = self._slot.get, reports.track_id
        seen: set[str] = set()
        held: list[int] = []  # (report, slot) of tracks the table holds
        held_slots: list[int] = []
        new: list[int] = []
        for k in order:
            track_id = ids[k]
            if track_id in seen:
                continue
            seen.add(track_id)
            i = slot_of((party_id, track_id))
            if i is None:
                new.append(k)
            else:
                held.append(k)
                held_slots.append(i)
        duplicates = len(order) - len(seen)
        rows = np.asarray(held, dtype=np.int64)
        slots = np.asarray(held_slots, dtype=np.int64)
        newer = reports.t[rows] > self._f[_T, slots]
        rows, slots = rows[newer], slots[newer]
        if new:
            fresh_slots = self._grow(len(new))
            for k, i in zip(new, fresh_slots, strict=True):
                key = (party_id, ids[k])
                self._slot[key] = i
                self._keys[i] = key
            code = self._codes.setdefault(party_id, len(self._codes))
            self._party[fresh_slots] = code
            self._live[fresh_slots] = True
            rows = np.concatenate([rows, np.asarray(new, dtype=np.int64)])
            slots = np.concatenate([slots, np.asarray(fresh_slots, dtype=np.int64)])
        f = self._f
        f[_T, slots], f[_LAT, slots], f[_LON, slots] = reports.t[rows], reports.lat[rows], reports.lon[rows]
        f[_ALT, slots], f[_GS, slots], f[_TRK, slots] = reports.alt_m[rows], reports.gs[rows], reports.trk[rows]
        f[_VS, slots] = reports.vs[rows]
        refs, callsigns, icaos = reports.alt_ref, reports.callsign, reports.icao24
        for k, i in zip(rows.tolist(), slots.tolist(), strict=True):
            self._ref[i], self._callsign[i], self._icao[i] = refs[k], callsigns[k], icaos[k]
        accepted = len(rows)
        out_of_order = duplicates + len(held) - int(np.count_nonzero(newer))
        stale = int(np.count_nonzero(~fresh))
        return Applied(accepted, stale, out_of_order, int(np.count_nonzero(future & fresh)))

    def expire(self, now_s: float, stale_s: float) -> list[TrackState]:
        """Drop tracks whose last report is older than ``stale_s``; returns them."""
        gone = np.flatnonzero(self._live & (self._f[_T] < now_s - stale_s)).tolist()
        states = [self._state(i) for i in gone]
        for i in gone:
            del self._slot[self._keys[i]]
            self._keys[i] = ("", "")
        self._live[gone] = False
        self._free += gone
        return states


class Moving(Protocol):
    """Anything that is somewhere and moving: a track's state, a side of an encounter."""

    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def alt_m(self) -> float: ...
    @property
    def alt_ref(self) -> str: ...
    @property
    def gs(self) -> float: ...
    @property
    def trk(self) -> float: ...
    @property
    def vs(self) -> float: ...


def kinematics(s: Moving) -> dict[str, Any]:
    """Where a track is and how it moves, in the report's own field names."""
    return {
        "lat": s.lat,
        "lon": s.lon,
        "altitude": s.alt_m,
        "altitude_reference": s.alt_ref,
        "ground_speed": s.gs,
        "track": s.trk,
        "vertical_rate": s.vs,
    }


_COLUMNS = ("track_id", "t", "lat", "lon", "alt_m", "alt_ref", "gs", "trk", "vs", "callsign", "icao24")


def encode_reports(reports: Reports) -> bytes:
    """A checked batch as stored: JSON, one array per column."""
    return orjson.dumps({name: getattr(reports, name) for name in _COLUMNS}, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_reports(blob: bytes) -> Reports:
    cols = orjson.loads(blob)
    floats = {name: np.array(cols[name], dtype=np.float64) for name in ("t", "lat", "lon", "alt_m", "gs", "trk", "vs")}
    return Reports(
        track_id=cols["track_id"],
        alt_ref=cols["alt_ref"],
        callsign=cols["callsign"],
        icao24=cols["icao24"],
        **floats,
    )
