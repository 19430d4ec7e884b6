"""The simulated RayService controller: promotion, zero-downtime upgrades, in-place updates, suspend (§2.3, §4.3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_sandbox_operator import RAND, Sim, cluster_spec, conditions, container, make_sim

from gitops_ray.sandbox.operator import OperatorTimings

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "kuberay-samples-v1.5.1" / "ray-service.sample.yaml"
NAME = "rayservice-sample"


@pytest.fixture
def sim() -> Iterator[Sim]:
    world = make_sim(timings=OperatorTimings(autoscaler_scale_up_after=None, cluster_deletion_delay_scale=0.02))
    yield world
    assert not world.op.errors, list(world.op.errors)


def create_sample(sim: Sim, **spec: Any) -> dict[str, Any]:
    body = yaml.safe_load(SAMPLE.read_text())
    body["spec"].update(spec)
    return sim.client.create("ray.io/v1", "rayservices", "default", body, field_manager="gitops-ray")


def service(sim: Sim) -> dict[str, Any]:
    return sim.client.ray("rayservices", NAME)


def ready(sim: Sim) -> bool:
    conds = conditions(service(sim))
    return conds.get("Ready", {}).get("status") == "True" and conds["UpgradeInProgress"]["status"] == "False"


def active(sim: Sim) -> str:
    return str(service(sim)["status"]["activeServiceStatus"].get("rayClusterName", ""))


def clusters(sim: Sim) -> list[str]:
    return sorted(c["metadata"]["name"] for c in sim.client.list("ray.io/v1", "rayclusters"))


def test_rayservice_reaches_ready_with_running_applications(sim: Sim) -> None:
    create_sample(sim)
    sim.step()
    assert service(sim)["metadata"]["finalizers"] == ["ray.io/rayservice-finalizer"]
    assert "status" not in service(sim)
    sim.step(0.1)
    status = service(sim)["status"]
    pending = status["pendingServiceStatus"]["rayClusterName"]
    assert pending.startswith(f"{NAME}-") and RAND.match(pending[-5:])
    assert {c: (v["status"], v["reason"]) for c, v in conditions(service(sim)).items()} == {
        "Ready": ("False", "Initializing"), "UpgradeInProgress": ("False", "Initializing")}
    sim.until(lambda: ready(sim))
    svc = service(sim)
    status, conds = svc["status"], conditions(svc)
    assert status["serviceStatus"] == "Running"
    assert (conds["Ready"]["reason"], conds["UpgradeInProgress"]["reason"]) == (
        "NonZeroServeEndpoints", "NoPendingCluster")
    assert conds["Ready"]["observedGeneration"] == 1
    assert status["activeServiceStatus"]["rayClusterName"] == pending
    assert status["pendingServiceStatus"].get("rayClusterName") is None
    apps = status["activeServiceStatus"]["applicationStatuses"]
    assert {name: app["status"] for name, app in apps.items()} == {"fruit_app": "RUNNING", "math_app": "RUNNING"}
    assert apps["math_app"]["serveDeploymentStatuses"] == {
        "Adder": {"status": "HEALTHY"}, "Multiplier": {"status": "HEALTHY"}, "Router": {"status": "HEALTHY"}}
    assert status["numServeEndpoints"] == 2  # the head and the one worker
    cluster = sim.client.ray("rayclusters", pending)
    assert cluster["metadata"]["labels"]["ray.io/originated-from-crd"] == "RayService"
    annotations = cluster["metadata"]["annotations"]
    assert len(annotations["ray.io/hash-without-replicas-and-workers-to-delete"]) == 32
    assert (annotations["ray.io/num-worker-groups"], annotations["ray.io/kuberay-version"]) == ("1", "v1.7.0")
    head, serve = (sim.client.get("v1", "services", "default", f"{NAME}-{kind}-svc") for kind in ("head", "serve"))
    assert head is not None and serve is not None
    assert head["spec"]["selector"]["ray.io/cluster"] == serve["spec"]["selector"]["ray.io/cluster"] == pending
    assert [p["name"] for p in serve["spec"]["ports"]] == ["serve"]
    assert head["metadata"]["ownerReferences"][0]["kind"] == "RayService"


def test_rayclusterconfig_change_upgrades_through_a_pending_cluster(sim: Sim) -> None:
    create_sample(sim)
    sim.until(lambda: ready(sim))
    old = active(sim)
    sim.client.edit("rayservices", NAME, lambda o: o["spec"]["rayClusterConfig"]["headGroupSpec"]["template"][
        "spec"]["containers"][0].update(image="rayproject/ray:2.47.0"))
    sim.step(0.1)
    conds = conditions(service(sim))
    assert (conds["UpgradeInProgress"]["status"], conds["UpgradeInProgress"]["reason"]) == (
        "True", "BothActivePendingClustersExist")
    assert conds["Ready"]["status"] == "True"  # the old cluster keeps serving
    new = service(sim)["status"]["pendingServiceStatus"]["rayClusterName"]
    assert new != old
    sim.until(lambda: active(sim) == new)
    assert conditions(service(sim))["UpgradeInProgress"]["reason"] == "NoPendingCluster"
    serve = sim.client.get("v1", "services", "default", f"{NAME}-serve-svc")
    assert serve is not None and serve["spec"]["selector"]["ray.io/cluster"] == new
    assert old in clusters(sim)  # rayClusterDeletionDelaySeconds (60 s, scaled to 1.2 s)
    sim.run(1.5)
    assert clusters(sim) == [new]


def test_appended_worker_group_updates_the_active_cluster_in_place(sim: Sim) -> None:
    create_sample(sim)
    sim.until(lambda: ready(sim))
    name = active(sim)
    extra = {"groupName": "extra", "replicas": 1, "minReplicas": 0, "maxReplicas": 2, "rayStartParams": {},
             "template": {"spec": {"containers": [container("ray-worker")]}}}
    sim.client.edit("rayservices", NAME, lambda o: o["spec"]["rayClusterConfig"]["workerGroupSpecs"].append(extra))
    sim.run(0.5)
    assert clusters(sim) == [name]
    cluster = sim.client.ray("rayclusters", name)
    assert [g["groupName"] for g in cluster["spec"]["workerGroupSpecs"]] == ["small-group", "extra"]
    assert cluster["metadata"]["annotations"]["ray.io/num-worker-groups"] == "2"
    assert sim.client.writes_by("kuberay-operator", "update", "rayclusters")
    assert conditions(service(sim))["UpgradeInProgress"]["status"] == "False"


def test_replica_only_changes_are_not_propagated(sim: Sim) -> None:
    create_sample(sim)
    sim.until(lambda: ready(sim))
    name = active(sim)
    sim.client.edit("rayservices", NAME, lambda o: o["spec"]["rayClusterConfig"]["workerGroupSpecs"][0].update(
        replicas=3, maxReplicas=7))
    sim.run(1.0)
    assert clusters(sim) == [name]
    assert sim.client.ray("rayclusters", name)["spec"]["workerGroupSpecs"][0]["replicas"] == 1
    assert sim.client.writes_by("kuberay-operator", "update", "rayclusters") == []


def test_upgrade_strategy_none_ignores_cluster_changes(sim: Sim) -> None:
    create_sample(sim, upgradeStrategy={"type": "None"})
    sim.until(lambda: ready(sim))
    name = active(sim)
    sim.client.edit("rayservices", NAME, lambda o: o["spec"]["rayClusterConfig"].update(rayVersion="2.47.0"))
    sim.run(1.5)
    assert clusters(sim) == [name]
    assert conditions(service(sim))["UpgradeInProgress"]["status"] == "False"


def test_serve_config_change_redeploys_on_the_same_cluster(sim: Sim) -> None:
    create_sample(sim)
    sim.until(lambda: ready(sim))
    name = active(sim)
    sim.client.edit("rayservices", NAME, lambda o: o["spec"].update(
        serveConfigV2="applications:\n  - name: only_app\n    import_path: app.main\n"))
    sim.until(lambda: "only_app" in service(sim)["status"]["activeServiceStatus"].get("applicationStatuses", {}))
    sim.until(lambda: service(sim)["status"]["activeServiceStatus"]["applicationStatuses"]["only_app"]["status"]
              == "RUNNING")
    assert clusters(sim) == [name]
    assert set(service(sim)["status"]["activeServiceStatus"]["applicationStatuses"]) == {"only_app"}


def test_rayservice_spec_error_sets_ready_false_validation_failed(sim: Sim) -> None:
    create_sample(sim, upgradeStrategy={"type": "Rolling"})
    sim.run(0.5)
    ready_condition = conditions(service(sim))["Ready"]
    assert (ready_condition["status"], ready_condition["reason"]) == ("False", "ValidationFailed")
    assert ready_condition["message"] == (
        "The RayService spec is invalid: Spec.UpgradeStrategy.Type value Rolling is invalid, valid options are "
        "NewClusterWithIncrementalUpgrade, NewCluster, or None")
    assert clusters(sim) == []
    assert len(sim.client.writes_by("kuberay-operator", "update_status", "rayservices")) == 1


def test_suspend_deletes_clusters_and_services_then_reports_suspended(sim: Sim) -> None:
    create_sample(sim)
    sim.until(lambda: ready(sim))
    sim.client.edit("rayservices", NAME, lambda o: o["spec"].update(suspend=True))
    sim.step(0.1)
    assert conditions(service(sim))["Suspending"]["status"] == "True"
    sim.until(lambda: conditions(service(sim)).get("Suspended", {}).get("status") == "True")
    conds = conditions(service(sim))
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "SuspendComplete")
    assert clusters(sim) == []
    assert sim.client.list("v1", "services") == []
    sim.client.edit("rayservices", NAME, lambda o: o["spec"].update(suspend=False))
    sim.until(lambda: ready(sim))
    assert conditions(service(sim))["Suspended"]["reason"] == "RayServiceResumed"


def test_deleting_a_rayservice_deletes_its_clusters_before_dropping_the_finalizer(sim: Sim) -> None:
    create_sample(sim)
    sim.until(lambda: ready(sim))
    sim.client.delete("ray.io/v1", "rayservices", "default", NAME)
    sim.step(0.1)
    assert clusters(sim) == []
    assert service(sim)["metadata"]["finalizers"] == ["ray.io/rayservice-finalizer"]  # clusters went first
    sim.step(0.1)
    assert sim.client.get("ray.io/v1", "rayservices", "default", NAME) is None
    assert sim.client.list("v1", "services") == []


def test_head_container_ports_without_serve_never_get_a_serve_service(sim: Sim) -> None:
    spec = yaml.safe_load(SAMPLE.read_text())["spec"]["rayClusterConfig"]
    spec["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"] = [{"name": "dashboard",
                                                                             "containerPort": 8265}]
    create_sample(sim, rayClusterConfig=spec)
    sim.run(2.5)
    assert sim.client.get("v1", "services", "default", f"{NAME}-serve-svc") is None
    assert conditions(service(sim))["Ready"]["status"] == "False"


def test_own_cluster_spec_helper_is_valid_for_rayservice(sim: Sim) -> None:
    sim.client.create("ray.io/v1", "rayservices", "default", {
        "apiVersion": "ray.io/v1", "kind": "RayService", "metadata": {"name": "plain"},
        "spec": {"serveConfigV2": "applications:\n  - name: app\n    import_path: a.b\n",
                 "rayClusterConfig": cluster_spec(replicas=0)}}, field_manager="gitops-ray")
    sim.until(lambda: conditions(sim.client.ray("rayservices", "plain")).get("Ready", {}).get("status") == "True")
    assert sim.client.ray("rayservices", "plain")["status"]["numServeEndpoints"] == 1


def test_operator_env_enable_zero_downtime_false_turns_upgrades_off() -> None:
    sim = make_sim(operator_env={"ENABLE_ZERO_DOWNTIME": "false"})
    create_sample(sim)
    sim.until(lambda: ready(sim))
    name = active(sim)
    sim.client.edit("rayservices", NAME, lambda o: o["spec"]["rayClusterConfig"].update(rayVersion="2.47.0"))
    sim.run(1.0)
    assert clusters(sim) == [name]
    assert not sim.op.errors
