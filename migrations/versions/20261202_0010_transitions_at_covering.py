"""transitions by time, covering: the oversight views read a period of the log from the index

ix_transitions_at (at) found a period's transitions, but every row then cost a lookup in the table
for its stages and activity. The cumulative flow, the weekly throughput and the recent moves read
only (at, to_stage, from_stage, activity_id): with those in the index they read it alone (SQLite:
0.10 s → 0.05 s of CPU for 120,000 transitions in 12 weeks of a 1,000,000-row log; bench/dashboard.py).
Same name, wider columns: declared so in models.activity. Written by hand.

Revision ID: 0010_transitions_at_covering
Revises: 0005_transition_request_key
Create Date: 2026-12-02 11:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_transitions_at_covering"
down_revision: str | None = "0009_web_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERING = ["at", "to_stage", "from_stage", "activity_id"]


def upgrade() -> None:
    op.drop_index("ix_transitions_at", table_name="transitions")
    op.create_index("ix_transitions_at", "transitions", COVERING, unique=False)


def downgrade() -> None:
    op.drop_index("ix_transitions_at", table_name="transitions")
    op.create_index("ix_transitions_at", "transitions", ["at"], unique=False)
