"""Audit bundles from a real store: export what a party may see, verify it alone, and catch a store tampered with
behind the hub's back (raw SQL on audit_entries / audit_heads) or rewritten and re-signed. Also the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from deconfliction.cli import app
from deconfliction.core.bundle import verify_bundle
from deconfliction.core.errors import InvalidInput, NotFound
from deconfliction.core.merkle import MerkleLog
from deconfliction.core.model import Role
from deconfliction.core.record import (
    SignedHead,
    TreeHead,
    document_leaf_hash,
    key_to_hex,
    private_key_from_hex,
    sign_head,
)
from deconfliction.service import admin
from deconfliction.service.audit import export_bundle, thin_heads
from deconfliction.service.record import hub_key
from deconfliction.store.sql import SqlStore
from tests.api.conftest import World

T0 = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)
HEAD_SIZES = (4, 9, 9, 15, 22, 30)  # the third head: a quiet minute, nothing new


@dataclass
class Log:
    store: SqlStore
    db: Path
    parties: dict[str, str]  # name -> id
    key_hex: str  # the hub's public key

    def bundle(self, party: str = "Blue", max_heads: int = 1000) -> dict[str, Any]:
        with self.store.read() as uow:
            return export_bundle(uow, self.parties[party], max_heads, T0)

    def sql(self, statement: str, **params: Any) -> None:
        with self.store.engine.begin() as conn:
            conn.execute(text(statement), params)


def sign_heads(store: SqlStore, sizes: tuple[int, ...], start: int = 0, key: Ed25519PrivateKey | None = None) -> None:
    """What the hub's AuditLog does per write batch: a signed head over the first ``size`` leaves, stored."""
    with store.write() as uow:
        signer = key or hub_key(uow)
        tree = MerkleLog.from_leaf_hashes(uow.audit_leaves(0, uow.audit_size()))
        for k, size in enumerate(sizes):
            head = TreeHead(size, tree.root(size), int(T0.timestamp() * 1000) + 60_000 * (start + k))
            uow.insert_head(SignedHead(head, sign_head(signer, head)))


def visibility(i: int, ids: list[str]) -> list[str] | None:
    """Entry i is shown to everyone, to one party, to two, or to none but the hub."""
    return [None, ids[:1], ids[1:3], [], ids[2:]][i % 5]


@pytest.fixture
def log(tmp_path: Path) -> Iterator[Log]:
    db = tmp_path / "hub.db"
    store = SqlStore.sqlite(db)
    with store.write() as uow:
        parties = {name: admin.create_party(uow, name, Role.PARTY, None, T0)[0].id for name in ("Blue", "Red", "Green")}
    ids = list(parties.values())
    with store.write() as uow:
        for i in range(3, 30):
            at = T0 + timedelta(seconds=i)
            uow.record(at, "op.declared", f"op_{i}", {"n": i, "secret": f"mission {i}"}, visibility(i, ids))
    sign_heads(store, HEAD_SIZES)
    with store.write() as uow:  # two entries after the last head: not yet covered by a signature
        for i in range(2):
            uow.record(T0 + timedelta(minutes=30), "op.cancelled", f"op_{i}", {"n": i}, None)
    with store.read() as uow:
        key_hex = key_to_hex(hub_key(uow).public_key())
    yield Log(store, db, parties, key_hex)
    store.close()


# --- export ------------------------------------------------------------------------------------------------------


def test_an_exported_bundle_verifies_and_stops_at_the_last_signed_head(log: Log) -> None:
    bundle = log.bundle()
    assert bundle["format"] == "deconfliction-audit-bundle/1"
    assert bundle["size"] == 30 and len(bundle["entries"]) == 30
    assert [h["size"] for h in bundle["heads"]] == list(HEAD_SIZES)
    assert [(c["from"], c["to"]) for c in bundle["consistency"]] == list(zip(HEAD_SIZES, HEAD_SIZES[1:], strict=False))
    assert bundle["hub_key"] == log.key_hex and bundle["exported_at"] == "2027-03-01T06:00:00Z"
    report = verify_bundle(bundle, log.key_hex)
    assert report.ok, report


def test_a_party_is_shown_only_the_documents_it_may_read(log: Log) -> None:
    with log.store.read() as uow:
        entries = uow.audit_entries(0, 100)
    for name, party_id in log.parties.items():
        bundle = log.bundle(name)
        raw = orjson.dumps(bundle)
        for entry, shown in zip(entries, bundle["entries"], strict=False):
            assert shown["leaf_hash"] == entry.leaf_hash.hex()
            if entry.visible_to(party_id):
                assert shown["document"] == entry.document.decode()
            else:
                assert "document" not in shown
                # Nothing of a hidden entry leaks anywhere in the bundle: not its secret, not its salt.
                assert orjson.loads(entry.document)["salt"].encode() not in raw
        assert any("document" in e for e in bundle["entries"]) and not all("document" in e for e in bundle["entries"])
        assert verify_bundle(bundle, log.key_hex).ok


def test_export_says_what_to_fix(log: Log, tmp_path: Path) -> None:
    with log.store.read() as uow, pytest.raises(NotFound, match="No party with id 'pty_nobody'"):
        export_bundle(uow, "pty_nobody")
    with log.store.read() as uow, pytest.raises(InvalidInput, match="max_heads must be at least 2"):
        export_bundle(uow, log.parties["Blue"], max_heads=1)
    empty = SqlStore.sqlite(tmp_path / "empty.db")
    with empty.write() as uow:
        party, _ = admin.create_party(uow, "Lonely", Role.PARTY, None, T0)
    with empty.read() as uow, pytest.raises(NotFound, match="no signed tree head yet"):
        export_bundle(uow, party.id)
    empty.close()


def test_heads_are_thinned_evenly_keeping_the_first_and_last(log: Log) -> None:
    sign_heads(log.store, tuple([30] * 50), start=len(HEAD_SIZES))  # fifty quiet minutes
    bundle = log.bundle(max_heads=4)
    sizes = [h["size"] for h in bundle["heads"]]
    assert len(sizes) <= 4 and sizes[0] == 4 and sizes[-1] == 30
    assert bundle["heads"][-1]["timestamp_ms"] == max(h["timestamp_ms"] for h in log.bundle()["heads"])
    assert verify_bundle(bundle, log.key_hex).ok


def test_thinning_picks_the_first_head_at_each_step() -> None:
    key = Ed25519PrivateKey.generate()
    heads = [SignedHead(TreeHead(s, b"\0" * 32, s), sign_head(key, TreeHead(s, b"\0" * 32, s))) for s in range(101)]
    assert [h.head.size for h in thin_heads(heads, 5)] == [0, 25, 50, 75, 100]
    assert thin_heads(heads[:3], 5) == heads[:3]


# --- the store tampered with behind the hub's back ---------------------------------------------------------------


def _first_visible(log: Log, party: str, hidden: bool = False) -> int:
    bundle = log.bundle(party)
    return next(e["index"] for e in bundle["entries"] if ("document" in e) != hidden and e["index"] >= 3)


def test_a_document_changed_in_the_store_is_named(log: Log) -> None:
    i = _first_visible(log, "Blue")
    log.sql("UPDATE audit_entries SET document = replace(document, 'mission', 'MISSION') WHERE idx = :i", i=i)
    report = verify_bundle(log.bundle(), log.key_hex)
    assert not report.ok and report.first_bad_index == i and report.exact, report


def test_a_document_and_leaf_rewritten_in_the_store_are_caught_by_the_roots(log: Log) -> None:
    i = _first_visible(log, "Blue")
    lo = max(s for s in HEAD_SIZES if s <= i)
    with log.store.read() as uow:
        doc = uow.audit_entries(i, 1)[0].document.replace(b"mission", b"MISSION")
    log.sql("UPDATE audit_entries SET document = :d, leaf_hash = :h WHERE idx = :i", d=doc.decode(),
            h=document_leaf_hash(doc), i=i)  # fmt: skip
    report = verify_bundle(log.bundle(), log.key_hex)
    assert not report.ok and report.first_bad_index == lo and not report.exact, report
    assert f"between {lo} and" in report.message


def test_a_hidden_leaf_changed_in_the_store_is_pinned_to_a_range(log: Log) -> None:
    i = next(e["index"] for e in log.bundle("Blue")["entries"] if "document" not in e and e["index"] >= 16)
    log.sql("UPDATE audit_entries SET leaf_hash = :h WHERE idx = :i", h=b"\x42" * 32, i=i)
    report = verify_bundle(log.bundle(), log.key_hex)
    lo = max(s for s in HEAD_SIZES if s <= i)
    assert not report.ok and report.first_bad_index == lo and not report.exact, report


def test_an_entry_deleted_from_the_store_is_named(log: Log) -> None:
    log.sql("DELETE FROM audit_entries WHERE idx = 11")
    report = verify_bundle(log.bundle(), log.key_hex)
    assert not report.ok and report.first_bad_index == 11 and "entry 11 is missing" in report.message, report


def test_the_log_truncated_in_the_store_is_named(log: Log) -> None:
    log.sql("DELETE FROM audit_entries WHERE idx >= 27")
    report = verify_bundle(log.bundle(), log.key_hex)
    assert not report.ok and report.first_bad_index == 27 and "truncated" in report.message, report


def test_two_entries_swapped_in_the_store_are_named(log: Log) -> None:
    log.sql("UPDATE audit_entries SET idx = -1 WHERE idx = 6")
    log.sql("UPDATE audit_entries SET idx = 6 WHERE idx = 8")
    log.sql("UPDATE audit_entries SET idx = 8 WHERE idx = -1")
    # Blue reads entry 6: its document, now at position 8, says where it belongs.
    report = verify_bundle(log.bundle("Blue"), log.key_hex)
    assert not report.ok and report.first_bad_index == 8 and report.exact, report
    assert "says it is entry 6" in report.message
    # Red reads neither: only the signed root at size 9 catches it, as the range since the head of size 4.
    report = verify_bundle(log.bundle("Red"), log.key_hex)
    assert not report.ok and report.first_bad_index == 4 and not report.exact, report


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("UPDATE audit_heads SET root_hash = zeroblob(32) WHERE size = 15", "head #3 (size 15): bad signature"),
        ("UPDATE audit_heads SET size = 14 WHERE size = 15", "head #3 (size 14): bad signature"),
        ("UPDATE audit_heads SET timestamp_ms = timestamp_ms + 1 WHERE size = 15", "head #3 (size 15): bad signature"),
    ],
)
def test_a_head_altered_in_the_store_is_named(log: Log, change: str, words: str) -> None:
    log.sql(change)
    report = verify_bundle(log.bundle(), log.key_hex)
    assert not report.ok and report.first_bad_index == 9 and words in report.message, report


def test_a_head_resigned_with_another_key_in_the_store_is_named(log: Log) -> None:
    other = Ed25519PrivateKey.generate()
    log.sql("DELETE FROM audit_heads WHERE size >= 22")
    sign_heads(log.store, (22, 30), start=10, key=other)
    report = verify_bundle(log.bundle(), log.key_hex)
    assert not report.ok and report.first_bad_index == 15 and "head #4 (size 22): bad signature" in report.message


def test_a_log_rewritten_and_resigned_with_the_hubs_key_is_a_fork_against_heads_the_party_kept(log: Log) -> None:
    kept = log.bundle()["heads"][1:4]  # what Blue fetched from GET /v1/audit/head along the way
    # The operator rewrites entry 12 (document and leaf), then re-signs every head with the hub's own key.
    with log.store.read() as uow:
        doc = uow.audit_entries(12, 1)[0].document.replace(b"mission", b"nothing happened")
        key = private_key_from_hex(str(uow.meta("audit_key")))
    log.sql("UPDATE audit_entries SET document = :d, leaf_hash = :h WHERE idx = 12", d=doc.decode(),
            h=document_leaf_hash(doc))  # fmt: skip
    log.sql("DELETE FROM audit_heads")
    sign_heads(log.store, HEAD_SIZES, start=100, key=key)
    rewritten = log.bundle()
    assert verify_bundle(rewritten, log.key_hex).ok  # consistent in itself: only memory catches it
    report = verify_bundle(rewritten, log.key_hex, kept)
    assert not report.ok and report.fork and "fork" in report.message, report
    assert report.first_bad_index == 9 and "known head #2 (size 15" in report.message


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 29), how=st.sampled_from(["leaf", "delete"]))
def test_any_row_changed_in_the_store_is_caught_at_or_before_it(
    tmp_path_factory: pytest.TempPathFactory, index: int, how: str
) -> None:
    tmp = tmp_path_factory.mktemp("tamper")
    store = SqlStore.sqlite(tmp / "hub.db")
    with store.write() as uow:
        party, _ = admin.create_party(uow, "Blue", Role.PARTY, None, T0)
        for i in range(1, 30):
            uow.record(T0, "op.declared", f"op_{i}", {"n": i}, None if i % 2 else [])
    sign_heads(store, HEAD_SIZES)
    with store.engine.begin() as conn:
        if how == "leaf":
            conn.execute(text("UPDATE audit_entries SET leaf_hash = :h WHERE idx = :i"), {"h": b"\1" * 32, "i": index})
        else:
            conn.execute(text("DELETE FROM audit_entries WHERE idx = :i"), {"i": index})
    with store.read() as uow:
        bundle = export_bundle(uow, party.id)
        key_hex = key_to_hex(hub_key(uow).public_key())
    store.close()
    report = verify_bundle(bundle, key_hex)
    assert not report.ok and report.first_bad_index is not None
    assert report.first_bad_index <= index
    if report.exact:
        assert report.first_bad_index == index
    else:
        assert report.first_bad_index == max((s for s in HEAD_SIZES if s <= index), default=0)


# --- through the real hub ----------------------------------------------------------------------------------------


def test_a_bundle_from_the_running_hub_verifies_against_the_heads_it_served(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    from tests.conftest import box, volume

    for lon in (30.0, 30.02, 31.0):
        caller = blue if lon != 30.02 else red
        assert caller.post("/v1/operations", json={"volumes": [volume(box(lon, 50.0), start)]}).status_code == 201
    served = blue.get("/v1/audit/head").json()
    # Every batch's head is served at once and stored within a second (the next batch, or the hub's once-a-second
    # check when it is quiet): a bundle ends at the last head stored.
    world.clock.advance(seconds=1)
    world.hub.execute(lambda tx: None)
    with world.hub.store.read() as uow:
        bundle = export_bundle(uow, blue.id)
    report = verify_bundle(bundle, world.hub.audit.public_key_hex, [served])
    assert report.ok, report


# --- the command line --------------------------------------------------------------------------------------------

runner = CliRunner()


def _export(log: Log, tmp_path: Path, party: str = "Red", name: str = "bundle.json") -> Path:
    result = runner.invoke(app, ["audit", "export", "--db", str(log.db), "--party", party])
    assert result.exit_code == 0, result.output
    path = tmp_path / name
    path.write_bytes(result.stdout_bytes)
    return path


def test_cli_export_then_verify(log: Log, tmp_path: Path) -> None:
    path = _export(log, tmp_path)
    assert orjson.loads(path.read_bytes())["party_id"] == log.parties["Red"]
    result = runner.invoke(app, ["audit", "verify", str(path), "--key", log.key_hex])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok: 30 entries") and "warning" not in result.stderr
    (tmp_path / "hub.key").write_text(orjson.dumps({"algorithm": "Ed25519", "public_key": log.key_hex}).decode())
    assert runner.invoke(app, ["audit", "verify", str(path), "--key", str(tmp_path / "hub.key")]).exit_code == 0


def test_cli_verify_without_a_key_warns(log: Log, tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "verify", str(_export(log, tmp_path))])
    assert result.exit_code == 0
    assert "warning: no --key" in result.stderr and "the bundle itself claims" in result.stderr


def test_cli_verify_names_the_first_bad_index(log: Log, tmp_path: Path) -> None:
    path = _export(log, tmp_path)
    bundle = orjson.loads(path.read_bytes())
    del bundle["entries"][7]
    path.write_bytes(orjson.dumps(bundle))
    result = runner.invoke(app, ["audit", "verify", str(path), "--key", log.key_hex])
    assert result.exit_code == 1
    assert "first bad index: 7 — entry 7 is missing" in result.stderr
    path.write_text("not json")
    result = runner.invoke(app, ["audit", "verify", str(path), "--key", log.key_hex])
    assert result.exit_code == 2 and "cannot read bundle" in result.stderr


def test_cli_verify_with_known_heads_finds_a_rewrite(log: Log, tmp_path: Path) -> None:
    kept = tmp_path / "heads.jsonl"
    kept.write_bytes(b"\n".join(orjson.dumps(h) for h in log.bundle()["heads"][:4]))
    log.sql("UPDATE audit_entries SET leaf_hash = :h WHERE idx = 8", h=b"\7" * 32)  # an entry nobody reads
    log.sql("DELETE FROM audit_heads")
    sign_heads(log.store, HEAD_SIZES, start=100)
    path = _export(log, tmp_path)
    assert runner.invoke(app, ["audit", "verify", str(path), "--key", log.key_hex]).exit_code == 0
    result = runner.invoke(app, ["audit", "verify", str(path), "--key", log.key_hex, "--known-heads", str(kept)])
    assert result.exit_code == 1 and "first bad index: 4 — fork" in result.stderr, result.stderr


def test_cli_export_says_what_to_fix(log: Log, tmp_path: Path) -> None:
    result = runner.invoke(app, ["audit", "export", "--db", str(log.db), "--party", "Nobody"])
    assert result.exit_code == 2 and "No party with id or name 'Nobody'" in result.stderr
    result = runner.invoke(app, ["audit", "export", "--db", str(tmp_path / "none.db"), "--party", "Blue"])
    assert result.exit_code == 2 and "no database" in result.stderr
    assert not (tmp_path / "none.db").exists()


def test_cli_compare_heads(log: Log, tmp_path: Path) -> None:
    heads = log.bundle()["heads"]
    files = []
    for k in (1, 2, 5):
        files.append(tmp_path / f"head{k}.json")
        files[-1].write_bytes(orjson.dumps(heads[k]))
    same = runner.invoke(app, ["audit", "compare", str(files[0]), str(files[1]), "--key", log.key_hex])
    assert same.exit_code == 0 and same.stdout.startswith("consistent"), same.output
    need = runner.invoke(app, ["audit", "compare", str(files[0]), str(files[2]), "--key", log.key_hex])
    assert need.exit_code == 2 and "need a consistency proof from 9 to 30" in need.stderr
    proof = tmp_path / "proof.json"
    with log.store.read() as uow:
        tree = MerkleLog.from_leaf_hashes(uow.audit_leaves(0, 30))
    proof.write_bytes(orjson.dumps({"from": 9, "to": 30, "proof": [p.hex() for p in tree.consistency_proof(9, 30)]}))
    args = ["audit", "compare", str(files[0]), str(files[2]), "--key", log.key_hex, "--proof", str(proof)]
    assert runner.invoke(app, args).exit_code == 0

    # The hub shows another party a different log of size 9, signed with the same key: a fork.
    log.sql("UPDATE audit_entries SET leaf_hash = :h WHERE idx = 2", h=b"\3" * 32)
    log.sql("DELETE FROM audit_heads")
    sign_heads(log.store, (9, 30), start=100)
    other = tmp_path / "other.json"
    other.write_bytes(orjson.dumps(log.bundle()["heads"][0]))
    fork = runner.invoke(app, ["audit", "compare", str(files[0]), str(other), "--key", log.key_hex])
    assert fork.exit_code == 1 and "fork" in fork.stderr
    with log.store.read() as uow:
        tree = MerkleLog.from_leaf_hashes(uow.audit_leaves(0, 30))
    proof.write_bytes(orjson.dumps({"from": 9, "to": 30, "proof": [p.hex() for p in tree.consistency_proof(9, 30)]}))
    forked_30 = tmp_path / "forked30.json"
    forked_30.write_bytes(orjson.dumps(log.bundle()["heads"][-1]))
    args = ["audit", "compare", str(files[0]), str(forked_30), "--key", log.key_hex, "--proof", str(proof)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "fork" in result.stderr
