"""The demo theatre seeded by ``deconfliction demo``: three air forces (two in one coalition), a relief agency
with a hospital, and a monitor, with operations over the Euphrates valley in the next hours that collide."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from deconfliction.core.model import Role
from deconfliction.core.volumes import Volume4D, parse_altitude, parse_footprint, parse_time
from deconfliction.service import admin, operations, sites
from deconfliction.service.hub import Hub, Tx

PARTIES: list[tuple[str, Role, str | None]] = [
    ("Blue Air Force", Role.PARTY, "Coalition"),
    ("Green Air Force", Role.PARTY, "Coalition"),
    ("Red Air Force", Role.PARTY, None),
    ("Relief Agency", Role.PARTY, None),
    ("Monitor", Role.MONITOR, None),
]


def _volume(
    hub: Hub,
    tx: Tx,
    footprint: dict[str, Any],
    radius: float | None,
    alt: tuple[float, float],
    hours: tuple[float, float],
) -> Volume4D:
    return Volume4D(
        footprint=parse_footprint(footprint, radius, hub.limits),
        altitude=parse_altitude(alt[0], alt[1], "AMSL"),
        time=parse_time(tx.now + timedelta(hours=hours[0]), tx.now + timedelta(hours=hours[1])),
    )


def seed(hub: Hub) -> dict[str, str]:
    """Create the demo parties (or rotate their tokens) and, when none of theirs is live, their operations."""
    tokens: dict[str, str] = {}
    now = hub.clock()
    with hub.store.write() as uow:
        for name, role, coalition in PARTIES:
            if uow.party_by_name(name) is None:
                _, tokens[name] = admin.create_party(uow, name, role, coalition, now)
            else:
                _, tokens[name] = admin.rotate_token(uow, name, now)
        party = {name: uow.party_by_name(name) for name, _, _ in PARTIES}
        live = uow.operations_of([p.id for p in party.values() if p], 1, live_at=now)
    hub.reload()
    if live:
        return tokens
    blue, green, red, relief = (party[n] for n, _, _ in PARTIES[:4])
    assert blue and green and red and relief

    def scenario(tx: Tx) -> None:
        strike = _volume(hub, tx, {"type": "Point", "coordinates": [40.14, 35.33]}, 15_000, (3000, 9000), (1, 3))
        operations.declare(hub, tx, red, operations.OperationDraft((strike,), "Strike package", "RAPTOR 1", 1))
        orbit = {
            "type": "Polygon",
            "coordinates": [[[39.95, 35.25], [40.30, 35.25], [40.30, 35.45], [39.95, 35.45], [39.95, 35.25]]],
        }
        isr = _volume(hub, tx, orbit, None, (5000, 7000), (2, 5))
        operations.declare(hub, tx, blue, operations.OperationDraft((isr,), "ISR orbit", "SENTRY 21", 2))
        tanker = _volume(hub, tx, {"type": "Point", "coordinates": [38.6, 36.4]}, 20_000, (7000, 8500), (0.5, 6))
        operations.declare(hub, tx, green, operations.OperationDraft((tanker,), "Tanker track", "TEXACO 5", 3))
        hospital = Volume4D(
            footprint=parse_footprint({"type": "Point", "coordinates": [40.146, 35.336]}, 400, hub.limits),
            altitude=None,
            time=parse_time(tx.now, tx.now + timedelta(days=30)),
        )
        sites.notify(hub, tx, relief, sites.SiteDraft("Al-Noor hospital", "hospital", hospital, None))
        # the line both air forces agreed not to cross, along the river: a 2 km corridor
        river = [[37.9, 36.2], [38.45, 35.95], [39.05, 35.75], [39.55, 35.5], [39.8, 34.9]]
        line = Volume4D(
            footprint=parse_footprint({"type": "LineString", "coordinates": river}, 2_000, hub.limits),
            altitude=None,
            time=parse_time(tx.now, tx.now + timedelta(days=365)),
        )
        sites.notify(hub, tx, blue, sites.SiteDraft("River line", "deconfliction-line", line, None))

    hub.execute(scenario)
    return tokens
