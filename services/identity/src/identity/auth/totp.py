"""TOTP (RFC 6238) and recovery codes, with no I/O."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

TOTP_PERIOD = 30
TOTP_DIGITS = 6
RECOVERY_CODE_COUNT = 10
# Base32 alphabet without the characters people confuse when copying by hand.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_totp_secret() -> str:
    """A random base32 secret (160 bits), as authenticator apps expect."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, *, account_name: str, issuer: str) -> str:
    """The ``otpauth://totp/...`` URI an authenticator app scans."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=account_name, issuer_name=issuer
    )


def current_code(secret: str, now: datetime) -> str:
    """The code for ``now`` (used by tests and by nothing else)."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).at(now)


def _step(moment: datetime) -> int:
    return int(moment.timestamp()) // TOTP_PERIOD


def verify_totp(
    secret: str, code: str, *, now: datetime, last_used_step: int | None = None, window: int = 1
) -> int | None:
    """Return the time step ``code`` matches, or ``None``.

    Accepts the current step and ``window`` steps either side (clock drift).
    A step at or before ``last_used_step`` is refused, so one code cannot be
    replayed within its validity window.
    """
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = _step(now)
    for step in range(current - window, current + window + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected, code):
            return step
    return None


def generate_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """``count`` fresh one-time recovery codes shaped ``xxxxx-xxxxx``."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def normalize_recovery_code(code: str) -> str:
    """Lower-case, without dashes or spaces, so users may type it loosely."""
    return code.strip().lower().replace("-", "").replace(" ", "")


def hash_recovery_code(code: str) -> str:
    """The SHA-256 hex digest stored for a recovery code (codes are 50 bits of
    randomness and single-use, so a fast hash is sufficient)."""
    return hashlib.sha256(normalize_recovery_code(code).encode("utf-8")).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    """True when ``code`` has the shape of a recovery code rather than a TOTP."""
    normalized = normalize_recovery_code(code)
    return len(normalized) == 10 and all(c in _RECOVERY_ALPHABET for c in normalized)
