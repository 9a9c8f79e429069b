"""How bursts of events become one notification, and what it says.

Events of one type about one subject for one recipient, arriving while the previous
notification about it is unread and younger than the batch window, update that
notification (its actors and count) instead of adding another: fifty likes on a post
make one "layla and 49 others reacted to your post". These are plain functions; the
notification service applies them inside the consumer's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Types that never coalesce: each decision is its own notification.
UNBATCHED = frozenset({"moderation"})


@dataclass(frozen=True)
class BatchCandidate:
    """What the batcher needs to know about an existing notification."""

    created_at: datetime
    read: bool


def can_coalesce(
    type_: str, existing: BatchCandidate | None, now: datetime, window: timedelta
) -> bool:
    """Whether a new event of ``type_`` should update ``existing`` instead of adding one."""
    if existing is None or type_ in UNBATCHED or existing.read:
        return False
    return now - existing.created_at < window


def merge_actors(
    actor_ids: Sequence[uuid.UUID], actor_id: uuid.UUID | None, cap: int
) -> list[uuid.UUID]:
    """``actor_ids`` with ``actor_id`` moved or added to the front, at most ``cap`` long."""
    merged = [a for a in actor_ids if a != actor_id]
    if actor_id is not None:
        merged.insert(0, actor_id)
    return merged[: max(cap, 0)]


_SUBJECT_AR = {"post": "منشورك", "comment": "تعليقك"}
_MENTION_AR = {"post": "منشور", "comment": "تعليق"}
FALLBACK_NAME = "مستخدم"


def _who(names: Sequence[str], count: int) -> str:
    first = names[0] if names else FALLBACK_NAME
    others = count - 1
    if others <= 0:
        return first
    if others == 1:
        return f"{first} وشخص آخر"
    return f"{first} و{others} آخرون"


def summarize(
    type_: str,
    actor_names: Sequence[str],
    actor_count: int,
    subject_type: str | None,
    *,
    detail: str | None = None,
) -> str:
    """The notification's line (Arabic), e.g. ``"ليلى و49 آخرون تفاعلوا مع منشورك"``.

    ``actor_names`` are the display names of the most recent actors, newest first;
    ``detail`` is the moderation outcome text for ``moderation``.
    """
    who = _who(actor_names, actor_count)
    plural = actor_count > 1
    if type_ == "follow":
        return f"{who} {'بدأوا' if plural else 'بدأ'} بمتابعتك"
    if type_ == "comment":
        return f"{who} {'علّقوا' if plural else 'علّق'} على منشورك"
    if type_ == "reply":
        return f"{who} {'ردّوا' if plural else 'ردّ'} على تعليقك"
    if type_ == "reaction":
        target = _SUBJECT_AR.get(subject_type or "", "منشورك")
        return f"{who} {'تفاعلوا' if plural else 'تفاعل'} مع {target}"
    if type_ == "mention":
        where = _MENTION_AR.get(subject_type or "", "منشور")
        return f"{who} {'أشاروا' if plural else 'أشار'} إليك في {where}"
    if type_ == "message":
        return f"{'رسائل جديدة' if plural else 'رسالة جديدة'} من {who}"
    if type_ == "moderation":
        return f"قرار الإشراف على حسابك: {detail}" if detail else "قرار الإشراف على حسابك"
    return who
