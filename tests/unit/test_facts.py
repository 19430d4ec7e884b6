from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ray.record import facts

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "kuberay-samples-v1.5.1"


def load(path: Path, kind: str, name: str | None = None) -> dict[str, Any]:
    for doc in yaml.safe_load_all(path.read_text()):
        if doc and doc.get("kind") == kind and (name is None or doc["metadata"].get("name") == name):
            return dict(doc)
    raise AssertionError(f"{kind} not in {path}")


def test_dev_and_prod_batch_job_gpus_scale_with_max_replicas():
    dev = load(ROOT / "environments/dev/rayjob-batch-inference.yaml", "RayJob")
    prod = load(ROOT / "environments/prod/rayjob-batch-inference.yaml", "RayJob")
    assert facts.accelerators(dev) == {"gpu": {"nvidia.com/gpu": 1}}
    assert facts.accelerators(prod) == {"gpu": {"nvidia.com/gpu": 4}}
    impact = facts.impact_of(prod)
    assert impact.gpus == {"nvidia.com/gpu": 4}
    assert impact.images == ("rayproject/ray:2.46.0", "rayproject/ray:2.46.0-gpu")
    assert impact.config_maps == ("batch-inference-script",)
    assert impact.service_accounts == ("ray-workloads",)
    assert impact.cleanup == ("shutdownAfterJobFinishes with ttlSecondsAfterFinished=3600 deletes the RayCluster "
                              "(pods, dashboard, in-cluster job logs) after the job ends",)


def test_dev_batch_job_full_facts():
    body = load(ROOT / "environments/dev/rayjob-batch-inference.yaml", "RayJob")
    got = facts.facts_of(body)
    assert got["rayVersion"] == "2.46.0"
    assert got["cleanup"] == {"shutdownAfterJobFinishes": True, "ttlSecondsAfterFinished": 60,
                              "activeDeadlineSeconds": 3600}
    assert got["exposure"]["submissionMode"] == "K8sJobMode"
    assert got["exposure"]["authMode"] == "disabled"
    assert got["runtimeEnv"]["runtimeEnvYAML"]["envVarNames"] == ["BATCH_SIZE"]
    assert "100" not in json.dumps(got["runtimeEnv"])  # env var values are never read
    worker = next(r for r in got["resources"] if r["group"] == "gpu")
    assert worker["maxPods"] == 1
    assert worker["requests"] == {"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"}
    assert got["volumes"][0] == {"group": "head", "name": "scripts", "type": "configMap",
                                 "source": "batch-inference-script"}


def test_rayservice_remote_working_dir_and_autoscaler():
    body = load(ROOT / "environments/dev/rayservice.yaml", "RayService")
    impact = facts.impact_of(body)
    assert impact.remote_code == ("https://github.com/ray-project/serve_config_examples/archive/"
                                  "b393e77bbd6aba0881e3d94c05f968f05a387b96.zip",)
    assert impact.exposed == ()  # ClusterIP head and serve services
    got = facts.facts_of(body)
    assert got["autoscaler"] == {"enabled": True, "groups": {"serve": {"replicas": 1, "minReplicas": 1,
                                                                       "maxReplicas": 3}}}
    assert got["runtimeEnv"]["serveConfigV2"]["applications"][0]["importPath"] == "text_ml.app"
    assert got["exposure"]["ports"]["serve"] == 8000


def test_prod_raycluster_max_replicas_from_environment():
    body = load(ROOT / "environments/prod/raycluster.yaml", "RayCluster")
    got = facts.facts_of(body)
    assert got["autoscaler"]["enabled"] is True
    assert got["autoscaler"]["idleTimeoutSeconds"] == 120
    assert got["autoscaler"]["groups"]["cpu"]["maxReplicas"] == 10
    assert [r["maxPods"] for r in got["resources"]] == [1, 10]
    assert got["exposure"]["ports"] == {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "metrics": 8080}


def test_tpu_multihost_counts_hosts_per_replica():
    body = load(SAMPLES / "ray-cluster.tpu-v4-multihost.yaml", "RayCluster")
    assert facts.accelerators(body) == {"tpu": {"google.com/tpu": 8}}  # 4 chips x 2 hosts x 1 replica
    got = facts.facts_of(body)
    assert got["monitoring"]["dashboardMetricsEnv"] == ["RAY_GRAFANA_HOST", "RAY_GRAFANA_IFRAME_HOST",
                                                       "RAY_PROMETHEUS_HOST"]
    head = got["resources"][0]
    assert head["limits"]["memory"] == "40G" and head["requests"]["ephemeral-storage"] == "10Gi"


def test_nodeport_head_service_exposes_all_head_ports_without_auth():
    body = load(SAMPLES / "ray-cluster.separate-ingress.yaml", "RayCluster")
    assert facts.impact_of(body).exposed == (
        "head Service NodePort: gcs-server 6379, dashboard 8265, client 10001, metrics 8080 — Jobs API without "
        "authentication (authOptions.mode not token)",)
    ingress = load(SAMPLES / "ray-cluster.separate-ingress.yaml", "Ingress")
    assert facts.impact_of(ingress).exposed == ("Ingress * -> raycluster-ingress-head-svc:8265",)


def test_token_auth_mode_is_recorded():
    body = load(SAMPLES / "ray-cluster.auth.yaml", "RayCluster")
    assert facts.exposure(body)["authMode"] == "token"


def test_deletion_rules_are_cleanup_that_deletes_evidence():
    body = load(SAMPLES / "ray-job.deletion-rules.yaml", "RayJob")
    rules = facts.cleanup(body)["deletionRules"]
    assert rules[2] == {"condition": {"jobStatus": "FAILED"}, "ttlSeconds": 90, "policy": "DeleteSelf"}
    effects = facts.impact_of(body).cleanup
    assert len(effects) == 6
    assert effects[5] == ("deletionStrategy: DeleteSelf 90s after jobStatus=SUCCEEDED deletes the RayJob itself, "
                          "its status and everything it owns")


def test_pip_packages_are_remote_code():
    body = load(SAMPLES / "ray-job.shutdown.yaml", "RayJob")
    assert facts.impact_of(body).remote_code == ("pip:requests==2.26.0", "pip:pendulum==2.1.2")
    assert facts.cleanup(body) == {"shutdownAfterJobFinishes": True, "ttlSecondsAfterFinished": 10}


@pytest.mark.parametrize(("sample", "label", "value"), [
    ("ray-cluster.yunikorn-scheduler.yaml", "yunikorn", "root.test"),
    ("ray-cluster.volcano-scheduler-queue.yaml", "volcano", "kuberay-test-queue"),
])
def test_queue_labels(sample, label, value):
    body = load(SAMPLES / sample, "RayCluster")
    assert facts.queueing(body)[label] == value


def test_kueue_queue_and_suspend():
    body = load(SAMPLES / "ray-job.kueue-toy-sample.yaml", "RayJob")
    body["metadata"]["labels"] = {"kueue.x-k8s.io/queue-name": "user-queue"}
    body["spec"]["suspend"] = True
    assert facts.queueing(body) == {"kueue": "user-queue", "suspend": True}


def test_secret_references_by_name_only_never_values():
    canary = "canary-value-7f3a9"
    body = {
        "apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "c", "namespace": "ns"},
        "spec": {
            "authOptions": {"mode": "token", "secretName": "auth-token"},
            "gcsFaultToleranceOptions": {"redisAddress": f"redis://:{canary}@redis:6379",
                                         "redisPassword": {"value": canary}},
            "headGroupSpec": {"template": {"spec": {
                "imagePullSecrets": [{"name": "regcred"}],
                "containers": [{"name": "ray-head", "image": "ray:1",
                                "env": [{"name": "TOKEN", "value": canary},
                                        {"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                                        {"name": "CFG", "valueFrom": {"configMapKeyRef": {"name": "cfg",
                                                                                          "key": "k"}}}],
                                "envFrom": [{"secretRef": {"name": "bulk"}}, {"configMapRef": {"name": "bulk-cm"}}]}],
                "volumes": [{"name": "tls", "secret": {"secretName": "tls-certs"}},
                            {"name": "p", "projected": {"sources": [{"secret": {"name": "proj"}}]}}]}}},
        },
    }
    got = facts.facts_of(body)
    assert got["secrets"] == ["auth-token", "bulk", "db", "proj", "regcred", "tls-certs"]
    assert got["configMaps"] == ["bulk-cm", "cfg"]
    assert got["storage"]["gcsFaultTolerance"] == {"backend": "redis", "redisAddress": "redis://redis:6379",
                                                   "redisPassword": "inline value (hidden)"}
    assert canary not in json.dumps(got)
    assert canary not in repr(facts.impact_of(body))


def test_secret_object_facts_name_keys_only():
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "type": "Opaque",
            "data": {"password": "Y2FuYXJ5"}, "stringData": {"token": "canary"}}
    assert facts.facts_of(body) == {"kind": "Secret", "apiVersion": "v1", "name": "s", "namespace": "n",
                                    "type": "Opaque", "keys": ["password", "token"]}
    assert facts.impact_of(body).secrets == ("s",)


def test_core_kinds_service_rbac():
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
           "spec": {"type": "LoadBalancer", "ports": [{"name": "dashboard", "port": 8265}]}}
    assert facts.impact_of(svc).exposed == ("Service LoadBalancer: dashboard 8265",)
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
                      {"apiGroups": ["ray.io"], "resources": ["*"], "verbs": ["*"]}]}
    got = facts.facts_of(role)
    assert got["rules"] == ["get,list pods (core)", "* * (ray.io)"]
    assert got["wildcard"] is True


def test_raycronjob_job_template_and_schedule():
    job = load(ROOT / "environments/dev/rayjob-batch-inference.yaml", "RayJob")
    cron = {"apiVersion": "ray.io/v1", "kind": "RayCronJob", "metadata": {"name": "nightly", "namespace": "ray-dev"},
            "spec": {"schedule": "0 2 * * *", "jobTemplate": job["spec"]}}
    got = facts.facts_of(cron)
    assert got["accelerators"] == {"gpu": {"nvidia.com/gpu": 1}}
    assert got["cleanup"]["schedule"] == "0 2 * * *"
    assert facts.impact_of(cron).cleanup[0].startswith("every scheduled run: shutdownAfterJobFinishes")


def test_mig_and_amd_gpus_count_as_gpus():
    assert facts.is_gpu_key("nvidia.com/mig-1g.5gb")
    assert facts.is_gpu_key("amd.com/gpu")
    assert not facts.is_gpu_key("google.com/tpu")


def test_every_sample_extracts_without_error_and_never_quotes_env_values():
    count = 0
    for path in sorted(SAMPLES.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or not isinstance(doc, dict):
                continue
            got = json.dumps(facts.facts_of(doc))
            facts.impact_of(doc)
            count += 1
            for _, value, parent in facts_walk(doc):
                if isinstance(parent, dict) and "name" in parent and "value" in parent and isinstance(value, str) \
                        and len(value) > 12 and parent.get("value") == value:
                    assert json.dumps(value)[1:-1] not in got, (path.name, value)
    assert count > 60


def facts_walk(value: Any):
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                yield k, v, node
                stack.append(v)
        elif isinstance(node, list):
            stack.extend(node)
