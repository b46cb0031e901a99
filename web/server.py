"""Serve the review page and proxy its two API calls to TorchServe, on one local origin.

    make serve     # TorchServe on 127.0.0.1:8080, key file model_store/key_file.json
    make web       # this file: http://127.0.0.1:8090/
    python web/server.py [--port 8090] [--torchserve http://127.0.0.1:8080] [--key-file model_store/key_file.json]

Why a proxy: the page and its API share one origin, so TorchServe needs no CORS setting and the
inference key never reaches the browser; it is read from TorchServe's key_file.json on every
call, so a restarted TorchServe (new keys) needs no restart here. Standard library only.

    POST /api/predict  -> POST {torchserve}/predictions/sentiment
    POST /api/explain  -> POST {torchserve}/explanations/sentiment
TorchServe's own answers (4xx {"error": ...} included) pass through unchanged; when TorchServe
cannot be reached the answer is 502 {"error": ...}.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
# Only these files are served: nothing else of the repo is reachable through the page's origin.
FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/style.css": "style.css"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
ROUTES = {"/api/predict": "predictions", "/api/explain": "explanations"}
MAX_BODY_BYTES = 5 * 1024 * 1024  # TorchServe's max_request_size in config/config.properties
TIMEOUT_S = 60  # TorchServe's default_response_timeout


class PageHandler(BaseHTTPRequestHandler):
    server_version = "review-page"

    def __init__(self, *args, torchserve: str, key_file: Path, model: str, **kwargs) -> None:
        self.torchserve, self.key_file, self.model = torchserve.rstrip("/"), key_file, model
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        name = FILES.get(self.path.split("?", 1)[0])
        if name is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {self.path}"})
        body = (STATIC / name).read_bytes()
        self._send(HTTPStatus.OK, body, TYPES[Path(name).suffix])

    def do_POST(self) -> None:
        api = ROUTES.get(self.path)
        if api is None:
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"no such API: {self.path}"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"review too long: {length} bytes"})
        request = urllib.request.Request(
            f"{self.torchserve}/{api}/{self.model}",
            data=self.rfile.read(length),
            headers={"Content-Type": self.headers.get("Content-Type") or "application/json", **self._authorization()},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                self._send(answer.status, answer.read(), answer.headers.get("Content-Type") or "application/json")
        except urllib.error.HTTPError as error:  # TorchServe answered with an error: pass it on
            self._send(error.code, error.read(), error.headers.get("Content-Type") or "application/json")
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            self._json(
                HTTPStatus.BAD_GATEWAY,
                {"error": f"the model server at {self.torchserve} is not reachable ({reason}); is `make serve` running?"},
            )

    def _authorization(self) -> dict:
        # No key file: TorchServe runs with token authorization off (or not at all; the call will say).
        try:
            key = json.loads(self.key_file.read_text())["inference"]["key"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return {"Authorization": f"Bearer {key}"}

    def _json(self, status: int, payload: dict) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        sys.stderr.write(f"web: {self.address_string()} {format % args}\n")


def make_server(host: str, port: int, torchserve: str, key_file: str | Path, model: str = "sentiment") -> ThreadingHTTPServer:
    """A server bound to host:port (port 0: any free one; read it from server.server_address)."""
    handler = partial(PageHandler, torchserve=torchserve, key_file=Path(key_file), model=model)
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> None:
    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback by default: the page is for this machine")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--torchserve", default="http://127.0.0.1:8080", help="TorchServe's inference address")
    parser.add_argument("--key-file", default=str(root / "model_store" / "key_file.json"),
                        help="TorchServe's key_file.json (make serve writes it in model_store/)")
    parser.add_argument("--model", default="sentiment")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, args.torchserve, args.key_file, args.model)
    host, port = server.server_address[:2]
    print(f"Review page: http://{host}:{port}/  (model server {args.torchserve}; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
