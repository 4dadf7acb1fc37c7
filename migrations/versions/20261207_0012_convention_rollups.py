"""convention rollups: the oversight views filtered by conventions without reading the log

Every row of the three rollups of 0011 (models.rollups) is now kept under a `conventions_key`:
"*" for every activity (the rows of 0011, which the new column's default keeps), and the set of
conventions of the activities it counts ("BC,SC", "" for none, as models.counts keys them), so that
a view filtered by conventions sums the keys that meet the filter. At 100,000 activities the
filtered cycle time, throughput and cumulative flow read the log and took 0.2-1.4 s of CPU
(bench/README.md). Filled here from the log; the downgrade keeps the "*" rows. Written from the
models' autogenerate output (a new key column: batch mode, SQLite rebuilds the tables).

Revision ID: 0012_convention_rollups
Revises: 0011_log_rollups
Create Date: 2026-12-07 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.rollups import ALL_CONVENTIONS, rebuild

revision: str = "0012_convention_rollups"
down_revision: str | None = "0011_log_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = {
    "stage_day_counts": ["day", "stage"],
    "stage_stays": ["width", "starts_on", "stage", "days"],
    "provision_stage_counts": ["provision_id", "stage"],
}
"""Each table's key before this revision."""


def upgrade() -> None:
    for table, key in KEYS.items():
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("conventions_key", sa.String(400), nullable=False, server_default=ALL_CONVENTIONS)
            )
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", ["conventions_key", *key])
        with op.batch_alter_table(table) as batch:
            batch.alter_column("conventions_key", server_default=None)
    rebuild(op.get_bind())


def downgrade() -> None:
    for table, key in KEYS.items():
        op.execute(
            sa.text(f"DELETE FROM {table} WHERE conventions_key != :all").bindparams(all=ALL_CONVENTIONS)
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
            batch.drop_column("conventions_key")
