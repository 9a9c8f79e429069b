"""The merged OpenAPI 3.1 document of every service behind the gateway.

Each upstream's `/openapi.json` is fetched, its paths are prefixed with `/v1/<context>`
(internal paths are dropped: the gateway never routes them), its components are
namespaced as `<context>.<Name>` with every `$ref` (and discriminator mapping) rewritten
to match, and operation ids are prefixed the same way. Upstreams that cannot be fetched
are skipped and listed in `x-unavailable-upstreams`; the result is cached for a short TTL.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from gateway.routes import is_internal

log = logging.getLogger("gateway.openapi")

COMPONENT_KINDS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_COMPONENTS_PREFIX = "#/components/"


def namespaced(context: str, name: str) -> str:
    """The merged name of a component: `identity.User`."""
    return f"{context}.{name}"


def _rewrite_ref(ref: str, context: str) -> str:
    if not ref.startswith(_COMPONENTS_PREFIX):
        return ref
    rest = ref[len(_COMPONENTS_PREFIX) :]
    kind, sep, name = rest.partition("/")
    if not sep or kind not in COMPONENT_KINDS:
        return ref
    # A ref may point inside a component (…/User/properties/id): only the name changes.
    head, slash, tail = name.partition("/")
    return f"{_COMPONENTS_PREFIX}{kind}/{namespaced(context, head)}{slash}{tail}"


def _rewrite_mapping(value: Any, context: str) -> Any:
    # Mapping values are refs ("#/components/schemas/Cat") or bare schema names ("Cat");
    # anything else (an external URI) is left alone.
    if not isinstance(value, str):
        return value
    if value.startswith("#"):
        return _rewrite_ref(value, context)
    if "/" not in value and ":" not in value:
        return namespaced(context, value)
    return value


def rewrite_refs(node: Any, context: str) -> Any:
    """A copy of `node` with local component `$ref`s (and discriminator mappings)
    pointing at the namespaced components. Non-local refs are left alone."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = _rewrite_ref(value, context)
            elif key == "discriminator" and isinstance(value, dict):
                disc = dict(value)
                mapping = disc.get("mapping")
                if isinstance(mapping, dict):
                    disc["mapping"] = {k: _rewrite_mapping(v, context) for k, v in mapping.items()}
                out[key] = disc
            else:
                out[key] = rewrite_refs(value, context)
        return out
    if isinstance(node, list):
        return [rewrite_refs(v, context) for v in node]
    return node


def _rename_security(reqs: Any, context: str) -> Any:
    if not isinstance(reqs, list):
        return reqs
    return [
        {namespaced(context, name): scopes for name, scopes in req.items()}
        if isinstance(req, dict)
        else req
        for req in reqs
    ]


def merge_specs(
    specs: Mapping[str, Mapping[str, Any] | None],
    *,
    title: str = "Platform API",
    version: str = "1",
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Merge per-context OpenAPI documents into one.

    `specs` maps context name to its document, or None when it could not be fetched
    (`errors` may say why). The inputs are not modified. Paths are emitted in context
    order, then in each document's own order.
    """
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {},
        "tags": [],
    }
    tags_seen: set[str] = set()
    unavailable: list[dict[str, str]] = []
    included: list[str] = []
    for context, spec in specs.items():
        if spec is None:
            reason = (errors or {}).get(context, "unavailable")
            unavailable.append({"context": context, "reason": reason})
            continue
        included.append(context)
        spec = rewrite_refs(copy.deepcopy(dict(spec)), context)
        for kind, items in (spec.get("components") or {}).items():
            if kind not in COMPONENT_KINDS or not isinstance(items, dict):
                continue
            bucket = merged["components"].setdefault(kind, {})
            for name, value in items.items():
                bucket[namespaced(context, name)] = value
        top_security = spec.get("security")
        prefix = f"/v1/{context}"
        for path, item in (spec.get("paths") or {}).items():
            if not isinstance(item, dict) or is_internal(path):
                continue
            new_item = dict(item)
            for method, op in item.items():
                if method not in _HTTP_METHODS or not isinstance(op, dict):
                    continue
                op = dict(op)
                if "operationId" in op:
                    op["operationId"] = f"{context}.{op['operationId']}"
                if "security" in op:
                    op["security"] = _rename_security(op["security"], context)
                elif top_security is not None:
                    op["security"] = _rename_security(top_security, context)
                op["tags"] = list(op.get("tags") or [context])
                for tag in op["tags"]:
                    if tag not in tags_seen:
                        tags_seen.add(tag)
                        merged["tags"].append({"name": tag})
                new_item[method] = op
            merged["paths"][prefix + ("" if path == "/" else path)] = new_item
        for tag in spec.get("tags") or []:
            if isinstance(tag, dict) and tag.get("name") and tag["name"] not in tags_seen:
                tags_seen.add(tag["name"])
                merged["tags"].append(tag)
            elif isinstance(tag, dict) and tag.get("name"):
                for existing in merged["tags"]:
                    if existing["name"] == tag["name"] and len(existing) == 1:
                        existing.update(tag)
    merged["x-upstreams"] = included
    merged["x-unavailable-upstreams"] = unavailable
    return merged


Fetcher = Callable[[str], Awaitable[Mapping[str, Any]]]


class OpenAPICache:
    """Builds the merged document on demand and keeps it for `ttl_s` seconds.

    `fetchers` maps context name to a coroutine function returning that upstream's
    document (raising on failure). Concurrent callers share one rebuild.
    """

    def __init__(self, fetchers: Mapping[str, Fetcher], *, ttl_s: float, timeout_s: float) -> None:
        self.fetchers = dict(fetchers)
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self._doc: dict[str, Any] | None = None
        self._built_at = -float("inf")
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        """The merged document, rebuilt when older than the TTL. Never raises for an
        upstream failure (that upstream is listed as unavailable instead)."""
        if self._doc is not None and time.monotonic() - self._built_at < self.ttl_s:
            return self._doc
        async with self._lock:
            if self._doc is not None and time.monotonic() - self._built_at < self.ttl_s:
                return self._doc
            self._doc = await self._build()
            self._built_at = time.monotonic()
            return self._doc

    async def _fetch(self, context: str) -> tuple[str, Mapping[str, Any] | None, str | None]:
        try:
            async with asyncio.timeout(self.timeout_s):
                doc = await self.fetchers[context](context)
            if (
                not isinstance(doc, Mapping)
                or not isinstance(doc.get("openapi"), str)
                or not isinstance(doc.get("paths", {}), Mapping)
            ):
                return context, None, "not an OpenAPI document"
            return context, doc, None
        except TimeoutError:
            return context, None, "timed out"
        except Exception as exc:
            log.info("openapi of %s unavailable: %r", context, exc)
            return context, None, type(exc).__name__

    async def _build(self) -> dict[str, Any]:
        results = await asyncio.gather(*(self._fetch(c) for c in self.fetchers))
        specs = {c: doc for c, doc, _ in results}
        errors = {c: err for c, _, err in results if err is not None}
        return merge_specs(specs, errors=errors)
