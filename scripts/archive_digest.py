"""Record and check the digest of model_store/sentiment.mar; `make serve` refuses an archive that does not match.

    python scripts/archive_digest.py record [--mar model_store/sentiment.mar]   # after `make archive`
    python scripts/archive_digest.py check  [--mar model_store/sentiment.mar]   # exit 1 on a mismatch

torch-model-archiver's output is not byte-stable: it stamps MAR-INF/MANIFEST.json with
"createdOn" and stores file modification times, so two builds from the same files differ.
The recorded figure is therefore a *content* digest: sha256 over every member's name and
sha256, with "createdOn" dropped from the manifest. It covers the handler and the code as
well as the weights, tokenizer and config (a swapped handler.py runs code; a swapped
network.pt cannot, it is loaded with weights_only=True). The record, model_store/sentiment.digest.json,
is committed: a rebuilt archive shows up as a diff in review only when its content changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

from paths import ARCHIVE

DEFAULT_MAR = ARCHIVE
MANIFEST = "MAR-INF/MANIFEST.json"
VOLATILE_MANIFEST_KEYS = ("createdOn",)


class DigestError(Exception):
    """The archive cannot be read, or does not match the record; the message says which."""


def digest_path(mar: Path) -> Path:
    return mar.with_name(mar.name.removesuffix(".mar") + ".digest.json")


def member_digests(mar: Path) -> dict[str, str]:
    try:
        with zipfile.ZipFile(mar) as archive:
            members = {}
            for info in archive.infolist():
                if info.is_dir():
                    continue
                data = archive.read(info)  # also checks each member's CRC: a truncated archive fails here
                if info.filename == MANIFEST:
                    manifest = json.loads(data)
                    for key in VOLATILE_MANIFEST_KEYS:
                        manifest.pop(key, None)
                    data = json.dumps(manifest, sort_keys=True).encode()
                members[info.filename] = hashlib.sha256(data).hexdigest()
            return members
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as error:
        raise DigestError(f"cannot read archive {mar}: {error}") from None


def content_digest(members: dict[str, str]) -> str:
    lines = "".join(f"{name}\0{digest}\n" for name, digest in sorted(members.items()))
    return hashlib.sha256(lines.encode()).hexdigest()


def record(mar: Path) -> dict:
    members = member_digests(mar)
    entry = {"content_sha256": content_digest(members), "members": members}
    digest_path(mar).write_text(json.dumps(entry, indent=2, sort_keys=True) + "\n")
    return entry


def check(mar: Path) -> str:
    """The content digest if the archive matches its record; DigestError naming what differs otherwise."""
    recorded_path = digest_path(mar)
    try:
        recorded = json.loads(recorded_path.read_text())
    except (OSError, ValueError) as error:
        raise DigestError(f"no usable digest record {recorded_path} ({error}); rebuild and record it with `make archive`") from None
    members = member_digests(mar)
    digest = content_digest(members)
    if digest != recorded.get("content_sha256"):
        want = recorded.get("members", {})
        changed = sorted(name for name in set(members) | set(want) if members.get(name) != want.get(name))
        raise DigestError(
            f"{mar} does not match {recorded_path.name}: content sha256 {digest[:16]}..., recorded "
            f"{str(recorded.get('content_sha256'))[:16]}...; differing members: {changed[:10]}. "
            "Refusing to serve it. Rebuild with `make archive` if the change is yours, and commit the new digest."
        )
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["record", "check"])
    parser.add_argument("--mar", type=Path, default=DEFAULT_MAR)
    args = parser.parse_args(argv)
    try:
        if args.action == "record":
            entry = record(args.mar)
            print(f"{digest_path(args.mar)}: content sha256 {entry['content_sha256']}")
        else:
            print(f"{args.mar}: content sha256 {check(args.mar)} matches {digest_path(args.mar).name}")
    except DigestError as error:
        print(f"archive_digest: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
