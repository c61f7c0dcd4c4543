"""Render engines: one file each, one `render(spec)` call, loaded once per worker process."""

from workers.engines.base import Canceled

__all__ = ["Canceled"]
