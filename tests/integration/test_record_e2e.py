"""The record end to end (issue 5 checks that need a cluster): the real engine
(`run_apply` / `make_plan`) and the real CLI (`python -m gitops_ray ...`) against the
embedded sandbox with the simulated KubeRay operator, kubectl on the side.

Each test builds its own Git repository, sandbox and record directory; the
operator's timings are shrunk so a RayJob runs to the end in about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_ray import __version__
from gitops_ray.changes import Action
from gitops_ray.engine import make_plan, run_apply
from gitops_ray.sandbox import Sandbox
from gitops_ray.sandbox._raycommon import OperatorTimings

NS = "ray-rec"
FAST = OperatorTimings(tick=0.05, head_ready=0.1, workers_ready=0.1, job_pending=0.1, job_runtime=0.3,
                       autoscaler_scale_up_after=None)

ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: rec}
spec:
  cluster: {sandbox: {}}
  kuberayVersion: "1.5.1"
  namespaces: [ray-rec]
  sync: {prune: true, concurrency: %(concurrency)d}
"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-rec}\n"


def configmap(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: ray-rec}}\ndata: {{mode: {value}}}\n"


def rayjob(name: str = "train", *, entrypoint: str = "python train.py", cleanup: str = "", env: str = "",
           runtime_env: str = "") -> str:
    """A RayJob with a GPU head (so the record has accelerators to show) and optional extras."""
    return f"""apiVersion: ray.io/v1
kind: RayJob
metadata: {{name: {name}, namespace: ray-rec}}
spec:
  entrypoint: {entrypoint}
{cleanup}{runtime_env}  rayClusterSpec:
    rayVersion: "2.46.0"
    headGroupSpec:
      rayStartParams: {{}}
      template:
        spec:
          containers:
            - name: ray-head
              image: rayproject/ray:2.46.0-gpu
              resources: {{limits: {{nvidia.com/gpu: 1}}}}
{env}"""


def ttl_cleanup(seconds: int) -> str:
    return f"  shutdownAfterJobFinishes: true\n  ttlSecondsAfterFinished: {seconds}\n"


class World:
    """One repository, one sandbox, one record directory; the engine in-process, the CLI as a process."""

    def __init__(self, repo: Any, box: Sandbox, tmp: Path, *, concurrency: int = 4) -> None:
        self.repo, self.box, self.tmp = repo, box, tmp
        self.record_dir = tmp / "records"
        self.concurrency = concurrency

    @property
    def log(self) -> Path:
        return self.record_dir / "rec.jsonl"

    def commit(self, files: dict[str, str | None], message: str = "change") -> str:
        content: dict[str, str | None] = {
            "environments/rec/environment.yaml": ENV % {"concurrency": self.concurrency},
            "environments/rec/namespace.yaml": NAMESPACE}
        for name, text in files.items():
            path = f"environments/rec/{name}"
            if text is not None or (self.repo.path / path).exists():
                content[path] = text
        return str(self.repo.commit(content, message))

    def apply(self, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout_s", 30)
        return run_apply(env="rec", repo=str(self.repo.path), kubeconfig=str(self.box.kubeconfig),
                         record_dir=str(self.record_dir), **kwargs)

    def plan(self, **kwargs: Any) -> Any:
        return make_plan(env="rec", repo=str(self.repo.path), kubeconfig=str(self.box.kubeconfig),
                         record_dir=str(self.record_dir), **kwargs).plan

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`python -m gitops_ray ...` from the repository's directory (where git notes are found)."""
        return subprocess.run([sys.executable, "-m", "gitops_ray", *args], cwd=self.repo.path, capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"})

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        binary = shutil.which("kubectl")
        if binary is None:
            pytest.fail("kubectl is not on PATH (CI installs it; `make system-deps`)")
        done = subprocess.run([binary, "--kubeconfig", str(self.box.kubeconfig), "--cache-dir",
                               str(self.tmp / "kubectl-cache"), *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done

    def history(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("history", "--env", "rec", "--record-dir", str(self.record_dir), *args)

    def verify(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.cli("audit", "verify", "--env", "rec", "--record-dir", str(self.record_dir),
                        "--kubeconfig", str(self.box.kubeconfig), *args)

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log.read_bytes().split(b"\n"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a torn line
        return out

    def predicates(self, kind: str) -> list[dict[str, Any]]:
        return [e["predicate"] for e in self.entries() if e["predicate"]["entry"]["kind"] == kind]

    def observations(self, kind: str) -> list[dict[str, Any]]:
        return [p["observation"] for p in self.predicates("observation") if p["observation"].get("type") == kind]

    def requests(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.box.request_log.read_text().splitlines() if line.strip()]

    def get(self, plural: str, name: str) -> dict[str, Any] | None:
        version = "ray.io/v1" if plural.startswith("ray") else "v1"
        assert self.box.client is not None
        return self.box.client.get(version, plural, NS, name)

    def list(self, plural: str) -> list[dict[str, Any]]:
        version = "ray.io/v1" if plural.startswith("ray") else "v1"
        assert self.box.client is not None
        return self.box.client.list(version, plural, NS)


def wait_for(predicate: Callable[[], object], timeout: float = 15, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout}s")
        time.sleep(0.05)


@pytest.fixture
def make_world(git_repo: Callable[..., Any], make_sandbox: Callable[..., Sandbox],
               tmp_path: Path) -> Iterator[Callable[..., World]]:
    def make(**kwargs: Any) -> World:
        box = make_sandbox(operator=True, operator_timings=FAST)
        return World(git_repo(), box, tmp_path, **kwargs)

    yield make


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world()


# --------------------------------------------------------------------------- Audit-ID


def test_every_write_of_an_apply_carries_an_audit_id_found_in_the_record_and_the_request_log(world: World) -> None:
    first = world.commit({"settings.yaml": configmap("settings", "fast"), "extra.yaml": configmap("extra", "x"),
                          "job.yaml": rayjob(cleanup=ttl_cleanup(60))})
    assert world.apply().ok
    second = world.commit({"settings.yaml": configmap("settings", "slow"), "extra.yaml": None,
                           "job.yaml": rayjob(cleanup=ttl_cleanup(60))})
    result = world.apply()
    assert result.ok, [r.message for r in result.results]
    assert {(r.change.ref.name, r.change.action) for r in result.results if r.change.action.writes} == {
        ("settings", Action.UPDATE), ("extra", Action.DELETE)}

    recorded: dict[str, str] = {}  # Audit-ID -> resource, from outcome entries
    for pred in world.predicates("outcome"):
        for audit_id in pred["result"].get("auditIDs") or ():
            recorded[audit_id] = pred["action"]["ref"]
    intents = {e["predicate"]["entry"]["id"]: e["predicate"] for e in world.entries()
               if e["predicate"]["entry"]["kind"] == "intent"}
    checkpoints = {e["predicate"]["entry"]["id"] for e in world.entries()
                   if e["predicate"]["entry"]["kind"] == "checkpoint"}
    writes = [r for r in world.requests() if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
    ours = [r for r in writes if r["userAgent"].startswith("gitops-ray/")]
    assert len(ours) == len(writes), [r for r in writes if r not in ours]  # the operator writes in-process
    object_writes = [r for r in ours if "gitops-ray-record-rec" not in r["path"]]
    anchor_writes = [r for r in ours if "gitops-ray-record-rec" in r["path"]]
    # 3 creates + namespace + RayJob in run 1; an update and a delete in run 2.
    assert len(object_writes) == 6 and len(anchor_writes) == 2
    assert {r["auditID"] for r in object_writes} == set(recorded)
    for request in object_writes:
        prefix = request["auditID"].rsplit("-", 1)[0]
        assert prefix in intents, request  # <intent entry id>-<n>
        assert request["path"].endswith("/" + recorded[request["auditID"]].rsplit("/", 1)[-1])
    for request in anchor_writes:  # the anchor's write names the checkpoint it publishes
        assert request["auditID"].rsplit("-", 1)[0] in checkpoints
    commits = {first: 0, second: 0}
    for request in ours:
        agent = request["userAgent"]
        assert agent.startswith(f"gitops-ray/{__version__} ")
        commit = next(c for c in commits if f"commit {c[:12]}" in agent)
        commits[commit] += 1
    assert commits[first] >= 4 and commits[second] >= 2


# --------------------------------------------------------------------------- Ray cleanup keeps its evidence


@pytest.mark.parametrize("ttl", [0, 3], ids=["cluster-gone-before-any-listing", "cluster-listed-then-gone"])
def test_rayjob_cleaned_up_by_its_ttl_keeps_final_status_and_the_clusters_disappearance(world: World,
                                                                                         ttl: int) -> None:
    set_ttl = world.commit({"settings.yaml": configmap("settings", "fast"),
                            "job.yaml": rayjob(cleanup=ttl_cleanup(ttl))}, message="train: shut the cluster down")
    result = world.apply(wait="jobs")
    assert result.ok, [r.message for r in result.results]
    job = world.get("rayjobs", "train")
    assert job is not None and job["status"]["jobDeploymentStatus"] == "Complete"
    cluster_name = job["status"]["rayClusterName"]
    wait_for(lambda: not world.list("rayclusters"), what="the operator deleting the RayCluster")
    # A later, unrelated commit: the disappearance must still name the commit that set the TTL.
    later = world.commit({"settings.yaml": configmap("settings", "slow"), "job.yaml": rayjob(cleanup=ttl_cleanup(ttl))})
    assert later != set_ttl
    assert world.apply().ok

    shown = world.history("--resource", "RayJob/ray-rec/train", "-o", "json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)["rows"]
    [final] = [r for r in rows if r["kind"] == "final-status"]
    status = final["detail"]["status"]
    assert (status["jobDeploymentStatus"], status["jobStatus"]) == ("Complete", "SUCCEEDED")
    assert status["jobId"] == job["status"]["jobId"] and status["endTime"] == job["status"]["endTime"]
    assert final["commit"] == set_ttl and final["author"] == "ada@example.com"
    facts = final["detail"]["facts"]
    assert facts["images"] == ["rayproject/ray:2.46.0-gpu"]
    assert facts["accelerators"]["gpu"] == {"nvidia.com/gpu": 1}
    [gone] = [r for r in rows if r["kind"] == "disappearance"]
    assert gone["resource"] == f"RayCluster/ray-rec/{cluster_name}" and gone["outcome"] == "ray-cleanup-rule"
    assert gone["commit"] == set_ttl
    assert gone["detail"]["authorizedBy"]["rule"] == f"shutdownAfterJobFinishes=true, ttlSecondsAfterFinished={ttl}"
    if ttl:  # seconds to spare: apply's post-apply inventory listed the cluster (by uid) before it went
        assert gone["detail"]["uid"] and not gone["detail"]["authorizedBy"].get("neverListed")
    [created] = [r for r in rows if r["kind"] == "outcome"]
    assert (created["action"], created["commit"], created["author"]) == ("create", set_ttl, "ada@example.com")

    text = world.history("--resource", "RayJob/ray-rec/train")
    assert text.returncode == 0, text.stderr
    for shown_value in ("Complete/SUCCEEDED", job["status"]["jobId"], "rayproject/ray:2.46.0-gpu", "nvidia.com/gpu",
                        "ray-cleanup-rule", cluster_name, set_ttl[:12], "ada@example.com"):
        assert shown_value in text.stdout, (shown_value, text.stdout)
    checked = world.history("--check")
    assert checked.returncode == 0, checked.stdout  # nothing unexplained: Ray's own rule removed the cluster
    review = world.history("--commit", set_ttl, "-o", "markdown")
    assert "| RayCluster/ray-rec/" + cluster_name + " | ray-cleanup-rule |" in review.stdout
    assert job["status"]["jobId"] in review.stdout
