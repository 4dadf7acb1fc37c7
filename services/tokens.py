"""API tokens: random, shown once, stored as SHA-256 digests, looked up by digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import ApiToken, Person, utcnow

TOKEN_PREFIX = "syn_"
# Writing last_used_at on every request would make every read a write (and hold SQLite's lock).
LAST_USED_RESOLUTION = timedelta(minutes=5)
# In `session.info` after a lookup that wrote nothing: the caller need not commit before going on.
ONLY_READ = "token_lookup_only_read"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_token(session: AsyncSession, person: Person, name: str = "cli") -> tuple[ApiToken, str]:
    token = new_token()
    row = ApiToken(
        person_id=person.id,
        name=name,
        prefix=token[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_token(token),
        created_at=utcnow(),
    )
    session.add(row)
    await session.flush()
    return row, token


async def person_for_token(session: AsyncSession, token: str) -> Person | None:
    """The active person owning an unrevoked token; the digest comparison is constant-time."""
    digest = hash_token(token)
    row = await session.scalar(
        select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    )
    if row is None or not hmac.compare_digest(row.token_hash, digest) or not row.person.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.id == row.id)
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    else:
        session.info[ONLY_READ] = True
    return row.person


async def revoke_token(session: AsyncSession, token_id: int, at: datetime | None = None) -> bool:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=at or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
