"""Media uploads: the type is taken from the bytes, the size bounded per type family,
images decoded enough to record (and verify) their dimensions.

The bytes are stored before the database row is written, so a row always points at a
stored object; a failure after the store leaves at most an unreferenced file.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
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
    from content.runtime import AfterCommitHooks, Runtime

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


class _BoundedReader:
    """The upload's bytes in chunks (``first`` then the rest), hashed and counted as
    they pass; 413 as soon as they exceed ``limit``."""

    def __init__(self, upload: UploadFile, first: bytes, limit: int) -> None:
        self.upload, self.first, self.limit = upload, first, limit
        self.size = 0
        self.sha256 = hashlib.sha256()

    def _count(self, chunk: bytes) -> bytes:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(
                f"The file is larger than the {self.limit} bytes allowed for its type.",
                limit=self.limit,
            )
        self.sha256.update(chunk)
        return chunk

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self._count(self.first)
        while chunk := await self.upload.read(READ_CHUNK):
            yield self._count(chunk)

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upload(
    session: AsyncSession,
    rt: Runtime,
    owner_id: uuid.UUID,
    upload_file: UploadFile,
    now: datetime | None = None,
    *,
    hooks: AfterCommitHooks | None = None,
) -> Media:
    """Store an uploaded file and its row.

    415: not one of the accepted types (judged by its bytes); 413: over the size limit
    of its type; 422: empty, or an image that does not decode. With ``hooks``, the
    stored bytes are deleted again if the request fails afterwards.
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
    reader = _BoundedReader(upload_file, head, limit)
    media_id = uuid7()
    key = key_for(media_id, sniff.EXTENSIONS[content_type])
    width = height = None
    if sniff.is_image(content_type):
        # Images are bounded by the (small) image limit and must be decoded whole.
        data = await reader.read_all()
        try:
            info = sniff.image_info(data, content_type)
        except sniff.InvalidImage as exc:
            raise UnprocessableEntity(str(exc), title="Invalid image") from None
        width, height = info.width, info.height
        await rt.storage.put(key, _once(data))
    else:
        # Videos stream to storage; an oversize one stops at the limit, storing nothing.
        await rt.storage.put(key, reader.chunks())
    if hooks is not None:
        hooks.on_failure(lambda: rt.storage.delete(key))
    media = Media(
        id=media_id,
        owner_id=owner_id,
        content_type=content_type,
        size_bytes=reader.size,
        width=width,
        height=height,
        sha256=reader.sha256.hexdigest(),
        storage_key=key,
        created_at=now,
    )
    await repository.add(session, media)
    return media
