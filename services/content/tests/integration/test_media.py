from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from content.media import repository
from kit.errors import Conflict

from .conftest import png, post

pytestmark = pytest.mark.integration


async def test_image_upload_is_typed_by_bytes_measured_and_served_immutably(
    client: httpx.AsyncClient, person
) -> None:
    owner = await person()
    data = png((40, 30))
    resp = await client.post(
        "/media",
        files={"file": ("holiday.exe", data, "application/octet-stream")},
        headers=owner.auth,
    )
    assert resp.status_code == 201, resp.text
    media = resp.json()
    assert media["content_type"] == "image/png"
    assert (media["width"], media["height"]) == (40, 30) and media["size_bytes"] == len(data)
    assert media["url"].endswith(f"/media/{media['id']}")
    served = await client.get(f"/media/{media['id']}")
    assert served.status_code == 200 and served.content == data
    assert served.headers["content-type"] == "image/png"
    assert "immutable" in served.headers["cache-control"]
    etag = served.headers["etag"]
    again = await client.get(f"/media/{media['id']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""

    attached = await post(client, owner, "", media_ids=[media["id"]])
    assert attached["media"][0]["media_id"] == media["id"]
    assert attached["media"][0]["width"] == 40


async def test_bad_uploads_get_clear_problems(client: httpx.AsyncClient, person) -> None:
    owner, other = await person(), await person()
    wrong = await client.post(
        "/media",
        files={"file": ("cat.png", b"%PDF-1.7 not an image", "image/png")},
        headers=owner.auth,
    )
    assert wrong.status_code == 415 and "image/png" in wrong.json()["allowed"]
    broken = await client.post(
        "/media", files={"file": ("x.png", png()[:40], "image/png")}, headers=owner.auth
    )
    assert broken.status_code == 422
    oversize = b"\x89PNG\r\n\x1a\n" + b"\x00" * 300_001  # image limit in tests: 300 000 bytes
    big = await client.post(
        "/media", files={"file": ("big.png", oversize, "image/png")}, headers=owner.auth
    )
    assert big.status_code == 413 and big.headers["content-type"].startswith(
        "application/problem+json"
    )
    empty = await client.post(
        "/media", files={"file": ("e.png", b"", "image/png")}, headers=owner.auth
    )
    assert empty.status_code == 422
    assert (
        await client.post("/media", files={"file": ("a.png", png(), "image/png")})
    ).status_code == 401
    # Someone else's media cannot be attached; a reel needs a video.
    mine = (
        await client.post(
            "/media", files={"file": ("a.png", png(), "image/png")}, headers=owner.auth
        )
    ).json()
    stolen = await client.post(
        "/posts", json={"text": "x", "media_ids": [mine["id"]]}, headers=other.auth
    )
    assert stolen.status_code == 422
    reel = await client.post(
        "/posts", json={"kind": "reel", "media_ids": [mine["id"]]}, headers=owner.auth
    )
    assert reel.status_code == 422
    assert (await client.get("/media/01a21659-8c27-740d-86d1-203185ad3b23")).status_code == 404


async def test_video_upload_makes_a_reel(client: httpx.AsyncClient, person) -> None:
    owner = await person()
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 1000
    resp = await client.post(
        "/media", files={"file": ("clip", mp4, "video/mp4")}, headers=owner.auth
    )
    assert resp.status_code == 201 and resp.json()["content_type"] == "video/mp4"
    assert resp.json()["width"] is None
    reel = await post(client, owner, "#reel", kind="reel", media_ids=[resp.json()["id"]])
    assert reel["kind"] == "reel"
    reels = (await client.get(f"/users/{owner.id}/posts", params={"kind": "reel"})).json()
    assert [p["id"] for p in reels["items"]] == [reel["id"]]


async def test_byte_ranges_are_served_for_seeking(client: httpx.AsyncClient, person) -> None:
    owner = await person()
    data = png((64, 48))
    media = (
        await client.post(
            "/media", files={"file": ("a.png", data, "image/png")}, headers=owner.auth
        )
    ).json()
    url, size = f"/media/{media['id']}", len(data)

    whole = await client.get(url)
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    part = await client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    assert part.headers["content-length"] == "10"
    tail = await client.get(url, headers={"Range": "bytes=-7"})
    assert tail.status_code == 206 and tail.content == data[-7:]
    rest = await client.get(url, headers={"Range": f"bytes={size - 3}-"})
    assert rest.content == data[-3:]
    clipped = await client.get(url, headers={"Range": f"bytes=5-{size * 2}"})
    assert clipped.status_code == 206 and clipped.content == data[5:]

    beyond = await client.get(url, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.headers["content-type"].startswith("application/problem+json")
    # Several ranges, or a stale If-Range validator: the whole object instead.
    several = await client.get(url, headers={"Range": "bytes=0-1,4-5"})
    assert several.status_code == 200 and several.content == data
    stale = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == data
    fresh = await client.get(url, headers={"Range": "bytes=0-1", "If-Range": whole.headers["etag"]})
    assert fresh.status_code == 206 and fresh.content == data[:2]


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def test_videos_stream_to_storage_and_an_oversize_one_leaves_nothing(
    client: httpx.AsyncClient, settings, person
) -> None:
    owner = await person()
    media_dir = Path(settings.media_dir)
    header = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    files_before = files_under(media_dir)

    video = header + os.urandom(590_000)
    resp = await client.post(
        "/media", files={"file": ("clip.mp4", video, "video/mp4")}, headers=owner.auth
    )
    assert resp.status_code == 201 and resp.json()["size_bytes"] == len(video)
    served = await client.get(f"/media/{resp.json()['id']}")
    assert served.content == video
    assert served.headers["etag"] == f'"{hashlib.sha256(video).hexdigest()}"'

    stored = files_under(media_dir)
    too_big = header + os.urandom(700_000)  # test limit for videos: 600 000 bytes
    refused = await client.post(
        "/media", files={"file": ("big.mp4", too_big, "video/mp4")}, headers=owner.auth
    )
    assert refused.status_code == 413
    assert files_under(media_dir) == stored  # no object, no temporary file
    assert len(stored - files_before) == 1


async def test_bytes_stored_for_a_failed_upload_are_removed(
    client: httpx.AsyncClient, settings, person, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def row_not_written(*_args: object, **_kwargs: object) -> None:
        raise Conflict("the row could not be written")

    owner = await person()
    media_dir = Path(settings.media_dir)
    before = files_under(media_dir)
    monkeypatch.setattr(repository, "add", row_not_written)
    video = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + os.urandom(10_000)
    resp = await client.post(
        "/media", files={"file": ("clip.mp4", video, "video/mp4")}, headers=owner.auth
    )
    assert resp.status_code == 409
    assert files_under(media_dir) == before  # stored, then removed again
