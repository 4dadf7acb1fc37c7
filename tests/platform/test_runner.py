"""`synergies up` (make run) keeps the quick-start admin token across restarts."""

from __future__ import annotations

import stat

from sqlalchemy import update

from cli.runner import QUICKSTART_TOKEN_FILE, keep_token, prepare_data, read_kept_token
from models import ApiToken, utcnow
from services.tokens import person_for_token


async def _owner_email(db, token: str) -> str | None:
    async with db() as session, session.begin():
        person = await person_for_token(session, token)
        return person.email if person else None


async def test_the_quick_start_admin_token_survives_a_restart_until_revoked(settings, db):
    first = await prepare_data(settings, demo=False, kept_token=read_kept_token(settings))
    keep_token(settings, first)
    assert stat.S_IMODE((settings.data_dir / QUICKSTART_TOKEN_FILE).stat().st_mode) == 0o600

    restarted = await prepare_data(settings, demo=False, kept_token=read_kept_token(settings))
    assert restarted == first
    assert await _owner_email(db, first) == "demo.admin@brs.example.org"

    async with db() as session, session.begin():
        await session.execute(update(ApiToken).values(revoked_at=utcnow()))
    renewed = await prepare_data(settings, demo=False, kept_token=read_kept_token(settings))
    assert renewed != first
    assert await _owner_email(db, renewed) == "demo.admin@brs.example.org"
    assert await _owner_email(db, first) is None


async def test_an_unknown_kept_token_is_replaced_by_a_new_one(settings, db):
    first = await prepare_data(settings, demo=False)
    assert await prepare_data(settings, demo=False, kept_token="syn_not-a-real-token") != first
