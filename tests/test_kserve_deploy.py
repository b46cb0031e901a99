"""deploy/kserve/ names what the project builds: the image copies every module the server imports and
installs the lean requirements, starts the server as `python -m serving.kserve_model` does, and the
InferenceService and NetworkPolicy point at that container, its ports and the protocol's own probes. Fast tier.

    .venv/bin/python -m pytest tests/test_kserve_deploy.py
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from paths import MODEL_NAME, ROOT, SHIPPED_EXPORT

DEPLOY = ROOT / "deploy" / "kserve"


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/kserve/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


@pytest.fixture(scope="module")
def isvc() -> dict:
    (service,) = yaml.safe_load_all((DEPLOY / "inferenceservice.yaml").read_text())
    assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    return service


@pytest.fixture(scope="module")
def container(isvc) -> dict:
    (container,) = isvc["spec"]["predictor"]["containers"]
    return container


def entrypoint() -> list[str]:
    (args,) = instructions("ENTRYPOINT")
    return json.loads(args)


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_image_installs_only_the_pinned_lean_requirements():
    assert instructions("RUN")[0] == "pip install -r requirements-serve.txt"
    pins = [line for line in (ROOT / "requirements-serve.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert pins and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", pin) for pin in pins), pins
    assert not any(re.match(r"(torch|lightning|captum)\b", pin, re.I) for pin in pins)


def test_the_image_copies_every_module_the_server_imports():
    """What `import serving.kserve_model` loads from this repository, and the handler settings it reads."""
    script = ("import sys, serving.kserve_model, serving.settings as s; root = sys.argv[1]; "
              "print('\\n'.join(sorted({m.__file__ for m in list(sys.modules.values()) "
              "if getattr(m, '__file__', None) and m.__file__.startswith(root)} | {str(s.MODEL_CONFIG_YAML)})))")
    done = subprocess.run([sys.executable, "-c", script, str(ROOT) + "/"], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    needed = {str(Path(path).relative_to(ROOT)) for path in done.stdout.split()}
    needed = {path for path in needed if "site-packages" not in path}  # installed packages: requirements-serve.txt
    assert "serving/kserve_model.py" in needed and "model/export.py" in needed
    copied = set()
    for args in instructions("COPY"):
        *sources, target = shlex.split(args)
        copied |= {source for source in sources if (ROOT / source).is_file()}
    assert needed - copied == set(), "the image lacks modules the server imports"
    assert "serving/explain.py" in copied  # so the lean server answers explanations with 501, naming torch


def test_the_image_holds_the_shipped_export_and_starts_the_server_on_it():
    export_copy = [shlex.split(args) for args in instructions("COPY") if str(SHIPPED_EXPORT.relative_to(ROOT)) in args]
    assert export_copy == [[f"{SHIPPED_EXPORT.relative_to(ROOT)}/", "/models/sentiment/"]]
    command = entrypoint()
    assert command[:3] == ["python", "-m", "serving.kserve_model"]
    assert flag(command, "--model_dir") == "/models/sentiment"
    assert flag(command, "--host") == "0.0.0.0"
    (user,) = instructions("USER")
    assert user != "root" and user != "0"


def test_the_inference_service_runs_that_container_on_its_ports(isvc, container):
    predictor = isvc["spec"]["predictor"]
    assert "model" not in predictor, "a custom container, not a KServe runtime"
    assert container["name"] == "kserve-container"
    assert container["image"].endswith(":0.3.0")
    (port,) = container["ports"]
    assert port["containerPort"] == int(flag(entrypoint(), "--http_port"))
    expose = {int(p) for p in instructions("EXPOSE")[0].split()}
    assert expose == {int(flag(entrypoint(), "--http_port")), int(flag(entrypoint(), "--grpc_port"))}
    assert isvc["metadata"]["annotations"]["prometheus.kserve.io/port"] == str(port["containerPort"])


def test_probes_ask_the_protocols_own_endpoints(container):
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert ready["path"] == f"/v2/models/{MODEL_NAME}/ready"
    assert live["path"] == "/v2/health/live"
    assert ready["port"] == live["port"] == container["ports"][0]["containerPort"]


def test_resources_autoscaling_and_security(isvc, container):
    predictor = isvc["spec"]["predictor"]
    assert predictor["scaleMetric"] == "concurrency"
    assert 0 < predictor["scaleTarget"] <= predictor["containerConcurrency"]
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    resources = container["resources"]
    assert resources["requests"]["memory"] == "256Mi" and resources["limits"]["memory"] == "512Mi"
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["runAsUser"] == int(instructions("USER")[0])
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]


def test_the_network_policy_selects_the_predictor_and_admits_only_ingress_and_prometheus(isvc, container):
    (policy,) = yaml.safe_load_all((DEPLOY / "networkpolicy.yaml").read_text())
    assert policy["spec"]["podSelector"]["matchLabels"] == {"serving.kserve.io/inferenceservice": isvc["metadata"]["name"]}
    namespaces = [selector["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for rule in policy["spec"]["ingress"] for selector in rule["from"]]
    assert sorted(namespaces) == ["istio-system", "knative-serving", "monitoring"]
    (metrics,) = [rule for rule in policy["spec"]["ingress"] if "ports" in rule]
    assert metrics["ports"] == [{"port": container["ports"][0]["containerPort"], "protocol": "TCP"}]
