"""The writer re-reads others' changes (the record's size, the parties) only when someone else has committed.

SQLite's ``PRAGMA data_version`` tells a connection that another one committed; the store turns it into
``UnitOfWork.committed_elsewhere``. These tests hold the three ways it must say True (first use, another process,
another writer on the same connection) and the hub's use of it: what the admin CLI commits while the hub runs is
taken in by the next batch.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from deconfliction.core import merkle
from deconfliction.core.model import Role
from deconfliction.service import admin
from deconfliction.store.sql import SqlStore
from tests.api.conftest import Caller, World
from tests.api.test_record import all_entries, declare, head


def _write(store: SqlStore, catch_up: bool, key: str | None = None) -> bool:
    """One write transaction: whether it was told someone else committed; it catches up, changes ``key``, or both."""
    with store.write() as uow:
        told = uow.committed_elsewhere
        if catch_up:
            uow.caught_up()
        if key is not None:
            uow.set_meta(key, "1")
    return told


def test_committed_elsewhere_is_false_only_after_catching_up_with_nobody_else_writing(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    writer, other = SqlStore.sqlite(db), SqlStore.sqlite(db)  # two engines: two processes, as far as SQLite knows
    try:
        assert _write(writer, catch_up=True)  # nothing seen yet
        assert not _write(writer, catch_up=True)
        assert not _write(writer, catch_up=True, key="mine")  # its own commits are not someone else's
        assert not _write(writer, catch_up=True)
        with writer.read() as uow:
            assert uow.meta("mine") == "1"  # a read commits nothing
        assert not _write(writer, catch_up=True)

        _write(other, catch_up=False, key="cli")  # another process commits
        assert _write(writer, catch_up=True)
        assert not _write(writer, catch_up=True)

        _write(writer, catch_up=False, key="aside")  # a writer in this process that did not catch up
        assert _write(writer, catch_up=True)
        assert not _write(writer, catch_up=True)
    finally:
        writer.close()
        other.close()


def test_a_party_and_entries_the_admin_cli_commits_while_the_hub_runs_are_taken_in(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alpha = world.party("Alpha")
    start = world.clock() + timedelta(hours=1)
    declare(alpha, 10.0, start)  # the hub's writer has written and caught up
    size_before = head(alpha)["size"]

    cli = SqlStore.sqlite(world.db)  # `deconfliction admin create-party`, in its own process
    try:
        with cli.write() as uow:
            made, token = admin.create_party(uow, "Bravo", Role.PARTY, None, world.clock())
    finally:
        cli.close()
    bravo = Caller(made.id, made.name, token, alpha.client)
    reloads: list[None] = []
    reload = world.hub.reload
    monkeypatch.setattr(world.hub, "reload", lambda: reloads.append(None) or reload())

    answer = declare(bravo, 10.0, start)  # the next batch knows Bravo, and appends after the CLI's entry
    assert [c["other_party"]["name"] for c in answer["conflicts"]] == ["Alpha"]
    signed = head(bravo)
    entries = all_entries(bravo)
    assert signed["size"] == len(entries) > size_before + 1
    created = next(e for e in entries if "document" in e and orjson.loads(e["document"])["subject"] == made.id)
    assert created["index"] == size_before  # the CLI's entry, where the CLI put it
    proof = bravo.get(f"/v1/audit/proof/inclusion?index={created['index']}&size={signed['size']}").json()
    path = [bytes.fromhex(h) for h in proof["proof"]]
    root = bytes.fromhex(signed["root_hash"])
    assert merkle.verify_inclusion(created["index"], signed["size"], bytes.fromhex(created["leaf_hash"]), path, root)
    assert reloads == []  # taken in, not found out by a refused insert and a rebuild of everything the hub holds
