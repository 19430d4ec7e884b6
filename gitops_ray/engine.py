"""The verbs end to end: plan and apply an environment, with the record around them.

This is the only place that wires the stages to each other and to I/O (Git,
the cluster, the record); `cli` calls it, tests call it, the demo calls it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops_ray import pipeline
from gitops_ray.apply import ApplyOptions, execute, new_run_id
from gitops_ray.changes import ApplyResult, Plan
from gitops_ray.cluster import Cluster, connect, make_user_agent
from gitops_ray.findings import Finding
from gitops_ray.live import read_live
from gitops_ray.plan import JobHistory, PlanOptions, build_plan

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class PlanResult:
    plan: Plan
    warnings: list[Finding]
    desired: pipeline.Desired


def _plan_with(
    cluster: Cluster,
    desired: pipeline.Desired,
    *,
    allow_replace_running: bool,
    history: JobHistory | None,
    progress: Progress,
) -> Plan:
    env = desired.environment
    progress(f"reading live state from {cluster.server}")
    live = read_live(cluster, env, pipeline.desired_refs(desired.manifests), concurrency=env.sync.concurrency)
    commit = desired.snapshot.commit.sha if desired.snapshot.commit else ""
    options = PlanOptions(environment=env, commit=commit, snapshot=desired.snapshot.description,
                          kuberay_version=desired.kuberay_version, target=env.cluster.describe(),
                          allow_replace_running=allow_replace_running)
    progress("planning")
    return build_plan(desired.manifests, live, options, history=history)


def make_plan(
    *,
    env: str,
    repo: str | None = None,
    ref: str | None = None,
    worktree: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
    kuberay_version: str | None = None,
    allow_replace_running: bool = False,
    history: JobHistory | None = None,
    progress: Progress | None = None,
) -> PlanResult:
    say = progress or (lambda _m: None)
    snapshot, environment = pipeline.open_environment(env=env, repo=repo, ref=ref, worktree=worktree)
    say(f"validating {environment.name} from {snapshot.description}")
    desired = pipeline.load_desired(snapshot, environment, kuberay_version=kuberay_version)
    commit = snapshot.commit.sha if snapshot.commit else ""
    with connect(environment.cluster, kubeconfig=kubeconfig, context=context,
                 kuberay_version=desired.kuberay_version, user_agent=make_user_agent(commit)) as cluster:
        plan = _plan_with(cluster, desired, allow_replace_running=allow_replace_running, history=history,
                          progress=say)
    return PlanResult(plan=plan, warnings=desired.warnings, desired=desired)


def run_apply(
    *,
    env: str,
    repo: str | None = None,
    ref: str | None = None,
    worktree: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
    kuberay_version: str | None = None,
    dry_run: bool = False,
    allow_replace_running: bool = False,
    wait: str = "health",
    timeout_s: float | None = None,
    record_dir: str | None = None,
    progress: Progress | None = None,
    history: JobHistory | None = None,
    recorder: Any = None,
) -> ApplyResult:
    say = progress or (lambda _m: None)
    snapshot, environment = pipeline.open_environment(env=env, repo=repo, ref=ref, worktree=worktree)
    say(f"validating {environment.name} from {snapshot.description}")
    desired = pipeline.load_desired(snapshot, environment, kuberay_version=kuberay_version)
    commit = snapshot.commit.sha if snapshot.commit else ""
    run_id = new_run_id()
    with connect(environment.cluster, kubeconfig=kubeconfig, context=context,
                 kuberay_version=desired.kuberay_version, user_agent=make_user_agent(commit)) as cluster:
        plan = _plan_with(cluster, desired, allow_replace_running=allow_replace_running, history=history,
                          progress=say)
        options = ApplyOptions(
            environment=environment, dry_run=dry_run, wait=wait != "none", wait_jobs=wait == "jobs",
            timeout_s=timeout_s if timeout_s is not None else environment.sync.timeout_seconds,
            concurrency=environment.sync.concurrency, force=environment.sync.force, run_id=run_id,
            progress=say, recorder=recorder,
        )
        return execute(plan, cluster, options)
