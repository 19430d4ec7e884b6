"""Desired vs live -> an ordered `Plan` of `Change`s. Pure: live state comes in as data.

The actions (create, update, replace, delete, noop, blocked) follow the domain
rules of issue 4 and kuberay-facts.md; ordering is data (ray.KIND_RANK) plus
waves (`gitops-ray.io/wave`) plus one dependency rule (a RayJob runs after the
RayCluster its clusterSelector names). Deletions run last, in reverse order.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gitops_ray import kinds
from gitops_ray.changes import Action, Change, FieldChange, Impact, Plan, spec_digest
from gitops_ray.cluster import ENVIRONMENT_LABEL, FIELD_MANAGER, MANAGED_BY_LABEL
from gitops_ray.engine import diff, ray
from gitops_ray.environment import Environment
from gitops_ray.manifests import Manifest
from gitops_ray.record import facts
from gitops_ray.refs import ObjectRef

PRUNE_ANNOTATION = "gitops-ray.io/prune"
IN_SYNC = "in sync"
SYSTEM_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "kube-node-lease"})
SYSTEM_OBJECTS = frozenset({("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")})


class JobHistory(Protocol):
    """The record's answer to "did this RayJob already run to the end for this spec?"."""

    def finished(self, ref: ObjectRef, spec_digest: str) -> str | None: ...


@dataclass(frozen=True, kw_only=True)
class PlanOptions:
    environment: Environment
    commit: str = ""
    snapshot: str = ""
    kuberay_version: str = ""
    target: str = ""
    allow_replace_running: bool = False
    field_manager: str = FIELD_MANAGER
    # uid -> (resourceVersion, manifest digest) of objects an earlier plan found in sync: an
    # object whose resourceVersion and manifest have not moved since cannot have drifted
    # (Argo CD caches its server-side diffs by resourceVersion the same way).
    verified: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def in_sync_marks(plan: Plan) -> dict[str, tuple[str, str]]:
    """The `verified` entries a plan establishes: its in-sync objects, as listed."""
    marks: dict[str, tuple[str, str]] = {}
    for change in plan.changes:
        if change.action is Action.NOOP and change.live is not None and change.digest and change.reason == IN_SYNC:
            meta = change.live.get("metadata") or {}
            if meta.get("uid") and meta.get("resourceVersion"):
                marks[str(meta["uid"])] = (str(meta["resourceVersion"]), change.digest)
    return marks


@dataclass(frozen=True, kw_only=True)
class LiveState:
    """Objects as listed: `owned` carry our labels; `unowned` exist without them."""

    owned: Mapping[ObjectRef, dict[str, Any]] = field(default_factory=dict)
    unowned: Mapping[ObjectRef, dict[str, Any]] = field(default_factory=dict)

    def get(self, ref: ObjectRef) -> dict[str, Any] | None:
        return self.owned.get(ref) or self.unowned.get(ref)


def manifest_digest(manifest: Manifest, environment: Environment) -> str:
    """What Git declares for the object in this environment, cheaply: the manifest's text plus
    what `desired_object` adds (environment, namespace)."""
    key = f"{manifest.content_digest()}\0{environment.name}\0{manifest.ref.namespace}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def desired_object(manifest: Manifest, environment: Environment) -> dict[str, Any]:
    """The body we would apply: the manifest with ownership labels and a namespace."""
    body = dict(manifest.body)  # shallow: only metadata is rewritten; apply copies what it changes
    meta = dict(body.get("metadata") or {})
    body["metadata"] = meta
    if manifest.ref.namespace and not meta.get("namespace") and kinds.is_namespaced(*manifest.ref.group_kind):
        meta["namespace"] = manifest.ref.namespace
    labels = meta.get("labels") or {}
    meta["labels"] = {**labels, MANAGED_BY_LABEL: "gitops-ray", ENVIRONMENT_LABEL: environment.name}
    return body


def build_plan(
    manifests: Sequence[Manifest],
    live: LiveState,
    options: PlanOptions,
    *,
    history: JobHistory | None = None,
    impact_of: Callable[[dict[str, Any]], Impact] = facts.impact_of,
) -> Plan:
    env = options.environment
    desired_refs: set[ObjectRef] = set()
    changes: list[Change] = []
    waves: dict[ObjectRef, int] = {}
    for manifest in manifests:
        desired = desired_object(manifest, env)
        ref = ObjectRef.from_object(desired)
        desired_refs.add(ref)
        waves[ref] = ray.wave_of(desired)
        change = _change_for(manifest, ref, desired, live, options, history)
        if change.action is not Action.NOOP:  # in-sync objects need no review (and 10k of them cost time)
            change = _with(change, impact=impact_of(desired))
        changes.append(change)
    changes = _resolve_waves(changes, waves)
    deletions = [_prune_change(ref, obj, env) for ref, obj in live.owned.items()
                 if ref not in desired_refs and _prunable(ref, obj, env)]
    ordered = sorted(changes, key=lambda c: (c.wave, ray.rank(c.ref.kind), c.ref.namespace, c.ref.name))
    ordered += sorted(deletions, key=lambda c: (-ray.rank(c.ref.kind), c.ref.namespace, c.ref.name))
    return Plan(environment=env.name, commit=options.commit, changes=tuple(ordered), snapshot=options.snapshot,
                kuberay_version=options.kuberay_version, target=options.target)


def _with(change: Change, **updates: Any) -> Change:
    return dataclasses.replace(change, **updates)


def _change_for(
    manifest: Manifest,
    ref: ObjectRef,
    desired: dict[str, Any],
    live: LiveState,
    options: PlanOptions,
    history: JobHistory | None,
) -> Change:
    env = options.environment
    current = live.get(ref)
    digest = manifest_digest(manifest, env)
    base: dict[str, Any] = {"ref": ref, "api_version": manifest.api_version, "desired": desired, "live": current,
                            "source": f"{manifest.origin.file}:{manifest.origin.line}", "digest": digest}
    if current is None:
        if ref.kind == "RayJob" and history is not None:
            finished = history.finished(ref, spec_digest(desired))
            if finished:
                return Change(**base, action=Action.NOOP, reason=f"completed: {finished}; not re-run",
                              strategy="none")
        return Change(**base, action=Action.CREATE, reason="not in the cluster",
                      diff=diff.compare(desired, None, kind=ref.kind))
    if (current.get("metadata") or {}).get("deletionTimestamp"):
        return Change(**base, action=Action.BLOCKED, strategy="none",
                      reason="being deleted (waiting for finalizers); it is re-created by a later run")
    adopting = ref not in live.owned
    meta = current.get("metadata") or {}
    owner = str((meta.get("labels") or {}).get(ENVIRONMENT_LABEL) or "")
    if adopting and owner and owner != env.name:
        return Change(**base, action=Action.BLOCKED, strategy="none",
                      reason=(f"owned by environment {owner!r} ({ENVIRONMENT_LABEL}={owner}); environment "
                              f"{env.name!r} declares it too: one environment never takes over another's object "
                              "(remove it from one of them, or move it with a commit to both)"))
    if not adopting and options.verified.get(str(meta.get("uid"))) == (str(meta.get("resourceVersion")), digest):
        return Change(**base, action=Action.NOOP, reason=IN_SYNC, strategy="none")
    ignore = _ignore_patterns(desired, env)
    changes = diff.compare(desired, current, kind=ref.kind, ignore=ignore, manager=options.field_manager,
                           digest=digest)
    if not changes and not adopting:
        return Change(**base, action=Action.NOOP, reason=IN_SYNC, strategy="none")
    if not changes:
        changes = (FieldChange(path="/metadata/labels", op="change", before=None, after="gitops-ray ownership"),)
    warnings: list[str] = []
    if adopting:
        warnings.append("exists without gitops-ray ownership labels: it will be adopted (and pruned later if "
                        "removed from Git)")
    if ref.kind == "RayJob" and ray.rayjob_needs_replace(changes):
        return _rayjob_replace(base, changes, current, warnings, options)
    reason = "changed in Git"
    if ref.kind == "RayCluster":
        warnings += ray.raycluster_warnings(changes, desired)
    elif ref.kind == "RayService":
        _, reason = ray.rayservice_effect(changes, desired, current)
        warnings += ray.raycluster_warnings(changes, desired, prefix="/spec/rayClusterConfig")
    elif ref.kind == "RayJob":
        reason = "fields the RayJob controller reads live changed (no re-run)"
    if adopting and reason == "changed in Git":
        reason = "adopt existing object"
    return Change(**base, action=Action.UPDATE, reason=reason, diff=changes, warnings=tuple(warnings))


def _rayjob_replace(
    base: dict[str, Any],
    changes: tuple[FieldChange, ...],
    current: dict[str, Any],
    warnings: list[str],
    options: PlanOptions,
) -> Change:
    """§2.1: a submitted RayJob never re-runs on a spec change: delete and re-create."""
    state = ray.job_state(current)
    allowed = options.allow_replace_running or options.environment.sync.replace_running_jobs
    if state.deployment in ray.RAYJOB_SAFE_TO_REPLACE:
        return Change(**base, action=Action.REPLACE, strategy="replace", diff=changes, warnings=tuple(warnings),
                      reason=f"RayJob spec changed; the finished job ({state.label}) is deleted and re-run")
    if allowed:
        warnings.append(f"the running job ({state.label}) is stopped and its cluster deleted")
        return Change(**base, action=Action.REPLACE, strategy="replace", diff=changes, warnings=tuple(warnings),
                      reason=f"RayJob spec changed while {state.label}; replacing as allowed")
    return Change(**base, action=Action.BLOCKED, strategy="none", diff=changes, warnings=tuple(warnings),
                  reason=(f"RayJob spec changed but the job is {state.label}: replacing would kill it "
                          "(use --allow-replace-running or sync.replaceRunningJobs)"))


def _ignore_patterns(desired: dict[str, Any], env: Environment) -> list[tuple[str, ...]]:
    ref = ObjectRef.from_object(desired)
    patterns = ray.owned_by_others(desired)
    for rule in env.ignore:
        if rule.matches(ref.group, ref.kind, ref.namespace, ref.name):
            patterns.extend(diff.parse_pointer(p) for p in rule.paths)
    return patterns


def apply_body(change: Change, environment: Environment) -> dict[str, Any]:
    """The object to send: desired, with fields others own carried over from live."""
    assert change.desired is not None
    body = ray.carry_autoscaler_replicas(change.desired, change.live)
    patterns = [p for p in _ignore_patterns(change.desired, environment)
                if not (p[:2] == ("spec", "workerGroupSpecs") and change.ref.kind == "RayCluster")]
    return diff.carry_owned_fields(body, change.live, patterns)


def _resolve_waves(changes: list[Change], waves: dict[ObjectRef, int]) -> list[Change]:
    """A RayJob with `clusterSelector` goes a wave after the RayCluster it selects."""
    out = []
    for change in changes:
        wave = waves[change.ref]
        if change.ref.kind == "RayJob" and change.desired is not None:
            selector = (change.desired.get("spec") or {}).get("clusterSelector") or {}
            target = ObjectRef("ray.io", "RayCluster", change.ref.namespace, str(selector.get("ray.io/cluster", "")))
            if target in waves:
                wave = max(wave, waves[target] + 1)
        out.append(_with(change, wave=wave))
    return out


# --------------------------------------------------------------------------- prune


def _prunable(ref: ObjectRef, obj: dict[str, Any], env: Environment) -> bool:
    meta = obj.get("metadata") or {}
    if any(o.get("controller") for o in meta.get("ownerReferences") or ()):
        return False  # a child the operator made (it copies our labels onto it): its owner decides
    if (ref.kind, ref.name) in SYSTEM_OBJECTS:
        return False
    return not (ref.kind == "Namespace" and ref.name in SYSTEM_NAMESPACES)


def _prune_change(ref: ObjectRef, obj: dict[str, Any], env: Environment) -> Change:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    base: dict[str, Any] = {"ref": ref, "api_version": str(obj.get("apiVersion", "")), "live": obj, "desired": None}
    if annotations.get(PRUNE_ANNOTATION) == "disabled":
        return Change(**base, action=Action.NOOP, reason=f"not in Git; kept ({PRUNE_ANNOTATION}: disabled)",
                      strategy="none")
    if ref.kind == "Namespace" and not env.sync.prune_namespaces:
        return Change(**base, action=Action.NOOP, strategy="none",
                      reason="not in Git; namespaces are not pruned (sync.pruneNamespaces is false)")
    if not env.sync.prune:
        return Change(**base, action=Action.BLOCKED, strategy="none",
                      reason="not in Git; pruning is disabled for this environment (sync.prune: false)")
    return Change(**base, action=Action.DELETE, strategy="delete", reason="removed from Git (prune)",
                  diff=(FieldChange(path="", op="remove"),))
