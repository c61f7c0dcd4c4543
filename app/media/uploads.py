"""The one upload reader: a file from a multipart form, checked against its cap without reading it.

Guarantees:
- The request body was capped before parsing (app/bodies.py); the form parser spooled each file to a
  temporary file as it streamed (at most 1 MiB of it in memory, the rest on disk), so nothing here
  holds a whole upload in memory.
- `read_upload` answers `Invalid` (422) when the field is not a file or the file is empty, and
  `TooLarge` (413) past `limit`, measured on the spooled file, before any byte is read.
- `Upload.read()` returns the bytes (for images and screenplays, whose caps are small and which are
  decoded whole anyway); LoRA weights are streamed from `Upload.file` into the media store.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, BinaryIO

from starlette.datastructures import UploadFile

from app.bodies import size_text
from app.errors import Invalid, TooLarge


def size_of(file: BinaryIO) -> int:
    """The length of a seekable file; it is left at its start."""
    file.seek(0, os.SEEK_END)
    size = file.tell()
    file.seek(0)
    return size


@dataclass(frozen=True)
class Upload:
    file: BinaryIO  # at its start
    size: int
    filename: str

    def read(self) -> bytes:
        """All of the file (its size was checked against the cap already)."""
        self.file.seek(0)
        return self.file.read(self.size)


def is_chosen(upload: Any) -> bool:
    """Whether a file input was filled in (browsers send an empty, nameless part for an empty input)."""
    return isinstance(upload, UploadFile) and bool(upload.filename or upload.size)


def read_upload(upload: Any, *, limit: int, what: str, field: str = "file") -> Upload:
    """The uploaded file in a form field, checked: a file, not empty, at most `limit` bytes; `what` names it."""
    if not isinstance(upload, UploadFile):
        raise Invalid(f"send {what} as a file (multipart field “{field}”)", field=field)
    size = size_of(upload.file)
    if size > limit:
        raise TooLarge(f"{what} is larger than {size_text(limit)}", field=field)
    if size == 0:
        raise Invalid(f"{what} is empty", field=field)
    return Upload(file=upload.file, size=size, filename=upload.filename or "")
