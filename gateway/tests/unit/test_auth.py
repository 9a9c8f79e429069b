from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace

import pytest
from gateway.auth import TokenChecker, bearer_token, token_expiry
from kit.errors import ServiceUnavailable, Unauthorized


def fake_jwt(exp: float) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part({'sub': 'u', 'exp': exp})}.sig"


def test_bearer_token_parsing():
    assert bearer_token(None) is None
    assert bearer_token(b"Basic abc") is None
    assert bearer_token(b"Bearer abc.def") == "abc.def"
    assert bearer_token(b"bearer  abc ") == "abc"
    assert bearer_token(b"Bearer") == ""


def test_token_expiry_reads_exp_claim():
    assert token_expiry(fake_jwt(1234)) == 1234
    assert token_expiry("nonsense") is None
    assert token_expiry("a.!!!.c") is None


async def test_verified_token_is_cached_until_expiry():
    calls = []

    async def verify(token):
        calls.append(token)
        return SimpleNamespace(user_id="user-1")

    checker = TokenChecker(verify)
    token = fake_jwt(time.time() + 60)
    assert await checker.user_id(token) == "user-1"
    assert await checker.user_id(token) == "user-1"
    assert len(calls) == 1
    expired = fake_jwt(time.time() - 1)
    await checker.user_id(expired)
    await checker.user_id(expired)
    assert len(calls) == 3


async def test_bad_token_is_unauthorized_and_not_cached():
    calls = []

    async def verify(token):
        calls.append(token)
        raise Unauthorized("The token has expired.", title="Invalid token")

    checker = TokenChecker(verify)
    for _ in range(2):
        with pytest.raises(Unauthorized, match="expired"):
            await checker.user_id("x.y.z")
    assert len(calls) == 2


async def test_unexpected_verify_error_becomes_401_but_503_passes_through():
    async def broken(token):
        raise ValueError("boom")

    with pytest.raises(Unauthorized):
        await TokenChecker(broken).user_id("t")

    async def no_keys(token):
        raise ServiceUnavailable("Token keys are unavailable")

    with pytest.raises(ServiceUnavailable):
        await TokenChecker(no_keys).user_id("t")


async def test_cache_is_bounded():
    async def verify(token):
        return SimpleNamespace(user_id=token[-5:])

    checker = TokenChecker(verify, max_entries=3)
    for i in range(10):
        await checker.user_id(fake_jwt(time.time() + 600 + i))
    assert len(checker._cache) <= 3
