"""Where media bytes live: a small storage interface and its local-disk backend.

Objects are immutable: a key is written once (its name derives from the media id) and
never changes, which is what lets them be served with ``Cache-Control: immutable``.
An S3-compatible backend implements the same :class:`Storage` protocol.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Protocol

_KEY_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f-]{36}\.[a-z0-9]{2,5}$")
CHUNK = 256 * 1024


class Storage(Protocol):
    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        """Store the bytes ``chunks`` yields under ``key`` durably, without holding them
        all in memory. Readers never see a half-written object: if ``chunks`` raises,
        nothing is stored and the exception propagates."""

    def open(self, key: str, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
        """The object's bytes from ``start`` (``length`` of them, or to the end) in
        chunks; ``FileNotFoundError`` (on first read) when absent."""

    async def size(self, key: str) -> int:
        """The object's size; ``FileNotFoundError`` when absent."""

    async def delete(self, key: str) -> None:
        """Remove the object if present."""


def key_for(media_id: uuid.UUID, extension: str) -> str:
    """The storage key of a media object: fanned out by the id's last hex digits."""
    hex_id = media_id.hex
    return f"{hex_id[-2:]}/{hex_id[-4:-2]}/{media_id}.{extension}"


class LocalDiskStorage:
    """Files under ``root``; writes go to a temporary name and are renamed into place,
    so a reader never sees a partial file and a crash leaves no half object."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        if not _KEY_RE.match(key):
            raise ValueError(f"invalid storage key {key!r}")
        return self.root / key

    async def put(self, key: str, chunks: AsyncIterable[bytes]) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        fh = await asyncio.to_thread(open, tmp, "wb")
        try:
            try:
                async for chunk in chunks:
                    await asyncio.to_thread(fh.write, chunk)
                await asyncio.to_thread(_flush_and_sync, fh)
            finally:
                fh.close()
            await asyncio.to_thread(os.replace, tmp, path)
        finally:
            await asyncio.to_thread(tmp.unlink, True)

    async def open(
        self, key: str, start: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        path = self._path(key)
        fh = await asyncio.to_thread(open, path, "rb")
        try:
            if start:
                fh.seek(start)
            remaining = length
            while remaining is None or remaining > 0:
                want = CHUNK if remaining is None else min(CHUNK, remaining)
                chunk = await asyncio.to_thread(fh.read, want)
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk
        finally:
            fh.close()

    async def size(self, key: str) -> int:
        path = self._path(key)
        return (await asyncio.to_thread(path.stat)).st_size

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await asyncio.to_thread(path.unlink, True)


def _flush_and_sync(fh: io.BufferedWriter) -> None:
    fh.flush()
    os.fsync(fh.fileno())
