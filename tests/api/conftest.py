"""In-process API tests: the real app and store on a temporary SQLite file, driven by TestClient."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from deconfliction.api.app import create_app
from deconfliction.config import Settings
from deconfliction.core.model import Role
from deconfliction.service import admin
from deconfliction.service.hub import Hub
from deconfliction.store.sql import SqlStore
from tests.conftest import Clock


@dataclass
class Caller:
    """A party with its token, and a client that sends it."""

    id: str
    name: str
    token: str
    client: TestClient

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, url: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return self.client.request(method, url, headers={**self.headers, **(headers or {})}, **kw)

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)


@dataclass
class World:
    client: TestClient
    hub: Hub
    clock: Clock
    db: Path
    party: Callable[..., Caller]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "hub.db", sweep_interval_s=3600)


@pytest.fixture
def world(settings: Settings, clock: Clock) -> Iterator[World]:
    hub = Hub(SqlStore.sqlite(settings.db), settings, clock=clock)
    app = create_app(settings, hub)
    with TestClient(app, raise_server_exceptions=True) as client:

        def party(name: str, coalition: str | None = None, role: Role = Role.PARTY) -> Caller:
            with hub.store.write() as uow:
                created, token = admin.create_party(uow, name, role, coalition, clock())
            return Caller(created.id, created.name, token, client)

        yield World(client=client, hub=hub, clock=clock, db=settings.db, party=party)
