import pytest

from app.config import get_settings


@pytest.fixture
def lora_dir(tmp_path, monkeypatch):
    """SLATE_LORA_DIR set to an empty folder, for the app and the services (LoRA paths are off without it)."""
    folder = tmp_path / "loras"
    folder.mkdir()
    monkeypatch.setenv("SLATE_LORA_DIR", str(folder))
    monkeypatch.setattr(get_settings(), "lora_dir", folder)  # settings already read (the app's) see it too
    return folder
