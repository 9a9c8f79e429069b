"""RSA signing-key material: generation, encryption at rest, JWK export. No I/O."""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import RSAAlgorithm

KEY_SIZE = 2048
_NONCE_BYTES = 12


class KeyDecryptionError(Exception):
    """The stored private key could not be decrypted (wrong secret or tampered row)."""


def generate_private_key() -> RSAPrivateKey:
    """A fresh RSA-2048 private key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def _aes_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def seal(plaintext: bytes, *, secret: str, context: str) -> bytes:
    """Encrypt ``plaintext`` with AES-256-GCM under a key derived from ``secret``.

    ``context`` (a row id, say) is authenticated as associated data, so a
    ciphertext copied onto another row fails to open.  Layout: nonce || ciphertext.
    """
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + AESGCM(_aes_key(secret)).encrypt(nonce, plaintext, context.encode("utf-8"))


def unseal(sealed: bytes, *, secret: str, context: str) -> bytes:
    """Reverse :func:`seal`; raise :class:`KeyDecryptionError` on a wrong secret,
    context or tampered ciphertext."""
    nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
    try:
        return AESGCM(_aes_key(secret)).decrypt(nonce, ciphertext, context.encode("utf-8"))
    except Exception as exc:
        raise KeyDecryptionError("cannot decrypt sealed value") from exc


def encrypt_private_key(private_key: RSAPrivateKey, *, secret: str, kid: str) -> bytes:
    """Serialize ``private_key`` (PKCS#8 DER) and :func:`seal` it bound to ``kid``."""
    der = private_key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return seal(der, secret=secret, context=kid)


def decrypt_private_key(sealed: bytes, *, secret: str, kid: str) -> RSAPrivateKey:
    """Reverse :func:`encrypt_private_key`; raise :class:`KeyDecryptionError` on failure."""
    try:
        der = unseal(sealed, secret=secret, context=kid)
    except KeyDecryptionError as exc:
        raise KeyDecryptionError(f"cannot decrypt signing key {kid}") from exc
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise KeyDecryptionError(f"signing key {kid} is not an RSA key")
    return key


def key_id(public_key: RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint (base64url SHA-256) of the public key."""
    numbers = public_key.public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    canonical = f'{{"e":"{b64(numbers.e)}","kty":"RSA","n":"{b64(numbers.n)}"}}'
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def public_jwk(public_key: RSAPublicKey, kid: str) -> dict[str, Any]:
    """The public key as a JWK (``kty``, ``n``, ``e``, ``kid``, ``use``, ``alg``)."""
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return jwk


def public_key_from_jwk(jwk: dict[str, Any]) -> RSAPublicKey:
    """Load an RSA public key from its JWK."""
    key = RSAAlgorithm.from_jwk(jwk)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("JWK is not an RSA public key")
    return key


def retire_at(rotated_at: datetime, access_token_ttl: timedelta) -> datetime:
    """When a rotated-out key may leave JWKS: once every token it signed has expired
    (the last one was signed at ``rotated_at`` at the latest)."""
    return rotated_at + access_token_ttl


def published_in_jwks(*, active: bool, retire_at: datetime | None, now: datetime) -> bool:
    """True while a key must stay in JWKS: it is active, or its tokens may still be live."""
    return active or (retire_at is not None and now < retire_at)
