"""log rollups: the oversight views' flow, throughput and time in stage without reading the log

Two tables kept up to date by `record_transition` and the activity flush hooks (models.rollups):
`stage_day_counts` (per UTC day and stage: entered, exited, started) for the cumulative flow and
the throughput, and `stage_stays` (per stage, day or week the stay ended, whole days it lasted:
count and seconds) for the median and p85 of the time in stage; `provision_stage_counts` (per
provision and stage: the activities answering it) for the mandate coverage. At 100,000 activities the views
read a period's 120,000 transitions (a year: 400,000) and took 0.16-0.86 s on SQLite, 0.08-0.33 s
on PostgreSQL (bench/README.md). Filled from the existing log by 0012, which adds their conventions
key (the fill is the models' `rebuild`, which writes that key). Written from the models'
autogenerate output.

Revision ID: 0011_log_rollups
Revises: 0010_transitions_at_covering
Create Date: 2026-12-07 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_log_rollups"
down_revision: str | None = "0010_transitions_at_covering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stage() -> sa.Enum:
    return sa.Enum(
        "thematic_group",
        "task_team",
        "pilot_project",
        "report_to_cop",
        "closed",
        "withdrawn",
        name="stage",
        native_enum=False,
        length=32,
    )


def upgrade() -> None:
    op.create_table(
        "stage_day_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage", _stage(), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("exited", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "stage", name=op.f("pk_stage_day_counts")),
    )
    op.create_table(
        "stage_stays",
        sa.Column("width", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("stage", _stage(), nullable=False),
        sa.Column("days", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("width", "starts_on", "stage", "days", name=op.f("pk_stage_stays")),
    )
    op.create_table(
        "provision_stage_counts",
        sa.Column("provision_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stage", _stage(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("provision_id", "stage", name=op.f("pk_provision_stage_counts")),
    )


def downgrade() -> None:
    op.drop_table("provision_stage_counts")
    op.drop_table("stage_stays")
    op.drop_table("stage_day_counts")
