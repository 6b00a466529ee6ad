"""``/v1/tracks``: a party's live position reports in (a JSON array, or NDJSON streamed), its live tracks out."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, dumps, json_response, run_write
from deconfliction.api.parsers import Parsers
from deconfliction.core.model import Party
from deconfliction.core.tracks import Applied, Reports, parse_batch, parse_lines
from deconfliction.service import tracks
from deconfliction.service.hub import Hub

router = APIRouter(prefix="/v1/tracks", tags=["tracks"])

_NDJSON = ("application/x-ndjson", "application/ndjson", "application/jsonl")
_CHUNK = 1_000


async def _store(hub: Hub, caller: Party, reports: Reports, totals: dict[str, int]) -> None:
    applied: Applied = await run_write(hub, lambda tx: tracks.ingest(hub, tx, caller, reports))
    for name, value in asdict(applied).items():
        totals[name] += value


@router.post("")
async def report_tracks(request: Request, caller: CurrentParty, hub: HubDep) -> Response:
    """Position reports of your tracks: a JSON array of up to 10,000 reports, or NDJSON (one report per line,
    `Content-Type: application/x-ndjson`) streamed for as long as you like, stored every 1,000 lines. Each report:
    `track_id`, `time` (RFC 3339), `lat`, `lon`, `altitude` (m), `altitude_reference` (`BARO` (default), `AMSL`,
    `WGS84`), `ground_speed` (m/s), `track` (degrees true), `vertical_rate` (m/s, default 0), and optionally
    `callsign` and `icao24`. A batch with a bad report is refused whole (400 naming it); earlier NDJSON chunks
    stay stored. Reports older than `DECONFLICTION_TRACK_STALE_S` are dropped (`stale`), and a report never moves
    a track back in time (`out_of_order`). The answer counts them once everything sent is durable."""
    totals = {"accepted": 0, "stale": 0, "out_of_order": 0, "future": 0}
    kind = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    parsers: Parsers = request.app.state.parsers
    if kind in _NDJSON:
        pending: list[tuple[int, bytes]] = []
        size = 0
        buffer = b""
        number = 0
        async for chunk in request.stream():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                number += 1
                if line.strip():
                    pending.append((number, line))
                    size += len(line)
                if len(pending) == _CHUNK:
                    await _store(hub, caller, await parsers.parse(parse_lines, size, pending), totals)
                    pending, size = [], 0
        if buffer.strip():
            pending.append((number + 1, buffer))
            size += len(buffer)
        if pending:
            await _store(hub, caller, await parsers.parse(parse_lines, size, pending), totals)
    else:
        body = await request.body()
        await _store(hub, caller, await parsers.parse(parse_batch, len(body), body), totals)
    return json_response(200, dumps(totals))


@router.get("")
async def list_tracks(caller: CurrentParty, hub: HubDep) -> Response:
    """Your live tracks: the latest report of each, for tracks heard from within `DECONFLICTION_TRACK_STALE_S`."""
    mine = sorted(hub.tracks.of_party(caller.id), key=lambda s: s.track_id)
    return json_response(200, dumps({"tracks": [tracks.track_view(s) for s in mine]}))
