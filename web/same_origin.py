"""Refuse writes (any method but GET/HEAD) that a browser sends from another origin. Not run on its own.

The rule (SECURITY.md, "The review page"):
- the page's own origin is `<scheme>://<Host header>`; TrustedHostMiddleware has already checked
  the Host's name, and a browser's Host carries the port it connected to;
- a request with an `Origin` header is accepted only when it equals the page's own origin and
  `Sec-Fetch-Site`, when sent, is `same-origin`. `Origin: null` (sandboxed frames, some redirects) is foreign;
- a request with `Sec-Fetch-Site` but no `Origin` is a browser's that hides its origin: refused;
- a request with neither header comes from a program, not a page (curl, scripts): browsers send
  `Origin` on every POST. Such a program runs on a machine that can reach the port, which is
  loopback by default; it is accepted.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

READ_METHODS = {"GET", "HEAD"}


def refusal_reason(method: str, headers: Headers, scheme: str) -> str | None:
    """Why this request may not write, or None when it may."""
    if method in READ_METHODS:
        return None
    origin, fetch_site = headers.get("origin"), headers.get("sec-fetch-site")
    own_origin = f"{scheme}://{headers.get('host', '')}".lower()
    if origin is not None:
        if origin.lower() != own_origin:
            return f"requests from {origin} are refused; only the page at {own_origin} may call this API"
        if fetch_site not in (None, "same-origin"):
            return f"a {fetch_site} request is refused; only the page's own requests may call this API"
        return None
    if fetch_site is not None:
        return "a browser request without an Origin header is refused"
    return None


class SameOriginWrites:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            reason = refusal_reason(scope["method"], Headers(scope=scope), scope["scheme"])
            if reason is not None:
                await JSONResponse({"error": reason}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
