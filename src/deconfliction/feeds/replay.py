"""Recorded state vectors (CSV or Parquet) played back into a hub, shifted to now.

**Columns.** Two layouts are recognised by their column names (extra columns are ignored):

* OpenSky state vectors (the historical database and its CSV dumps), SI units: ``time`` (epoch seconds),
  ``icao24``, ``lat``, ``lon``, ``velocity`` (m/s), ``heading`` (degrees true), ``vertrate`` (m/s),
  ``callsign``, ``baroaltitude`` (m; else ``geoaltitude``, m, taken as WGS84), ``lastposupdate`` (epoch seconds:
  when the position was last updated, used as the report's time when present, since a state vector repeats a
  position until a new one arrives).
* traffic's ``Flight.data`` (pyopensky, or ``traffic`` exports), aviation units: ``timestamp`` (a date-time, or
  epoch seconds), ``icao24``, ``latitude``, ``longitude``, ``altitude`` (ft; else ``geoaltitude``, ft, WGS84),
  ``groundspeed`` (kt), ``track`` (degrees), ``vertical_rate`` (ft/min), ``callsign``.

A date-time without a zone is UTC. Rows without a position, an altitude or an id are skipped; a row without
velocity takes the aircraft's previous one (or is skipped when there is none yet); a row not newer than the
aircraft's previous one (a repeated state vector) is skipped; so is a row the hub would refuse (an altitude above
100 km, a ground speed above Mach 4...). Each skip is counted. Track ids are the ``icao24`` addresses.

**Time.** The hub drops reports older than ``DECONFLICTION_TRACK_STALE_S`` and refuses to move a track back in
time, so the recording cannot be sent with its own times. The replay maps the recording's first time ``t0`` to
the moment it starts, ``start``, and advances at ``speed`` times real time: a row of time ``t`` is sent at, and
stamped with, ``start + (t - t0) / speed``. So every report is fresh when it arrives, and each aircraft's reports
keep their order. At ``speed`` above 1 the aircraft move faster than their reported velocities say (a minute of
flight is replayed in a second at 60): the velocities are the recording's, the times are the replay's.

Reading Parquet needs ``pyarrow`` (``pip install pyarrow``); CSV (optionally gzipped) needs nothing more.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deconfliction.feeds.client import HubClient
from deconfliction.feeds.report import FPM_MPS, FT_M, KT_MPS, PositionReport, implausible


class RecordingError(ValueError):
    """A file that cannot be replayed, and why."""


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a layout keeps each value, and the factor to SI units."""

    name: str
    time: tuple[str, ...]  # the first present and non-empty one is the report's time
    lat: str
    lon: str
    altitudes: tuple[tuple[str, float, str], ...]  # (column, factor to metres, reference), first non-empty wins
    speed: tuple[str, float]
    track: str
    vertical: tuple[str, float]


OPENSKY = Layout(
    "OpenSky state vectors",
    time=("lastposupdate", "time"),
    lat="lat",
    lon="lon",
    altitudes=(("baroaltitude", 1.0, "BARO"), ("geoaltitude", 1.0, "WGS84")),
    speed=("velocity", 1.0),
    track="heading",
    vertical=("vertrate", 1.0),
)
TRAFFIC = Layout(
    "traffic",
    time=("timestamp",),
    lat="latitude",
    lon="longitude",
    altitudes=(("altitude", FT_M, "BARO"), ("geoaltitude", FT_M, "WGS84")),
    speed=("groundspeed", KT_MPS),
    track="track",
    vertical=("vertical_rate", FPM_MPS),
)


def layout_of(columns: Iterable[str]) -> Layout:
    """The layout a file's column names follow; ``RecordingError`` naming what is missing when neither fits."""
    names = set(columns)
    for layout in (OPENSKY, TRAFFIC):
        needed = {layout.time[-1], "icao24", layout.lat, layout.lon, layout.speed[0], layout.track}
        if layout.lat in names and layout.time[-1] in names:
            missing = needed - names
            if missing:
                raise RecordingError(f"{layout.name} columns, but {sorted(missing)} missing")
            if not names & {a for a, _, _ in layout.altitudes}:
                raise RecordingError(f"{layout.name} columns, but no altitude ({[a for a, _, _ in layout.altitudes]})")
            return layout
    raise RecordingError(
        f"unknown columns {sorted(names)[:20]}: expected OpenSky state vectors (time, icao24, lat, lon, velocity, "
        "heading, vertrate, baroaltitude…) or traffic's (timestamp, icao24, latitude, longitude, altitude, "
        "groundspeed, track, vertical_rate…)"
    )


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _seconds(value: Any) -> float | None:
    """Epoch seconds from a number, a date-time, or text holding either (a time without a zone is UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    number = _number(value)
    if number is not None or not isinstance(value, str) or not value.strip():
        return number
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


@dataclass
class Recording:
    """A file's reports in time order (with the file's times), and what was skipped reading it."""

    path: Path
    layout: str
    rows: int
    reports: list[PositionReport]
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.reports[-1].t - self.reports[0].t if self.reports else 0.0


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix.lower() == ".gz":
        return io.TextIOWrapper(gzip.open(path), newline="")
    return path.open(newline="")


def _rows_parquet(path: Path) -> tuple[list[str], Iterator[Mapping[str, Any]]]:
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise RecordingError(
            f"reading Parquet ({path.name}) needs the pyarrow package: pip install pyarrow (or convert to CSV)"
        ) from None
    table = pq.read_table(path)
    columns = list(table.column_names)

    def rows() -> Iterator[Mapping[str, Any]]:
        values = {name: table.column(name).to_pylist() for name in columns}
        for i in range(table.num_rows):
            yield {name: values[name][i] for name in columns}

    return columns, rows()


def read_recording(path: Path) -> Recording:
    """Read and check a recording: CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``)."""
    if not path.is_file():
        raise RecordingError(f"no file at {path}")
    parquet = path.suffix.lower() in (".parquet", ".pq")
    try:
        if parquet:
            columns, rows = _rows_parquet(path)
            return _assemble(path, layout_of(columns), rows)
        with _open_text(path) as text:
            reader = csv.DictReader(text)
            return _assemble(path, layout_of(reader.fieldnames or []), reader)
    except RecordingError:
        raise
    except (OSError, ValueError, csv.Error) as exc:  # pyarrow's errors are OSError or ValueError too
        raise RecordingError(f"cannot read {path}: {exc}") from exc


def _assemble(path: Path, layout: Layout, rows: Iterator[Mapping[str, Any]]) -> Recording:
    skipped = dict.fromkeys(("no_id", "no_time", "no_position", "no_altitude", "no_velocity", "repeated"), 0)
    skipped["implausible"] = 0
    parsed: list[tuple[float, str, float, float, float, str, Mapping[str, Any]]] = []
    count = 0
    for row in rows:
        count += 1
        ident = str(row.get("icao24") or "").strip().lower()
        if not ident:
            skipped["no_id"] += 1
            continue
        t = next((s for s in (_seconds(row.get(c)) for c in layout.time) if s is not None), None)
        if t is None:
            skipped["no_time"] += 1
            continue
        lat, lon = _number(row.get(layout.lat)), _number(row.get(layout.lon))
        if lat is None or lon is None:
            skipped["no_position"] += 1
            continue
        altitude = None
        for column, factor, reference in layout.altitudes:
            value = _number(row.get(column))
            if value is not None:
                altitude = (value * factor, reference)
                break
        if altitude is None:
            skipped["no_altitude"] += 1
            continue
        parsed.append((t, ident, lat, lon, altitude[0], altitude[1], row))
    parsed.sort(key=lambda p: p[0])
    last: dict[str, tuple[float, float, float, float, str | None]] = {}  # t, gs, trk, vs, callsign
    reports: list[PositionReport] = []
    for t, ident, lat, lon, alt, reference, row in parsed:
        held = last.get(ident)
        if held is not None and t <= held[0]:
            skipped["repeated"] += 1
            continue
        gs, trk = _number(row.get(layout.speed[0])), _number(row.get(layout.track))
        vs = _number(row.get(layout.vertical[0]))
        callsign = str(row.get("callsign") or "").strip()[:16] or (held[4] if held else None)
        if gs is None or trk is None:
            if held is None or math.isnan(held[1]):
                skipped["no_velocity"] += 1
                last[ident] = (t, math.nan, math.nan, 0.0, callsign)
                continue
            gs, trk = held[1], held[2]
        else:
            gs *= layout.speed[1]
        vs = held[3] if vs is None and held is not None else (vs or 0.0) * layout.vertical[1]
        report = PositionReport(
            track_id=ident,
            t=t,
            lat=lat,
            lon=lon,
            altitude_m=alt,
            altitude_reference=reference,
            ground_speed=gs,
            track=trk % 360.0,
            vertical_rate=vs,
            callsign=callsign,
            icao24=ident if len(ident) == 6 and all(c in "0123456789abcdef" for c in ident) else None,
        )
        last[ident] = (t, gs, trk, vs, callsign)
        if implausible(report) is not None:
            skipped["implausible"] += 1
            continue
        reports.append(report)
    return Recording(path, layout.name, count, reports, skipped)


def replay_time(t: float, t0: float, start: float, speed: float) -> float:
    """When a row of time ``t`` is sent, and the time it is stamped with: ``start + (t - t0) / speed``."""
    return start + (t - t0) / speed


async def replay(
    recording: Recording,
    client: HubClient,
    speed: float,
    *,
    batch: int = 1_000,
    tick_s: float = 0.5,
    clock: Callable[[], float] = time.time,
    on_sent: Callable[[int, float], None] | None = None,
) -> float:
    """Play the recording into the hub: every ``tick_s`` (or as soon as ``batch`` are due), the rows now due,
    stamped with their replay times, posted one batch at a time in order. ``on_sent(reports, file_time)`` is told of
    each batch once posted. Returns the replay's start (epoch seconds)."""
    if not speed > 0:
        raise ValueError(f"speed must be > 0, got {speed}")
    reports = recording.reports
    if not reports:
        return clock()
    queue: asyncio.Queue[tuple[list[PositionReport], float] | None] = asyncio.Queue(maxsize=8)
    t0, start = reports[0].t, clock()

    async def produce() -> None:
        i, n = 0, len(reports)
        while i < n:
            horizon = t0 + (clock() - start) * speed
            j = i
            while j < n and j - i < batch and reports[j].t <= horizon:
                j += 1
            if j > i:
                await queue.put(([r.at(replay_time(r.t, t0, start, speed)) for r in reports[i:j]], reports[j - 1].t))
                i = j
                if j < n and reports[j].t <= horizon:
                    continue  # more than a batch is due
            if i < n:
                # Wake when the next row is due, but no sooner than a tick: rows due meanwhile go in one batch.
                await asyncio.sleep(max(tick_s, replay_time(reports[i].t, t0, start, speed) - clock()))
        await queue.put(None)

    async def consume() -> None:
        while (item := await queue.get()) is not None:
            await client.post(item[0])
            if on_sent is not None:
                on_sent(len(item[0]), item[1])

    producer = asyncio.create_task(produce())
    try:
        await consume()
        await producer
    finally:
        producer.cancel()
    return start


async def run_replay(
    recording: Recording, hub: str, token: str, speed: float, batch: int, retry_for_s: float, show_progress: bool
) -> dict[str, Any]:
    """``replay`` as a command runs it, with a progress bar on stderr (recording time replayed, reports sent)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    t0 = recording.reports[0].t if recording.reports else 0.0
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("reports"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), disable=not show_progress) as progress:
        task = progress.add_task("replaying", total=len(recording.reports))

        def sent(count: int, file_time: float) -> None:
            at = datetime.fromtimestamp(file_time, UTC).strftime("%H:%M:%S")
            progress.update(task, advance=count, description=f"{at} (+{file_time - t0:,.0f} s)")

        async with HubClient(hub, token, retry_for_s=retry_for_s) as client:
            started = await replay(recording, client, speed, batch=batch, on_sent=sent)
            elapsed = time.time() - started
            totals = client.totals.as_dict()
    return {
        "file": str(recording.path),
        "layout": recording.layout,
        "rows": recording.rows,
        "reports": len(recording.reports),
        "skipped": recording.skipped,
        "recording_s": recording.duration_s,
        "speed": speed,
        "elapsed_s": round(elapsed, 3),
        **{f"hub_{k}": v for k, v in totals.items()},
    }
