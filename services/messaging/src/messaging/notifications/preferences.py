"""Notification types, delivery channels and how a user's preferences resolve.

Channels: ``in_app`` (the inbox and live delivery), ``email`` (the inbox too, and the
notification goes into the user's email digest), ``off`` (not recorded at all).
Moderation outcomes concern a user's own account and cannot be turned off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

NotificationType = Literal[
    "follow", "comment", "reply", "reaction", "mention", "message", "moderation"
]
Channel = Literal["in_app", "email", "off"]

TYPES: Final[tuple[str, ...]] = (
    "follow",
    "comment",
    "reply",
    "reaction",
    "mention",
    "message",
    "moderation",
)
CHANNELS: Final[tuple[str, ...]] = ("in_app", "email", "off")
DEFAULT_CHANNEL: Final = "in_app"
#: Types a user may not switch off.
MANDATORY: Final[frozenset[str]] = frozenset({"moderation"})


def resolve_channel(preferences: Mapping[str, str], type_: str) -> str:
    """The channel for ``type_`` given a user's stored ``{type: channel}`` choices.

    An absent or unrecognised choice falls back to the default; a mandatory type that
    is stored as ``off`` (it cannot be set so, but data may predate the rule) is ``in_app``.
    """
    channel = preferences.get(type_, DEFAULT_CHANNEL)
    if channel not in CHANNELS:
        return DEFAULT_CHANNEL
    if channel == "off" and type_ in MANDATORY:
        return DEFAULT_CHANNEL
    return channel


def effective_preferences(preferences: Mapping[str, str]) -> dict[str, str]:
    """Every type with its resolved channel."""
    return {t: resolve_channel(preferences, t) for t in TYPES}


def check_choice(type_: str, channel: str) -> str | None:
    """Why ``type_ -> channel`` is not an acceptable choice, or None when it is."""
    if type_ not in TYPES:
        return f"unknown notification type {type_!r}; known: {', '.join(TYPES)}"
    if channel not in CHANNELS:
        return f"unknown channel {channel!r} for {type_}; use one of: {', '.join(CHANNELS)}"
    if channel == "off" and type_ in MANDATORY:
        return f"{type_} notifications cannot be turned off"
    return None


def email_types(preferences: Mapping[str, str]) -> list[str]:
    """The types whose notifications go into the user's email digest."""
    return [t for t in TYPES if resolve_channel(preferences, t) == "email"]
