"""The web app for the people who do the work (/app/): sign-in by one-time link, board, activity
page, moves, my work. Mounted by api.main next to the API, sharing its services and role guards."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.web.pages import NEXT_COOKIE, router
from api.web.templating import STATIC_DIR, render
from core.errors import DomainError


def _is_page(request: Request) -> bool:
    return request.url.path.startswith("/app/")


def install_web(app: FastAPI) -> None:
    """Add the app's routes and static files, and answer its failures with pages, not JSON."""
    app.include_router(router)
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="app-static")
    api_domain_error = app.exception_handlers[DomainError]
    api_validation_error = app.exception_handlers[RequestValidationError]

    async def domain_error(request: Request, exc: Exception) -> Response:
        if not _is_page(request) or not isinstance(exc, DomainError):
            return await api_domain_error(request, exc)  # type: ignore[misc,no-any-return]
        if exc.status == 401:
            # Back to the page asked for once signed in: the sign-in link may open in another tab,
            # so the page travels in a short cookie rather than in the link.
            response = RedirectResponse("/app/sign-in", status_code=303)
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                response.set_cookie(NEXT_COOKIE, quote(target), max_age=3600, httponly=True, samesite="lax")
            return response
        return render(request, "app/error.html", status=exc.status, error=exc)

    async def validation_error(request: Request, exc: Exception) -> Response:
        if not _is_page(request):
            return await api_validation_error(request, exc)  # type: ignore[misc,no-any-return]
        error = DomainError("Some of what was sent is missing or not in the expected form.", status=422)
        return render(request, "app/error.html", status=422, error=error)

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
