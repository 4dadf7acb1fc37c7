"""Logs and tracing for every process (API, workers, CLI); the HTTP side is api/observability.py.

- `configure_logging(settings)`: structlog for our code *and* the stdlib loggers (uvicorn,
  SQLAlchemy, temporalio), JSON lines when `SYNERGIES_LOG_JSON=true`, secrets redacted by
  `redact_secrets`.
- `configure_tracing(settings)`: OpenTelemetry, off by default.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

import structlog

from core.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

REDACTED = "[REDACTED]"
ACCESS_LOGGER = "synergies.access"

# --- Redaction ----------------------------------------------------------------------------------

# Keys whose values are secrets wherever they appear in a log event (also nested, e.g. headers).
_SECRET_KEY = re.compile(
    r"(authorization|token|secret|password|passwd|pwd|api[_-]?key|cookie|credential|signature"
    r"|private[_-]?key|client[_-]?secret)",
    re.IGNORECASE,
)
# Longer strings are cut before they are scanned (and logged): a 1 MB query string is not worth a
# log line, and the cut bounds the work per value.
MAX_LOGGED_CHARS = 64 * 1024

# Secrets inside free text: bearer/basic credentials, our API tokens, JWTs, passwords in URLs.
# Every pattern is linear in the text: a run may only start where the run's own characters do not
# precede it (lookbehind) and is matched possessively, so no character is rescanned from every
# position of a long run (the quadratic backtracking an 18-second request once came from).
_TOKEN_RUN = r"[A-Za-z0-9_-]"
_SECRET_TEXT = [
    (re.compile(r"(?i)\b(bearer|basic)\s++[A-Za-z0-9._~+/=-]++"), r"\1 " + REDACTED),
    (re.compile(rf"(?<!{_TOKEN_RUN})syn_{_TOKEN_RUN}{{8,}}+"), "syn_" + REDACTED),
    # One-time sign-in links and calendar feeds (services/web_auth.py) carry a secret in the path.
    (re.compile(rf"(/app/sign-in/|/calendar/){_TOKEN_RUN}{{16,}}+"), r"\1" + REDACTED),
    (
        re.compile(rf"(?<!{_TOKEN_RUN})eyJ{_TOKEN_RUN}*+\.{_TOKEN_RUN}++\.{_TOKEN_RUN}*+"),
        REDACTED,
    ),
    # scheme://user:password@ ; a password holds no unencoded "/" (RFC 3986 userinfo).
    (
        re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*+://[^:/@\s]++:)[^@\s/]++@"),
        r"\1" + REDACTED + "@",
    ),
]
# `key=value` / `key: value` pairs whose key names a secret: any key-like word followed by a
# separator is found (linearly), then only secret-named keys have their value replaced.
_KEY_AND_SEPARATOR = re.compile(r"(?i)(?<![a-z0-9_-])[a-z_-][a-z0-9_-]*+\s*+[=:]\s*+")
_SECRET_WORD = re.compile(r"(?i)token|secret|password|passwd|api[_-]?key")
_VALUE = re.compile(r"\"[^\"\n]{0,1024}\"|'[^'\n]{0,1024}'|[^\s,;&]++")


def _redact_key_values(text: str) -> str:
    parts: list[str] = []
    position = 0
    for match in _KEY_AND_SEPARATOR.finditer(text):
        if match.start() < position or not _SECRET_WORD.search(match.group()):
            continue
        value = _VALUE.match(text, match.end())
        if value is None:
            continue
        parts += [text[position : match.end()], REDACTED]
        position = value.end()
    return "".join(parts) + text[position:] if parts else text


def redact_text(text: str) -> str:
    if len(text) > MAX_LOGGED_CHARS:
        text = f"{text[:MAX_LOGGED_CHARS]} …[{len(text) - MAX_LOGGED_CHARS} more characters not logged]"
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return _redact_key_values(text)


def _redact(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if isinstance(key, str) and _SECRET_KEY.search(key) else _redact(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        # Header pairs from ASGI scopes: [(b"authorization", b"Bearer ..."), ...]
        if len(value) == 2 and isinstance(value[0], str | bytes):
            key = value[0].decode("latin-1") if isinstance(value[0], bytes) else value[0]
            if _SECRET_KEY.search(key):
                return (key, REDACTED) if isinstance(value, tuple) else [key, REDACTED]
        return type(value)(_redact(item, depth + 1) for item in value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: drop the values of secret-named keys and scrub secrets from text."""
    for key in list(event_dict):
        value = event_dict[key]
        if key != "event" and _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _redact(value)
    return event_dict


# --- Logging ------------------------------------------------------------------------------------


def _render_exception_then_redact(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    # Tracebacks quote argument values (a token passed to a function): render, then scrub.
    event_dict = structlog.processors.format_exc_info(logger, method, event_dict)
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = redact_text(event_dict["exception"])
    return event_dict


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at emit time (test capture swaps it; never stale)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(settings: Settings) -> None:
    """Route structlog and the stdlib loggers through one pipeline ending in the redactor.

    Safe to call more than once (tests, API + worker in one process): the root handler is replaced.
    """
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        level = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _render_exception_then_redact,
            redact_secrets,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("synergies")
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "synergies":
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn installs its own handlers; let its records flow to ours (one format, redacted).
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # One line per request: ours (`synergies.access`, with the request id and route) replaces
    # uvicorn's. `uvicorn --no-access-log` leaves uvicorn's logger without handlers or propagation
    # (read before it is changed here) and turns ours off, as does `SYNERGIES_ACCESS_LOG=false`.
    uvicorn_access = logging.getLogger("uvicorn.access")
    uvicorn_said_no = not uvicorn_access.handlers and not uvicorn_access.propagate
    uvicorn_access.handlers.clear()
    uvicorn_access.propagate = True
    uvicorn_access.disabled = True
    logging.getLogger(ACCESS_LOGGER).disabled = uvicorn_said_no or not settings.access_log
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


# --- Tracing ------------------------------------------------------------------------------------

_tracer_provider: TracerProvider | None = None


def configure_tracing(settings: Settings, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """The process-wide OpenTelemetry tracer provider, or None when `otel_enabled` is false.

    Spans go to the OTLP/HTTP endpoint `settings.otel_endpoint` (e.g.
    `http://otel-collector:4318/v1/traces`); tests pass an in-memory `exporter`. Set once per
    process: OpenTelemetry allows one global provider, and the Temporal interceptor uses it.
    """
    global _tracer_provider
    if not settings.otel_enabled:
        return None
    if _tracer_provider is not None:
        if exporter is not None:
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor

            _tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        return _tracer_provider
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": settings.otel_service_name})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        otlp = (
            OTLPSpanExporter(endpoint=settings.otel_endpoint)
            if settings.otel_endpoint
            else OTLPSpanExporter()
        )
        provider.add_span_processor(BatchSpanProcessor(otlp))
    trace.set_tracer_provider(provider)
    _tracer_provider = provider
    return provider
