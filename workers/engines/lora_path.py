"""Where a LoRA named by path may be read from: only inside the folder the admin set (SLATE_LORA_DIR).

The rule, in one place for the web and the workers:
- No folder set: LoRA paths are turned off; LoRA files come from uploads (the media store) only.
- A relative path is taken inside the folder; an absolute one must lie inside it. Either is resolved
  first (symlinks followed, as far as they exist), so a link inside the folder that points out of it
  is outside too.
- A refusal says the same thing whether or not the file exists, so the rule cannot be used to probe a
  machine's disk.
The web checks a character's `lora_path` when it is saved and stores it relative to the folder; each
worker checks it again against its own SLATE_LORA_DIR (from its environment) before opening the file,
since the web and the GPU hosts may mount the folder in different places. Pure: no import of app/.
"""

from __future__ import annotations

import os
from pathlib import Path

LORA_DIR_ENV = "SLATE_LORA_DIR"
TURNED_OFF = "LoRA paths are turned off; upload the file, or ask the admin to set SLATE_LORA_DIR"
OUTSIDE = "that LoRA path is outside the LoRA folder the admin set (SLATE_LORA_DIR); name a file inside it, or upload the file"


class LoraPathRefused(ValueError):
    """The path may not be read (turned off, or outside the folder)."""


def lora_file(path: str, folder: str | os.PathLike[str] | None) -> Path:
    """The file `path` names inside `folder`, symlinks resolved; `LoraPathRefused` when paths are off or it lies outside."""
    if not folder or not str(folder).strip():
        raise LoraPathRefused(TURNED_OFF)
    root = Path(folder).expanduser().resolve()
    given = Path(path)
    full = (given if given.is_absolute() else root / given).resolve()
    if full == root or not full.is_relative_to(root):
        raise LoraPathRefused(OUTSIDE)
    return full


def relative_lora_path(path: str, folder: str | os.PathLike[str] | None) -> str:
    """`path` as it is stored on a character: relative to the folder, after the checks of `lora_file`."""
    root = Path(folder).expanduser().resolve() if folder else None
    full = lora_file(path, folder)
    assert root is not None  # lora_file refused an unset folder
    return full.relative_to(root).as_posix()


def worker_lora_file(path: str) -> Path:
    """`lora_file` against this process's SLATE_LORA_DIR (what a worker calls before it opens a LoRA)."""
    return lora_file(path, os.environ.get(LORA_DIR_ENV))
