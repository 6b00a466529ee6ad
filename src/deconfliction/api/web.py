"""The map page: ``GET /`` and its assets under ``/static``, built from ``web/`` by ``npm run build``.

The page may talk to this hub only: its Content-Security-Policy names no other host, so a stray CDN link or a web
tile would fail in the browser instead of leaking where the operator is looking.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}
NOT_BUILT = (
    "<!doctype html><title>Map not built</title><p>The map page has not been built. Run <code>scripts/setup</code> "
    "(it runs <code>npm ci &amp;&amp; npm run build</code> in <code>src/deconfliction/web</code>), then reload.</p>"
)


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


def install(app: FastAPI, dist: Path = DIST) -> None:
    """Serve the built page at ``/`` and its files at ``/static``."""

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=404, headers=HEADERS)
        return FileResponse(index, media_type="text/html; charset=utf-8", headers=HEADERS)

    app.mount("/static", _Assets(directory=dist, check_dir=False), name="static")
