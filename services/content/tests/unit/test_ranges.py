from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from content.media.ranges import ByteRange, RangeNotSatisfiable, parse_range
from content.media.storage import CHUNK, LocalDiskStorage, key_for


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", ByteRange(0, 9)),
        ("bytes=90-", ByteRange(90, 99)),
        ("bytes=-10", ByteRange(90, 99)),
        ("bytes=-500", ByteRange(0, 99)),
        ("bytes=50-5000", ByteRange(50, 99)),
        (" Bytes = 1 - 2 ", ByteRange(1, 2)),
        ("bytes=0-1,5-6", None),  # several ranges: served whole
        ("items=0-1", None),
        ("bytes=9-1", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
        ("bytes=+1-2", None),
        ("bytes", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


def test_content_range_and_length() -> None:
    r = ByteRange(10, 19)
    assert (r.length, r.content_range(100)) == (10, "bytes 10-19/100")


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def test_a_stream_that_fails_midway_stores_nothing(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    key = key_for(uuid.uuid4(), "webm")

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        await storage.put(key, broken())
    assert not any(p.is_file() for p in list(tmp_path.rglob("*")))  # noqa: ASYNC240
    with pytest.raises(FileNotFoundError):
        await storage.size(key)


async def test_local_disk_reads_a_window_across_chunks(tmp_path: Path) -> None:
    storage = LocalDiskStorage(tmp_path)
    data = os.urandom(2 * CHUNK + 123)
    key = key_for(uuid.uuid4(), "mp4")
    await storage.put(key, chunked(data, 100_000))

    async def read(start: int = 0, length: int | None = None) -> bytes:
        return b"".join([c async for c in storage.open(key, start, length)])

    assert await read() == data
    assert await read(CHUNK - 5, CHUNK + 10) == data[CHUNK - 5 : 2 * CHUNK + 5]
    assert await read(len(data) - 3) == data[-3:]
    assert await read(7, 0) == b""
