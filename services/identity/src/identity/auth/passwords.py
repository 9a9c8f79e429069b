"""Password hashing with argon2id.

Hashing is CPU-bound (tens of milliseconds by design), so the async helpers run
it in a worker thread to keep the event loop serving other requests.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@dataclass
class Passwords:
    """argon2id hasher with a dummy hash for timing-equal misses.

    ``time_cost``/``memory_cost`` (KiB)/``parallelism`` are argon2 parameters;
    tests lower them, production keeps the defaults.
    """

    time_cost: int = 3
    memory_cost: int = 64 * 1024
    parallelism: int = 2
    _hasher: PasswordHasher = field(init=False, repr=False)
    _dummy_hash: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._hasher = PasswordHasher(
            time_cost=self.time_cost,
            memory_cost=self.memory_cost,
            parallelism=self.parallelism,
            type=Type.ID,
        )
        self._dummy_hash = self._hasher.hash("dummy-password-for-timing")

    def hash(self, password: str) -> str:
        """Return an argon2id PHC string for ``password``."""
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches ``password_hash``.

        A missing hash (unknown user) is verified against a dummy hash so the
        answer takes as long as for a real account, then reported as a miss.
        """
        if password_hash is None:
            with contextlib.suppress(VerificationError):
                self._hasher.verify(self._dummy_hash, password)
            return False
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True

    async def hash_async(self, password: str) -> str:
        """:meth:`hash` in a worker thread."""
        return await anyio.to_thread.run_sync(self.hash, password)

    async def verify_async(self, password_hash: str | None, password: str) -> bool:
        """:meth:`verify` in a worker thread."""
        return await anyio.to_thread.run_sync(self.verify, password_hash, password)
