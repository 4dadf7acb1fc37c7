"""report front matter: what a COP's progress report says above its annex

The document symbol (e.g. UNEP/POPS/COP.5/INF/21), the agenda item it is issued under, with the
item's title and the provisional agenda's symbol (the footnote), the secretariat's own
introduction paragraphs and the "Possible action" paragraph. All optional: the report falls back
to the symbol prefix with "INF/xx" and to the introduction generated from the data.

Revision ID: 0007_report_front_matter
Revises: 0004_activity_counts
Create Date: 2026-12-02 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_report_front_matter"
down_revision: str | None = "0008_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("report_symbol", sa.String(length=64)),
    ("agenda_item", sa.String(length=32)),
    ("agenda_item_title", sa.String(length=300)),
    ("agenda_symbol", sa.String(length=64)),
    ("report_introduction", sa.Text()),
    ("report_possible_action", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
