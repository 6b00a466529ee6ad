"""Receipts signed in batches: one Ed25519 signature per batch, each receipt with its path to the batch's root."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.bundle import BundleError, receipt_from_json
from deconfliction.core.merkle import leaf_hash
from deconfliction.core.record import LogEntry, Receipt, canonical_json, sign_receipts, verify_receipt
from deconfliction.service.record import ReceiptBatch

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = KEY.public_key()


def receipts(n: int, first: int = 40) -> list[Receipt]:
    return [Receipt(first + i, hashlib.sha256(b"%d" % i).digest(), 1_790_000_000_000 + i) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_every_receipt_of_a_batch_verifies_and_no_altered_one_does(n: int, data: st.DataObject) -> None:
    signed = sign_receipts(KEY, receipts(n))
    assert len({s.signature for s in signed}) == 1  # one signature for the whole batch
    assert all(verify_receipt(PUBLIC, s) for s in signed)
    i = data.draw(st.integers(0, n - 1))
    s = signed[i]
    r = s.receipt
    altered = [
        dataclasses.replace(s, receipt=Receipt(r.index + 1, r.leaf_hash, r.at_ms)),
        dataclasses.replace(s, receipt=Receipt(r.index, bytes(32), r.at_ms)),
        dataclasses.replace(s, receipt=Receipt(r.index, r.leaf_hash, r.at_ms - 1)),
        dataclasses.replace(s, batch_size=n + 1),
        dataclasses.replace(s, position=(i + 1) % (n + 1)),
        dataclasses.replace(s, signature=bytes(64)),
    ]
    if s.path:
        altered.append(dataclasses.replace(s, path=s.path[:-1]))
        altered.append(dataclasses.replace(s, path=(bytes(32), *s.path[1:])))
    assert not any(verify_receipt(PUBLIC, a) for a in altered)


@given(index=st.integers(0, 2**63 - 1), leaf=st.binary(min_size=32, max_size=32), at_ms=st.integers(0, 2**63 - 1))
def test_a_receipts_leaf_hashes_the_canonical_json_of_its_fields(index: int, leaf: bytes, at_ms: int) -> None:
    fields = {"at_ms": at_ms, "index": index, "leaf_hash": leaf.hex()}
    assert Receipt(index, leaf, at_ms).leaf() == leaf_hash(canonical_json(fields))


def test_a_batch_of_one_is_signed_over_its_own_leaf() -> None:
    (s,) = sign_receipts(KEY, receipts(1))
    assert s.batch_size == 1 and s.path == () and verify_receipt(PUBLIC, s)


def test_a_receipt_signed_by_another_key_does_not_verify() -> None:
    (s,) = sign_receipts(Ed25519PrivateKey.generate(), receipts(1))
    assert not verify_receipt(PUBLIC, s)


def test_a_receipt_moved_into_another_batch_does_not_verify() -> None:
    a, b = sign_receipts(KEY, receipts(4)), sign_receipts(KEY, receipts(4, first=400))
    assert not verify_receipt(PUBLIC, dataclasses.replace(a[1], signature=b[1].signature))


def test_a_transactions_receipts_are_completed_in_place_and_read_back() -> None:
    batch = ReceiptBatch()
    entries = receipts(5)
    shown = [batch.add(_entry(r)) for r in entries]
    assert all("signature" not in out for out in shown)  # nothing signed before the batch ends
    batch.sign(KEY)
    parsed = [receipt_from_json(out) for out in shown]
    assert [p.receipt for p in parsed] == entries
    assert all(verify_receipt(PUBLIC, p) for p in parsed)
    assert shown[2]["at"] == "2026-09-21T14:13:20.002000Z" and shown[2]["batch"]["position"] == 2


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"batch": None}, "batch"),
        ({"index": -1}, "receipt.index"),
        ({"leaf_hash": "zz"}, "receipt.leaf_hash"),
        ({"at": "2020-01-01T00:00:00Z"}, "does not say the signed at_ms"),
        ({"signature": "00"}, "receipt.signature"),
        ({"batch": {"size": 2, "position": 0, "path": ["ab"]}}, "receipt.batch.path[0]"),
        ({"batch": {"size": 2, "position": 0, "path": "ab"}}, "list of hashes"),
    ],
)
def test_a_malformed_receipt_is_refused_with_what_is_wrong(change: dict[str, object], words: str) -> None:
    batch = ReceiptBatch()
    out = batch.add(_entry(receipts(1)[0]))
    batch.sign(KEY)
    with pytest.raises(BundleError, match=words.replace("[", r"\[").replace("]", r"\]")):
        receipt_from_json({**out, **change})


def _entry(r: Receipt) -> LogEntry:
    return LogEntry(r.index, r.at_ms, "conflict.opened", "cf_1", None, b"{}", r.leaf_hash)
