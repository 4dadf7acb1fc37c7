"""The move's write without Temporal: a plain FastAPI + SQLAlchemy endpoint that runs the same
`record_transition` in one transaction and answers, served by uvicorn like the API
(`uvicorn bench.plain_app:app`, DATABASE_URL from the environment). No authentication, no
pre-check, no read-back, no notification: what the framework, the driver and the write cost.

    POST /plain/{activity_id}?actor_id=N   (activity prepared in thematic_group at version 1)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from core.stages import Stage
from models.db import create_engine, session_factory, transaction
from services.transitions import TransitionRecord, record_transition


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    engine = create_engine(os.environ["DATABASE_URL"])
    app.state.sessionmaker = session_factory(engine)
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.post("/plain/{activity_id}")
async def plain_move(activity_id: int, actor_id: int) -> dict[str, int]:
    now = datetime.now(UTC)
    async with transaction(app.state.sessionmaker) as session:
        row, version = await record_transition(
            session,
            TransitionRecord(
                activity_id=activity_id,
                seq=2,
                from_stage=Stage.THEMATIC_GROUP,
                to_stage=Stage.TASK_TEAM,
                actor_id=actor_id,
                at=now,
                expected_version=1,
                due_on=(now + timedelta(days=180)).date(),
                request_key="plain-" + uuid.uuid4().hex,
                request_hash="bench",
            ),
        )
        return {"transition_id": row.id, "version": version}
