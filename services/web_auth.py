"""Browser sign-in: one-time links (e-mailed or printed by the CLI) exchanged for a server-side
session. Only digests of the secrets are stored; the session cookie is the only credential the
browser holds, and its CSRF token is derived from it, so a form token cannot outlive its session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from models import CalendarFeed, Person, SignInLink, WebSession, utcnow
from models.db import create_engine, session_factory, transaction
from services.accounts import person_by_email, valid_email
from services.tokens import hash_token

SIGN_IN_PATH = "/app/sign-in/"
# Writing last_seen_at on every page view would make every read a write.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)


def sign_in_url(settings: Settings, token: str) -> str:
    return f"{settings.public_url.rstrip('/')}{SIGN_IN_PATH}{token}"


async def issue_sign_in_link(session: AsyncSession, person: Person, settings: Settings) -> str:
    """A new single-use link for `person`, valid for `sign_in_link_minutes`."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        SignInLink(
            person_id=person.id,
            token_hash=hash_token(token),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.sign_in_link_minutes),
        )
    )
    await session.flush()
    return sign_in_url(settings, token)


async def active_person_by_email(session: AsyncSession, email: str) -> Person | None:
    try:
        address = valid_email(email)
    except Exception:
        return None
    person = await session.scalar(select(Person).where(func.lower(Person.email) == address.lower()))
    return person if person is not None and person.active else None


def sign_in_mail(settings: Settings, person: Person, url: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = person.email
    message["Subject"] = "Your sign-in link for Synergies Tracker"
    message.set_content(
        f"Open this link to sign in to Synergies Tracker (it works once, within "
        f"{settings.sign_in_link_minutes} minutes):\n\n{url}\n\n"
        "You get this message because someone asked for a sign-in link for this address. "
        "If it was not you, ignore it: nothing happens until the link is opened.\n"
    )
    return message


async def send_sign_in_mail(settings: Settings, person: Person, url: str) -> None:
    await aiosmtplib.send(
        sign_in_mail(settings, person, url),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        timeout=30,
    )


async def redeem_sign_in_link(
    session: AsyncSession, token: str, settings: Settings, user_agent: str | None
) -> tuple[WebSession, str] | None:
    """Spend the link (once: a conditional update, so two tabs cannot both use it) and open a
    session; None when the link is unknown, used or expired."""
    now = utcnow()
    link = await session.scalar(select(SignInLink).where(SignInLink.token_hash == hash_token(token)))
    if link is None or link.used_at is not None or link.expires_at <= now:
        return None
    spent = await session.execute(
        update(SignInLink)
        .where(SignInLink.id == link.id, SignInLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount:  # type: ignore[attr-defined]
        return None
    person = await session.get(Person, link.person_id)
    if person is None or not person.active:
        return None
    return await open_session(session, person, settings, user_agent)


async def open_session(
    session: AsyncSession, person: Person, settings: Settings, user_agent: str | None
) -> tuple[WebSession, str]:
    """A new browser session for `person`; returns the row and the cookie's secret."""
    now = utcnow()
    secret = secrets.token_urlsafe(32)
    row = WebSession(
        person_id=person.id,
        token_hash=hash_token(secret),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=settings.session_absolute_days),
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(row)
    await session.flush()
    return row, secret


async def session_for_cookie(session: AsyncSession, secret: str, settings: Settings) -> WebSession | None:
    """The live session the cookie names: not revoked, before its absolute expiry, and seen
    within the idle limit; touching it moves the idle limit on."""
    now = utcnow()
    row = await session.scalar(select(WebSession).where(WebSession.token_hash == hash_token(secret)))
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.person.active:
        return None
    if now - row.last_seen_at > timedelta(hours=settings.session_idle_hours):
        return None
    if now - row.last_seen_at > LAST_SEEN_RESOLUTION:
        await session.execute(
            update(WebSession)
            .where(WebSession.id == row.id)
            .values(last_seen_at=now)
            .execution_options(synchronize_session=False)
        )
    return row


def csrf_token(secret: str) -> str:
    """The synchronizer token of a session: derived from its cookie, never stored."""
    return hmac.new(secret.encode(), b"synergies-csrf", hashlib.sha256).hexdigest()


def csrf_valid(secret: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret), presented or "")


async def sessions_of(session: AsyncSession, person_id: int | None) -> list[WebSession]:
    """Live sessions, newest first: one person's, or everyone's (person_id None, for admins)."""
    statement = select(WebSession).where(WebSession.revoked_at.is_(None), WebSession.expires_at > utcnow())
    if person_id is not None:
        statement = statement.where(WebSession.person_id == person_id)
    return list(await session.scalars(statement.order_by(WebSession.last_seen_at.desc(), WebSession.id)))


async def revoke_session(
    session: AsyncSession, session_id: int, *, person_id: int | None, at: datetime | None = None
) -> bool:
    """Revoke a session; `person_id` limits it to that person's own (None: any, for admins)."""
    statement = update(WebSession).where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
    if person_id is not None:
        statement = statement.where(WebSession.person_id == person_id)
    result = await session.execute(statement.values(revoked_at=at or utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def sign_in_link_for(settings: Settings, email: str) -> str:
    """A link issued in its own transaction, for `synergies up`'s banner."""
    engine = create_engine(settings.database_url)
    try:
        async with transaction(session_factory(engine)) as session:
            person = await person_by_email(session, email)
            return await issue_sign_in_link(session, person, settings)
    finally:
        await engine.dispose()


# --- calendar feeds -------------------------------------------------------------------------------


def calendar_feed_url(settings: Settings, secret: str) -> str:
    return f"{settings.public_url.rstrip('/')}/calendar/{secret}.ics"


async def new_calendar_feed(session: AsyncSession, person_id: int, settings: Settings) -> str:
    """A new feed secret for the person, replacing (revoking) the one they had; returns its URL,
    shown once."""
    await revoke_calendar_feed(session, person_id)
    secret = secrets.token_urlsafe(32)
    session.add(CalendarFeed(person_id=person_id, token_hash=hash_token(secret), created_at=utcnow()))
    await session.flush()
    return calendar_feed_url(settings, secret)


async def revoke_calendar_feed(session: AsyncSession, person_id: int) -> bool:
    result = await session.execute(
        update(CalendarFeed)
        .where(CalendarFeed.person_id == person_id, CalendarFeed.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def calendar_feed_of(session: AsyncSession, person_id: int) -> CalendarFeed | None:
    return await session.scalar(
        select(CalendarFeed).where(CalendarFeed.person_id == person_id, CalendarFeed.revoked_at.is_(None))
    )


async def person_for_calendar(session: AsyncSession, secret: str) -> int | None:
    """The active person whose live feed secret this is."""
    row = await session.scalar(
        select(CalendarFeed).where(
            CalendarFeed.token_hash == hash_token(secret), CalendarFeed.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    person = await session.get(Person, row.person_id)
    return person.id if person is not None and person.active else None
