"""The handlers that turn every failure into RFC 9457 problem details."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import DomainError
from core.versions import etag_for

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Seconds a client should wait before retrying, when the error does not say (Retry-After).
DEFAULT_RETRY_AFTER = {429: 1, 503: 5}


def problem_body(
    status: int, code: str, detail: str, *, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    retry_after: int | None = None,
    **extra: Any,
) -> JSONResponse:
    """The problem response; keeps the headers that go with the status (Allow on 405 comes in
    `headers`; WWW-Authenticate on 401; Retry-After on 429 and 503)."""
    body = problem_body(status, code, detail, instance=instance, **extra)
    all_headers = dict(headers or {})
    if status == 401:
        all_headers.setdefault("WWW-Authenticate", "Bearer")
    if status in DEFAULT_RETRY_AFTER:
        all_headers.setdefault("Retry-After", str(retry_after or DEFAULT_RETRY_AFTER[status]))
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=all_headers)


def _describe_validation_error(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
    return f"{location}: {error.get('msg')}" if location else str(error.get("msg"))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        if "current_version" in exc.extra:  # a stale version: the ETag to send in If-Match next
            exc.extra.setdefault("current_etag", etag_for(exc.extra["current_version"]))
        return problem(
            exc.status,
            exc.code,
            exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            retry_after=exc.retry_after,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()
        ]
        detail = "; ".join(_describe_validation_error(e) for e in exc.errors()) or "invalid request"
        return problem(422, "validation_error", detail, instance=request.url.path, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        return problem(exc.status_code, code, str(exc.detail), instance=request.url.path, headers=exc.headers)

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError) -> JSONResponse:
        # Another write landed between this request's read and its write (no If-Match involved).
        return problem(
            409,
            "stale_version",
            "the record changed while this request ran; fetch it again",
            instance=request.url.path,
        )

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        logger.info("integrity error: %s", exc.orig)
        return problem(
            409,
            "integrity_conflict",
            "the change conflicts with existing data (a duplicate or a missing reference)",
            instance=request.url.path,
        )

    @app.exception_handler(DBAPIError)
    async def database_down(request: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc, OperationalError | InterfaceError) or exc.connection_invalidated:
            logger.warning("database unavailable: %s", exc.__class__.__name__)
            return problem(
                503,
                "database_unavailable",
                "the database is unreachable; nothing was changed",
                instance=request.url.path,
            )
        if isinstance(exc, DataError):  # e.g. an id beyond PostgreSQL's integer range
            return problem(
                422,
                "value_out_of_range",
                "a value in the request is out of range for the database (a number too large?)",
                instance=request.url.path,
            )
        logger.exception("database error")
        return problem(
            400, "database_rejected", "the database rejected the request", instance=request.url.path
        )

    @app.exception_handler(OverflowError)
    async def number_out_of_range(request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver raises this for an integer beyond 64 bits (an id, a filter value).
        return problem(
            422,
            "number_out_of_range",
            "a number in the request is too large for the database (integers are 64-bit at most)",
            instance=request.url.path,
        )

    @app.exception_handler(OSError)
    async def connection_refused(request: Request, exc: OSError) -> JSONResponse:
        logger.warning("backing service unreachable: %s", exc)
        return problem(
            503,
            "service_unavailable",
            "a backing service is unreachable; nothing was changed",
            instance=request.url.path,
        )
