"""The Merkle log and its records: RFC 9162 roots and proofs, entry commitments, signed heads and acks.

Every root and proof is checked against a naive reference written straight from RFC 9162 §2.1 (the recursive
MTH, PATH and SUBPROOF definitions, with its own SHA-256 calls), and against the known answers the
transparency-dev/merkle library (ex-Trillian, ex-certificate-transparency) tests with: ``testonly/constants.go``
and ``proof/verify_test.go``. Every verifier is also fed forgeries, which must all fail.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from hashlib import sha256
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from deconfliction.core.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_proof,
    every_inclusion_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from deconfliction.core.record import (
    ACK_STATEMENT,
    Acknowledgement,
    TreeHead,
    Verbatim,
    ack_digest,
    ack_message,
    canonical_json,
    entry_commitment,
    entry_document,
    entry_fields,
    entry_leaf_hash,
    key_to_hex,
    private_key_from_hex,
    public_key_from_hex,
    sign_ack,
    sign_head,
    verify_ack,
    verify_entry_document,
    verify_head,
)

# --- The naive reference: RFC 9162 §2.1, word for word ------------------------------------------------------------


def ref_leaf(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    """MTH over leaf hashes (the leaf step ``MTH({d}) = SHA-256(0x00 || d)`` already applied)."""
    n = len(hashes)
    if n == 0:
        return sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = ref_k(n)
    return sha256(b"\x01" + ref_mth(hashes[:k]) + ref_mth(hashes[k:])).digest()


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return ref_path(m, hashes[:k]) + [ref_mth(hashes[k:])]
    return ref_path(m - k, hashes[k:]) + [ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if whole else [ref_mth(hashes)]
    k = ref_k(n)
    if m <= k:
        return ref_subproof(m, hashes[:k], whole) + [ref_mth(hashes[k:])]
    return ref_subproof(m - k, hashes[k:], False) + [ref_mth(hashes[:k])]


def ref_proof(m: int, hashes: list[bytes]) -> list[bytes]:
    return ref_subproof(m, hashes, True)


def ref_path_len(m: int, n: int) -> int:
    """len(PATH(m, D[n])), from the sizes alone."""
    if n == 1:
        return 0
    k = ref_k(n)
    return 1 + (ref_path_len(m, k) if m < k else ref_path_len(m - k, n - k))


def ref_proof_len(m: int, n: int, whole: bool = True) -> int:
    """len(PROOF(m, D[n])), from the sizes alone (0 for the trivial m == 0 and m == n)."""
    if m == 0 or m == n:
        return 0 if whole or m == 0 else 1
    k = ref_k(n)
    return 1 + (ref_proof_len(m, k, whole) if m <= k else ref_proof_len(m - k, n - k, False))


def make_leaves(n: int, tag: bytes = b"") -> list[bytes]:
    return [ref_leaf(tag + i.to_bytes(4, "big")) for i in range(n)]


@st.composite
def leaf_lists(draw: st.DrawFn, min_size: int = 0, max_size: int = 300) -> list[bytes]:
    return make_leaves(draw(st.integers(min_size, max_size)), draw(st.binary(min_size=1, max_size=4)))


def flip(value: bytes, bit: int = 0) -> bytes:
    out = bytearray(value)
    out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


OTHER = sha256(b"some other hash").digest()

# --- Known answers (transparency-dev/merkle) ---------------------------------------------------------------------

KAT_INPUTS = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                         "606162636465666768696a6b6c6d6e6f")]  # fmt: skip
KAT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
KAT_LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# (0-based leaf index, tree size, audit path); the library numbers leaves from 1.
KAT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]  # fmt: skip
KAT_CONSISTENCY = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (1, 1, []),
]  # fmt: skip
KAT_LEAVES = [leaf_hash(d) for d in KAT_INPUTS]


def test_known_leaf_hashes_and_roots() -> None:
    assert EMPTY_ROOT.hex() == KAT_ROOTS[0] == sha256(b"").hexdigest()
    assert [h.hex() for h in KAT_LEAVES] == KAT_LEAF_HASHES
    log = MerkleLog()
    for size, expected in enumerate(KAT_ROOTS):
        assert root(KAT_LEAVES[:size]).hex() == expected
        assert log.root().hex() == expected
        if size < len(KAT_LEAVES):
            log.append(KAT_LEAVES[size])
    assert [log.root(size).hex() for size in range(9)] == KAT_ROOTS
    assert node_hash(KAT_LEAVES[0], KAT_LEAVES[1]).hex() == KAT_ROOTS[2]


@pytest.mark.parametrize(("index", "size", "path"), KAT_INCLUSION)
def test_known_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert inclusion_proof(index, size, KAT_LEAVES) == expected
    assert MerkleLog.from_leaf_hashes(KAT_LEAVES).inclusion_proof(index, size) == expected
    assert verify_inclusion(index, size, KAT_LEAVES[index], expected, bytes.fromhex(KAT_ROOTS[size]))


@pytest.mark.parametrize(("size1", "size2", "path"), KAT_CONSISTENCY)
def test_known_consistency_proofs(size1: int, size2: int, path: list[str]) -> None:
    expected = [bytes.fromhex(h) for h in path]
    assert consistency_proof(size1, size2, KAT_LEAVES) == expected
    assert MerkleLog.from_leaf_hashes(KAT_LEAVES).consistency_proof(size1, size2) == expected
    root1, root2 = bytes.fromhex(KAT_ROOTS[size1]), bytes.fromhex(KAT_ROOTS[size2])
    assert verify_consistency(size1, size2, root1, root2, expected)


def test_trivial_consistency_cases() -> None:
    """The cases around the RFC's 0 < size1 < size2 (transparency-dev's table, with size 0 bound to EMPTY_ROOT)."""
    r1, r2 = KAT_LEAVES[0], KAT_LEAVES[1]
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert verify_consistency(0, 1, EMPTY_ROOT, r2, [])
    assert verify_consistency(1, 1, r2, r2, [])
    assert not verify_consistency(0, 1, r1, r2, [])  # a log of size 0 has only one root
    assert not verify_consistency(0, 0, EMPTY_ROOT, r2, [])
    assert not verify_consistency(1, 1, r1, r2, [])
    assert not verify_consistency(1, 0, r1, r2, [])  # time travel
    assert not verify_consistency(2, 1, r1, r2, [])
    assert not verify_consistency(1, 2, r1, r2, [])  # an empty proof between different sizes
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])
    assert not verify_consistency(0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT])
    assert not verify_consistency(1, 1, r1, r1, [EMPTY_ROOT])
    assert not verify_consistency(-1, 1, EMPTY_ROOT, r1, [])
    assert not verify_consistency(1, 1, b"short", b"short", [])


def test_malformed_inclusion_checks_fail_without_raising() -> None:
    leaf = KAT_LEAVES[0]
    for index, size in [(0, 0), (1, 1), (-1, 1), (2, 1), (1, 0)]:
        assert not verify_inclusion(index, size, leaf, [], leaf)
    assert not verify_inclusion(0, 1, b"", [], leaf)
    assert not verify_inclusion(0, 1, leaf, [], b"")
    assert not verify_inclusion(0, 1, leaf + b"\x00", [], leaf + b"\x00")
    assert not verify_inclusion(0, 2, leaf, [KAT_LEAVES[1][:31]], root(KAT_LEAVES[:2]))
    assert verify_inclusion(0, 1, leaf, [], leaf)  # a log of one leaf: its root is the leaf hash


def test_the_size_is_bound_by_the_signed_head_not_by_the_proof() -> None:
    leaves = KAT_LEAVES
    # RFC 9162 ends a check only where the path fits the size: a proof for a smaller log does not stretch...
    assert not verify_inclusion(0, 3, leaves[0], inclusion_proof(0, 2, leaves), root(leaves[:2]))
    assert not verify_consistency(1, 3, leaves[0], root(leaves[:2]), consistency_proof(1, 2, leaves))
    # ...but paths of the same shape do not pin the size: only the signed head pairs a size with a root.
    assert verify_inclusion(0, 4, leaves[0], inclusion_proof(0, 3, leaves), root(leaves[:3]))
    assert root_from_inclusion_proof(0, 1, b"short", []) is None
    assert root_from_inclusion_proof(0, 2, leaves[0], [b"short"]) is None


def test_proof_lengths_of_the_reference() -> None:
    for n in range(1, 40):
        leaves = make_leaves(n)
        for m in range(n):
            assert ref_path_len(m, n) == len(ref_path(m, leaves))
        for m in range(1, n):
            assert ref_proof_len(m, n) == len(ref_proof(m, leaves))


def test_generators_refuse_what_no_log_could_answer() -> None:
    log = MerkleLog.from_leaf_hashes(KAT_LEAVES)
    for bad in [(8, 8), (0, 9), (-1, 4), (4, 4), (0, 0)]:
        with pytest.raises(ValueError):
            inclusion_proof(*bad, KAT_LEAVES)
        with pytest.raises(ValueError):
            log.inclusion_proof(*bad)
    for bad in [(5, 4), (0, 9), (-1, 4), (9, 9)]:
        with pytest.raises(ValueError):
            consistency_proof(*bad, KAT_LEAVES)
        with pytest.raises(ValueError):
            log.consistency_proof(*bad)
    with pytest.raises(ValueError):
        log.root(9)
    with pytest.raises(ValueError):
        log.append(b"\x00" * 31)
    with pytest.raises(ValueError):
        log.leaf_hash(8)
    with pytest.raises(ValueError):
        root([b"\x00" * 33])


# --- Roots --------------------------------------------------------------------------------------------------------


@settings(max_examples=150)
@given(leaves=leaf_lists())
def test_root_is_the_rfc_merkle_tree_hash(leaves: list[bytes]) -> None:
    assert root(leaves) == ref_mth(leaves)


@settings(max_examples=40)
@given(leaves=leaf_lists(max_size=200))
def test_incremental_log_has_the_rfc_root_at_every_size(leaves: list[bytes]) -> None:
    log, bulk = MerkleLog(), MerkleLog.from_leaf_hashes(leaves)
    assert log.root() == EMPTY_ROOT and len(log) == 0
    for i, leaf in enumerate(leaves):
        assert log.append(leaf) == i
        assert log.root() == ref_mth(leaves[: i + 1])
    assert log.size == bulk.size == len(leaves)
    for size in range(len(leaves) + 1):
        assert log.root(size) == bulk.root(size) == ref_mth(leaves[:size])
    assert [log.leaf_hash(i) for i in range(len(leaves))] == leaves


@pytest.mark.parametrize("n", [1023, 1024, 1025, 3000])
def test_roots_agree_across_power_of_two_boundaries(n: int) -> None:
    leaves = make_leaves(n)
    log = MerkleLog()
    log.extend(leaves)
    assert root(leaves) == log.root() == MerkleLog.from_leaf_hashes(leaves).root() == ref_mth(leaves)


# --- Inclusion proofs ---------------------------------------------------------------------------------------------


def inclusion_forgeries(
    index: int, size: int, leaves: list[bytes], proof: list[bytes], other: int, bit: int
) -> Iterator[tuple[str, tuple[int, int, bytes, list[bytes], bytes]]]:
    """Changed claims about one genuine proof; ``other`` picks another index, ``bit`` a bit to flip."""
    leaf, head = leaves[index], ref_mth(leaves[:size])
    if size > 1:
        j = (index + 1 + other % (size - 1)) % size  # any index but ``index``
        yield "wrong index", (j, size, leaf, proof, head)
        yield "another leaf at its own index", (j, size, leaves[j], proof, head)
    yield "wrong leaf", (index, size, flip(leaf, bit), proof, head)
    yield "unrelated leaf", (index, size, OTHER, proof, head)
    yield "wrong root", (index, size, leaf, proof, flip(head, bit))
    yield "empty root", (index, size, leaf, proof, EMPTY_ROOT)
    for size2 in {size - 1, size + 1, 2 * size, size // 2} - {size}:
        if index < size2 <= len(leaves):
            yield f"another signed head (size {size2})", (index, size2, leaf, proof, ref_mth(leaves[:size2]))
    for size2 in {size - 1, size + 1, 2 * size, 4 * size, size // 2}:
        if index < size2 and ref_path_len(index, size2) != len(proof):
            yield f"this root, claimed size {size2}", (index, size2, leaf, proof, head)
    yield "extended", (index, size, leaf, [*proof, OTHER], head)
    yield "extended with the root", (index, size, leaf, [*proof, head], head)
    yield "prefixed", (index, size, leaf, [OTHER, *proof], head)
    yield "trailing empty element", (index, size, leaf, [*proof, b""], head)
    if proof:
        yield "truncated", (index, size, leaf, proof[:-1], head)
        yield "first element dropped", (index, size, leaf, proof[1:], head)
        k = bit % len(proof)
        yield f"element {k} altered", (index, size, leaf, [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]], head)
        yield f"element {k} shortened", (index, size, leaf, [*proof[:k], proof[k][:-1], *proof[k + 1 :]], head)
    if len(proof) > 1:
        yield "two elements swapped", (index, size, leaf, [proof[1], proof[0], *proof[2:]], head)


@settings(max_examples=150)
@given(data=st.data())
def test_every_inclusion_proof_verifies_and_no_forgery_does(data: st.DataObject) -> None:
    leaves = data.draw(leaf_lists(min_size=1))
    size = data.draw(st.integers(1, len(leaves)), label="size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(index, size, leaves)
    assert proof == ref_path(index, leaves[:size])
    head = ref_mth(leaves[:size])
    assert verify_inclusion(index, size, leaves[index], proof, head)
    assert root_from_inclusion_proof(index, size, leaves[index], proof) == head
    other, bit = data.draw(st.integers(0, 2**16)), data.draw(st.integers(0, 255))
    for what, args in inclusion_forgeries(index, size, leaves, proof, other, bit):
        assert not verify_inclusion(*args), what


def test_proofs_leave_no_garbage_for_the_collector() -> None:
    """A proof served is freed as it goes out of use: a reference cycle per proof would wait for the garbage
    collector, whose pauses then show in the tail latency of the proof routes."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(1000)]
    log = MerkleLog.from_leaf_hashes(leaves)
    gc.collect()
    gc.disable()
    try:
        for i in range(50):
            log.inclusion_proof(i * 19, 999)
            log.consistency_proof(i + 1, 997)
            log.root(998 - i)
            every_inclusion_proof(leaves[: 3 + i])
        assert gc.collect() == 0
    finally:
        gc.enable()


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 80), seed=st.integers(0, 2**32 - 1))
def test_every_inclusion_proof_at_once_is_the_rfc_path_of_each_leaf(n: int, seed: int) -> None:
    leaves = [leaf_hash(seed.to_bytes(4, "big") + i.to_bytes(4, "big")) for i in range(n)]
    top, paths = every_inclusion_proof(leaves)
    assert top == ref_mth(leaves)
    assert paths == [ref_path(i, leaves) for i in range(n)]
    with pytest.raises(ValueError):
        every_inclusion_proof([])


def test_incremental_log_gives_the_rfc_inclusion_proof_for_every_leaf_and_size() -> None:
    leaves = make_leaves(70, b"incl")
    log = MerkleLog()
    for size in range(1, len(leaves) + 1):
        log.append(leaves[size - 1])
        for index in range(size):
            assert log.inclusion_proof(index) == ref_path(index, leaves[:size]), (index, size)
    bulk = MerkleLog.from_leaf_hashes(leaves)
    for size in range(1, len(leaves) + 1):
        for index in range(size):
            assert bulk.inclusion_proof(index, size) == log.inclusion_proof(index, size)


@settings(max_examples=60)
@given(data=st.data())
def test_incremental_inclusion_proofs_match_the_rfc_in_larger_logs(data: st.DataObject) -> None:
    leaves = data.draw(leaf_lists(min_size=1, max_size=300))
    log = MerkleLog.from_leaf_hashes(leaves)
    for _ in range(5):
        size = data.draw(st.integers(1, len(leaves)))
        index = data.draw(st.integers(0, size - 1))
        proof = log.inclusion_proof(index, size)
        assert proof == ref_path(index, leaves[:size])
        assert verify_inclusion(index, size, leaves[index], proof, log.root(size))


# --- Consistency proofs -------------------------------------------------------------------------------------------


def consistency_forgeries(
    size1: int, size2: int, leaves: list[bytes], proof: list[bytes], bit: int
) -> Iterator[tuple[str, tuple[int, int, bytes, bytes, list[bytes]]]]:
    """Changed claims about one genuine proof with 0 < size1 < size2."""
    root1, root2 = ref_mth(leaves[:size1]), ref_mth(leaves[:size2])
    yield "root1 altered", (size1, size2, flip(root1, bit), root2, proof)
    yield "root2 altered", (size1, size2, root1, flip(root2, bit), proof)
    yield "roots swapped", (size1, size2, root2, root1, proof)
    yield "root1 = root2", (size1, size2, root2, root2, proof)
    for other1 in {0, size1 - 1, size1 + 1, size1 ^ 2, size2} - {size1}:
        if 0 <= other1 <= size2:
            yield f"another first head ({other1})", (other1, size2, ref_mth(leaves[:other1]), root2, proof)
    for other2 in {size1, size2 - 1, size2 + 1, 2 * size2, size2 // 2} - {size2}:
        if size1 <= other2 <= len(leaves):
            yield f"another second head ({other2})", (size1, other2, root1, ref_mth(leaves[:other2]), proof)
    for other1 in {size1 - 1, size1 + 1, size1 ^ 2}:
        if 0 <= other1 <= size2 and ref_proof_len(other1, size2) != len(proof):
            yield f"these roots, claimed size1 {other1}", (other1, size2, root1, root2, proof)
    for other2 in {size2 - 1, size2 + 1, 2 * size2, 4 * size2, size2 // 2}:
        if size1 <= other2 and ref_proof_len(size1, other2) != len(proof):
            yield f"these roots, claimed size2 {other2}", (size1, other2, root1, root2, proof)
    yield "empty proof", (size1, size2, root1, root2, [])
    yield "truncated", (size1, size2, root1, root2, proof[:-1])
    yield "first element dropped", (size1, size2, root1, root2, proof[1:])
    yield "extended", (size1, size2, root1, root2, [*proof, OTHER])
    yield "extended with root1", (size1, size2, root1, root2, [*proof, root1])
    yield "extended with root2", (size1, size2, root1, root2, [*proof, root2])
    yield "prefixed with root1", (size1, size2, root1, root2, [root1, *proof])
    yield "prefixed with root2", (size1, size2, root1, root2, [root2, *proof])
    yield "prefixed with proof[0]", (size1, size2, root1, root2, [proof[0], *proof])
    yield "trailing empty element", (size1, size2, root1, root2, [*proof, b""])
    k = bit % len(proof)
    yield f"element {k} altered", (size1, size2, root1, root2, [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]])
    if len(proof) > 1:
        yield "two elements swapped", (size1, size2, root1, root2, [proof[1], proof[0], *proof[2:]])


@settings(max_examples=150)
@given(data=st.data())
def test_every_consistency_proof_verifies_and_no_forgery_does(data: st.DataObject) -> None:
    leaves = data.draw(leaf_lists())
    size2 = data.draw(st.integers(0, len(leaves)), label="size2")
    size1 = data.draw(st.integers(0, size2), label="size1")
    proof = consistency_proof(size1, size2, leaves)
    root1, root2 = ref_mth(leaves[:size1]), ref_mth(leaves[:size2])
    assert verify_consistency(size1, size2, root1, root2, proof)
    if size1 in (0, size2):
        assert proof == []
        assert not verify_consistency(size1, size2, root1, root2, [OTHER])
        return
    assert proof == ref_proof(size1, leaves[:size2])
    bit = data.draw(st.integers(0, 255))
    for what, args in consistency_forgeries(size1, size2, leaves, proof, bit):
        assert not verify_consistency(*args), what


@settings(max_examples=100)
@given(data=st.data())
def test_forked_logs_are_never_consistent(data: st.DataObject) -> None:
    """Two logs that share the first ``common`` leaves and then differ: consistent only up to the fork."""
    common = data.draw(st.integers(0, 120), label="common")
    length = data.draw(st.integers(common + 1, 150), label="length")
    shared = make_leaves(common, b"shared")
    ours = MerkleLog.from_leaf_hashes(shared + make_leaves(length - common, b"ours"))
    theirs = MerkleLog.from_leaf_hashes(shared + make_leaves(length - common, b"theirs"))
    size2 = data.draw(st.integers(1, length), label="size2")
    size1 = data.draw(st.integers(1, size2), label="size1")
    # Our head at size1 against their head at size2, with the proof either log would give.
    ours_root, theirs_root = ours.root(size1), theirs.root(size2)
    theirs_proof, ours_proof = theirs.consistency_proof(size1, size2), ours.consistency_proof(size1, size2)
    assert verify_consistency(size1, size2, ours_root, theirs_root, theirs_proof) == (size1 <= common)
    assert verify_consistency(size1, size2, ours_root, theirs_root, ours_proof) == (size2 <= common)
    # And one of our leaves in their log: only a leaf before the fork is in it.
    index = data.draw(st.integers(0, size2 - 1), label="index")
    leaf = ours.leaf_hash(index)
    assert verify_inclusion(index, size2, leaf, theirs.inclusion_proof(index, size2), theirs_root) == (index < common)
    assert verify_inclusion(index, size2, leaf, ours.inclusion_proof(index, size2), theirs_root) == (size2 <= common)


def test_incremental_log_gives_the_rfc_consistency_proof_for_every_pair_of_sizes() -> None:
    leaves = make_leaves(70, b"cons")
    log = MerkleLog()
    for size2 in range(len(leaves) + 1):
        for size1 in range(size2 + 1):
            proof = log.consistency_proof(size1)
            assert proof == ([] if size1 in (0, size2) else ref_proof(size1, leaves[:size2])), (size1, size2)
            assert verify_consistency(size1, size2, log.root(size1), log.root(), proof)
        if size2 < len(leaves):
            log.append(leaves[size2])


@settings(max_examples=60)
@given(data=st.data())
def test_incremental_consistency_proofs_match_the_rfc_in_larger_logs(data: st.DataObject) -> None:
    leaves = data.draw(leaf_lists(min_size=2, max_size=300))
    log = MerkleLog.from_leaf_hashes(leaves)
    for _ in range(5):
        size2 = data.draw(st.integers(2, len(leaves)))
        size1 = data.draw(st.integers(1, size2 - 1))
        assert log.consistency_proof(size1, size2) == ref_proof(size1, leaves[:size2])


def test_a_large_log_answers_with_short_proofs() -> None:
    n = 1 << 14
    leaves = make_leaves(n + 5, b"large")
    log = MerkleLog.from_leaf_hashes(leaves)
    assert log.root() == root(leaves)
    for index, size in [(0, n + 5), (n + 4, n + 5), (n - 1, n), (12345, n + 3)]:
        proof = log.inclusion_proof(index, size)
        assert len(proof) <= 15
        assert verify_inclusion(index, size, leaves[index], proof, log.root(size))
    for size1, size2 in [(1, n + 5), (n, n + 5), (n - 1, n + 1), (9999, n + 4)]:
        proof = log.consistency_proof(size1, size2)
        assert len(proof) <= 2 * 15
        assert verify_consistency(size1, size2, log.root(size1), log.root(size2), proof)


# --- Canonical JSON and entry commitments -------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)
salts = st.binary(min_size=32, max_size=32)


def reversed_keys(value: Any) -> Any:
    """The same JSON value with every object's keys inserted in the opposite order."""
    if isinstance(value, dict):
        return {key: reversed_keys(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reversed_keys(item) for item in value]
    return value


def assert_sorted_objects(document: bytes) -> None:
    def check(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        return dict(pairs)

    json.loads(document, object_pairs_hook=check)


@given(value=json_objects)
def test_canonical_json_is_sorted_compact_and_independent_of_key_order(value: dict[str, Any]) -> None:
    document = canonical_json(value)
    assert canonical_json(reversed_keys(value)) == document
    assert_sorted_objects(document)
    assert orjson.loads(document) == value
    assert canonical_json(orjson.loads(document)) == document  # a fixed point: parse and write again, same bytes


def test_canonical_json_known_bytes() -> None:
    value = {"b": [True, None, 1, -0.5], "a": {"z": "é\u2028", "y": 2**64 - 1}, "": 1.0}
    assert (
        canonical_json(value) == '{"":1.0,"a":{"y":18446744073709551615,"z":"é\u2028"},"b":[true,null,1,-0.5]}'.encode()
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"x": float("nan")},
        {"x": [1.0, float("inf")]},
        {"x": {"y": float("-inf")}},
        {"x": 2**64},
        {"x": -(2**63) - 1},
        {"x": b"bytes"},
        {"x": {1, 2}},
        {"x": datetime(2025, 1, 1, tzinfo=UTC)},
        {"x": {1: "non-string key"}},
        {"x": "\ud800"},
    ],
)
def test_canonical_json_refuses_what_has_no_single_form(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        canonical_json(bad)


@given(value=json_objects, member=json_values, key=st.text(max_size=8), in_list=st.booleans())
def test_a_verbatim_member_gives_the_same_document(value: dict[str, Any], member: Any, key: str, in_list: bool) -> None:
    """A member given as its canonical JSON is embedded as is: the document is the one the plain value makes."""
    text = orjson.dumps(member, option=orjson.OPT_SORT_KEYS)
    plain = {**value, key: [1, member] if in_list else member}
    given_verbatim = {**value, key: [1, Verbatim(text)] if in_list else Verbatim(text)}
    assert canonical_json(given_verbatim) == canonical_json(plain)


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("-inf"), 2**64, datetime(2025, 1, 1, tzinfo=UTC), {1, 2}, b"bytes", {1: "x"}],
)
def test_the_rest_of_a_document_with_a_verbatim_member_is_still_checked(bad: Any) -> None:
    footprint = Verbatim(b'{"coordinates":[[[0.5,1.0],[2.0,1.0],[2.0,3.0],[0.5,1.0]]],"type":"Polygon"}')
    with pytest.raises(ValueError):
        canonical_json({"overlap": {"footprint": footprint, "bad": bad}})
    with pytest.raises(ValueError):
        canonical_json({"overlap": [footprint, {"bad": [bad]}]})


def test_a_verbatim_member_equals_its_text_only() -> None:
    v = Verbatim(b'{"a":1}')
    assert v == Verbatim(b'{"a":1}') and v == '{"a":1}'
    assert v != Verbatim(b'{"a":2}') and v != '{"a":2}' and v != {"a": 1} and v != b'{"a":1}'


@given(value=json_values)
def test_a_vouched_value_is_written_as_canonical_json_without_the_check(value: Any) -> None:
    vouched = Verbatim.of(value)
    assert vouched.text == canonical_json({"v": value})[len(b'{"v":') : -1]
    assert canonical_json({"v": Verbatim.of(value)}) == canonical_json({"v": value})


@pytest.mark.parametrize(
    "bad", [2**64, datetime(2025, 1, 1, tzinfo=UTC), {1, 2}, b"bytes", {1: "x"}, "\ud800", Path("a")]
)
def test_a_vouched_value_orjson_cannot_write_faithfully_is_still_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        _ = Verbatim.of({"x": [bad]}).text
    with pytest.raises(ValueError):
        entry_document(entry_fields(0, 0, "k", None, Verbatim.of({"x": bad})), bytes(32))


@given(
    index=st.integers(0, 2**64 - 1),
    at_ms=st.integers(0, 2**64 - 1),
    kind=st.text(max_size=12),
    subject=st.none() | st.text(max_size=12),
    data=json_objects,
    salt=salts,
)
def test_an_entry_document_is_the_canonical_json_of_its_fields_however_its_data_is_given(
    index: int, at_ms: int, kind: str, subject: str | None, data: dict[str, Any], salt: bytes
) -> None:
    """The hub's entries are written directly around their data's JSON (``entry_document``): the same bytes as the
    canonical JSON of the whole, with the data given as an object or vouched for."""
    whole = canonical_json({"salt": salt.hex(), **entry_fields(index, at_ms, kind, subject, data)})
    assert entry_document(entry_fields(index, at_ms, kind, subject, data), salt) == whole
    assert entry_document(entry_fields(index, at_ms, kind, subject, Verbatim.of(data)), salt) == whole


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"index": 0, "at_ms": 0, "kind": "k", "subject": None, "data": {"x": float("nan")}}, "$.data.x"),
        ({"index": 0, "at_ms": 0, "kind": "k", "subject": None, "data": {"x": [1, datetime.now(UTC)]}}, "$.data.x[1]"),
        ({"index": 2**64, "at_ms": 0, "kind": "k", "subject": None, "data": {}}, "$.index"),
        ({"index": 0, "at_ms": 0, "kind": "\ud800", "subject": None, "data": {}}, "not canonical JSON"),
    ],
)
def test_an_entry_with_a_bad_field_is_refused_with_its_path(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        entry_document(fields, bytes(32))


ENTRY = {"kind": "conflict.opened", "conflict_id": "cfl_1", "parties": ["p1", "p2"], "revision": 3}


def test_entry_document_known_bytes() -> None:
    salt = bytes(range(32))
    document = entry_document(ENTRY, salt)
    assert document == (
        b'{"conflict_id":"cfl_1","kind":"conflict.opened","parties":["p1","p2"],"revision":3,'
        b'"salt":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"}'
    )
    assert entry_commitment(ENTRY, salt) == sha256(document).digest()
    assert entry_leaf_hash(ENTRY, salt) == sha256(b"\x00" + sha256(document).digest()).digest()
    assert verify_entry_document(document, entry_leaf_hash(ENTRY, salt))


@given(fields=json_objects, salt1=salts, salt2=salts)
def test_commitments_hide_behind_the_salt_and_bind_the_fields(
    fields: dict[str, Any], salt1: bytes, salt2: bytes
) -> None:
    fields.pop("salt", None)
    leaf = entry_leaf_hash(fields, salt1)
    assert entry_leaf_hash(reversed_keys(fields), salt1) == leaf
    assert (entry_leaf_hash(fields, salt2) == leaf) == (salt1 == salt2)
    changed = {**fields, "extra": 1}
    assert entry_leaf_hash(changed, salt1) != leaf
    for key in fields:
        assert entry_leaf_hash({**fields, key: [fields[key]]}, salt1) != leaf
    document = entry_document(fields, salt1)
    assert verify_entry_document(document, leaf)
    assert not verify_entry_document(document, entry_leaf_hash(fields, flip(salt1)))


def test_a_disclosed_document_must_be_canonical_and_match_its_leaf() -> None:
    salt = bytes(range(32))
    document, leaf = entry_document(ENTRY, salt), entry_leaf_hash(ENTRY, salt)
    assert verify_entry_document(document, leaf)
    tampered = [
        document.replace(b'"revision":3', b'"revision":4'),
        document.replace(b'"kind"', b' "kind"'),
        document.replace(b"0a0b0c", b"0A0B0C"),
        orjson.dumps(reversed_keys(orjson.loads(document))),  # keys no longer sorted
        document + b"\n",
        document[:-1],
        b"[]",
        canonical_json({**ENTRY, "salt": "00" * 31}),
        canonical_json({**ENTRY, "salt": "zz" * 32}),
        canonical_json(ENTRY),
    ]
    for other in tampered:
        assert not verify_entry_document(other, leaf), other
    assert not verify_entry_document(document, flip(leaf))
    assert not verify_entry_document(document, leaf[:31])


def test_a_document_the_hub_did_not_write_canonically_is_refused() -> None:
    """Even if its leaf matches: one entry must have one document, or a party could be shown two."""
    salt_hex = bytes(range(32)).hex()
    for document in [
        b'{"kind":"x", "salt":"' + salt_hex.encode() + b'"}',
        b'{"salt":"' + salt_hex.encode() + b'","kind":"x"}',
        b'{"kind":"x","salt":"' + salt_hex.upper().encode() + b'"}',
        b'{"kind":"x","kind":"y","salt":"' + salt_hex.encode() + b'"}',
    ]:
        assert not verify_entry_document(document, leaf_hash(sha256(document).digest())), document
    canonical = b'{"kind":"x","salt":"' + salt_hex.encode() + b'"}'
    assert verify_entry_document(canonical, leaf_hash(sha256(canonical).digest()))


def test_entries_refuse_a_bad_salt() -> None:
    with pytest.raises(ValueError):
        entry_document(ENTRY, b"\x00" * 31)
    with pytest.raises(ValueError):
        entry_document({**ENTRY, "salt": "mine"}, b"\x00" * 32)


# --- Keys, signed tree heads and acknowledgements -----------------------------------------------------------------

# RFC 8032 §7.1, TEST 1: the raw seed and public key, and the signature of the empty message.
RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
LOG_KEY = private_key_from_hex(RFC8032_SECRET)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(sha256(b"another log").digest())
HEAD = TreeHead(size=8, root_hash=bytes.fromhex(KAT_ROOTS[8]), timestamp_ms=1_750_000_000_123)


def test_keys_travel_as_raw_hex() -> None:
    assert key_to_hex(LOG_KEY) == RFC8032_SECRET
    assert key_to_hex(LOG_KEY.public_key()) == RFC8032_PUBLIC
    assert LOG_KEY.sign(b"").hex() == RFC8032_SIGNATURE
    public = public_key_from_hex(RFC8032_PUBLIC)
    assert key_to_hex(public) == RFC8032_PUBLIC
    assert key_to_hex(private_key_from_hex(RFC8032_SECRET.upper())) == RFC8032_SECRET
    for bad in ["", "00" * 31, "00" * 33, "zz" * 32]:
        with pytest.raises(ValueError):
            private_key_from_hex(bad)
        with pytest.raises(ValueError):
            public_key_from_hex(bad)


def test_tree_head_signs_rfc_9162_tree_head_data() -> None:
    assert HEAD.signed_bytes() == (
        (1_750_000_000_123).to_bytes(8, "big") + (8).to_bytes(8, "big") + b"\x20" + HEAD.root_hash + b"\x00\x00"
    )
    assert len(HEAD.signed_bytes()) == 51
    assert HEAD.signed_bytes().hex().startswith("000001977420dc7b0000000000000008205dc9da79")
    for bad in [
        {"size": -1, "root_hash": EMPTY_ROOT, "timestamp_ms": 0},
        {"size": 2**64, "root_hash": EMPTY_ROOT, "timestamp_ms": 0},
        {"size": 0, "root_hash": EMPTY_ROOT[:31], "timestamp_ms": 0},
        {"size": 0, "root_hash": EMPTY_ROOT, "timestamp_ms": -1},
    ]:
        with pytest.raises(ValueError):
            TreeHead(**bad)


def test_a_signed_head_verifies_with_the_log_key_only() -> None:
    signature = sign_head(LOG_KEY, HEAD)
    assert len(signature) == 64
    assert verify_head(LOG_KEY.public_key(), HEAD, signature)
    assert verify_head(public_key_from_hex(RFC8032_PUBLIC), HEAD, signature)
    assert not verify_head(OTHER_KEY.public_key(), HEAD, signature)
    assert not verify_head(LOG_KEY.public_key(), HEAD, sign_head(OTHER_KEY, HEAD))
    assert not verify_head(LOG_KEY.public_key(), HEAD, signature[:63])
    assert not verify_head(LOG_KEY.public_key(), HEAD, signature + b"\x00")
    assert not verify_head(LOG_KEY.public_key(), HEAD, b"")


@given(
    size=st.integers(0, 2**64 - 1),
    root_hash=st.binary(min_size=32, max_size=32),
    timestamp_ms=st.integers(0, 2**64 - 1),
    bit=st.integers(0, 511),
)
def test_any_change_to_a_signed_head_or_its_signature_fails(
    size: int, root_hash: bytes, timestamp_ms: int, bit: int
) -> None:
    head = TreeHead(size, root_hash, timestamp_ms)
    signature = sign_head(LOG_KEY, head)
    public = LOG_KEY.public_key()
    assert verify_head(public, head, signature)
    assert not verify_head(public, head, flip(signature, bit))
    assert not verify_head(public, TreeHead((size + 1) % 2**64, root_hash, timestamp_ms), signature)
    assert not verify_head(public, TreeHead(size, flip(root_hash, bit), timestamp_ms), signature)
    assert not verify_head(public, TreeHead(size, root_hash, timestamp_ms ^ (1 << (bit % 64))), signature)


ACK = Acknowledgement(
    party_id="pty_blue",
    object_id="cfl_42",
    revision=3,
    notice_leaf_hash=bytes.fromhex(KAT_LEAF_HASHES[5]),
    acknowledged_at_ms=1_750_000_000_000,
)


def test_ack_message_known_bytes() -> None:
    assert ack_message(ACK) == (
        b"deconfliction-ack-v1\n"
        b'{"acknowledged_at_ms":1750000000000,'
        b'"notice_leaf_hash":"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",'
        b'"object_id":"cfl_42","party_id":"pty_blue","revision":3,"statement":"received and understood"}'
    )
    assert ACK_STATEMENT.encode() in ack_message(ACK)
    assert ack_digest(ACK) == sha256(ack_message(ACK)).digest()


def test_an_ack_signature_covers_every_field() -> None:
    party_key = Ed25519PrivateKey.from_private_bytes(sha256(b"blue party").digest())
    signature = sign_ack(party_key, ACK)
    public = party_key.public_key()
    assert verify_ack(public, ACK, signature)
    assert not verify_ack(OTHER_KEY.public_key(), ACK, signature)
    assert not verify_ack(public, ACK, flip(signature, 77))
    assert not verify_ack(public, ACK, signature[:-1])
    changed = [
        replace(ACK, party_id="pty_red"),
        replace(ACK, object_id="cfl_43"),
        replace(ACK, revision=4),
        replace(ACK, notice_leaf_hash=flip(ACK.notice_leaf_hash)),
        replace(ACK, acknowledged_at_ms=ACK.acknowledged_at_ms + 1),
    ]
    for other in changed:
        assert not verify_ack(public, other, signature), other
    # An ack signature is not a head signature, nor the other way round.
    assert not verify_head(public, HEAD, signature)
    assert not verify_ack(LOG_KEY.public_key(), ACK, sign_head(LOG_KEY, HEAD))


def test_acknowledgements_refuse_bad_fields() -> None:
    bad: list[dict[str, Any]] = [
        {"party_id": ""},
        {"object_id": ""},
        {"revision": -1},
        {"notice_leaf_hash": b"\x00" * 31},
        {"acknowledged_at_ms": -1},
    ]
    for fields in bad:
        with pytest.raises(ValueError):
            replace(ACK, **fields)
