"""Every launcher config in cluster/ validates against the schema Ray ships, offline; the
KubeRay manifests parse and carry the fields KubeRay requires; nothing exposes the dashboard."""

from __future__ import annotations

import copy

import pytest
import yaml

from tests._helpers.cluster import ROOT

CLUSTER = ROOT / "cluster"
LAUNCHER_CONFIGS = sorted(CLUSTER.glob("*.yaml"))
TOKEN_SECRET = "raytune-hpt-ray-token"


def _validated(config: dict) -> dict:
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def test_there_are_aws_gcp_and_onprem_configs():
    assert {p.name for p in LAUNCHER_CONFIGS} == {"aws.yaml", "gcp.yaml", "onprem.yaml"}


@pytest.mark.parametrize("path", LAUNCHER_CONFIGS, ids=lambda p: p.name)
def test_launcher_config_validates_against_rays_schema(path):
    config = yaml.safe_load(path.read_text())
    prepared = _validated(config)
    head = prepared["head_node_type"]
    assert head in prepared["available_node_types"]
    starts = " ".join(prepared["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in starts  # the Jobs API only through an SSH tunnel
    for commands in ("head_start_ray_commands", "worker_start_ray_commands"):
        assert "RAY_AUTH_MODE=token" in " ".join(prepared[commands])
    assert "~/.ray/auth_token" in prepared["file_mounts"]


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_cloud_configs_have_a_cpu_head_and_an_autoscaling_gpu_worker_type(name):
    prepared = _validated(yaml.safe_load((CLUSTER / name).read_text()))
    types = prepared["available_node_types"]
    assert types[prepared["head_node_type"]]["resources"].get("GPU", 0) == 0
    gpu = [t for t in types.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu and all(t["min_workers"] == 0 < t["max_workers"] for t in gpu)


def test_the_schema_check_catches_mistakes():
    """The validation above can fail: a misspelt field and a wrong type are rejected."""
    import jsonschema

    config = yaml.safe_load((CLUSTER / "aws.yaml").read_text())
    with pytest.raises(jsonschema.ValidationError):
        _validated({**config, "max_worker": 3})
    broken = copy.deepcopy(config)
    broken["available_node_types"]["gpu_worker"]["max_workers"] = "four"
    with pytest.raises(jsonschema.ValidationError):
        _validated(broken)


def _manifests() -> dict[str, dict]:
    documents = {}
    for path in sorted((CLUSTER / "kuberay").rglob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            documents[document["kind"]] = document
    return documents


def _containers(pod_template: dict) -> list[dict]:
    containers = pod_template["spec"]["containers"]
    assert containers and all(c.get("name") and c.get("image") for c in containers)
    return containers


def _takes_the_token(container_or_options: dict) -> bool:
    env = {e["name"]: e for e in container_or_options.get("env", [])}
    ref = env.get("RAY_AUTH_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {})
    return env.get("RAY_AUTH_MODE", {}).get("value") == "token" and ref == {
        "name": TOKEN_SECRET,
        "key": "auth_token",
    }


def _check_cluster_spec(spec: dict) -> None:
    """The fields the RayCluster CRD requires (ray.io/v1), and token auth everywhere."""
    head = spec["headGroupSpec"]
    assert isinstance(head["rayStartParams"], dict)
    assert head.get("serviceType", "ClusterIP") == "ClusterIP"  # never a public dashboard
    assert all(_takes_the_token(c) for c in _containers(head["template"]))
    groups = spec["workerGroupSpecs"]
    assert len({g["groupName"] for g in groups}) == len(groups)
    for group in groups:
        assert isinstance(group["rayStartParams"], dict)
        assert 0 <= group["minReplicas"] <= group.get("replicas", 0) <= group["maxReplicas"]
        assert all(_takes_the_token(c) for c in _containers(group["template"]))
    if spec.get("enableInTreeAutoscaling"):
        assert _takes_the_token(spec["autoscalerOptions"])


def test_kuberay_raycluster_has_cpu_and_gpu_groups_and_autoscaling():
    cluster = _manifests()["RayCluster"]
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["metadata"]["name"]
    spec = cluster["spec"]
    _check_cluster_spec(spec)
    assert spec["enableInTreeAutoscaling"] is True
    gpus = {
        g["groupName"]: int(c["resources"]["limits"].get("nvidia.com/gpu", 0))
        for g in spec["workerGroupSpecs"]
        for c in _containers(g["template"])
    }
    assert 0 in gpus.values() and any(n >= 1 for n in gpus.values()), gpus
    assert all(g["maxReplicas"] > g["minReplicas"] for g in spec["workerGroupSpecs"])


def test_kuberay_rayjob_runs_raytune_hpt_on_the_cluster():
    manifests = _manifests()
    job = manifests["RayJob"]
    assert job["apiVersion"] == "ray.io/v1" and job["metadata"]["name"]
    spec = job["spec"]
    assert spec["entrypoint"].split()[:2] == ["raytune-hpt", "run"]
    assert "--storage-path s3://" in spec["entrypoint"]
    # One of the two ways KubeRay finds a cluster for the job, and the submitter has the token.
    assert ("rayClusterSpec" in spec) != ("clusterSelector" in spec)
    if "clusterSelector" in spec:
        assert spec["clusterSelector"] == {
            "ray.io/cluster": manifests["RayCluster"]["metadata"]["name"]
        }
    else:
        _check_cluster_spec(spec["rayClusterSpec"])
    assert spec.get("submissionMode", "K8sJobMode") in ("K8sJobMode", "HTTPMode")
    assert all(_takes_the_token(c) for c in _containers(spec["submitterPodTemplate"]))
    yaml.safe_load(spec.get("runtimeEnvYAML", "{}"))


def test_kuberay_token_secret():
    secret = _manifests()["Secret"]
    assert secret["apiVersion"] == "v1" and secret["metadata"]["name"] == TOKEN_SECRET
    assert "auth_token" in secret.get("stringData", {}) or "auth_token" in secret.get("data", {})


def test_applying_the_kuberay_folder_creates_only_the_cluster():
    """docs/cluster.md: create the token Secret, then `kubectl apply -f cluster/kuberay/`
    (not recursive): that must neither replace the Secret nor submit a job (issue 23)."""
    import base64
    import binascii

    applied = [document["kind"] for path in sorted((CLUSTER / "kuberay").glob("*.yaml"))
               for document in yaml.safe_load_all(path.read_text()) if document]
    assert applied == ["RayCluster"]
    placeholder = _manifests()["Secret"].get("data", {}).get("auth_token", "")
    with pytest.raises(binascii.Error):  # applied unchanged, Kubernetes refuses it
        base64.b64decode(placeholder, validate=True)
    docs = (ROOT / "docs" / "cluster.md").read_text()
    assert "kubectl create secret generic raytune-hpt-ray-token" in docs


def test_dockerfile_builds_on_the_official_ray_image_of_this_version():
    import ray

    text = (CLUSTER / "Dockerfile").read_text()
    assert f"ARG RAY_IMAGE=rayproject/ray:{ray.__version__}-" in text
    assert "FROM ${RAY_IMAGE}" in text
