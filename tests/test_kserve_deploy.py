"""deploy/kserve/ names what the project builds and uses: model and archive names, the storageUri layout,
the config it uploads (config/kserve.properties' settings plus the cluster's), ports and probes. Fast tier,
except the last test, which starts TorchServe on that config, loopback ports swapped in (slow).

    .venv/bin/python -m pytest tests/test_kserve_deploy.py -m "slow or not slow"
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest
import requests
import yaml

from serving.torchserve import CONFIG, KSERVE_CONFIG, MAR_NAME, MODEL_NAME, ROOT, read_properties, running_torchserve

DEPLOY = ROOT / "deploy" / "kserve"
CLUSTER_CONFIG = DEPLOY / "config.properties"
# Keys the cluster sets its own way (each explained in deploy/kserve/config.properties); all others equal
# config/kserve.properties'.
CLUSTER_KEYS = {"inference_address", "metrics_address", "allowed_urls", "install_py_dep_per_model",
                "disable_token_authorization", "token_expiration_min", "models", "model_snapshot", "model_store"}
KSERVE_HTTP_PORT = 8080  # the port KServe's model server listens on in the predictor container


def documents(name: str) -> list[dict]:
    return list(yaml.safe_load_all((DEPLOY / name).read_text()))


@pytest.fixture(scope="module")
def isvc() -> dict:
    (service,) = documents("inferenceservice.yaml")
    assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    return service


@pytest.fixture(scope="module")
def cluster() -> dict:
    return read_properties(CLUSTER_CONFIG)


def test_inference_service_uses_the_torchserve_runtime_over_v2(isvc):
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "pytorch" and model["protocolVersion"] == "v2"
    assert model["storageUri"].endswith("/" + MODEL_NAME)
    probe = model["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"]) == ("/v2/health/ready", KSERVE_HTTP_PORT)


def test_autoscaling_is_set_and_bounded(isvc):
    predictor = isvc["spec"]["predictor"]
    assert predictor["scaleMetric"] == "concurrency"
    assert 0 < predictor["scaleTarget"] <= predictor["containerConcurrency"]
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]


def test_cluster_config_is_kserve_properties_plus_the_cluster_keys(cluster):
    local = read_properties(KSERVE_CONFIG)
    assert {k: v for k, v in cluster.items() if k not in CLUSTER_KEYS} == {k: v for k, v in local.items() if k not in CLUSTER_KEYS}
    assert cluster["disable_token_authorization"] == "true" and "enable_envvars_config" not in cluster


def test_model_snapshot_serves_the_archive_with_the_default_batching(cluster):
    snapshot = json.loads(cluster["model_snapshot"])
    assert snapshot["modelCount"] == 1 and list(snapshot["models"]) == [MODEL_NAME]
    assert snapshot["models"] == {MODEL_NAME: json.loads(read_properties(CONFIG)["models"])[MODEL_NAME]}
    assert snapshot["models"][MODEL_NAME]["1.0"]["marName"] == MAR_NAME
    assert cluster["model_store"] == "/mnt/models/model-store"
    assert re.fullmatch(cluster["allowed_urls"].replace("\\\\", "\\"), f"file:///mnt/models/model-store/{MAR_NAME}")


def test_torchserve_listens_on_the_pod_loopback_only_but_for_metrics(cluster):
    for key in ("inference_address", "management_address"):
        assert urlparse(cluster[key]).hostname == "127.0.0.1", key
    assert cluster["grpc_inference_address"] == cluster["grpc_management_address"] == "127.0.0.1"
    assert urlparse(cluster["inference_address"]).port != KSERVE_HTTP_PORT  # that port is KServe's model server


def test_network_policy_selects_the_service_and_opens_the_metrics_port(isvc, cluster):
    (policy,) = documents("networkpolicy.yaml")
    assert policy["kind"] == "NetworkPolicy"
    assert policy["spec"]["podSelector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": isvc["metadata"]["name"]}
    ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule.get("ports", [])]
    assert ports == [urlparse(cluster["metrics_address"]).port]


def test_readme_names_the_storage_layout_and_what_was_not_run():
    readme = (DEPLOY / "README.md").read_text()
    assert f"model-store/{MAR_NAME}" in readme and "config/config.properties" in readme
    assert "not run" in readme.lower()


@pytest.mark.slow
def test_cluster_config_starts_torchserve_and_answers_v2_without_a_token(tmp_path):
    from tests.random_export import make_random_mar

    mar = make_random_mar(tmp_path)
    # No --models (KServe passes none): model_snapshot loads the model. Loopback ports replace the pod's, and
    # TorchServe does not pip-install the archive's requirements (no package index here; they are installed).
    with running_torchserve(mar, tmp_path, {"install_py_dep_per_model": "false"}, base_config=CLUSTER_CONFIG,
                            models_flag=False) as server:
        assert not server.token_auth
        body = {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["a great film"]}]}
        good = requests.post(f"{server.inference_url}/v2/models/{MODEL_NAME}/infer", json=body, timeout=60)
        assert good.status_code == 200 and good.json()["outputs"][0]["name"] == "label", good.text
        bad = requests.post(f"{server.inference_url}/v2/models/{MODEL_NAME}/infer", json={"instances": ["x"]}, timeout=60)
        assert bad.status_code == 400
        assert requests.get(f"{server.inference_url}/v2/health/ready", timeout=10).json() == {"ready": True}
