"""The map page in Debian's Chromium, driven by Playwright against a real hub process.

Every page records every request it makes; ``Browser.hosts()`` lets a test assert that the page talked to nobody
but the hub. Screenshots of the main views go to ``docs/screenshots/`` (the README shows them).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from deconfliction.api.web import DIST
from tests.integration.conftest import HubProcess, cli_many

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


# Module-scoped, not session-scoped: while Playwright's sync API is open it keeps an event loop running in the main
# thread, and every later test that calls asyncio.run() would fail.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert (DIST / "index.html").is_file(), f"the map page is not built in {DIST}: run scripts/setup"
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
    yield browser
    browser.close()


@dataclass
class Party:
    id: str
    name: str
    token: str


@dataclass
class MapPage:
    """One signed-in browser context: its page and every URL it requested."""

    context: BrowserContext
    page: Page
    party: Party
    requested: list[str] = field(default_factory=list)
    navigations: int = 0

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requested if not url.startswith(("data:", "blob:"))}

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def evaluate(self, script: str, arg: Any = None) -> Any:
        return self.page.evaluate(script, arg)


@dataclass
class Theatre:
    hub: HubProcess
    parties: dict[str, Party]
    browser: Browser
    pages: list[MapPage] = field(default_factory=list)

    def open(self, party: str, sign_in: bool = True, timezone: str = "UTC") -> MapPage:
        context = self.browser.new_context(
            viewport={"width": 1400, "height": 900}, accept_downloads=True, timezone_id=timezone, locale="en-GB"
        )
        page = context.new_page()
        opened = MapPage(context, page, self.parties[party])
        page.on("request", lambda request: opened.requested.append(request.url))

        def navigated(frame: Any) -> None:
            if frame == page.main_frame:
                opened.navigations += 1

        page.on("framenavigated", navigated)
        page.goto(self.hub.url + "/")
        if sign_in:
            page.fill("#token", opened.party.token)
            page.click("#signin")
            page.wait_for_selector("body[data-ready='1']", timeout=15_000)
        self.pages.append(opened)
        return opened


@pytest.fixture
def theatre(tmp_path: Path, browser: Browser) -> Iterator[Theatre]:
    db = tmp_path / "hub.db"
    cli_many(["admin", "create-coalition", "Coalition", "--db", str(db)])  # creates the database
    made = cli_many(
        ["admin", "create-party", "Blue Air Force", "--coalition", "Coalition", "--db", str(db)],
        ["admin", "create-party", "Ural", "--language", "ru", "--db", str(db)],
    )
    parties = {
        name: Party(m["party_id"], name, m["token"]) for name, m in zip(("Blue Air Force", "Ural"), made, strict=True)
    }
    hub = HubProcess(db=db, env={"DECONFLICTION_EVENT_HEARTBEAT_S": "1"})
    hub.start()
    theatre = Theatre(hub, parties, browser)
    yield theatre
    for opened in theatre.pages:
        opened.context.close()
    hub.stop()
