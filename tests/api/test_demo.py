"""The demo theatre that `scripts/run` serves: collisions that show the loop, and safe to start again."""

from __future__ import annotations

from deconfliction.demo import seed
from tests.api.conftest import Caller, World


def test_demo_seeds_colliding_operations_and_reseeding_rotates_tokens(world: World) -> None:
    tokens = seed(world.hub)
    assert set(tokens) == {"Blue Air Force", "Green Air Force", "Red Air Force", "Relief Agency", "Monitor"}
    red = Caller("", "Red", tokens["Red Air Force"], world.client)
    kinds = sorted(c["kind"] for c in red.get("/v1/conflicts", params={"status": "open"}).json()["conflicts"])
    assert kinds == ["operation-operation", "operation-site"]
    again = seed(world.hub)
    assert again["Red Air Force"] != tokens["Red Air Force"]
    fresh = Caller("", "Red", again["Red Air Force"], world.client)
    assert len(fresh.get("/v1/operations").json()["operations"]) == 1  # live operations are not seeded twice
