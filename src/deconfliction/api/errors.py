"""Errors to HTTP, in one place: ``{"error": {"code", "message", "details"}}``. A 5xx is a bug."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from deconfliction.core.errors import (
    DeconflictionError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    InvalidVolume,
    NotFound,
    PreconditionRequired,
    Unauthenticated,
    VersionConflict,
)

log = logging.getLogger("deconfliction.api")

STATUS: dict[type[DeconflictionError], int] = {
    InvalidVolume: 422,
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    InvalidTransition: 409,
    VersionConflict: 412,
    PreconditionRequired: 428,
}


def status_of(exc: DeconflictionError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) if parts else "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(DeconflictionError)
    async def _domain(_: Request, exc: DeconflictionError) -> Response:
        return error_response(status_of(exc), exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            ctx = errors[0].get("ctx", {})
            return error_response(
                400,
                "invalid_json",
                f"The request body is not valid JSON ({ctx.get('error', 'parse error')}); send a JSON object.",
            )
        problems = [{"field": _loc(tuple(e["loc"])), "problem": e["msg"]} for e in errors]
        first = problems[0]
        return error_response(
            422,
            "invalid_request",
            f"{first['field']}: {first['problem']}"
            + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
            {"problems": problems},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
        message = {
            404: "No such endpoint; see /openapi.json for the API.",
            405: "This endpoint does not accept that method; see /openapi.json.",
        }.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), message)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal", "The hub failed to handle this request; this is a bug, report it.")
