"""The bundle verifier (core/bundle.py) on bundles built in memory: a good one verifies, and every way of changing
one is caught with the right first bad index. Bundles from a real store are checked in tests/api/test_audit_bundle.py.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.bundle import (
    BUNDLE_FORMAT,
    Report,
    Verdict,
    fork_between,
    head_from_json,
    verify_bundle,
)
from deconfliction.core.merkle import MerkleLog
from deconfliction.core.record import (
    SignedHead,
    TreeHead,
    document_leaf_hash,
    entry_document,
    entry_fields,
    key_to_hex,
    sign_head,
)
from deconfliction.service.record import head_json

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUB = key_to_hex(KEY.public_key())
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
SIZES = (10, 20, 20, 33, 40)  # a head per batch; two of size 20 (a quiet minute)
N = 40
T0 = 1_800_000_000_000


def documents(n: int = N, seed: int = 0, change: dict[int, dict[str, Any]] | None = None) -> list[bytes]:
    rnd = random.Random(seed)
    data = {i: {"n": i, "secret": f"s{i}"} for i in range(n)} | (change or {})
    return [
        entry_document(entry_fields(i, T0 + i, "op.declared", f"op_{i}", data[i]), rnd.randbytes(32)) for i in range(n)
    ]


def signed_heads(leaves: list[bytes], sizes: Sequence[int], key: Ed25519PrivateKey = KEY) -> list[dict[str, Any]]:
    tree = MerkleLog.from_leaf_hashes(leaves)
    out = []
    for k, size in enumerate(sizes):
        head = TreeHead(size, tree.root(size), T0 + 1000 * k)
        out.append(head_json(SignedHead(head, sign_head(key, head))))
    return out


def build(
    docs: list[bytes] | None = None,
    sizes: Sequence[int] = SIZES,
    shown: Callable[[int], bool] = lambda i: i % 3 == 0,
    key: Ed25519PrivateKey = KEY,
) -> dict[str, Any]:
    """A bundle as the hub exports it: entries 0..N-1, every third document shown, heads and proofs."""
    docs = docs if docs is not None else documents()
    leaves = [document_leaf_hash(d) for d in docs]
    entries: list[dict[str, Any]] = []
    for i, (doc, leaf) in enumerate(zip(docs, leaves, strict=True)):
        entry: dict[str, Any] = {"index": i, "at_ms": T0 + i, "leaf_hash": leaf.hex()}
        if shown(i):
            entry["document"] = doc.decode()
        entries.append(entry)
    tree = MerkleLog.from_leaf_hashes(leaves)
    proofs = [
        {"from": a, "to": b, "proof": [p.hex() for p in tree.consistency_proof(a, b)]}
        for a, b in zip(sizes, sizes[1:], strict=False)
        if a <= b
    ]
    return {
        "format": BUNDLE_FORMAT,
        "party_id": "pty_a",
        "hub_key": key_to_hex(key.public_key()),
        "exported_at": "2027-01-15T08:00:00Z",
        "size": sizes[-1],
        "entries": entries,
        "heads": signed_heads(leaves, sizes, key),
        "consistency": proofs,
    }


def copy(bundle: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(orjson.dumps(bundle))
    return result


def bad(report: Report, index: int | None, *words: str, exact: bool = True) -> None:
    assert not report.ok, report
    assert report.first_bad_index == index, report
    assert report.exact is exact, report
    for word in words:
        assert word in report.message, report


GOOD = build()


# --- a good bundle ---------------------------------------------------------------------------------------------


def test_a_good_bundle_verifies() -> None:
    report = verify_bundle(GOOD, PUB)
    assert report.ok, report
    assert report.first_bad_index is None
    assert "40 entries (14 documents checked), 5 signed heads" in report.message


def test_a_bundle_survives_a_json_round_trip_and_upper_case_key() -> None:
    assert verify_bundle(copy(GOOD), PUB.upper()).ok


def test_an_empty_bundle_is_good_and_says_so() -> None:
    empty = {**GOOD, "size": 0, "entries": [], "heads": [], "consistency": []}
    assert verify_bundle(empty, PUB).ok


def test_the_bundles_own_key_claim_is_noted_when_it_differs() -> None:
    report = verify_bundle({**GOOD, "hub_key": key_to_hex(OTHER.public_key())}, PUB)
    assert report.ok and "note: the bundle names hub key" in report.message


# --- entries ---------------------------------------------------------------------------------------------------


def test_a_changed_visible_document_is_named() -> None:
    b = copy(GOOD)
    b["entries"][12]["document"] = b["entries"][12]["document"].replace('"secret":"s12"', '"secret":"s99"')
    bad(verify_bundle(b, PUB), 12, "does not hash to its leaf")


def test_a_document_moved_to_another_position_is_named() -> None:
    # Entry 3's document and leaf copied over entry 6: it hashes to its (copied) leaf, but says it is entry 3.
    b = copy(GOOD)
    b["entries"][6] = {**b["entries"][3], "index": 6}
    bad(verify_bundle(b, PUB), 6, "says it is entry 3")


def test_a_public_time_that_differs_from_the_document_is_named() -> None:
    b = copy(GOOD)
    b["entries"][9]["at_ms"] += 1
    bad(verify_bundle(b, PUB), 9, "at_ms")


def test_a_document_and_leaf_both_rewritten_are_caught_by_the_root_as_a_range() -> None:
    # The forger recomputes the leaf of its new document: the document checks out, the signed root does not.
    forged = documents(change={15: {"n": 15, "secret": "forged"}})
    b = copy(GOOD)
    b["entries"][15] = {"index": 15, "at_ms": T0 + 15, "leaf_hash": document_leaf_hash(forged[15]).hex(),
                        "document": forged[15].decode()}  # fmt: skip
    bad(verify_bundle(b, PUB), 10, "between 10 and 19", "range", exact=False)


def test_a_changed_hidden_leaf_is_pinned_to_the_range_between_two_heads() -> None:
    b = copy(GOOD)
    assert "document" not in b["entries"][25]
    b["entries"][25]["leaf_hash"] = "ab" * 32
    bad(verify_bundle(b, PUB), 20, "between 20 and 32", exact=False)


def test_a_deleted_entry_is_named() -> None:
    b = copy(GOOD)
    del b["entries"][5]
    bad(verify_bundle(b, PUB), 5, "entry 5 is missing")


def test_an_inserted_copy_is_named() -> None:
    b = copy(GOOD)
    b["entries"].insert(5, b["entries"][7])
    bad(verify_bundle(b, PUB), 5)


def test_an_inserted_entry_with_a_plausible_index_is_named() -> None:
    b = copy(GOOD)
    b["entries"].insert(5, {"index": 5, "at_ms": T0 + 5, "leaf_hash": "cd" * 32})
    bad(verify_bundle(b, PUB), 5, "appears again")


def test_two_reordered_entries_are_named() -> None:
    b = copy(GOOD)
    e = b["entries"]
    e[3], e[7] = e[7], e[3]
    bad(verify_bundle(b, PUB), 3)


def test_reordered_entries_renumbered_are_caught_by_documents_or_roots() -> None:
    b = copy(GOOD)
    e = b["entries"]
    e[3], e[6] = {**e[6], "index": 3}, {**e[3], "index": 6}
    bad(verify_bundle(b, PUB), 3, "says it is entry 6")


def test_exact_evidence_leads_and_the_range_it_falls_in_is_listed() -> None:
    # Hidden entry 7 renumbered into position 3 and shown entry 3 into position 7: the document at 7 is proof;
    # the root over 0..9 only says "somewhere in there", so it comes second.
    b = copy(GOOD)
    e = b["entries"]
    e[3], e[7] = {**e[7], "index": 3}, {**e[3], "index": 7}
    report = verify_bundle(b, PUB)
    bad(report, 7, "says it is entry 3")
    assert any("between 0 and 9" in p for p in report.problems)


def test_a_truncated_bundle_is_named() -> None:
    b = copy(GOOD)
    del b["entries"][37:]
    bad(verify_bundle(b, PUB), 37, "truncated")


def test_entries_no_head_covers_are_named() -> None:
    b = copy(GOOD)
    b["entries"].append({"index": 40, "at_ms": T0 + 40, "leaf_hash": "ef" * 32})
    bad(verify_bundle(b, PUB), 40, "not covered")


# --- heads and proofs ------------------------------------------------------------------------------------------


def test_an_altered_head_root_fails_its_signature() -> None:
    b = copy(GOOD)
    b["heads"][3]["root_hash"] = "00" * 32
    bad(verify_bundle(b, PUB), 20, "head #3 (size 33): bad signature", exact=False)


def test_a_head_resigned_with_another_key_is_named() -> None:
    b = copy(GOOD)
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in b["entries"]]
    b["heads"][3] = signed_heads(leaves, SIZES, OTHER)[3]
    bad(verify_bundle(b, PUB), 20, "head #3 (size 33): bad signature", exact=False)


def test_a_bundle_signed_by_another_key_fails_with_the_real_key() -> None:
    b = build(key=OTHER)
    assert verify_bundle(b, key_to_hex(OTHER.public_key())).ok
    report = verify_bundle(b, PUB)
    bad(report, 0, "head #0 (size 10): bad signature", "note: the bundle names hub key", exact=False)


def test_head_sizes_going_backwards_are_named() -> None:
    b = build(sizes=(10, 30, 20, 40))
    report = verify_bundle(b, PUB)
    bad(report, 20, "head #2 (size 20) is smaller than head #1 (30)", exact=False)


def test_head_timestamps_going_backwards_are_named() -> None:
    b = copy(GOOD)
    leaves = [bytes.fromhex(e["leaf_hash"]) for e in b["entries"]]
    tree = MerkleLog.from_leaf_hashes(leaves)
    head = TreeHead(33, tree.root(33), T0 - 5)
    b["heads"][3] = head_json(SignedHead(head, sign_head(KEY, head)))
    bad(verify_bundle(b, PUB), 20, "timestamp goes back", exact=False)


def test_a_readable_timestamp_that_lies_is_refused() -> None:
    b = copy(GOOD)
    b["heads"][1]["timestamp"] = "2030-01-01T00:00:00Z"
    report = verify_bundle(b, PUB)
    assert not report.ok and "does not say the signed timestamp_ms" in report.message


def test_a_dropped_consistency_proof_is_named() -> None:
    b = copy(GOOD)
    b["consistency"] = [p for p in b["consistency"] if p["from"] != 20 or p["to"] != 33]
    bad(verify_bundle(b, PUB), 20, "no consistency proof from size 20 to 33", exact=False)


def test_a_corrupt_consistency_proof_is_named() -> None:
    b = copy(GOOD)
    proof = next(p for p in b["consistency"] if p["to"] == 33)
    proof["proof"][0] = "11" * 32
    bad(verify_bundle(b, PUB), 20, "consistency proof from size 20 to 33 fails", exact=False)


def test_the_last_head_must_cover_what_the_bundle_says() -> None:
    b = copy(GOOD)
    b["size"] = 41
    bad(verify_bundle(b, PUB), 40, "says size 41")


# --- known heads: the party's own memory -----------------------------------------------------------------------


def test_known_heads_from_the_same_log_agree() -> None:
    assert verify_bundle(GOOD, PUB, [GOOD["heads"][0], GOOD["heads"][3]]).ok


def test_a_log_rewritten_and_resigned_is_a_fork_against_a_known_head() -> None:
    saved = GOOD["heads"][:2]  # what the party fetched from GET /v1/audit/head at sizes 10 and 20
    rewritten = build(documents(change={15: {"n": 15, "secret": "rewritten"}}))
    assert verify_bundle(rewritten, PUB).ok  # the rewrite is consistent in itself
    report = verify_bundle(rewritten, PUB, saved)
    bad(report, 10, "fork", "known head #1 (size 20", "rewritten", exact=False)
    assert report.fork


def test_a_known_head_past_the_bundle_means_truncation() -> None:
    short = build(sizes=(10, 20))
    short["entries"] = short["entries"][:20]
    report = verify_bundle(short, PUB, [GOOD["heads"][-1]])
    bad(report, 20, "beyond the bundle's 20 entries", exact=False)


def test_a_known_head_not_signed_by_the_key_proves_nothing() -> None:
    other = build(key=OTHER)["heads"][0]
    report = verify_bundle(GOOD, PUB, [other])
    assert not report.ok and report.first_bad_index is None and "proves nothing" in report.message


# --- malformed input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"format": "something-else/2"}, "not a deconfliction-audit-bundle/1"),
        ({"entries": {}}, "entries must be a list"),
        ({"heads": None}, "heads must be a list"),
        ({"consistency": [{"from": 1}]}, "consistency[0]"),
    ],
)
def test_malformed_bundles_are_refused_with_a_message(change: dict[str, Any], words: str) -> None:
    report = verify_bundle({**GOOD, **change}, PUB)
    assert not report.ok and words in report.message


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"index": 4, "at_ms": 1}, "has no 'leaf_hash'"),
        ({"index": "4", "at_ms": T0, "leaf_hash": "00" * 32}, "not an integer"),
        ({"index": 4, "at_ms": 1.5, "leaf_hash": "00" * 32}, "not an integer"),
        ({"index": 4, "at_ms": T0, "leaf_hash": "zz" * 32}, "64 hex digits"),
        ({"index": 4, "at_ms": T0, "leaf_hash": "00" * 31}, "64 hex digits"),
    ],
)
def test_a_malformed_entry_is_named(entry: dict[str, Any], words: str) -> None:
    b = copy(GOOD)
    b["entries"][4] = entry
    report = verify_bundle(b, PUB)
    assert not report.ok and report.first_bad_index == 4 and words in report.message, report


def test_a_bad_key_is_refused() -> None:
    report = verify_bundle(GOOD, "xyz")
    assert not report.ok and "hex digits" in report.message


# --- any one change, anywhere ----------------------------------------------------------------------------------

TAMPERS = ("leaf", "delete", "swap", "document", "duplicate")


@settings(max_examples=150, deadline=None)
@given(position=st.integers(0, N - 2), how=st.sampled_from(TAMPERS))
def test_any_single_change_is_caught_at_or_before_its_position(position: int, how: str) -> None:
    b = copy(GOOD)
    e = b["entries"]
    if how == "leaf":
        e[position]["leaf_hash"] = "%064x" % (int(e[position]["leaf_hash"], 16) ^ 1)
    elif how == "delete":
        del e[position]
    elif how == "swap":
        e[position], e[position + 1] = e[position + 1], e[position]
    elif how == "document":
        e[position]["document"] = orjson.dumps({"salt": "00" * 32, "index": position}).decode()
    else:
        e.insert(position, dict(e[position]))
    report = verify_bundle(b, PUB)
    assert not report.ok
    if how == "leaf" and "document" not in e[position]:
        # Only the signed roots pin a hidden leaf: the range starts at the last head below it.
        assert report.first_bad_index == max((s for s in SIZES if s <= position), default=0)
        assert not report.exact
    else:
        assert report.first_bad_index == position, (how, report)
        assert report.exact


# --- split views -----------------------------------------------------------------------------------------------


def _proof(bundle: dict[str, Any], s1: int, s2: int) -> dict[str, Any]:
    tree = MerkleLog.from_leaf_hashes([bytes.fromhex(e["leaf_hash"]) for e in bundle["entries"]])
    return {"from": s1, "to": s2, "proof": [p.hex() for p in tree.consistency_proof(s1, s2)]}


FORKED = build(documents(change={5: {"n": 5, "secret": "the other story"}}))


def test_the_same_head_twice_is_consistent() -> None:
    assert fork_between(GOOD["heads"][1], GOOD["heads"][2], None, PUB).verdict is Verdict.CONSISTENT


def test_two_signed_heads_of_one_size_with_different_roots_are_a_fork() -> None:
    found = fork_between(GOOD["heads"][1], FORKED["heads"][1], None, PUB)
    assert found.verdict is Verdict.FORK and "fork" in found.message


def test_heads_of_different_sizes_need_a_proof() -> None:
    found = fork_between(GOOD["heads"][0], GOOD["heads"][4], None, PUB)
    assert found.verdict is Verdict.UNDECIDED and "need a consistency proof from 10 to 40" in found.message


def test_a_valid_proof_shows_the_heads_consistent_in_either_order() -> None:
    proof = _proof(GOOD, 10, 40)
    assert fork_between(GOOD["heads"][0], GOOD["heads"][4], proof, PUB).verdict is Verdict.CONSISTENT
    assert fork_between(GOOD["heads"][4], GOOD["heads"][0], proof, PUB).verdict is Verdict.CONSISTENT


def test_a_proof_that_fails_between_two_signed_heads_is_a_fork() -> None:
    # Party A was shown the honest log at size 10; party B the forked one at size 40: no proof can join them.
    for proof in (_proof(GOOD, 10, 40), _proof(FORKED, 10, 40)):
        found = fork_between(FORKED["heads"][0], GOOD["heads"][4], proof, PUB)
        assert found.verdict is Verdict.FORK, found


def test_a_proof_for_other_sizes_or_an_unsigned_head_decides_nothing() -> None:
    wrong = fork_between(GOOD["heads"][0], GOOD["heads"][4], _proof(GOOD, 20, 40), PUB)
    assert wrong.verdict is Verdict.UNDECIDED and "not from 10 to 40" in wrong.message
    forged = {**GOOD["heads"][1], "root_hash": "00" * 32}
    unsigned = fork_between(GOOD["heads"][1], forged, None, PUB)
    assert unsigned.verdict is Verdict.UNDECIDED and "head B is not signed" in unsigned.message
    garbage = fork_between({"size": 1}, GOOD["heads"][1], None, PUB)
    assert garbage.verdict is Verdict.UNDECIDED and "head A.timestamp_ms" in garbage.message


def test_a_head_may_come_wrapped() -> None:
    assert head_from_json({"head": GOOD["heads"][0]}) == head_from_json(GOOD["heads"][0])
