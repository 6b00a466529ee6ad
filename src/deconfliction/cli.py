"""The ``deconfliction`` command: run the hub, run the demo, administer parties."""

from __future__ import annotations

import gc
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from deconfliction.api.app import create_app
from deconfliction.config import Settings
from deconfliction.core.errors import DeconflictionError
from deconfliction.core.model import Role
from deconfliction.service import admin, endpoints
from deconfliction.service.endpoints import EndpointDraft
from deconfliction.service.hub import Hub, utcnow
from deconfliction.store.port import UnitOfWork
from deconfliction.store.sql import SqlStore

app = typer.Typer(help="Deconfliction hub: declare, detect, notify, acknowledge.", no_args_is_help=True)
admin_app = typer.Typer(help="Create parties and coalitions, rotate tokens.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")

DbOption = Annotated[Path, typer.Option("--db", envvar="DECONFLICTION_DB", help="SQLite database file.")]
HostOption = Annotated[str, typer.Option(envvar="DECONFLICTION_HOST", help="Listen address.")]
PortOption = Annotated[int, typer.Option(envvar="DECONFLICTION_PORT", help="Listen port.")]
err = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


def _open_hub(settings: Settings) -> Hub:
    return Hub(SqlStore.sqlite(settings.db, settings.sqlite_synchronous), settings)


def _serve(settings: Settings, hub: Hub) -> None:
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


@app.command()
def demo(
    db: DbOption = Path("demo.db"),
    host: HostOption = "127.0.0.1",
    port: PortOption = 8321,
) -> None:
    """Seed a demo theatre (five parties, operations, a hospital), print tokens and curl lines, serve."""
    from deconfliction.demo import seed

    settings = _settings(db=db, host=host, port=port)
    hub = _open_hub(settings)
    tokens = seed(hub)
    base = f"http://{host}:{port}"
    out = Console()
    out.print(f"[bold]Deconfliction hub demo[/bold] on {base} (db {db}). Tokens (new at each start):")
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
        found, token = admin.rotate_token(uow, party)
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


def main() -> None:
    app()
