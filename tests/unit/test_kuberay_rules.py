"""The KubeRay operator's own rules: each rule fires on what the operator rejects, at the right path,
from the KubeRay version that enforces it, and feature-gated rules follow the environment's declaration."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitops_ray.checks import kuberay_rules, syntax
from gitops_ray.checks.kuberay_rules import Hit
from gitops_ray.environment import OperatorConfig
from gitops_ray.findings import Severity
from gitops_ray.manifests import format_path

NEWEST = "1.7.0"


def pod(*containers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"spec": {"containers": list(containers) or [{"name": "ray", "image": "rayproject/ray:2.46.0"}],
                     **extra}}


def cluster_spec(**extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "rayVersion": "2.46.0",
        "headGroupSpec": {"rayStartParams": {}, "template": pod()},
        "workerGroupSpecs": [{"groupName": "small", "replicas": 1, "minReplicas": 1, "maxReplicas": 3,
                              "rayStartParams": {}, "template": pod()}],
    }
    spec.update(extra)
    return spec


def obj(kind: str, spec: dict[str, Any], name: str = "sample", annotations: dict[str, str] | None = None
        ) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "ray.io/v1", "kind": kind, "metadata": meta, "spec": spec}


def job_spec(**extra: Any) -> dict[str, Any]:
    return {"entrypoint": "python main.py", "rayClusterSpec": cluster_spec(), **extra}


def service_spec(**extra: Any) -> dict[str, Any]:
    return {"serveConfigV2": "applications: []", "rayClusterConfig": cluster_spec(), **extra}


def cron_spec(**extra: Any) -> dict[str, Any]:
    return {"schedule": "*/5 * * * *", "jobTemplate": job_spec(), **extra}


def hits(body: dict[str, Any], version: str = NEWEST, gates: dict[str, bool] | None = None) -> list[Hit]:
    operator = OperatorConfig(feature_gates=gates) if gates is not None else None
    found = kuberay_rules.check(body["kind"], body, kuberay_version=version, operator=operator)
    if body["kind"] == "RayCronJob":  # the gate warning is covered by its own test
        found = [h for h in found if h.path != ("kind",)]
    return found


def one(body: dict[str, Any], version: str = NEWEST, gates: dict[str, bool] | None = None) -> tuple[str, str, str]:
    found = hits(body, version, gates)
    assert len(found) == 1, found
    return found[0].rule, format_path(found[0].path), str(found[0].severity)


def with_worker(spec: dict[str, Any], **fields: Any) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    spec["workerGroupSpecs"][0].update(fields)
    return spec


# --------------------------------------------------------------------------- valid objects pass


@pytest.mark.parametrize("version", ["1.3.2", "1.4.2", "1.5.1", "1.6.2", "1.7.0"])
def test_ordinary_objects_break_no_rule(version: str) -> None:
    assert hits(obj("RayCluster", cluster_spec()), version) == []
    assert hits(obj("RayJob", job_spec(shutdownAfterJobFinishes=True, ttlSecondsAfterFinished=60)), version) == []
    assert hits(obj("RayService", service_spec()), version) == []
    if version >= "1.6":
        assert hits(obj("RayCronJob", cron_spec()), version, gates={"RayCronJob": True}) == []


# --------------------------------------------------------------------------- names


def test_name_length_limits_per_kind_from_1_4() -> None:
    assert one(obj("RayCluster", cluster_spec(), name="c" * 54)) == ("kuberay:name-length", "metadata.name", "error")
    assert hits(obj("RayCluster", cluster_spec(), name="c" * 53)) == []
    assert one(obj("RayJob", job_spec(), name="j" * 48))[0] == "kuberay:name-length"
    assert one(obj("RayService", service_spec(), name="s" * 48))[0] == "kuberay:name-length"
    assert one(obj("RayCronJob", cron_spec(), name="r" * 37), gates={"RayCronJob": True})[0] == "kuberay:name-length"
    assert hits(obj("RayCronJob", cron_spec(), name="r" * 37), "1.6.2", gates={"RayCronJob": True}) == []
    # 1.3.2 has no name check: what it does with a long name is kuberay:child-name's (test_kuberay_versions.py)
    assert {h.rule for h in hits(obj("RayCluster", cluster_spec(), name="c" * 54), "1.3.2")} == {"kuberay:child-name"}


@pytest.mark.parametrize("name", ["Upper", "1starts-with-digit", "under_score", "ends-with-"])
def test_names_must_be_dns_1035_labels(name: str) -> None:
    assert one(obj("RayCluster", cluster_spec(), name=name)) == ("kuberay:name-format", "metadata.name", "error")


# --------------------------------------------------------------------------- cluster spec


def test_groups_need_containers() -> None:
    spec = cluster_spec()
    spec["headGroupSpec"]["template"]["spec"]["containers"] = []
    assert one(obj("RayCluster", spec)) == (
        "kuberay:containers", "spec.headGroupSpec.template.spec.containers", "error")
    job = job_spec()
    job["rayClusterSpec"]["workerGroupSpecs"][0]["template"]["spec"]["containers"] = []
    assert one(obj("RayJob", job))[1] == "spec.rayClusterSpec.workerGroupSpecs[0].template.spec.containers"


def test_worker_group_names_are_unique() -> None:
    spec = cluster_spec()
    spec["workerGroupSpecs"].append(copy.deepcopy(spec["workerGroupSpecs"][0]))
    assert one(obj("RayCluster", spec)) == (
        "kuberay:worker-group-names", "spec.workerGroupSpecs[1].groupName", "error")


def test_min_replicas_above_max_is_rejected_from_1_6_and_warned_before() -> None:
    body = obj("RayCluster", with_worker(cluster_spec(), minReplicas=5, maxReplicas=2))
    assert one(body) == ("kuberay:replicas", "spec.workerGroupSpecs[0].minReplicas", "error")
    assert one(body, "1.5.1") == ("kuberay:replicas", "spec.workerGroupSpecs[0].minReplicas", "warning")
    assert one(obj("RayCluster", with_worker(cluster_spec(), minReplicas=-1)))[1] == (
        "spec.workerGroupSpecs[0].minReplicas")
    # the defaults (0 and 2147483647) satisfy the rule
    spec = cluster_spec()
    del spec["workerGroupSpecs"][0]["minReplicas"], spec["workerGroupSpecs"][0]["maxReplicas"]
    assert hits(obj("RayCluster", spec)) == []


def test_resources_in_ray_start_params_and_resources_conflict_from_1_5() -> None:
    spec = with_worker(cluster_spec(), rayStartParams={"num-cpus": "2"}, resources={"CPU": "2"})
    assert one(obj("RayCluster", spec)) == (
        "kuberay:ray-start-params-resources", "spec.workerGroupSpecs[0].resources", "error")
    assert hits(obj("RayCluster", spec), "1.4.2") == []


def test_group_labels() -> None:
    spec = with_worker(cluster_spec(), rayStartParams={"labels": "a=b"})
    assert one(obj("RayCluster", spec)) == (
        "kuberay:group-labels", "spec.workerGroupSpecs[0].rayStartParams.labels", "error")
    spec = with_worker(cluster_spec(), labels={"bad key!": "v", "ok": "also bad value!"})
    assert {format_path(h.path) for h in hits(obj("RayCluster", spec))} == {
        'spec.workerGroupSpecs[0].labels["bad key!"]', "spec.workerGroupSpecs[0].labels.ok"}


def test_idle_timeout_needs_autoscaler_v2_from_1_6() -> None:
    spec = with_worker(cluster_spec(enableInTreeAutoscaling=True), idleTimeoutSeconds=60)
    assert one(obj("RayCluster", spec)) == (
        "kuberay:idle-timeout", "spec.workerGroupSpecs[0].idleTimeoutSeconds", "error")
    assert hits(obj("RayCluster", spec), "1.5.1") == []
    spec["autoscalerOptions"] = {"version": "v2"}
    assert hits(obj("RayCluster", spec)) == []


def test_priority_needs_ray_2_56_and_autoscaler_v2_in_1_7() -> None:
    spec = with_worker(cluster_spec(enableInTreeAutoscaling=True, autoscalerOptions={"version": "v2"}), priority=5)
    assert one(obj("RayCluster", spec)) == ("kuberay:priority", "spec.workerGroupSpecs[0].priority", "error")
    spec["rayVersion"] = "2.56.0"
    assert hits(obj("RayCluster", spec)) == []
    assert hits(obj("RayCluster", with_worker(spec, priority=0))) == []


def test_gcs_fault_tolerance_combinations() -> None:
    ft = {"redisAddress": "redis:6379"}
    body = obj("RayCluster", cluster_spec(gcsFaultToleranceOptions=ft), annotations={"ray.io/ft-enabled": "true"})
    assert one(body) == ("kuberay:gcs-ft", "spec.gcsFaultToleranceOptions", "error")
    spec = cluster_spec()
    spec["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "RAY_REDIS_ADDRESS", "value": "r"}]
    assert one(obj("RayCluster", spec))[0] == "kuberay:gcs-ft"
    spec = cluster_spec(gcsFaultToleranceOptions=ft)
    spec["headGroupSpec"]["rayStartParams"] = {"redis-password": "secret"}
    assert one(obj("RayCluster", spec))[1] == "spec.headGroupSpec.rayStartParams.redis-password"


def test_autoscaler_v2_env_without_autoscaling_from_1_5() -> None:
    spec = cluster_spec()
    spec["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "RAY_enable_autoscaler_v2", "value": "true"}]
    assert one(obj("RayCluster", spec))[0] == "kuberay:autoscaler-v2"
    assert hits(obj("RayCluster", spec), "1.4.2") == []


def test_autoscaler_v2_needs_restart_policy_never() -> None:
    spec = cluster_spec(enableInTreeAutoscaling=True, autoscalerOptions={"version": "v2"})
    spec["workerGroupSpecs"][0]["template"]["spec"]["restartPolicy"] = "Always"
    assert one(obj("RayCluster", spec)) == (
        "kuberay:autoscaler-restart-policy", "spec.workerGroupSpecs[0].template.spec.restartPolicy", "error")


@pytest.mark.parametrize(("ray_version", "expected"), [(None, True), ("2.46.0", True), ("2.52.0", False)])
def test_token_auth_needs_ray_2_52(ray_version: str | None, expected: bool) -> None:
    spec = cluster_spec(authOptions={"mode": "token"})
    if ray_version is None:
        del spec["rayVersion"]
    else:
        spec["rayVersion"] = ray_version
    assert bool(hits(obj("RayCluster", spec))) is expected


def test_upgrade_strategy_only_on_standalone_clusters() -> None:
    job = job_spec()
    job["rayClusterSpec"]["upgradeStrategy"] = {"type": "Recreate"}
    assert one(obj("RayJob", job)) == ("kuberay:upgrade-strategy", "spec.rayClusterSpec.upgradeStrategy", "error")
    assert hits(obj("RayCluster", cluster_spec(upgradeStrategy={"type": "Recreate"}))) == []


# --------------------------------------------------------------------------- feature gates


def test_a_gated_field_warns_only_when_the_gates_are_not_declared_and_the_default_is_off() -> None:
    body = obj("RayCluster", with_worker(cluster_spec(), suspend=True))
    assert one(body, "1.5.1") == ("kuberay:feature-gate", "spec.workerGroupSpecs[0].suspend", "warning")
    assert one(body, "1.5.1", gates={"RayJobDeletionPolicy": False})[2] == "error"
    assert one(body, "1.5.1", gates={}) == ("kuberay:feature-gate", "spec.workerGroupSpecs[0].suspend", "error")
    assert hits(body, "1.5.1", gates={"RayJobDeletionPolicy": True}) == []
    assert hits(body, "1.6.2") == []  # on by default from 1.6
    assert one(body, "1.6.2", gates={"RayJobDeletionPolicy": False})[2] == "error"


def test_a_suspended_worker_group_cannot_autoscale() -> None:
    body = obj("RayCluster", with_worker(cluster_spec(enableInTreeAutoscaling=True), suspend=True))
    assert one(body) == ("kuberay:worker-group-suspend", "spec.workerGroupSpecs[0].suspend", "error")


def test_1_7_alpha_features_need_their_gates() -> None:
    spec = cluster_spec(networkPolicy={"mode": "DenyAllEgress", "head": {"ingressRules": [{}]},
                                       "workerGroups": [{"groupName": "missing"}]})
    found = {(h.rule, format_path(h.path), str(h.severity)) for h in hits(obj("RayCluster", spec))}
    # undeclared gates: the warning says to declare them; the rules behind the gate need it on
    assert found == {("kuberay:feature-gate", "spec.networkPolicy", "warning")}
    found = {(h.rule, format_path(h.path), str(h.severity))
             for h in hits(obj("RayCluster", spec), gates={"RayClusterNetworkPolicy": True})}
    assert found == {
        ("kuberay:network-policy", "spec.networkPolicy.head.ingressRules", "error"),
        ("kuberay:network-policy", "spec.networkPolicy.workerGroups[0].groupName", "error"),
    }
    tls = cluster_spec(tlsOptions={"enabled": True})
    tls["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "RAY_USE_TLS", "value": "1"}]
    found = {h.rule for h in hits(obj("RayCluster", tls), gates={"RayClusterMTLS": True})}
    assert found == {"kuberay:tls"}
    history = cluster_spec(historyServerOptions={})
    found = {h.rule for h in hits(obj("RayCluster", history), gates={"RayClusterHistoryServer": True})}
    assert found == {"kuberay:history-server"}


# --------------------------------------------------------------------------- RayJob


def test_suspend_needs_shutdown_after_job_finishes() -> None:
    assert one(obj("RayJob", job_spec(suspend=True))) == (
        "kuberay:suspend-needs-shutdown", "spec.suspend", "error")
    assert hits(obj("RayJob", job_spec(suspend=True, shutdownAfterJobFinishes=True))) == []


def test_ttl_needs_shutdown_from_1_4() -> None:
    body = obj("RayJob", job_spec(ttlSecondsAfterFinished=60))
    assert one(body) == ("kuberay:ttl-needs-shutdown", "spec.ttlSecondsAfterFinished", "error")
    assert hits(body, "1.3.2") == []


def test_a_job_needs_a_cluster_spec_or_a_selector() -> None:
    spec = job_spec()
    del spec["rayClusterSpec"]
    assert one(obj("RayJob", spec)) == ("kuberay:cluster-source", "spec", "error")
    both = job_spec(clusterSelector={"ray.io/cluster": "shared"})
    assert one(obj("RayJob", both)) == ("kuberay:cluster-source", "spec.rayClusterSpec", "warning")
    selector = {"entrypoint": "x", "clusterSelector": {"team": "a"}}
    assert one(obj("RayJob", selector)) == ("kuberay:cluster-selector", "spec.clusterSelector", "error")


def test_submission_mode_constraints() -> None:
    body = obj("RayJob", job_spec(submissionMode="InteractiveMode", backoffLimit=2))
    assert one(body) == ("kuberay:submission-mode", "spec.backoffLimit", "error")
    body = obj("RayJob", job_spec(submissionMode="SidecarMode", submitterPodTemplate=pod()))
    assert one(body) == ("kuberay:submission-mode", "spec.submitterPodTemplate", "error")
    selector = {"entrypoint": "x", "clusterSelector": {"ray.io/cluster": "c"}, "submissionMode": "SidecarMode"}
    assert one(obj("RayJob", selector)) == ("kuberay:cluster-selector", "spec.submissionMode", "error")


def test_job_values() -> None:
    assert one(obj("RayJob", job_spec(runtimeEnvYAML="- a list"))) == (
        "kuberay:runtime-env-yaml", "spec.runtimeEnvYAML", "error")
    assert one(obj("RayJob", job_spec(runtimeEnvYAML="pip: [torch")))[0] == "kuberay:runtime-env-yaml"
    assert hits(obj("RayJob", job_spec(runtimeEnvYAML="pip:\n  - torch\n"))) == []
    assert one(obj("RayJob", job_spec(activeDeadlineSeconds=0))) == ("kuberay:deadline", "spec.activeDeadlineSeconds",
                                                                     "error")
    assert one(obj("RayJob", job_spec(backoffLimit=-1))) == ("kuberay:backoff-limit", "spec.backoffLimit", "error")


def _rules(*rules: tuple[str, str, int]) -> dict[str, Any]:
    return {"deletionRules": [{"policy": p, "condition": {"jobStatus": s, "ttlSeconds": t}} for p, s, t in rules]}


def test_deletion_strategy_rules() -> None:
    gates = {"RayJobDeletionPolicy": True}
    shutdown = obj("RayJob", job_spec(shutdownAfterJobFinishes=True, deletionStrategy=_rules(
        ("DeleteCluster", "SUCCEEDED", 10))))
    assert one(shutdown, gates=gates) == ("kuberay:deletion-strategy", "spec.deletionStrategy.deletionRules", "error")
    order = obj("RayJob", job_spec(deletionStrategy=_rules(("DeleteSelf", "FAILED", 10),
                                                           ("DeleteCluster", "FAILED", 60))))
    assert one(order, gates=gates) == (
        "kuberay:deletion-strategy", "spec.deletionStrategy.deletionRules[0].condition.ttlSeconds", "error")
    duplicate = obj("RayJob", job_spec(deletionStrategy=_rules(("DeleteSelf", "FAILED", 10),
                                                               ("DeleteSelf", "FAILED", 20))))
    assert one(duplicate, gates=gates)[1] == "spec.deletionStrategy.deletionRules[1]"
    legacy = obj("RayJob", job_spec(deletionStrategy={"onSuccess": {"policy": "DeleteCluster"}}))
    assert one(legacy, gates=gates) == ("kuberay:deletion-strategy", "spec.deletionStrategy", "error")
    workers = job_spec(deletionStrategy=_rules(("DeleteWorkers", "SUCCEEDED", 0)))
    workers["rayClusterSpec"]["enableInTreeAutoscaling"] = True
    assert one(obj("RayJob", workers), gates=gates)[1] == "spec.deletionStrategy.deletionRules[0].policy"
    valid = obj("RayJob", job_spec(deletionStrategy=_rules(("DeleteWorkers", "SUCCEEDED", 0),
                                                           ("DeleteCluster", "SUCCEEDED", 10),
                                                           ("DeleteSelf", "SUCCEEDED", 60))))
    assert hits(valid, gates=gates) == []
    assert one(valid, "1.5.1") == ("kuberay:feature-gate", "spec.deletionStrategy", "warning")


def test_the_1_3_deletion_policy_field() -> None:
    body = obj("RayJob", job_spec(shutdownAfterJobFinishes=True, deletionPolicy="DeleteNone"))
    found = {(h.rule, str(h.severity)) for h in hits(body, "1.3.2")}
    assert found == {("kuberay:feature-gate", "warning"), ("kuberay:deletion-policy", "error")}


# --------------------------------------------------------------------------- RayService


def test_rayservice_rules() -> None:
    spec = service_spec()
    spec["rayClusterConfig"]["headGroupSpec"]["headService"] = {"metadata": {"name": "custom"}}
    assert one(obj("RayService", spec)) == (
        "kuberay:head-service-name", "spec.rayClusterConfig.headGroupSpec.headService.metadata.name", "error")
    assert one(obj("RayService", service_spec(upgradeStrategy={"type": "BlueGreen"}))) == (
        "kuberay:upgrade-strategy", "spec.upgradeStrategy.type", "error")
    incremental = service_spec(upgradeStrategy={"type": "NewClusterWithIncrementalUpgrade"})
    assert one(obj("RayService", incremental), "1.5.1")[0] == "kuberay:feature-gate"
    assert one(obj("RayService", incremental), "1.4.2")[0] == "kuberay:upgrade-strategy"  # not a value before 1.5
    found = {format_path(h.path) for h in hits(obj("RayService", incremental))}  # on by default in 1.7
    assert found == {"spec.upgradeStrategy.type", "spec.upgradeStrategy"}  # autoscaler off, no options


@pytest.mark.parametrize(("value", "ok"), [("5m", True), ("300", True), ("0", False), ("-1m", False), ("soon", False)])
def test_initializing_timeout_annotation(value: str, ok: bool) -> None:
    body = obj("RayService", service_spec(), annotations={"ray.io/initializing-timeout": value})
    assert (hits(body) == []) is ok


def test_a_head_without_a_serve_port_warns() -> None:
    spec = service_spec()
    spec["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"containerPort": 8265, "name": "dashboard"}]
    assert one(obj("RayService", spec))[::2] == ("kuberay:serve-port", "warning")
    spec["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"].append(
        {"containerPort": 8000, "name": "serve"})
    assert hits(obj("RayService", spec)) == []


# --------------------------------------------------------------------------- RayCronJob


def test_raycronjob_rules() -> None:
    assert one(obj("RayCronJob", cron_spec(schedule="*/5 * * *"))) == (
        "kuberay:cron-schedule", "spec.schedule", "error")
    assert one(obj("RayCronJob", cron_spec(schedule="CRON_TZ=UTC 0 * * * *")))[0] == "kuberay:cron-schedule"
    assert hits(obj("RayCronJob", cron_spec(schedule="CRON_TZ=UTC 0 * * * *")), "1.6.2") == []
    assert one(obj("RayCronJob", cron_spec(timeZone="Mars/Olympus"))) == ("kuberay:time-zone", "spec.timeZone",
                                                                          "error")
    assert hits(obj("RayCronJob", cron_spec(timeZone="Europe/Paris"))) == []
    template = cron_spec()
    template["jobTemplate"]["suspend"] = True
    assert one(obj("RayCronJob", template)) == ("kuberay:suspend-needs-shutdown", "spec.jobTemplate.suspend", "error")


def test_raycronjob_needs_its_feature_gate() -> None:
    body = obj("RayCronJob", cron_spec())
    found = kuberay_rules.check("RayCronJob", body, kuberay_version=NEWEST, operator=None)
    assert [(h.rule, h.path, h.severity) for h in found] == [("kuberay:feature-gate", ("kind",), Severity.WARNING)]


def test_every_rule_id_is_catalogued_and_documented() -> None:
    import re
    from pathlib import Path

    from gitops_ray.checks import policy

    root = Path(__file__).resolve().parents[2]
    source = "".join((root / "gitops_ray" / name).read_text()
                     for name in ("checks/kuberay_rules.py", "checks/kuberay_cluster_rules.py", "checks/policy.py",
                                  "checks/kuberay_names.py", "checks/k8s_values.py"))
    used = set(re.findall(r'"((?:kuberay|policy|k8s):[a-z0-9-]+)"', source))
    catalogued = set(kuberay_rules.RULES) | set(policy.RULES)
    assert used == catalogued
    docs = (root / "docs" / "validation.md").read_text()
    assert [rule for rule in sorted(catalogued) if f"`{rule}`" not in docs] == []


# --------------------------------------------------------------------------- syntaxes


@pytest.mark.parametrize("spec", ["*/5 * * * *", "0 0 1 1 *", "0 9 * * MON-FRI", "0 0 * jan,dec sun", "@daily",
                                  "@every 1h30m", "5 4 * * ?", "0-30/10 * * * *", "15 */2 1-31 * 0-6"])
def test_valid_cron_schedules(spec: str) -> None:
    assert syntax.cron_schedule(spec) is None


@pytest.mark.parametrize("spec", ["", "* * * *", "* * * * * *", "60 * * * *", "* * * * 7", "*/0 * * * *",
                                  "5-1 * * * *", "@sometimes", "a * * * *", "1-2-3 * * * *", "@every soon"])
def test_invalid_cron_schedules(spec: str) -> None:
    assert syntax.cron_schedule(spec) is not None


def test_kubernetes_name_syntaxes() -> None:
    assert syntax.dns1035_label("ray-cluster") is None
    assert syntax.dns1035_label("9lives") and syntax.dns1035_label("x" * 64)
    assert syntax.dns1123_label("9lives") is None
    assert syntax.qualified_name("ray.io/node-type") is None and syntax.qualified_name("a/b/c")
    assert syntax.label_value("") is None and syntax.label_value("-bad")
    assert syntax.go_duration("1h30m") == 5400 and syntax.go_duration("90") is None and syntax.go_duration("0") == 0
    assert syntax.ray_version("2.52.0") == (2, 52, 0) and syntax.ray_version("latest") is None
