"""The simulated RayJob controller: the §2.1/§4.2 state machine and the §6.1 end-of-life rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_sandbox_operator import RAND, Sim, cluster_spec, make_sim

NAME = "train"


@pytest.fixture
def sim() -> Iterator[Sim]:
    world = make_sim()
    yield world
    assert not world.op.errors, list(world.op.errors)


def create_job(sim: Sim, name: str = NAME, entrypoint: str = "python train.py", **spec: Any) -> None:
    body = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": name, "labels": {"team": "ml"}},
            "spec": {"entrypoint": entrypoint, **spec}}
    if "clusterSelector" not in spec:
        body["spec"].setdefault("rayClusterSpec", cluster_spec(replicas=1))
    sim.client.create("ray.io/v1", "rayjobs", "default", body, field_manager="gitops-ray")


def status(sim: Sim, name: str = NAME) -> dict[str, Any]:
    return dict(sim.client.ray("rayjobs", name).get("status") or {})


def finished(sim: Sim, name: str = NAME) -> bool:
    return status(sim, name).get("jobDeploymentStatus") in ("Complete", "Failed")


def test_rayjob_runs_through_initializing_and_running_to_complete(sim: Sim) -> None:
    create_job(sim)
    sim.step()
    job = sim.client.ray("rayjobs", NAME)
    first = job["status"]
    assert job["metadata"]["finalizers"] == ["ray.io/rayjob-finalizer"]
    assert first["jobDeploymentStatus"] == "Initializing"
    assert first["jobId"].startswith(f"{NAME}-") and RAND.match(first["jobId"][-5:])
    cluster_name = first["rayClusterName"]
    assert cluster_name.startswith(f"{NAME}-") and RAND.match(cluster_name[-5:])
    assert (first["succeeded"], first["failed"]) == (0, 0)
    assert "startTime" in first and "endTime" not in first
    sim.step(0.1)
    cluster = sim.client.ray("rayclusters", cluster_name)
    assert cluster["metadata"]["labels"] == {"team": "ml", "ray.io/originated-from-cr-name": NAME,
                                             "ray.io/originated-from-crd": "RayJob",
                                             "ray.io/job-submission-mode": "K8sJobMode"}
    assert cluster["metadata"]["ownerReferences"][0]["kind"] == "RayJob"
    sim.until(lambda: status(sim).get("jobDeploymentStatus") == "Running")
    running = status(sim)
    assert running["dashboardURL"] == f"{cluster_name}-head-svc.default.svc.cluster.local:8265"
    submitter = sim.client.get("batch/v1", "jobs", "default", NAME)
    assert submitter is not None
    assert submitter["metadata"]["ownerReferences"][0]["name"] == NAME
    assert submitter["spec"]["backoffLimit"] == 2
    pod = submitter["spec"]["template"]["spec"]
    assert pod["containers"][0]["name"] == "ray-job-submitter"
    assert f"--submission-id {running['jobId']}" in pod["containers"][0]["args"][0]
    assert {"name": "RAY_JOB_SUBMISSION_ID", "value": running["jobId"]} in pod["containers"][0]["env"]
    sim.until(lambda: status(sim).get("jobStatus") in ("PENDING", "RUNNING"))
    seen = set()
    sim.until(lambda: seen.add(status(sim).get("jobStatus")) or finished(sim))
    assert {"PENDING", "RUNNING"} <= seen
    done = status(sim)
    assert (done["jobDeploymentStatus"], done["jobStatus"]) == ("Complete", "SUCCEEDED")
    assert (done["succeeded"], done["failed"]) == (1, 0)
    assert done["message"] == "Job finished successfully."
    assert "reason" not in done and "endTime" in done
    assert set(done["rayJobInfo"]) == {"startTime", "endTime"}
    assert done["rayClusterStatus"]["state"] == "ready"
    svc = sim.client.get("v1", "services", "default", f"{NAME}-head-svc")
    assert svc is not None and svc["spec"]["selector"]["ray.io/cluster"] == cluster_name
    job_status = sim.client.get("batch/v1", "jobs", "default", NAME)["status"]  # type: ignore[index]
    assert [c["type"] for c in job_status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert job_status["succeeded"] == 1
    # every write of the operator: status via the subresource, the finalizer via an Update, children created
    ops = {(w.verb, w.plural) for w in sim.client.writes_by("kuberay-operator")}
    assert ops == {("update", "rayjobs"), ("update_status", "rayjobs"), ("create", "rayclusters"),
                   ("update_status", "rayclusters"), ("create", "services"), ("create", "jobs")}
    assert {(w.verb, w.plural) for w in sim.client.writes_by("kube-controller-manager")} == {
        ("update_status", "jobs")}


def test_rayjob_whose_entrypoint_exits_1_ends_failed(sim: Sim) -> None:
    create_job(sim, entrypoint="python -c 'import sys; sys.exit(1)'")
    sim.until(lambda: finished(sim))
    done = status(sim)
    assert (done["jobDeploymentStatus"], done["jobStatus"], done["reason"]) == ("Failed", "FAILED", "AppFailed")
    assert done["message"].startswith("Job entrypoint command failed with exit code 1")
    assert (done["succeeded"], done["failed"]) == (0, 1)


def test_rayjob_shutdown_after_ttl_deletes_only_the_cluster(sim: Sim) -> None:
    create_job(sim, shutdownAfterJobFinishes=True, ttlSecondsAfterFinished=3)
    sim.until(lambda: finished(sim))
    cluster_name = status(sim)["rayClusterName"]
    sim.run(1.5)
    assert sim.client.get("ray.io/v1", "rayclusters", "default", cluster_name) is not None
    sim.run(2.5)
    assert sim.client.get("ray.io/v1", "rayclusters", "default", cluster_name) is None
    assert sim.client.get("v1", "services", "default", f"{cluster_name}-head-svc") is None
    assert sim.client.get("batch/v1", "jobs", "default", NAME) is not None
    assert status(sim)["jobDeploymentStatus"] == "Complete"


def test_rayjob_without_shutdown_keeps_its_cluster(sim: Sim) -> None:
    create_job(sim)
    sim.until(lambda: finished(sim))
    sim.run(3.0)
    assert sim.client.get("ray.io/v1", "rayclusters", "default", status(sim)["rayClusterName"]) is not None


def test_delete_rayjob_cr_after_job_finishes_deletes_the_rayjob_and_its_children() -> None:
    sim = make_sim(operator_env={"DELETE_RAYJOB_CR_AFTER_JOB_FINISHES": "true"})
    create_job(sim, shutdownAfterJobFinishes=True)
    sim.until(lambda: finished(sim))
    sim.run(1.5)
    assert sim.client.get("ray.io/v1", "rayjobs", "default", NAME) is None
    assert sim.client.list("ray.io/v1", "rayclusters") == []
    assert sim.client.get("batch/v1", "jobs", "default", NAME) is None


def test_rayclusterspec_changes_after_creation_are_disregarded(sim: Sim) -> None:
    create_job(sim)
    sim.step()
    sim.step(0.1)
    name = status(sim)["rayClusterName"]
    sim.client.edit("rayjobs", NAME, lambda o: o["spec"]["rayClusterSpec"]["workerGroupSpecs"][0].update(replicas=4))
    sim.until(lambda: finished(sim))
    assert sim.client.ray("rayclusters", name)["spec"]["workerGroupSpecs"][0]["replicas"] == 1
    assert len(sim.client.list("ray.io/v1", "rayclusters")) == 1


@pytest.mark.parametrize(("spec", "message"), [
    ({"suspend": True}, "The RayJob spec is invalid: a RayJob with shutdownAfterJobFinishes set to false is not "
                        "allowed to be suspended"),
    ({"ttlSecondsAfterFinished": 60}, "The RayJob spec is invalid: a RayJob with shutdownAfterJobFinishes set to "
                                      "false cannot have TTLSecondsAfterFinished"),
    ({"rayClusterSpec": None}, "The RayJob spec is invalid: one of RayClusterSpec or ClusterSelector must be set"),
    ({"shutdownAfterJobFinishes": True, "deletionStrategy": {"deletionRules": [
        {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}}]}},
     "The RayJob spec is invalid: spec.shutdownAfterJobFinishes and spec.deletionStrategy.deletionRules are "
     "mutually exclusive"),
    ({"activeDeadlineSeconds": 0}, "The RayJob spec is invalid: activeDeadlineSeconds must be a positive integer"),
])
def test_rayjob_spec_errors_end_in_validation_failed_with_the_operators_message(
        sim: Sim, spec: dict[str, Any], message: str) -> None:
    create_job(sim, **spec)
    if spec.get("rayClusterSpec", 1) is None:
        sim.client.edit("rayjobs", NAME, lambda o: o["spec"].pop("rayClusterSpec"))
    sim.run(0.5)
    got = status(sim)
    assert (got["jobDeploymentStatus"], got["reason"], got["message"]) == ("ValidationFailed", "ValidationFailed",
                                                                          message)
    assert sim.client.list("ray.io/v1", "rayclusters") == []
    assert len(sim.client.writes_by("kuberay-operator", "update_status")) == 1


def test_rayjob_past_its_active_deadline_fails_with_deadline_exceeded(sim: Sim) -> None:
    create_job(sim, activeDeadlineSeconds=1, backoffLimit=2)
    sim.until(lambda: finished(sim))
    done = status(sim)
    assert (done["jobDeploymentStatus"], done["reason"]) == ("Failed", "DeadlineExceeded")
    assert done["message"].startswith("The RayJob has passed the activeDeadlineSeconds. StartTime: 2023-11-14 ")
    assert done["message"].endswith("ActiveDeadlineSeconds: 1")
    assert done["failed"] == 1  # DeadlineExceeded is never retried


def test_rayjob_backoff_limit_retries_with_a_new_cluster_then_fails(sim: Sim) -> None:
    create_job(sim, entrypoint="bash -c 'exit 3'", backoffLimit=1)
    sim.until(lambda: status(sim).get("jobDeploymentStatus") == "Retrying")
    first = status(sim)
    assert first["failed"] == 1
    sim.until(lambda: status(sim).get("jobDeploymentStatus") == "Initializing")
    second = status(sim)
    assert second["rayClusterName"] != first["rayClusterName"] and second["jobId"] != first["jobId"]
    sim.until(lambda: finished(sim))
    done = status(sim)
    assert (done["jobDeploymentStatus"], done["failed"]) == ("Failed", 2)
    assert "exit code 3" in done["message"]
    assert [c["metadata"]["name"] for c in sim.client.list("ray.io/v1", "rayclusters")] == [done["rayClusterName"]]


def test_suspend_releases_the_cluster_and_resume_starts_over(sim: Sim) -> None:
    create_job(sim, shutdownAfterJobFinishes=True)
    sim.until(lambda: status(sim).get("jobDeploymentStatus") == "Running")
    old = status(sim)
    sim.client.edit("rayjobs", NAME, lambda o: o["spec"].update(suspend=True))
    sim.until(lambda: status(sim).get("jobDeploymentStatus") == "Suspended")
    suspended = status(sim)
    assert not {"jobId", "rayClusterName", "dashboardURL", "jobStatus"} & set(suspended)
    assert sim.client.list("ray.io/v1", "rayclusters") == []
    assert sim.client.get("batch/v1", "jobs", "default", NAME) is None
    sim.client.edit("rayjobs", NAME, lambda o: o["spec"].update(suspend=False))
    sim.until(lambda: finished(sim))
    assert status(sim)["rayClusterName"] != old["rayClusterName"]
    assert status(sim)["jobDeploymentStatus"] == "Complete"


def test_deletion_rules_run_the_most_destructive_overdue_rule_in_ttl_order(sim: Sim) -> None:
    create_job(sim, deletionStrategy={"deletionRules": [
        {"policy": "DeleteWorkers", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 0}},
        {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 3}},
        {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED", "ttlSeconds": 0}}]})
    sim.until(lambda: finished(sim))
    cluster_name = status(sim)["rayClusterName"]
    sim.run(0.3)
    cluster = sim.client.ray("rayclusters", cluster_name)
    assert [g.get("suspend") for g in cluster["spec"]["workerGroupSpecs"]] == [True]
    assert sim.client.writes_by("kuberay-operator", "update", "rayclusters")
    assert cluster["status"].get("desiredWorkerReplicas", 0) == 0  # the head stays, the workers go
    sim.run(3.5)
    assert sim.client.get("ray.io/v1", "rayclusters", "default", cluster_name) is None
    assert sim.client.get("ray.io/v1", "rayjobs", "default", NAME) is not None  # DeleteSelf is for FAILED only


def test_deletion_rule_delete_self_removes_the_rayjob_through_its_finalizer(sim: Sim) -> None:
    create_job(sim, entrypoint="exit 1", deletionStrategy={"deletionRules": [
        {"policy": "DeleteSelf", "condition": {"jobStatus": "FAILED", "ttlSeconds": 1}}]})
    sim.until(lambda: finished(sim))
    sim.run(2.5)
    assert sim.client.get("ray.io/v1", "rayjobs", "default", NAME) is None
    assert sim.client.list("ray.io/v1", "rayclusters") == []


def test_deleting_a_running_rayjob_stops_the_ray_job_and_drops_the_finalizer(sim: Sim) -> None:
    create_job(sim)
    sim.until(lambda: status(sim).get("jobStatus") == "RUNNING")
    cluster_name, job_id = status(sim)["rayClusterName"], status(sim)["jobId"]
    ray_job = sim.op.env.world.find("default", cluster_name).jobs[job_id]  # type: ignore[union-attr]
    sim.client.delete("ray.io/v1", "rayjobs", "default", NAME)
    assert sim.client.get("ray.io/v1", "rayjobs", "default", NAME) is not None  # held by the finalizer
    sim.step(0.1)
    assert sim.client.get("ray.io/v1", "rayjobs", "default", NAME) is None
    assert ray_job.status(sim.clock.now) == "STOPPED"
    assert sim.client.list("ray.io/v1", "rayclusters") == []


def test_cluster_selector_job_runs_on_the_existing_cluster_and_never_deletes_it(sim: Sim) -> None:
    sim.client.create("ray.io/v1", "rayclusters", "default", {
        "apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "shared"}, "spec": cluster_spec()},
        field_manager="gitops-ray")
    create_job(sim, clusterSelector={"ray.io/cluster": "shared"}, shutdownAfterJobFinishes=True)
    sim.until(lambda: finished(sim))
    assert status(sim)["rayClusterName"] == "shared"
    assert status(sim)["jobStatus"] == "SUCCEEDED"
    sim.run(1.0)
    assert [c["metadata"]["name"] for c in sim.client.list("ray.io/v1", "rayclusters")] == ["shared"]
    assert sim.client.get("v1", "services", "default", f"{NAME}-head-svc") is None


def test_http_mode_submits_without_a_submitter_job(sim: Sim) -> None:
    create_job(sim, submissionMode="HTTPMode")
    sim.until(lambda: finished(sim))
    assert status(sim)["jobStatus"] == "SUCCEEDED"
    assert sim.client.list("batch/v1", "jobs") == []


def test_interactive_mode_waits_for_a_job_id(sim: Sim) -> None:
    create_job(sim, submissionMode="InteractiveMode")
    sim.until(lambda: status(sim).get("jobDeploymentStatus") == "Waiting")
    sim.run(1.0)
    assert status(sim)["jobDeploymentStatus"] == "Waiting" and "jobId" not in status(sim)
    sim.client.edit("rayjobs", NAME, lambda o: o["spec"].update(jobId="by-hand"))
    sim.until(lambda: finished(sim))
    assert (status(sim)["jobId"], status(sim)["jobStatus"]) == ("by-hand", "SUCCEEDED")


def test_sidecar_mode_injects_the_submitter_into_the_head_and_creates_no_job(sim: Sim) -> None:
    create_job(sim, submissionMode="SidecarMode")
    sim.until(lambda: finished(sim))
    assert status(sim)["jobStatus"] == "SUCCEEDED"
    assert sim.client.list("batch/v1", "jobs") == []
    cluster = sim.client.ray("rayclusters", status(sim)["rayClusterName"])
    head = cluster["spec"]["headGroupSpec"]["template"]["spec"]
    assert [c["name"] for c in head["containers"]] == ["ray-head", "ray-job-submitter"]
    assert head["restartPolicy"] == "Never"
    assert cluster["metadata"]["annotations"] == {"ray.io/disable-provisioned-head-restart": "true"}


def test_legacy_deletion_policy_uses_the_global_ttl(sim: Sim) -> None:
    create_job(sim, ttlSecondsAfterFinished=0, deletionStrategy={
        "onSuccess": {"policy": "DeleteCluster"}, "onFailure": {"policy": "DeleteNone"}})
    sim.until(lambda: finished(sim))
    sim.run(0.3)
    assert sim.client.list("ray.io/v1", "rayclusters") == []
    assert status(sim)["jobDeploymentStatus"] == "Complete"


def test_deletion_strategy_is_rejected_when_its_feature_gate_is_off() -> None:
    sim = make_sim(feature_gates={"RayJobDeletionPolicy": False})
    create_job(sim, deletionStrategy={"deletionRules": [
        {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}}]})
    sim.run(0.3)
    assert status(sim)["message"] == "RayJobDeletionPolicy feature gate must be enabled to use DeletionStrategy"


def test_rayjob_name_too_long_for_its_cluster_suffix_fails_validation(sim: Sim) -> None:
    name = "j" * 48
    create_job(sim, name=name)
    sim.run(0.2)
    assert status(sim, name)["message"] == (
        "The RayJob metadata is invalid: RayJob name should be no more than 47 characters")


def test_retry_repoints_the_rayjob_head_service_to_the_new_cluster(sim: Sim) -> None:
    create_job(sim, entrypoint="exit 1", backoffLimit=1)
    sim.until(lambda: status(sim).get("jobDeploymentStatus") == "Retrying")
    sim.until(lambda: finished(sim))
    svc = sim.client.get("v1", "services", "default", f"{NAME}-head-svc")
    assert svc is not None and svc["spec"]["selector"]["ray.io/cluster"] == status(sim)["rayClusterName"]
    assert sim.client.writes_by("kuberay-operator", "update", "services")


def test_deletion_rules_with_ttls_out_of_order_fail_validation_with_every_problem(sim: Sim) -> None:
    create_job(sim, deletionStrategy={"deletionRules": [
        {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 10}},
        {"policy": "DeleteWorkers", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 20}},
        {"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED", "ttlSeconds": 30}}]})
    sim.run(0.2)
    assert status(sim)["message"] == (
        "deletionRules[2]: duplicate rule for DeletionPolicyType 'DeleteCluster' and JobStatus 'SUCCEEDED'\n"
        "for JobStatus 'SUCCEEDED': DeleteCluster TTL (10) must be >= DeleteWorkers TTL (20)")


def test_rayjob_with_both_cluster_spec_and_selector_is_not_rejected_and_uses_the_selector(sim: Sim) -> None:
    # v1.7.0 `ValidateRayJobSpec` only rejects a RayJob with neither; with both, clusterSelector wins.
    sim.client.create("ray.io/v1", "rayclusters", "default", {
        "apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "shared"}, "spec": cluster_spec()},
        field_manager="gitops-ray")
    create_job(sim, clusterSelector={"ray.io/cluster": "shared"}, rayClusterSpec=cluster_spec())
    sim.until(lambda: finished(sim))
    assert (status(sim)["jobDeploymentStatus"], status(sim)["rayClusterName"]) == ("Complete", "shared")
    assert len(sim.client.list("ray.io/v1", "rayclusters")) == 1
