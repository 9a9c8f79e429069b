"""Bad input through the gateway gets a clear 4xx Problem Details answer, never a 500."""

from __future__ import annotations

import pytest
from e2e_support import new_credentials, register

pytestmark = pytest.mark.integration

REGISTER = "/v1/identity/auth/register"


def _is_problem(resp) -> bool:
    return resp.headers.get("content-type", "").startswith("application/problem+json")


async def test_malformed_json_is_a_400(api):
    resp = await api.post(
        REGISTER, content=b'{"email": "a@b.org", ', headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 400
    assert _is_problem(resp)


async def test_wrong_types_are_a_422_naming_the_field(api):
    creds = new_credentials()
    resp = await api.post(REGISTER, json={**creds, "password": 12345678901})
    assert resp.status_code == 422
    assert _is_problem(resp)
    assert "password" in resp.text


async def test_unknown_fields_are_refused_on_register(api):
    resp = await api.post(REGISTER, json={**new_credentials(), "roles": ["admin"]})
    assert resp.status_code == 422
    assert _is_problem(resp)


async def test_oversize_body_is_a_413(api):
    creds = new_credentials()
    resp = await api.post(REGISTER, json={**creds, "padding": "x" * (2 * 1024 * 1024)})
    assert resp.status_code == 413
    assert _is_problem(resp)


async def test_duplicate_email_and_username_are_409(api):
    creds, _ = await register(api)
    same_email = {**new_credentials(), "email": creds["email"]}
    same_name = {**new_credentials(), "username": creds["username"]}
    for body in (same_email, same_name):
        resp = await api.post(REGISTER, json=body)
        assert resp.status_code == 409, resp.text
        assert _is_problem(resp)


async def test_unknown_route_and_internal_paths_are_404(api):
    assert (await api.get("/v1/nosuchcontext/x")).status_code == 404
    assert (await api.get("/v1/identity/internal/anything")).status_code == 404


async def test_short_password_and_bad_username_are_422(api):
    for body in (
        {**new_credentials(), "password": "short"},
        {**new_credentials(), "username": "no spaces allowed"},
        {**new_credentials(), "email": "not-an-email"},
    ):
        resp = await api.post(REGISTER, json=body)
        assert resp.status_code == 422, body
        assert _is_problem(resp)
