"""A small async client for the Typesense 0.24 REST API (only the calls search uses).

Errors are split by what the caller should do about them:

* :class:`TypesenseUnavailable` (a ``ConnectionError``): the server could not be reached,
  timed out or answered 5xx/503. Event consumers retry these without limit (the kit's
  consumer treats ``ConnectionError`` as an infrastructure outage), the API answers 503.
* :class:`TypesenseError`: the server rejected the request (4xx) — retrying the same
  request cannot help. ``status`` says which; 404 has its own subclass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson
from kit.upstream import HTTPPool, UpstreamError

API_KEY_HEADER = "X-TYPESENSE-API-KEY"


class TypesenseError(Exception):
    """Typesense rejected a request (4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"typesense {status}: {message}")
        self.status = status
        self.message = message


class TypesenseNotFound(TypesenseError):
    """404: no such collection, alias or document."""


class TypesenseUnavailable(ConnectionError):
    """Typesense is unreachable, timed out or failed (5xx)."""


class Response:
    """A Typesense answer with a 2xx status."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _segment(value: str) -> str:
    """One path segment, percent-encoded (ids and names cannot add path levels)."""
    return quote(str(value), safe="")


class Typesense:
    """Typesense over pooled keep-alive HTTP/1.1 connections (:mod:`kit.upstream`)."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 5.0) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"typesense_url must be http://host[:port], not {url!r}")
        # Idle connections are dropped before Typesense's own keep-alive timeout.
        self._client = HTTPPool(
            parts.hostname, parts.port or 80, max_connections=64, max_idle=16, idle_timeout=8.0
        )
        self._headers = {API_KEY_HEADER: api_key, "Accept": "application/json"}
        self._timeout = timeout

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Response:
        target = f"{path}?{urlencode(params)}" if params else path
        if json_body is not None:
            body = orjson.dumps(json_body)
            content_type = "application/json"
        else:
            body = content or b""
            content_type = "text/plain"
        try:
            status, data = await self._client.fetch(
                method,
                target,
                headers=self._headers,
                body=body,
                content_type=content_type,
                limit_s=self._timeout,
            )
        except UpstreamError as exc:
            raise TypesenseUnavailable(f"typesense unreachable: {exc}") from exc
        if status >= 500:
            raise TypesenseUnavailable(f"typesense {status}: {data[:300]!r}")
        if status >= 400:
            text = data.decode("utf-8", "replace")
            try:
                message = str(orjson.loads(data).get("message", text))
            except (orjson.JSONDecodeError, AttributeError):
                message = text
            error = TypesenseNotFound if status == 404 else TypesenseError
            raise error(status, message[:500])
        return Response(status, data)

    # -- server ---------------------------------------------------------------------

    async def health(self) -> bool:
        response = await self._request("GET", "/health")
        return bool(response.json().get("ok"))

    async def version(self) -> str:
        response = await self._request("GET", "/debug")
        return str(response.json().get("version", ""))

    # -- collections and aliases ----------------------------------------------------

    async def create_collection(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        response = await self._request("POST", "/collections", json_body=dict(schema))
        result: dict[str, Any] = response.json()
        return result

    async def get_collection(self, name: str) -> dict[str, Any]:
        response = await self._request("GET", f"/collections/{_segment(name)}")
        result: dict[str, Any] = response.json()
        return result

    async def list_collections(self) -> list[dict[str, Any]]:
        response = await self._request("GET", "/collections")
        result: list[dict[str, Any]] = response.json()
        return result

    async def delete_collection(self, name: str) -> None:
        await self._request("DELETE", f"/collections/{_segment(name)}")

    async def get_alias(self, name: str) -> str | None:
        """The collection ``name`` points at, or None when there is no such alias."""
        try:
            response = await self._request("GET", f"/aliases/{_segment(name)}")
        except TypesenseNotFound:
            return None
        return str(response.json()["collection_name"])

    async def upsert_alias(self, name: str, collection: str) -> None:
        """Point alias ``name`` at ``collection`` (atomic on the server)."""
        await self._request(
            "PUT", f"/aliases/{_segment(name)}", json_body={"collection_name": collection}
        )

    async def delete_alias(self, name: str) -> None:
        await self._request("DELETE", f"/aliases/{_segment(name)}")

    # -- documents ------------------------------------------------------------------

    async def upsert(self, collection: str, document: Mapping[str, Any]) -> None:
        await self._request(
            "POST",
            f"/collections/{_segment(collection)}/documents",
            json_body=dict(document),
            params={"action": "upsert"},
        )

    async def delete(self, collection: str, doc_id: str) -> bool:
        """Delete one document; False when it was not there."""
        try:
            await self._request(
                "DELETE", f"/collections/{_segment(collection)}/documents/{_segment(doc_id)}"
            )
        except TypesenseNotFound:
            return False
        return True

    async def delete_by_filter(self, collection: str, filter_by: str) -> int:
        response = await self._request(
            "DELETE",
            f"/collections/{_segment(collection)}/documents",
            params={"filter_by": filter_by, "batch_size": 500},
        )
        return int(response.json().get("num_deleted", 0))

    async def import_documents(
        self, collection: str, documents: Iterable[Mapping[str, Any]]
    ) -> int:
        """Upsert ``documents`` in one request; :class:`TypesenseError` if any is rejected."""
        lines = [json.dumps(doc, ensure_ascii=False) for doc in documents]
        if not lines:
            return 0
        response = await self._request(
            "POST",
            f"/collections/{_segment(collection)}/documents/import",
            content="\n".join(lines).encode(),
            params={"action": "upsert"},
        )
        failures = []
        for line in response.text.splitlines():
            result = json.loads(line)
            if not result.get("success"):
                failures.append(result.get("error", "rejected"))
        if failures:
            raise TypesenseError(400, f"{len(failures)} documents rejected: {failures[0]}")
        return len(lines)

    async def get_document(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        try:
            response = await self._request(
                "GET", f"/collections/{_segment(collection)}/documents/{_segment(doc_id)}"
            )
        except TypesenseNotFound:
            return None
        result: dict[str, Any] = response.json()
        return result

    # -- search ---------------------------------------------------------------------

    async def multi_search(self, searches: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run ``searches`` in one POST (filters travel in the body, not the URL).

        A search the server rejects comes back as :class:`TypesenseError` (the status it
        gave in the per-search ``code``).
        """
        response = await self._request(
            "POST", "/multi_search", json_body={"searches": [dict(s) for s in searches]}
        )
        results: list[dict[str, Any]] = response.json()["results"]
        for result in results:
            if "error" in result:
                status = int(result.get("code", 400))
                if status >= 500:
                    raise TypesenseUnavailable(f"typesense {status}: {result['error']}")
                error = TypesenseNotFound if status == 404 else TypesenseError
                raise error(status, str(result["error"]))
        return results
