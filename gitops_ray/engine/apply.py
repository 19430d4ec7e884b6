"""Execute a plan: wave by wave, concurrent within a step, health-gated between waves.

Stop-on-failure like Argo CD's sync: when a write or a health check fails, later
waves are not applied, and the result says what was applied, what failed and
what was skipped. Server-side apply with manager `gitops-ray`; a conflict with
another manager fails the change naming manager and fields, unless the
environment says `force` — or the only conflict is the Ray autoscaler's hold on
the atomic `workerGroupSpecs` list, whose values we carried over unchanged.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from gitops_ray.changes import Action, ApplyResult, Change, ChangeResult, Outcome, Plan, new_run_id
from gitops_ray.cluster import ApiError, Cluster, FieldConflict
from gitops_ray.engine import health, ray
from gitops_ray.engine.diff import APPLIED_ANNOTATION
from gitops_ray.engine.plan import apply_body
from gitops_ray.environment import Environment
from gitops_ray.errors import ClusterError
from gitops_ray.refs import ObjectRef

COMMIT_ANNOTATION = "gitops-ray.io/commit"
SOURCE_ANNOTATION = "gitops-ray.io/source"
RUN_ANNOTATION = "gitops-ray.io/run"

Progress = Callable[[str], None]


class Recorder(Protocol):
    """What apply tells the record (audit.py implements it)."""

    def intent(self, plan: Plan, run_id: str) -> str: ...  # returns the intent entry id, the Audit-ID prefix

    def evidence(self, change: Change, live: dict[str, Any]) -> None: ...  # final status before delete/replace

    def outcome(self, result: ChangeResult) -> None: ...

    def finish(self, result: ApplyResult) -> object: ...


@dataclass(frozen=True, kw_only=True)
class ApplyOptions:
    environment: Environment
    dry_run: bool = False
    wait: bool = True
    wait_jobs: bool = False
    timeout_s: float = 600.0
    concurrency: int = 8
    force: bool = False
    run_id: str = ""
    poll_s: float = 0.5
    progress: Progress | None = None
    recorder: Recorder | None = None


class _AuditIds:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._n = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return f"{self.prefix}-{next(self._n)}"


def execute(plan: Plan, cluster: Cluster, options: ApplyOptions) -> ApplyResult:
    run_id = options.run_id or new_run_id()
    say = options.progress or (lambda _msg: None)
    prefix = options.recorder.intent(plan, run_id) if options.recorder and not options.dry_run else run_id
    runner = _Runner(plan, cluster, options, run_id, _AuditIds(prefix), say)
    results = runner.run()
    result = ApplyResult(plan=plan, results=tuple(results), dry_run=options.dry_run, run_id=run_id)
    if options.recorder and not options.dry_run:
        options.recorder.finish(result)
    return result


class _Runner:
    def __init__(self, plan: Plan, cluster: Cluster, options: ApplyOptions, run_id: str, ids: _AuditIds,
                 say: Progress) -> None:
        self.plan, self.cluster, self.options = plan, cluster, options
        self.run_id, self.ids, self.say = run_id, ids, say
        self.deadline = time.monotonic() + options.timeout_s

    # ------------------------------------------------------------------ orchestration

    def run(self) -> list[ChangeResult]:
        results: dict[int, ChangeResult] = {}
        changes = list(self.plan.changes)
        for i, change in enumerate(changes):
            if change.action is Action.NOOP:
                results[i] = ChangeResult(change=change, outcome=Outcome.UNCHANGED, message=change.reason)
            elif change.action is Action.BLOCKED:
                results[i] = ChangeResult(change=change, outcome=Outcome.REFUSED, message=change.reason)
        pending = [i for i, c in enumerate(changes) if c.action.writes]
        failed = False
        for step in _steps(changes, pending):
            if failed:
                for i in step.indexes:
                    results[i] = ChangeResult(change=changes[i], outcome=Outcome.SKIPPED,
                                              message="not applied: an earlier step failed")
                continue
            self.say(f"{step.label}: {len(step.indexes)} object(s)")
            done = self._write_all([changes[i] for i in step.indexes])
            for i, res in zip(step.indexes, done, strict=True):
                results[i] = res
            failed = any(r.outcome is Outcome.FAILED for r in done)
            if not failed and step.wait_after and self.options.wait and not self.options.dry_run:
                gated = [i for i in step.wave_indexes if results[i].outcome is Outcome.APPLIED
                         and changes[i].action is not Action.DELETE]
                for i, message in self._wait_healthy([changes[i] for i in gated]).items():
                    results[gated[i]] = _failed(results[gated[i]], message)
                    failed = True
        return [results[i] for i in range(len(changes))]

    def _write_all(self, changes: Sequence[Change]) -> list[ChangeResult]:
        workers = max(1, min(self.options.concurrency, len(changes)))
        if workers == 1:
            return [self._write(c) for c in changes]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self._write, changes))

    def _write(self, change: Change) -> ChangeResult:
        started = time.monotonic()
        ids: list[str] = []
        try:
            if change.action is Action.DELETE:
                live_after, forced = self._delete(change, ids), False
                message = "deleted" if live_after is None else "deletion started (finalizers pending)"
            elif change.action is Action.REPLACE:
                live_after, forced = self._replace(change, ids)
                message = "replaced (deleted, then created)"
            else:
                live_after, forced = self._apply(change, ids)
                message = "created" if change.action is Action.CREATE else "updated"
            if self.options.dry_run:
                message = f"{message} (server dry-run)"
            result = ChangeResult(change=change, outcome=Outcome.APPLIED, message=message, http_status=200,
                                  live_after=live_after, duration_s=time.monotonic() - started,
                                  audit_ids=tuple(ids), forced=forced)
        except ApiError as err:
            if self._namespace_not_yet_created(change, err):
                result = ChangeResult(change=change, outcome=Outcome.APPLIED, duration_s=time.monotonic() - started,
                                      message=f"not checked by the server: namespace {change.ref.namespace} is "
                                              "created by this plan (server dry-run)", audit_ids=tuple(ids))
            else:
                result = ChangeResult(change=change, outcome=Outcome.FAILED, message=_explain(err),
                                      http_status=err.status, error=err.reason or "Error",
                                      duration_s=time.monotonic() - started, audit_ids=tuple(ids))
        except ClusterError as err:
            result = ChangeResult(change=change, outcome=Outcome.FAILED, message=err.message, error="ClusterError",
                                  duration_s=time.monotonic() - started, audit_ids=tuple(ids))
        if self.options.recorder and not self.options.dry_run:
            self.options.recorder.outcome(result)
        return result

    def _namespace_not_yet_created(self, change: Change, err: ApiError) -> bool:
        """A dry run cannot create the namespace its objects go into, so the server answers
        404 for them; like Argo CD's SkipDryRunOnMissingResource, that is not a failure."""
        details = err.body.get("details") or {}
        return (self.options.dry_run and err.status == 404 and details.get("kind") == "namespaces"
                and any(c.ref.kind == "Namespace" and c.ref.name == change.ref.namespace
                        and c.action is Action.CREATE for c in self.plan.changes))

    # ------------------------------------------------------------------ verbs

    def _apply(self, change: Change, ids: list[str]) -> tuple[dict[str, Any], bool]:
        body = self._body(change)
        force = self.options.force
        audit = self.ids.next()
        ids.append(audit)
        try:
            return self.cluster.apply(body, force=force, dry_run=self.options.dry_run, audit_id=audit), force
        except FieldConflict as err:
            if not _autoscaler_only(change, err):
                raise
            audit = self.ids.next()
            ids.append(audit)
            return self.cluster.apply(body, force=True, dry_run=self.options.dry_run, audit_id=audit), True

    def _delete(self, change: Change, ids: list[str]) -> dict[str, Any] | None:
        ref = change.ref
        if change.live is not None and self.options.recorder and not self.options.dry_run:
            self.options.recorder.evidence(change, change.live)
        audit = self.ids.next()
        ids.append(audit)
        out = self.cluster.delete(change.api_version, ref.kind, ref.namespace or None, ref.name,
                                  uid=change.live_uid, dry_run=self.options.dry_run, audit_id=audit)
        if out is None or out.get("kind") == "Status":
            return None
        return out

    def _replace(self, change: Change, ids: list[str]) -> tuple[dict[str, Any], bool]:
        """§2.1: delete, wait until the RayJob, its submitter Job and its head Service are
        gone (else the operator adopts the old submitter), then create."""
        self._delete(change, ids)
        if not self.options.dry_run:
            self._wait_gone(change.ref)
        return self._apply(change, ids)

    def _body(self, change: Change) -> dict[str, Any]:
        body = dict(apply_body(change, self.options.environment))
        body["metadata"] = meta = dict(body["metadata"])
        meta["annotations"] = annotations = dict(meta.get("annotations") or {})
        if change.digest:
            annotations[APPLIED_ANNOTATION] = change.digest
        annotations[COMMIT_ANNOTATION] = self.plan.commit or "worktree"
        if change.source:
            annotations[SOURCE_ANNOTATION] = change.source
        annotations[RUN_ANNOTATION] = self.run_id
        return body

    # ------------------------------------------------------------------ waiting

    def _wait_gone(self, ref: ObjectRef) -> None:
        leftovers = [("ray.io/v1", "RayJob", ref.name), ("batch/v1", "Job", ref.name),
                     ("v1", "Service", f"{ref.name}-head-svc")]
        self.say(f"waiting for {ref} and its submitter to be deleted")
        while True:
            remaining = []
            for api_version, kind, name in leftovers:
                try:
                    found = self.cluster.list_objects(api_version, kind, namespace=ref.namespace,
                                                      field_selector=f"metadata.name={name}")
                except ApiError as err:
                    if err.status != 404:
                        raise
                    found = []
                if found:
                    remaining.append(f"{kind}/{name}")
            if not remaining:
                return
            if time.monotonic() > self.deadline:
                raise ClusterError(f"timed out waiting for {', '.join(remaining)} to be deleted")
            time.sleep(self.options.poll_s)

    def _wait_healthy(self, changes: Sequence[Change]) -> dict[int, str]:
        """Poll with one LIST per kind until all are settled; returns failures by index."""
        watched = {i: c for i, c in enumerate(changes) if health.needs_wait(c.ref.group, c.ref.kind)}
        if not watched:
            return {}
        failures: dict[int, str] = {}
        while watched:
            listed: dict[tuple[str, str, str], dict[str, Any]] = {}
            by_kind: dict[tuple[str, str], set[str]] = {}
            for c in watched.values():
                by_kind.setdefault((c.api_version, c.ref.kind), set()).add(c.ref.namespace)
            for (api_version, kind), namespaces in by_kind.items():
                scopes: list[str | None] = [*sorted(namespaces)] if len(namespaces) <= 3 else [None]
                for ns in scopes:
                    for obj in self.cluster.list_objects(api_version, kind, namespace=ns or None):
                        meta = obj.get("metadata") or {}
                        listed[(kind, meta.get("namespace", ""), meta.get("name", ""))] = obj
            waiting = []
            for i, change in list(watched.items()):
                seen = listed.get((change.ref.kind, change.ref.namespace, change.ref.name))
                status = health.health_of(seen, change.ref.group, change.ref.kind, wait_jobs=self.options.wait_jobs)
                if status.health is health.Health.DEGRADED:
                    failures[i] = f"{change.ref}: {status.message}"
                    del watched[i]
                elif status.health.settled or (status.health is health.Health.MISSING
                                               and change.ref.kind == "RayJob"):
                    del watched[i]
                else:
                    waiting.append(f"{change.ref} ({status.message})")
            if failures:
                return failures
            if not watched:
                return failures
            if time.monotonic() > self.deadline:
                return {i: f"{c.ref}: timed out waiting for health" for i, c in watched.items()}
            self.say("waiting: " + "; ".join(waiting[:3]) + (f" and {len(waiting) - 3} more" if len(waiting) > 3
                                                              else ""))
            time.sleep(self.options.poll_s)
        return failures


@dataclass(frozen=True)
class _Step:
    label: str
    indexes: list[int]
    wave_indexes: list[int]
    wait_after: bool


def _steps(changes: Sequence[Change], pending: Sequence[int]) -> list[_Step]:
    """Applies grouped by wave, then by kind rank (sequential), health gate at the end of
    each wave; deletions last, in reverse rank order."""
    applies = [i for i in pending if changes[i].action is not Action.DELETE]
    deletes = [i for i in pending if changes[i].action is Action.DELETE]
    steps: list[_Step] = []
    for wave, in_wave in itertools.groupby(sorted(applies, key=lambda i: (changes[i].wave, ray.rank(
            changes[i].ref.kind))), key=lambda i: changes[i].wave):
        members = list(in_wave)
        groups = [list(g) for _, g in itertools.groupby(members, key=lambda i: ray.rank(changes[i].ref.kind))]
        for n, group in enumerate(groups):
            kinds = ", ".join(sorted({changes[i].ref.kind for i in group}))
            steps.append(_Step(f"wave {wave} ({kinds})", group, members, wait_after=n == len(groups) - 1))
    for _, batch in itertools.groupby(deletes, key=lambda i: ray.rank(changes[i].ref.kind)):
        idx = list(batch)
        steps.append(_Step(f"prune ({', '.join(sorted({changes[i].ref.kind for i in idx}))})", idx, idx, False))
    return steps


def _autoscaler_only(change: Change, err: FieldConflict) -> bool:
    """The autoscaler's Update owns the whole atomic workerGroupSpecs list; we sent its
    live replicas back unchanged, so taking the list back changes nothing it set."""
    desired = change.desired or {}
    if change.ref.kind != "RayCluster" or not (desired.get("spec") or {}).get("enableInTreeAutoscaling"):
        return False
    return bool(err.conflicts) and all(f == ".spec.workerGroupSpecs" for _, f in err.conflicts)


def _explain(err: ApiError) -> str:
    if isinstance(err, FieldConflict) and err.conflicts:
        owners = "; ".join(f"{field} owned by {manager}" for manager, field in err.conflicts)
        return (f"conflict: {owners} (changed outside Git; set sync.force: true in the environment to take "
                "the fields back)")
    return f"{err.status} {err.reason}: {err.message}".strip()


def _failed(result: ChangeResult, message: str) -> ChangeResult:
    return ChangeResult(change=result.change, outcome=Outcome.FAILED, message=message, http_status=result.http_status,
                        error="Unhealthy", live_after=result.live_after, duration_s=result.duration_s,
                        audit_ids=result.audit_ids, forced=result.forced)
