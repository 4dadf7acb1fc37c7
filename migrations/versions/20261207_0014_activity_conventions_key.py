"""activity conventions key: convention filters as index ranges

`activities.conventions_key` keeps the activity's set of conventions as models.counts keys it
("BC,SC", "" for none), indexed with the stage and the due date, so that a convention filter is
`conventions_key IN (the sets meeting it)`: a few index ranges instead of a probe of the links
per activity (the index ends with the id: PostgreSQL reads the ids it joins from the index
alone). At 100,000 activities the overdue and due counts, the coverage's stalled count and the
drill-down filtered to one convention probed ~40,000 open activities (~85 ms a query).

Filled here from the links (models.counts.fill_keys, which `synergies check --repair` and the bulk
loads use too); the downgrade drops the index and the column. Written from the models'
autogenerate output.

Revision ID: 0014_activity_conventions_key
Revises: 0013_histogram_indexes
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.counts import fill_keys

revision: str = "0014_activity_conventions_key"
down_revision: str | None = "0013_histogram_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.add_column(sa.Column("conventions_key", sa.String(400), server_default="", nullable=False))
    fill_keys(op.get_bind())
    op.create_index(
        "ix_activities_conventions_stage_due",
        "activities",
        ["conventions_key", "stage", "stage_due_on", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_activities_conventions_stage_due", table_name="activities")
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("conventions_key")
