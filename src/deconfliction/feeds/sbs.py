"""SBS-1 (BaseStation) lines in, position reports out. Pure: no sockets, no clock (time comes in as an argument).

An ADS-B receiver running dump1090 (or readsb, or a Kinetic SBS-1) serves its decoded messages on TCP port 30003
as CSV lines of 22 fields::

    MSG,3,1,1,4CA2D6,1,2026/11/22,10:00:00.250,2026/11/22,10:00:00.251,,36000,,,51.12345,-1.23456,,,0,0,0,0
    0   1 2 3 4      5 6          7            8          9            10 11 12 13 14     15    16 17 18 19 20 21

``message type`` (MSG; STA, ID, AIR, SEL and CLK carry no aircraft data and are ignored), ``transmission type``,
session, aircraft and flight ids (unused), ``hex ident`` (the 24-bit ICAO address; dump1090 prefixes ``~`` to a
non-ICAO address, e.g. TIS-B), date and time *generated*, date and time *logged*, ``callsign``, ``altitude``
(feet, pressure altitude), ``ground speed`` (knots), ``track`` (degrees true), ``lat``, ``lon``, ``vertical rate``
(feet per minute), ``squawk``, ``alert``, ``emergency``, ``SPI``, ``is on ground`` (``-1`` or ``1`` for true). Which
fields are filled depends on the transmission type: 1 identification (callsign), 2 surface position (ground speed,
track, position), 3 airborne position (altitude, position), 4 airborne velocity (ground speed, track, vertical
rate), 5-7 altitude (surveillance replies, air-to-air), 8 all-call (nothing).

**Times.** The generated date and time are the receiver's *local* time (dump1090 formats them with
``localtime()``) and say nothing of the zone. We take them as UTC unless told the receiver's offset
(``utc_offset_s``: its local time minus UTC, e.g. +3600 for a receiver on CET): run receivers in UTC, or pass
``--receiver-utc-offset``. A line without them takes the logged time, then the time it was received here.

**Assembling.** The ``Assembler`` keeps, per aircraft, the latest callsign, altitude and velocity, and emits a
report each time a *new* position arrives (types 2 and 3) for an aircraft whose velocity (ground speed and track) is
known and at most ``max_velocity_age_s`` older than the position, and whose altitude is known (from the position
message or another within that age). Units become the hub's: feet to metres (reference ``BARO``: ADS-B's altitude
is pressure altitude), knots to m/s, feet per minute to m/s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from deconfliction.feeds.report import FPM_MPS, FT_M, KT_MPS, PositionReport, implausible

_HEX = frozenset("0123456789abcdefABCDEF")
_IGNORED_TYPES = frozenset({"STA", "ID", "AIR", "SEL", "CLK"})
_FIELDS = 22


class SbsError(ValueError):
    """A line that is not SBS-1, with the reason."""


@dataclass(frozen=True, slots=True)
class SbsMessage:
    """One ``MSG`` line, its fields parsed; ``None`` where the line left a field empty."""

    transmission: int
    hex_ident: str  # lower case; "~" kept in front of a non-ICAO address
    time: float | None  # epoch seconds UTC, from the generated (else logged) date and time
    callsign: str | None = None
    altitude_ft: float | None = None
    ground_speed_kt: float | None = None
    track_deg: float | None = None
    lat: float | None = None
    lon: float | None = None
    vertical_rate_fpm: float | None = None
    on_ground: bool | None = None


def _float(fields: list[str], i: int, name: str) -> float | None:
    text = fields[i].strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise SbsError(f"{name} is not a number: {text!r:.20}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SbsError(f"{name} is not a finite number: {text!r:.20}")
    return value


def _time(date: str, clock: str, utc_offset_s: float) -> float | None:
    date, clock = date.strip(), clock.strip()
    if not date or not clock:
        return None
    try:
        year, month, day = (int(p) for p in date.split("/"))
        hms, _, fraction = clock.partition(".")
        hour, minute, second = (int(p) for p in hms.split(":"))
        micro = int((fraction + "000000")[:6]) if fraction else 0
        local = datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        raise SbsError(f"bad date or time: {date!r:.12} {clock!r:.16}") from None
    return local.timestamp() - utc_offset_s


def parse_line(line: str, utc_offset_s: float = 0.0) -> SbsMessage | None:
    """One SBS-1 line; ``None`` for a blank line or one of a type that carries no aircraft data (STA, ID, AIR,
    SEL, CLK). Raises ``SbsError`` saying what is wrong with a malformed line."""
    text = line.strip()
    if not text:
        return None
    fields = text.split(",")
    kind = fields[0].strip().upper()
    if kind in _IGNORED_TYPES:
        return None
    if kind != "MSG":
        raise SbsError(f"unknown message type {kind!r:.10}")
    if len(fields) < 10:
        raise SbsError(f"{len(fields)} fields, an MSG line has {_FIELDS}")
    fields += [""] * (_FIELDS - len(fields))
    try:
        transmission = int(fields[1])
    except ValueError:
        raise SbsError(f"transmission type is not a number: {fields[1]!r:.10}") from None
    if not 1 <= transmission <= 8:
        raise SbsError(f"transmission type {transmission} is not 1-8")
    hex_ident = fields[4].strip().lower()
    address = hex_ident.removeprefix("~")
    if len(address) != 6 or not _HEX.issuperset(address):
        raise SbsError(f"hex ident is not 6 hex digits: {fields[4]!r:.10}")
    when = _time(fields[6], fields[7], utc_offset_s)
    if when is None:
        when = _time(fields[8], fields[9], utc_offset_s)
    lat, lon = _float(fields, 14, "lat"), _float(fields, 15, "lon")
    if (lat is None) != (lon is None):
        raise SbsError("a position needs both lat and lon")
    if lat is not None and lon is not None and not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise SbsError(f"position {lat}, {lon} is off the globe")
    ground = fields[21].strip()
    return SbsMessage(
        transmission=transmission,
        hex_ident=hex_ident,
        time=when,
        callsign=fields[10].strip() or None,
        altitude_ft=_float(fields, 11, "altitude"),
        ground_speed_kt=_float(fields, 12, "ground speed"),
        track_deg=_float(fields, 13, "track"),
        lat=lat,
        lon=lon,
        vertical_rate_fpm=_float(fields, 16, "vertical rate"),
        on_ground=None if not ground else ground in ("-1", "1"),
    )


@dataclass(slots=True)
class _Aircraft:
    seen: float
    callsign: str | None = None
    altitude_ft: float | None = None
    altitude_t: float = 0.0
    ground_speed_kt: float | None = None
    track_deg: float | None = None
    vertical_rate_fpm: float = 0.0
    velocity_t: float = 0.0
    last: tuple[float, float, float] | None = None  # (time, lat, lon) of the last position reported


@dataclass(slots=True)
class SbsStats:
    """What became of the lines fed so far."""

    lines: int = 0
    malformed: int = 0
    ignored: int = 0  # blank, or of a type that carries no aircraft data
    positions: int = 0  # new positions seen (types 2 and 3)
    waiting: int = 0  # positions of aircraft whose velocity or altitude was not known (yet)
    repeated: int = 0  # positions not newer than the last one reported for the aircraft
    implausible: int = 0  # values the hub would refuse (e.g. an altitude above 100 km)
    reports: int = 0
    last_error: str | None = None


@dataclass
class Assembler:
    """Per-aircraft state: merges identification (1), positions (2, 3), velocities (4) and altitudes (5-7) into
    position reports. ``feed`` takes one line and the time it was received (epoch seconds); it returns the report
    the line completed, if any. Aircraft not heard from for ``forget_after_s`` are forgotten.

    ``use_arrival_time`` stamps every message with the time it was received here, ignoring the receiver's
    clock (for a receiver whose clock is not kept in time)."""

    utc_offset_s: float = 0.0
    max_velocity_age_s: float = 30.0
    forget_after_s: float = 300.0
    use_arrival_time: bool = False
    stats: SbsStats = field(default_factory=SbsStats)
    _aircraft: dict[str, _Aircraft] = field(default_factory=dict)
    _swept: float = 0.0

    def __len__(self) -> int:
        return len(self._aircraft)

    def feed(self, line: str, received_at: float) -> PositionReport | None:
        self.stats.lines += 1
        try:
            msg = parse_line(line, self.utc_offset_s)
        except SbsError as exc:
            self.stats.malformed += 1
            self.stats.last_error = f"{exc} in {line.strip()!r:.120}"
            return None
        if msg is None:
            self.stats.ignored += 1
            return None
        if received_at - self._swept > self.forget_after_s / 4:
            self._forget(received_at)
        return self.merge(msg, received_at)

    def merge(self, msg: SbsMessage, received_at: float) -> PositionReport | None:
        t = received_at if self.use_arrival_time or msg.time is None else msg.time
        plane = self._aircraft.get(msg.hex_ident)
        if plane is None:
            plane = self._aircraft[msg.hex_ident] = _Aircraft(seen=received_at)
        plane.seen = received_at
        if msg.callsign:
            plane.callsign = msg.callsign
        if msg.altitude_ft is not None:
            plane.altitude_ft, plane.altitude_t = msg.altitude_ft, t
        if msg.ground_speed_kt is not None and msg.track_deg is not None:
            plane.ground_speed_kt, plane.track_deg, plane.velocity_t = msg.ground_speed_kt, msg.track_deg, t
            plane.vertical_rate_fpm = msg.vertical_rate_fpm or 0.0
        elif msg.vertical_rate_fpm is not None:
            plane.vertical_rate_fpm = msg.vertical_rate_fpm
        if msg.lat is None or msg.lon is None or msg.transmission not in (2, 3):
            return None
        self.stats.positions += 1
        if plane.last is not None and t <= plane.last[0]:
            self.stats.repeated += 1
            return None
        fresh = t - self.max_velocity_age_s
        if (
            plane.ground_speed_kt is None
            or plane.track_deg is None
            or plane.velocity_t < fresh
            or plane.altitude_ft is None
            or plane.altitude_t < fresh
        ):
            self.stats.waiting += 1
            return None
        on_surface = msg.transmission == 2
        report = PositionReport(
            track_id=msg.hex_ident,
            t=t,
            lat=msg.lat,
            lon=msg.lon,
            altitude_m=plane.altitude_ft * FT_M,
            altitude_reference="BARO",
            ground_speed=plane.ground_speed_kt * KT_MPS,
            track=plane.track_deg % 360.0,
            vertical_rate=0.0 if on_surface else plane.vertical_rate_fpm * FPM_MPS,
            callsign=plane.callsign,
            icao24=None if msg.hex_ident.startswith("~") else msg.hex_ident,
        )
        why = implausible(report)
        if why is not None:
            self.stats.implausible += 1
            self.stats.last_error = f"{msg.hex_ident}: {why}"
            return None
        plane.last = (t, msg.lat, msg.lon)
        self.stats.reports += 1
        return report

    def _forget(self, now: float) -> None:
        self._swept = now
        gone = [k for k, a in self._aircraft.items() if a.seen < now - self.forget_after_s]
        for key in gone:
            del self._aircraft[key]
