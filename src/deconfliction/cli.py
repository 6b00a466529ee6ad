"""The ``deconfliction`` command: run the hub, run the demo, administer parties."""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import re
import secrets
import sys
import threading
import urllib.request
import webbrowser
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from deconfliction.config import Settings
from deconfliction.core.bundle import Verdict, fork_between, verify_bundle
from deconfliction.core.errors import DeconflictionError
from deconfliction.core.model import Role
from deconfliction.service import admin, audit, endpoints
from deconfliction.service.endpoints import EndpointDraft
from deconfliction.service.hub import Hub, utcnow
from deconfliction.service.timeline import timeline
from deconfliction.service.workers import keep_on_one_core
from deconfliction.store.port import UnitOfWork
from deconfliction.store.sql import SqlStore

app = typer.Typer(help="Deconfliction hub: declare, detect, notify, acknowledge.", no_args_is_help=True)
admin_app = typer.Typer(help="Create parties and coalitions, rotate tokens.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
audit_app = typer.Typer(help="Export and check the hub's tamper-evident record.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
ingest_app = typer.Typer(help="Feed live position reports into a running hub.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")

DbOption = Annotated[Path, typer.Option("--db", envvar="DECONFLICTION_DB", help="SQLite database file.")]
HostOption = Annotated[str, typer.Option(envvar="DECONFLICTION_HOST", help="Listen address.")]
PortOption = Annotated[int, typer.Option(envvar="DECONFLICTION_PORT", help="Listen port.")]
err = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def _open_hub(settings: Settings) -> Hub:
    """The hub to serve, on the one core it will run on (``service.workers.keep_on_one_core``)."""
    try:
        core = keep_on_one_core(settings.cpu)
    except ValueError as e:
        raise _fail(f"DECONFLICTION_CPU: {e}") from e
    if core is not None:
        err.print(f"on CPU core {core} (DECONFLICTION_CPU=off lets the system move it)")
    return Hub(SqlStore.sqlite(settings.db, settings.sqlite_synchronous), settings)


def _serve(settings: Settings, hub: Hub) -> None:
    # Imported here: the web stack costs a second to load, which the audit and admin commands need not pay.
    import uvicorn

    from deconfliction.api.app import create_app

    # The index of a large theatre is millions of long-lived objects: keep them out of every garbage collection
    # (a full one over a million volumes pauses the hub for ~0.5 s).
    gc.collect()
    gc.freeze()
    # Collect the young generation every 10,000 allocations instead of 700: a declaration allocates a few hundred
    # short-lived objects, and at the default the hub's tail latency over HTTP was 3-4x worse (bench/NOTES.md).
    gc.set_threshold(10_000, 10, 10)
    uvicorn.run(
        create_app(settings, hub),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )


@app.command()
def serve(
    db: DbOption = Path("deconfliction.db"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 8321,
) -> None:
    """Serve the API and the event streams."""
    settings = _settings(db=db, host=host, port=port)
    err.print(f"deconfliction hub on http://{host}:{port} (db {db}): loading…")
    hub = _open_hub(settings)
    err.print(f"ready: {len(hub.index):,} live volumes indexed; API at http://{host}:{port}/docs")
    _serve(settings, hub)


def _open_when_up(url: str) -> None:
    """Open the map in the desktop's browser once the hub answers (only where there is a desktop to show it)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform in ("darwin", "win32")):
        return

    def wait_then_open() -> None:
        for _ in range(600):
            try:
                with urllib.request.urlopen(url + "healthz", timeout=1):
                    webbrowser.open(url)
                    return
            except OSError:
                threading.Event().wait(0.1)  # polling for the port to open

    threading.Thread(target=wait_then_open, daemon=True).start()


@app.command()
def demo(
    db: DbOption = Path("demo.db"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 8321,
    open_map: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the map in a browser (with a desktop).")
    ] = True,
) -> None:
    """Seed a demo theatre (five parties, operations, a hospital, a deconfliction line), print tokens and curl
    lines, serve, and open the map where there is a desktop."""
    from deconfliction.demo import seed

    settings = _settings(db=db, host=host, port=port)
    hub = _open_hub(settings)
    tokens = seed(hub)
    base = f"http://{host}:{port}"
    out = Console()
    out.print(f"[bold]Deconfliction hub demo[/bold] on {base} (db {db}).")
    out.print(f"The map: [bold]{base}/[/bold] (sign in with one of these tokens; new at each start):")
    for name, token in tokens.items():
        out.print(f"  {name:<18} {token}")
    first = next(iter(tokens.values()))
    out.print("\nTry:", highlight=False)
    for line in (
        f"curl -s -H 'Authorization: Bearer {first}' '{base}/v1/conflicts?status=open'",
        f"curl -s -H 'Authorization: Bearer {first}' {base}/v1/operations",
        f"curl -sN -H 'Authorization: Bearer {first}' {base}/v1/events",
        f"open {base}/docs for the whole API",
    ):
        out.print("  " + line, highlight=False, soft_wrap=True)
    if open_map:
        _open_when_up(base + "/")
    _serve(settings, hub)


@contextmanager
def _admin_uow(db: Path) -> Iterator[UnitOfWork]:
    """One transaction on the database; a user's mistake prints its message and exits with status 2."""
    store = SqlStore.sqlite(db)
    try:
        with store.write() as uow:
            yield uow
    except DeconflictionError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    finally:
        store.close()


@admin_app.command("create-coalition")
def create_coalition(name: str, db: DbOption = Path("deconfliction.db")) -> None:
    """Create a coalition; prints {"coalition_id", "name"}."""
    with _admin_uow(db) as uow:
        coalition = admin.create_coalition(uow, name, utcnow())
    typer.echo(json.dumps({"coalition_id": coalition.id, "name": coalition.name}))


@admin_app.command("create-party")
def create_party(
    name: str,
    coalition: Annotated[str | None, typer.Option(help="Coalition name (created if new).")] = None,
    role: Annotated[Role, typer.Option(help="party, or monitor (reads conflicts only).")] = Role.PARTY,
    language: Annotated[str, typer.Option(help="Language message templates are rendered in: en ru ar fr uk.")] = "en",
    db: DbOption = Path("deconfliction.db"),
) -> None:
    """Create a party; prints {"party_id", "token"}. The token is shown only this once."""
    with _admin_uow(db) as uow:
        party, token = admin.create_party(uow, name, role, coalition, utcnow(), language)
    typer.echo(json.dumps({"party_id": party.id, "name": party.name, "token": token}))


@admin_app.command("rotate-token")
def rotate_token(party: str, db: DbOption = Path("deconfliction.db")) -> None:
    """Give a party (id or name) a new token; the old one stops working (within 2 s on a running hub).
    Prints {"party_id", "token"}."""
    with _admin_uow(db) as uow:
        found, token = admin.rotate_token(uow, party, utcnow())
    typer.echo(json.dumps({"party_id": found.id, "token": token}))


@admin_app.command("create-endpoint")
def create_endpoint(
    party: str,
    name: str,
    duty: Annotated[bool, typer.Option(help="Told when a notice to the party misses its deadline.")] = False,
    subscribe: Annotated[
        list[str] | None, typer.Option(help="An event family it receives (repeat); default: everything.")
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where its events are pushed: signed POSTs, in order (README, Webhooks).")
    ] = None,
    db: DbOption = Path("deconfliction.db"),
) -> None:
    """Register a unit of a party (id or name); prints {"endpoint_id", "token", "webhook_secret"}, shown once."""
    draft = EndpointDraft(name, duty, frozenset(subscribe) if subscribe else None, webhook_url)
    with _admin_uow(db) as uow:
        owner = admin.find_party(uow, party)
        done = endpoints.create(uow, owner, draft, f"ep_{secrets.token_hex(8)}", utcnow())
    typer.echo(
        json.dumps({"endpoint_id": done.endpoint.id, "token": done.token, "webhook_secret": done.webhook_secret})
    )


@admin_app.command("create-channel")
def create_channel(
    name: str,
    members: Annotated[list[str], typer.Argument(help="Two or more parties (ids or names).")],
    db: DbOption = Path("deconfliction.db"),
) -> None:
    """Open an active channel between parties; prints {"channel_id", "name"}."""
    with _admin_uow(db) as uow:
        channel = admin.create_channel(uow, name, members, utcnow())
    typer.echo(json.dumps({"channel_id": channel.id, "name": channel.name}))


# --- the record ---

KeyOption = Annotated[str, typer.Option("--key", help="The hub's public key: 64 hex digits, or a file holding them.")]
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(message, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _hub_public_key(value: str) -> str:
    """64 hex digits, or a file holding them (bare, or as GET /v1/audit/key's {"public_key": ...})."""
    text = value.strip()
    if not _HEX_KEY.fullmatch(text):
        try:
            text = Path(value).read_text().strip()
        except OSError as exc:
            raise _fail(f"error: --key is neither 64 hex digits nor a readable file: {exc}") from exc
        if text.startswith("{"):
            try:
                found = orjson.loads(text)
            except orjson.JSONDecodeError:
                found = None
            text = str(found.get("public_key", "")) if isinstance(found, dict) else text
        if not _HEX_KEY.fullmatch(text):
            raise _fail(f"error: {value} does not hold a public key (64 hex digits)")
    return text.lower()


def _read_json(path: Path, what: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise _fail(f"error: cannot read {what} {path}: {exc}") from exc


def _known_heads(path: Path) -> list[Any]:
    """A JSON list of heads, one head, or one head per line (what appending each fetched head to a file gives)."""
    try:
        data = path.read_bytes()
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            value = [orjson.loads(line) for line in data.splitlines() if line.strip()]
    except (OSError, orjson.JSONDecodeError) as exc:
        raise _fail(f"error: cannot read known heads {path}: {exc}") from exc
    return value if isinstance(value, list) else [value]


@audit_app.command("export")
def audit_export(
    party: Annotated[str, typer.Option("--party", help="The party (id or name) whose view is exported.")],
    db: DbOption = Path("deconfliction.db"),
    max_heads: Annotated[int, typer.Option("--max-heads", min=2, help="Keep at most N signed heads.")] = 1000,
) -> None:
    """Print the party's audit bundle (JSON): every entry up to the latest signed head, the documents the party
    may read, signed heads and the consistency proofs between them."""
    if not db.is_file():
        raise _fail(f"error: no database at {db}")
    store = SqlStore.sqlite(db)
    try:
        with store.read() as uow:
            bundle = audit.export_bundle(uow, admin.find_party(uow, party).id, max_heads, utcnow())
    except DeconflictionError as exc:
        raise _fail(f"error: {exc.message}") from exc
    finally:
        store.close()
    typer.echo(orjson.dumps(bundle))


@audit_app.command("verify")
def audit_verify(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `deconfliction audit export`.")],
    key: Annotated[str | None, typer.Option("--key", help="The hub's public key: 64 hex, or a file.")] = None,
    known_heads: Annotated[
        Path | None, typer.Option("--known-heads", help="Heads you saved from GET /v1/audit/head (JSON or lines).")
    ] = None,
) -> None:
    """Check a bundle with the hub's key alone; exit 1 naming the first bad index if anything was changed."""
    data = _read_json(bundle, "bundle")
    if not isinstance(data, dict):
        raise _fail(f"bad bundle — {bundle} is not a JSON object", 1)
    if key is None:
        public = str(data.get("hub_key", ""))
        err.print(
            f"warning: no --key: checking with the key the bundle itself claims ({public}). That shows the bundle"
            " is consistent, not that the hub signed it: get the hub's key from a source you trust.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        public = _hub_public_key(key)
    report = verify_bundle(data, public, _known_heads(known_heads) if known_heads else ())
    if report.ok:
        Console().print(f"ok: {report.message}", markup=False, highlight=False, soft_wrap=True)
        return
    where = "bad bundle" if report.first_bad_index is None else f"first bad index: {report.first_bad_index}"
    also = "".join(f"\n  also: {p}" for p in report.problems[1:11])
    raise _fail(f"{where} — {report.message}{also}", 1)


@audit_app.command("compare")
def audit_compare(
    head_a: Annotated[Path, typer.Argument(help="A signed head (JSON), as GET /v1/audit/head served it.")],
    head_b: Annotated[Path, typer.Argument(help="Another signed head, e.g. one another party was served.")],
    key: KeyOption,
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Consistency proof (JSON) from GET /v1/audit/proof/consistency.")
    ] = None,
) -> None:
    """Split-view check: exit 1 ("fork") when the two signed heads cannot both be honest, 0 when consistent,
    2 when undecided (a proof is needed, or a head is not signed by the key)."""
    public = _hub_public_key(key)
    found = fork_between(
        _read_json(head_a, "head"), _read_json(head_b, "head"), _read_json(proof, "proof") if proof else None, public
    )
    if found.verdict is Verdict.CONSISTENT:
        Console().print(f"consistent: {found.message}", markup=False, highlight=False, soft_wrap=True)
        return
    if found.verdict is Verdict.FORK:
        raise _fail(found.message, 1)
    raise _fail(f"undecided: {found.message}", 2)


@audit_app.command("timeline")
def audit_timeline(
    object_id: Annotated[str, typer.Argument(help="An operation, site, conflict or message id.")],
    db: DbOption = Path("deconfliction.db"),
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
) -> None:
    """The incident timeline of an object, from the record: every notice, delivery, acknowledgement and escalation
    about it (and the conflicts it was in), in order, with times, log indexes and leaf hashes."""
    if not db.is_file():
        raise _fail(f"error: no database at {db}")
    store = SqlStore.sqlite(db)
    try:
        with store.read() as uow:
            steps = timeline(uow, object_id)
    except DeconflictionError as exc:
        raise _fail(f"error: {exc.message}") from exc
    finally:
        store.close()
    if as_json:
        for step in steps:
            typer.echo(orjson.dumps(dataclasses.asdict(step)))
        return
    table = Table("time (UTC)", "index", "what", "party", "detail", title=f"Timeline of {object_id}")
    for step in steps:
        table.add_row(step.at, str(step.index), step.kind, step.party or "", step.detail)
    Console(width=200).print(table)


# --- live tracks: feeds into a running hub ---

HubUrlOption = Annotated[str, typer.Option("--hub", envvar="DECONFLICTION_HUB", help="The running hub's URL.")]
TokenOption = Annotated[
    str,
    typer.Option(
        "--as", envvar="DECONFLICTION_TOKEN", help="The party's (or one of its endpoints') token.", show_default=False
    ),
]
RetryOption = Annotated[
    float, typer.Option("--retry-for", min=0, help="Seconds to retry a batch the hub cannot take before giving it up.")
]


def _feed_logging() -> None:
    """Feeds say what they retry, drop or give up on, on stderr."""
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    feeds_log = logging.getLogger("deconfliction.feeds")
    feeds_log.addHandler(handler)
    feeds_log.setLevel(logging.INFO)


def _run_feed(work: Coroutine[Any, Any, dict[str, Any]]) -> None:
    """Run a feed; print its counts (JSON) on stdout. A refusal or an unreadable source exits 2, Ctrl-C 130."""
    import asyncio

    from deconfliction.feeds.client import HubRefused
    from deconfliction.feeds.ingest import FeedError

    try:
        summary = asyncio.run(work)
    except (HubRefused, FeedError) as exc:
        raise _fail(f"error: {exc}") from exc
    except KeyboardInterrupt:
        raise _fail("interrupted", 130) from None
    typer.echo(json.dumps(summary))


@ingest_app.command("sbs")
def ingest_sbs(
    source: Annotated[str, typer.Argument(help="The receiver's SBS-1 (BaseStation) port, e.g. 127.0.0.1:30003.")],
    token: TokenOption,
    hub: HubUrlOption = "http://127.0.0.1:8321",
    receiver_utc_offset: Annotated[
        float, typer.Option(help="Hours the receiver's local clock is ahead of UTC (its SBS times are local).")
    ] = 0.0,
    arrival_time: Annotated[
        bool, typer.Option("--arrival-time", help="Stamp reports with the time lines arrive, not the receiver's.")
    ] = False,
    flush: Annotated[float, typer.Option("--flush", min=0.05, help="Post what has gathered every this many s.")] = 1.0,
    batch: Annotated[int, typer.Option("--batch", min=1, max=10_000, help="Reports per POST at most.")] = 1_000,
    max_reports: Annotated[
        int | None, typer.Option("--max-reports", min=1, help="Stop after this many reports (all posted).")
    ] = None,
    exit_on_eof: Annotated[
        bool, typer.Option("--exit-on-eof", help="Stop when the receiver closes the stream instead of reconnecting.")
    ] = False,
    retry_for: RetryOption = 60.0,
) -> None:
    """Read an ADS-B receiver's SBS-1 stream (dump1090's port 30003) and feed its aircraft to a running hub as
    position reports (track id = ICAO address). Runs until stopped (Ctrl-C posts what was read); prints counts."""
    from deconfliction.feeds.ingest import SbsFeed, parse_address, run_sbs
    from deconfliction.feeds.sbs import Assembler

    try:
        host, port = parse_address(source)
    except ValueError as exc:
        raise _fail(f"error: {exc}") from exc
    _feed_logging()
    feed = SbsFeed(host, port, flush_s=flush, batch=batch, max_reports=max_reports, exit_on_eof=exit_on_eof)
    assembler = Assembler(utc_offset_s=receiver_utc_offset * 3600.0, use_arrival_time=arrival_time)
    _run_feed(run_sbs(feed, assembler, hub, token, retry_for))


@app.command()
def replay(
    file: Annotated[Path, typer.Argument(help="State vectors: CSV (.csv, .csv.gz) or Parquet, OpenSky or traffic.")],
    token: TokenOption,
    hub: HubUrlOption = "http://127.0.0.1:8321",
    speed: Annotated[
        float, typer.Option("--speed", min=0.001, help="Times real time, e.g. 60: a minute a second.")
    ] = 1.0,
    batch: Annotated[int, typer.Option("--batch", min=1, max=10_000, help="Reports per POST at most.")] = 1_000,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    retry_for: RetryOption = 60.0,
) -> None:
    """Replay recorded state vectors into a running hub, shifted to now: the file's first time is the replay's
    start, and it advances at --speed times real time. Prints counts."""
    from deconfliction.feeds.replay import RecordingError, read_recording, run_replay

    try:
        recording = read_recording(file)
    except RecordingError as exc:
        raise _fail(f"error: {exc}") from exc
    if not recording.reports:
        raise _fail(f"error: nothing to replay in {file}: {recording.rows:,} rows, skipped {recording.skipped}")
    _feed_logging()
    err.print(
        f"{file}: {len(recording.reports):,} reports of {recording.rows:,} rows ({recording.layout}), "
        f"{recording.duration_s:,.0f} s of recording: {recording.duration_s / speed:,.0f} s at {speed:g}x",
        highlight=False,
    )
    _run_feed(run_replay(recording, hub, token, speed, batch, retry_for, progress))


def main() -> None:
    app()
