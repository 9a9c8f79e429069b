import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from identity.auth.tokens import (
    InvalidToken,
    RefreshDecision,
    RefreshTokenState,
    decide_refresh,
    hash_refresh_token,
    issue_access_token,
    issue_mfa_token,
    new_refresh_token,
    verify_access_token,
    verify_mfa_token,
)
from identity.keys.crypto import generate_private_key, key_id

KEY = generate_private_key()
KID = key_id(KEY.public_key())
ISS, AUD = "platform-identity", "platform"
NOW = datetime.now(UTC).replace(microsecond=0)


def resolve(kid: str):
    return KEY.public_key() if kid == KID else None


def _issue(now: datetime = NOW, ttl: timedelta = timedelta(minutes=15)) -> str:
    return issue_access_token(
        private_key=KEY,
        kid=KID,
        user_id=uuid.UUID(int=1),
        session_id=uuid.UUID(int=2),
        roles=["user", "moderator"],
        issuer=ISS,
        audience=AUD,
        ttl=ttl,
        now=now,
    ).token


def _verify(token: str, now: datetime | None = None):
    return verify_access_token(token, resolve_key=resolve, issuer=ISS, audience=AUD, now=now)


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_issued_token_carries_required_claims_and_kid() -> None:
    token = _issue()
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KID, "typ": "JWT"}
    claims = _verify(token)
    assert claims.user_id == uuid.UUID(int=1)
    assert claims.session_id == uuid.UUID(int=2)
    assert claims.roles == ("user", "moderator")
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["exp"] - raw["iat"] == 900
    assert {"iss", "aud", "jti", "sub", "sid"} <= raw.keys()


def test_expired_token_is_refused() -> None:
    token = _issue(now=NOW - timedelta(hours=1))
    with pytest.raises(InvalidToken):
        _verify(token)
    with pytest.raises(InvalidToken):
        _verify(_issue(), now=NOW + timedelta(minutes=16))


def test_tampered_payload_is_refused() -> None:
    header, payload, sig = _issue().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    with pytest.raises(InvalidToken):
        _verify(f"{header}.{_b64(claims)}.{sig}")


def test_alg_none_is_refused() -> None:
    _, payload, _ = _issue().split(".")
    with pytest.raises(InvalidToken, match="algorithm"):
        _verify(f"{_b64({'alg': 'none', 'kid': KID})}.{payload}.")


def test_hs256_signed_with_public_key_is_refused() -> None:
    import hashlib
    import hmac

    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _, payload, _ = _issue().split(".")
    signing_input = f"{_b64({'alg': 'HS256', 'kid': KID, 'typ': 'JWT'})}.{payload}"
    sig = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken, match="algorithm"):
        _verify(forged)


def test_unknown_kid_wrong_audience_and_garbage_are_refused() -> None:
    other = generate_private_key()
    token = issue_access_token(
        private_key=other,
        kid="other",
        user_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        roles=["user"],
        issuer=ISS,
        audience=AUD,
        ttl=timedelta(minutes=5),
        now=NOW,
    ).token
    with pytest.raises(InvalidToken, match="unknown"):
        _verify(token)
    with pytest.raises(InvalidToken):
        verify_access_token(_issue(), resolve_key=resolve, issuer=ISS, audience="elsewhere")
    with pytest.raises(InvalidToken):
        _verify("not.a.jwt")


def test_mfa_token_round_trips_and_is_not_an_access_token() -> None:
    user = uuid.uuid4()
    mfa = issue_mfa_token(
        private_key=KEY, kid=KID, user_id=user, issuer=ISS, ttl=timedelta(minutes=5), now=NOW
    ).token
    assert verify_mfa_token(mfa, resolve_key=resolve, issuer=ISS) == user
    with pytest.raises(InvalidToken):
        _verify(mfa)
    with pytest.raises(InvalidToken):
        verify_mfa_token(_issue(), resolve_key=resolve, issuer=ISS)


def test_refresh_tokens_are_random_and_hashed_with_sha256() -> None:
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b and len(a) >= 43
    assert hash_refresh_token(a) == hash_refresh_token(a)
    assert len(hash_refresh_token(a)) == 64 and a not in hash_refresh_token(a)


LATER = NOW + timedelta(days=1)


def _decide(state=RefreshTokenState.ACTIVE, revoked=False, token_exp=LATER, session_exp=LATER):
    return decide_refresh(
        token_state=state,
        token_expires_at=token_exp,
        session_revoked=revoked,
        session_expires_at=session_exp,
        now=NOW,
    )


def test_active_token_rotates() -> None:
    assert _decide() is RefreshDecision.ROTATE


def test_spent_refresh_token_is_reuse() -> None:
    assert _decide(RefreshTokenState.SPENT) is RefreshDecision.REUSE_DETECTED


def test_revoked_session_or_token_rejects_without_reuse_alarm() -> None:
    assert _decide(RefreshTokenState.SPENT, revoked=True) is RefreshDecision.REJECT
    assert _decide(RefreshTokenState.REVOKED) is RefreshDecision.REJECT


def test_expired_token_or_session_rejects() -> None:
    assert _decide(token_exp=NOW) is RefreshDecision.REJECT
    assert _decide(session_exp=NOW - timedelta(seconds=1)) is RefreshDecision.REJECT
