"""Serve the review page and proxy its two API calls to TorchServe, on one local origin.

    make serve     # TorchServe on 127.0.0.1:8080, key file model_store/key_file.json
    make web       # this file: http://127.0.0.1:8090/
    python web/server.py [--port 8090] [--torchserve http://127.0.0.1:8080] [--key-file model_store/key_file.json]
    python -m web.server ...   # the same
    python web/server.py --help   # every flag and its default

Why a proxy: the page and its API share one origin, so TorchServe needs no CORS setting and the
inference key never reaches the browser. The app is web/app.py (routes, checks, limits); this file
runs it on uvicorn with the h11 parser, bound to 127.0.0.1 unless told otherwise. Who may call and
why: SECURITY.md, "The review page".
"""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import httpx
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from web.app import create_app
from web.head_timeout import with_head_timeout
from web.settings import PageSettings

KEEP_ALIVE_S = 5  # an idle connection closes after this
SHUTDOWN_GRACE_S = 5  # on Ctrl-C, calls still running get this long


def listening_socket(host: str, port: int) -> socket.socket:
    """A bound, listening socket (port 0: a free one; read it with .getsockname())."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def build_server(
    settings: PageSettings,
    torchserve_transport: httpx.AsyncBaseTransport | None = None,
    log_config: dict | None = LOGGING_CONFIG,
) -> uvicorn.Server:
    """uvicorn serving the page's app; start it with .run(sockets=[listening_socket(...)])."""
    config = uvicorn.Config(
        create_app(settings, torchserve_transport),
        http=with_head_timeout(settings.client_timeout_s),  # h11 underneath, whatever else is installed
        ws="none",
        lifespan="on",
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        # Clients are on this machine, not behind a proxy: X-Forwarded-* must not change the scheme or client.
        proxy_headers=False,
        server_header=False,
        log_config=log_config,
    )
    return uvicorn.Server(config)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    defaults = PageSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (%(default)s); loopback: the page is for this machine")
    parser.add_argument("--port", type=int, default=8090, help="%(default)s; 0 picks a free one")
    parser.add_argument("--torchserve", default=defaults.torchserve_url,
                        help="TorchServe's inference address (%(default)s)")
    parser.add_argument("--key-file", type=Path, default=defaults.key_file,
                        help="TorchServe's key_file.json (%(default)s, where make serve writes it)")
    parser.add_argument("--model", default=defaults.model, help="TorchServe's model name (%(default)s)")
    parser.add_argument("--allowed-host", action="append", dest="allowed_hosts",
                        help="a host name the page answers to; repeat for more "
                        f"(default: {', '.join(defaults.allowed_hosts)})")
    parser.add_argument("--max-in-flight", type=int, default=defaults.max_in_flight,
                        help="API calls forwarded at once (%(default)s); more get 503 with Retry-After")
    parser.add_argument("--max-connections", type=int, default=defaults.max_connections,
                        help="open connections (%(default)s); past it uvicorn answers 503")
    parser.add_argument("--client-timeout", type=float, default=defaults.client_timeout_s,
                        help="seconds a client has to send a request head, and then its body (%(default)s; else 408)")
    parser.add_argument("--max-body-bytes", type=int, default=defaults.max_body_bytes,
                        help="request bodies over this many bytes (%(default)s) get 413")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = PageSettings(
        torchserve_url=args.torchserve,
        key_file=args.key_file,
        model=args.model,
        allowed_hosts=tuple(args.allowed_hosts or PageSettings.allowed_hosts),
        max_in_flight=args.max_in_flight,
        max_connections=args.max_connections,
        client_timeout_s=args.client_timeout,
        max_body_bytes=args.max_body_bytes,
    )
    sock = listening_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    print(f"Review page: http://{host}:{port}/  (model server {args.torchserve}; Ctrl-C stops)", flush=True)
    try:
        build_server(settings).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn has already shut down gracefully; it re-raises Ctrl-C only to set the exit status


if __name__ == "__main__":
    main()
