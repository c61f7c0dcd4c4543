"""Image uploads: sniffed from their bytes, size- and pixel-limited, fully decoded, re-encoded, thumbnailed."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from app.bodies import size_text
from app.errors import Invalid, TooLarge, Unsupported

THUMB_SIDE = 384
FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg"), "webp": ("WEBP", "image/webp")}


def sniff(data: bytes) -> str | None:
    """png, jpeg or webp from the magic bytes; None for anything else (whatever its name says)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    ext: str
    mime: str
    width: int
    height: int
    thumb: bytes  # JPEG


def clean_image(data: bytes, *, max_bytes: int, max_pixels: int) -> CleanImage:
    """Validate and re-encode an uploaded image (metadata dropped, orientation applied)."""
    if len(data) > max_bytes:
        raise TooLarge(f"the image is larger than {size_text(max_bytes)}")
    if not data:
        raise Invalid("the file is empty", field="file")
    kind = sniff(data)
    if kind is None:
        raise Unsupported("only PNG, JPEG and WebP images are accepted (the file's contents are not one of these)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=[FORMATS[kind][0]])
            width, height = img.size  # read from the header, before any pixel is decoded
            if width * height > max_pixels:
                raise TooLarge(f"the image has too many pixels ({width}×{height}; at most {max_pixels // 1_000_000} megapixels)")
            img.load()
    except (TooLarge, Unsupported):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise TooLarge(f"the image has too many pixels (at most {max_pixels // 1_000_000} megapixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise Invalid(f"the image is damaged or incomplete ({exc})", field="file") from None
    img = ImageOps.exif_transpose(img)
    fmt, mime = FORMATS[kind]
    if fmt == "JPEG":
        img = img.convert("RGB")
    elif img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB")
    out = io.BytesIO()
    save_args = {"JPEG": {"quality": 92, "optimize": True}, "PNG": {"optimize": True},
                 "WEBP": {"quality": 90, "method": 4}}[fmt]  # fmt: skip
    img.save(out, fmt, **save_args)
    thumb_img = img.copy()
    thumb_img.thumbnail((THUMB_SIDE, THUMB_SIDE))
    if thumb_img.mode in ("RGBA", "LA"):
        bg = Image.new("RGB", thumb_img.size, (22, 23, 26))
        bg.paste(thumb_img, mask=thumb_img.getchannel("A"))
        thumb_img = bg
    thumb = io.BytesIO()
    thumb_img.convert("RGB").save(thumb, "JPEG", quality=85)
    return CleanImage(out.getvalue(), "jpg" if kind == "jpeg" else kind, mime, img.width, img.height,
                      thumb.getvalue())  # fmt: skip
