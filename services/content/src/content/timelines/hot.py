"""The local "hot" score: engagement on a logarithmic scale, decayed by age.

``score = log10(1 + engagement) + (created_at - EPOCH) / DECAY_SECONDS``: ten times the
engagement is worth ``DECAY_SECONDS`` (12.5 hours) of recency. Because age enters as
the creation time (not "now - created"), a stored score never needs refreshing just
because time passed; it changes only when engagement does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

#: Seconds of recency worth one order of magnitude of engagement.
DECAY_SECONDS = 45_000.0
REACTION_WEIGHT = 1.0
COMMENT_WEIGHT = 3.0
VIEW_WEIGHT = 0.05
#: Scores are relative to this moment to keep them small (2025-01-01T00:00:00Z).
EPOCH = 1_735_689_600.0


def engagement(reaction_counts: Mapping[str, int], comment_count: int, view_count: int) -> float:
    """Weighted engagement; negative or missing counts count as zero."""
    reactions = sum(max(0, int(v)) for v in reaction_counts.values())
    return (
        REACTION_WEIGHT * reactions
        + COMMENT_WEIGHT * max(0, comment_count)
        + VIEW_WEIGHT * max(0, view_count)
    )


def hot_score(
    created_at: datetime,
    reaction_counts: Mapping[str, int],
    comment_count: int,
    view_count: int = 0,
) -> float:
    """The score of a post created at ``created_at`` with the given counts."""
    order = math.log10(1.0 + engagement(reaction_counts, comment_count, view_count))
    return round(order + (created_at.timestamp() - EPOCH) / DECAY_SECONDS, 7)
