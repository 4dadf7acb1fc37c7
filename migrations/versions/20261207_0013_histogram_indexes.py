"""histogram indexes: a period's stays and arrivals read from one index, without the table

The cycle time and `/dashboard/stage-times` sum the histogram rows of a period
(services.dashboard.histograms): one range of (width, starts_on) per conventions key. The primary
key finds them, but their rows lie scattered in the table (the upserts of the write path append
them), so each row cost a page: at 100,000 activities, 12 weeks filtered to one convention (8 keys,
~40,000 rows) read ~9,800 pages on PostgreSQL (286 ms cold). With (count, seconds) in an index of
the key's order, the same rows are ~500 contiguous index pages (an index-only scan, 29 ms; SQLite:
a covering index, ~10 % less CPU). Key columns rather than PostgreSQL's INCLUDE: one definition for
both backends. Declared in models.rollups (`_Lengths`) with the same names. Written by hand.

Revision ID: 0013_histogram_indexes
Revises: 0012_convention_rollups
Create Date: 2026-12-07 20:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_histogram_indexes"
down_revision: str | None = "0012_convention_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("stage_stays", "stage_arrivals")
COLUMNS = ["conventions_key", "width", "starts_on", "stage", "days", "count", "seconds"]


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_lengths", table, COLUMNS, unique=False)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_lengths", table_name=table)
