"""Feeds into a real hub: ``deconfliction ingest sbs`` from a fake ADS-B receiver, ``deconfliction replay`` of
recorded state vectors (generated, and real ones from the ``traffic`` package's sample over Paris)."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import HubProcess, cli, free_port

FT, KT, FPM = 0.3048, 1852 / 3600, 0.3048 / 60


@dataclass(frozen=True)
class Party:
    token: str
    hub: HubProcess

    def tracks(self) -> dict[str, dict[str, Any]]:
        r = httpx.get(self.hub.url + "/v1/tracks", headers={"Authorization": f"Bearer {self.token}"}, timeout=10)
        assert r.status_code == 200, r.text
        return {t["track_id"]: t for t in r.json()["tracks"]}


@pytest.fixture
def party(tmp_path: Path) -> Iterator[Party]:
    db = tmp_path / "hub.db"
    made = cli("admin", "create-party", "Blue Air Force", "--db", str(db))
    hub = HubProcess(db=db)
    hub.start()
    try:
        yield Party(made["token"], hub)
    finally:
        hub.stop()


def deconfliction(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the CLI; its counts (JSON on stdout)."""
    out = subprocess.run(
        [sys.executable, "-m", "deconfliction", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, f"{args} exited {out.returncode}: {out.stderr}"
    return dict(orjson.loads(out.stdout))


# --- SBS-1 ---


def sbs(kind: int, icao: str, at: datetime, **f: Any) -> str:
    """A line as dump1090 writes it on port 30003 (receiver clock in UTC)."""
    d, t = at.strftime("%Y/%m/%d"), at.strftime("%H:%M:%S.%f")[:-3]
    cols = ["MSG", str(kind), "1", "1", icao, "1", d, t, d, t]
    cols += [str(f.get(k, "")) for k in ("callsign", "alt", "gs", "trk", "lat", "lon", "vr", "squawk")]
    cols += ["0", "0", "0", str(f.get("ground", 0))]
    return ",".join(cols)


def receiver_lines(now: datetime) -> tuple[list[str], dict[str, tuple[float, float, float]]]:
    """Twenty seconds of three aircraft, as a receiver would serve them, plus noise; and where each ends."""
    lines = ["STA,,5,179,400AE7,10103,2026/11/22,10:00:00.000,2026/11/22,10:00:00.000,RM"]
    planes = {
        "4CA2D6": ("RYR4TW", 48.70, 2.30, 36000),
        "3C6444": ("DLH9U", 48.90, 2.60, 24000),
        "A1B2C3": ("", 49.0, 2.0, 1500),
    }
    last: dict[str, tuple[float, float, float]] = {}
    for step in range(20):
        at = now - timedelta(seconds=20 - step)
        for i, (icao, (callsign, lat0, lon0, alt)) in enumerate(planes.items()):
            lat, lon = lat0 + step * 0.001, lon0 - step * 0.002
            if step == 0 and callsign:
                lines.append(sbs(1, icao, at, callsign=callsign))
            lines.append(sbs(4, icao, at, gs=450 - 100 * i, trk=275.5, vr=-64 * i))
            lines.append(sbs(5, icao, at, alt=alt))
            lines.append(sbs(3, icao, at + timedelta(milliseconds=200), alt=alt, lat=f"{lat:.5f}", lon=f"{lon:.5f}"))
            lines.append(sbs(8, icao, at))
            last[icao.lower()] = (lat, lon, alt * FT)
        if step == 7:
            lines.append("MSG,3,1,1,ZZZZZZ,1,garbage")  # malformed: counted, skipped
            lines.append("this is not SBS at all")
    return lines, last


class FakeReceiver:
    """dump1090's port 30003: serves the given lines to each client, then closes the connection."""

    def __init__(self, lines: list[str]) -> None:
        self.data = ("\r\n".join(lines) + "\r\n").encode()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.served = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(self.data[: len(self.data) // 3])  # in pieces, lines split across reads
                conn.sendall(self.data[len(self.data) // 3 :])
                self.served += 1

    def close(self) -> None:
        self.server.close()


def test_ingest_sbs_feeds_a_receivers_aircraft_to_the_hub(party: Party) -> None:
    lines, last = receiver_lines(datetime.now(UTC))
    receiver = FakeReceiver(lines)
    try:
        counts = deconfliction(
            "ingest", "sbs", f"127.0.0.1:{receiver.port}", "--hub", party.hub.url, "--exit-on-eof", "--flush", "0.2",
            env={"DECONFLICTION_TOKEN": party.token},  # --as omitted: the token comes from the environment
        )  # fmt: skip
    finally:
        receiver.close()
    assert counts["malformed"] == 2 and counts["lines"] == len(lines)
    # All in one or two batches: the hub keeps each aircraft's newest report of a batch (the rest: out_of_order).
    assert counts["reports"] == counts["hub_reports"] == 60, counts
    assert counts["hub_accepted"] >= 3 and counts["hub_accepted"] + counts["hub_out_of_order"] == 60, counts
    assert counts["hub_stale"] == counts["hub_unsent"] == counts["hub_rejected"] == 0
    tracks = party.tracks()
    assert sorted(tracks) == sorted(last)
    for icao, (lat, lon, alt_m) in last.items():
        t = tracks[icao]
        assert t["lat"] == pytest.approx(lat, abs=1e-5) and t["lon"] == pytest.approx(lon, abs=1e-5)
        assert t["altitude"] == pytest.approx(alt_m) and t["altitude_reference"] == "BARO"
        assert t["icao24"] == icao and t["track"] == pytest.approx(275.5)
    assert tracks["4ca2d6"]["callsign"] == "RYR4TW" and tracks["4ca2d6"]["ground_speed"] == pytest.approx(450 * KT)
    assert tracks["3c6444"]["vertical_rate"] == pytest.approx(-64 * FPM)
    assert tracks["a1b2c3"]["callsign"] is None


def test_ingest_sbs_stops_after_max_reports_and_a_wrong_token_is_an_error(party: Party) -> None:
    lines, _ = receiver_lines(datetime.now(UTC))
    receiver = FakeReceiver(lines)
    try:
        counts = deconfliction(
            "ingest", "sbs", f"127.0.0.1:{receiver.port}", "--as", party.token, "--hub", party.hub.url,
            "--max-reports", "10",
        )  # fmt: skip
        assert counts["reports"] == counts["hub_reports"] == 10
        assert counts["hub_accepted"] + counts["hub_out_of_order"] == 10 and counts["hub_stale"] == 0
        wrong = subprocess.run(
            [sys.executable, "-m", "deconfliction", "ingest", "sbs", f"127.0.0.1:{receiver.port}", "--as", "nope"]
            + ["--hub", party.hub.url, "--exit-on-eof"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        receiver.close()
    assert wrong.returncode == 2 and "401" in wrong.stderr, wrong.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "deconfliction", "ingest", "sbs", f"127.0.0.1:{free_port()}", "--as", party.token]
        + ["--hub", party.hub.url, "--exit-on-eof"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 2 and "cannot connect" in unreachable.stderr


# --- replay ---


def test_replay_of_a_csv_at_high_speed_gets_every_aircraft_into_the_hub(party: Party, tmp_path: Path) -> None:
    """OpenSky state vectors recorded hours ago: replayed at 120x, they arrive fresh and in order."""
    recorded = datetime(2026, 11, 22, 6, 0, tzinfo=UTC).timestamp()
    path = tmp_path / "states.csv"
    header = ["time", "icao24", "lat", "lon", "velocity", "heading", "vertrate", "callsign", "onground"]
    header += ["baroaltitude", "geoaltitude", "lastposupdate"]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for second in range(0, 240, 5):
            for k in range(5):
                icao = f"4b{k:04x}"
                lat, lon = 46.0 + k * 0.1 + second * 1e-4, 7.0 + second * 2e-4
                w.writerow([recorded + second, icao, lat, lon, 200.0, 90.0, 0.0, f"SWR{k}  ", False, 10000.0, 10100.0,
                            recorded + second - 0.5])  # fmt: skip
        w.writerow([recorded + 10, "4b9999", "", "", 200, 90, 0, "NOPOS", False, 10000, 10100, ""])  # no position
    counts = deconfliction("replay", str(path), "--as", party.token, "--hub", party.hub.url, "--speed", "120")
    assert counts["reports"] == 48 * 5 and counts["skipped"]["no_position"] == 1
    # Batches of what is due each half second (a minute of recording at 120x): each aircraft's newest one counts.
    assert counts["hub_accepted"] + counts["hub_out_of_order"] == 48 * 5 and counts["hub_accepted"] >= 5 * 4, counts
    assert counts["hub_stale"] == counts["hub_future"] == 0
    assert 235 / 120 <= counts["elapsed_s"] < 10  # 4 minutes at 120x: 2 s
    tracks = party.tracks()
    assert sorted(tracks) == [f"4b{k:04x}" for k in range(5)]
    assert tracks["4b0002"]["lat"] == pytest.approx(46.2 + 235e-4) and tracks["4b0002"]["callsign"] == "SWR2"
    assert tracks["4b0002"]["ground_speed"] == 200.0 and tracks["4b0002"]["altitude"] == 10000.0
    when = datetime.fromisoformat(tracks["4b0002"]["time"]).timestamp()
    assert abs(when - datetime.now(UTC).timestamp()) < 30  # shifted to now, not 2026-11-22


def _traffic_sample() -> Any:
    from traffic.data.samples import quickstart  # a test dependency (scripts/test installs it): never skipped

    return quickstart.data


def test_replay_of_real_adsb_data_over_paris(party: Party, tmp_path: Path) -> None:
    """Three minutes of traffic's sample (Paris, 2021-10-07, from 13:30 UTC: ~38 aircraft), as Parquet in traffic's
    layout, replayed at 60x: every aircraft that had a position, altitude and velocity ends where its last row says."""
    data = _traffic_sample()
    start = data.timestamp.min() + timedelta(minutes=90)
    window = data[(data.timestamp >= start) & (data.timestamp < start + timedelta(minutes=3))].copy()
    path = tmp_path / "paris.parquet"
    window.to_parquet(path)
    counts = deconfliction("replay", str(path), "--as", party.token, "--hub", party.hub.url, "--speed", "60")
    assert counts["layout"] == "traffic" and counts["rows"] == len(window)
    assert counts["hub_accepted"] + counts["hub_out_of_order"] == counts["reports"] > 0.5 * len(window)
    assert counts["hub_stale"] == counts["hub_future"] == counts["hub_rejected"] == counts["hub_unsent"] == 0
    # What the hub should hold: each aircraft's last row with a position and an altitude (a row without velocity
    # takes the previous one), the first of rows that share a time.
    usable = window.dropna(subset=["latitude", "longitude", "altitude"]).sort_values("timestamp", kind="stable")
    usable = usable.drop_duplicates(["icao24", "timestamp"], keep="first")
    expected = usable.drop_duplicates("icao24", keep="last").set_index("icao24")
    tracks = party.tracks()
    assert len(expected) > 30 and len(tracks) >= 0.9 * len(expected) and set(tracks) <= set(expected.index)
    for icao, t in tracks.items():
        row = expected.loc[icao]
        assert t["lat"] == pytest.approx(row.latitude) and t["lon"] == pytest.approx(row.longitude), icao
        assert t["altitude"] == pytest.approx(row.altitude * FT) and t["ground_speed"] == pytest.approx(
            row.groundspeed * KT
        )
