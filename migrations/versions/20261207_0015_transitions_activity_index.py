"""transitions activity index: a filtered figure reads its activities' log from one index

A thematic group, lead, meeting or stage filter has no kept rollup: the time in stage
(`/oversight/cycle-time`, `/dashboard/stage-times`) reads the log. It read the period's
transitions by `ix_transitions_at` (~120,000 in 12 weeks at 100,000 activities), probed each
one's activity for the filter, then read the transition's row for its seq and the previous
transition's row for when the stay began: ~17,000 scattered table rows for the largest thematic
group, ~290 ms CPU on SQLite. (activity_id, seq, at, from_stage, to_stage) lets the query start
from the filtered activities and find their transitions in the period and each one's predecessor
(activity_id, seq - 1) in the index alone (SQLite ~45 ms CPU for the query; PostgreSQL, which
chose the same plan once it could, ~60 ms against ~150 ms). Key columns rather than
PostgreSQL's INCLUDE: one definition for both backends. Declared in models.activity with the same
name. Written by hand.

Revision ID: 0015_transitions_activity_index
Revises: 0014_activity_conventions_key
Create Date: 2026-12-07 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_transitions_activity_index"
down_revision: str | None = "0014_activity_conventions_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_transitions_activity_seq_at",
        "transitions",
        ["activity_id", "seq", "at", "from_stage", "to_stage"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_transitions_activity_seq_at", table_name="transitions")
