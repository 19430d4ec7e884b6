"""Plan and apply end to end: a temporary Git repository, the embedded sandbox, the
official client underneath, kubectl on the side (issue 4 checks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from needs import kubectl_binary

from gitops_ray.changes import Action, Outcome
from gitops_ray.engine.run import make_plan, reconcile, run_apply
from gitops_ray.sandbox import Sandbox
from gitops_ray.sandbox._raycommon import OperatorTimings


def kubectl_runner(box: Sandbox, cache_dir: Path) -> Callable[..., Any]:
    binary = kubectl_binary()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([binary, "--kubeconfig", str(box.kubeconfig), "--cache-dir", str(cache_dir), *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    return run

ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: test}
spec:
  cluster: {sandbox: {}}
  kuberayVersion: "1.5.1"
  namespaces: [ray-test]
  sync: {prune: true, force: %(force)s, selfHeal: %(heal)s}
"""
NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-test}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ray-test}\ndata: {mode: fast}\n"
CLUSTER = """apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: analytics, namespace: ray-test}
spec:
  rayVersion: "2.46.0"
  enableInTreeAutoscaling: %(autoscale)s
  headGroupSpec:
    rayStartParams: {}
    template: {spec: {containers: [{name: ray-head, image: "rayproject/ray:2.46.0"}]}}
  workerGroupSpecs:
    - groupName: cpu
      replicas: 1
      minReplicas: 1
      maxReplicas: %(max)d
      rayStartParams: {}
      template: {spec: {containers: [{name: ray-worker, image: "rayproject/ray:2.46.0"}]}}
"""
JOB = """apiVersion: ray.io/v1
kind: RayJob
metadata: {name: nightly, namespace: ray-test}
spec:
  entrypoint: %(entrypoint)s
%(extra)s  rayClusterSpec:
    rayVersion: "2.46.0"
    headGroupSpec:
      rayStartParams: {}
      template: {spec: {containers: [{name: ray-head, image: "rayproject/ray:2.46.0"}]}}
"""
SHUTDOWN = "  shutdownAfterJobFinishes: true\n  ttlSecondsAfterFinished: 0\n"


def files(*, force: bool = False, heal: bool = False, cluster: bool = True, autoscale: bool = False,
          max_replicas: int = 3,
          job: str | None = "python run.py", job_extra: str = SHUTDOWN,
          configmap: bool = True) -> dict[str, str | None]:
    out: dict[str, str | None] = {
        "environments/test/environment.yaml": ENV % {"force": str(force).lower(), "heal": str(heal).lower()},
        "environments/test/namespace.yaml": NS,
        "environments/test/configmap.yaml": CM if configmap else None,
        "environments/test/raycluster.yaml": CLUSTER % {"autoscale": str(autoscale).lower(), "max": max_replicas}
        if cluster else None,
        "environments/test/rayjob.yaml": JOB % {"entrypoint": job, "extra": job_extra} if job else None,
    }
    return out


class World:
    """One repository, one sandbox, one record: `commit(...)`, `plan()`, `apply()`."""

    def __init__(self, repo: Any, box: Sandbox, tmp: Path) -> None:
        self.repo, self.box, self.tmp = repo, box, tmp
        self.record = str(tmp / "records")

    def commit(self, **kwargs: Any) -> str:
        content = files(**kwargs)
        existing = {k: v for k, v in content.items() if v is not None or (self.repo.path / k).exists()}
        return str(self.repo.commit(existing))

    def plan(self, **kwargs: Any) -> Any:
        return make_plan(env="test", repo=str(self.repo.path), kubeconfig=str(self.box.kubeconfig),
                         record_dir=self.record, **kwargs).plan

    def apply(self, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout_s", 30)
        return run_apply(env="test", repo=str(self.repo.path), kubeconfig=str(self.box.kubeconfig),
                         record_dir=self.record, **kwargs)

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        plural = {"RayCluster": "rayclusters", "RayJob": "rayjobs", "ConfigMap": "configmaps"}[kind]
        version = "v1" if kind == "ConfigMap" else "ray.io/v1"
        return self.box.client.get(version, plural, "ray-test", name)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not reached in time")
            time.sleep(0.1)


def by_name(plan: Any) -> dict[str, Any]:
    return {c.ref.name: c for c in plan.changes}


@pytest.fixture
def world(git_repo: Callable[..., Any], make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> World:
    box = make_sandbox(operator=True, operator_timings=OperatorTimings(autoscaler_scale_up_after=None))
    return World(git_repo(), box, tmp_path)


def test_create_from_empty_then_in_sync(world: World) -> None:
    world.commit(job=None)
    plan = world.plan()
    assert {c.action for c in plan.changes} == {Action.CREATE}
    result = world.apply()
    assert result.ok, [r.message for r in result.results]
    cluster = world.get("RayCluster", "analytics")
    assert cluster is not None
    labels = cluster["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "gitops-ray" and labels["gitops-ray.io/environment"] == "test"
    annotations = cluster["metadata"]["annotations"]
    assert annotations["gitops-ray.io/source"] == "environments/test/raycluster.yaml:1"
    assert annotations["gitops-ray.io/commit"] == world.repo.git("rev-parse", "HEAD")
    rv = cluster["metadata"]["resourceVersion"]
    again = world.plan()
    assert again.in_sync
    assert world.apply().ok
    assert world.get("RayCluster", "analytics")["metadata"]["resourceVersion"] == rv  # no churn when in sync


def test_raycluster_change_is_an_update_with_a_warning(world: World) -> None:
    world.commit(job=None)
    assert world.apply().ok
    world.commit(job=None, max_replicas=5)
    change = by_name(world.plan())["analytics"]
    assert change.action is Action.UPDATE
    assert [d.path for d in change.diff] == ["/spec/workerGroupSpecs/0/maxReplicas"]
    assert world.apply().ok
    assert world.get("RayCluster", "analytics")["spec"]["workerGroupSpecs"][0]["maxReplicas"] == 5


def test_rayjob_entrypoint_change_is_blocked_while_running_and_replaced_when_allowed(
        git_repo: Callable[..., Any], make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    box = make_sandbox(operator=True, operator_timings=OperatorTimings(job_runtime=600))
    world = World(git_repo(), box, tmp_path)
    world.commit(cluster=False)
    assert world.apply().ok
    world.wait_for(lambda: (world.get("RayJob", "nightly") or {}).get("status", {}).get("jobDeploymentStatus")
                   == "Running")
    old_uid = world.get("RayJob", "nightly")["metadata"]["uid"]
    world.commit(cluster=False, job="python run.py --day 2")
    blocked = world.apply()
    [change] = [r for r in blocked.results if r.change.ref.name == "nightly"]
    assert change.change.action is Action.BLOCKED and change.outcome is Outcome.REFUSED
    assert "Running" in change.message and not blocked.ok
    assert world.get("RayJob", "nightly")["metadata"]["uid"] == old_uid

    allowed = world.apply(allow_replace_running=True)
    assert allowed.ok, [r.message for r in allowed.results]
    replaced = world.get("RayJob", "nightly")
    assert replaced["metadata"]["uid"] != old_uid
    assert replaced["spec"]["entrypoint"] == "python run.py --day 2"


def test_finished_rayjob_replace_and_self_deleted_job_is_not_rerun(world: World) -> None:
    delete_self = ("  deletionStrategy:\n    deletionRules:\n"
                   "      - {policy: DeleteSelf, condition: {jobStatus: SUCCEEDED, ttlSeconds: 0}}\n")
    world.commit(cluster=False, job_extra=delete_self)
    world.apply()
    # The job runs to completion and the operator deletes the RayJob itself.
    world.wait_for(lambda: world.get("RayJob", "nightly") is None, timeout=30)
    change = by_name(world.plan())["nightly"]
    assert change.action is Action.NOOP and change.reason.startswith("completed")
    assert world.apply().ok
    assert world.get("RayJob", "nightly") is None  # not re-run
    # A changed spec is a new run.
    world.commit(cluster=False, job="python run.py --v2", job_extra=delete_self)
    assert by_name(world.plan())["nightly"].action is Action.CREATE


def test_removed_manifest_is_pruned(world: World) -> None:
    world.commit(job=None)
    assert world.apply().ok
    world.commit(job=None, configmap=False)
    change = by_name(world.plan())["settings"]
    assert change.action is Action.DELETE
    assert world.apply().ok
    assert world.get("ConfigMap", "settings") is None


def test_autoscaler_replicas_are_not_drift_and_apply_keeps_them(world: World) -> None:
    world.commit(job=None, autoscale=True)
    assert world.apply().ok
    assert world.box.operator is not None
    world.box.operator.autoscale("ray-test", "analytics", "cpu", 3)
    assert world.plan().in_sync
    world.commit(job=None, autoscale=True, max_replicas=6)
    change = by_name(world.plan())["analytics"]
    assert [d.path for d in change.diff] == ["/spec/workerGroupSpecs/0/maxReplicas"]
    result = world.apply()
    assert result.ok, [r.message for r in result.results]
    groups = world.get("RayCluster", "analytics")["spec"]["workerGroupSpecs"]
    assert (groups[0]["replicas"], groups[0]["maxReplicas"]) == (3, 6)


def test_kubectl_edit_of_an_owned_field_conflicts_naming_the_manager(world: World, tmp_path: Path) -> None:
    world.commit(job=None, cluster=False)
    assert world.apply().ok
    kubectl = kubectl_runner(world.box, tmp_path / "kubectl-cache")
    kubectl("patch", "configmap", "settings", "-n", "ray-test", "--type", "merge", "-p", '{"data":{"mode":"slow"}}')
    world.commit(job=None, cluster=False)  # unchanged Git
    drift = by_name(world.plan())["settings"]
    assert drift.action is Action.UPDATE and [d.path for d in drift.diff] == ["/data/mode"]
    result = world.apply()
    [failed] = [r for r in result.results if r.change.ref.name == "settings"]
    assert failed.outcome is Outcome.FAILED and not result.ok
    assert "kubectl-patch" in failed.message and ".data.mode" in failed.message
    assert world.get("ConfigMap", "settings")["data"]["mode"] == "slow"

    world.commit(job=None, cluster=False, force=True)
    forced = world.apply()
    assert forced.ok
    assert world.get("ConfigMap", "settings")["data"]["mode"] == "fast"


def test_api_faults_mid_apply_are_retried(world: World) -> None:
    world.commit(job=None)
    world.box.faults.add(path=r"/apis/ray\.io/v1/namespaces/ray-test/rayclusters/analytics", verbs=("PATCH",),
                         status=503, times=2)
    result = world.apply()
    assert result.ok, [r.message for r in result.results]
    assert world.get("RayCluster", "analytics") is not None


def test_persistent_api_failure_is_reported_and_later_waves_are_skipped(world: World) -> None:
    world.commit(job="python run.py")
    world.box.faults.add(path=r"/rayclusters/analytics", verbs=("PATCH",), status=500)
    result = world.apply()
    outcomes = {r.change.ref.name: r.outcome for r in result.results}
    assert not result.ok
    assert outcomes["analytics"] is Outcome.FAILED
    assert outcomes["ray-test"] is Outcome.APPLIED and outcomes["settings"] is Outcome.APPLIED
    assert outcomes["nightly"] is Outcome.SKIPPED  # later kind step: not attempted
    [failed] = [r for r in result.results if r.change.ref.name == "analytics"]
    assert failed.http_status == 500
    assert world.get("RayJob", "nightly") is None


def test_reconcile_reports_drift_and_heals_only_when_the_environment_says_so(world: World) -> None:
    world.commit(job=None, cluster=False)
    assert world.apply().ok
    world.box.client.merge_patch("v1", "configmaps", "ray-test", "settings", {"data": {"mode": "slow"}},
                                 field_manager="someone")
    common = {"env": "test", "repo": str(world.repo.path), "kubeconfig": str(world.box.kubeconfig),
              "record_dir": world.record}
    reported = reconcile(**common)
    assert reported.drift and reported.applied is None
    assert world.get("ConfigMap", "settings")["data"]["mode"] == "slow"
    drift = [e for e in Path(world.record).glob("*.jsonl") for line in e.read_text().splitlines()
             if '"drift"' in line]
    assert drift, "the drift is in the record"

    world.commit(job=None, cluster=False, heal=True)  # healing takes the field back without sync.force
    healed = reconcile(**common)
    assert healed.applied is not None and healed.ok
    assert world.get("ConfigMap", "settings")["data"]["mode"] == "fast"
    assert not reconcile(**common).drift


def test_dry_run_changes_nothing_and_reports_what_would_happen(world: World) -> None:
    world.commit(job=None)
    result = world.apply(dry_run=True)
    assert result.ok and result.dry_run, [(r.change.ref.name, r.outcome, r.message) for r in result.results]
    messages = {r.change.ref.name: r.message for r in result.results}
    assert messages["ray-test"] == "created (server dry-run)"
    assert "namespace ray-test is created by this plan" in messages["settings"]
    assert world.get("RayCluster", "analytics") is None
    assert not world.plan().in_sync


def test_environment_ignore_rules_apply_to_diff_and_apply(world: World) -> None:
    world.commit(job=None)
    env_file = world.repo.path / "environments/test/environment.yaml"
    env_file.write_text(env_file.read_text() + "  ignore:\n    - {kind: ConfigMap, name: settings, "
                        "paths: [/data/mode]}\n")
    world.repo.commit({}, "ignore data.mode")
    assert world.apply().ok
    world.box.client.merge_patch("v1", "configmaps", "ray-test", "settings", {"data": {"mode": "slow"}},
                                 field_manager="tuner")
    assert world.plan().in_sync  # someone else's field now: not drift
    world.commit(job=None, max_replicas=7)
    env_file.write_text(env_file.read_text() + "  ignore:\n    - {kind: ConfigMap, name: settings, "
                        "paths: [/data/mode]}\n")
    world.repo.commit({}, "keep the rule")
    assert world.apply().ok
    assert world.get("ConfigMap", "settings")["data"]["mode"] == "slow"  # carried, not reset


def kubeconfig_to(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig-elsewhere"
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    return path


def test_cli_exit_codes_and_output_formats(world: World, tmp_path: Path) -> None:
    world.commit(job=None)
    common = ["--env", "test", "--repo", str(world.repo.path), "--kubeconfig", str(world.box.kubeconfig),
              "--record-dir", world.record]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gitops_ray", *args], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "NO_COLOR": "1"})

    pending = cli("plan", *common, "-o", "json")
    assert pending.returncode == 2, pending.stderr
    data = json.loads(pending.stdout)
    assert data["summary"]["create"] == 3 and data["inSync"] is False
    assert {c["action"] for c in data["changes"]} == {"create"}
    markdown = cli("plan", *common, "-o", "markdown")
    assert markdown.returncode == 2
    assert "| create | update | replace | delete | blocked | unchanged |" in markdown.stdout
    applied = cli("apply", *common, "-o", "json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["ok"] is True
    done = cli("plan", *common)
    assert done.returncode == 0 and "In sync: 3 unchanged" in done.stdout
    broken = cli("plan", "--env", "test", "--repo", str(world.repo.path), "--ref", "no-such-ref",
                 "--kubeconfig", str(world.box.kubeconfig))
    assert broken.returncode == 64 and "unknown ref 'no-such-ref'" in broken.stderr  # usage, not "changes"
    assert "Traceback" not in broken.stderr
    unreachable = cli("plan", "--env", "test", "--repo", str(world.repo.path), "--kubeconfig", str(kubeconfig_to(
        tmp_path, "https://127.0.0.1:9")))
    assert unreachable.returncode == 4, unreachable.stderr  # a system error: no answer, not "changes pending"
    assert unreachable.stderr.startswith("error: ") and "Traceback" not in unreachable.stderr
    markdown = cli("apply", *common, "-o", "markdown")
    assert markdown.returncode == 0 and "### gitops-ray apply: `test`" in markdown.stdout
