"""Arabic search through the API: spelling variants and typos match, near-misses do not."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from .conftest import new_id, post_data, user_data

pytestmark = pytest.mark.integration

Apply = Callable[[str, dict[str, Any]], Awaitable[None]]

#: (text as written in the post, a query that must find it)
MUST_MATCH = [
    ("ذهبتُ إلى المَدْرَسَةِ الجديدة", "مدرسه"),  # diacritics + ta marbuta written as ha
    ("زيارة مدرسه القرية", "مَدْرَسَة"),  # the reverse: the query has the diacritics
    ("لقاء مع الأستاذ أحمد", "احمد"),  # hamza on alef
    ("حضرت مؤتمر التقنية", "موتمر"),  # hamza on waw
    ("كلمة رئيس النادي", "رييس"),  # hamza on ya
    ("ذهبنا إلى المستشفى", "مستشفي"),  # alef maqsura vs ya
    ("افتتاح مكتـــبة عامة", "مكتبة"),  # tatweel in the text
    ("معرض إسلامي للفنون", "اسلامي"),  # hamza below
    ("رحلة إلى الإسكندرية", "الاسكندريه"),
    ("مكتبة جامعة القاهرة", "جامعه القاهره"),  # two words, both ta marbuta
    ("برنامج المحادثة الجديد", "المحادثت"),  # one typo in a long word
    ("تطوير البرمجيات الحديثة", "البرمجات"),  # one missing letter
    ("Arabic NLP مع معالجة اللغة", "nlp معالجه"),  # mixed Arabic/English, case-folded
    ("Reading club نادي القراءة", "readng"),  # an English typo
]

#: (text as written, a query that is a different word and must not find it)
NEAR_MISSES = [
    ("قرأت كتابا ممتعا", "كلب"),  # "book" is not "dog"
    ("درس في العلم", "عالم"),  # "science" is not "world"
    ("سافر إلى مصر", "قصر"),  # three-letter word: no typos allowed
    ("تعلم البرمجة", "البرمجة الطبية"),  # every word must match
    ("نادي الشطرنج", "الشطرنجي المحترف"),
]


@pytest.fixture(scope="module")
async def corpus(apply: Apply) -> dict[str, str]:
    author = new_id()
    await apply("identity.user.registered", user_data(author))
    ids = {}
    for text, _ in MUST_MATCH + NEAR_MISSES:
        data = post_data(author, text)
        await apply("content.post.created", data)
        ids[text] = data["post_id"]
    return ids


@pytest.fixture(scope="module")
def apply(app: Any, runtime: Any) -> Apply:
    from search.indexing.service import make_handler

    from .conftest import make_event

    handler = make_handler(runtime.indexer)

    async def run(type_: str, data: dict[str, Any]) -> None:
        async with app.state.db.session() as session:
            await handler(session, make_event(type_, data))

    return run


async def _found(client: httpx.AsyncClient, q: str) -> set[str]:
    resp = await client.get("/posts", params={"q": q, "limit": 50})
    assert resp.status_code == 200, resp.text
    return {hit["id"] for hit in resp.json()["items"]}


@pytest.mark.parametrize(("text", "query"), MUST_MATCH)
async def test_variant_spelling_and_typos_match(
    client: httpx.AsyncClient, corpus: dict[str, str], text: str, query: str
) -> None:
    assert corpus[text] in await _found(client, query)


@pytest.mark.parametrize(("text", "query"), NEAR_MISSES)
async def test_near_misses_do_not_match(
    client: httpx.AsyncClient, corpus: dict[str, str], text: str, query: str
) -> None:
    assert corpus[text] not in await _found(client, query)


async def test_highlight_is_on_the_original_text(
    client: httpx.AsyncClient, corpus: dict[str, str]
) -> None:
    resp = await client.get("/posts", params={"q": "مدرسه"})
    hit = next(h for h in resp.json()["items"] if h["text"].startswith("ذهبتُ"))
    assert hit["highlight"]["text"] == "ذهبتُ إلى <mark>المَدْرَسَةِ</mark> الجديدة"
    assert resp.json()["query"] == "مدرسه"
