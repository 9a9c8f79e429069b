from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from identity.auth.totp import (
    current_code,
    generate_recovery_codes,
    hash_recovery_code,
    looks_like_recovery_code,
    new_totp_secret,
    provisioning_uri,
    verify_totp,
)

NOW = datetime(2026, 1, 1, 12, 0, 10, tzinfo=UTC)


def test_current_code_verifies_and_returns_its_step() -> None:
    secret = new_totp_secret()
    step = verify_totp(secret, current_code(secret, NOW), now=NOW)
    assert step == int(NOW.timestamp()) // 30


def test_code_from_previous_step_is_accepted_for_drift() -> None:
    secret = new_totp_secret()
    assert verify_totp(secret, current_code(secret, NOW - timedelta(seconds=30)), now=NOW)


def test_code_from_two_minutes_ago_is_refused() -> None:
    secret = new_totp_secret()
    assert verify_totp(secret, current_code(secret, NOW - timedelta(minutes=2)), now=NOW) is None


def test_used_step_cannot_be_replayed() -> None:
    secret = new_totp_secret()
    code = current_code(secret, NOW)
    step = verify_totp(secret, code, now=NOW)
    assert step is not None
    assert verify_totp(secret, code, now=NOW, last_used_step=step) is None


def test_malformed_codes_are_refused() -> None:
    secret = new_totp_secret()
    for code in ["", "12345", "1234567", "abcdef"]:
        assert verify_totp(secret, code, now=NOW) is None


def test_code_for_another_secret_is_refused() -> None:
    assert verify_totp(new_totp_secret(), current_code(new_totp_secret(), NOW), now=NOW) is None


def test_provisioning_uri_names_issuer_platform() -> None:
    secret = new_totp_secret()
    uri = provisioning_uri(secret, account_name="ahmed", issuer="Platform")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    query = parse_qs(parsed.query)
    assert query["issuer"] == ["Platform"]
    assert query["secret"] == [secret]


def test_ten_distinct_recovery_codes() -> None:
    codes = generate_recovery_codes()
    assert len(codes) == 10 == len(set(codes))
    assert all(looks_like_recovery_code(c) for c in codes)


def test_recovery_code_hash_ignores_case_and_dashes() -> None:
    code = generate_recovery_codes(1)[0]
    assert hash_recovery_code(code) == hash_recovery_code(code.upper().replace("-", " "))
    assert not looks_like_recovery_code("123456")
