"""KServe's REST app and gRPC service for one model, served on the address we choose.

Not run on its own: `python -m serving.kserve_model` calls `serve`. kserve 0.21's ModelServer binds REST
to 0.0.0.0 and gRPC to [::] with no flag to change it, so this builds the same pieces through KServe's
public classes (ModelServer for the data plane, RESTServer.create_application for the FastAPI app,
InferenceServicer for gRPC) and runs them under our own uvicorn and grpc.aio settings: loopback by
default, every interface in the container image. Around the library's app, three things it lacks:

- a body cap, the handler's `max_body_bytes` (serving/settings.py), answered 413 before the body is read;
- a POST without Content-Type and without the binary extension's header is JSON, as the protocol says
  (kserve 0.21 otherwise reads it as a binary request and answers 400; tritonclient sends no type),
  and an HTML form body (curl --data's default type) answers 415 with the header to send instead;
- a refused request answers the status the TorchServe handler gives it (413, 415, 501), not always 400;
- no model-repository routes (`/v2/repository/models/{name}/load|unload`): one unauthenticated POST would
  unload the model, and this server's model set is fixed at start, like TorchServe's with its model API off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from concurrent import futures

import grpc
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from kserve import Model, ModelServer
from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING, INFERENCE_CONTENT_LENGTH_HEADER
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc
from kserve.protocol.grpc.interceptors import ExceptionToStatusInterceptor, LoggingInterceptor
from kserve.protocol.grpc.servicer import InferenceServicer
from kserve.errors import InvalidInput
from kserve.protocol.rest.server import RESTServer

from serving.request_parsing import FORM_TYPES, RequestError
from serving.settings import HandlerSettings

GRACE_PERIOD_S = 5  # in-flight requests finish within this after SIGTERM (Kubernetes waits 30 s by default)


class RejectedRequest(InvalidInput):
    """A request the TorchServe handler would refuse too. KServe answers InvalidInput with 400 (REST) or
    INVALID_ARGUMENT (gRPC); `rejected` below answers this one with the handler's status (413, 415, 501)."""

    def __init__(self, error: RequestError) -> None:
        super().__init__(error.message)
        self.status = error.status


class BodyTooLarge(Exception):
    pass


class BodyCap:
    """ASGI middleware: a body over `max_bytes` answers 413, by its Content-Length or while it streams."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(send, int(declared))
        seen = 0
        started = False

        async def counted_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, seen)

    async def _refuse(self, send, size: int) -> None:
        body = json.dumps({"error": f"request body of {size} bytes exceeds the {self.max_bytes}-byte cap"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class JsonByDefault:
    """ASGI middleware: a POST with neither Content-Type nor the binary extension's header is JSON;
    one typed as an HTML form is refused (415), since no route here reads forms."""

    BINARY_HEADER = INFERENCE_CONTENT_LENGTH_HEADER.lower().encode()
    FORM_HINT = ("the body arrived as an HTML form (Content-Type {type}, curl's default for --data): send JSON with "
                 "Content-Type: application/json, e.g. curl -H 'Content-Type: application/json' --data @request.json")

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = {name.lower(): value for name, value in scope["headers"]}
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
            if not media_type and self.BINARY_HEADER not in headers:
                scope = {**scope, "headers": [*scope["headers"], (b"content-type", b"application/json")]}
            elif media_type in FORM_TYPES:
                response = JSONResponse(status_code=415, content={"error": self.FORM_HINT.format(type=media_type)})
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


class FixedModelSet:
    """ASGI middleware: the model-repository routes (load, unload, index) answer 404."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and "/repository/" in scope["path"] + "/":
            response = JSONResponse(status_code=404, content={"error": "this server's model set is fixed at start"})
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


class FixedModelSetServicer(InferenceServicer):
    """KServe's gRPC service without its model-repository calls (the REST app loses them to FixedModelSet)."""

    async def RepositoryModelLoad(self, request, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this server's model set is fixed at start")

    async def RepositoryModelUnload(self, request, context):
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "this server's model set is fixed at start")


async def rejected(request: Request, error: RejectedRequest) -> JSONResponse:
    return JSONResponse(status_code=error.status, content={"error": error.reason})


def build_app(server: ModelServer, settings: HandlerSettings, keep_alive_s: int) -> FastAPI:
    """KServe's FastAPI app (v1, v2, health, metadata, /metrics) for the models registered on `server`."""
    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension, http_port=0,
                      timeout_keep_alive=keep_alive_s)
    rest.create_application()
    from kserve.model_server import app

    app.add_exception_handler(RejectedRequest, rejected)
    app.add_middleware(JsonByDefault)
    app.add_middleware(FixedModelSet)
    app.add_middleware(BodyCap, max_bytes=settings.max_body_bytes)  # added last: runs first
    return app


async def start_grpc(server: ModelServer, host: str, port: int, args: argparse.Namespace,
                     settings: HandlerSettings) -> grpc.aio.Server:
    grpc_server = grpc.aio.server(
        futures.ThreadPoolExecutor(max_workers=args.max_threads),
        interceptors=(LoggingInterceptor(), ExceptionToStatusInterceptor()),
        options=[("grpc.max_send_message_length", args.grpc_max_send_message_length),
                 ("grpc.max_receive_message_length", settings.max_body_bytes)],
    )
    grpc_predict_v2_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(
        FixedModelSetServicer(server.dataplane, server.model_repository_extension), grpc_server)
    if grpc_server.add_insecure_port(f"{host}:{port}") == 0:
        raise OSError(f"gRPC cannot listen on {host}:{port}")
    await grpc_server.start()
    return grpc_server


def serve(model: Model, args: argparse.Namespace, settings: HandlerSettings) -> None:
    """Serve a loaded `model` until SIGINT/SIGTERM: REST on args.host:args.http_port, gRPC on args.grpc_port."""
    server = ModelServer(http_port=args.http_port, grpc_port=args.grpc_port, enable_grpc=args.enable_grpc,
                         enable_latency_logging=args.enable_latency_logging, grace_period=GRACE_PERIOD_S)
    server.register_model(model)
    model.enable_latency_logging = args.enable_latency_logging
    app = build_app(server, settings, args.timeout_keep_alive)
    rest = uvicorn.Server(uvicorn.Config(app, host=args.host, port=args.http_port, log_config=None,
                                         timeout_keep_alive=args.timeout_keep_alive, loop=args.event_loop,
                                         timeout_graceful_shutdown=GRACE_PERIOD_S))

    async def run() -> None:
        grpc_server = await start_grpc(server, args.host, args.grpc_port, args, settings) if args.enable_grpc else None
        try:
            serving = asyncio.create_task(rest.serve())
            while not rest.started and not serving.done():
                await asyncio.sleep(0.01)
            if rest.started:  # listening, with the model loaded: the line `make kserve` users and tests wait for
                grpc_address = f"{args.host}:{args.grpc_port} (gRPC)" if grpc_server else "gRPC off"
                print(f"{model.name} ready: http://{args.host}:{args.http_port} (REST), {grpc_address}", flush=True)
            await serving
        finally:
            if grpc_server is not None:
                await grpc_server.stop(GRACE_PERIOD_S)

    asyncio.run(run())
