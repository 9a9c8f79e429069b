"""Username and password rules for accounts.

Plain functions with no I/O, so the rules are unit-testable and shared by the
request schemas and the services.
"""

from __future__ import annotations

import re
import unicodedata

USERNAME_MIN = 3
USERNAME_MAX = 30
PASSWORD_MIN = 10
PASSWORD_MAX = 128

# Latin letters, Arabic letters (basic block and the extended letters used by
# Persian/Urdu names), Western and Arabic-Indic digits, underscore.  Tatweel
# (U+0640) and the harakat (U+064B-U+065F) are left out on purpose: they are
# invisible or decorative, so allowing them would let two usernames look alike.
_USERNAME_CHARS = "A-Za-z0-9_\u0621-\u063a\u0641-\u064a\u0660-\u0669\u0671-\u06d3\u06f0-\u06f9"
USERNAME_RE = re.compile(rf"^[{_USERNAME_CHARS}]{{{USERNAME_MIN},{USERNAME_MAX}}}$")

RESERVED_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "system",
        "support",
        "moderator",
        "platform",
        "identity",
        "security",
        "anonymous",
    }
)


class UsernameError(ValueError):
    """The username breaks a rule; the message says which."""


class PasswordPolicyError(ValueError):
    """The password breaks a rule; the message says which."""


def normalize_username(raw: str) -> str:
    """Return the NFC form of ``raw`` with surrounding whitespace removed.

    NFC matters for Arabic: the same visible name can arrive composed or
    decomposed, and both must map to one account.
    """
    return unicodedata.normalize("NFC", raw.strip())


def username_key(username: str) -> str:
    """The case-insensitive comparison key (what uniqueness is enforced on)."""
    return normalize_username(username).casefold()


def validate_username(raw: str) -> str:
    """Return the normalized username or raise :class:`UsernameError`.

    Rules: 3-30 characters from Latin letters, Arabic letters, digits and
    underscore; not a reserved name.
    """
    username = normalize_username(raw)
    if not USERNAME_MIN <= len(username) <= USERNAME_MAX:
        raise UsernameError(f"username must be {USERNAME_MIN}-{USERNAME_MAX} characters long")
    if not USERNAME_RE.fullmatch(username):
        raise UsernameError(
            "username may contain only Latin or Arabic letters, digits and underscore"
        )
    if username.casefold() in RESERVED_USERNAMES:
        raise UsernameError("this username is reserved")
    return username


def check_password_policy(password: str, *, username: str = "", email: str = "") -> None:
    """Raise :class:`PasswordPolicyError` when ``password`` is not acceptable.

    Rules: 10-128 characters, not a single repeated character, and not the
    account's own username or email (compared case-insensitively).
    """
    if len(password) < PASSWORD_MIN:
        raise PasswordPolicyError(f"password must be at least {PASSWORD_MIN} characters long")
    if len(password) > PASSWORD_MAX:
        raise PasswordPolicyError(f"password must be at most {PASSWORD_MAX} characters long")
    if len(set(password)) == 1:
        raise PasswordPolicyError("password must not be one repeated character")
    lowered = password.casefold()
    for value in (username, email, email.split("@", 1)[0] if email else ""):
        if value and lowered == value.casefold():
            raise PasswordPolicyError("password must differ from the username and email")
