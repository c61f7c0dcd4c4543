"""Fixtures for the worker tests: the tiny random-weight models, built once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny LTX and Wan folders (`slate models make-tiny`, seed 0): {"ltx": folder, "wan": folder}."""
    from workers.engines.tiny import make_all

    return make_all(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def tiny_registry(tiny_models: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """The process registry's `ltx` and `wan` entries pointed at the tiny folders for the rest of the session."""
    from workers.engines.registry import reload_registry

    keys = {"SLATE_MODEL_LTX_FOLDER": tiny_models["ltx"], "SLATE_MODEL_WAN_FOLDER": tiny_models["wan"]}
    before = {key: os.environ.get(key) for key in keys}
    os.environ.update({key: str(value) for key, value in keys.items()})
    reload_registry()
    yield tiny_models
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    reload_registry()
