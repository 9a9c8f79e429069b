# ruff: noqa: RUF001, RUF003
"""Normalisation fixtures: what must become the same, and what must stay apart."""

from __future__ import annotations

import pytest
from search.arabic import normalise, normalise_all, normalise_token, search_form, search_token


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        # tashkeel: fatha, damma, kasra, sukun, shadda, tanween
        ("مَدْرَسَةٌ", "مدرسه"),
        ("كِتَابٌ", "كتاب"),
        ("مُحَمَّدٌ", "محمد"),
        ("عِلْمًا", "علما"),
        # superscript alef U+0670 and Quranic marks U+06D6–U+06ED, U+0610–U+061A
        ("رَحْمَٰن", "رحمن"),
        ("الرَّحِيمِ ۝ ۖ", "الرحيم"),  # end-of-ayah and pause marks
        ("صلى الله عليه وسلم ؐ", "صلي الله عليه وسلم"),
        # tatweel
        ("كتـــاب", "كتاب"),
        ("جمـيـل", "جميل"),
    ],
)
def test_diacritics_and_tatweel_are_removed(written: str, expected: str) -> None:
    assert normalise(written) == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("أحمد", "احمد"),
        ("إسلام", "اسلام"),
        ("آمنة", "امنه"),
        ("ٱلله", "الله"),
        ("مؤتمر", "موتمر"),
        ("رئيس", "رييس"),
        ("سماء", "سماء"),  # a lone hamza stays
    ],
)
def test_hamza_forms_are_unified(written: str, expected: str) -> None:
    assert normalise(written) == expected


def test_ta_marbuta_and_ha_meet() -> None:
    assert normalise("مدرسة") == normalise("مدرسه") == "مدرسه"


def test_alef_maqsura_and_ya_meet() -> None:
    assert normalise("مستشفى") == normalise("مستشفي") == "مستشفي"
    assert normalise("على") == normalise("علي")


def test_decomposed_hamza_is_composed_then_unified() -> None:
    decomposed = "ا\u0654حمد"  # alef + combining hamza above
    assert normalise(decomposed) == "احمد"


def test_arabic_indic_digits_become_ascii() -> None:
    assert normalise("٢٠٢٤ و ۱۴۰۳") == "2024 و 1403"


def test_latin_is_case_folded_and_whitespace_collapsed() -> None:
    assert normalise("  Hello\tWORLD \n مرحبا ") == "hello world مرحبا"


def test_presentation_forms_are_expanded() -> None:
    assert normalise("ﻻ") == "لا"


def test_normalisation_is_idempotent() -> None:
    text = "أَهْلًا بِكُمْ فِي مَدْرَسَةِ الْمُسْتَقْبَلِ ٢٠٢٤"
    once = normalise(text)
    assert normalise(once) == once


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("كتاب", "كتب"),  # book / books: different words stay different
        ("علم", "عالم"),
        ("مدرسة", "مدرس"),  # ta marbuta is unified with ha, not dropped
        ("سماء", "سما"),  # lone hamza is kept
    ],
)
def test_different_words_stay_different(a: str, b: str) -> None:
    assert normalise(a) != normalise(b)


def test_empty_and_none() -> None:
    assert normalise(None) == ""
    assert normalise("ًٌٍ") == ""


def test_token_normalisation_strips_edge_punctuation() -> None:
    assert normalise_token("«مَدْرَسَةٌ»،") == "مدرسه"
    assert normalise_token("(Hello!)") == "hello"


def test_normalise_all_drops_hash_empty_and_duplicates() -> None:
    assert normalise_all(["#تعليم", "تَعْلِيم", "", "ًٌ", "News"]) == ["تعليم", "news"]


@pytest.mark.parametrize(
    "written",
    ["المدرسة", "والمدرسة", "بالمدرسة", "كالمدرسة", "فالمدرسة", "للمدرسة", "مَدْرَسَة"],
)
def test_search_form_removes_the_article_and_fused_particles(written: str) -> None:
    assert search_form(written) == "مدرسه"


@pytest.mark.parametrize("word", ["الله", "والد", "بالغ", "الم", "للي"])
def test_search_form_keeps_short_words_whole(word: str) -> None:
    assert search_form(word) == normalise(word)


def test_search_form_of_mixed_text_and_tokens() -> None:
    assert search_form("Visit  الْمَكْتَبَة today") == "visit مكتبه today"
    assert search_token("«المكتبة»") == "مكتبه"
