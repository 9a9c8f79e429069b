"""JWKS response shape."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class JWK(BaseModel):
    model_config = ConfigDict(extra="allow")

    kty: str
    kid: str
    use: str
    alg: str
    n: str
    e: str


class JWKS(BaseModel):
    keys: list[JWK]
