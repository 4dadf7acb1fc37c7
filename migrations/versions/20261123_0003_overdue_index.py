"""overdue index: open activities in due-date order

The dashboard's overdue and due-soon lists filter on `stage_due_on` and order by
(`stage_due_on`, `id`) with a LIMIT. ix_activities_stage_due (stage, stage_due_on) finds the rows
but, spanning four stages, needs a sort of every match (SQLite: a temp B-tree over ~22,000 rows at
100,000 activities, ~54 ms); this index gives the order directly (~2 ms). Found by bench/dashboard.py.
Written by hand, declared in models.activity with the same name.

Revision ID: 0003_overdue_index
Revises: 0002_dashboard_indexes
Create Date: 2026-11-23 16:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_overdue_index"
down_revision: str | None = "0002_dashboard_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_activities_due_id", "activities", ["stage_due_on", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_activities_due_id", table_name="activities")
