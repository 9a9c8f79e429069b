"""``GET /.well-known/jwks.json``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from kit.db import Session

from identity.keys import service
from identity.keys.schemas import JWKS

router = APIRouter(tags=["keys"])


@router.get("/.well-known/jwks.json", response_model=JWKS)
async def get_jwks(session: Session, response: Response) -> dict[str, Any]:
    """Public keys verifying identity's access tokens (active and not-yet-retired)."""
    # Short cache: verifiers refetch on an unknown kid anyway.
    response.headers["Cache-Control"] = "public, max-age=60"
    return await service.jwks(session)
