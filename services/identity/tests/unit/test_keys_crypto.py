from datetime import UTC, datetime, timedelta

import pytest
from identity.keys.crypto import (
    KeyDecryptionError,
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    key_id,
    public_jwk,
    public_key_from_jwk,
    published_in_jwks,
    retire_at,
)

KEY = generate_private_key()
KID = key_id(KEY.public_key())


def test_private_key_round_trips_through_encryption() -> None:
    sealed = encrypt_private_key(KEY, secret="s3cret", kid=KID)
    assert b"PRIVATE" not in sealed
    restored = decrypt_private_key(sealed, secret="s3cret", kid=KID)
    assert restored.private_numbers() == KEY.private_numbers()


def test_wrong_secret_or_moved_ciphertext_fails_to_decrypt() -> None:
    sealed = encrypt_private_key(KEY, secret="s3cret", kid=KID)
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(sealed, secret="other", kid=KID)
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(sealed, secret="s3cret", kid="another-kid")


def test_jwk_is_public_rs256_and_loads_back() -> None:
    jwk = public_jwk(KEY.public_key(), KID)
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig"
    assert jwk["kid"] == KID and "d" not in jwk
    assert public_key_from_jwk(jwk).public_numbers() == KEY.public_key().public_numbers()


def test_key_id_is_stable_thumbprint() -> None:
    assert key_id(KEY.public_key()) == KID
    assert key_id(generate_private_key().public_key()) != KID


def test_rotated_key_stays_published_until_its_tokens_expire() -> None:
    rotated = datetime(2026, 1, 1, tzinfo=UTC)
    until = retire_at(rotated, timedelta(minutes=15))
    assert until == rotated + timedelta(minutes=15)
    assert published_in_jwks(active=False, retire_at=until, now=until - timedelta(seconds=1))
    assert not published_in_jwks(active=False, retire_at=until, now=until)
    assert published_in_jwks(active=True, retire_at=None, now=until)
