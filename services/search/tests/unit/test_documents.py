"""Documents built from event data, and highlights on the original text."""

from __future__ import annotations

from search.collections import (
    GATE_AUTHOR_ONLY,
    GATE_OPEN,
    community_document,
    engagement_score,
    post_document,
    post_gate,
    user_document,
)
from search.query.highlight import highlight

POST = {
    "post_id": "aaaaaaaa-0000-0000-0000-000000000001",
    "author_id": "bbbbbbbb-0000-0000-0000-000000000001",
    "community_id": None,
    "community_visibility": None,
    "kind": "post",
    "text": "زُرْتُ المَكْتَبَةَ اليوم #قراءة",
    "hashtags": ["قراءة"],
    "mentions": [],
    "media": [],
    "visibility": "public",
    "created_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-01T10:00:00Z",
    "edited_at": None,
    "reaction_counts": {"like": 3, "love": 1},
    "comment_count": 2,
}


def test_post_document_keeps_original_and_normalised_text() -> None:
    doc = post_document(POST)
    assert doc["id"] == POST["post_id"]
    assert doc["text"] == POST["text"]
    assert doc["text_norm"] == "زرت مكتبه يوم #قراءه"
    assert doc["hashtags"] == ["قراءه"]
    assert doc["gate"] == GATE_OPEN
    assert doc["reaction_count"] == 4
    assert doc["score"] == 8.0
    assert doc["created_at"] == 1714557600000
    assert "community_id" not in doc


def test_post_gates() -> None:
    club = "c0000000-0000-0000-0000-000000000001"
    assert post_gate("public", None, None) == GATE_OPEN
    assert post_gate("public", club, "public") == GATE_OPEN
    assert post_gate("followers", club, "public") == GATE_OPEN
    assert post_gate("public", club, "private") == club
    assert post_gate("community", club, "public") == club
    assert post_gate("community", None, None) == GATE_AUTHOR_ONLY


def test_read_model_visibility_of_the_community_wins_over_the_event() -> None:
    club = "c0000000-0000-0000-0000-000000000001"
    post = {**POST, "community_id": club, "community_visibility": "public"}
    assert post_document(post)["gate"] == GATE_OPEN
    assert post_document(post, "private")["gate"] == club


def test_engagement_score_ignores_negative_counts() -> None:
    assert engagement_score({"like": -5, "sad": 2}, 1) == 4.0
    assert engagement_score(None, 0) == 0.0


def test_user_and_community_documents() -> None:
    user = user_document(
        {
            "user_id": "u1",
            "username": "Ahmad_99",
            "display_name": "أَحْمَد",
            "bio": None,
            "avatar_url": None,
            "locale": "ar",
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z",
        }
    )
    assert user["username_norm"] == "ahmad_99"
    assert user["display_name_norm"] == "احمد"
    assert user["bio"] == "" and user["bio_norm"] == ""
    community = community_document(
        {
            "community_id": "c1",
            "slug": "readers",
            "name": "نادي القِراءة",
            "description": None,
            "visibility": "private",
            "category": None,
            "tags": ["#كتب"],
            "owner_id": "u1",
            "member_count": 7,
            "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-02T00:00:00Z",
        }
    )
    assert community["name_norm"] == "نادي قراءه"
    assert community["tags"] == ["كتب"]
    assert "category" not in community


def test_highlight_marks_original_words_whose_normal_form_matched() -> None:
    marked = highlight("زُرْتُ المَكْتَبَةَ اليوم", ["المكتبه"])
    assert marked == "زُرْتُ <mark>المَكْتَبَةَ</mark> اليوم"


def test_highlight_marks_prefix_matches_and_escapes_html() -> None:
    assert highlight("<b>Reading</b> books", ["read"]) is None  # tag glued to the word
    assert (
        highlight("Reading <b>books</b>", ["read"])
        == "<mark>Reading</mark> &lt;b&gt;books&lt;/b&gt;"
    )


def test_highlight_none_without_a_match() -> None:
    assert highlight("نص بلا تطابق", ["كلمة"]) is None
    assert highlight("نص", []) is None


def test_highlight_cuts_long_text_around_the_first_match() -> None:
    words = [f"w{i}" for i in range(100)]
    words[60] = "مَدْرَسَة"
    marked = highlight(" ".join(words), [["مدرسه"]], max_words=10)
    assert marked is not None
    assert marked.startswith("… ") and marked.endswith(" …")
    assert "<mark>مَدْرَسَة</mark>" in marked
    assert len(marked.split(" ")) == 12
