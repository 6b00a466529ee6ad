"""The record through the API: every change has its entry, each party reads only its own, heads and proofs verify,
notices carry receipts, acknowledgements may be signed."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import timedelta
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.core import merkle
from deconfliction.core.bundle import receipt_from_json
from deconfliction.core.errors import NotFound
from deconfliction.core.record import (
    Acknowledgement,
    Receipt,
    TreeHead,
    canonical_json,
    key_to_hex,
    public_key_from_hex,
    sign_ack,
    to_ms,
    verify_entry_document,
    verify_head,
    verify_receipt,
)
from deconfliction.service import escalation
from deconfliction.service.timeline import timeline
from tests.api.conftest import Caller, World
from tests.api.test_line import endpoint, events
from tests.conftest import box, iso, volume


def declare(caller: Caller, lon: float, start: Any, **extra: Any) -> dict[str, Any]:
    r = caller.post("/v1/operations", json={"volumes": [volume(box(lon, 50.0), start)], **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def all_entries(caller: Caller) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = caller.get("/v1/audit/entries", params={"after": after, "limit": 3}).json()
        out.extend(page["entries"])
        after = page["next_after"]
    return out


def documents(caller: Caller) -> list[dict[str, Any]]:
    return [orjson.loads(e["document"]) for e in all_entries(caller) if "document" in e]


def head(caller: Caller) -> dict[str, Any]:
    r = caller.get("/v1/audit/head")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_every_change_is_logged_and_each_party_reads_only_its_share(world: World) -> None:
    blue, red, green = world.party("Blue"), world.party("Red"), world.party("Green")
    start = world.clock.now + timedelta(hours=1)
    op_blue = declare(blue, 30.0, start, description="strike", callsign="VIPER 1")["operation"]
    made = declare(red, 30.02, start)
    conflict = made["conflicts"][0]
    assert blue.post(f"/v1/conflicts/{conflict['id']}/acknowledge", json={"note": "seen"}).status_code == 200
    declare(green, 40.0, start)
    assert blue.post(f"/v1/operations/{op_blue['id']}/cancel").status_code == 200

    kinds = {
        name: [(d["kind"], d["subject"]) for d in documents(who)]
        for name, who in (("blue", blue), ("red", red), ("green", green))
    }
    assert kinds["blue"] == [
        ("party.created", blue.id),
        ("operation.declared", op_blue["id"]),
        ("conflict.opened", conflict["id"]),
        ("notice.acknowledged", conflict["id"]),
        ("conflict.acknowledged", conflict["id"]),
        ("operation.cancelled", op_blue["id"]),
        ("conflict.resolved", conflict["id"]),
    ]
    red_kinds = [k for k, _ in kinds["red"]]
    assert red_kinds == [
        "party.created",
        "operation.declared",
        "conflict.opened",
        "notice.acknowledged",
        "conflict.acknowledged",
        "conflict.resolved",
    ]
    assert kinds["green"] == [("party.created", green.id), ("operation.declared", kinds["green"][1][1])]
    # Red never reads Blue's mission details, in any document it is shown.
    red_text = b"".join(e["document"].encode() for e in all_entries(red) if "document" in e)
    assert b"VIPER 1" not in red_text and b"strike" not in red_text and op_blue["id"].encode() not in red_text
    # Everyone sees the same leaves: one per change, in order, and nothing more about the others.
    leaves = [[e["leaf_hash"] for e in all_entries(who)] for who in (blue, red, green)]
    assert leaves[0] == leaves[1] == leaves[2] and len(leaves[0]) == head(blue)["size"] == 11
    assert [e["index"] for e in all_entries(green)] == list(range(11))
    # A disclosed document is exactly what its leaf commits to, index and all.
    for e in all_entries(blue):
        if "document" in e:
            assert verify_entry_document(e["document"].encode(), bytes.fromhex(e["leaf_hash"]))
            assert orjson.loads(e["document"])["index"] == e["index"]


def test_heads_are_signed_and_proofs_verify_against_them(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    declare(blue, 30.0, start)
    first = head(blue)
    declare(red, 30.02, start)
    declare(red, 31.0, start)
    second = head(red)
    key = public_key_from_hex(blue.get("/v1/audit/key").json()["public_key"])
    for h in (first, second):
        tree_head = TreeHead(h["size"], bytes.fromhex(h["root_hash"]), h["timestamp_ms"])
        assert verify_head(key, tree_head, bytes.fromhex(h["signature"]))
    assert second["size"] > first["size"] and second["timestamp_ms"] >= first["timestamp_ms"]
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in all_entries(blue)]
    assert merkle.root(leaves).hex() == second["root_hash"]
    assert merkle.root(leaves[: first["size"]]).hex() == first["root_hash"]
    for index in range(second["size"]):
        p = blue.get("/v1/audit/proof/inclusion", params={"index": index, "size": second["size"]}).json()
        proof = [bytes.fromhex(h) for h in p["proof"]]
        assert merkle.verify_inclusion(index, second["size"], leaves[index], proof, bytes.fromhex(second["root_hash"]))
    c = red.get("/v1/audit/proof/consistency", params={"from": first["size"], "to": second["size"]}).json()
    assert merkle.verify_consistency(
        first["size"],
        second["size"],
        bytes.fromhex(first["root_hash"]),
        bytes.fromhex(second["root_hash"]),
        [bytes.fromhex(h) for h in c["proof"]],
    )


def test_every_served_head_is_signed_and_covers_the_writes_answered_though_one_a_second_is_stored(
    world: World,
) -> None:
    blue = world.party("Blue")
    key = public_key_from_hex(blue.get("/v1/audit/key").json()["public_key"])
    start = world.clock.now + timedelta(hours=1)

    def stored_sizes() -> list[int]:
        with sqlite3.connect(world.db) as db:
            return [size for (size,) in db.execute("SELECT size FROM audit_heads ORDER BY id")]

    declare(blue, 29.0, start)
    before = stored_sizes()  # the first batch's head was stored
    assert before[-1] == head(blue)["size"]
    for lon in (30.0, 31.0, 32.0):  # the clock stands still: each batch's head is signed after its commit
        declare(blue, lon, start)
        h = head(blue)
        assert h["size"] == len(all_entries(blue))
        tree_head = TreeHead(h["size"], bytes.fromhex(h["root_hash"]), h["timestamp_ms"])
        assert verify_head(key, tree_head, bytes.fromhex(h["signature"]))
    assert stored_sizes() == before  # served, not stored, within the second
    world.clock.advance(seconds=2)
    declare(blue, 33.0, start)
    assert stored_sizes()[-1] == head(blue)["size"] == len(all_entries(blue))


def test_a_head_made_after_the_next_batch_began_is_still_its_own_batchs_head(world: World) -> None:
    """A batch's head is made (root, signature) only when first asked for; by then the writer may already have
    appended the next batch's leaves to the tree. The head served is still the one of the committed batch."""
    blue = world.party("Blue")
    start = world.clock.now + timedelta(hours=1)
    declare(blue, 29.0, start)
    declare(blue, 30.0, start)  # within the second: its head is not stored, and nobody has asked for it yet
    with sqlite3.connect(world.db) as db:
        leaves = [bytes(h) for (h,) in db.execute("SELECT leaf_hash FROM audit_entries ORDER BY idx")]
    world.hub.audit.tree.append(bytes(32))  # what ``seal`` does for a batch that has not committed
    signed = world.hub.audit.latest()
    assert signed is not None
    assert signed.head.size == len(leaves) and signed.head.root_hash == merkle.root(leaves)
    key = public_key_from_hex(world.hub.audit.public_key_hex)
    assert verify_head(key, signed.head, signed.signature)


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/v1/audit/proof/inclusion", {"index": 1, "size": 1}, "index"),
        ("/v1/audit/proof/inclusion", {"index": 0, "size": 10_000}, "size"),
        ("/v1/audit/proof/consistency", {"from": 2, "to": 1}, "from"),
        ("/v1/audit/entries", {"after": 10_000}, "after"),
    ],
)
def test_proofs_outside_the_signed_log_say_what_to_fix(
    world: World, url: str, params: dict[str, int], field: str
) -> None:
    blue = world.party("Blue")
    declare(blue, 30.0, world.clock.now + timedelta(hours=1))
    r = blue.get(url, params=params)
    assert r.status_code == 400, r.text
    assert field in r.json()["error"]["message"]


def test_a_notice_carries_a_receipt_for_its_logged_entry(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    declare(blue, 30.0, start)
    conflict = declare(red, 30.02, start)["conflicts"][0]
    opened = [d for _, t, d in events(blue) if t == "conflict.opened"]
    receipt = opened[0]["receipt"]
    key = public_key_from_hex(blue.get("/v1/audit/key").json()["public_key"])
    signed = receipt_from_json(receipt)
    assert verify_receipt(key, signed)
    forged = Receipt(receipt["index"] + 1, signed.receipt.leaf_hash, signed.receipt.at_ms)
    assert not verify_receipt(key, dataclasses.replace(signed, receipt=forged))
    # red's event carries the same receipt: one entry, told to both sides
    assert [d for _, t, d in events(red) if t == "conflict.opened"][0]["receipt"] == receipt
    entry = all_entries(blue)[receipt["index"]]
    assert entry["leaf_hash"] == receipt["leaf_hash"]
    logged = orjson.loads(entry["document"])
    assert logged["subject"] == conflict["id"]
    # the entry shows the overlap both sides were told, as a GeoJSON object (it is embedded as canonical JSON)
    told = conflict["overlap"]["footprint"]
    assert logged["data"]["overlap"]["footprint"] == opened[0]["overlap"]["footprint"] == told
    assert logged["data"]["overlap"]["footprint"]["type"] == "Polygon"
    assert canonical_json(logged) == entry["document"].encode()
    # the inbox carries the same receipt, so a client that missed the event can still sign what it answers
    inbox = blue.get("/v1/notices").json()
    (owed,) = inbox["notices"]
    assert owed["id"] == conflict["id"] and owed["receipt"]["leaf_hash"] == receipt["leaf_hash"]
    assert inbox["last_event_id"] == events(blue)[-1][0]
    assert owed["receipt"]["index"] == receipt["index"]
    # a moved overlap is a new notice: the inbox then names the new entry
    red.put(
        f"/v1/operations/{conflict['your_object']['id']}",
        headers={"If-Match": "1"},
        json={"volumes": [volume(box(30.03, 50.0), start)]},
    )
    (owed,) = blue.get("/v1/notices").json()["notices"]
    changed = [d for _, t, d in events(blue) if t == "conflict.changed"]
    assert owed["receipt"]["leaf_hash"] == changed[-1]["receipt"]["leaf_hash"] != receipt["leaf_hash"]


def test_the_notices_of_one_write_share_one_signed_batch_and_each_verifies(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    declare(blue, 30.0, start)
    declare(blue, 30.01, start)
    declare(blue, 30.02, start)
    assert len(declare(red, 30.01, start)["conflicts"]) == 3
    key = public_key_from_hex(blue.get("/v1/audit/key").json()["public_key"])
    receipts = [receipt_from_json(d["receipt"]) for _, t, d in events(blue) if t == "conflict.opened"]
    assert len(receipts) == 3 and len({r.signature for r in receipts}) == 1
    assert sorted(r.position for r in receipts) == [0, 1, 2] and {r.batch_size for r in receipts} == {3}
    assert all(verify_receipt(key, r) for r in receipts)
    entries = all_entries(blue)
    assert all(entries[r.receipt.index]["leaf_hash"] == r.receipt.leaf_hash.hex() for r in receipts)
    # a receipt moved to another notice's place in the batch no longer verifies
    assert not verify_receipt(key, dataclasses.replace(receipts[0], position=receipts[1].position))


def test_deliveries_to_endpoints_are_logged_for_both_sides(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    unit = endpoint(world, red, "2nd Squadron")
    start = world.clock.now + timedelta(hours=1)
    declare(blue, 30.0, start)
    conflict = declare(red, 30.02, start)["conflicts"][0]
    assert any(t == "conflict.opened" for _, t, _ in events(unit))  # the unit's stream marks what it sent
    delivered = [d for d in documents(blue) if d["kind"] == "notice.delivered"]
    assert len(delivered) == 1
    data = delivered[0]["data"]
    assert data["notice_id"] == conflict["id"] and data["party_id"] == red.id
    assert data["endpoint_ref"] == red.get(f"/v1/endpoints/{unit.id}").json()["record_ref"]  # Red can tell its unit
    assert "2nd Squadron" not in orjson.dumps(delivered[0]).decode()
    opened = next(
        e for e in all_entries(blue) if "document" in e and orjson.loads(e["document"])["kind"] == "conflict.opened"
    )
    assert data["about_index"] == opened["index"] and data["about_leaf_hash"] == opened["leaf_hash"]
    assert [d["kind"] for d in documents(red)].count("notice.delivered") == 1


def _signed_ack(world: World, caller: Caller, key: Ed25519PrivateKey, conflict_id: str, **over: Any) -> Any:
    notice = next(d for _, t, d in events(caller) if t == "conflict.opened" and d["id"] == conflict_id)
    at = world.clock.now
    ack = Acknowledgement(
        party_id=caller.id,
        object_id=conflict_id,
        revision=notice["revision"],
        notice_leaf_hash=bytes.fromhex(notice["receipt"]["leaf_hash"]),
        acknowledged_at_ms=to_ms(at),
    )
    body = {"note": "understood", "signature": sign_ack(key, ack).hex(), "signed_at": iso(at), **over}
    return caller.post(f"/v1/conflicts/{conflict_id}/acknowledge", json=body)


def test_a_signed_acknowledgement_is_checked_and_kept_in_the_record(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    start = world.clock.now + timedelta(hours=1)
    declare(blue, 30.0, start)
    conflict_id = declare(red, 30.02, start)["conflicts"][0]["id"]
    key = Ed25519PrivateKey.generate()
    other = Ed25519PrivateKey.generate()
    r = blue.post(f"/v1/parties/{blue.id}/keys", json={"public_key": key_to_hex(key.public_key())})
    assert r.status_code == 201, r.text
    key_id = r.json()["key_id"]
    assert red.get(f"/v1/parties/{blue.id}/keys").json()["keys"][0]["public_key"] == key_to_hex(key.public_key())

    size = head(blue)["size"]
    bad = _signed_ack(world, blue, other, conflict_id)
    assert bad.status_code == 400 and "digest" in bad.json()["error"]["details"]
    assert head(blue)["size"] == size  # a refused acknowledgement changes nothing, the record included
    assert blue.get(f"/v1/conflicts/{conflict_id}").json()["status"] == "open"

    good = _signed_ack(world, blue, key, conflict_id)
    assert good.status_code == 200, good.text
    logged = [d for d in documents(red) if d["kind"] == "conflict.acknowledged"][-1]
    ack = logged["data"]["acknowledgements"][0]
    assert ack["key_id"] == key_id and ack["party_id"] == blue.id and len(ack["signature"]) == 128

    assert blue.post(f"/v1/parties/{blue.id}/keys/{key_id}/revoke").status_code == 200
    world.clock.advance(seconds=1)
    revoked = _signed_ack(world, blue, key, conflict_id)
    assert revoked.status_code == 400 and "no such active signing key" in revoked.json()["error"]["message"]
    assert _signed_ack(world, red, key, conflict_id).status_code == 400  # nor can Red use Blue's key


def test_bad_keys_and_skewed_signatures_say_what_to_fix(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    assert blue.post(f"/v1/parties/{blue.id}/keys", json={"public_key": "zz" * 32}).status_code == 400
    assert blue.post(f"/v1/parties/{red.id}/keys", json={"public_key": "ab" * 32}).status_code == 404
    start = world.clock.now + timedelta(hours=1)
    declare(blue, 30.0, start)
    conflict_id = declare(red, 30.02, start)["conflicts"][0]["id"]
    key = Ed25519PrivateKey.generate()
    blue.post(f"/v1/parties/{blue.id}/keys", json={"public_key": key_to_hex(key.public_key())})
    late = _signed_ack(world, blue, key, conflict_id, signed_at=iso(world.clock.now - timedelta(hours=1)))
    assert late.status_code == 400 and "signed_at" in late.json()["error"]["message"]
    unsigned_time = blue.post(f"/v1/conflicts/{conflict_id}/acknowledge", json={"signature": "ab" * 64})
    assert unsigned_time.status_code == 400 and "signed_at" in unsigned_time.json()["error"]["message"]


def test_the_timeline_of_an_operation_tells_who_knew_what_when(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    unit = endpoint(world, red, "2nd Squadron")
    start = world.clock.now + timedelta(hours=1)
    op = declare(blue, 30.0, start, priority=1)["operation"]
    world.clock.advance(seconds=5)
    conflict = declare(red, 30.02, start)["conflicts"][0]
    world.clock.advance(seconds=5)
    events(unit)  # delivered to Red's unit
    world.clock.advance(days=2)  # Red misses its deadline: resent
    world.hub.execute(lambda tx: escalation.escalate(world.hub, tx))
    unit.post(f"/v1/conflicts/{conflict['id']}/acknowledge", json={"note": "holding west"})
    with world.hub.store.read() as uow:
        steps = timeline(uow, op["id"])
    kinds = [s.kind for s in steps]
    assert kinds[:3] == ["operation.declared", "conflict.opened", "notice.delivered"]
    assert "notice.escalated" in kinds and kinds[-2:] == ["notice.acknowledged", "conflict.acknowledged"]
    assert [s.index for s in steps] == sorted(s.index for s in steps)
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    acked = steps[-2]
    assert acked.party == red.id and "holding west" in acked.detail and "endpoint unit_" in acked.detail
    with world.hub.store.read() as uow, pytest.raises(NotFound):
        timeline(uow, "op_nothing")


def test_a_message_acknowledgement_may_be_signed_too(world: World) -> None:
    blue, red = world.party("Blue"), world.party("Red")
    key = Ed25519PrivateKey.generate()
    red.post(f"/v1/parties/{red.id}/keys", json={"public_key": key_to_hex(key.public_key())})
    sent = blue.post("/v1/messages", json={"to": [red.id], "priority": "immediate", "body": "hold west of 30E"})
    assert sent.status_code == 201, sent.text
    message_id = sent.json()["id"]
    notice = next(d for _, t, d in events(red) if t == "message.received")
    at = world.clock.now
    ack = Acknowledgement(red.id, message_id, 1, bytes.fromhex(notice["receipt"]["leaf_hash"]), to_ms(at))
    wrong = Acknowledgement(red.id, message_id, 2, ack.notice_leaf_hash, to_ms(at))
    url = f"/v1/messages/{message_id}/acknowledge"
    bad = red.post(url, json={"signature": sign_ack(key, wrong).hex(), "signed_at": iso(at)})
    assert bad.status_code == 400 and bad.json()["error"]["details"]["digest"]
    good = red.post(url, json={"note": "holding", "signature": sign_ack(key, ack).hex(), "signed_at": iso(at)})
    assert good.status_code == 200, good.text
    logged = [d["data"] for d in documents(blue) if d["kind"] == "notice.acknowledged"]
    assert len(logged) == 1 and logged[0]["signature"] == sign_ack(key, ack).hex() and logged[0]["note"] == "holding"


def test_the_log_and_the_state_match_table_by_table(world: World) -> None:
    """No change without its entry and no entry without its change, over every kind of object the hub keeps."""
    blue, red = world.party("Blue", coalition="North"), world.party("Red")
    unit = endpoint(world, red, "Convoy 7")
    spare = endpoint(world, blue, "Spare")
    start = world.clock.now + timedelta(hours=1)
    op = declare(blue, 30.0, start)["operation"]
    conflict = declare(red, 30.02, start)["conflicts"][0]
    moved = blue.put(
        f"/v1/operations/{op['id']}", json={"volumes": [volume(box(30.01, 50.0), start)]}, headers={"If-Match": "1"}
    )
    assert moved.status_code == 200, moved.text
    events(unit)
    unit.post(f"/v1/conflicts/{conflict['id']}/acknowledge")
    site = blue.post("/v1/sites", json={"name": "Hospital", "category": "hospital", "footprint": box(31.0, 50.0)})
    assert site.status_code == 201, site.text
    assert blue.post(f"/v1/sites/{site.json()['site']['id']}/withdraw").status_code == 200
    channel = red.post("/v1/channels", json={"name": "Hotline", "members": [blue.id]}).json()
    blue.post(f"/v1/channels/{channel['id']}/accept")
    message = blue.post("/v1/messages", json={"channel": channel["id"], "body": "hold"}).json()
    unit.post(f"/v1/messages/{message['id']}/read")
    unit.post(f"/v1/messages/{message['id']}/acknowledge")
    test = red.post(f"/v1/parties/{red.id}/line/test")
    test_id = next(d for _, t, d in events(unit) if t == "line.test")["test_id"]
    assert test.status_code == 202 and unit.post(f"/v1/line-tests/{test_id}/answer").status_code == 200
    blue.post(f"/v1/parties/{blue.id}/keys", json={"public_key": key_to_hex(Ed25519PrivateKey.generate().public_key())})
    assert blue.client.delete(f"/v1/endpoints/{spare.id}", headers=blue.headers).status_code == 204
    blue.post(f"/v1/operations/{op['id']}/cancel")

    with sqlite3.connect(world.db) as db:
        logged: dict[str, list[str]] = {}
        for kind, subject in db.execute("SELECT kind, subject FROM audit_entries ORDER BY idx"):
            logged.setdefault(kind, []).append(subject)

        def ids(sql: str) -> list[str]:
            return sorted(r[0] for r in db.execute(sql))

        assert sorted(logged["party.created"]) == ids("SELECT id FROM parties")
        assert sorted(logged["coalition.created"]) == ids("SELECT id FROM coalitions")
        assert sorted(logged["endpoint.registered"]) == ids("SELECT id FROM endpoints")
        assert logged["endpoint.disabled"] == [spare.id]
        for op_id, version in db.execute("SELECT id, version FROM operations"):
            assert sum(s == op_id for k, v in logged.items() if k.startswith("operation.") for s in v) == version
        for site_id, version in db.execute("SELECT id, version FROM sites"):
            assert sum(s == site_id for k, v in logged.items() if k.startswith("site.") for s in v) == version
        for conflict_id, revision in db.execute("SELECT id, revision FROM conflicts"):
            assert logged["conflict.opened"].count(conflict_id) == 1
            assert logged.get("conflict.changed", []).count(conflict_id) == revision - 1
        acks = db.execute("SELECT count(*) FROM acknowledgements").fetchone()[0]
        assert len(logged["conflict.acknowledged"]) == acks == 1
        assert sorted(logged["message.sent"]) == ids("SELECT id FROM messages")
        delivered = ids("SELECT notice_id FROM deliveries WHERE delivered_at IS NOT NULL")
        assert sorted(logged["notice.delivered"]) == delivered and delivered
        assert sorted(logged["channel.created"]) == ids("SELECT id FROM channels")
        assert logged["channel.accepted"] == [channel["id"]]
        assert sorted(logged["line_test.sent"]) == ids("SELECT id FROM line_tests")
        assert logged["line_test.answered"] == [test_id]
        assert sorted(logged["party.key_registered"]) == ids("SELECT id FROM party_keys")
        assert logged["notice.read"] == [message["id"]]
        assert sorted(logged["notice.acknowledged"]) == sorted([conflict["id"], message["id"]])
        # Nothing else was logged: every kind above is accounted for.
        checked = {
            "party.created",
            "coalition.created",
            "endpoint.registered",
            "endpoint.disabled",
            "operation.declared",
            "operation.changed",
            "operation.cancelled",
            "site.notified",
            "site.withdrawn",
            "conflict.opened",
            "conflict.changed",
            "conflict.resolved",
            "conflict.acknowledged",
            "message.sent",
            "notice.delivered",
            "channel.created",
            "channel.accepted",
            "line_test.sent",
            "line_test.answered",
            "party.key_registered",
            "notice.read",
            "notice.acknowledged",
            "line.state",
        }
        assert set(logged) <= checked, set(logged) - checked
