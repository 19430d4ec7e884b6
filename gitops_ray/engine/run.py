"""The verbs end to end: plan and apply an environment, with the record around them.

This is the only place that wires the stages to each other and to I/O (Git,
the cluster, the record); `cli` calls it, tests call it, the demo calls it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gitops_ray.changes import Action, ApplyResult, Outcome, Plan, new_run_id
from gitops_ray.cluster import Cluster, make_user_agent
from gitops_ray.engine import pipeline
from gitops_ray.engine.apply import ApplyOptions, execute
from gitops_ray.engine.live import read_live
from gitops_ray.engine.plan import JobHistory, LiveState, PlanOptions, build_plan, in_sync_marks
from gitops_ray.engine.target import open_cluster
from gitops_ray.findings import Finding
from gitops_ray.record import audit, provenance
from gitops_ray.refs import ObjectRef

Progress = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class PlanResult:
    plan: Plan
    warnings: list[Finding]
    desired: pipeline.Desired


def _read(cluster: Cluster, desired: pipeline.Desired, say: Progress) -> LiveState:
    env = desired.environment
    say(f"reading live state from {cluster.server}")
    return read_live(cluster, env, pipeline.desired_refs(desired.manifests), concurrency=env.sync.concurrency)


def _after(live: LiveState, result: ApplyResult) -> dict[ObjectRef, dict[str, Any]]:
    """Owned objects after a run that did not wait: the listing before it, updated with the
    server's answers to its writes (nothing else can have changed that we would wait for)."""
    after = dict(live.owned)
    for res in result.results:
        if res.outcome is not Outcome.APPLIED:
            continue
        if res.change.action is Action.DELETE:
            after.pop(res.change.ref, None)
        elif res.live_after is not None:
            after[res.change.ref] = res.live_after
    return after


def _plan(
    desired: pipeline.Desired,
    live: LiveState,
    cluster: Cluster,
    *,
    allow_replace_running: bool,
    history: JobHistory | None,
    say: Progress,
) -> Plan:
    env = desired.environment
    commit = desired.snapshot.commit.sha if desired.snapshot.commit else ""
    target = f"{cluster.server}" + (f" (context {cluster.context})" if cluster.context else "")
    verified = pipeline.load_verified(env, cluster.server)
    options = PlanOptions(environment=env, commit=commit, snapshot=desired.snapshot.description,
                          kuberay_version=desired.kuberay_version, target=target,
                          allow_replace_running=allow_replace_running, verified=verified)
    say("planning")
    plan = build_plan(desired.manifests, live, options, history=history)
    marks = in_sync_marks(plan)
    if marks != verified:
        pipeline.save_verified(env, cluster.server, marks)
    return plan


def _recorder(
    cluster: Cluster,
    desired: pipeline.Desired,
    *,
    run_id: str,
    ref: str | None,
    record_dir: str | None,
    anchored: bool,
) -> audit.RunRecorder:
    """A record for this run: source, actor, target, and (for writing runs) its anchors."""
    env = desired.environment
    snapshot = desired.snapshot
    commit = snapshot.commit
    repository = snapshot.repository
    signature = provenance.verify_signature(snapshot.root, commit) if commit is not None else None
    location = repository.location if repository is not None else str(snapshot.root)
    anchors = audit.default_anchors(env, cluster=cluster, repository=repository,
                                    commit=commit.sha if commit else "") if anchored else []
    return audit.RunRecorder(
        audit.open_store(env, record_dir),
        environment=env,
        run_id=run_id,
        source=provenance.source(commit, repository=location, ref=ref or "HEAD", path=env.directory,
                                 signature=signature),
        actor=provenance.actor(kube_user=cluster.identity()),
        target=provenance.target(server=cluster.server, context=cluster.context,
                                 crd_schema_version=desired.kuberay_version, namespaces=env.namespaces),
        anchors=anchors,
        close_on_finish=False,  # the caller inventories what apply made, then closes
    )


@contextlib.contextmanager
def _session(
    *,
    env: str,
    repo: str | None,
    ref: str | None,
    worktree: bool,
    kubeconfig: str | None,
    context: str | None,
    kuberay_version: str | None,
    record_dir: str | None,
    anchored: bool,
    kubernetes_version: str | None = None,
    say: Progress,
    request_timeout: float | None = None,
) -> Iterator[tuple[pipeline.Desired, Cluster, audit.RunRecorder, LiveState]]:
    """What every cluster verb starts with: the validated commit, a connection, the record
    for this run, and the live state."""
    snapshot, environment = pipeline.open_environment(env=env, repo=repo, ref=ref, worktree=worktree)
    say(f"validating {environment.name} from {snapshot.description}")
    desired = pipeline.load_desired(snapshot, environment, kuberay_version=kuberay_version,
                                    kubernetes_version=kubernetes_version)
    commit = snapshot.commit.sha if snapshot.commit else ""
    with open_cluster(environment.cluster, kubeconfig=kubeconfig, context=context,
                      kuberay_version=desired.kuberay_version, user_agent=make_user_agent(commit),
                      request_timeout=request_timeout, named_by=environment.file) as cluster:
        recorder = _recorder(cluster, desired, run_id=new_run_id(), ref=ref, record_dir=record_dir,
                             anchored=anchored)
        yield desired, cluster, recorder, _read(cluster, desired, say)


def make_plan(
    *,
    env: str,
    repo: str | None = None,
    ref: str | None = None,
    worktree: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
    kuberay_version: str | None = None,
    kubernetes_version: str | None = None,
    allow_replace_running: bool = False,
    record_dir: str | None = None,
    record: bool = True,
    progress: Progress | None = None,
    request_timeout: float | None = None,
) -> PlanResult:
    """Plan against the live cluster. The record learns what it sees (final RayJob
    statuses, disappearances, drift) but the cluster is only read."""
    say = progress or (lambda _m: None)
    with _session(env=env, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig, context=context,
                  kuberay_version=kuberay_version, record_dir=record_dir, anchored=False, say=say,
                  request_timeout=request_timeout, kubernetes_version=kubernetes_version) as session:
        desired, cluster, recorder, live = session
        if record:
            recorder.observe(live.owned)
        plan = _plan(desired, live, cluster, allow_replace_running=allow_replace_running,
                     history=recorder.job_history(), say=say)
        if record:
            recorder.drift(plan)
            recorder.close()
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
    kubernetes_version: str | None = None,
    dry_run: bool = False,
    allow_replace_running: bool = False,
    wait: str = "health",
    timeout_s: float | None = None,
    record_dir: str | None = None,
    progress: Progress | None = None,
    force: bool | None = None,
    request_timeout: float | None = None,
) -> ApplyResult:
    say = progress or (lambda _m: None)
    with _session(env=env, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig, context=context,
                  kuberay_version=kuberay_version, record_dir=record_dir, anchored=not dry_run, say=say,
                  request_timeout=request_timeout, kubernetes_version=kubernetes_version) as session:
        desired, cluster, recorder, live = session
        environment = desired.environment
        if not dry_run:
            recorder.recover(lambda r: live.get(r))  # a killed run's writes get their outcomes first
            recorder.observe(live.owned)
        plan = _plan(desired, live, cluster, allow_replace_running=allow_replace_running,
                     history=recorder.job_history(), say=say)
        options = ApplyOptions(
            environment=environment, dry_run=dry_run, wait=wait != "none", wait_jobs=wait == "jobs",
            timeout_s=timeout_s if timeout_s is not None else environment.sync.timeout_seconds,
            concurrency=environment.sync.concurrency,
            force=environment.sync.force if force is None else force, run_id=recorder.run_id,
            progress=say, recorder=None if dry_run else recorder,
        )
        result = execute(plan, cluster, options)
        if not dry_run:
            # Inventory what now exists (incl. what the operator made with our labels, and final
            # statuses of jobs --wait-jobs saw finish), so a later disappearance has a cause; then
            # one checkpoint (and one anchor write) for the run. A run that dies inside execute
            # writes no checkpoint: its intent stays open for the next run to recover.
            try:
                recorder.observe(_read(cluster, desired, say).owned if wait != "none" else _after(live, result))
            finally:
                recorder.close(result)
        for notice in recorder.notices:
            say(notice)
        return result


@dataclass(frozen=True, kw_only=True)
class ReconcileResult:
    plan: Plan
    applied: ApplyResult | None  # None: in sync, or selfHeal is off

    @property
    def drift(self) -> bool:
        return not self.plan.in_sync

    @property
    def ok(self) -> bool:
        return self.applied.ok if self.applied is not None else True


def reconcile(
    *,
    env: str,
    repo: str | None = None,
    ref: str | None = None,
    worktree: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
    record_dir: str | None = None,
    timeout_s: float | None = None,
    progress: Progress | None = None,
    request_timeout: float | None = None,
) -> ReconcileResult:
    """A scheduled run: find what changed behind Git's back (recorded as drift), and heal it
    when the environment says `sync.selfHeal: true`, as Argo CD's self-heal does."""
    planned = make_plan(env=env, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig, context=context,
                        record_dir=record_dir, progress=progress, request_timeout=request_timeout)
    if planned.plan.in_sync or not planned.desired.environment.sync.self_heal:
        return ReconcileResult(plan=planned.plan, applied=None)
    # Healing means taking the fields back from whoever changed them (Flux forces ownership
    # the same way); without force an out-of-band `kubectl edit` could never be healed.
    applied = run_apply(env=env, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig, context=context,
                        record_dir=record_dir, timeout_s=timeout_s, progress=progress, force=True,
                        request_timeout=request_timeout)
    return ReconcileResult(plan=planned.plan, applied=applied)
