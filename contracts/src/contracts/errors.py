"""The one error type of the contracts package."""

from __future__ import annotations


class ContractError(ValueError):
    """An event, its headers or its data break the published contract.

    ``str(err)`` is a readable one-paragraph summary; ``errors`` lists each problem
    separately (``"<json path>: <what is wrong>"``) for logs and dead-letter headers.
    """

    def __init__(
        self, summary: str, errors: list[str] | None = None, *, event_type: str | None = None
    ):
        self.summary = summary
        self.errors = list(errors or [])
        self.event_type = event_type
        message = summary if not self.errors else f"{summary}: " + "; ".join(self.errors)
        super().__init__(message)
