"""Feeds: SBS-1 parsing and assembling, recordings (CSV, Parquet) and their time shift, the hub client's retries."""

from __future__ import annotations

import asyncio
import csv
import gzip
import random
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from deconfliction.feeds.client import HubClient, HubRefused
from deconfliction.feeds.ingest import SbsFeed, ingest_sbs, parse_address
from deconfliction.feeds.replay import Recording, RecordingError, read_recording, replay, replay_time
from deconfliction.feeds.report import PositionReport, implausible, rfc3339
from deconfliction.feeds.sbs import Assembler, SbsError, parse_line

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC).timestamp()
KT, FT, FPM = 1852 / 3600, 0.3048, 0.3048 / 60

# As dump1090 writes them (trailing fields of the 22 included).
POSITION = "MSG,3,1,1,4CA2D6,1,2026/11/22,10:00:01.250,2026/11/22,10:00:01.300,,36000,,,51.12345,-1.23456,,,0,0,0,0"
VELOCITY = "MSG,4,1,1,4CA2D6,1,2026/11/22,10:00:00.500,2026/11/22,10:00:00.510,,,450,275.5,,,-640,,0,0,0,0"
CALLSIGN = "MSG,1,1,1,4CA2D6,1,2026/11/22,10:00:00.100,2026/11/22,10:00:00.100,RYR4TW  ,,,,,,,,0,0,0,0"


def msg(kind: int, second: float, icao: str = "4CA2D6", **f: Any) -> str:
    whole, frac = int(second), round((second % 1) * 1000)
    when = f"2026/11/22,10:{whole // 60:02d}:{whole % 60:02d}.{frac:03d}"
    cols = ["MSG", str(kind), "1", "1", icao, "1", when, when]
    cols += [str(f.get(k, "")) for k in ("callsign", "alt", "gs", "trk", "lat", "lon", "vr", "squawk")]
    return ",".join([*cols, "0", "0", "0", str(f.get("ground", 0))])


# --- parsing ---


def test_a_position_line_parses_with_its_generated_time_as_utc() -> None:
    m = parse_line(POSITION)
    assert m is not None
    assert (m.transmission, m.hex_ident, m.lat, m.lon, m.altitude_ft) == (3, "4ca2d6", 51.12345, -1.23456, 36000.0)
    assert m.time == T0 + 1.25 and m.ground_speed_kt is None and m.on_ground is False
    v = parse_line(VELOCITY)
    assert v is not None and (v.ground_speed_kt, v.track_deg, v.vertical_rate_fpm) == (450.0, 275.5, -640.0)
    c = parse_line(CALLSIGN)
    assert c is not None and c.callsign == "RYR4TW"


def test_the_receivers_local_time_is_shifted_by_its_utc_offset() -> None:
    m = parse_line(POSITION, utc_offset_s=3600.0)  # a receiver on CET: its 10:00 is 09:00 UTC
    assert m is not None and m.time == T0 + 1.25 - 3600


def test_the_logged_time_stands_in_for_a_missing_generated_time_and_none_is_none() -> None:
    fields = POSITION.split(",")
    fields[6] = fields[7] = ""
    m = parse_line(",".join(fields))
    assert m is not None and m.time == T0 + 1.3
    fields[8] = fields[9] = ""
    m = parse_line(",".join(fields))
    assert m is not None and m.time is None


def test_lines_without_aircraft_data_are_ignored() -> None:
    for line in ("", "  \r\n", "STA,,5,179,400AE7,10103,2026/11/22,10:00:00.000,2026/11/22,10:00:00.000,RM", "CLK,,,"):
        assert parse_line(line) is None


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("hello world", "unknown message type"),
        ("MSG,3,1,1,4CA2D6", "fields"),
        (POSITION.replace("MSG,3,", "MSG,9,"), "transmission type"),
        (POSITION.replace("MSG,3,", "MSG,x,"), "transmission type"),
        (POSITION.replace("4CA2D6", "4CA2"), "hex ident"),
        (POSITION.replace("4CA2D6", "4CA2DZ"), "hex ident"),
        (POSITION.replace("36000", "FL360"), "altitude"),
        (POSITION.replace("51.12345", "95.0"), "off the globe"),
        (POSITION.replace("-1.23456", ""), "both lat and lon"),
        (POSITION.replace("51.12345", "nan"), "finite"),
        (POSITION.replace("2026/11/22,10:00:01.250", "2026/13/22,10:00:01.250"), "date or time"),
        (POSITION.replace("10:00:01.250", "10:00"), "date or time"),
    ],
)
def test_malformed_lines_say_what_is_wrong(line: str, why: str) -> None:
    with pytest.raises(SbsError, match=why):
        parse_line(line)


def test_non_icao_addresses_keep_their_tilde_and_fields_may_be_short() -> None:
    m = parse_line("MSG,3,1,1,~A1B2C3,1,2026/11/22,10:00:01.000,2026/11/22,10:00:01.000,,1500,,,48.5,2.5")
    assert m is not None and m.hex_ident == "~a1b2c3" and m.lat == 48.5 and m.on_ground is None


# --- assembling ---


def test_messages_merge_into_a_report_in_si_units_when_a_new_position_arrives() -> None:
    a = Assembler()
    assert a.feed(CALLSIGN, T0) is None
    assert a.feed(POSITION.replace("10:00:01.250", "10:00:00.250"), T0) is None  # no velocity yet
    assert a.feed(VELOCITY, T0) is None
    r = a.feed(POSITION, T0 + 2)
    assert r == PositionReport(
        track_id="4ca2d6",
        t=T0 + 1.25,
        lat=51.12345,
        lon=-1.23456,
        altitude_m=36000 * FT,
        altitude_reference="BARO",
        ground_speed=450 * KT,
        track=275.5,
        vertical_rate=-640 * FPM,
        callsign="RYR4TW",
        icao24="4ca2d6",
    )
    assert r.altitude_m == pytest.approx(10972.8) and r.ground_speed == pytest.approx(231.5)
    assert r.vertical_rate == pytest.approx(-3.2512)
    assert a.feed(POSITION, T0 + 2) is None  # the same position again: not new
    assert (a.stats.lines, a.stats.positions, a.stats.waiting, a.stats.repeated, a.stats.reports) == (5, 3, 1, 1, 1)


def test_altitude_comes_from_any_message_and_velocity_must_be_recent() -> None:
    a = Assembler(max_velocity_age_s=30)
    a.feed(msg(4, 0, gs=300, trk=90), T0)
    a.feed(msg(5, 1, alt=12000), T0)
    r = a.feed(msg(3, 2, lat=48.0, lon=2.0), T0)  # a position without altitude: the recent one is used
    assert r is not None and r.altitude_m == pytest.approx(12000 * FT) and r.vertical_rate == 0.0
    assert a.feed(msg(3, 40, lat=48.1, lon=2.1, alt=12000), T0) is None  # velocity 40 s old
    assert a.stats.waiting == 1
    a.feed(msg(4, 41, gs=310, trk=91, vr=640), T0)
    r = a.feed(msg(3, 42, lat=48.2, lon=2.2, alt=12100), T0)
    assert r is not None and r.ground_speed == pytest.approx(310 * KT) and r.vertical_rate == pytest.approx(640 * FPM)


def test_aircraft_are_kept_apart_and_implausible_values_never_reach_the_hub() -> None:
    a = Assembler()
    for icao in ("AAAAAA", "BBBBBB"):
        a.feed(msg(4, 0, icao, gs=200, trk=10), T0)
    a.feed(msg(4, 0, "CCCCCC", gs=4000, trk=10), T0)  # 2,000 m/s: a broken decode
    got = [a.feed(msg(3, 1, icao, lat=45, lon=5, alt=5000), T0) for icao in ("AAAAAA", "BBBBBB", "CCCCCC")]
    assert [r.track_id if r else None for r in got] == ["aaaaaa", "bbbbbb", None]
    assert a.stats.implausible == 1 and "ground speed" in (a.stats.last_error or "")
    assert len(a) == 3


def test_surface_positions_carry_their_own_velocity_and_non_icao_tracks_have_no_icao24() -> None:
    a = Assembler()
    a.feed(msg(5, 0, "~ABCDEF", alt=300), T0)
    r = a.feed(msg(2, 1, "~ABCDEF", gs=15, trk=180, lat=48.7, lon=2.4, ground=-1), T0)
    assert r is not None and r.track_id == "~abcdef" and r.icao24 is None and r.ground_speed == pytest.approx(15 * KT)
    assert "icao24" not in r.to_wire()


def test_arrival_time_and_lines_without_times_use_the_time_received() -> None:
    a = Assembler(use_arrival_time=True)
    a.feed(VELOCITY, T0 + 100)
    r = a.feed(POSITION, T0 + 101)
    assert r is not None and r.t == T0 + 101
    b = Assembler()
    b.feed(msg(4, 0, gs=300, trk=90).replace("2026/11/22,10:00:00.000", ","), T0 + 500)
    r = b.feed("MSG,3,1,1,4CA2D6,1,,,,,,10000,,,48.0,2.0,,,0,0,0,0", T0 + 501)
    assert r is not None and r.t == T0 + 501


def test_malformed_lines_are_counted_and_the_feed_goes_on() -> None:
    a = Assembler()
    assert a.feed("MSG,3,garbage", T0) is None and a.feed("\x00\xff", T0) is None
    a.feed(VELOCITY, T0)
    assert a.feed(POSITION, T0) is not None
    assert (a.stats.malformed, a.stats.reports) == (2, 1) and "unknown message type" in (a.stats.last_error or "")


def test_aircraft_not_heard_from_are_forgotten() -> None:
    a = Assembler(forget_after_s=300)
    a.feed(VELOCITY, T0)
    a.feed(msg(4, 0, "BBBBBB", gs=1, trk=1), T0 + 400)
    assert len(a) == 1


# --- wire form ---


def test_reports_go_on_the_wire_as_the_hub_takes_them() -> None:
    r = PositionReport("4ca2d6", T0 + 0.25, 51.0, -1.0, 10972.8, "BARO", 231.5, 275.5, -3.25, "RYR4TW", "4ca2d6")
    wire = r.to_wire()
    assert wire["time"] == "2026-11-22T10:00:00.250000Z" == rfc3339(T0 + 0.25)
    assert datetime.fromisoformat(wire["time"]).timestamp() == T0 + 0.25
    assert set(wire) == {
        "track_id", "time", "lat", "lon", "altitude", "altitude_reference", "ground_speed", "track", "vertical_rate",
        "callsign", "icao24",
    }  # fmt: skip
    assert implausible(r) is None
    assert "altitude" in (implausible(replace(r, altitude_m=200_000.0)) or "")
    assert "vertical" in (implausible(replace(r, vertical_rate=-400.0)) or "")
    assert "finite" in (implausible(replace(r, lat=float("nan"))) or "")


def test_addresses() -> None:
    assert parse_address("127.0.0.1:30003") == ("127.0.0.1", 30003)
    assert parse_address("receiver.local") == ("receiver.local", 30003)
    assert parse_address("[::1]:30005") == ("::1", 30005)
    for bad in ("host:port", ":30003", "host:70000"):
        with pytest.raises(ValueError):
            parse_address(bad)


# --- recordings ---

OPENSKY_HEADER = [
    "time", "icao24", "lat", "lon", "velocity", "heading", "vertrate", "callsign", "onground", "alert", "spi",
    "squawk", "baroaltitude", "geoaltitude", "lastposupdate", "lastcontact",
]  # fmt: skip


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def opensky_row(t: float, icao: str, lat: Any = 46.0, **over: Any) -> list[Any]:
    row = {"time": t, "icao24": icao, "lat": lat, "lon": 7.0, "velocity": 200.0, "heading": 90.0, "vertrate": -5.0,
           "callsign": "SWR12   ", "onground": "False", "alert": "False", "spi": "False", "squawk": "1000",
           "baroaltitude": 10000.0, "geoaltitude": 10150.0, "lastposupdate": t - 0.5, "lastcontact": t}  # fmt: skip
    row.update(over)
    return [row[name] for name in OPENSKY_HEADER]


def test_opensky_csv_maps_columns_skips_rows_without_position_and_sorts_by_time(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "states.csv",
        OPENSKY_HEADER,
        [
            opensky_row(T0 + 20, "4b1801", lat=46.2),
            opensky_row(T0 + 10, "4b1801", lat=46.1),
            opensky_row(T0 + 15, "4b1801", lat=""),  # no position
            opensky_row(T0 + 21, "4b1801", lat=46.2, lastposupdate=T0 + 19.5),  # the same position again
            opensky_row(T0 + 12, "3c6444", baroaltitude="", geoaltitude=9000.0, callsign=""),  # geometric altitude
            opensky_row(T0 + 13, "3c6444", baroaltitude="", geoaltitude=""),  # no altitude at all
            opensky_row(T0 + 14, "3c6444", velocity="", heading="", vertrate=""),  # velocity carried forward
            opensky_row(T0 + 16, "", lat=1.0),  # no id
            opensky_row(T0 + 17, "aaaaaa", velocity=""),  # no velocity ever
            opensky_row(T0 + 18, "bbbbbb", velocity=9000.0),  # Mach 26
        ],
    )
    rec = read_recording(path)
    assert rec.layout == "OpenSky state vectors" and rec.rows == 10
    assert [(r.track_id, r.t) for r in rec.reports] == [
        ("4b1801", T0 + 9.5),
        ("3c6444", T0 + 11.5),
        ("3c6444", T0 + 13.5),
        ("4b1801", T0 + 19.5),
    ]
    assert rec.skipped == {
        "no_id": 1, "no_time": 0, "no_position": 1, "no_altitude": 1, "no_velocity": 1, "repeated": 1,
        "implausible": 1,
    }  # fmt: skip
    first, geo, carried = rec.reports[0], rec.reports[1], rec.reports[2]
    assert (first.lat, first.altitude_m, first.altitude_reference, first.ground_speed, first.vertical_rate) == (
        46.1,
        10000.0,
        "BARO",
        200.0,
        -5.0,
    )
    assert first.callsign == "SWR12" and first.icao24 == "4b1801"
    assert geo.altitude_reference == "WGS84" and geo.altitude_m == 9000.0 and geo.callsign is None
    assert (carried.ground_speed, carried.track, carried.vertical_rate) == (200.0, 90.0, -5.0)
    assert rec.duration_s == 10.0


def test_traffic_layout_converts_aviation_units_and_reads_iso_times(tmp_path: Path) -> None:
    header = ["timestamp", "icao24", "latitude", "longitude", "altitude", "groundspeed", "track", "vertical_rate"]
    header += ["callsign", "onground"]
    path = write_csv(
        tmp_path / "flight.csv",
        header,
        [
            ["2026-11-22 10:00:05+00:00", "0101de", 48.48, 3.83, 13650, 325, 311.1, -896, "MSR799", False],
            ["2026-11-22T10:00:00", "0101de", 48.47, 3.84, 13700, 324, 311.0, -832, "MSR799", False],  # naive: UTC
        ],
    )
    rec = read_recording(path)
    assert rec.layout == "traffic" and [r.t for r in rec.reports] == [T0, T0 + 5]
    r = rec.reports[0]
    assert r.altitude_m == pytest.approx(13700 * FT) and r.ground_speed == pytest.approx(324 * KT)
    assert r.vertical_rate == pytest.approx(-832 * FPM) and r.altitude_reference == "BARO"


def test_gzipped_csv_and_parquet_read_like_csv(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [opensky_row(T0 + i, "4b1801", lat=46 + i / 100) for i in range(5)]
    plain = write_csv(tmp_path / "s.csv", OPENSKY_HEADER, rows)
    (tmp_path / "s.csv.gz").write_bytes(gzip.compress(plain.read_bytes()))
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(OPENSKY_HEADER)})
    table = table.set_column(0, "time", pa.array([datetime.fromtimestamp(T0 + i, UTC) for i in range(5)]))
    pq.write_table(table.drop_columns(["lastposupdate"]), tmp_path / "s.parquet")
    a, b, c = (read_recording(tmp_path / name) for name in ("s.csv", "s.csv.gz", "s.parquet"))
    assert [r.lat for r in a.reports] == [r.lat for r in b.reports] == [r.lat for r in c.reports]
    assert [r.t for r in c.reports] == [T0 + i for i in range(5)]  # a timestamp column, no lastposupdate


def test_files_that_cannot_be_replayed_say_why(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="no file"):
        read_recording(tmp_path / "missing.csv")
    with pytest.raises(RecordingError, match="unknown columns"):
        read_recording(write_csv(tmp_path / "x.csv", ["a", "b"], [[1, 2]]))
    with pytest.raises(RecordingError, match="missing"):
        read_recording(write_csv(tmp_path / "y.csv", ["time", "lat", "lon"], [[1, 2, 3]]))
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(RecordingError, match="cannot read"):
        read_recording(tmp_path / "bad.parquet")


def test_parquet_without_pyarrow_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "s.parquet").write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # what an environment without pyarrow does
    with pytest.raises(RecordingError, match="needs the pyarrow package: pip install pyarrow"):
        read_recording(tmp_path / "s.parquet")


def test_the_replay_clock_maps_the_first_time_to_the_start_and_runs_at_speed() -> None:
    assert replay_time(T0, T0, 1_000.0, 60.0) == 1_000.0
    assert replay_time(T0 + 600, T0, 1_000.0, 60.0) == 1_010.0
    assert replay_time(T0 + 30, T0, 1_000.0, 1.0) == 1_030.0


# --- the client, against a hub played by httpx.MockTransport ---


class FakeHub:
    """Answers ``POST /v1/tracks`` from a script of statuses (then 200s), recording every body."""

    def __init__(self, script: list[int | Callable[[list[dict[str, Any]]], httpx.Response]] | None = None) -> None:
        self.script = list(script or [])
        self.bodies: list[list[dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer tok" and request.url.path == "/v1/tracks"
        body = orjson.loads(request.content)
        self.bodies.append(body)
        step = self.script.pop(0) if self.script else 200
        if callable(step):
            return step(body)
        if step == -1:
            raise httpx.ConnectError("refused")
        if step == 200:
            return httpx.Response(200, json={"accepted": len(body), "stale": 0, "out_of_order": 0, "future": 0})
        return httpx.Response(step, json={"error": {"code": "x", "message": f"status {step}", "details": {}}})


def client(hub: FakeHub, **kw: Any) -> tuple[HubClient, list[float]]:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    transport = httpx.MockTransport(hub)
    return HubClient("http://hub", "tok", transport=transport, rng=random.Random(1), sleep=sleep, **kw), slept


def reports(n: int, t: float = T0) -> list[PositionReport]:
    return [PositionReport(f"T{i}", t + i, 45.0, 5.0, 1000.0, "BARO", 100.0, 90.0, 0.0) for i in range(n)]


def test_transport_errors_and_5xx_are_retried_with_backoff_until_accepted() -> None:
    hub = FakeHub([-1, 503, 500])
    c, slept = client(hub)
    asyncio.run(c.post(reports(3)))
    assert len(hub.bodies) == 4 and hub.bodies[0] == hub.bodies[3]
    assert c.totals.accepted == 3 and c.totals.retries == 3 and c.totals.unsent == 0
    assert len(slept) == 3 and all(0.25 <= s <= 10 for s in slept) and slept[2] <= 2.0


def test_a_batch_the_hub_never_takes_is_given_up_loudly_after_retry_for(caplog: pytest.LogCaptureFixture) -> None:
    hub = FakeHub([503] * 100)
    c, _ = client(hub, retry_for_s=0.0)
    asyncio.run(c.post(reports(5)))
    assert c.totals.unsent == 5 and c.totals.accepted == 0
    assert "gave up on a batch of 5 reports" in caplog.text


def test_a_report_the_hub_refuses_is_dropped_by_name_and_the_rest_sent(caplog: pytest.LogCaptureFixture) -> None:
    def refuse_second(body: list[dict[str, Any]]) -> httpx.Response:
        details = {"field": "reports[1].altitude"}
        return httpx.Response(400, json={"error": {"code": "invalid_input", "message": "bad", "details": details}})

    hub = FakeHub([refuse_second])
    c, _ = client(hub)
    asyncio.run(c.post(reports(3)))
    assert [r["track_id"] for r in hub.bodies[1]] == ["T0", "T2"]
    assert (c.totals.accepted, c.totals.rejected) == (2, 1) and "refused report T1" in caplog.text


def test_a_wrong_token_stops_the_feed() -> None:
    c, _ = client(FakeHub([401]))
    with pytest.raises(HubRefused, match="401"):
        asyncio.run(c.post(reports(1)))
    c, _ = client(FakeHub([413]))
    asyncio.run(c.post(reports(2)))
    assert c.totals.rejected == 2


def test_replay_posts_due_rows_in_order_stamped_with_replay_times() -> None:
    rec = Recording(Path("x.csv"), "test", 40, [r.at(T0 + 10 * i) for i, r in enumerate(reports(40))])
    hub = FakeHub()
    sent: list[tuple[int, float]] = []
    c = HubClient("http://hub", "tok", transport=httpx.MockTransport(hub))
    start = asyncio.run(replay(rec, c, speed=2_000.0, batch=7, tick_s=0.05, on_sent=lambda n, t: sent.append((n, t))))
    posted = [r for body in hub.bodies for r in body]
    assert [r["track_id"] for r in posted] == [f"T{i}" for i in range(40)]
    assert all(len(body) <= 7 for body in hub.bodies) and sum(n for n, _ in sent) == 40 and sent[-1][1] == T0 + 390
    stamps = [datetime.fromisoformat(r["time"]).timestamp() for r in posted]
    assert stamps == pytest.approx([start + 10 * i / 2_000 for i in range(40)], abs=1e-5)


# --- the live SBS loop, against a receiver on loopback and a mock hub ---


def test_ingest_sbs_reads_until_the_receiver_closes_and_posts_everything() -> None:
    lines = [msg(4, 0, gs=300, trk=90)] + [msg(3, s, lat=48 + s / 100, lon=2.0, alt=9000) for s in range(1, 26)]
    lines += ["MSG,garbage"]

    async def main() -> tuple[dict[str, Any], FakeHub]:
        async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(("\r\n".join(lines) + "\r\n").encode())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        hub = FakeHub([503])
        async with HubClient("http://hub", "tok", transport=httpx.MockTransport(hub), base_s=0.01) as c:
            feed = SbsFeed("127.0.0.1", port, flush_s=0.05, batch=10, exit_on_eof=True)
            counts = await ingest_sbs(feed, Assembler(), c)
        server.close()
        return counts, hub

    counts, hub = asyncio.run(main())
    assert counts["reports"] == 25 and counts["malformed"] == 1 and counts["connections"] == 1
    assert counts["hub_accepted"] == 25 and counts["hub_retries"] == 1
    assert sum(len(b) for b in hub.bodies[1:]) == 25 and max(len(b) for b in hub.bodies) <= 10
