"""Each operator rule family, per bundled KubeRay version: a passing and a failing fixture, the rule firing
exactly from its first version (ray-operator/controllers/ray/utils/validation.go at each tag), and feature-gated
rules only when the environment declares the gate (on: the rule; off: the gate error)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gitops_ray.checks import k8s_values, kuberay_rules
from gitops_ray.environment import OperatorConfig
from gitops_ray.findings import Severity
from gitops_ray.manifests import format_path

VERSIONS = ["1.3.2", "1.4.2", "1.5.1", "1.6.2", "1.7.0"]


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def pod(**extra: Any) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "ray", "image": "rayproject/ray:2.56.0"}], **extra}}


def cluster(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rayVersion": "2.56.0",
        "headGroupSpec": {"rayStartParams": {}, "template": pod()},
        "workerGroupSpecs": [{"groupName": "small", "replicas": 1, "minReplicas": 1, "maxReplicas": 3,
                              "rayStartParams": {}, "template": pod()}],
    }
    spec.update(extra)
    return spec


def body(kind: str, spec: dict[str, Any], name: str = "sample", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": kind, "metadata": {"name": name, **meta}, "spec": spec}


def job(**extra: Any) -> dict[str, Any]:
    return {"entrypoint": "python main.py", "rayClusterSpec": cluster(), **extra}


def edit(spec: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    change(out)
    return out


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(spec: dict[str, Any]) -> None:
        node: Any = spec
        parts = [int(p) if p.isdigit() else p for p in path.split(".")]
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
    return change


@dataclass(frozen=True)
class Case:
    id: str
    good: dict[str, Any]
    bad: dict[str, Any]
    rule: str
    path: str
    since: str
    gate: str = ""


HISTORY = {"collectorOptions": {"image": "collector:1", "env": [{"name": "STORAGE_BACKEND", "value": "S3"},
                                                               {"name": "S3_REGION", "value": "eu-west-1"}]}}
TLS = {"enabled": True}

CASES = [
    # ValidateRay*Metadata (v1.4.0) and kuberay:child-name before it
    Case("name-length", body("RayCluster", cluster(), "c" * 53), body("RayCluster", cluster(), "c" * 54),
         "kuberay:name-length", "metadata.name", "1.4"),
    Case("name-format", body("RayJob", job(), "ok-name"), body("RayJob", job(), "Bad_Name"),
         "kuberay:name-format", "metadata.name", "1.4"),
    # ValidateRayJobSpec
    Case("submission-mode", body("RayJob", job(submissionMode="HTTPMode")),
         body("RayJob", job(submissionMode="K8sJobMod")), "kuberay:enum", "spec.submissionMode", "1.3"),
    Case("sidecar-mode-value", body("RayJob", job(submissionMode="InteractiveMode")),
         body("RayJob", job(submissionMode="SidecarMode")), "kuberay:enum", "spec.submissionMode", "1.3.2-only"),
    Case("ttl", body("RayJob", job(ttlSecondsAfterFinished=10, shutdownAfterJobFinishes=True)),
         body("RayJob", job(ttlSecondsAfterFinished=10)), "kuberay:ttl-needs-shutdown", "spec.ttlSecondsAfterFinished",
         "1.4"),
    Case("interactive-backoff", body("RayJob", job(submissionMode="InteractiveMode")),
         body("RayJob", job(submissionMode="InteractiveMode", backoffLimit=2)), "kuberay:submission-mode",
         "spec.backoffLimit", "1.4"),
    Case("selector-name", body("RayJob", {"entrypoint": "x", "clusterSelector": {"ray.io/cluster": "c"}}),
         body("RayJob", {"entrypoint": "x", "clusterSelector": {"team": "a"}}), "kuberay:cluster-selector",
         "spec.clusterSelector", "1.5"),
    Case("selector-backoff", body("RayJob", {"entrypoint": "x", "clusterSelector": {"ray.io/cluster": "c"}}),
         body("RayJob", {"entrypoint": "x", "clusterSelector": {"ray.io/cluster": "c"}, "backoffLimit": 1}),
         "kuberay:cluster-selector", "spec.backoffLimit", "1.6"),
    Case("pre-running-deadline", body("RayJob", job(preRunningDeadlineSeconds=60)),
         body("RayJob", job(preRunningDeadlineSeconds=0)), "kuberay:deadline", "spec.preRunningDeadlineSeconds",
         "1.6"),
    Case("submitter-restart", body("RayJob", job(submitterPodTemplate=pod(restartPolicy="Never"))),
         body("RayJob", job(submitterPodTemplate=pod(restartPolicy="Always"))), "k8s:enum",
         "spec.submitterPodTemplate.spec.restartPolicy", "1.3"),
    # ValidateRayClusterSpec
    Case("image-pull-policy", body("RayCluster", cluster()),
         body("RayCluster", edit(cluster(), _set("workerGroupSpecs.0.template.spec.containers.0.imagePullPolicy",
                                                 "Sometimes"))),
         "k8s:enum", "spec.workerGroupSpecs[0].template.spec.containers[0].imagePullPolicy", "1.3"),
    Case("service-type", body("RayCluster", edit(cluster(), _set("headGroupSpec.serviceType", "NodePort"))),
         body("RayCluster", edit(cluster(), _set("headGroupSpec.serviceType", "Nodeport"))), "k8s:enum",
         "spec.headGroupSpec.serviceType", "1.3"),
    Case("redis-address", body("RayCluster", cluster()),
         body("RayCluster", edit(cluster(), _set("headGroupSpec.template.spec.containers.0.env",
                                                 [{"name": "RAY_REDIS_ADDRESS", "value": "redis:6379"}]))),
         "kuberay:gcs-ft", "spec.headGroupSpec.template.spec.containers[0].env", "1.3"),
    Case("autoscaler-v2-restart", body("RayCluster", cluster(enableInTreeAutoscaling=True,
                                                             autoscalerOptions={"version": "v2"})),
         body("RayCluster", edit(cluster(enableInTreeAutoscaling=True, autoscalerOptions={"version": "v2"}),
                                 _set("headGroupSpec.template.spec.restartPolicy", "Always"))),
         "kuberay:autoscaler-restart-policy", "spec.headGroupSpec.template.spec.restartPolicy", "1.4"),
    Case("group-labels", body("RayCluster", edit(cluster(), _set("workerGroupSpecs.0.labels", {"a": "b"}))),
         body("RayCluster", edit(cluster(), _set("workerGroupSpecs.0.labels", {"a": "b c"}))),
         "kuberay:group-labels", "spec.workerGroupSpecs[0].labels.a", "1.5"),
    Case("replicas", body("RayCluster", cluster()),
         body("RayCluster", edit(cluster(), _set("workerGroupSpecs.0.minReplicas", 5))),
         "kuberay:replicas", "spec.workerGroupSpecs[0].minReplicas", "1.6"),
    Case("embedded-upgrade-strategy", body("RayCluster", cluster(upgradeStrategy={"type": "Recreate"})),
         body("RayJob", edit(job(), _set("rayClusterSpec.upgradeStrategy", {"type": "Recreate"}))),
         "kuberay:upgrade-strategy", "spec.rayClusterSpec.upgradeStrategy", "1.6"),
    Case("autoscaler-env", body("RayCluster", cluster(autoscalerOptions={"env": [{"name": "X", "value": "1"}]})),
         body("RayCluster", cluster(autoscalerOptions={"env": [{"name": "KUBERAY_GEN_AUTOSCALER_START_CMD",
                                                                 "value": "x"}]})),
         "kuberay:autoscaler-env", "spec.autoscalerOptions.env", "1.7"),
    Case("group-name-label", body("RayCluster", cluster()),
         body("RayCluster", edit(cluster(), _set("workerGroupSpecs.0.groupName", "g" * 64))),
         "kuberay:child-name", "spec.workerGroupSpecs[0].groupName", "1.3"),
    # feature-gated (the gate declared on; the off/undeclared behaviour is tested below)
    Case("history-backend", body("RayCluster", cluster(historyServerOptions=HISTORY)),
         body("RayCluster", cluster(historyServerOptions=edit(HISTORY, _set("collectorOptions.env.1.name", "X")))),
         "kuberay:history-server", "spec.historyServerOptions.collectorOptions.env", "1.7", "RayClusterHistoryServer"),
    Case("history-container", body("RayCluster", cluster(historyServerOptions=HISTORY)),
         body("RayCluster", edit(cluster(historyServerOptions=HISTORY),
                                 _set("headGroupSpec.template.spec.containers",
                                      [{"name": "ray", "image": "r"}, {"name": "ray-history-collector",
                                                                       "image": "c"}]))),
         "kuberay:history-server", "spec.headGroupSpec.template.spec.containers[1].name", "1.7",
         "RayClusterHistoryServer"),
    Case("tls-autoscaler-mount", body("RayCluster", cluster(tlsOptions=TLS)),
         body("RayCluster", cluster(tlsOptions=TLS, autoscalerOptions={"volumeMounts": [
             {"name": "certs", "mountPath": "/etc/ray/tls"}]})),
         "kuberay:tls", "spec.autoscalerOptions.volumeMounts[0]", "1.7", "RayClusterMTLS"),
    Case("rocksdb-volume", body("RayCluster", cluster(gcsFaultToleranceOptions={"backend": "rocksdb"})),
         body("RayCluster", edit(cluster(gcsFaultToleranceOptions={"backend": "rocksdb"}),
                                 _set("headGroupSpec.template.spec.volumes", [{"name": "gcs-storage",
                                                                              "emptyDir": {}}]))),
         "kuberay:gcs-ft", "spec.headGroupSpec.template.spec.volumes[0].name", "1.7",
         "GCSFaultToleranceEmbeddedStorage"),
    Case("worker-suspend-autoscaling", body("RayCluster", edit(cluster(), _set("workerGroupSpecs.0.suspend", True))),
         body("RayCluster", edit(cluster(enableInTreeAutoscaling=True), _set("workerGroupSpecs.0.suspend", True))),
         "kuberay:worker-group-suspend", "spec.workerGroupSpecs[0].suspend", "1.3", "RayJobDeletionPolicy"),
]


def found(doc: dict[str, Any], version: str, gates: dict[str, bool] | None) -> list[tuple[str, str]]:
    """The errors (a warning is not the operator rejecting: kuberay:replicas warns before 1.6)."""
    operator = OperatorConfig(feature_gates=gates) if gates is not None else None
    every = kuberay_rules.check(doc["kind"], doc, kuberay_version=version, operator=operator)
    return [(h.rule, format_path(h.path)) for h in every if h.severity is Severity.ERROR]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule_fires_exactly_from_its_first_version(case: Case, version: str) -> None:
    gates = {case.gate: True} if case.gate else {}
    good = found(case.good, version, gates)
    bad = found(case.bad, version, gates)
    assert (case.rule, case.path) not in good, good
    # SidecarMode is a valid mode from 1.5; before, an unknown one
    expected = _key(version) < (1, 5) if case.since == "1.3.2-only" else _key(version) >= _key(case.since)
    assert ((case.rule, case.path) in bad) == expected, (version, bad)


GATED = [c for c in CASES if c.gate]


@pytest.mark.parametrize("version", ["1.7.0"])
@pytest.mark.parametrize("case", GATED, ids=[c.id for c in GATED])
def test_gated_rules_need_the_gate_declared_on(case: Case, version: str) -> None:
    off = found(case.bad, version, {case.gate: False})
    assert ("kuberay:feature-gate" in {r for r, _ in off})
    assert (case.rule, case.path) not in off or case.gate == "RayJobDeletionPolicy"
    undeclared = kuberay_rules.check(case.bad["kind"], case.bad, kuberay_version=version, operator=None)
    from gitops_ray.checks.kuberay_cluster_rules import GATE_DEFAULTS

    default_on = dict(GATE_DEFAULTS[case.gate]).get("1.6", False) or case.gate == "RayJobDeletionPolicy"
    gate_hits = [h for h in undeclared if h.rule == "kuberay:feature-gate"]
    assert (gate_hits == []) == default_on
    assert all(str(h.severity) == "warning" for h in gate_hits)


@pytest.mark.parametrize("version", VERSIONS)
def test_history_server_storage_backends(version: str) -> None:
    def collector(*env: tuple[str, str]) -> dict[str, Any]:
        return body("RayCluster", cluster(historyServerOptions={"collectorOptions": {
            "image": "c", "env": [{"name": n, "value": v} for n, v in env]}}))

    gates = {"RayClusterHistoryServer": True}
    cases = [
        ((("STORAGE_BACKEND", "gcs"),), "GCS_BUCKET"),
        ((("STORAGE_BACKEND", "ALIYUNOSS"), ("OSS_BUCKET", "b"), ("OSS_REGION", "r")), "OSS_ENDPOINT"),
        ((("STORAGE_BACKEND", "AZUREBLOB"),), "AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL"),
        ((("STORAGE_BACKEND", "AZUREBLOB"), ("AZURE_STORAGE_AUTH_MODE", "workload_identity"),
          ("AZURE_STORAGE_CONNECTION_STRING", "x")), "AZURE_STORAGE_ACCOUNT_URL"),
    ]
    for env, missing in cases:
        messages = [h.message for h in kuberay_rules.check("RayCluster", collector(*env), kuberay_version=version,
                                                           operator=OperatorConfig(feature_gates=gates))
                    if h.rule == "kuberay:history-server"]
        if _key(version) < (1, 7):
            assert messages == []
        else:
            assert len(messages) == 1 and f"must set {missing}" in messages[0], (env, messages)
    complete = collector(("STORAGE_BACKEND", "AZUREBLOB"), ("AZURE_STORAGE_AUTH_MODE", "default"),
                         ("AZURE_STORAGE_ACCOUNT_URL", "https://a"))
    assert kuberay_rules.check("RayCluster", complete, kuberay_version=version,
                               operator=OperatorConfig(feature_gates=gates)) == []


# --------------------------------------------------------------------------- generated names


@pytest.mark.parametrize("version", VERSIONS)
def test_child_names_with_the_limit_and_the_generated_name(version: str) -> None:
    long_job = body("RayJob", job(), "j" * 47)
    messages = [h.message for h in kuberay_rules.check("RayJob", long_job, kuberay_version=version)
                if h.rule == "kuberay:child-name"]
    if version == "1.3.2":  # <job>-raycluster-<5>: 64 characters, a label value the API server rejects
        assert any(f"ray.io/cluster={'j' * 47}-raycluster-xxxxx (64 characters)" in m and "63" in m
                   for m in messages), messages
    else:
        assert messages == []
    cron = body("RayCronJob", {"schedule": "* * * * *", "jobTemplate": job()}, "r" * 42)
    cron_hits = [h for h in kuberay_rules.check("RayCronJob", cron, kuberay_version=version,
                                                operator=OperatorConfig(feature_gates={"RayCronJob": True}))
                 if h.rule in ("kuberay:child-name", "kuberay:name-length")]
    if version == "1.6.2":  # children <cron>-<5 random> must pass the RayJob limit of 47
        [hit] = cron_hits
        assert hit.rule == "kuberay:child-name" and f"{'r' * 42}-xxxxx" in hit.message and "47" in hit.message
    elif version == "1.7.0":
        assert [h.rule for h in cron_hits] == ["kuberay:name-length"]


def test_a_1_3_service_name_is_shortened_with_a_warning_naming_it() -> None:
    [hit] = kuberay_rules.check("RayCluster", body("RayCluster", cluster(), "c" * 45), kuberay_version="1.3.2")
    assert hit.rule == "kuberay:child-name" and str(hit.severity) == "warning"
    assert f"'{'c' * 45}-head-svc' (54 characters)" in hit.message and f"'{'c' * 41}-head-svc'" in hit.message


def test_a_custom_head_service_name_must_be_a_service_name() -> None:
    doc = body("RayCluster", edit(cluster(), _set("headGroupSpec.headService", {"metadata": {"name": "Head.Svc"}})))
    [hit] = kuberay_rules.check("RayCluster", doc, kuberay_version="1.7.0")
    assert (hit.rule, format_path(hit.path)) == ("kuberay:child-name", "spec.headGroupSpec.headService.metadata.name")


# --------------------------------------------------------------------------- closed sets in built-in kinds


@pytest.mark.parametrize(("kind", "group", "doc", "path"), [
    ("Deployment", "apps", {"spec": {"template": pod(restartPolicy="OnFailure")}}, "spec.template.spec.restartPolicy"),
    ("Job", "batch", {"spec": {"template": pod(restartPolicy="Always")}}, "spec.template.spec.restartPolicy"),
    ("CronJob", "batch", {"spec": {"jobTemplate": {"spec": {"template": pod(dnsPolicy="Cluster")}}}},
     "spec.jobTemplate.spec.template.spec.dnsPolicy"),
    ("Service", "", {"spec": {"type": "LoadBalancer", "externalTrafficPolicy": "local"}},
     "spec.externalTrafficPolicy"),
    ("Service", "", {"spec": {"ports": [{"port": 80, "protocol": "tcp"}]}}, "spec.ports[0].protocol"),
    ("PersistentVolumeClaim", "", {"spec": {"accessModes": ["ReadWriteOnce", "ReadWriteAll"]}}, "spec.accessModes[1]"),
    ("StatefulSet", "apps", {"spec": {"template": pod(), "volumeClaimTemplates": [
        {"spec": {"accessModes": ["RWO"]}}]}}, "spec.volumeClaimTemplates[0].spec.accessModes[0]"),
    ("Pod", "", {"spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 1,
                                                                             "protocol": "HTTP"}]}]}},
     "spec.containers[0].ports[0].protocol"),
    ("Pod", "", {"spec": {"containers": [], "tolerations": [{"operator": "exists"}]}}, "spec.tolerations[0].operator"),
])
def test_closed_sets_of_builtin_kinds_name_the_allowed_values(kind: str, group: str, doc: dict[str, Any],
                                                              path: str) -> None:
    [hit] = k8s_values.check_builtin(group, kind, doc)
    assert (hit.rule, format_path(hit.path)) == ("k8s:enum", path)
    assert "is not one of:" in hit.message
    assert k8s_values.check_builtin(group, kind, {"spec": {"template": pod()}}) == []
