"""Admin view of search statistics."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from kit.auth import require_roles
from kit.db import Session
from kit.errors import problem_responses

from search.runtime import Rt
from search.stats import service
from search.stats.schemas import SearchStats

log = logging.getLogger("search.stats")

router = APIRouter(prefix="/admin", tags=["admin"])


@router.get(
    "/stats",
    response_model=SearchStats,
    dependencies=[Depends(require_roles("admin"))],
    responses=problem_responses(401, 403),
)
async def stats(
    session: Session,
    rt: Rt,
    hours: Annotated[int, Query(ge=1, le=24 * 90, description="Look-back window")] = 24,
    top: Annotated[int, Query(ge=1, le=100, description="Entries in the top lists")] = 10,
) -> SearchStats:
    """Queries, zero-result queries and latency percentiles over the window (admins only).

    Statistics this process buffered are stored first, so they are included."""
    try:
        await rt.stats.flush()
    except Exception:
        log.warning("storing buffered search statistics failed", exc_info=True)
    return await service.summary(session, hours=hours, top=top)
