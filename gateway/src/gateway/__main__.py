"""`python -m gateway` / `gateway`: serve the gateway with uvicorn."""

from __future__ import annotations

import uvicorn
from kit.logging import configure_logging

from gateway.app import create_app
from gateway.settings import GatewaySettings


def main() -> None:
    """Serve on `settings.http_host:settings.http_port` (one process, uvloop + httptools).

    uvicorn's own forwarded-header handling is off: the gateway decides which proxies to
    believe (`GATEWAY_TRUSTED_PROXIES`) and builds the forwarding headers itself.
    """
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.service_name)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        access_log=False,
        log_config=None,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
