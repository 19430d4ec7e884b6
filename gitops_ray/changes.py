"""The values that flow from plan to apply to record: `Plan`, `Change`, `ApplyResult`.

One set of types drives every output (terminal, JSON, Markdown PR comment) and
the record, the way Flux's ChangeSet does. Pure data; no I/O.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gitops_ray.refs import ObjectRef


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"  # delete, wait until gone, create: a RayJob re-run
    DELETE = "delete"  # prune
    NOOP = "noop"
    BLOCKED = "blocked"  # would be replace/delete, but refused (e.g. a running RayJob)

    @property
    def writes(self) -> bool:
        return self in (Action.CREATE, Action.UPDATE, Action.REPLACE, Action.DELETE)


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldChange:
    """One changed field. Secret values are already masked here, never later."""

    path: str  # JSON pointer, e.g. /spec/workerGroupSpecs/0/maxReplicas
    op: str  # "add" | "change" | "remove"
    before: Any = None
    after: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "op": self.op, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True, kw_only=True)
class Impact:
    """What a reviewer must see: the blast radius of one object (see facts.py)."""

    gpus: dict[str, int] = field(default_factory=dict)  # resource name -> count at max replicas
    tpus: dict[str, int] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # names only
    config_maps: tuple[str, ...] = ()
    service_accounts: tuple[str, ...] = ()
    exposed: tuple[str, ...] = ()  # e.g. "head Service LoadBalancer: dashboard 8265, client 10001"
    cleanup: tuple[str, ...] = ()  # e.g. "ttlSecondsAfterFinished=60 deletes the RayCluster"
    remote_code: tuple[str, ...] = ()  # runtime_env working_dir / pip URLs

    def is_empty(self) -> bool:
        return not any((self.gpus, self.tpus, self.images, self.secrets, self.config_maps,
                        self.service_accounts, self.exposed, self.cleanup, self.remote_code))

    def to_json(self) -> dict[str, Any]:
        return {
            "gpus": dict(self.gpus), "tpus": dict(self.tpus), "images": list(self.images),
            "secrets": list(self.secrets), "configMaps": list(self.config_maps),
            "serviceAccounts": list(self.service_accounts), "exposed": list(self.exposed),
            "cleanup": list(self.cleanup), "remoteCode": list(self.remote_code),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """What one object needs. `desired` is the body to apply (None for delete);
    `live` is the object as listed (None for create)."""

    ref: ObjectRef
    api_version: str
    action: Action
    reason: str
    diff: tuple[FieldChange, ...] = ()
    impact: Impact = field(default_factory=Impact)
    warnings: tuple[str, ...] = ()
    wave: int = 0
    desired: dict[str, Any] | None = field(default=None, repr=False)
    live: dict[str, Any] | None = field(default=None, repr=False)
    source: str = ""  # file:line of the manifest, "" for prunes
    strategy: str = "ssa"  # ssa | replace | delete | none
    digest: str = ""  # what Git declares, stamped as gitops-ray.io/applied when applied

    @property
    def live_uid(self) -> str | None:
        if self.live is None:
            return None
        uid = (self.live.get("metadata") or {}).get("uid")
        return str(uid) if uid else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    environment: str
    commit: str  # sha, "" for the working tree
    changes: tuple[Change, ...]
    snapshot: str = ""  # what was read ("commit abc (HEAD) of /repo")
    kuberay_version: str = ""
    target: str = ""  # where it will apply, for humans

    @property
    def in_sync(self) -> bool:
        return all(c.action is Action.NOOP for c in self.changes)

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action is not Action.NOOP]


class Outcome(StrEnum):
    APPLIED = "applied"
    FAILED = "failed"
    SKIPPED = "skipped"  # not attempted: an earlier wave failed
    UNCHANGED = "unchanged"  # noop
    REFUSED = "refused"  # blocked by the plan


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeResult:
    change: Change
    outcome: Outcome
    message: str = ""
    http_status: int | None = None
    error: str | None = None
    live_after: dict[str, Any] | None = field(default=None, repr=False)
    duration_s: float = 0.0
    audit_ids: tuple[str, ...] = ()
    forced: bool = False  # applied with force (took fields from another manager)

    @property
    def uid_after(self) -> str | None:
        if self.live_after is None:
            return None
        uid = (self.live_after.get("metadata") or {}).get("uid")
        return str(uid) if uid else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    plan: Plan
    results: tuple[ChangeResult, ...]
    dry_run: bool = False
    run_id: str = ""

    @property
    def ok(self) -> bool:
        return all(r.outcome in (Outcome.APPLIED, Outcome.UNCHANGED) for r in self.results)

    def by_outcome(self, outcome: Outcome) -> list[ChangeResult]:
        return [r for r in self.results if r.outcome is outcome]


def new_run_id() -> str:
    """A run's id: sortable by time, unique enough across machines (joins plan, apply and record)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def spec_digest(body: Mapping[str, Any]) -> str:
    """Identity of what a RayJob runs: its spec (what the operator bakes in at submission)."""
    spec = json.dumps(body.get("spec") or {}, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(spec.encode()).hexdigest()
