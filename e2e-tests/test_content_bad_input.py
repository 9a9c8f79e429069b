"""Bad input to content through the gateway: a clear RFC 9457 4xx, never a 5xx."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration

C = "/v1/content"


def is_problem(resp: httpx.Response, status: int) -> bool:
    return resp.status_code == status and resp.headers["content-type"].startswith(
        "application/problem+json"
    )


async def test_too_long_post_and_unknown_reaction_are_rejected(
    api: httpx.AsyncClient, make_user
) -> None:
    user = await make_user()
    long_post = await api.post(f"{C}/posts", json={"text": "ع" * 5001}, headers=user.auth)
    assert is_problem(long_post, 422) and "5000" in long_post.json()["detail"]
    ok = await api.post(f"{C}/posts", json={"text": "ع" * 5000}, headers=user.auth)
    assert ok.status_code == 201
    pid = ok.json()["id"]
    assert is_problem(await api.put(f"{C}/posts/{pid}/reactions/meh", headers=user.auth), 422)
    no_token = await api.post(f"{C}/posts", json={"text": "x"})
    assert is_problem(no_token, 401)
    bad_id = await api.get(f"{C}/posts/not-a-uuid")
    assert is_problem(bad_id, 422)


async def test_tampered_cursor_is_a_400(api: httpx.AsyncClient, make_user) -> None:
    user = await make_user()
    for i in range(3):
        await api.post(f"{C}/posts", json={"text": f"post {i}"}, headers=user.auth)
    page = (await api.get(f"{C}/users/{user.id}/posts", params={"limit": 1})).json()
    cursor = page["next_cursor"]
    assert cursor
    tampered = cursor[:-4] + ("AAAA" if not cursor.endswith("AAAA") else "BBBB")
    for bad in (tampered, "garbage", cursor + "x"):
        resp = await api.get(f"{C}/users/{user.id}/posts", params={"cursor": bad})
        assert is_problem(resp, 400), resp.text
    home = await api.get(f"{C}/timeline/home", params={"cursor": tampered}, headers=user.auth)
    assert is_problem(home, 400)


async def test_wrong_type_and_oversize_uploads_are_rejected(
    api: httpx.AsyncClient, make_user
) -> None:
    user = await make_user()
    pdf = await api.post(
        f"{C}/media",
        files={"file": ("photo.jpg", b"%PDF-1.7\n" + b"x" * 100, "image/jpeg")},
        headers=user.auth,
    )
    assert is_problem(pdf, 415)
    fake_png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    broken = await api.post(
        f"{C}/media", files={"file": ("a.png", fake_png, "image/png")}, headers=user.auth
    )
    assert is_problem(broken, 422)
    # Larger than any limit on the way (gateway body limit or the image limit).
    huge = b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024)
    big = await api.post(
        f"{C}/media", files={"file": ("big.png", huge, "image/png")}, headers=user.auth
    )
    assert is_problem(big, 413)


async def test_an_image_larger_than_the_default_body_limit_uploads_through_the_gateway(
    api: httpx.AsyncClient, make_user
) -> None:
    import io
    import os

    from PIL import Image

    user = await make_user()
    # Random pixels do not compress: a 1024x1024 RGB PNG is about 3 MiB, over the
    # gateway's default 1 MiB limit and under content's 10 MiB image limit.
    image = Image.frombytes("RGB", (1024, 1024), os.urandom(1024 * 1024 * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    body = buffer.getvalue()
    assert len(body) > 2 * 1024 * 1024
    resp = await api.post(
        f"{C}/media", files={"file": ("noise.png", body, "image/png")}, headers=user.auth
    )
    assert resp.status_code == 201, resp.text
    media = resp.json()
    assert media["width"] == 1024
    assert media["height"] == 1024
    # Served back through the gateway whole, and by byte range for seeking (206/416).
    url = f"{C}/media/{media['id']}"
    whole = await api.get(url)
    assert whole.status_code == 200 and whole.content == body
    middle = await api.get(url, headers={"Range": "bytes=1048570-2097160"})
    assert middle.status_code == 206 and middle.content == body[1048570:2097161]
    assert middle.headers["content-range"] == f"bytes 1048570-2097160/{len(body)}"
    beyond = await api.get(url, headers={"Range": f"bytes={len(body)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(body)}"
