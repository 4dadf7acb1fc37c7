"""The ASGI app: `api.main:app` (settings from the environment) or `create_app(settings)` in tests."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from api.bodylimit import BodySizeLimitMiddleware
from api.deps import ApiTokenAuthenticator, SessionDep
from api.docs_ui import install_docs
from api.headers import SecurityHeadersMiddleware
from api.observability import RequestContextMiddleware, instrument_app, metrics_response
from api.openapi import install_openapi, operation_id
from api.problems import install_error_handlers
from api.ratelimit import AuthFailureLimiter
from api.routes import ROUTERS
from api.web import install_web
from api.web.oversight import install_oversight_pages
from core.observability import configure_logging
from core.settings import Settings, get_settings
from models.db import create_engine, session_factory
from workflows.client import connect
from workflows.commands import LifecycleHooks

DESCRIPTION = """Tracks the joint activities of the Basel, Rotterdam, Stockholm and Minamata
conventions through their stages (thematic group → task team → pilot project → report to COP),
with every transition recorded and reported to the COPs."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    engine = create_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="Synergies Tracker",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from the app's own files by install_docs: no CDN
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = session_factory(engine)
    app.state.temporal = None
    app.state.temporal_lock = asyncio.Lock()
    app.state.connect_temporal = lambda: connect(settings)
    app.state.authenticators = [ApiTokenAuthenticator()]
    if settings.oidc_issuer:
        from services.oidc import OIDCAuthenticator

        app.state.authenticators.append(OIDCAuthenticator(settings))
    app.state.auth_failures = AuthFailureLimiter(settings.auth_failures_per_minute)
    app.state.lifecycle_hooks = LifecycleHooks(app.state)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    install_openapi(app)
    install_docs(app)
    app.add_middleware(RequestContextMiddleware)
    instrument_app(app, settings)

    if settings.metrics_enabled:
        # Public on purpose (no secrets, no per-user data): scrape it on the internal network.
        app.add_api_route(
            "/metrics",
            metrics_response,
            methods=["GET"],
            tags=["health"],
            summary="Prometheus metrics",
            include_in_schema=False,
        )

    @app.get(
        "/health",
        tags=["health"],
        summary="Liveness and the database it reaches",
        responses={200: {"content": {"application/json": {"example": {"status": "ok", "database": "ok"}}}}},
    )
    async def health(session: SessionDep) -> dict[str, str]:
        await session.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}

    for router in ROUTERS:
        app.include_router(router)
    install_web(app)
    install_oversight_pages(app)
    return app


def freeze_startup_heap() -> None:
    """Keep what exists by now (modules, routes, schemas, mappers: ~190,000 objects, alive as long
    as the process) out of the collector's full passes, which otherwise paused requests by
    100-200 ms: the tail of the dashboard's HTTP p95 (bench/dashboard.py). Call it once the app
    is built; objects created later are collected as usual."""
    gc.collect()
    gc.freeze()


def __getattr__(name: str) -> FastAPI:
    # `api.main:app` is built on first access, so importing this module reads no settings.
    if name == "app":
        globals()["app"] = application = create_app()
        freeze_startup_heap()
        return application
    raise AttributeError(name)
