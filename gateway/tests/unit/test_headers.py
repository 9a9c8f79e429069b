from __future__ import annotations

import re

from gateway.headers import (
    TrustedProxies,
    child_traceparent,
    downstream_response_headers,
    request_id_for,
    upstream_request_headers,
    valid_request_id,
)

TRACE = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def build(headers, *, trusted=False, peer="203.0.113.9"):
    return upstream_request_headers(
        headers,
        host_header=b"127.0.0.1:8201",
        peer=peer,
        scheme="https",
        request_id=b"rid-12345678",
        traceparent=TRACE,
        peer_trusted=trusted,
    )


def test_hop_by_hop_and_connection_listed_headers_are_removed():
    out = dict(
        build(
            [
                (b"host", b"api.example"),
                (b"connection", b"keep-alive, x-secret-hop"),
                (b"keep-alive", b"timeout=5"),
                (b"transfer-encoding", b"chunked"),
                (b"upgrade", b"h2c"),
                (b"te", b"trailers"),
                (b"proxy-authorization", b"Basic x"),
                (b"x-secret-hop", b"1"),
                (b"content-length", b"10"),
                (b"authorization", b"Bearer t"),
                (b"accept", b"application/json"),
            ]
        )
    )
    for gone in (
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"upgrade",
        b"te",
        b"proxy-authorization",
        b"x-secret-hop",
        b"content-length",
    ):
        assert gone not in out
    assert out[b"authorization"] == b"Bearer t"
    assert out[b"accept"] == b"application/json"
    assert out[b"host"] == b"127.0.0.1:8201"


def test_untrusted_peer_cannot_forge_forwarding_headers():
    out = dict(
        build(
            [
                (b"host", b"api.example"),
                (b"x-forwarded-for", b"1.2.3.4"),
                (b"x-forwarded-proto", b"http"),
                (b"x-forwarded-host", b"evil.example"),
                (b"x-request-id", b"client-given"),
                (b"traceparent", b"garbage"),
            ]
        )
    )
    assert out[b"x-forwarded-for"] == b"203.0.113.9"
    assert out[b"x-forwarded-proto"] == b"https"
    assert out[b"x-forwarded-host"] == b"api.example"
    assert out[b"x-request-id"] == b"rid-12345678"
    assert out[b"traceparent"] == TRACE


def test_trusted_peer_forwarding_chain_is_extended():
    out = dict(
        build(
            [
                (b"host", b"gw.internal"),
                (b"x-forwarded-for", b"198.51.100.7"),
                (b"x-forwarded-proto", b"https"),
                (b"x-forwarded-host", b"api.example"),
            ],
            trusted=True,
            peer="10.0.0.2",
        )
    )
    assert out[b"x-forwarded-for"] == b"198.51.100.7, 10.0.0.2"
    assert out[b"x-forwarded-host"] == b"api.example"


def test_client_ip_is_rightmost_untrusted_hop_behind_trusted_proxies():
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.client_ip("10.0.0.2", b"6.6.6.6, 198.51.100.7, 10.1.1.1") == "198.51.100.7"
    assert proxies.client_ip("203.0.113.9", b"198.51.100.7") == "203.0.113.9"
    assert proxies.client_ip("10.0.0.2", None) == "10.0.0.2"
    assert TrustedProxies([]).client_ip("10.0.0.2", b"1.1.1.1") == "10.0.0.2"


def test_response_hop_by_hop_removed_and_request_id_set():
    out = downstream_response_headers(
        [
            (b"Content-Type", b"application/json"),
            (b"Connection", b"close, X-Hop"),
            (b"X-Hop", b"1"),
            (b"Transfer-Encoding", b"chunked"),
            (b"X-Request-ID", b"upstream-made"),
            (b"Set-Cookie", b"a=1"),
            (b"Set-Cookie", b"b=2"),
        ],
        b"ours-123",
    )
    assert out == [
        (b"content-type", b"application/json"),
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"x-request-id", b"ours-123"),
    ]


def test_valid_incoming_request_id_is_kept_else_generated():
    assert request_id_for(b"abc-123_XYZ.9:1") == b"abc-123_XYZ.9:1"
    for bad in (None, b"", b"has space", b"x" * 129, b"semi;colon", b"\xff"):
        assert not valid_request_id(bad)
        got = request_id_for(bad)
        assert re.fullmatch(rb"[0-9a-f]{32}", got)
    assert request_id_for(None) != request_id_for(None)


def test_valid_traceparent_is_continued_with_new_span():
    out = child_traceparent(TRACE)
    version, trace_id, span, flags = out.split(b"-")
    assert (version, trace_id, flags) == (b"00", b"4bf92f3577b34da6a3ce929d0e0e4736", b"01")
    assert span != b"00f067aa0ba902b7" and len(span) == 16


def test_invalid_traceparent_starts_new_trace():
    for bad in (
        None,
        b"junk",
        b"00-" + b"0" * 32 + b"-00f067aa0ba902b7-01",
        b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ):
        out = child_traceparent(bad)
        assert re.fullmatch(rb"00-[0-9a-f]{32}-[0-9a-f]{16}-01", out)
        assert b"4bf92f3577b34da6a3ce929d0e0e4736" not in out
