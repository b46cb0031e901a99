"""Archive integrity: the recorded content digest is stable across rebuilds and catches any changed member.

    .venv/bin/python -m pytest tests/test_archive_digest.py
"""

from __future__ import annotations

import subprocess

import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.random_export import make_random_export

from scripts.archive_digest import DigestError, check, digest_path, main, record
from serving.archive import build


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory) -> tuple[Path, Path]:
    """The same export archived twice, a second apart (the manifest's createdOn has 1 s resolution)."""
    import time

    base = tmp_path_factory.mktemp("archives")
    export = make_random_export(base / "random")
    first = build(export, base / "first")
    time.sleep(1.1)
    return first, build(export, base / "second")


def rewrite(mar: Path, target: Path, member: str, data: bytes | None) -> Path:
    """A copy of `mar` with one member replaced (or dropped, data=None)."""
    with zipfile.ZipFile(mar) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            if info.filename != member:
                out.writestr(info, source.read(info))
            elif data is not None:
                out.writestr(info, data)
    return target


def test_rebuilds_differ_as_files_but_share_the_content_digest(two_builds):
    first, second = two_builds
    assert first.read_bytes() != second.read_bytes()  # why a plain sha256 of the .mar cannot be the record
    assert record(first)["content_sha256"] == record(second)["content_sha256"]
    assert check(first) == check(second)


@pytest.mark.parametrize("member", ["handler.py", "network.pt", "tokenizer.json", "model_config.json",
                                    "serving/request_parsing.py"])
def test_any_changed_member_is_refused(two_builds, tmp_path, member):
    first, _ = two_builds
    tampered = tmp_path / "sentiment.mar"
    with zipfile.ZipFile(first) as archive:
        original = archive.read(member)
    rewrite(first, tampered, member, original + b"\n# changed\n")
    record(first)
    digest_path(tampered).write_text(digest_path(first).read_text())
    with pytest.raises(DigestError, match=member.replace(".", r"\.")):
        check(tampered)
    assert main(["check", "--mar", str(tampered)]) == 1


def test_added_member_and_truncated_archive_are_refused(two_builds, tmp_path):
    first, _ = two_builds
    record(first)
    extra = tmp_path / "extra" / "sentiment.mar"
    extra.parent.mkdir()
    rewrite(first, extra, "does-not-exist", None)
    with zipfile.ZipFile(extra, "a") as archive:
        archive.writestr("sitecustomize.py", "import os\n")
    digest_path(extra).write_text(digest_path(first).read_text())
    with pytest.raises(DigestError, match="sitecustomize"):
        check(extra)
    truncated = tmp_path / "sentiment.mar"
    truncated.write_bytes(first.read_bytes()[: first.stat().st_size // 2])
    digest_path(truncated).write_text(digest_path(first).read_text())
    with pytest.raises(DigestError, match="cannot read archive"):
        check(truncated)


def test_missing_record_is_refused(two_builds, tmp_path):
    lone = tmp_path / "sentiment.mar"
    lone.write_bytes(two_builds[0].read_bytes())
    with pytest.raises(DigestError, match="no usable digest record"):
        check(lone)


def test_make_serve_checks_the_digest_before_starting(two_builds, tmp_path, monkeypatch, capsys):
    """`make serve` (scripts/serve.py start) refuses a changed archive, and TorchServe is never started."""
    from scripts import serve

    first, _ = two_builds
    record(first)
    tampered = rewrite(first, tmp_path / "sentiment.mar", "handler.py", b"import os\n")
    digest_path(tampered).write_text(digest_path(first).read_text())
    started = []
    monkeypatch.setattr(serve, "ARCHIVE", tampered)
    monkeypatch.setattr(serve, "start", lambda *args, **kwargs: started.append(args))
    assert serve.main(["start", "--artifacts", str(tmp_path / "no-export")]) == 1
    error = capsys.readouterr().err
    assert "Refusing to serve it" in error and "handler.py" in error
    assert started == []
    assert "serve.py start" in subprocess.run(["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True,
                                              check=True).stdout
