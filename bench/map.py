"""The map page: first render with 5,000 volumes, 500 sites and 2,000 live tracks, then 1 Hz track updates.

A real ``deconfliction serve`` on a fresh SQLite database; one party ("Blue") made before it starts. Over HTTP, Blue
declares ``--volumes`` operations (one volume each: a 2–10 km square or circle, alternating, anywhere in a
1,500 km box over Europe, each for 2 h starting in the next 20 h; altitudes 300–6,000 m AMSL; the random
generator is seeded), notifies ``--sites`` protected sites (points with a 300–2,000 m radius), and reports
``--tracks`` tracks (random positions in the box, headings, 60–250 m/s). Then headless Debian Chromium (the flags
the browser tests use), driven by Playwright, opens the page with Blue's token already in session storage, as after
a sign-in and reload. *First render* is the page's own mark (``window.hubReady``, ``performance.now()`` when the
basemap and every layer are fetched and drawn), timed from the navigation's start; ``--runs`` fresh page loads,
each in a new browser context (no cache).

Then the *updates* phase: for ``--seconds`` s the bench posts a fresh report for every track once a second (each
moves ~200 m along its heading) while the page polls ``GET /v1/tracks`` at 1 Hz; a ``requestAnimationFrame`` counter
in the page gives frames per second, and the longest gap between two frames (a dropped frame shows there). Headless
Chromium paints at up to 60 Hz with no GPU here (software compositing).

    .venv/bin/python -m bench.map --json bench/results/map.json
    .venv/bin/python -m bench.map --markdown bench/results/map.json    # the docs section from a result
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from bench.line import free_port, make_parties, start_hub, stop_hub

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"]
BOX = (0.0, 45.0, 20.0, 55.0)  # lon/lat: west, south, east, north


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds").replace("+00:00", "Z")


def square(lon: float, lat: float, half_m: float) -> dict[str, Any]:
    dlat = half_m / 111_320.0
    dlon = dlat / math.cos(math.radians(lat))
    ring = [[lon - dlon, lat - dlat], [lon + dlon, lat - dlat], [lon + dlon, lat + dlat], [lon - dlon, lat + dlat]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def seed(url: str, token: str, args: argparse.Namespace, rng: random.Random) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {token}"}
    now = datetime.now(UTC)
    took: dict[str, float] = {}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        t0 = time.perf_counter()
        for i in range(args.volumes):
            lon, lat = rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])
            size = rng.uniform(2_000, 10_000)
            start = now + timedelta(minutes=10 + rng.uniform(0, 20 * 60))
            lower = rng.uniform(300, 3_000)
            vol: dict[str, Any] = {
                "altitude": {"lower": lower, "upper": lower + rng.uniform(300, 3_000), "reference": "AMSL"},
                "time": {"start": iso(start), "end": iso(start + timedelta(hours=2))},
            }
            if i % 2:
                vol |= {"footprint": {"type": "Point", "coordinates": [lon, lat]}, "radius_m": size / 2}
            else:
                vol["footprint"] = square(lon, lat, size / 2)
            r = client.post("/v1/operations", json={"volumes": [vol]})
            assert r.status_code == 201, r.text
        took["volumes_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(args.sites):
            lon, lat = rng.uniform(BOX[0], BOX[2]), rng.uniform(BOX[1], BOX[3])
            site = {
                "name": f"Site {i}",
                "category": rng.choice(["hospital", "school", "aid-warehouse", "shelter"]),
                "footprint": {"type": "Point", "coordinates": [lon, lat]},
                "radius_m": rng.uniform(300, 2_000),
            }
            r = client.post("/v1/sites", json=site)
            assert r.status_code == 201, r.text
        took["sites_s"] = time.perf_counter() - t0
    return took


class Tracks:
    """``count`` tracks moving in straight lines; ``post()`` sends every track's report for now."""

    def __init__(self, count: int, rng: random.Random) -> None:
        self.start = time.time()
        self.tracks = [
            (
                f"T{i:05d}",
                rng.uniform(BOX[0], BOX[2]),
                rng.uniform(BOX[1], BOX[3]),
                rng.uniform(0, 360),
                rng.uniform(60, 250),
                rng.uniform(1_000, 12_000),
            )
            for i in range(count)
        ]

    def reports(self) -> list[dict[str, Any]]:
        now = time.time()
        dt = now - self.start
        out = []
        for tid, lon, lat, heading, speed, alt in self.tracks:
            d = speed * dt
            dlat = d * math.cos(math.radians(heading)) / 111_320.0
            dlon = d * math.sin(math.radians(heading)) / (111_320.0 * math.cos(math.radians(lat)))
            out.append(
                {
                    "track_id": tid,
                    "time": datetime.fromtimestamp(now, UTC).isoformat().replace("+00:00", "Z"),
                    "lat": lat + dlat,
                    "lon": lon + dlon,
                    "altitude": alt,
                    "altitude_reference": "BARO",
                    "ground_speed": speed,
                    "track": heading,
                    "vertical_rate": 0.0,
                }
            )
        return out

    def post(self, client: httpx.Client) -> None:
        r = client.post("/v1/tracks", json=self.reports())
        assert r.status_code == 200, r.text


FRAME_COUNTER = """() => { window.__frames = []; const tick = (t) => { window.__frames.push(t);
  if (!window.__stopFrames) requestAnimationFrame(tick); }; requestAnimationFrame(tick); }"""


def first_renders(browser: Any, url: str, token: str, runs: int) -> list[dict[str, float]]:
    out = []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(f"sessionStorage.setItem('deconfliction.token', {json.dumps(token)})")
        page = context.new_page()
        t0 = time.perf_counter()
        page.goto(url + "/")
        page.wait_for_selector("body[data-ready='1']", timeout=120_000)
        wall = time.perf_counter() - t0
        ready_ms = page.evaluate("window.hubReady")
        counts = page.evaluate("window.hubCounts ? window.hubCounts() : null")
        out.append({"ready_ms": ready_ms, "wall_s": wall, "counts": counts})
        context.close()
    return out


def updates(browser: Any, url: str, token: str, tracks: Tracks, seconds: int) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_init_script(f"sessionStorage.setItem('deconfliction.token', {json.dumps(token)})")
    page = context.new_page()
    polls: list[float] = []
    page.on("request", lambda r: polls.append(time.perf_counter()) if "/v1/tracks" in r.url else None)
    page.goto(url + "/")
    page.wait_for_selector("body[data-ready='1']", timeout=120_000)
    stop = threading.Event()

    def feed() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            while not stop.is_set():
                t = time.perf_counter()
                tracks.post(client)
                stop.wait(max(0.0, 1.0 - (time.perf_counter() - t)))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    page.wait_for_timeout(2_000)  # let the updates start before counting frames
    page.evaluate(FRAME_COUNTER)
    t0 = time.perf_counter()
    page.wait_for_timeout(seconds * 1_000)
    frames = page.evaluate("() => { window.__stopFrames = true; return window.__frames; }")
    elapsed = time.perf_counter() - t0
    stop.set()
    feeder.join()
    context.close()
    gaps = [b - a for a, b in zip(frames, frames[1:], strict=False)]
    in_window = [p for p in polls if p >= t0]
    return {
        "seconds": elapsed,
        "frames": len(frames),
        "fps": len(frames) / elapsed,
        "longest_frame_gap_ms": max(gaps) if gaps else None,
        "p99_frame_gap_ms": sorted(gaps)[int(0.99 * (len(gaps) - 1))] if gaps else None,
        "frames_over_33ms": sum(1 for g in gaps if g > 1000 / 30),
        "track_polls": len(in_window),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="deconfliction-map-") as tmp:
        db = Path(tmp) / "hub.db"
        ((_, token),) = make_parties(db, ["Blue"])
        port = free_port()
        hub = start_hub(db, port, Path(tmp) / "hub.log", {"DECONFLICTION_SWEEP_INTERVAL_S": "3600"})
        url = f"http://127.0.0.1:{port}"
        try:
            took = seed(url, token, args, rng)
            tracks = Tracks(args.tracks, rng)
            with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
                tracks.post(client)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                renders = first_renders(browser, url, token, args.runs)
                live = updates(browser, url, token, tracks, args.seconds)
                version = browser.version
                browser.close()
        finally:
            stop_hub(hub)
    ready = [r["ready_ms"] for r in renders]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "chromium": version,
        "volumes": args.volumes,
        "sites": args.sites,
        "tracks": args.tracks,
        "seeding": took,
        "first_render": renders,
        "first_render_ms": {"median": statistics.median(ready), "max": max(ready)},
        "updates": live,
    }


def markdown(r: dict[str, Any]) -> str:
    fr, up = r["first_render_ms"], r["updates"]
    walls = [x["wall_s"] for x in r["first_render"]]
    rows = [
        "## The map",
        "",
        f"`bench/map.py` (`python -m bench.map --json bench/results/map.json`, {r['when']}, CPython {r['python']}, "
        f"Debian Chromium {r['chromium']} headless, software rendering, 2 cores; the module's docstring gives the "
        f"method): one party's {r['volumes']:,} operations of one volume each, {r['sites']} protected sites and "
        f"{r['tracks']:,} live tracks over a 1,500 km box, posted to a `deconfliction serve` before the page loads "
        f"(seeding took {r['seeding']['volumes_s']:.0f} s + {r['seeding']['sites_s']:.0f} s over HTTP).",
        "",
        "| figure | goal | measured | verdict |",
        "|---|---|---|---|",
        f"| first render, {r['volumes']:,} volumes + {r['sites']} sites + {r['tracks']:,} tracks "
        f"| ≤ 2 s | median {fr['median'] / 1000:.2f} s, max {fr['max'] / 1000:.2f} s over {len(r['first_render'])} "
        f"loads (navigation to ready; goto→ready in the bench {min(walls):.2f}–{max(walls):.2f} s) "
        f"| {'**met**' if fr['max'] <= 2000 else '**not met**'} |",
        f"| 1 Hz updates of {r['tracks']:,} tracks | ≥ 30 fps | {up['fps']:.1f} fps over {up['seconds']:.0f} s, "
        f"longest frame gap {up['longest_frame_gap_ms']:.0f} ms, p99 {up['p99_frame_gap_ms']:.0f} ms, "
        f"{up['frames_over_33ms']} frames over 33 ms, {up['track_polls']} track polls "
        f"| {'**met**' if up['fps'] >= 30 else '**not met**'} |",
    ]
    return "\n".join(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--volumes", type=int, default=5_000)
    p.add_argument("--sites", type=int, default=500)
    p.add_argument("--tracks", type=int, default=2_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seconds", type=int, default=20)
    p.add_argument("--seed", type=int, default=6)
    p.add_argument("--json", type=Path, help="write the result here")
    p.add_argument("--markdown", type=Path, help="print the docs table of a saved result and exit")
    args = p.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    result = run(args)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)
    print(markdown(result))


if __name__ == "__main__":
    main()
