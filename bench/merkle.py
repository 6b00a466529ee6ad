"""The Merkle log at a million entries: append, proofs, and what a bundle verifier pays.

Everything runs in this process on ``deconfliction.core.merkle`` (pure Python over hashlib's SHA-256), one core.
The leaves are ``leaf_hash`` of N distinct 32-byte commitments (``SHA-256`` of the entry number), made before
any clock starts, and frozen out of the garbage collector. Figures:

* **append**: N ``MerkleLog.append`` calls one by one (what the hub does as entries arrive); RSS before and after
  (``/proc/self/status``; the leaf-hash list the benchmark holds is allocated before), and the bytes of hashes
  the log stores (just under 2N × 32). Also the bulk build ``MerkleLog.from_leaf_hashes`` (what a restart does).
* **inclusion / consistency proofs** at size N: ``--samples`` proofs for random leaves (inclusion) and random
  older sizes (consistency), each timed alone with ``perf_counter``; and the same for random past sizes.
* **root from scratch**: ``root(leaf_hashes)`` over all N (what a verifier of an exported log runs), and the same
  preceded by hashing the N commitments into leaf hashes.
* **verify**: 1,000 inclusion proofs and 1,000 consistency proofs at size N checked with ``verify_inclusion`` /
  ``verify_consistency``; one Ed25519 tree-head signature and its check.

Compared against the targets of the issue: an inclusion proof well under 1 ms, a 1M-leaf root in a couple of
seconds, 1M leaves comfortably in memory.

    .venv/bin/python -m bench.merkle                      # N = 1,000,000, ~15 s
    .venv/bin/python -m bench.merkle --leaves 100000 --json bench/results/merkle.json
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections.abc import Callable
from hashlib import sha256
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from deconfliction.core.merkle import MerkleLog, leaf_hash, root, verify_consistency, verify_inclusion
from deconfliction.core.record import TreeHead, sign_head, verify_head


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def stats_us(samples: list[float]) -> dict[str, float]:
    a = np.array(samples) * 1e6
    return {
        "mean_us": float(a.mean()),
        "p50_us": float(np.percentile(a, 50)),
        "p99_us": float(np.percentile(a, 99)),
        "max_us": float(a.max()),
    }


def sample(fn: Callable[[Any], Any], args: list[Any]) -> list[float]:
    """Each call timed alone."""
    out = []
    for arg in args:
        start = time.perf_counter()
        fn(arg)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    n, rng = args.leaves, random.Random(args.seed)
    results: dict[str, Any] = {"leaves": n}

    commitments = [sha256(i.to_bytes(8, "big")).digest() for i in range(n)]
    leaves = [leaf_hash(c) for c in commitments]
    # Keep the collector off these 2N objects of the benchmark's own (as the hub freezes its start-up objects):
    # otherwise one timed sample pays a ~20 ms full collection that walks them.
    gc.collect()
    gc.freeze()

    rss_before = rss_mb()
    log = MerkleLog()
    append = log.append

    def append_all() -> None:
        for h in leaves:
            append(h)

    seconds, _ = timed(append_all)
    stored = (2 * n - n.bit_count()) * 32
    results["append"] = {
        "seconds": seconds,
        "us_per_leaf": seconds / n * 1e6,
        "rss_growth_mb": rss_mb() - rss_before,
        "stored_hash_mb": stored / 2**20,
    }
    seconds, bulk = timed(lambda: MerkleLog.from_leaf_hashes(leaves))
    assert bulk.root() == log.root()
    results["bulk_build_seconds"] = seconds
    del bulk

    indices = [rng.randrange(n) for _ in range(args.samples)]
    results["inclusion_proof_at_n"] = stats_us(sample(log.inclusion_proof, indices))
    past = [(rng.randrange(n), rng.randrange(1, n + 1)) for _ in range(args.samples)]
    past = [(i % s, s) for i, s in past]
    results["inclusion_proof_at_past_size"] = stats_us(sample(lambda p: log.inclusion_proof(*p), past))
    olds = [rng.randrange(1, n) for _ in range(args.samples)]
    results["consistency_proof_to_n"] = stats_us(sample(log.consistency_proof, olds))
    pairs = [(rng.randrange(1, n + 1), rng.randrange(1, n + 1)) for _ in range(args.samples)]
    pairs = [(min(a, b), max(a, b)) for a, b in pairs]
    results["consistency_proof_past_pair"] = stats_us(sample(lambda p: log.consistency_proof(*p), pairs))
    seconds, _ = timed(lambda: [log.root(s) for s in olds[:1000]])
    results["root_at_past_size_us"] = seconds / 1000 * 1e6

    seconds, full = timed(lambda: root(leaves))
    assert full == log.root()
    results["root_from_scratch_seconds"] = seconds
    seconds, _ = timed(lambda: root([leaf_hash(c) for c in commitments]))
    results["root_from_commitments_seconds"] = seconds

    head_root = log.root()
    proofs = [(i, log.leaf_hash(i), log.inclusion_proof(i)) for i in indices[:1000]]
    seconds, ok = timed(lambda: all(verify_inclusion(i, n, h, p, head_root) for i, h, p in proofs))
    assert ok
    results["verify_1000_inclusion_proofs_seconds"] = seconds
    cproofs = [(m, log.root(m), log.consistency_proof(m)) for m in olds[:1000]]
    seconds, ok = timed(lambda: all(verify_consistency(m, n, r, head_root, p) for m, r, p in cproofs))
    assert ok
    results["verify_1000_consistency_proofs_seconds"] = seconds

    key = Ed25519PrivateKey.from_private_bytes(sha256(b"bench log key").digest())
    head = TreeHead(size=n, root_hash=head_root, timestamp_ms=1_750_000_000_000)
    sign_s, signature = timed(lambda: sign_head(key, head))
    verify_s, ok = timed(lambda: verify_head(key.public_key(), head, signature))
    assert ok
    results["sign_head_us"], results["verify_head_us"] = sign_s * 1e6, verify_s * 1e6

    a = results["append"]
    print(f"Merkle log, {n:,} leaves (core.merkle, pure Python + hashlib, one core)")
    print(f"  append one by one      {a['seconds']:.2f} s ({a['us_per_leaf']:.2f} µs/leaf)")
    print(f"  memory                 RSS +{a['rss_growth_mb']:.0f} MB; stored hashes {a['stored_hash_mb']:.0f} MB")
    print(f"  bulk build             {results['bulk_build_seconds']:.2f} s")
    for name in ("inclusion_proof_at_n", "inclusion_proof_at_past_size", "consistency_proof_to_n",
                 "consistency_proof_past_pair"):  # fmt: skip
        s = results[name]
        print(f"  {name:<28} mean {s['mean_us']:.1f} µs, p50 {s['p50_us']:.1f}, p99 {s['p99_us']:.1f},"
              f" max {s['max_us']:.1f}   (target: well under 1000 µs)")  # fmt: skip
    print(f"  root at a past size    {results['root_at_past_size_us']:.1f} µs")
    print(f"  root from scratch      {results['root_from_scratch_seconds']:.2f} s (target: a couple of seconds)")
    print(f"  … from commitments     {results['root_from_commitments_seconds']:.2f} s (leaf hashing included)")
    print(f"  verify 1,000 inclusion proofs    {results['verify_1000_inclusion_proofs_seconds'] * 1000:.1f} ms")
    print(f"  verify 1,000 consistency proofs  {results['verify_1000_consistency_proofs_seconds'] * 1000:.1f} ms")
    print(f"  sign / verify a tree head        {results['sign_head_us']:.0f} / {results['verify_head_us']:.0f} µs")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
