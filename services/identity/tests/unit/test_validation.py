import pytest
from identity.accounts.validation import (
    PasswordPolicyError,
    UsernameError,
    check_password_policy,
    username_key,
    validate_username,
)


@pytest.mark.parametrize(
    "name", ["abc", "user_01", "أحمد", "محمد_2024", "Sara_سارة", "x" * 30, "\u0663\u0664\u0665abc"]
)
def test_valid_usernames_are_accepted(name: str) -> None:
    assert validate_username(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "x" * 31,
        "has space",
        "dash-name",
        "dot.name",
        "émile",
        "иван",
        "أحـمد",
        "مُحَمَّد",
        "a@b",
        "",
    ],
)
def test_invalid_usernames_are_rejected(name: str) -> None:
    with pytest.raises(UsernameError):
        validate_username(name)


def test_reserved_usernames_are_rejected_case_insensitively() -> None:
    with pytest.raises(UsernameError, match="reserved"):
        validate_username("Admin")


def test_username_is_trimmed_and_nfc_normalized() -> None:
    decomposed = "a\u0622bc"  # ALEF WITH MADDA (composed) stays valid
    assert validate_username(f"  {decomposed} ") == decomposed
    assert validate_username("\u0627\u0653bc") == "\u0622bc"  # alef + madda combines to U+0622


def test_username_key_ignores_latin_case() -> None:
    assert username_key("Ahmed_1") == username_key("aHMED_1")


def test_password_shorter_than_ten_is_rejected() -> None:
    with pytest.raises(PasswordPolicyError, match="at least 10"):
        check_password_policy("short-pw1")


def test_password_longer_than_128_is_rejected() -> None:
    with pytest.raises(PasswordPolicyError, match="at most 128"):
        check_password_policy("a1" * 65)


def test_password_of_one_repeated_char_is_rejected() -> None:
    with pytest.raises(PasswordPolicyError):
        check_password_policy("aaaaaaaaaaaa")


def test_password_equal_to_username_or_email_is_rejected() -> None:
    with pytest.raises(PasswordPolicyError):
        check_password_policy("LongUsername", username="longusername")
    with pytest.raises(PasswordPolicyError):
        check_password_policy("someone.long", email="someone.long@example.com")


def test_good_password_passes_policy() -> None:
    check_password_policy("correct horse battery", username="user", email="u@example.com")
    check_password_policy("x" * 9 + "y")
    check_password_policy("ab" * 64)
