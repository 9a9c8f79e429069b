"""Media endpoints: multipart upload, and serving the stored bytes back.

Objects never change once stored, so they are served with a strong ETag (the SHA-256
of the bytes) and ``Cache-Control: public, max-age=31536000, immutable``, and one byte
range per request is served (206) so that video players can seek. Media ids
are unguessable; anyone holding a media URL may fetch it, as from a CDN.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from kit.auth import CurrentUser
from kit.db import Session
from kit.errors import NotFound, PayloadTooLarge, ProblemError, problem_responses

from content.media import repository, service
from content.media.ranges import RangeNotSatisfiable, parse_range
from content.media.schemas import MediaOut
from content.runtime import AfterCommit, Rt

router = APIRouter(tags=["media"])

IMMUTABLE = "public, max-age=31536000, immutable"
#: Multipart framing allowed on top of the largest file.
MULTIPART_OVERHEAD = 64 * 1024


@router.post(
    "/media",
    status_code=201,
    response_model=MediaOut,
    responses=problem_responses(401, 413, 415, 422),
)
async def upload_media(
    hooks: AfterCommit,
    request: Request,
    file: Annotated[UploadFile, File(description="The image or video")],
    user: CurrentUser,
    session: Session,
    rt: Rt,
) -> MediaOut:
    """Upload an image (JPEG, PNG, GIF, WebP) or video (MP4, WebM) as form field ``file``.
    The type is judged by the bytes, not the name or declared type. If the request
    fails after the bytes were stored (the row not written or not committed), they are
    removed again."""
    settings = rt.settings
    declared = request.headers.get("content-length")
    ceiling = max(settings.image_max_bytes, settings.video_max_bytes) + MULTIPART_OVERHEAD
    if declared is not None and declared.isdigit() and int(declared) > ceiling:
        raise PayloadTooLarge(f"The upload exceeds {ceiling} bytes.", limit=ceiling)
    media = await service.upload(session, rt, user.user_id, file, hooks=hooks)
    return service.media_out(media, settings.media_base_url)


@router.get("/media/{media_id}", responses=problem_responses(404, 416))
async def serve_media(media_id: uuid.UUID, request: Request, session: Session, rt: Rt) -> Response:
    """The stored bytes with their type, length, ETag and immutable caching.

    ``Range: bytes=a-b`` (one range) answers 206 with those bytes; a range past the end
    answers 416. ``If-Range`` with another validator than the ETag sends everything.
    """
    media = await repository.get(session, media_id)
    if media is None:
        raise NotFound("No such media.")
    etag = f'"{media.sha256}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE,
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
        "Accept-Ranges": "bytes",
    }
    inm = request.headers.get("if-none-match")
    if inm is not None and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    try:
        size = await rt.storage.size(media.storage_key)
    except FileNotFoundError:
        raise NotFound("The media's bytes are missing.") from None
    if_range = request.headers.get("if-range")
    wanted = request.headers.get("range") if if_range in (None, etag) else None
    try:
        byte_range = parse_range(wanted, size)
    except RangeNotSatisfiable:
        raise RangeNotSatisfiableProblem(size) from None
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            rt.storage.open(media.storage_key), media_type=media.content_type, headers=headers
        )
    headers["Content-Length"] = str(byte_range.length)
    headers["Content-Range"] = byte_range.content_range(size)
    return StreamingResponse(
        rt.storage.open(media.storage_key, byte_range.first, byte_range.length),
        status_code=206,
        media_type=media.content_type,
        headers=headers,
    )


class RangeNotSatisfiableProblem(ProblemError):
    """416, with the object's size in ``Content-Range`` as RFC 9110 asks."""

    status = 416
    title = "Range Not Satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(
            detail=f"The requested range is outside the object's {size} bytes.",
            headers={"Content-Range": f"bytes */{size}"},
            size=size,
        )
