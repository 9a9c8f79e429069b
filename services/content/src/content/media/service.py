"""Media uploads: the type is taken from the bytes, the size bounded per type family,
images decoded enough to record (and verify) their dimensions.

The bytes are stored before the database row is written, so a row always points at a
stored object; a failure after the store leaves at most an unreferenced file.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import UploadFile
from kit.errors import PayloadTooLarge, ProblemError, UnprocessableEntity
from kit.ids import uuid7
from sqlalchemy.ext.asyncio import AsyncSession

from content.media import repository, sniff
from content.media.schemas import MediaOut
from content.media.storage import key_for
from content.models import Media
from content.posts.state import media_url

if TYPE_CHECKING:
    from content.runtime import Runtime

READ_CHUNK = 1024 * 1024


class UnsupportedMediaType(ProblemError):
    def __init__(self, detail: str) -> None:
        super().__init__(
            415,
            "Unsupported media type",
            detail,
            "https://problems.platform.example/unsupported-media-type",
            allowed=list(sniff.ALLOWED_TYPES),
        )


def media_out(m: Media, url_prefix: str) -> MediaOut:
    return MediaOut(
        id=m.id,
        content_type=m.content_type,
        size_bytes=m.size_bytes,
        width=m.width,
        height=m.height,
        url=media_url(url_prefix, m.id),
        created_at=m.created_at,
    )


def limit_for(content_type: str, *, image_max: int, video_max: int) -> int:
    return image_max if sniff.is_image(content_type) else video_max


async def _read_bounded(upload: UploadFile, first: bytes, limit: int) -> bytes:
    parts = [first]
    size = len(first)
    while True:
        chunk = await upload.read(READ_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"The file is larger than the {limit} bytes allowed for its type.",
                limit=limit,
            )
        parts.append(chunk)
    return b"".join(parts)


async def upload(
    session: AsyncSession,
    rt: Runtime,
    owner_id: uuid.UUID,
    upload_file: UploadFile,
    now: datetime | None = None,
) -> Media:
    """Store an uploaded file and its row.

    415: not one of the accepted types (judged by its bytes); 413: over the size limit
    of its type; 422: empty, or an image that does not decode.
    """
    now = now or datetime.now(UTC)
    settings = rt.settings
    head = await upload_file.read(sniff.SNIFF_BYTES)
    if not head:
        raise UnprocessableEntity("The file is empty.", title="Empty file")
    content_type = sniff.sniff(head)
    if content_type is None:
        raise UnsupportedMediaType(
            "The file is not a JPEG, PNG, GIF or WebP image nor an MP4 or WebM video."
        )
    limit = limit_for(
        content_type, image_max=settings.image_max_bytes, video_max=settings.video_max_bytes
    )
    data = await _read_bounded(upload_file, head, limit)
    width = height = None
    if sniff.is_image(content_type):
        try:
            info = sniff.image_info(data, content_type)
        except sniff.InvalidImage as exc:
            raise UnprocessableEntity(str(exc), title="Invalid image") from None
        width, height = info.width, info.height
    media_id = uuid7()
    key = key_for(media_id, sniff.EXTENSIONS[content_type])
    await rt.storage.put(key, data)
    media = Media(
        id=media_id,
        owner_id=owner_id,
        content_type=content_type,
        size_bytes=len(data),
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=key,
        created_at=now,
    )
    await repository.add(session, media)
    return media
