"""Generation: jobs and takes

Revision ID: 0003_generation
Revises: 0002_writers_room
Create Date: 2026-11-26 09:27:57.832759
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_generation'
down_revision: str | None = '0002_writers_room'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('generation_jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('shot_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('spec_hash', sa.String(length=32), nullable=False),
    sa.Column('takes', sa.Integer(), nullable=False),
    sa.Column('seeds', sa.JSON(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('deaths', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('total_steps', sa.Integer(), nullable=False),
    sa.Column('takes_done', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('estimate_s', sa.Float(), nullable=False),
    sa.Column('gpu_seconds', sa.Float(), nullable=False),
    sa.Column('snap_note', sa.Text(), nullable=False),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('retry_of_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_generation_jobs_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_generation_jobs_requested_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['retry_of_id'], ['generation_jobs.id'], name=op.f('fk_generation_jobs_retry_of_id_generation_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shot_id'], ['shots.id'], name=op.f('fk_generation_jobs_shot_id_shots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_generation_jobs'))
    )
    with op.batch_alter_table('generation_jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_generation_jobs_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_generation_jobs_shot_id_id', ['shot_id', 'id'], unique=False)
        batch_op.create_index('ix_generation_jobs_status_model', ['status', 'model'], unique=False)

    op.create_table('takes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('shot_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('compiled_prompt', sa.Text(), nullable=False),
    sa.Column('negative_prompt', sa.Text(), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('spec_hash', sa.String(length=32), nullable=False),
    sa.Column('frames', sa.Integer(), nullable=False),
    sa.Column('fps', sa.Float(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('video_key', sa.String(length=200), nullable=False),
    sa.Column('poster_key', sa.String(length=200), nullable=False),
    sa.Column('filmstrip_key', sa.String(length=200), nullable=False),
    sa.Column('last_frame_key', sa.String(length=200), nullable=True),
    sa.Column('filmstrip', sa.JSON(), nullable=False),
    sa.Column('conditioning', sa.JSON(), nullable=False),
    sa.Column('timings', sa.JSON(), nullable=False),
    sa.Column('gpu_seconds', sa.Float(), nullable=False),
    sa.Column('review_status', sa.String(length=20), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_takes_decided_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['job_id'], ['generation_jobs.id'], name=op.f('fk_takes_job_id_generation_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_takes_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shot_id'], ['shots.id'], name=op.f('fk_takes_shot_id_shots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_takes')),
    sa.UniqueConstraint('job_id', 'index', name=op.f('uq_takes_job_id_index')),
    sa.UniqueConstraint('shot_id', 'number', name=op.f('uq_takes_shot_id_number'))
    )
    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_takes_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('takes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_takes_project_id'))

    op.drop_table('takes')
    with op.batch_alter_table('generation_jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_generation_jobs_status_model')
        batch_op.drop_index('ix_generation_jobs_shot_id_id')
        batch_op.drop_index(batch_op.f('ix_generation_jobs_project_id'))

    op.drop_table('generation_jobs')
