import pytest

from app.config import DEV_SECRET, Settings
from app.main import create_app


def test_production_refuses_a_missing_or_default_secret(tmp_path):
    for secret in ("", DEV_SECRET, "short"):
        settings = Settings(env="production", secret_key=secret, data_dir=tmp_path)
        with pytest.raises(RuntimeError, match="SLATE_SECRET_KEY"):
            create_app(settings)
    assert not (tmp_path / "secret_key").exists()


def test_embedded_secret_is_generated_once_into_the_data_folder(tmp_path):
    settings = Settings(env="development", secret_key="", data_dir=tmp_path)
    first = settings.resolved_secret_key()
    assert len(first) >= 48 and (tmp_path / "secret_key").read_text() == first
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"
    assert Settings(env="development", secret_key="", data_dir=tmp_path).resolved_secret_key() == first


def test_defaults_are_the_embedded_mode(tmp_path):
    s = Settings(_env_file=None, data_dir=tmp_path, database_url="", broker_url="memory://", embedded_worker=None)
    assert s.database_url == f"sqlite:///{tmp_path.as_posix()}/slate.db"
    assert s.embedded_worker is True and s.media_dir == tmp_path / "media"
    assert Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:6379/0", embedded_worker=None).embedded_worker is False
