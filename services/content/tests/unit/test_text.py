from __future__ import annotations

import unicodedata

from content.text import (
    MAX_HASHTAGS,
    extract_hashtags,
    extract_mention_keys,
    normalize_hashtag,
    normalize_text,
)


def test_arabic_and_latin_hashtags_are_extracted_in_order_without_duplicates():
    text = "يوم جميل في #القاهرة مع #Python و #python مرة أخرى #القاهرة"
    assert extract_hashtags(text) == ["القاهرة", "python"]


def test_arabic_hashtag_diacritics_and_tatweel_are_removed_from_the_tag():
    assert extract_hashtags("زرت #مِصـر اليوم") == ["مصر"]
    assert normalize_hashtag("#مِصْرُ") == normalize_hashtag("مصر") == "مصر"


def test_hashtags_need_a_letter_and_a_boundary_before_the_hash():
    assert extract_hashtags("issue #2024 and a#b and &#39; and C# code") == []
    assert extract_hashtags("#٢٠٢٤_عام") == ["٢٠٢٤_عام"]


def test_hashtag_count_is_capped():
    text = " ".join(f"#tag{i}" for i in range(MAX_HASHTAGS + 10))
    assert len(extract_hashtags(text)) == MAX_HASHTAGS


def test_fullwidth_hash_starts_a_tag_and_ends_at_punctuation():
    assert extract_hashtags("\uff03عيد_سعيد! #fun.") == ["عيد_سعيد", "fun"]


def test_mentions_of_latin_and_arabic_usernames_are_found_case_insensitively():
    text = "شكراً @Layla_99 و @سارة و @layla_99 مرة ثانية"
    assert extract_mention_keys(text) == ["layla_99", "سارة"]


def test_email_addresses_and_too_short_names_are_not_mentions():
    assert extract_mention_keys("write to me@example.com or @ab or @@double") == []


def test_normalize_text_composes_and_trims_and_unifies_line_endings():
    decomposed = unicodedata.normalize("NFD", "café")
    assert normalize_text(f"  {decomposed}\r\nline  ") == "café\nline"
