"""Engines per worker process: each model is loaded once, on first use, and kept warm.

A GPU worker calls `warm(model_id)` in `worker_process_init` so its first job finds the model
loaded; tasks call `get_engine(model_id)`. `load_seconds(model_id)` says how long the load took
(with the engine's `last_timing["before_first_step_s"]` it gives the "warm model" figure).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from workers.engines.registry import ModelInfo, engine_class, get_model

log = logging.getLogger(__name__)


class OutOfMemory(RuntimeError):
    """The accelerator ran out of memory; the job layer retries once with `engine.enable_memory_saving()`."""


_lock = threading.Lock()
_engines: dict[str, Any] = {}
_load_seconds: dict[str, float] = {}


def default_device(model: ModelInfo) -> str:
    """`cuda` for a model engine where a GPU exists, else `cpu` (CPU engines never import torch here)."""
    if not model.accelerated:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def get_engine(model_id: str, *, device: str | None = None) -> Any:
    """The process's engine for `model_id`, loaded on first use (raises `UnknownModel` for an unknown id)."""
    engine = _engines.get(model_id)
    if engine is not None:
        return engine
    with _lock:
        engine = _engines.get(model_id)
        if engine is None:
            model = get_model(model_id)
            cls = engine_class(model.engine)
            started = time.perf_counter()
            engine = cls(model, device=device or default_device(model))
            _load_seconds[model_id] = time.perf_counter() - started
            _engines[model_id] = engine
            log.info("loaded model %s (%s) in %.2f s", model_id, model.engine, _load_seconds[model_id])
    return engine


def warm(model_id: str, *, device: str | None = None) -> float:
    """Load `model_id` now (worker start); returns the load seconds."""
    get_engine(model_id, device=device)
    return _load_seconds[model_id]


def load_seconds(model_id: str) -> float | None:
    """Seconds the load of `model_id` took in this process, or None when it is not loaded."""
    return _load_seconds.get(model_id)


def loaded() -> list[str]:
    return list(_engines)


def forget(model_id: str | None = None) -> None:
    """Drop one engine (or all): the next `get_engine` loads it again."""
    with _lock:
        for key in [model_id] if model_id else list(_engines):
            _engines.pop(key, None)
            _load_seconds.pop(key, None)
