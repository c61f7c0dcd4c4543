"""Real image bytes for upload tests, made with Pillow (nothing binary is committed)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png_bytes(width: int = 64, height: int = 48, colour=(180, 120, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(width: int = 64, height: int = 48, colour=(60, 120, 180)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def webp_bytes(width: int = 64, height: int = 48) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(buf, "WEBP")
    return buf.getvalue()


def huge_png_header(width: int = 20000, height: int = 20000) -> bytes:
    """A small, valid PNG whose header claims width×height (a decompression bomb): the IDAT is tiny deflate of zeros."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(16)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    data = jpeg_bytes(256, 256)
    return data[: len(data) // 2]


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
TEXT_AS_PNG = b"this is a text file pretending to be a png\n"


def safetensors_bytes() -> bytes:
    """A minimal valid .safetensors file: one float32 tensor of 4 values."""
    import json

    header = json.dumps({"lora.weight": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\x00" * 16
