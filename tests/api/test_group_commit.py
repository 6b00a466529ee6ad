"""The write path: many use cases share one transaction; a failing one does not take the others down."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deconfliction.core.errors import NotFound
from deconfliction.service import operations
from deconfliction.service.hub import Tx
from tests.api.conftest import World
from tests.conftest import box, volume


def _draft(world: World, lon: float) -> operations.OperationDraft:
    from deconfliction.api.schemas import OperationCreate, to_operation_draft

    body = OperationCreate.model_validate({"volumes": [volume(box(lon, 50.0), world.clock.now + timedelta(hours=1))]})
    return to_operation_draft(body, world.hub.limits)


def test_a_batch_commits_together_and_sees_its_own_writes(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    hub = world.hub
    with hub.store.read() as uow:
        callers = {p.name: p for p in uow.parties()}
    futures = hub.execute_batch(
        [
            lambda tx: operations.declare(hub, tx, callers["Red"], _draft(world, 30.0)),
            lambda tx: operations.declare(hub, tx, callers["Blue"], _draft(world, 30.0)),
        ]
    )
    first, second = (f.result() for f in futures)
    assert first.conflicts == [] and len(second.conflicts) == 1  # the second saw the first, same transaction
    assert len(red.get("/v1/conflicts").json()["conflicts"]) == 1
    assert blue.get("/v1/operations").json()["operations"][0]["id"] == second.operation.id


def test_a_bug_in_one_use_case_rolls_back_and_replays_the_others(world: World) -> None:
    world.party("Blue")
    red = world.party("Red")
    hub = world.hub
    with hub.store.read() as uow:
        callers = {p.name: p for p in uow.parties()}

    def broken(tx: Tx) -> None:
        operations.declare(hub, tx, callers["Blue"], _draft(world, 30.0))
        raise RuntimeError("a bug after writing")

    futures = hub.execute_batch(
        [
            lambda tx: operations.declare(hub, tx, callers["Red"], _draft(world, 30.0)),
            broken,
            lambda tx: operations.cancel(hub, tx, callers["Red"], "op_missing"),
        ]
    )
    assert len(futures[0].result().operation.id) > 3
    with pytest.raises(RuntimeError):
        futures[1].result()
    with pytest.raises(NotFound):
        futures[2].result()
    # Blue's half-done declaration left nothing behind: not in storage, not in the index.
    assert red.get("/v1/conflicts").json()["conflicts"] == []
    assert len(hub.index) == 1
    again = hub.execute(lambda tx: operations.declare(hub, tx, callers["Blue"], _draft(world, 30.0)))
    assert len(again.conflicts) == 1
