"""Single-use call join tokens: made here, spent by the realtime service.

Only the SHA-256 of a token is stored and published; the token itself is returned once
to the room's owner, who hands it to the invited user.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """Lowercase hex SHA-256 of the token's UTF-8 text (what ``token_issued`` carries)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_join_token() -> tuple[str, str]:
    """A fresh unguessable token (URL-safe, 256 bits) and its hash."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)
