"""stage arrivals: the dashboard's cycle time without reading the log

`stage_arrivals` (per stage, day or week of an activity's first arrival in it, whole days from the
activity's start: count and seconds), kept like `stage_stays` by `record_transition` and the
activity flush hooks (models.rollups), gives `/dashboard/stage-times` its unfiltered cycle time;
its time in stage reads `stage_stays`. At 100,000 activities the call read the whole log: 0.85 s
of CPU on PostgreSQL, 4.1 s on SQLite (bench/README.md). Filled here from the existing log.
Written from the models' autogenerate output.

Revision ID: 0013_stage_arrivals
Revises: 0011_log_rollups
Create Date: 2026-12-07 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.rollups import rebuild_arrivals

revision: str = "0013_stage_arrivals"
down_revision: str | None = "0011_log_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stage_arrivals",
        sa.Column("width", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(
                "thematic_group",
                "task_team",
                "pilot_project",
                "report_to_cop",
                "closed",
                "withdrawn",
                name="stage",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("days", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("width", "starts_on", "stage", "days", name=op.f("pk_stage_arrivals")),
    )
    rebuild_arrivals(op.get_bind())


def downgrade() -> None:
    op.drop_table("stage_arrivals")
