"""The front door: sign-in by e-mailed link or OIDC, and sign-out."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import SESSION_COOKIE, Reader, SessionDep, SettingsDep
from api.web.pages.common import NEXT_COOKIE, after_sign_in_url, commit_and_see_other, see_other
from api.web.templating import render
from core.errors import Forbidden, NotFound
from services import oidc_login, web_auth

router = APIRouter(include_in_schema=False)


def _refuse_cross_site(request: Request) -> None:
    """Sign-in forms have no session (so no CSRF token) yet: refuse posts another site made."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("this sign-in form was sent from another site", code="cross_site")


@router.get("/app/sign-in")
async def sign_in_form(request: Request, settings: SettingsDep, sent: bool = False) -> HTMLResponse:
    return render(request, "app/sign_in.html", sent=sent, oidc=oidc_login.enabled(settings))


@router.post("/app/sign-in")
async def request_sign_in_link(
    request: Request, session: SessionDep, settings: SettingsDep, email: Annotated[str, Form()] = ""
) -> Response:
    """Send a link if the address belongs to someone; the answer is the same either way, so the
    page does not tell who has an account. Requests beyond the limit per minute and address of
    the asker send nothing (and say the same)."""
    _refuse_cross_site(request)
    limiter = request.app.state.auth_failures
    client = request.client.host if request.client else "unknown"
    blocked = limiter.retry_after(client) is not None
    person = None if blocked else await web_auth.active_person_by_email(session, email)
    limiter.record(client)
    if person is not None:
        url = await web_auth.issue_sign_in_link(session, person, settings)
        await session.commit()
        try:
            await web_auth.send_sign_in_mail(settings, person, url)
        except OSError:
            pass  # the same answer: an unreachable mail server must not reveal the account either
    return see_other("/app/sign-in?sent=1")


def _session_cookie(response: Response, secret: str, settings: SettingsDep) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=settings.session_absolute_days * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


@router.get("/app/sign-in/oidc")
async def oidc_begin(settings: SettingsDep) -> Response:
    """Off to the organisation's sign-in page, with PKCE (declared before the link routes)."""
    if not oidc_login.enabled(settings):
        raise NotFound("sign-in with an organisation account is not configured here")
    async with httpx.AsyncClient() as http:
        provider = await oidc_login.discover(http, settings)
    url, flow = oidc_login.begin(settings, provider)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        oidc_login.FLOW_COOKIE,
        flow,
        max_age=oidc_login.FLOW_SECONDS,
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back to us
        secure=settings.secure_cookies,
        path=oidc_login.CALLBACK_PATH,
    )
    return response


@router.get(oidc_login.CALLBACK_PATH)
async def oidc_callback(
    request: Request, session: SessionDep, settings: SettingsDep, code: str = "", state: str = ""
) -> Response:
    if not oidc_login.enabled(settings):
        raise NotFound("sign-in with an organisation account is not configured here")
    async with httpx.AsyncClient() as http:
        provider = await oidc_login.discover(http, settings)
        claims = await oidc_login.finish(
            http, settings, provider, request.cookies.get(oidc_login.FLOW_COOKIE), code, state
        )
    person = await oidc_login.person_from_claims(session, settings, claims)
    _, secret = await web_auth.open_session(session, person, settings, request.headers.get("user-agent"))
    response = await commit_and_see_other(session, after_sign_in_url(request))
    if NEXT_COOKIE in request.cookies:
        response.delete_cookie(NEXT_COOKIE)
    response.delete_cookie(oidc_login.FLOW_COOKIE, path=oidc_login.CALLBACK_PATH)
    _session_cookie(response, secret, settings)
    return response


@router.get("/app/sign-in/{token}")
async def sign_in_confirm(request: Request, token: str) -> HTMLResponse:
    """A button rather than signing in on GET: mail scanners open links and would spend them."""
    return render(request, "app/sign_in_confirm.html", token=token)


@router.post("/app/sign-in/{token}")
async def sign_in(request: Request, token: str, session: SessionDep, settings: SettingsDep) -> Response:
    _refuse_cross_site(request)  # another site must not sign this browser in to its own account
    redeemed = await web_auth.redeem_sign_in_link(session, token, settings, request.headers.get("user-agent"))
    if redeemed is None:
        return render(
            request, "app/sign_in.html", status=400, expired=True, oidc=oidc_login.enabled(settings)
        )
    _, secret = redeemed
    response = await commit_and_see_other(session, after_sign_in_url(request))
    if NEXT_COOKIE in request.cookies:
        response.delete_cookie(NEXT_COOKIE)
    _session_cookie(response, secret, settings)
    return response


@router.post("/app/sign-out")
async def sign_out(request: Request, principal: Reader, session: SessionDep) -> Response:
    session_id = getattr(request.state, "web_session_id", None)  # None when signed by a bearer token
    if session_id is not None:
        await web_auth.revoke_session(session, session_id, person_id=principal.person_id)
    response = await commit_and_see_other(session, "/app/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
