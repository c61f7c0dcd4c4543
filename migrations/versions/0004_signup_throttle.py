"""Sign-up attempts per client address (the sign-up throttle)

Revision ID: 0004_signup_throttle
Revises: 0003_generation
Create Date: 2026-11-27 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_signup_throttle'
down_revision: str | None = '0003_generation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('signup_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signup_attempts'))
    )
    with op.batch_alter_table('signup_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_signup_attempts_key_at', ['key', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('signup_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_signup_attempts_key_at')

    op.drop_table('signup_attempts')
