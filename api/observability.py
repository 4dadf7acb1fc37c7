"""Request ids, the access log, HTTP latency metrics and request spans for the API.

- `RequestContextMiddleware`: an `X-Request-ID` per request (taken from the caller when it is sane,
  else generated), bound to every log line of the request and echoed in the response; records
  `synergies_http_request_duration_seconds` labelled by the *route template* (`/activities/{id}`),
  never the raw path, so the label set stays bounded.
- `metrics_response()`: the Prometheus exposition served at the public `GET /metrics`.
- `instrument_app(app, settings)`: OpenTelemetry spans per request, off by default.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import REQUEST_LATENCY
from core.observability import ACCESS_LOGGER, configure_tracing
from core.settings import Settings

REQUEST_ID_HEADER = b"x-request-id"  # as ASGI spells header names
UNMATCHED_ROUTE = "<unmatched>"

# --- Request context and latency ----------------------------------------------------------------

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = structlog.get_logger(ACCESS_LOGGER)


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1").strip()
            if _SANE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path template (`/activities/{activity_id}`), or `<unmatched>`."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not path:
        return UNMATCHED_ROUTE
    root_path = scope.get("root_path", "") or ""
    app_root = getattr(scope.get("app"), "root_path", "") or ""
    # Mounted sub-apps: keep the mount prefix, not the deployment's root_path.
    prefix = root_path[len(app_root) :] if root_path.startswith(app_root) else ""
    return f"{prefix}{path}"


class RequestContextMiddleware:
    """Pure ASGI middleware (no BaseHTTPMiddleware: streaming and contextvars stay intact)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_request_id)
            finally:
                elapsed = time.perf_counter() - started
                route = route_template(scope)
                REQUEST_LATENCY.labels(scope.get("method", ""), route, str(status)).observe(elapsed)
                access_log.info(
                    "request",
                    method=scope.get("method"),
                    route=route,
                    path=scope.get("path"),
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )


def metrics_response() -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def instrument_app(app: FastAPI, settings: Settings) -> None:
    """OpenTelemetry spans for every request (health and metrics excluded); no-op when off."""
    provider = configure_tracing(settings)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls="/health,/metrics")
