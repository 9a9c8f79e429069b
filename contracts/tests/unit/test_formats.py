"""The format assertions do not depend on optional packages and follow RFC 3339 / RFC 9562."""

from __future__ import annotations

import pytest

from contracts.formats import format_checker, is_date_time, is_uri, is_uuid


@pytest.mark.parametrize(
    "value",
    [
        "2025-11-20T09:30:00Z",
        "2025-11-20t09:30:00z",
        "2025-11-20T09:30:00.123456789+03:00",
        "2024-02-29T23:59:59-05:30",
        "2016-12-31T23:59:60Z",
    ],
)
def test_rfc3339_date_times_are_accepted(value):
    assert is_date_time(value)


@pytest.mark.parametrize(
    "value",
    [
        "2025-11-20T09:30:00",  # no offset
        "2025-11-20 09:30:00Z",  # space separator
        "2025-02-29T00:00:00Z",  # not a leap year
        "2025-11-20T24:00:00Z",
        "2025-11-20T09:30:00+24:00",
        "2025-11-20",
        "20251120T093000Z",
        "\u0662\u0660\u0662\u0665-11-20T09:30:00Z",  # Arabic-Indic digits in the year
    ],
)
def test_malformed_date_times_are_rejected(value):
    assert not is_date_time(value)


def test_uuids_must_be_hyphenated_hex():
    assert is_uuid("0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f")
    assert is_uuid("0193F5A0-6B7C-7D2E-9F10-2A3B4C5D6E7F")
    for bad in (
        "0193f5a06b7c7d2e9f102a3b4c5d6e7f",
        "urn:uuid:0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f",
        "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7g",
        "0193f5a0-6b7c-7d2e-9f10-2a3b4c5d6e7f\n",
    ):
        assert not is_uuid(bad), bad


def test_uris_must_be_absolute_without_whitespace():
    assert is_uri("https://cdn.platform.example/a.webp")
    assert not is_uri("/relative/path")
    assert not is_uri("https://cdn.platform.example/a b.webp")


def test_non_strings_are_left_to_the_type_keyword():
    assert is_uuid(5) and is_date_time(None) and is_uri(3.2)


def test_checker_asserts_exactly_the_platform_formats():
    assert set(format_checker().checkers) == {"uuid", "date-time", "uri"}
