"""RFC 9457 problem details: one error base class, rendered once.

Every error a service means to show a client is a :class:`ProblemError` (or one of its
subclasses). :func:`install_error_handlers` renders those, FastAPI's validation errors,
malformed JSON bodies, ``HTTPException`` and anything unhandled as
``application/problem+json``. Unknown exceptions become a generic 500 that leaks no
internals; the exception itself is logged with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROBLEM_CONTENT_TYPE = "application/problem+json"

log = logging.getLogger("kit.errors")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemError(Exception):
    """An error rendered as an RFC 9457 problem.

    ``status`` is the HTTP status, ``title`` a short human summary that does not change
    between occurrences, ``detail`` this occurrence's explanation, ``type_`` a URI naming
    the problem type (``about:blank`` when the title is just the status phrase). Extra
    keyword arguments become extension members of the problem body. ``headers`` are sent
    with the response (``WWW-Authenticate``, ``Retry-After``...).
    """

    status: int = 500
    title: str | None = None
    type_: str = "about:blank"

    def __init__(
        self,
        status: int | None = None,
        title: str | None = None,
        detail: str | None = None,
        type_: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if status is not None:
            self.status = status
        self.title = title or type(self).title or _phrase(self.status)
        self.detail = detail
        if type_ is not None:
            self.type_ = type_
        self.headers: dict[str, str] = dict(headers or {})
        self.extra = extra
        super().__init__(detail or self.title)

    def to_problem(self, instance: str | None = None) -> dict[str, Any]:
        """The problem body (``type``, ``title``, ``status``, ``detail``, ``instance``, extras)."""
        body: dict[str, Any] = {"type": self.type_, "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        if instance is not None:
            body["instance"] = instance
        for key, value in self.extra.items():
            if key not in body:
                body[key] = value
        return body


class _Fixed(ProblemError):
    """A problem whose status is fixed by its class; ``detail`` comes first."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        title: str | None = None,
        type_: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(None, title, detail, type_, headers=headers, **extra)


class BadRequest(_Fixed):
    status = 400


class Unauthorized(_Fixed):
    status = 401

    def __init__(self, detail: str | None = None, **kwargs: Any) -> None:
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("WWW-Authenticate", "Bearer")
        super().__init__(detail, headers=headers, **kwargs)


class Forbidden(_Fixed):
    status = 403


class NotFound(_Fixed):
    status = 404


class Conflict(_Fixed):
    status = 409


class Gone(_Fixed):
    status = 410


class PayloadTooLarge(_Fixed):
    status = 413
    title = "Content Too Large"


class UnprocessableEntity(_Fixed):
    status = 422
    title = "Unprocessable Content"


class TooManyRequests(_Fixed):
    """429; ``retry_after`` (seconds) becomes the ``Retry-After`` header and a body member."""

    status = 429

    def __init__(
        self, retry_after: int | float | None = None, detail: str | None = None, **kwargs: Any
    ) -> None:
        headers = dict(kwargs.pop("headers", None) or {})
        if retry_after is not None:
            seconds = max(1, int(-(-retry_after // 1)))
            headers["Retry-After"] = str(seconds)
            kwargs.setdefault("retry_after", seconds)
        self.retry_after = retry_after
        super().__init__(detail, headers=headers, **kwargs)


class InternalServerError(_Fixed):
    status = 500


class BadGateway(_Fixed):
    status = 502


class ServiceUnavailable(_Fixed):
    status = 503


class GatewayTimeout(_Fixed):
    status = 504


def problem_response(
    status: int,
    *,
    title: str | None = None,
    detail: str | None = None,
    type_: str = "about:blank",
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A ``application/problem+json`` response built from its members."""
    err = ProblemError(status, title, detail, type_, headers=headers, **extra)
    return _render(err, instance)


def _render(err: ProblemError, instance: str | None) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(err.to_problem(instance)),
        status_code=err.status,
        headers=err.headers or None,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _pointer(loc: Sequence[Any]) -> str:
    # RFC 6901 JSON pointer into the request part named by loc[0].
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in loc[1:]]
    return "/" + "/".join(parts) if parts else ""


def validation_problem(errors: Sequence[Mapping[str, Any]]) -> ProblemError:
    """Turn pydantic/FastAPI validation errors into a 400 (malformed JSON) or 422 problem."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return BadRequest("The request body is not valid JSON.", title="Malformed JSON")
    fields = []
    for e in errors:
        loc = list(e.get("loc", ()))
        fields.append(
            {
                "location": str(loc[0]) if loc else "body",
                "field": ".".join(str(p) for p in loc[1:]),
                "pointer": _pointer(loc),
                "message": e.get("msg", "invalid"),
                "type": e.get("type", "value_error"),
            }
        )
    return UnprocessableEntity(
        "The request has invalid fields.", title="Validation failed", errors=fields
    )


def _database_problem(exc: Exception) -> ProblemError | None:
    # Constraint violations that escape a service (at flush or at the request's commit)
    # are the client's conflict, not a server fault; report them without the SQL.
    try:
        from sqlalchemy.exc import DBAPIError, IntegrityError
    except ImportError:  # pragma: no cover
        return None
    if not isinstance(exc, DBAPIError):
        return None
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if isinstance(exc, IntegrityError) or (sqlstate or "").startswith("23"):
        if sqlstate == "23505":
            return Conflict("The resource already exists or conflicts with another one.")
        if sqlstate == "23503":
            return Conflict("The request refers to something that does not exist or is in use.")
        return Conflict("The request conflicts with the current state of the resource.")
    if sqlstate in {"40001", "40P01", "55P03"}:
        return ServiceUnavailable(
            "The request conflicted with a concurrent change; retry it.",
            headers={"Retry-After": "1"},
        )
    return None


def _outage_problem(exc: Exception) -> ProblemError | None:
    # A backing service (PostgreSQL, Redis, Kafka, an upstream) that cannot be reached is
    # a temporary condition the client can retry, not a fault in the request or the code.
    outage: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        outage += (RedisConnectionError, RedisTimeoutError)
    except ImportError:  # pragma: no cover
        pass
    try:
        from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

        outage += (InterfaceError, OperationalError)
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            outage += (DBAPIError,)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(exc, outage):
        return ServiceUnavailable(
            "A service this request needs is unavailable; retry later.",
            headers={"Retry-After": "5"},
        )
    return None


def problem_for_exception(exc: BaseException, instance: str | None = None) -> ProblemError:
    """Map any exception to the problem it is shown as (unknown ones become a generic 500)."""
    if isinstance(exc, ProblemError):
        return exc
    if isinstance(exc, RequestValidationError):
        return validation_problem(exc.errors())
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else None
        title = None
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            title, detail = "Malformed body", "The request body could not be parsed."
        return ProblemError(exc.status_code, title, detail, headers=exc.headers)
    if isinstance(exc, Exception):
        mapped = _database_problem(exc) or _outage_problem(exc)
        if mapped is not None:
            return mapped
    return InternalServerError("An unexpected error occurred.")


async def _handle(request: Request, exc: Exception) -> Response:
    problem = problem_for_exception(exc)
    if problem.status >= 500 and not isinstance(exc, ProblemError):
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    elif problem.status >= 500:
        log.warning("%s on %s %s: %s", problem.status, request.method, request.url.path, exc)
    return _render(problem, request.url.path)


class CatchAllMiddleware:
    """Turns any exception that escaped every handler into a generic 500 problem.

    Starlette's own server-error middleware re-raises after responding; this one logs the
    exception and answers, so the server never shows a stack trace or a bare 500. If the
    response had already started, the exception propagates (nothing can be sent).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:
            if started:
                raise
            request = Request(scope)
            response = await _handle(request, exc)
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error raised by the app as RFC 9457 ``application/problem+json``.

    Covers :class:`ProblemError`, request validation (422 with per-field ``errors``;
    malformed JSON is 400), ``HTTPException`` (404 for unknown routes, 405...), database
    constraint violations (409), unreachable backing services (503 with ``Retry-After``,
    logged) and unhandled exceptions (generic 500, logged).
    """
    app.add_exception_handler(ProblemError, _handle)
    app.add_exception_handler(RequestValidationError, _handle)
    app.add_exception_handler(StarletteHTTPException, _handle)
    app.add_exception_handler(Exception, _handle)
    try:
        from sqlalchemy.exc import DBAPIError

        app.add_exception_handler(DBAPIError, _handle)
    except ImportError:  # pragma: no cover
        pass
    app.add_middleware(CatchAllMiddleware)


_PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "format": "uri-reference"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem+json answers for ``statuses``."""
    return {
        status: {
            "description": _phrase(status),
            "content": {PROBLEM_CONTENT_TYPE: {"schema": _PROBLEM_SCHEMA}},
        }
        for status in statuses
    }
