"""The record against real ``deconfliction serve`` processes: ``kill -9`` in the middle of writes leaves a log that
verifies and matches the state; three parties' exported bundles each verify and show none of the others'
business; a forked log (two hubs from one database) is caught by comparing the heads two parties were served."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import box, volume
from tests.integration.conftest import HubProcess, cli_many


def _client(hub: HubProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deconfliction", "audit", *args], capture_output=True, text=True, timeout=120
    )


def _parties(hub: HubProcess, *names: str) -> list[dict[str, Any]]:
    subprocess.run(
        [sys.executable, "-m", "deconfliction", "admin", "create-party", "Seed", "--db", str(hub.db)],
        check=True,
        capture_output=True,
    )
    return cli_many(*[["admin", "create-party", n, "--db", str(hub.db)] for n in names])


def _declare(client: httpx.Client, lon: float, start: datetime, **extra: Any) -> dict[str, Any]:
    r = client.post("/v1/operations", json={"volumes": [volume(box(lon, 45.0), start)], **extra})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _wait_head_covers_log(client: httpx.Client, db: Path) -> dict[str, Any]:
    """The hub signs (and serves) a head for whatever was logged without one (by the admin CLI, or before a kill),
    and stores one within a second or two of quiet (bundles end at the last stored head); poll for both."""
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(db) as conn:
            size = conn.execute("SELECT count(*) FROM audit_entries").fetchone()[0]
            stored = conn.execute("SELECT size FROM audit_heads ORDER BY id DESC LIMIT 1").fetchone()
        head = dict(client.get("/v1/audit/head").json())
        if (head["size"], stored and stored[0]) == (size, size) or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # polling the hub's once-a-second head check, not sleeping to pass
    assert head["size"] == size and stored is not None and stored[0] == size  # served, and stored for export
    return head


def _export(tmp: Path, db: Path, party: str) -> Path:
    out = _audit("export", "--db", str(db), "--party", party)
    assert out.returncode == 0, out.stderr
    path = tmp / f"{party}.json"
    path.write_text(out.stdout)
    return path


def test_kill_9_during_writes_leaves_a_log_that_verifies_and_matches_the_state(
    hub_process: HubProcess, tmp_path: Path
) -> None:
    a, b = _parties(hub_process, "Alpha", "Bravo")
    hub_process.start()
    start = datetime.now(UTC) + timedelta(hours=2)
    with _client(hub_process, b["token"]) as bravo:
        _declare(bravo, 20.0, start)
    accepted: list[str] = []
    started = threading.Event()

    def burst() -> None:
        with _client(hub_process, a["token"]) as client:
            for i in range(600):
                try:
                    r = client.post(
                        "/v1/operations",
                        json={"volumes": [volume(box(20.0 + (i % 2) * 5, 45.0), start)]},
                        headers={"Idempotency-Key": f"k-{i}"},
                    )
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    accepted.append(r.json()["operation"]["id"])
                    if len(accepted) == 50:
                        started.set()

    writer = threading.Thread(target=burst)
    writer.start()
    assert started.wait(60)
    hub_process.kill9()
    writer.join(60)
    assert 50 <= len(accepted) < 600

    hub_process.start()
    with _client(hub_process, a["token"]) as alpha:
        key = alpha.get("/v1/audit/key").json()["public_key"]
        head = _wait_head_covers_log(alpha, hub_process.db)
    with sqlite3.connect(hub_process.db) as conn:
        ops = {r[0] for r in conn.execute("SELECT id FROM operations")}
        declared = [r[0] for r in conn.execute("SELECT subject FROM audit_entries WHERE kind='operation.declared'")]
        conflicts = {r[0] for r in conn.execute("SELECT id FROM conflicts")}
        opened = [r[0] for r in conn.execute("SELECT subject FROM audit_entries WHERE kind='conflict.opened'")]
        indexes = [r[0] for r in conn.execute("SELECT idx FROM audit_entries ORDER BY idx")]
    # Every acknowledged declaration is in the state and in the log; nothing is in one and not the other.
    assert set(accepted) <= ops
    assert sorted(declared) == sorted(ops) and sorted(opened) == sorted(conflicts)
    assert indexes == list(range(len(indexes))) == list(range(head["size"]))
    for party in ("Alpha", "Bravo"):
        done = _audit("verify", str(_export(tmp_path, hub_process.db, party)), "--key", key)
        assert done.returncode == 0, done.stderr


def test_three_parties_bundles_each_verify_and_disclose_only_their_own(hub_process: HubProcess, tmp_path: Path) -> None:
    made = _parties(hub_process, "Alpha", "Bravo", "Charlie")
    hub_process.start()
    start = datetime.now(UTC) + timedelta(hours=2)
    ops: dict[str, str] = {}
    for i, (party, name) in enumerate(zip(made, ("Alpha", "Bravo", "Charlie"), strict=True)):
        with _client(hub_process, party["token"]) as client:
            # Alpha and Bravo overlap; Charlie is alone, far away.
            lon = 30.0 + 0.02 * i if name != "Charlie" else 60.0
            ops[name] = _declare(client, lon, start, description=f"SECRET-{name}", callsign=f"CALL-{name}")[
                "operation"
            ]["id"]
    with _client(hub_process, made[0]["token"]) as alpha:
        key = alpha.get("/v1/audit/key").json()["public_key"]
        _wait_head_covers_log(alpha, hub_process.db)
    bundles = {}
    for name in ("Alpha", "Bravo", "Charlie"):
        path = _export(tmp_path, hub_process.db, name)
        done = _audit("verify", str(path), "--key", key)
        assert done.returncode == 0, done.stderr
        bundles[name] = json.loads(path.read_text())
    sizes = {b["size"] for b in bundles.values()}
    assert len(sizes) == 1  # the same log for all: every leaf, in the same order
    assert len({tuple(e["leaf_hash"] for e in b["entries"]) for b in bundles.values()}) == 1
    for name, bundle in bundles.items():
        shown = "".join(e["document"] for e in bundle["entries"] if "document" in e)
        for other in ("Alpha", "Bravo", "Charlie"):
            if other != name:
                assert f"SECRET-{other}" not in shown and f"CALL-{other}" not in shown and ops[other] not in shown
        assert f"SECRET-{name}" in shown
    kinds = {
        name: [orjson.loads(e["document"])["kind"] for e in b["entries"] if "document" in e]
        for name, b in bundles.items()
    }
    assert "conflict.opened" in kinds["Alpha"] and "conflict.opened" in kinds["Bravo"]
    assert "conflict.opened" not in kinds["Charlie"]
    shown = _audit("timeline", ops["Alpha"], "--db", str(hub_process.db), "--json")
    assert shown.returncode == 0, shown.stderr
    steps = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [s["kind"] for s in steps] == ["operation.declared", "conflict.opened"]
    assert steps[1]["index"] > steps[0]["index"] and steps[1]["at"] >= steps[0]["at"]
    table = _audit("timeline", ops["Alpha"], "--db", str(hub_process.db))
    assert table.returncode == 0 and "conflict.opened" in table.stdout
    missing = _audit("timeline", "op_none", "--db", str(hub_process.db))
    assert missing.returncode != 0 and "nothing about" in missing.stderr


def test_a_forked_log_is_caught_by_comparing_two_parties_heads(tmp_path: Path) -> None:
    first = HubProcess(db=tmp_path / "hub.db")
    forked = HubProcess(db=tmp_path / "fork.db")
    a, b = _parties(first, "Alpha", "Bravo")
    start = datetime.now(UTC) + timedelta(hours=2)
    first.start()
    try:
        with _client(first, a["token"]) as alpha:
            _declare(alpha, 10.0, start)
        first.stop()
        # The operator copies the database and runs a second hub: one history for Alpha, another for Bravo.
        shutil.copy(first.db, forked.db)
        first.start()
        forked.start()
        with _client(first, a["token"]) as alpha, _client(forked, b["token"]) as bravo:
            _declare(alpha, 11.0, start)
            _declare(bravo, 12.0, start)
            _declare(bravo, 13.0, start)
            key = alpha.get("/v1/audit/key").json()["public_key"]
            assert bravo.get("/v1/audit/key").json()["public_key"] == key  # same key: both heads sign validly
            head_a, head_b = alpha.get("/v1/audit/head").json(), bravo.get("/v1/audit/head").json()
            assert head_a["size"] < head_b["size"]
            # Bravo's hub serves a consistency proof from Alpha's size to its own; it cannot make one that holds.
            proof = bravo.get("/v1/audit/proof/consistency", params={"from": head_a["size"], "to": head_b["size"]})
            # The honest case for contrast: two heads from one hub are consistent.
            _declare(alpha, 14.0, start)
            head_a2 = alpha.get("/v1/audit/head").json()
            honest = alpha.get("/v1/audit/proof/consistency", params={"from": head_a["size"], "to": head_a2["size"]})
    finally:
        first.stop()
        forked.stop()
    files = {}
    for name, data in {"a": head_a, "b": head_b, "a2": head_a2, "proof": proof.json(), "honest": honest.json()}.items():
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(data))
    fork = _audit("compare", str(files["a"]), str(files["b"]), "--key", key, "--proof", str(files["proof"]))
    assert fork.returncode == 1 and "fork" in (fork.stdout + fork.stderr).lower()
    fine = _audit("compare", str(files["a"]), str(files["a2"]), "--key", key, "--proof", str(files["honest"]))
    assert fine.returncode == 0, fine.stdout + fine.stderr
