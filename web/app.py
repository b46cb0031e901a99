"""The review page's ASGI app: its three files and its two API routes. web/server.py serves it.

    from web.app import create_app
    app = create_app(PageSettings(torchserve_url="http://127.0.0.1:8080"))

Layers, outermost first: security headers on every answer; the Host must be a trusted name
(else 400); writes must come from the page's own origin (else 403); at most N API calls in
flight (else 503 + Retry-After); then the routes (unknown path 404, wrong method 405, all as
{"error": ...}).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from web.in_flight import InFlightLimit
from web.proxy import APIS, forward, torchserve_client
from web.response_headers import ResponseHeaders
from web.same_origin import SameOriginWrites
from web.settings import PageSettings

STATIC = Path(__file__).resolve().parent / "static"
# Only these files are served: nothing else of the repo is reachable through the page's origin.
PAGE_FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/style.css": "style.css"}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"
}


def page_file(name: str):
    path = STATIC / name

    async def endpoint(request: Request) -> FileResponse:
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix])

    return endpoint


async def json_error(request: Request, error: HTTPException) -> JSONResponse:
    if error.status_code == 404:
        message = f"no such page: {request.url.path}"
    elif error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "another method")
        message = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
    else:
        message = error.detail
    return JSONResponse({"error": message}, status_code=error.status_code, headers=error.headers)


def create_app(settings: PageSettings, torchserve_transport: httpx.AsyncBaseTransport | None = None) -> Starlette:
    """The app; `torchserve_transport` replaces the network to TorchServe (tests pass a fake one)."""

    @asynccontextmanager
    async def lifespan(app: Starlette):
        async with torchserve_client(settings, torchserve_transport) as client:
            yield {"torchserve": client}

    routes = [Route(path, page_file(name), methods=["GET"]) for path, name in PAGE_FILES.items()]
    routes += [Route(path, forward, methods=["POST"]) for path in APIS]
    middleware = [
        Middleware(ResponseHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts), www_redirect=False),
        Middleware(SameOriginWrites),
        Middleware(InFlightLimit, limit=settings.max_in_flight, path_prefix="/api/"),
    ]
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: json_error}, lifespan=lifespan
    )
    app.state.settings = settings
    return app
