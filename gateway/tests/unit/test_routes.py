from __future__ import annotations

import pytest
from gateway.routes import RoutesConfigError, RouteTable, is_internal, parse_upstream


def table() -> RouteTable:
    return RouteTable.from_mapping(
        {
            "routes": {
                "identity": {"upstream": "http://127.0.0.1:8201"},
                "content": "http://content.internal:8202/api/",
                "realtime": {"upstream": "ws://127.0.0.1:8090", "openapi": False},
            }
        },
        environ={},
    )


def test_routes_file_shipped_with_gateway_parses_and_lists_every_context(tmp_path):
    from gateway.settings import DEFAULT_ROUTES_FILE

    routes = RouteTable.load(DEFAULT_ROUTES_FILE)
    assert set(routes.upstreams) >= {"identity", "content", "messaging", "realtime"}
    assert routes.upstreams["identity"].http_base == "http://127.0.0.1:8201"
    assert routes.upstreams["realtime"].ws_base == "ws://127.0.0.1:8090"
    assert routes.upstreams["realtime"].openapi is False


def test_prefix_is_stripped_and_rest_kept():
    m = table().resolve("/v1/identity/auth/login")
    assert m is not None
    assert m.upstream.context == "identity"
    assert m.path == "/auth/login"


def test_context_root_maps_to_upstream_root():
    m = table().resolve("/v1/identity")
    assert m is not None and m.path == "/"


def test_upstream_base_path_is_prepended():
    m = table().resolve("/v1/content/posts/1")
    assert m is not None
    assert m.path == "/api/posts/1"
    assert m.upstream.host_header == b"content.internal:8202"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/unknown/x",
        "/v2/identity/x",
        "/identity/x",
        "/v1/identity/internal/users",
        "/v1/identity/internal",
        "/v1/identity//internal/users",
        "/v1/identity/./internal/users",
        "/v1/identity/INTERNAL/users",
        "/v1/identity/me/../internal/users",
        "/v1/identity/..",
    ],
)
def test_unrouted_paths_do_not_resolve(path):
    assert table().resolve(path) is None


def test_internal_prefix_only_matches_whole_segment():
    assert not is_internal("/internals")
    assert is_internal("/internal/x")
    assert table().resolve("/v1/identity/internals") is not None


def test_ws_upstream_has_http_twin_for_plain_requests():
    up = table().upstreams["realtime"]
    assert (up.scheme, up.host, up.port) == ("http", "127.0.0.1", 8090)


def test_env_placeholders_expand_with_defaults():
    data = {"routes": {"identity": "${IDENTITY_URL:-http://127.0.0.1:8201}"}}
    assert RouteTable.from_mapping(data, environ={}).upstreams["identity"].port == 8201
    env = {"IDENTITY_URL": "http://identity:9000"}
    up = RouteTable.from_mapping(data, environ=env).upstreams["identity"]
    assert (up.host, up.port) == ("identity", 9000)


def test_env_placeholder_without_default_must_be_set():
    with pytest.raises(RoutesConfigError, match="NOPE"):
        RouteTable.from_mapping({"routes": {"identity": "${NOPE}"}}, environ={})


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"routes": []},
        {"routes": {"Bad_Name": "http://x"}},
        {"routes": {"identity": {"upstream": 5}}},
        {"routes": {"identity": "ftp://x"}},
        {"routes": {"identity": "http://"}},
        {"routes": {"identity": {"upstream": "http://x", "openapi": "yes"}}},
    ],
)
def test_malformed_routes_are_refused(data):
    with pytest.raises(RoutesConfigError):
        RouteTable.from_mapping(data, environ={})


def test_unreadable_or_invalid_yaml_file_is_refused(tmp_path):
    with pytest.raises(RoutesConfigError):
        RouteTable.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes: [unclosed")
    with pytest.raises(RoutesConfigError):
        RouteTable.load(bad)


def test_default_ports_follow_scheme():
    assert parse_upstream("a", "https://a.example").port == 443
    assert parse_upstream("a", "https://a.example").host_header == b"a.example"
    assert parse_upstream("a", "wss://a.example").ws_base == "wss://a.example:443"


def test_a_route_may_raise_its_body_limit_and_bad_limits_are_refused():
    table = RouteTable.from_mapping(
        {
            "routes": {
                "content": {"upstream": "http://c:8202", "max_body_bytes": 100},
                "identity": "http://i:8201",
            }
        }
    )
    assert table.upstreams["content"].max_body == 100
    assert table.upstreams["identity"].max_body is None
    for bad in (-1, "1MB", True, 1.5):
        with pytest.raises(RoutesConfigError, match="max_body_bytes"):
            RouteTable.from_mapping(
                {"routes": {"content": {"upstream": "http://c:8202", "max_body_bytes": bad}}}
            )
