"""At most N requests under a path prefix at once; past that 503 with Retry-After. Not run on its own.

uvicorn's limit_concurrency counts open connections too (a browser keeps idle ones) and answers
its 503 without Retry-After, so the API's own limit is this middleware; uvicorn's stays as the
cap on connections (web/server.py).
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

RETRY_AFTER_S = 1


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int, path_prefix: str = "/api/") -> None:
        if limit < 1:
            raise ValueError(f"the in-flight limit must be at least 1, not {limit}")
        self.app, self.limit, self.path_prefix = app, limit, path_prefix
        self.in_flight = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            message = f"the page's server is busy ({self.limit} requests in flight); try again in {RETRY_AFTER_S} s"
            busy = JSONResponse(
                {"error": message},
                status_code=503,
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await busy(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
