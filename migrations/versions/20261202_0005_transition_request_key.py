"""transition request key: every move's row names the request that wrote it

`request_key` is the Temporal update id of the move (derived from the Idempotency-Key when the
client sent one); `request_hash` the sha256 of the move's body. A replayed write recognises its
own row by the key, and a retried Idempotency-Key with another body is refused.

Revision ID: 0005_transition_request_key
Revises: 0004_activity_counts
Create Date: 2026-12-02 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_transition_request_key"
down_revision: str | None = "0004_activity_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transitions") as batch:
        batch.add_column(sa.Column("request_key", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("request_hash", sa.String(length=64), nullable=True))
        batch.create_unique_constraint("uq_transitions_activity_request_key", ["activity_id", "request_key"])


def downgrade() -> None:
    with op.batch_alter_table("transitions") as batch:
        batch.drop_constraint("uq_transitions_activity_request_key", type_="unique")
        batch.drop_column("request_hash")
        batch.drop_column("request_key")
