"""Migrations are the only way the schema is made: they must match the models, up and down, on both databases."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db import Base
from app.migrate import downgrade, upgrade
from tests.conftest import recreate_database


def _diff(url: str) -> list:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"render_as_batch": True})
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    return diff


def test_sqlite_up_down_up_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path}/m.db"
    upgrade(url)
    downgrade(url, "base")
    upgrade(url)
    assert _diff(url) == []


def test_postgresql_up_down_up_matches_the_models():
    url = recreate_database("slate_test_migrations")
    upgrade(url)
    downgrade(url, "base")
    upgrade(url)
    assert _diff(url) == []
