"""Evidence read back from the record: final statuses, disappearances, unfinished runs.

Pure functions over record entries and live objects (no I/O): the recorder in
audit.py feeds them and writes what they return. The point (kuberay-facts.md
§6.1) is that Ray deletes its own evidence — a finished RayJob's cluster goes at
the TTL, `DeleteSelf` takes the RayJob and its status with it — so the record
must keep the final status before it goes, and must be able to say for every
owned object that vanished *why* it was allowed to: gitops-ray pruned it (which
run), a Ray cleanup rule removed it (which rule, set by which commit), it was
garbage-collected with its owner, or nobody knows (`unexplained`, flagged).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitops_ray.record.state import FinishedJob, Known, OpenIntent, RecordIndex, ref_from
from gitops_ray.refs import ObjectRef

TERMINAL_DEPLOYMENT = frozenset({"Complete", "Failed"})
TERMINAL_JOB = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
RUN_ANNOTATION = "gitops-ray.io/run"
COMMIT_ANNOTATION = "gitops-ray.io/commit"
WRITE_OPS = frozenset({"create", "update", "replace", "delete"})

__all__ = ["Disappearance", "FinishedJob", "Known", "OpenIntent", "RecordIndex", "UnfinishedIntent",
           "classify_disappearances", "cluster_status", "completed_job", "final_status", "is_terminal",
           "known_from_live", "recovery_state", "ref_from", "status_key", "unfinished_intents", "unlisted_cluster"]


def ref_text(ref: ObjectRef) -> str:
    return str(ref)


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


# --------------------------------------------------------------------------- final statuses


def final_status(rayjob_live: Mapping[str, Any]) -> dict[str, Any]:
    """What a finished (or about to be deleted) RayJob says about its run."""
    status = rayjob_live.get("status") or {}
    info = status.get("rayJobInfo") or {}
    out = {
        "jobId": status.get("jobId") or (rayjob_live.get("spec") or {}).get("jobId"),
        "jobDeploymentStatus": status.get("jobDeploymentStatus"),
        "jobStatus": status.get("jobStatus"),
        "reason": status.get("reason"),
        "message": status.get("message"),
        "startTime": status.get("startTime") or info.get("startTime"),
        "endTime": status.get("endTime") or info.get("endTime"),
        "dashboardURL": status.get("dashboardURL"),
        "rayClusterName": status.get("rayClusterName"),
        "succeeded": status.get("succeeded"),
        "failed": status.get("failed"),
    }
    return {k: v for k, v in out.items() if v not in (None, "")}


def cluster_status(raycluster_live: Mapping[str, Any]) -> dict[str, Any]:
    status = raycluster_live.get("status") or {}
    out = {k: status.get(k) for k in ("state", "reason", "readyWorkerReplicas", "desiredWorkerReplicas",
                                      "availableWorkerReplicas", "endpoints", "lastUpdateTime")}
    head = status.get("head") or {}
    if head.get("serviceName"):
        out["headService"] = head["serviceName"]
    return {k: v for k, v in out.items() if v not in (None, "", {})}


def is_terminal(rayjob_live: Mapping[str, Any]) -> bool:
    status = rayjob_live.get("status") or {}
    return status.get("jobDeploymentStatus") in TERMINAL_DEPLOYMENT


def status_key(rayjob_live: Mapping[str, Any]) -> tuple[str, str, str]:
    status = rayjob_live.get("status") or {}
    return (str(_meta(rayjob_live).get("uid", "")), str(status.get("jobDeploymentStatus") or ""),
            str(status.get("jobStatus") or ""))


# --------------------------------------------------------------------------- what the record knows


def known_from_live(obj: Mapping[str, Any], cleanup: Mapping[str, Any] | None = None, spec_digest: str = "") -> Known:
    meta = _meta(obj)
    owner = next((o for o in meta.get("ownerReferences") or () if o.get("controller")), None)
    return Known(
        ref=str(ObjectRef.from_object(dict(obj))), api_version=str(obj.get("apiVersion", "")), uid=str(meta.get("uid")),
        owner={"kind": str(owner.get("kind")), "name": str(owner.get("name")), "uid": str(owner.get("uid"))}
        if owner else None,
        commit=str((meta.get("annotations") or {}).get(COMMIT_ANNOTATION, "")), cleanup=dict(cleanup or {}),
        spec_digest=spec_digest,
    )


def completed_job(index: RecordIndex, ref: ObjectRef, spec_digest: str) -> FinishedJob | None:
    """The recorded end of this RayJob for exactly this spec, newest first: a terminal status
    if one was seen, else its deletion by a Ray cleanup rule (which only fires once the job
    finished: DeleteSelf, or shutdownAfterJobFinishes with DELETE_RAYJOB_CR_AFTER_JOB_FINISHES)."""
    found = [job for job in index.finished if job.ref == str(ref) and job.spec_digest == spec_digest]
    with_status = [job for job in found if job.job_deployment_status]
    chosen = with_status or found
    return chosen[-1] if chosen else None


# --------------------------------------------------------------------------- unfinished runs


@dataclass(frozen=True, kw_only=True)
class UnfinishedIntent:
    intent: OpenIntent
    missing: tuple[dict[str, Any], ...]  # planned actions that write and have no outcome

    @property
    def run_id(self) -> str:
        return self.intent.run_id


def unfinished_intents(index: RecordIndex) -> list[UnfinishedIntent]:
    """Intents whose run wrote no checkpoint and left writes without an outcome: the
    process died mid-run. The next run records what the cluster shows for them first."""
    out = []
    for intent in index.open_intents.values():
        done = index.outcomes.get(intent.id, set())
        missing = tuple(dict(a) for a in intent.actions if a.get("op") in WRITE_OPS and a.get("n") not in done)
        if missing:
            out.append(UnfinishedIntent(intent=intent, missing=missing))
    return out


def recovery_state(action: Mapping[str, Any], live: Mapping[str, Any] | None, run_id: str) -> str:
    """Whether an interrupted write happened, judged from the live object: our writes stamp
    the run id on the object (gitops-ray.io/run), deletions leave it absent."""
    op = action.get("op")
    if op == "delete":
        if live is None:
            return "applied"
        return "applied (deleting)" if _meta(live).get("deletionTimestamp") else "not-applied"
    if live is None:
        return "not-applied (absent)"
    stamped = (_meta(live).get("annotations") or {}).get(RUN_ANNOTATION)
    if stamped == run_id:
        return "applied"
    return "not-applied"


# --------------------------------------------------------------------------- disappearances


@dataclass(frozen=True, kw_only=True)
class Disappearance:
    ref: str
    api_version: str
    uid: str
    cause: str  # pruned | ray-cleanup-rule | owner-gc | unexplained
    authorized_by: dict[str, Any] = field(default_factory=dict)
    spec_digest: str = ""  # a RayJob a cleanup rule deleted: the spec that ran (it finished)

    def to_json(self) -> dict[str, Any]:
        out = {"type": "disappearance", "ref": self.ref, "apiVersion": self.api_version, "uid": self.uid,
               "cause": self.cause, "authorizedBy": self.authorized_by}
        if self.spec_digest:
            out["specDigest"] = self.spec_digest
        return out


def _matches(condition: Mapping[str, Any], status: Mapping[str, Any] | None) -> bool:
    """Whether a deletion rule's condition holds for a final status (unknown status: assume so)."""
    if status is None:
        return True
    return all(status.get(k) in (None, v) for k, v in condition.items() if k in ("jobStatus", "jobDeploymentStatus"))


def _job_rule(cleanup: Mapping[str, Any], policies: tuple[str, ...], status: Mapping[str, Any] | None = None) -> str:
    """The RayJob setting that deletes the given things, as text, or ''. With the job's final
    `status`, only a rule whose condition that status meets."""
    for rule in cleanup.get("deletionRules") or ():
        if rule.get("policy") in policies and _matches(rule.get("condition") or {}, status):
            when = ",".join(f"{k}={v}" for k, v in (rule.get("condition") or {}).items())
            return f"deletionRules: {rule['policy']} after {rule.get('ttlSeconds', 0)}s ({when})"
    if cleanup.get("deletionRules"):
        return ""
    if "DeleteCluster" in policies and cleanup.get("shutdownAfterJobFinishes"):
        return f"shutdownAfterJobFinishes=true, ttlSecondsAfterFinished={cleanup.get('ttlSecondsAfterFinished', 0)}"
    return ""


def classify_disappearances(
    previously_seen: Sequence[Known],
    live_now: Mapping[ObjectRef, Mapping[str, Any]],
    this_run_prunes: Mapping[str, str],
    records: RecordIndex,
    *,
    operator_env: Mapping[str, str] | None = None,
) -> list[Disappearance]:
    """Every previously seen owned object no longer live (or live with another uid), with why.

    `this_run_prunes` maps uid -> run id for deletions made by the current run (the
    record's earlier prunes come from `records`)."""
    live_uids = {str(_meta(obj).get("uid")) for obj in live_now.values()}
    by_uid = {k.uid: k for k in previously_seen}
    pruned: dict[str, dict[str, str]] = dict(records.deletions)
    pruned.update({uid: {"runId": run, "op": "delete"} for uid, run in this_run_prunes.items()})
    namespaces_pruned = {k.object_ref.name: pruned[k.uid] for k in previously_seen
                         if k.object_ref.kind == "Namespace" and k.uid in pruned and k.uid not in live_uids}
    out = []
    for known in previously_seen:
        if known.uid in live_uids:
            continue
        ref = known.object_ref
        cause: str = "unexplained"
        why: dict[str, Any] = {}
        if known.uid in pruned:
            cause, why = "pruned", dict(pruned[known.uid])
        elif ref.namespace in namespaces_pruned:
            cause, why = "pruned", {**namespaces_pruned[ref.namespace], "via": f"Namespace/{ref.namespace}"}
        elif known.owner is not None:
            cause, why = _owned(known, by_uid.get(known.owner.get("uid", "")), live_now, live_uids)
        elif ref.kind == "RayJob":
            rule = _job_rule(known.cleanup, ("DeleteSelf",))
            env = operator_env or {}
            if not rule and known.cleanup.get("shutdownAfterJobFinishes") and \
                    env.get("DELETE_RAYJOB_CR_AFTER_JOB_FINISHES") == "true":
                rule = "shutdownAfterJobFinishes=true with operator DELETE_RAYJOB_CR_AFTER_JOB_FINISHES=true"
            if rule:
                terminal = any(s[0] == known.uid and s[1] in TERMINAL_DEPLOYMENT for s in records.statuses)
                cause, why = "ray-cleanup-rule", {"rule": rule, "commit": known.commit,
                                                  "finalStatusRecorded": terminal}
        out.append(Disappearance(ref=known.ref, api_version=known.api_version, uid=known.uid, cause=cause,
                                 authorized_by=why, spec_digest=known.spec_digest if ref.kind == "RayJob" and
                                 cause == "ray-cleanup-rule" else ""))
    return out


def unlisted_cluster(rayjob: Mapping[str, Any], live_now: Mapping[ObjectRef, Mapping[str, Any]],
                     records: RecordIndex) -> Disappearance | None:
    """The RayCluster a finished RayJob ran on, already gone before any run listed it.

    With a short `ttlSecondsAfterFinished` the operator deletes the cluster before the
    next LIST, so the record never inventoried it and a later run cannot see it vanish.
    The job's final status names it (`status.rayClusterName`) and its cleanup rule
    explains it, so its disappearance is recorded with the job's final status."""
    spec, status = rayjob.get("spec") or {}, final_status(rayjob)
    name, namespace = status.get("rayClusterName"), str(_meta(rayjob).get("namespace", ""))
    if not name or spec.get("clusterSelector"):
        return None  # a selected cluster is not the job's to delete
    ref = f"RayCluster/{namespace}/{name}"
    if any(str(r) == ref for r in live_now) or any(k.ref == ref for k in records.known.values()):
        return None  # listed now or before: inventoried, and classified when it goes
    from gitops_ray.record.facts import cleanup

    rule = _job_rule(cleanup(rayjob), ("DeleteCluster", "DeleteSelf"), status)
    if not rule:
        return None
    job_ref = str(ObjectRef.from_object(dict(rayjob)))
    uid = str(_meta(rayjob).get("uid", ""))
    known = records.known.get(uid)
    commit = known.commit if known and known.commit else str(
        (_meta(rayjob).get("annotations") or {}).get(COMMIT_ANNOTATION, ""))
    return Disappearance(ref=ref, api_version=str(rayjob.get("apiVersion") or "ray.io/v1"), uid="",
                         cause="ray-cleanup-rule",
                         authorized_by={"rule": rule, "commit": commit, "owner": job_ref, "ownerUid": uid,
                                        "ownerStatus": status, "neverListed": True})


def _owned(known: Known, owner: Known | None, live_now: Mapping[ObjectRef, Mapping[str, Any]],
           live_uids: set[str]) -> tuple[str, dict[str, Any]]:
    assert known.owner is not None
    owner_ref = f"{known.owner.get('kind')}/{known.object_ref.namespace}/{known.owner.get('name')}"
    owner_uid = known.owner.get("uid", "")
    if owner_uid not in live_uids:
        return "owner-gc", {"owner": owner_ref, "ownerUid": owner_uid}
    owner_live = next((o for o in live_now.values() if str(_meta(o).get("uid")) == owner_uid), {})
    kind = known.owner.get("kind")
    commit = owner.commit if owner else str((_meta(owner_live).get("annotations") or {}).get(COMMIT_ANNOTATION, ""))
    if kind == "RayJob" and known.object_ref.kind == "RayCluster":
        cleanup = owner.cleanup if owner and owner.cleanup else _live_cleanup(owner_live)
        rule = _job_rule(cleanup, ("DeleteCluster", "DeleteSelf"), final_status(owner_live))
        if rule and is_terminal(owner_live):
            return "ray-cleanup-rule", {"rule": rule, "commit": commit, "owner": owner_ref,
                                        "ownerStatus": final_status(owner_live)}
    if kind == "RayService" and known.object_ref.kind == "RayCluster":
        delay = (owner_live.get("spec") or {}).get("rayClusterDeletionDelaySeconds", 60)
        return "ray-cleanup-rule", {"rule": f"RayService replaced its cluster (rayClusterDeletionDelaySeconds={delay})",
                                    "commit": commit, "owner": owner_ref}
    return "unexplained", {"owner": owner_ref, "ownerStillLive": True}


def _live_cleanup(rayjob: Mapping[str, Any]) -> dict[str, Any]:
    from gitops_ray.record.facts import cleanup

    return cleanup(rayjob) if rayjob else {}
