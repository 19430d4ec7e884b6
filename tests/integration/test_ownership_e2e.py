"""Ownership against the sandbox (issue 9, deliverable 6, the offline half): two environments
claiming one object, a cluster-scoped object an environment does not allow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gitops_ray.changes import Action
from gitops_ray.cluster import ENVIRONMENT_LABEL
from gitops_ray.engine.pipeline import InvalidManifests
from gitops_ray.engine.run import make_plan, run_apply
from gitops_ray.sandbox import Sandbox


def environment(name: str, extra: str = "") -> str:
    return f"""apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {{name: {name}}}
spec:
  cluster: {{sandbox: {{}}}}
  kuberayVersion: "1.5.1"
  namespaces: [shared]
{extra}"""


NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shared}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shared}\ndata: {owner: %s}\n"
PRIORITY = "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: ray-high}\nvalue: 1000\n"


@pytest.fixture
def world(git_repo: Callable[..., Any], make_sandbox: Callable[..., Sandbox], tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    repo = git_repo({"environments/alpha/environment.yaml": environment("alpha"),
                     "environments/alpha/ns.yaml": NS, "environments/alpha/cm.yaml": CM % "alpha",
                     "environments/beta/environment.yaml": environment("beta"),
                     "environments/beta/cm.yaml": CM % "beta"})
    return {"repo": repo, "box": make_sandbox(), "records": tmp_path / "records"}


def engine_args(world: dict[str, Any], env: str) -> dict[str, Any]:
    return {"env": env, "repo": str(world["repo"].path), "kubeconfig": str(world["box"].kubeconfig),
            "record_dir": str(world["records"])}


def test_two_environments_claiming_one_object_is_a_conflict_not_an_adoption(world):
    assert run_apply(**engine_args(world, "alpha"), wait="none").ok
    plan = make_plan(**engine_args(world, "beta")).plan
    [change] = [c for c in plan.changes if c.ref.kind == "ConfigMap"]
    assert change.action is Action.BLOCKED
    assert "owned by environment 'alpha'" in change.reason and "environment 'beta' declares it too" in change.reason
    result = run_apply(**engine_args(world, "beta"), wait="none")
    assert not result.ok
    box = world["box"]
    live = box.client.get("v1", "configmaps", "shared", "settings") if box.client else None
    assert live is not None and live["data"] == {"owner": "alpha"}
    assert live["metadata"]["labels"][ENVIRONMENT_LABEL] == "alpha"  # never taken over
    # and alpha still sees it as its own, in sync
    assert make_plan(**engine_args(world, "alpha")).plan.in_sync


def test_a_cluster_scoped_object_the_environment_does_not_allow_is_refused_before_the_cluster(world):
    repo = world["repo"]
    repo.commit({"environments/alpha/priority.yaml": PRIORITY})
    with pytest.raises(InvalidManifests, match="is cluster-scoped") as err:
        run_apply(**engine_args(world, "alpha"), wait="none")
    assert "PriorityClass (group scheduling.k8s.io) 'ray-high' is cluster-scoped" in str(err.value)
    box = world["box"]
    assert box.client is not None and box.client.get("scheduling.k8s.io/v1", "priorityclasses", None,
                                                     "ray-high") is None
    repo.commit({"environments/alpha/environment.yaml": environment(
        "alpha", "  clusterScoped: [{kind: PriorityClass, names: [ray-high]}]\n")})
    assert run_apply(**engine_args(world, "alpha"), wait="none").ok
    assert box.client.get("scheduling.k8s.io/v1", "priorityclasses", None, "ray-high") is not None
