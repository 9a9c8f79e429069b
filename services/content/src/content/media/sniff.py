"""Media type detection from the bytes themselves (magic numbers), never from the name.

Only the types the platform accepts are recognised; anything else is ``None``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
VIDEO_TYPES = ("video/mp4", "video/webm")
ALLOWED_TYPES = IMAGE_TYPES + VIDEO_TYPES
#: Bytes needed to recognise every accepted type.
SNIFF_BYTES = 32

EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/webm": "webm",
}

_MP4_BRANDS = {
    b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
    b"dash", b"M4V ", b"MSNV", b"mmp4",
}  # fmt: skip


def sniff(head: bytes) -> str | None:
    """The MIME type of a file starting with ``head`` (at least ``SNIFF_BYTES`` if the file
    has them), or None when it is none of ``ALLOWED_TYPES``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] in _MP4_BRANDS:
        return "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        # EBML header: Matroska and WebM share it; the DocType names which.
        return "video/webm" if b"webm" in head[:64] else None
    return None


def is_image(content_type: str) -> bool:
    return content_type in IMAGE_TYPES


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int


class InvalidImage(ValueError):
    """The bytes carry an image signature but are not a decodable image of that type."""


_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
#: Refuse images whose pixel count could exhaust memory when decoded downstream.
MAX_PIXELS = 50_000_000


def image_info(data: bytes, content_type: str) -> ImageInfo:
    """Width and height of an image, read from its header and verified by Pillow.

    Raises :class:`InvalidImage` when the data is not a well-formed image of
    ``content_type`` or has more than ``MAX_PIXELS`` pixels.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[content_type]]) as img:
            width, height = img.size
            if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
                raise InvalidImage(f"image dimensions {width}x{height} are not accepted")
            img.verify()
    except InvalidImage:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, KeyError) as exc:
        raise InvalidImage(f"not a valid {content_type} image: {exc}") from None
    return ImageInfo(width=width, height=height)
