"""The issue's scenario in a real browser: two parties declare overlapping volumes from the map, the conflict
reaches the other side's inbox without a reload, one acknowledges from the inbox, the other sees it; the page talks
to nobody but the hub."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect
from shapely.geometry import shape

from deconfliction.core.record import key_to_hex
from tests.browser.conftest import MapPage, Theatre
from tests.conftest import box, volume
from tests.integration import test_tracks_e2e as tracks_e2e

CENTRE = (36.75, 40.5)  # lat, lon: beside the Syrian–Turkish border, so that the screenshots show it


def point_of(opened: MapPage, lat: float, lon: float) -> tuple[float, float]:
    """Where (lat, lon) is on the screen, in page pixels."""
    x, y = opened.evaluate(
        "([lat, lon]) => { const p = hubMap.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }", [lat, lon]
    )
    box_ = opened.page.locator("#map").bounding_box()
    assert box_ is not None
    return box_["x"] + x, box_["y"] + y


def centre_map(opened: MapPage, zoom: int = 10) -> None:
    opened.evaluate("([lat, lon, z]) => { hubMap.setView([lat, lon], z, {animate: false}); }", [*CENTRE, zoom])


def draw_square(opened: MapPage, lat: float, lon: float, half: float) -> None:
    opened.page.click("#draw-polygon")
    corners = [(lat - half, lon - half), (lat - half, lon + half), (lat + half, lon + half), (lat + half, lon - half)]
    for corner in [*corners, corners[0]]:  # clicking the first vertex again closes the ring
        opened.page.mouse.click(*point_of(opened, *corner))


def draw_circle(opened: MapPage, lat: float, lon: float, radius_deg: float) -> None:
    opened.page.click("#draw-circle")
    opened.page.mouse.click(*point_of(opened, lat, lon))
    opened.page.mouse.move(*point_of(opened, lat, lon + radius_deg))
    opened.page.mouse.click(*point_of(opened, lat, lon + radius_deg))


def set_window(opened: MapPage, start: datetime, hours: float = 2.0) -> None:
    fmt = "%Y-%m-%dT%H:%M"
    opened.page.fill("#time-start", start.strftime(fmt))
    opened.page.fill("#time-end", (start + timedelta(hours=hours)).strftime(fmt))
    opened.page.fill("#alt-lower", "1000")
    opened.page.fill("#alt-upper", "3000")
    opened.page.select_option("#alt-ref", "AMSL")


def api(theatre: Theatre, opened: MapPage, method: str, path: str, **kw: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {opened.party.token}"}
    return httpx.request(method, theatre.hub.url + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def test_two_parties_declare_from_the_map_and_acknowledge_from_the_inbox(theatre: Theatre) -> None:
    blue, ural = theatre.open("Blue Air Force", timezone="Asia/Tokyo"), theatre.open("Ural")
    start = (datetime.now(UTC) + timedelta(minutes=30)).replace(second=0, microsecond=0)
    for side in (blue, ural):
        centre_map(side)

    # Blue draws a square and declares it, with mission details that must never reach Ural
    draw_square(blue, *CENTRE, 0.05)
    set_window(blue, start)
    blue.page.fill("#description", "SECRET-DESCRIPTION")
    blue.page.fill("#callsign", "SECRET-CALLSIGN")
    blue.page.click("#declare-btn")
    expect(blue.page.locator("#declare-result")).to_contain_text("op_")
    (blue_op,) = api(theatre, blue, "GET", "/v1/operations").json()["operations"]
    footprint = shape(blue_op["volumes"][0]["footprint"])
    assert footprint.geom_type == "Polygon" and footprint.contains(
        shape({"type": "Point", "coordinates": CENTRE[::-1]})
    )
    assert blue_op["description"] == "SECRET-DESCRIPTION"

    # Ural draws a circle over Blue's square, checks it (a dry run), sees the conflict, then declares
    draw_circle(ural, CENTRE[0], CENTRE[1] + 0.05, 0.03)
    set_window(ural, start + timedelta(minutes=30))
    ural.page.click("#check-btn")
    expect(ural.page.locator("#check-result .check-conflict")).to_have_count(1)
    assert api(theatre, ural, "GET", "/v1/conflicts").json()["conflicts"] == []  # a check declares nothing
    centre_map(ural, 9)
    ural.screenshot("declare-check")
    ural.page.click("#declare-btn")
    expect(ural.page.locator("#declare-result")).to_contain_text("op_")
    (conflict,) = api(theatre, ural, "GET", "/v1/conflicts").json()["conflicts"]

    # Blue's inbox gets it over the event stream, with no reload
    item = blue.page.locator(f".inbox-item[data-kind='conflict'][data-id='{conflict['id']}']")
    expect(item).to_be_visible(timeout=10_000)
    expect(item.locator(".countdown")).not_to_be_empty()
    assert blue.navigations == 1
    listed = blue.page.locator(f".conflict-item[data-id='{conflict['id']}']")
    expect(listed).to_have_attribute("data-status", "open")
    # times read in UTC, with the reader's local time (here Tokyo, UTC+9) on hover
    shown = listed.locator("time").first
    at = datetime.fromisoformat((shown.get_attribute("datetime") or "").replace("Z", "+00:00"))
    assert shown.inner_text() == at.strftime("%Y-%m-%d %H:%MZ")
    assert (at + timedelta(hours=9)).strftime("%H:%M") in (shown.get_attribute("title") or "")
    blue.page.locator("#inbox-title").scroll_into_view_if_needed()
    centre_map(blue, 9)
    blue.screenshot("map-conflict")
    ural_item = ural.page.locator(f".inbox-item[data-kind='conflict'][data-id='{conflict['id']}']")
    expect(ural_item).to_be_visible(timeout=10_000)
    ural.page.select_option("#lang", "ru")  # the liaison officer of Ural reads Russian
    ural.page.locator("#inbox-title").scroll_into_view_if_needed()
    centre_map(ural, 9)
    ural.screenshot("inbox-ru")

    # Blue acknowledges from its inbox; Ural sees the acknowledgement, still without a reload
    item.locator(".ack-btn").click()
    expect(item).to_have_count(0, timeout=10_000)
    on_ural = ural.page.locator(f".conflict-item[data-id='{conflict['id']}']")
    expect(on_ural).to_have_attribute("data-acks", blue.party.id, timeout=10_000)
    assert ural.navigations == 1
    acks = api(theatre, ural, "GET", f"/v1/conflicts/{conflict['id']}").json()["acknowledgements"]
    assert [a["party_id"] for a in acks] == [blue.party.id]

    # what Ural's page holds never names Blue's mission
    for secret in ("SECRET-DESCRIPTION", "SECRET-CALLSIGN", blue_op["id"]):
        assert secret not in ural.page.content()
    # and neither page asked any host but the hub
    for side in (blue, ural):
        assert side.hosts() == {f"127.0.0.1:{theatre.hub.port}"}, side.requested


def test_a_dropped_line_reconnects_and_resumes_from_the_last_event(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force")
    ural = theatre.parties["Ural"]
    conn = blue.page.locator("#conn-state")
    expect(conn).to_have_attribute("data-state", "live")
    start = datetime.now(UTC) + timedelta(hours=1)
    body = {"volumes": [volume(box(30.0, 50.0), start)]}
    r = httpx.post(theatre.hub.url + "/v1/operations", json=body, headers={"Authorization": f"Bearer {ural.token}"})
    assert r.status_code == 201
    api(theatre, blue, "POST", "/v1/operations", json={"volumes": [volume(box(30.02, 50.0), start)]})
    expect(blue.page.locator(".inbox-item[data-kind='conflict']")).to_have_count(1, timeout=10_000)
    last = int(blue.page.locator("#last-event").get_attribute("data-event-id") or 0)
    assert last > 0

    theatre.hub.kill9()
    expect(conn).not_to_have_attribute("data-state", "live", timeout=10_000)
    blue.screenshot("line-down")
    # while the line is down, Ural declares two more overlapping plans straight into the store's next life
    theatre.hub.start()
    for lon in (30.03, 30.04):
        vol = volume(box(lon, 50.0), start)
        r = httpx.post(
            theatre.hub.url + "/v1/operations",
            json={"volumes": [vol]},
            headers={"Authorization": f"Bearer {ural.token}"},
        )
        assert r.status_code == 201
    expect(conn).to_have_attribute("data-state", "live", timeout=15_000)
    expect(blue.page.locator(".inbox-item[data-kind='conflict']")).to_have_count(3, timeout=10_000)
    assert int(blue.page.locator("#last-event").get_attribute("data-event-id") or 0) > last
    assert blue.navigations == 1


def test_an_acknowledgement_from_the_inbox_is_signed_with_the_partys_key(theatre: Theatre) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    blue = theatre.open("Blue Air Force")
    ural = theatre.parties["Ural"]
    r = api(
        theatre, blue, "POST", f"/v1/parties/{blue.party.id}/keys", json={"public_key": key_to_hex(key.public_key())}
    )
    assert r.status_code == 201, r.text
    key_id = r.json()["key_id"]
    blue.page.fill("#sign-key", key_to_hex(key))
    start = datetime.now(UTC) + timedelta(hours=1)
    api(theatre, blue, "POST", "/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)]})
    r = httpx.post(
        theatre.hub.url + "/v1/operations",
        json={"volumes": [volume(box(30.02, 50.0), start)]},
        headers={"Authorization": f"Bearer {ural.token}"},
    )
    (conflict,) = r.json()["conflicts"]
    item = blue.page.locator(f".inbox-item[data-id='{conflict['id']}']")
    item.locator(".ack-btn").click()
    expect(item).to_have_count(0, timeout=10_000)
    entries = api(theatre, blue, "GET", "/v1/audit/entries", params={"after": 0, "limit": 1000}).json()["entries"]
    docs = [json.loads(e["document"]) for e in entries if "document" in e]
    (acked,) = [d for d in docs if d["kind"] == "conflict.acknowledged"]
    (signed,) = acked["data"]["acknowledgements"]
    assert signed["party_id"] == blue.party.id and signed["key_id"] == key_id and len(signed["signature"]) == 128


def test_the_view_exports_as_geojson_and_kml(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force", sign_in=False)
    start = datetime.now(UTC) + timedelta(minutes=10)
    circle = volume({"type": "Point", "coordinates": [30.0, 50.0]}, start, radius_m=5000.0)
    api(theatre, blue, "POST", "/v1/operations", json={"volumes": [volume(box(31.0, 50.0), start), circle]})
    site = {
        "name": "Hospital 3",
        "category": "hospital",
        "footprint": {"type": "Point", "coordinates": [32.0, 50.0]},
        "radius_m": 500,
    }
    assert api(theatre, blue, "POST", "/v1/sites", json=site).status_code == 201
    blue.page.fill("#token", blue.party.token)
    blue.page.click("#signin")
    blue.page.wait_for_selector("body[data-ready='1']")
    with blue.page.expect_download() as got:
        blue.page.click("#export-geojson")
    collection = json.loads(got.value.path().read_text())
    assert collection["type"] == "FeatureCollection"
    geoms = [shape(f["geometry"]) for f in collection["features"]]
    assert len(geoms) == 3 and all(g.is_valid and not g.is_empty for g in geoms)
    assert any(g.contains(shape({"type": "Point", "coordinates": [30.0, 50.0]})) for g in geoms)  # the circle
    with blue.page.expect_download() as got:
        blue.page.click("#export-kml")
    kml = ET.parse(got.value.path())
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    assert len(kml.getroot().findall(".//k:Placemark", ns)) == 3
    assert kml.getroot().findall(".//k:Polygon", ns)


def test_russian_ui_and_utc_times(theatre: Theatre) -> None:
    ural = theatre.open("Ural")
    ural.page.select_option("#lang", "ru")
    expect(ural.page.locator("html")).to_have_attribute("lang", "ru")
    text = ural.page.locator("#declare-panel").inner_text()
    assert any("а" <= ch <= "я" for ch in text.lower()), text


def test_sign_in_by_keyboard_only(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force", sign_in=False)
    page = blue.page
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == "token":
            break
    else:
        pytest.fail("the token field is not reachable with Tab")
    page.keyboard.type(blue.party.token)
    page.keyboard.press("Enter")
    page.wait_for_selector("body[data-ready='1']")
    expect(page.locator("#whoami")).to_contain_text("Blue Air Force")
    assert blue.party.token not in page.url


def test_a_footprint_across_the_antimeridian_is_drawn_across_it(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force", sign_in=False)
    start = datetime.now(UTC) + timedelta(minutes=10)
    ring = [[179.5, 10.0], [-179.5, 10.0], [-179.5, 11.0], [179.5, 11.0], [179.5, 10.0]]
    crossing = volume({"type": "Polygon", "coordinates": [ring]}, start)
    assert api(theatre, blue, "POST", "/v1/operations", json={"volumes": [crossing]}).status_code == 201
    blue.page.fill("#token", blue.party.token)
    blue.page.click("#signin")
    blue.page.wait_for_selector("body[data-ready='1']")
    spans = blue.evaluate(
        """() => { const out = []; hubMap.eachLayer((l) => {
             if (l instanceof L.Polygon && !l.feature) out.push([l.getBounds().getWest(), l.getBounds().getEast()]);
           }); return out; }"""
    )
    assert len(spans) == 1, spans
    ((west, east),) = spans
    assert east - west == pytest.approx(1.0), spans  # 1° wide, not 359°


# Ural's name for its track, which Blue's page must never show; with its spaces it cannot turn up by chance in an id,
# an opaque reference or a signature on the page (a short name such as "R1" can).
URAL_TRACK = "ural track 1"


def _report(track: str, lon: float, heading: float) -> dict[str, object]:
    """A track at 9,000 m (a separation the detector checks) converging at lat 45°, as the end-to-end tests send."""
    return {**tracks_e2e._report(track, lon, heading), "altitude": 9_000.0, "altitude_reference": "BARO"}


def test_converging_tracks_raise_an_alert_on_the_map_and_in_the_inbox(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force")
    ural = theatre.parties["Ural"]
    assert api(theatre, blue, "POST", "/v1/tracks", json=[_report("B1", 20.0, 90.0)]).status_code == 200
    r = httpx.post(
        theatre.hub.url + "/v1/tracks",
        json=[_report(URAL_TRACK, 20.4, 270.0)],
        headers={"Authorization": f"Bearer {ural.token}"},
    )
    assert r.status_code == 200
    item = blue.page.locator(".inbox-item[data-kind='alert']")
    expect(item).to_have_count(1, timeout=15_000)  # the hub's next tactical pass, over the event stream
    (alert,) = api(theatre, blue, "GET", "/v1/alerts", params={"status": "open"}).json()["alerts"]
    assert item.get_attribute("data-id") == alert["id"]
    assert blue.evaluate("() => hubCounts().alerts") == 1
    # the own track is drawn with its heading; the other party's track is not listed, only the alert discloses it
    blue.page.wait_for_function("() => hubCounts().tracks === 1")  # the page polls its tracks once a second
    (own,) = api(theatre, blue, "GET", "/v1/tracks").json()["tracks"]
    blue.evaluate("([lat, lon]) => { hubMap.setView([lat, lon], 9, {animate: false}); }", [own["lat"], own["lon"]])
    blue.page.mouse.click(*point_of(blue, own["lat"], own["lon"]))  # the arrow: a popup names the track
    expect(blue.page.locator(".leaflet-popup-content")).to_contain_text("B1")
    assert URAL_TRACK not in blue.page.content()
    item.click()  # centres the map on the predicted closest point (animated: wait for it to arrive)
    cpa = alert["cpa"]
    blue.page.wait_for_function(
        "([lat, lon]) => { const c = hubMap.getCenter(); return Math.hypot(c.lat - lat, c.lng - lon) < 0.05; }",
        arg=[cpa["lat"], cpa["lon"]],
        timeout=5_000,
    )


def test_the_time_slider_shows_what_is_planned_at_that_time(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force", sign_in=False)
    now = datetime.now(UTC)
    for hours, lon in ((1.0, 30.0), (5.0, 31.0)):  # two volumes, 2 h each, starting in 1 h and in 5 h
        vol = volume(box(lon, 50.0), now + timedelta(hours=hours))
        assert api(theatre, blue, "POST", "/v1/operations", json={"volumes": [vol]}).status_code == 201
    blue.page.fill("#token", blue.party.token)
    blue.page.click("#signin")
    blue.page.wait_for_selector("body[data-ready='1']")
    shown = lambda: blue.evaluate("() => hubCounts().volumes_shown")  # noqa: E731

    def slide(minutes: int) -> None:
        blue.page.locator("#time-slider").fill(str(minutes))

    def exported_states() -> list[str]:
        with blue.page.expect_download() as got:
            blue.page.click("#export-geojson")
        features = json.loads(got.value.path().read_text())["features"]
        return sorted(f["properties"]["state"] for f in features if f["properties"]["kind"] == "operation")

    assert shown() == 2  # at "now": everything that has not ended
    assert exported_states() == ["declared", "declared"]
    slide(120)
    expect(blue.page.locator("#time-label")).not_to_be_empty()
    blue.page.wait_for_function("() => hubCounts().volumes_shown === 1")
    assert exported_states() == ["active"]  # the view, and its colours, at that time
    slide(240)
    blue.page.wait_for_function("() => hubCounts().volumes_shown === 0")
    slide(360)
    blue.page.wait_for_function("() => hubCounts().volumes_shown === 1")


def test_a_unit_signs_in_with_its_endpoint_token_and_gets_its_partys_notices(theatre: Theatre) -> None:
    blue = theatre.parties["Blue Air Force"]
    headers = {"Authorization": f"Bearer {blue.token}"}
    r = httpx.post(theatre.hub.url + "/v1/endpoints", json={"name": "2nd Squadron"}, headers=headers)
    assert r.status_code == 201, r.text
    unit = theatre.open("Blue Air Force", sign_in=False)
    unit.page.fill("#token", r.json()["token"])
    unit.page.click("#signin")
    unit.page.wait_for_selector("body[data-ready='1']")
    expect(unit.page.locator("#whoami")).to_contain_text("2nd Squadron")
    expect(unit.page.locator("#conn-state")).to_have_attribute("data-state", "live")
    start = datetime.now(UTC) + timedelta(hours=1)
    httpx.post(theatre.hub.url + "/v1/operations", json={"volumes": [volume(box(30.0, 50.0), start)]}, headers=headers)
    ural = {"Authorization": f"Bearer {theatre.parties['Ural'].token}"}
    r = httpx.post(
        theatre.hub.url + "/v1/operations", json={"volumes": [volume(box(30.02, 50.0), start)]}, headers=ural
    )
    (conflict,) = r.json()["conflicts"]
    expect(unit.page.locator(f".inbox-item[data-id='{conflict['id']}']")).to_be_visible(timeout=10_000)


def test_a_message_waits_in_the_inbox_until_acknowledged_from_it(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force")
    ural = {"Authorization": f"Bearer {theatre.parties['Ural'].token}"}
    body = {"to": [blue.party.id], "priority": "immediate", "body": "Convoy moving north at 14:00Z, hold fire"}
    sent = httpx.post(theatre.hub.url + "/v1/messages", json=body, headers=ural)
    assert sent.status_code == 201, sent.text
    item = blue.page.locator(f".inbox-item[data-kind='message'][data-id='{sent.json()['id']}']")
    expect(item).to_be_visible(timeout=10_000)
    expect(item).to_have_attribute("data-priority", "immediate")
    item.locator(".ack-btn").click()
    expect(item).to_have_count(0, timeout=10_000)
    seen = httpx.get(theatre.hub.url + f"/v1/messages/{sent.json()['id']}", headers=ural).json()
    (recipient,) = seen["recipients"]
    assert recipient["acknowledged_at"] is not None, seen


def test_a_site_notified_by_another_party_appears_without_a_reload(theatre: Theatre) -> None:
    blue = theatre.open("Blue Air Force")
    before = blue.evaluate("() => hubCounts().sites")
    ural = {"Authorization": f"Bearer {theatre.parties['Ural'].token}"}
    site = {"name": "School 12", "category": "school", "footprint": {"type": "Point", "coordinates": [31.0, 50.0]}}
    r = httpx.post(theatre.hub.url + "/v1/sites", json={**site, "radius_m": 300}, headers=ural)
    assert r.status_code == 201, r.text
    # over the event stream (the page's own re-read of sites is once a minute)
    blue.page.wait_for_function(f"() => hubCounts().sites === {before + 1}", timeout=10_000)
    assert blue.navigations == 1
