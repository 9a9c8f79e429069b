from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from kit.consumer import PermanentError
from messaging.notifications.service import CONFIRM_SUBJECT
from sqlalchemy import text

from contracts import validate

from .conftest import (
    apply,
    block,
    confirmed_email,
    mailed_code,
    notifications_of,
    now_iso,
    outbox,
    person,
)

pytestmark = pytest.mark.integration


def reaction(target_author: uuid.UUID, user: uuid.UUID, post: uuid.UUID) -> dict[str, object]:
    return {
        "target_type": "post",
        "target_id": str(post),
        "post_id": str(post),
        "target_author_id": str(target_author),
        "user_id": str(user),
        "kind": "like",
        "at": now_iso(),
        "counts": {"like": 1},
    }


def comment(
    post_author: uuid.UUID, author: uuid.UUID, post: uuid.UUID, **extra: object
) -> dict[str, object]:
    data: dict[str, object] = {
        "comment_id": str(uuid.uuid4()),
        "post_id": str(post),
        "post_author_id": str(post_author),
        "author_id": str(author),
        "parent_id": None,
        "text": "تعليق",
        "mentions": [],
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "comment_count": 1,
    }
    data.update(extra)
    return data


async def test_follow_creates_a_notification_that_batches_new_followers(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    star = await person(app)
    fans = [await person(app, f"fan{i}") for i in range(3)]
    for fan in fans:
        await apply(
            app,
            "identity.follow.created",
            {"follower_id": str(fan.id), "followee_id": str(star.id), "created_at": now_iso()},
        )
    [note] = await notifications_of(client, star)
    assert note["type"] == "follow" and note["subject_id"] is None
    assert note["actor_count"] == 3
    assert note["actor_ids"] == [str(f.id) for f in reversed(fans)]
    assert "fan2" in note["summary"]
    events = await outbox(app, star.id)
    assert [t for t, _ in events] == [
        "messaging.notification.created",
        "messaging.notification.updated",
        "messaging.notification.updated",
    ]
    for event_type, data in events:
        validate(event_type, data)
    assert events[-1][1]["actor_count"] == 3 and events[-1][1]["notification_id"] == note["id"]


async def test_comments_replies_and_mentions_reach_the_right_people(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    author, commenter, replier, mentioned = [await person(app) for _ in range(4)]
    post = uuid.uuid4()
    first = comment(author.id, commenter.id, post)
    await apply(app, "content.comment.created", first)
    await apply(
        app,
        "content.comment.created",
        comment(
            author.id,
            replier.id,
            post,
            parent_id=first["comment_id"],
            mentions=[str(mentioned.id)],
        ),
    )
    author_notes = await notifications_of(client, author)
    assert [(n["type"], n["actor_count"], n["subject_id"]) for n in author_notes] == [
        ("comment", 2, str(post))
    ]
    [reply] = await notifications_of(client, commenter)
    assert reply["type"] == "reply" and reply["subject_id"] == first["comment_id"]
    [mention] = await notifications_of(client, mentioned)
    assert mention["type"] == "mention" and mention["subject_type"] == "comment"
    await apply(
        app,
        "content.post.created",
        {
            "post_id": str(uuid.uuid4()),
            "author_id": str(author.id),
            "community_id": None,
            "community_visibility": None,
            "kind": "post",
            "text": "@x",
            "hashtags": [],
            "mentions": [str(mentioned.id), str(author.id)],
            "media": [],
            "visibility": "public",
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "edited_at": None,
            "reaction_counts": {},
            "comment_count": 0,
        },
    )
    assert [n["subject_type"] for n in await notifications_of(client, mentioned)] == [
        "post",
        "comment",
    ]
    assert all(n["type"] != "mention" for n in await notifications_of(client, author))


async def test_blocked_actors_and_types_turned_off_make_no_notification(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me, pest, friend = await person(app), await person(app), await person(app)
    await block(app, me, pest)
    post = uuid.uuid4()
    await apply(app, "content.reaction.added", reaction(me.id, pest.id, post))
    assert await notifications_of(client, me) == []
    resp = await client.put(
        "/notifications/preferences", json={"channels": {"reaction": "off"}}, headers=me.auth
    )
    assert resp.status_code == 200 and resp.json()["channels"]["reaction"] == "off"
    await apply(app, "content.reaction.added", reaction(me.id, friend.id, post))
    assert await notifications_of(client, me) == []
    await apply(app, "content.reaction.added", reaction(me.id, me.id, post))
    assert await notifications_of(client, me) == []


async def test_preferences_are_validated_and_kept(client: httpx.AsyncClient, app: FastAPI) -> None:
    me = await person(app)
    defaults = (await client.get("/notifications/preferences", headers=me.auth)).json()
    assert set(defaults["channels"].values()) == {"in_app"} and defaults["email"] is None
    for body in (
        {"channels": {"likes": "email"}},
        {"channels": {"reaction": "sms"}},
        {"channels": {"moderation": "off"}},
        {"email": "not an address"},
        {"surprise": 1},
    ):
        resp = await client.put("/notifications/preferences", json=body, headers=me.auth)
        assert resp.status_code == 422, (body, resp.text)
    await confirmed_email(
        client, app, me, "Layla@Example.org", {"follow": "email", "message": "off"}
    )
    kept = (await client.get("/notifications/preferences", headers=me.auth)).json()
    assert kept["channels"]["follow"] == "email" and kept["channels"]["message"] == "off"
    assert kept["email"] == "Layla@example.org" and kept["pending_email"] is None
    cleared = await client.put("/notifications/preferences", json={"email": None}, headers=me.auth)
    assert cleared.json()["email"] is None and cleared.json()["channels"]["follow"] == "email"


async def test_mark_read_and_mark_all_read_with_unread_count(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me, other = await person(app), await person(app)
    for _ in range(3):
        await apply(app, "content.reaction.added", reaction(me.id, other.id, uuid.uuid4()))
    notes = await notifications_of(client, me)
    assert len(notes) == 3
    assert (await client.get("/notifications/unread-count", headers=me.auth)).json() == {
        "unread": 3
    }
    one = await client.post(f"/notifications/{notes[0]['id']}/read", headers=me.auth)
    assert one.status_code == 200 and one.json()["read"] is True
    assert (
        await client.post(f"/notifications/{notes[0]['id']}/read", headers=other.auth)
    ).status_code == 404
    unread = (await client.get("/notifications", params={"unread": "true"}, headers=me.auth)).json()
    assert len(unread["items"]) == 2
    assert (await client.post("/notifications/read-all", headers=me.auth)).json() == {"marked": 2}
    assert (await client.post("/notifications/read-all", headers=me.auth)).json() == {"marked": 0}
    assert (await client.get("/notifications/unread-count", headers=me.auth)).json() == {
        "unread": 0
    }
    reads = [d for t, d in await outbox(app, me.id) if t == "messaging.notification.read"]
    assert [r["notification_ids"] for r in reads] == [[notes[0]["id"]], []]
    page = (await client.get("/notifications", params={"limit": 2}, headers=me.auth)).json()
    rest = (
        await client.get(
            "/notifications", params={"limit": 2, "cursor": page["next_cursor"]}, headers=me.auth
        )
    ).json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next_cursor"] is None


async def test_moderation_decision_becomes_a_notification_and_bad_data_is_permanent(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me = await person(app)
    decision = {
        "decision_id": str(uuid.uuid4()),
        "subject_user_id": str(me.id),
        "outcome": "content_removed",
        "reason": "خطاب كراهية",
        "decided_at": now_iso(),
    }
    await apply(app, "moderation.decision.made", decision)
    [note] = await notifications_of(client, me)
    assert note["type"] == "moderation" and note["subject_id"] == decision["decision_id"]
    assert "خطاب كراهية" in note["summary"] and note["actor_count"] == 0
    with pytest.raises(PermanentError):
        await apply(app, "moderation.decision.made", {**decision, "subject_user_id": "nobody"})
    with pytest.raises(PermanentError):
        await apply(app, "content.reaction.added", {"target_type": "post"})


async def test_deleted_user_loses_their_inbox_and_cannot_be_messaged(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    me, other = await person(app), await person(app)
    await apply(app, "content.reaction.added", reaction(me.id, other.id, uuid.uuid4()))
    conversation = (
        await client.post("/conversations/direct", json={"user_id": str(me.id)}, headers=other.auth)
    ).json()["id"]
    await confirmed_email(client, app, me, "me@mail.example.com", {"reaction": "email"})
    async with app.state.db.session() as session:
        await session.execute(
            text(
                "INSERT INTO digests (id, user_id, email, notification_ids, subject, body,"
                " status, created_at, next_attempt_at) VALUES (:id, :u, 'me@mail.example.com',"
                " '{}', 's', 'b', 'pending', now(), now())"
            ),
            {"id": uuid.uuid4(), "u": me.id},
        )
    await apply(app, "identity.user.deleted", {"user_id": str(me.id), "deleted_at": now_iso()})
    assert await notifications_of(client, me) == []
    async with app.state.db.session() as session:
        left = await session.scalar(
            text(
                "SELECT (SELECT count(*) FROM digests WHERE user_id = :u)"
                " + (SELECT count(*) FROM notification_settings WHERE user_id = :u)"
            ),
            {"u": me.id},
        )
    assert left == 0  # no address or digest of the deleted account is kept
    resp = await client.post(
        f"/conversations/{conversation}/messages", json={"text": "hello?"}, headers=other.auth
    )
    assert resp.status_code == 410
    # A late profile update does not bring the account back.
    await apply(
        app,
        "identity.user.updated",
        {
            "user_id": str(me.id),
            "username": "ghost",
            "display_name": "ghost",
            "bio": None,
            "avatar_url": None,
            "locale": "ar",
            "created_at": now_iso(),
            "updated_at": now_iso(),
        },
    )
    resp = await client.post(
        "/conversations/direct", json={"user_id": str(me.id)}, headers=other.auth
    )
    assert resp.status_code == 404


async def test_a_digest_address_is_used_only_once_confirmed_with_the_mailed_code(
    client: httpx.AsyncClient, app: FastAPI, settings
) -> None:
    me = await person(app)
    confirm = "/notifications/preferences/email/confirm"
    nothing = await client.post(confirm, json={"code": "123456"}, headers=me.auth)
    assert nothing.status_code == 409
    asked = await client.put(
        "/notifications/preferences", json={"email": "new@mail.example.com"}, headers=me.auth
    )
    assert asked.json()["email"] is None
    assert asked.json()["pending_email"] == "new@mail.example.com"
    async with app.state.db.session() as session:
        to = await session.scalar(
            text("SELECT email FROM digests WHERE user_id = :u AND subject = :s"),
            {"u": me.id, "s": CONFIRM_SUBJECT},
        )
    assert to == "new@mail.example.com"  # the code goes to the address itself
    code = await mailed_code(app, me.id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    bad = await client.post(confirm, json={"code": wrong}, headers=me.auth)
    assert bad.status_code == 422 and bad.json()["attempts_left"] == 4
    assert (await client.post(confirm, json={"code": "12"}, headers=me.auth)).status_code == 422
    good = await client.post(confirm, json={"code": code}, headers=me.auth)
    assert good.status_code == 200 and good.json()["email"] == "new@mail.example.com"
    assert good.json()["pending_email"] is None
    # A second address: wrong codes until the limit drop it; the confirmed one stays.
    await client.put(
        "/notifications/preferences", json={"email": "other@mail.example.com"}, headers=me.auth
    )
    code = await mailed_code(app, me.id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(settings.email_code_max_attempts):
        resp = await client.post(confirm, json={"code": wrong}, headers=me.auth)
        assert resp.status_code == 422
    prefs = (await client.get("/notifications/preferences", headers=me.auth)).json()
    assert prefs["email"] == "new@mail.example.com" and prefs["pending_email"] is None
    late = await client.post(confirm, json={"code": code}, headers=me.auth)
    assert late.status_code == 409  # nothing pending any more
