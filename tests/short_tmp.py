"""A short temporary folder for a TorchServe test server. Not a test.

    from short_tmp import short_tmp  # noqa: F401  (a fixture: import it into the test module)

Worker sockets are AF_UNIX paths under the server's folder, and Linux caps those at 107 bytes:
under pytest's tmp_path (/tmp/pytest-of-root/pytest-N/<test name>/...) the worker cannot bind,
dies at start, and requests wait forever while /ping still says "Healthy".
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def short_tmp():
    folder = Path(tempfile.mkdtemp(prefix="ts-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
