"""dashboard indexes: activities by convention and by target meeting

The oversight dashboards filter activities by convention (the primary key of activity_conventions
starts with activity_id, so it cannot serve that) and by target meeting. Written by hand before the
models declared these indexes; the names follow the naming convention of models.base, so
declaring them since (`index=True` on Activity.target_meeting_id,
`Index("ix_activity_conventions_convention_code", ...)` in models/activity.py) autogenerates
nothing new.

Revision ID: 0002_dashboard_indexes
Revises: 0001
Create Date: 2026-11-23 16:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_dashboard_indexes"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_activity_conventions_convention_code",
        "activity_conventions",
        ["convention_code", "activity_id"],
        unique=False,
    )
    op.create_index("ix_activities_target_meeting_id", "activities", ["target_meeting_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_activities_target_meeting_id", table_name="activities")
    op.drop_index("ix_activity_conventions_convention_code", table_name="activity_conventions")
