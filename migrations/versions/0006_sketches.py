"""Sketches: the storyboard frame drawn for a shot without a take, and the picture of a character or location
without a reference (media key and a hash of what it was drawn from, so a stale one is redrawn)

Revision ID: 0006_sketches
Revises: 0005_job_watchdogs
Create Date: 2026-12-08 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_sketches'
down_revision: str | None = '0005_job_watchdogs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('shots', 'characters', 'locations')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('sketch_key', sa.String(length=200), nullable=True))
            batch_op.add_column(sa.Column('sketch_hash', sa.String(length=32), nullable=True))


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('sketch_hash')
            batch_op.drop_column('sketch_key')
