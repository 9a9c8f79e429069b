"""Header handling for proxied requests and responses.

Everything here works on raw ASGI header lists (`list[tuple[bytes, bytes]]`, names in
lower case) so the hot path never builds header objects.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

RawHeaders = list[tuple[bytes, bytes]]

# RFC 9110 section 7.6.1 plus the legacy ones proxies still see in the wild.
HOP_BY_HOP: frozenset[bytes] = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)

# Set by the gateway itself; a client's values are either replaced or, for the
# forwarding headers from a trusted proxy, folded into the new ones.
_REQUEST_DROP: frozenset[bytes] = HOP_BY_HOP | {
    b"host",
    b"content-length",
    b"x-request-id",
    b"traceparent",
    b"x-forwarded-for",
    b"x-forwarded-proto",
    b"x-forwarded-host",
    b"forwarded",
    b"x-real-ip",
    b"expect",
}

# The gateway's server stamps its own Date; Server would only reveal the upstream's.
_RESPONSE_DROP: frozenset[bytes] = HOP_BY_HOP | {b"x-request-id", b"date", b"server"}

_REQUEST_ID_RE = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT_RE = re.compile(rb"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = b"0" * 32
_ZERO_SPAN = b"0" * 16


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    """Header names listed in `Connection:` (also hop-by-hop per RFC 9110 7.6.1)."""
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(tokens)


def valid_request_id(value: bytes | None) -> bool:
    """A request id we keep: 1 to 128 characters of `[A-Za-z0-9._:-]`."""
    return value is not None and _REQUEST_ID_RE.match(value) is not None


def request_id_for(incoming: bytes | None) -> bytes:
    """The request id to use: a valid incoming one, else a fresh one."""
    if incoming is not None and _REQUEST_ID_RE.match(incoming) is not None:
        return incoming
    return new_request_id()


def new_request_id() -> bytes:
    """A fresh random request id (32 lower-case hex characters)."""
    return os.urandom(16).hex().encode("ascii")


def child_traceparent(incoming: bytes | None) -> bytes:
    """The W3C `traceparent` for the upstream request.

    A valid incoming header (version 00, non-zero ids) is continued: same trace id and
    flags, a new span id for the gateway's hop. Anything else starts a new sampled trace.
    """
    if incoming is not None:
        m = _TRACEPARENT_RE.match(incoming.strip().lower())
        if m is not None:
            version, trace_id, span_id, flags = m.groups()
            if version != b"ff" and trace_id != _ZERO_TRACE and span_id != _ZERO_SPAN:
                return b"00-" + trace_id + b"-" + os.urandom(8).hex().encode() + b"-" + flags
    return b"00-" + os.urandom(16).hex().encode() + b"-" + os.urandom(8).hex().encode() + b"-01"


class TrustedProxies:
    """Decides which peers may tell us the client address through `X-Forwarded-*`.

    Built from CIDR strings; `is_trusted` is memoised per address because the same few
    peers (load balancers) send nearly every request.
    """

    def __init__(self, cidrs: Sequence[str]) -> None:
        self.networks = tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
        self.is_trusted = lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, address: str) -> bool:
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client_ip(self, peer: str, forwarded_for: bytes | None) -> str:
        """The client address: the peer, or, when the peer is trusted, the right-most
        untrusted address in `X-Forwarded-For` (the left part can be forged by the client).
        """
        if forwarded_for is None or not self.is_trusted(peer):
            return peer
        hops = [h.strip() for h in forwarded_for.decode("latin-1").split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return hop
        return hops[0] if hops else peer


def upstream_request_headers(
    headers: Sequence[tuple[bytes, bytes]],
    *,
    host_header: bytes,
    peer: str,
    scheme: str,
    request_id: bytes,
    traceparent: bytes,
    peer_trusted: bool,
) -> RawHeaders:
    """Headers to send upstream: the client's minus hop-by-hop ones, plus our own.

    `X-Forwarded-For` gets the peer appended to a trusted proxy's list (or starts with
    the peer); `X-Forwarded-Proto`/`-Host` keep a trusted proxy's values and otherwise
    describe this hop. `Content-Length` is dropped here; the caller sets the framing.
    """
    out: RawHeaders = []
    conn = connection_tokens(headers) if any(n == b"connection" for n, _ in headers) else ()
    xff = xfp = xfh = host = None
    for name, value in headers:
        if name in _REQUEST_DROP or name in conn:
            if name == b"host":
                host = value
            elif name == b"x-forwarded-for":
                xff = value if xff is None else xff + b", " + value
            elif name == b"x-forwarded-proto":
                xfp = value
            elif name == b"x-forwarded-host":
                xfh = value
            continue
        out.append((name, value))
    peer_b = peer.encode("latin-1")
    if peer_trusted:
        out.append((b"x-forwarded-for", xff + b", " + peer_b if xff else peer_b))
        out.append((b"x-forwarded-proto", xfp or scheme.encode("ascii")))
        if xfh or host:
            out.append((b"x-forwarded-host", xfh or host))  # type: ignore[arg-type]
    else:
        out.append((b"x-forwarded-for", peer_b))
        out.append((b"x-forwarded-proto", scheme.encode("ascii")))
        if host:
            out.append((b"x-forwarded-host", host))
    out.append((b"host", host_header))
    out.append((b"x-request-id", request_id))
    out.append((b"traceparent", traceparent))
    return out


def downstream_response_headers(
    headers: Iterable[tuple[bytes, bytes]], request_id: bytes
) -> RawHeaders:
    """Upstream response headers for the client: hop-by-hop ones, `Date` and `Server`
    removed, the upstream's own `X-Request-ID` replaced by ours (they should match)."""
    items = headers if isinstance(headers, list) else list(headers)
    conn = connection_tokens(items) if any(n.lower() == b"connection" for n, _ in items) else ()
    out: RawHeaders = []
    for name, value in items:
        lname = name.lower()
        if lname in _RESPONSE_DROP or lname in conn:
            continue
        out.append((lname, value))
    out.append((b"x-request-id", request_id))
    return out


def get_header(headers: Sequence[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    """The first value of a (lower-case) header in a raw ASGI list, or None."""
    for n, v in headers:
        if n == name:
            return v
    return None
