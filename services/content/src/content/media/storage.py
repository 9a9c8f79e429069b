"""Where media bytes live: a small storage interface and its local-disk backend.

Objects are immutable: a key is written once (its name derives from the media id) and
never changes, which is what lets them be served with ``Cache-Control: immutable``.
An S3-compatible backend implements the same :class:`Storage` protocol.
"""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

_KEY_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f-]{36}\.[a-z0-9]{2,5}$")
CHUNK = 256 * 1024


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` durably; replaces nothing that readers could see
        half-written."""

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

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        await asyncio.to_thread(self._write, path, data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

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
