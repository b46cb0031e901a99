"""The page's two API calls, forwarded to TorchServe with the inference key. Not run on its own.

    POST /api/predict  -> POST {torchserve}/predictions/{model}
    POST /api/explain  -> POST {torchserve}/explanations/{model}

TorchServe's answers (4xx {"error": ...} included) pass through unchanged; when TorchServe cannot
be reached the answer is 502 {"error": ...}, when it does not answer in time 504 {"error": ...}.
The key is read from TorchServe's key_file.json on every call, so a restarted TorchServe (new
keys) needs no restart here; without a key file no Authorization header is sent (TorchServe with
token authorization off).
"""

from __future__ import annotations

import logging

import anyio
import httpx
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from serving.torchserve import read_key
from web.settings import PageSettings

APIS = {"/api/predict": "predictions", "/api/explain": "explanations"}
log = logging.getLogger("uvicorn.error")
# The unread rest of a refused body would keep the connection busy: close it instead.
CLOSE = {"Connection": "close"}


def torchserve_client(settings: PageSettings, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """One connection pool to TorchServe, as wide as the API's in-flight limit."""
    return httpx.AsyncClient(
        base_url=settings.torchserve_url.rstrip("/"),
        transport=transport,
        timeout=httpx.Timeout(settings.torchserve_timeout_s, connect=5.0),
        limits=httpx.Limits(max_connections=settings.max_in_flight, max_keepalive_connections=settings.max_in_flight),
        trust_env=False,  # the key goes to TorchServe only, never to a proxy named in the environment
    )


def authorization(settings: PageSettings) -> dict[str, str]:
    key = read_key(settings.key_file)  # "" without a key file: TorchServe runs with token authorization off
    return {"Authorization": f"Bearer {key}"} if key else {}


async def read_body(request: Request, settings: PageSettings) -> bytes:
    """The request body, refused with 413 past the cap and with 408 when it arrives too slowly."""
    cap = settings.max_body_bytes
    declared = request.headers.get("content-length")  # h11 has already refused malformed values
    if declared is not None and int(declared) > cap:
        raise HTTPException(413, f"review too long: {declared} bytes (at most {cap})", headers=CLOSE)
    body = bytearray()
    try:
        with anyio.fail_after(settings.client_timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > cap:
                    raise HTTPException(413, f"review too long: over {cap} bytes", headers=CLOSE)
    except TimeoutError:
        message = f"the request body did not arrive within {settings.client_timeout_s:g} s"
        raise HTTPException(408, message, headers=CLOSE) from None
    return bytes(body)


async def forward(request: Request) -> Response:
    settings: PageSettings = request.app.state.settings
    client: httpx.AsyncClient = request.state.torchserve
    try:
        body = await read_body(request, settings)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is left to read it
    try:
        answer = await client.post(
            f"/{APIS[request.url.path]}/{settings.model}",
            content=body,
            headers={
                "Content-Type": request.headers.get("content-type") or "application/json",
                **authorization(settings),
            },
        )
    except httpx.TransportError as error:
        log.warning("TorchServe call %s failed: %r", request.url.path, error)
        if isinstance(error, httpx.TimeoutException) and not isinstance(error, httpx.ConnectTimeout):
            waited = settings.torchserve_timeout_s
            message = f"the model server at {settings.torchserve_url} did not answer within {waited:g} s"
            return JSONResponse({"error": message}, status_code=504)
        reason = str(error) or type(error).__name__
        message = f"the model server at {settings.torchserve_url} is not reachable ({reason}); is `make serve` running?"
        return JSONResponse({"error": message}, status_code=502)
    media_type = answer.headers.get("content-type") or "application/json"
    return Response(answer.content, status_code=answer.status_code, media_type=media_type)
