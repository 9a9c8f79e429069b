"""Admin endpoints that rebuild a collection behind its alias."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, status
from kit.auth import require_roles
from kit.db import Session
from kit.errors import Conflict, NotFound, problem_responses

from search.reindex import repository as repo
from search.reindex import service
from search.reindex.schemas import ReindexJobOut, ReindexRequest
from search.runtime import Rt

router = APIRouter(
    prefix="/admin/reindex", tags=["admin"], dependencies=[Depends(require_roles("admin"))]
)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReindexJobOut,
    responses=problem_responses(401, 403, 409, 422),
)
async def start_reindex(body: ReindexRequest, request: Request, rt: Rt) -> ReindexJobOut:
    """Start rebuilding ``collection``; follow it with ``GET /admin/reindex/{id}``.

    409 while a reindex of the same collection runs. Searches keep being answered by the
    current version until the alias moves.
    """
    db = request.app.state.db
    try:
        job_id = await service.start_job(db, body.collection, body.source)
    except service.ReindexBusy as exc:
        raise Conflict(str(exc)) from None
    task = service.run_in_background(rt, db, body.collection, body.source, job_id)
    tasks: set[object] = request.app.state.search_tasks
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    async with db.session() as session:
        job = await repo.get_job(session, job_id)
    return ReindexJobOut.model_validate(job)


@router.get("/{job_id}", response_model=ReindexJobOut, responses=problem_responses(401, 403, 404))
async def get_reindex(job_id: uuid.UUID, session: Session) -> ReindexJobOut:
    job = await repo.get_job(session, job_id)
    if job is None:
        raise NotFound("No such reindex job.")
    return ReindexJobOut.model_validate(job)
