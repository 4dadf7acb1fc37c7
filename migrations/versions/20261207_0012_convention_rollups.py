"""convention rollups and stage arrivals: filtered views and cycle times without the log

Every row of the three rollups of 0011 (models.rollups) is now kept under a `conventions_key`:
"*" for every activity (the rows of 0011, which the new column's default keeps), and the set of
conventions of the activities it counts ("BC,SC", "" for none, as models.counts keys them), so that
a view filtered by conventions sums the keys that meet the filter. At 100,000 activities the
filtered cycle time, throughput and cumulative flow read the log and took 0.2-1.4 s of CPU
(bench/README.md).

`stage_arrivals` (per stage, day or week of an activity's first arrival in it, whole days from the
activity's start: count and seconds, under the same keys), kept like `stage_stays`, gives
`/dashboard/stage-times` its cycle time; its time in stage reads `stage_stays`. At 100,000
activities the call read the whole log: 0.85 s of CPU on PostgreSQL, 4.1 s on SQLite.

All four tables are filled here from the log; the downgrade drops `stage_arrivals` and keeps the
"*" rows of the others (what 0011 held). Written from the models' autogenerate output (a new key
column: batch mode, SQLite rebuilds the tables).

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
    op.create_table(
        "stage_arrivals",
        sa.Column("conventions_key", sa.String(400), nullable=False),
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
        sa.PrimaryKeyConstraint(
            "conventions_key", "width", "starts_on", "stage", "days", name=op.f("pk_stage_arrivals")
        ),
    )
    rebuild(op.get_bind())


def downgrade() -> None:
    op.drop_table("stage_arrivals")
    for table, key in KEYS.items():
        op.execute(
            sa.text(f"DELETE FROM {table} WHERE conventions_key != :all").bindparams(all=ALL_CONVENTIONS)
        )
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", key)
            batch.drop_column("conventions_key")
