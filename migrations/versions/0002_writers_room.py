"""Writers' room: media, characters, looks, versions, references, locations, styles, scenes, shots

Revision ID: 0002_writers_room
Revises: 0001_foundation
Create Date: 2026-11-26 08:53:01.052311
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_writers_room'
down_revision: str | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_key', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('prompt_fragment', sa.Text(), nullable=False),
    sa.Column('negative_fragment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_locations_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations'))
    )
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_locations_project_id'), ['project_id'], unique=False)
        batch_op.create_index('uq_locations_project_name', ['project_id', 'name_key'], unique=True)

    op.create_table('media_assets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('thumb_key', sa.String(length=200), nullable=True),
    sa.Column('mime', sa.String(length=80), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('original_name', sa.String(length=255), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_media_assets_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_media_assets_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_media_assets')),
    sa.UniqueConstraint('project_id', 'sha256', 'kind', name=op.f('uq_media_assets_project_id_sha256_kind'))
    )
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_assets_project_id'), ['project_id'], unique=False)

    op.create_table('scenes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=12), nullable=False),
    sa.Column('heading', sa.String(length=200), nullable=False),
    sa.Column('synopsis', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_scenes_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scenes'))
    )
    with op.batch_alter_table('scenes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scenes_project_id'), ['project_id'], unique=False)

    op.create_table('style_presets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('prompt_fragment', sa.Text(), nullable=False),
    sa.Column('negative_fragment', sa.Text(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_style_presets_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_style_presets')),
    sa.UniqueConstraint('project_id', 'name', name=op.f('uq_style_presets_project_id_name'))
    )
    with op.batch_alter_table('style_presets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_style_presets_project_id'), ['project_id'], unique=False)

    op.create_table('characters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_key', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('traits', sa.JSON(), nullable=False),
    sa.Column('prompt_fragment', sa.Text(), nullable=False),
    sa.Column('negative_fragment', sa.Text(), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=True),
    sa.Column('lora_asset_id', sa.Integer(), nullable=True),
    sa.Column('lora_path', sa.String(length=500), nullable=True),
    sa.Column('lora_weight', sa.Float(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lora_asset_id'], ['media_assets.id'], name=op.f('fk_characters_lora_asset_id_media_assets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_characters_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_characters'))
    )
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_characters_project_id'), ['project_id'], unique=False)
        batch_op.create_index('uq_characters_project_name', ['project_id', 'name_key'], unique=True)

    op.create_table('shots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('scene_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('dialogue', sa.Text(), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('negative_prompt', sa.Text(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('style_id', sa.Integer(), nullable=True),
    sa.Column('camera', sa.JSON(), nullable=False),
    sa.Column('lighting', sa.JSON(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('fps', sa.Float(), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('model', sa.String(length=64), nullable=True),
    sa.Column('seed', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('coverage_group', sa.Integer(), nullable=True),
    sa.Column('coverage_label', sa.String(length=40), nullable=False),
    sa.Column('source_key', sa.String(length=120), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_shots_location_id_locations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_shots_project_id_projects'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scene_id'], ['scenes.id'], name=op.f('fk_shots_scene_id_scenes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['style_id'], ['style_presets.id'], name=op.f('fk_shots_style_id_style_presets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shots'))
    )
    with op.batch_alter_table('shots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shots_project_id'), ['project_id'], unique=False)
        batch_op.create_index('ix_shots_scene_id_position', ['scene_id', 'position'], unique=False)

    op.create_table('looks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('prompt_fragment', sa.Text(), nullable=False),
    sa.Column('negative_fragment', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_looks_character_id_characters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_looks_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_looks')),
    sa.UniqueConstraint('character_id', 'name', name=op.f('uq_looks_character_id_name'))
    )
    with op.batch_alter_table('looks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_looks_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_looks_project_id'), ['project_id'], unique=False)

    op.create_table('character_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=False),
    sa.Column('look_id', sa.Integer(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('locked_by_id', sa.Integer(), nullable=True),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_character_versions_character_id_characters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['locked_by_id'], ['users.id'], name=op.f('fk_character_versions_locked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['look_id'], ['looks.id'], name=op.f('fk_character_versions_look_id_looks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_character_versions_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_character_versions'))
    )
    with op.batch_alter_table('character_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_character_versions_project_id'), ['project_id'], unique=False)
        batch_op.create_index('uq_character_versions_subject', ['character_id', 'look_id', 'number'], unique=True)

    op.create_table('reference_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=True),
    sa.Column('look_id', sa.Integer(), nullable=True),
    sa.Column('location_id', sa.Integer(), nullable=True),
    sa.Column('caption', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['media_assets.id'], name=op.f('fk_reference_images_asset_id_media_assets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_reference_images_character_id_characters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_reference_images_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['look_id'], ['looks.id'], name=op.f('fk_reference_images_look_id_looks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_reference_images_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reference_images'))
    )
    with op.batch_alter_table('reference_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reference_images_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reference_images_location_id'), ['location_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reference_images_look_id'), ['look_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reference_images_project_id'), ['project_id'], unique=False)

    op.create_table('shot_characters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('shot_id', sa.Integer(), nullable=False),
    sa.Column('character_id', sa.Integer(), nullable=False),
    sa.Column('character_version', sa.Integer(), nullable=False),
    sa.Column('look_id', sa.Integer(), nullable=True),
    sa.Column('look_version', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['character_id'], ['characters.id'], name=op.f('fk_shot_characters_character_id_characters'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['look_id'], ['looks.id'], name=op.f('fk_shot_characters_look_id_looks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shot_id'], ['shots.id'], name=op.f('fk_shot_characters_shot_id_shots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shot_characters')),
    sa.UniqueConstraint('shot_id', 'character_id', name=op.f('uq_shot_characters_shot_id_character_id'))
    )
    with op.batch_alter_table('shot_characters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shot_characters_character_id'), ['character_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shot_characters_shot_id'), ['shot_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('shot_characters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shot_characters_shot_id'))
        batch_op.drop_index(batch_op.f('ix_shot_characters_character_id'))

    op.drop_table('shot_characters')
    with op.batch_alter_table('reference_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reference_images_project_id'))
        batch_op.drop_index(batch_op.f('ix_reference_images_look_id'))
        batch_op.drop_index(batch_op.f('ix_reference_images_location_id'))
        batch_op.drop_index(batch_op.f('ix_reference_images_character_id'))

    op.drop_table('reference_images')
    with op.batch_alter_table('character_versions', schema=None) as batch_op:
        batch_op.drop_index('uq_character_versions_subject')
        batch_op.drop_index(batch_op.f('ix_character_versions_project_id'))

    op.drop_table('character_versions')
    with op.batch_alter_table('looks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_looks_project_id'))
        batch_op.drop_index(batch_op.f('ix_looks_character_id'))

    op.drop_table('looks')
    with op.batch_alter_table('shots', schema=None) as batch_op:
        batch_op.drop_index('ix_shots_scene_id_position')
        batch_op.drop_index(batch_op.f('ix_shots_project_id'))

    op.drop_table('shots')
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.drop_index('uq_characters_project_name')
        batch_op.drop_index(batch_op.f('ix_characters_project_id'))

    op.drop_table('characters')
    with op.batch_alter_table('style_presets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_style_presets_project_id'))

    op.drop_table('style_presets')
    with op.batch_alter_table('scenes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scenes_project_id'))

    op.drop_table('scenes')
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_assets_project_id'))

    op.drop_table('media_assets')
    with op.batch_alter_table('locations', schema=None) as batch_op:
        batch_op.drop_index('uq_locations_project_name')
        batch_op.drop_index(batch_op.f('ix_locations_project_id'))

    op.drop_table('locations')
