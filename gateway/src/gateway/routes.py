"""The routing table: which bounded context answers which `/v1/<context>/...` path.

The table is read once at start-up from `routes.yaml`:

```yaml
routes:
  identity:
    upstream: ${IDENTITY_URL:-http://127.0.0.1:8201}
  realtime:
    upstream: ws://127.0.0.1:8090
    openapi: false
```

`${NAME:-default}` / `${NAME}` are expanded from the environment so the same file works
locally, under Docker and on Kubernetes. A `ws://`/`wss://` upstream is the target of
WebSocket upgrades; plain HTTP requests to the same context go to its `http://` twin.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

_CONTEXT_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_HTTP_FOR_WS = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
_WS_FOR_HTTP = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}


class RoutesConfigError(ValueError):
    """The routes file is missing, malformed, or names an invalid context or upstream."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """One service behind the gateway.

    `scheme`/`host`/`port` are those of plain HTTP requests; `ws_base` is the base URL
    used for WebSocket upgrades. `base_path` (no trailing slash) is prepended to every
    forwarded path, so an upstream may live under a sub-path.
    """

    context: str
    scheme: str
    host: str
    port: int
    base_path: str
    ws_base: str
    openapi: bool = True
    #: Largest request body this upstream accepts; None means the gateway's default.
    max_body: int | None = None
    host_header: bytes = field(default=b"", compare=False)

    @property
    def http_base(self) -> str:
        """The HTTP base URL, e.g. `http://127.0.0.1:8201`."""
        return f"{self.scheme}://{self.host}:{self.port}{self.base_path}"


@dataclass(frozen=True, slots=True)
class Match:
    """A resolved request: the upstream and the path to ask it for (prefix stripped)."""

    upstream: Upstream
    path: str


def _expand_env(value: str, environ: dict[str, str] | os._Environ[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        got = environ.get(name)
        if got:
            return got
        if default is None:
            raise RoutesConfigError(f"environment variable {name} is not set")
        return default

    return _ENV_RE.sub(repl, value)


def parse_upstream(
    context: str, url: str, *, openapi: bool = True, max_body: int | None = None
) -> Upstream:
    """Build an `Upstream` from its base URL.

    Raises `RoutesConfigError` for a scheme other than http/https/ws/wss or a URL
    without a host.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _HTTP_FOR_WS:
        raise RoutesConfigError(f"route {context!r}: unsupported upstream scheme in {url!r}")
    if not parts.hostname:
        raise RoutesConfigError(f"route {context!r}: upstream {url!r} has no host")
    if parts.query or parts.fragment:
        raise RoutesConfigError(f"route {context!r}: upstream {url!r} must not have a query")
    http_scheme = _HTTP_FOR_WS[scheme]
    port = parts.port or (443 if http_scheme == "https" else 80)
    base_path = parts.path.rstrip("/")
    host = parts.hostname
    netloc_host = f"[{host}]" if ":" in host else host
    default_port = (http_scheme == "http" and port == 80) or (
        http_scheme == "https" and port == 443
    )
    host_header = netloc_host if default_port else f"{netloc_host}:{port}"
    ws_base = f"{_WS_FOR_HTTP[scheme]}://{netloc_host}:{port}{base_path}"
    return Upstream(
        context=context,
        scheme=http_scheme,
        host=host,
        port=port,
        base_path=base_path,
        ws_base=ws_base,
        openapi=openapi,
        max_body=max_body,
        host_header=host_header.encode("ascii"),
    )


class RouteTable:
    """Maps `/v1/<context>/<rest>` to an upstream and `/<rest>`.

    Paths whose remainder starts with `/internal` never resolve: internal endpoints are
    for service-to-service calls only.
    """

    PREFIX = "/v1/"

    def __init__(self, upstreams: dict[str, Upstream]) -> None:
        self.upstreams = dict(upstreams)

    @classmethod
    def from_mapping(
        cls, data: Any, environ: dict[str, str] | os._Environ[str] | None = None
    ) -> RouteTable:
        """Build the table from the parsed YAML document (see the module docstring).

        Raises `RoutesConfigError` when the document does not have that shape.
        """
        env = os.environ if environ is None else environ
        if not isinstance(data, dict) or not isinstance(data.get("routes"), dict):
            raise RoutesConfigError("routes file must be a mapping with a 'routes' mapping")
        upstreams: dict[str, Upstream] = {}
        for context, spec in data["routes"].items():
            if not isinstance(context, str) or not _CONTEXT_RE.match(context):
                raise RoutesConfigError(f"invalid context name {context!r}")
            if isinstance(spec, str):
                spec = {"upstream": spec}
            if not isinstance(spec, dict) or not isinstance(spec.get("upstream"), str):
                raise RoutesConfigError(f"route {context!r} needs an 'upstream' URL")
            openapi = spec.get("openapi", True)
            if not isinstance(openapi, bool):
                raise RoutesConfigError(f"route {context!r}: 'openapi' must be true or false")
            max_body = spec.get("max_body_bytes")
            if max_body is not None and (
                isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 0
            ):
                raise RoutesConfigError(
                    f"route {context!r}: 'max_body_bytes' must be a whole number of bytes"
                )
            url = _expand_env(spec["upstream"], env)
            upstreams[context] = parse_upstream(context, url, openapi=openapi, max_body=max_body)
        return cls(upstreams)

    @classmethod
    def load(cls, path: str | Path) -> RouteTable:
        """Read and parse a routes YAML file. Raises `RoutesConfigError` on any problem."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RoutesConfigError(f"cannot read routes file {path}: {exc}") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RoutesConfigError(f"routes file {path} is not valid YAML: {exc}") from exc
        return cls.from_mapping(data)

    def split(self, path: str) -> tuple[str, str] | None:
        """Split `/v1/<context>/<rest>` into `(context, "/<rest>")`, or None if not `/v1/`.

        `/v1/identity` alone gives `("identity", "/")`.
        """
        if not path.startswith(self.PREFIX):
            return None
        rest = path[len(self.PREFIX) :]
        slash = rest.find("/")
        if slash < 0:
            return rest, "/"
        return rest[:slash], rest[slash:]

    def resolve(self, path: str) -> Match | None:
        """The upstream and forwarded path for a gateway path, or None when not routed.

        None covers: not under `/v1/`, unknown context, any `/internal` path and any path
        with a `..` segment (which an upstream might resolve to somewhere unrouted).
        """
        parts = self.split(path)
        if parts is None:
            return None
        context, rest = parts
        upstream = self.upstreams.get(context)
        if upstream is None or is_internal(rest) or "/../" in rest + "/":
            return None
        return Match(upstream, upstream.base_path + rest)

    def lookup(self, context: str) -> Upstream | None:
        """The upstream for a context name, or None."""
        return self.upstreams.get(context)


def is_internal(path: str) -> bool:
    """True for `/internal` and anything below it, after collapsing duplicate slashes
    and dot segments so `//internal` or `/./internal` cannot slip through."""
    segments = [s for s in path.split("/") if s and s != "."]
    return bool(segments) and segments[0].lower() == "internal"
