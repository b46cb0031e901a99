"""`make serve` / `make stop`: TorchServe with model_store/sentiment.mar on config/config.properties' ports.

    python scripts/serve.py start              # prints the torchserve command, waits for a READY worker, prints a curl line
    python scripts/serve.py start --no-token   # token authorization off: local experiments only
    python scripts/serve.py stop

Before TorchServe starts, in this one process: the archive is rebuilt if a source is newer (as `make
archive` does, serving.archive.is_stale), and its content digest must match model_store/sentiment.digest.json
(scripts/archive_digest.py), or nothing starts. One Python start-up, not three, ahead of TorchServe's own.

It runs `torchserve --start --ts-config config/config.properties --model-store model_store
--models sentiment=sentiment.mar` (serving.torchserve.start_command) with model_store/ as the
working folder (key_file.json and logs/ land there) and .ts_tmp/ as TMPDIR (pid file and worker
sockets), so `stop` finds this server only, never another TorchServe on the machine.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from paths import ARCHIVE, MODEL_STORE, ROOT, SHIPPED_EXPORT
from scripts.archive_digest import DigestError, check, record
from serving.archive import build, ensure_onnx, is_stale
from serving.torchserve import CONFIG, MODEL_NAME, TorchServe, inference_url, \
    management_url, start, start_command, stop, wait_until_ready


def make_serve_server(token_auth: bool = True) -> TorchServe:
    return TorchServe(
        inference_url=inference_url(), management_url=management_url(), metrics_url="",
        work_dir=MODEL_STORE, tmp_dir=ROOT / ".ts_tmp", token_auth=token_auth,
    )


def fresh_checked_archive(mar: Path, artifacts: Path) -> bool:
    """The archive rebuilt (and its digest recorded) when a source is newer, then checked against its record."""
    if mar == ARCHIVE and artifacts.is_dir() and is_stale(mar, artifacts):
        ensure_onnx(artifacts)
        record(build(artifacts, mar.parent))
        print(f"{mar} rebuilt from {artifacts} and the current code; its digest recorded")
    if not mar.is_file():
        print(f"{mar} is missing: run `make archive`", file=sys.stderr)
        return False
    try:
        digest = check(mar)
    except DigestError as error:
        print(f"serve.py: error: {error}", file=sys.stderr)
        return False
    print(f"{mar}: content sha256 {digest[:16]}... matches its record")
    return True


def start_server(token_auth: bool, artifacts: Path = SHIPPED_EXPORT) -> int:
    if not fresh_checked_archive(ARCHIVE, artifacts):
        return 1
    server = make_serve_server(token_auth)
    if server.pid is not None:
        print(f"a server started here is still running (pid {server.pid}): `make stop` first", file=sys.stderr)
        return 1
    print(f"running in model_store/ (TMPDIR .ts_tmp/): {shlex.join(start_command(CONFIG, MODEL_STORE, token_auth))}")
    launcher = start(server, CONFIG, MODEL_STORE)
    try:
        seconds = wait_until_ready(server, launcher)
    except (TimeoutError, RuntimeError) as error:
        print(f"{error}; see model_store/logs/", file=sys.stderr)
        stop(server)
        return 1
    url = server.inference_url
    print(f"TorchServe is serving `{MODEL_NAME}` on {url}, worker READY after {seconds:.1f} s "
          f"(keys in model_store/key_file.json, logs in model_store/logs/)")
    auth = f"-H 'Authorization: Bearer {server.token}' " if token_auth else ""
    if not token_auth:
        print("token authorization is OFF")
    print(f"curl {auth}-H 'Content-Type: text/plain' --data-binary 'A moving, beautifully acted film.' "
          f"{url}/predictions/{MODEL_NAME}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--no-token", action="store_true", help="start with token authorization off")
    parser.add_argument("--artifacts", type=Path, default=SHIPPED_EXPORT, help="the export the archive is built from")
    args = parser.parse_args(argv)
    if args.action == "start":
        return start_server(token_auth=not args.no_token, artifacts=args.artifacts.resolve())
    return stop(make_serve_server())


if __name__ == "__main__":
    sys.exit(main())
