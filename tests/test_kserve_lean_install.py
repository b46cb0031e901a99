"""The image's install suffices: a fresh venv from requirements-serve.txt alone (no torch, no Lightning) runs
KServe's model server the way deploy/kserve/Dockerfile starts it, and answers like the full install. Slow tier.

    .venv/bin/python -m pytest -m slow tests/test_kserve_lean_install.py
"""

from __future__ import annotations

import subprocess
import sys
import venv

import numpy as np
import pytest
import requests

from paths import MODEL_NAME, ROOT, SHIPPED_EXPORT
from serving.kserve_process import running_kserve
from serving.runtime import Predictor

pytestmark = pytest.mark.slow

TEXTS = ["A moving, beautifully acted film.", "Dull, predictable and far too long."]


@pytest.fixture(scope="module")
def lean_python(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("lean-venv")
    venv.create(folder, with_pip=True)
    python = str(folder / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(ROOT / "requirements-serve.txt")], check=True, timeout=900)
    return python


def test_the_lean_install_has_no_torch_and_no_lightning(lean_python):
    for module in ("torch", "lightning", "captum"):
        found = subprocess.run([lean_python, "-c", f"import {module}"], capture_output=True, text=True)
        assert found.returncode != 0 and "No module named" in found.stderr, module


def test_the_lean_server_answers_like_the_full_install(lean_python, tmp_path):
    expected = Predictor(SHIPPED_EXPORT).predict_proba(TEXTS)[:, 1]
    with running_kserve(SHIPPED_EXPORT, tmp_path, python=lean_python) as server:
        body = {"inputs": [{"name": "text", "shape": [len(TEXTS)], "datatype": "BYTES", "data": TEXTS}]}
        answer = requests.post(server.infer_url, json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        scores = {o["name"]: o["data"] for o in answer.json()["outputs"]}["score"]
        np.testing.assert_allclose(scores, expected, atol=1e-6)
        metadata = requests.get(f"{server.http_url}/v2/models/{MODEL_NAME}", timeout=10).json()
        assert metadata["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
        # Explanations need PyTorch: the lean server says so instead of failing.
        explained = requests.post(f"{server.http_url}/v1/models/{MODEL_NAME}:explain", json={"instances": TEXTS[:1]},
                                  timeout=30)
        assert explained.status_code == 501 and "full install" in explained.json()["error"]
        assert requests.post(server.infer_url, json=body, timeout=30).status_code == 200
