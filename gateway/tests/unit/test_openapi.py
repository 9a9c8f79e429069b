from __future__ import annotations

import asyncio
import copy

from gateway.openapi import OpenAPICache, merge_specs

IDENTITY = {
    "openapi": "3.1.0",
    "info": {"title": "identity", "version": "1"},
    "security": [{"bearer": []}],
    "paths": {
        "/auth/login": {
            "post": {
                "operationId": "login",
                "tags": ["auth"],
                "security": [],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Login"}}
                    }
                },
                "responses": {"200": {"$ref": "#/components/responses/Tokens"}},
            }
        },
        "/me": {
            "get": {
                "operationId": "me",
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/User"}}
                        }
                    }
                },
            }
        },
        "/internal/users/{id}": {"get": {"operationId": "internal_user", "responses": {}}},
    },
    "components": {
        "schemas": {
            "User": {"type": "object", "properties": {"id": {"type": "string"}}},
            "Login": {"type": "object"},
        },
        "responses": {
            "Tokens": {
                "description": "ok",
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/User/properties/id"}
                    }
                },
            }
        },
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
    },
    "tags": [{"name": "auth", "description": "Sign in"}],
}

CONTENT = {
    "openapi": "3.1.0",
    "info": {"title": "content", "version": "1"},
    "paths": {
        "/posts": {
            "get": {
                "operationId": "list_posts",
                "responses": {
                    "200": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/Text"},
                                        {"$ref": "#/components/schemas/Reel"},
                                    ],
                                    "discriminator": {
                                        "propertyName": "kind",
                                        "mapping": {
                                            "text": "#/components/schemas/Text",
                                            "reel": "Reel",
                                        },
                                    },
                                }
                            }
                        }
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            # Same name as identity's: must not collide after the merge.
            "User": {"type": "object", "properties": {"handle": {"type": "string"}}},
            "Text": {
                "type": "object",
                "properties": {"author": {"$ref": "#/components/schemas/User"}},
            },
            "Reel": {"type": "object", "properties": {"ext": {"$ref": "https://x.example/s.json"}}},
        }
    },
}


def test_paths_are_prefixed_and_internal_paths_dropped():
    doc = merge_specs({"identity": IDENTITY, "content": CONTENT})
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {"/v1/identity/auth/login", "/v1/identity/me", "/v1/content/posts"}


def test_colliding_schemas_are_namespaced_and_refs_rewritten():
    doc = merge_specs({"identity": IDENTITY, "content": CONTENT})
    schemas = doc["components"]["schemas"]
    assert "identity.User" in schemas and "content.User" in schemas
    assert "properties" in schemas["identity.User"]
    assert schemas["identity.User"]["properties"] == {"id": {"type": "string"}}
    assert schemas["content.User"]["properties"] == {"handle": {"type": "string"}}
    me = doc["paths"]["/v1/identity/me"]["get"]
    assert me["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/identity.User"
    }
    text = schemas["content.Text"]
    assert text["properties"]["author"] == {"$ref": "#/components/schemas/content.User"}


def test_refs_into_other_component_kinds_and_sub_pointers_are_rewritten():
    doc = merge_specs({"identity": IDENTITY})
    login = doc["paths"]["/v1/identity/auth/login"]["post"]
    assert login["responses"]["200"] == {"$ref": "#/components/responses/identity.Tokens"}
    body = login["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/identity.Login"}
    tokens = doc["components"]["responses"]["identity.Tokens"]
    assert tokens["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/identity.User/properties/id"
    }


def test_discriminator_mapping_and_external_refs():
    doc = merge_specs({"content": CONTENT})
    schema = doc["paths"]["/v1/content/posts"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["schema"]
    assert schema["discriminator"]["mapping"] == {
        "text": "#/components/schemas/content.Text",
        "reel": "content.Reel",
    }
    reel = doc["components"]["schemas"]["content.Reel"]
    assert reel["properties"]["ext"] == {"$ref": "https://x.example/s.json"}


def test_every_local_ref_resolves_in_merged_document():
    doc = merge_specs({"identity": IDENTITY, "content": CONTENT})

    def refs(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref" and isinstance(v, str):
                    yield v
                else:
                    yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for ref in refs(doc):
        if not ref.startswith("#/"):
            continue
        node = doc
        for part in ref[2:].split("/"):
            node = node[part]


def test_security_schemes_namespaced_and_top_level_security_pushed_down():
    doc = merge_specs({"identity": IDENTITY})
    assert "identity.bearer" in doc["components"]["securitySchemes"]
    assert doc["paths"]["/v1/identity/me"]["get"]["security"] == [{"identity.bearer": []}]
    assert doc["paths"]["/v1/identity/auth/login"]["post"]["security"] == []
    assert "security" not in doc


def test_operation_ids_prefixed_and_tags_merged():
    doc = merge_specs({"identity": IDENTITY, "content": CONTENT})
    assert doc["paths"]["/v1/identity/me"]["get"]["operationId"] == "identity.me"
    names = [t["name"] for t in doc["tags"]]
    assert names.count("auth") == 1 and "content" in names and "identity" in names
    auth = next(t for t in doc["tags"] if t["name"] == "auth")
    assert auth["description"] == "Sign in"


def test_unavailable_upstreams_are_skipped_and_listed():
    doc = merge_specs({"identity": IDENTITY, "search": None}, errors={"search": "timed out"})
    assert doc["x-unavailable-upstreams"] == [{"context": "search", "reason": "timed out"}]
    assert doc["x-upstreams"] == ["identity"]
    assert not any(p.startswith("/v1/search") for p in doc["paths"])


def test_inputs_are_not_modified():
    before = copy.deepcopy(IDENTITY)
    merge_specs({"identity": IDENTITY})
    assert before == IDENTITY


async def test_cache_refetches_only_after_ttl_and_reports_failures():
    calls = {"identity": 0, "search": 0}

    async def fetch(context):
        calls[context] += 1
        if context == "search":
            raise ConnectionError("down")
        return IDENTITY

    cache = OpenAPICache({"identity": fetch, "search": fetch}, ttl_s=60, timeout_s=1)
    first, second = await asyncio.gather(cache.get(), cache.get())
    assert first is second
    assert calls == {"identity": 1, "search": 1}
    assert first["x-unavailable-upstreams"][0]["context"] == "search"
    cache.ttl_s = 0
    await cache.get()
    assert calls["identity"] == 2


async def test_slow_upstream_spec_times_out_without_blocking_the_rest():
    async def slow(context):
        await asyncio.sleep(5)
        return IDENTITY

    async def fast(context):
        return CONTENT

    cache = OpenAPICache({"identity": slow, "content": fast}, ttl_s=60, timeout_s=0.05)
    doc = await asyncio.wait_for(cache.get(), 2)
    assert doc["x-unavailable-upstreams"] == [{"context": "identity", "reason": "timed out"}]
    assert "/v1/content/posts" in doc["paths"]
