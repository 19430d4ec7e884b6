"""What the record knows, folded: the state every run starts from, without re-reading the log.

`RecordIndex` is the fold of all entries that the evidence functions need:
owned objects seen (by uid), deletions gitops-ray made, final statuses
recorded, finished jobs by spec digest, intents still open (their run has no
checkpoint yet), and which RayJob spec each run applied. It is small — bounded
by the cluster's objects and the jobs run, not by the log's size — and kept in
`<env>.jsonl.state` beside the log, with the offset it covers and the hash of
the last line it folded, so a run folds only the entries appended since. Like
the history index it is derived, never evidence: when it does not match the log
it is rebuilt from the log, and `audit verify` never reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_ray.record.entries import Entry, EntryKind, canonical_json, scan_bytes, sha256_hex
from gitops_ray.record.store import RecordStore
from gitops_ray.refs import ObjectRef, split_api_version

SUFFIX = ".state"
VERSION = 2
RUN_ANNOTATION = "gitops-ray.io/run"
WRITE_OPS = frozenset({"create", "update", "replace", "delete"})
_ACTION_KEYS = ("n", "ref", "apiVersion", "op", "strategy", "uidBefore", "desiredSha256", "specDigest")


def ref_from(text: str, api_version: str) -> ObjectRef:
    parts = text.split("/")
    group, _ = split_api_version(api_version)
    if len(parts) == 3:
        return ObjectRef(group, parts[0], parts[1], parts[2])
    return ObjectRef(group, parts[0], "", parts[-1])


@dataclass(frozen=True, kw_only=True)
class Known:
    """An owned object the record has seen (inventoried or written), by uid."""

    ref: str
    api_version: str
    uid: str
    owner: dict[str, str] | None = None  # controller ownerReference: kind, name, uid
    commit: str = ""
    cleanup: dict[str, Any] = field(default_factory=dict)
    spec_digest: str = ""  # RayJobs: the spec gitops-ray applied (plan.spec_digest), when known

    @property
    def object_ref(self) -> ObjectRef:
        return ref_from(self.ref, self.api_version)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ref": self.ref, "apiVersion": self.api_version, "uid": self.uid}
        if self.owner:
            out["owner"] = self.owner
        if self.commit:
            out["commit"] = self.commit
        if self.cleanup:
            out["cleanup"] = self.cleanup
        if self.spec_digest:
            out["specDigest"] = self.spec_digest
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Known:
        return cls(ref=str(data["ref"]), api_version=str(data.get("apiVersion", "")), uid=str(data["uid"]),
                   owner=data.get("owner"), commit=str(data.get("commit", "")), cleanup=dict(data.get("cleanup") or {}),
                   spec_digest=str(data.get("specDigest", "")))


@dataclass(frozen=True, kw_only=True)
class FinishedJob:
    ref: str
    uid: str
    spec_digest: str
    job_deployment_status: str
    job_status: str
    end_time: str
    run_id: str
    entry_id: str
    commit: str = ""
    via: str = ""  # no status seen: the Ray cleanup rule that deleted the finished RayJob

    @property
    def succeeded(self) -> bool:
        return self.job_deployment_status == "Complete" and self.job_status in ("SUCCEEDED", "")

    def describe(self) -> str:
        commit = f" of commit {self.commit[:12]}" if self.commit else ""
        if self.via and not self.job_deployment_status:
            return f"finished and was deleted by its cleanup rule ({self.via}){commit} (record entry {self.entry_id})"
        state = "/".join(s for s in (self.job_deployment_status, self.job_status) if s)
        when = f" at {self.end_time}" if self.end_time else ""
        return f"{state}{when}{commit} (record entry {self.entry_id})"


@dataclass(kw_only=True)
class OpenIntent:
    """An intent whose run has no checkpoint yet: its planned actions, compactly."""

    id: str
    run_id: str
    commit: str
    actions: list[dict[str, Any]]


@dataclass(kw_only=True)
class RecordIndex:
    known: dict[str, Known] = field(default_factory=dict)  # uid -> last known
    deletions: dict[str, dict[str, str]] = field(default_factory=dict)  # uid -> {runId, op, entryId}
    statuses: set[tuple[str, str, str]] = field(default_factory=set)  # recorded (uid, deployment, job)
    finished: list[FinishedJob] = field(default_factory=list)
    open_intents: dict[str, OpenIntent] = field(default_factory=dict)
    outcomes: dict[str, set[int]] = field(default_factory=dict)  # open intent id -> actions with outcomes
    job_specs: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # run -> ref -> [digest, commit]
    covered: int = 0  # log offset folded up to
    last: tuple[int, int, str] | None = None  # (offset, length, short hash) of the last folded line

    @classmethod
    def build(cls, entries: Iterable[Entry]) -> RecordIndex:
        index = cls()
        for entry in entries:
            index.add(entry)
        return index

    def add(self, entry: Entry) -> None:
        kind, pred = entry.kind, entry.predicate
        if kind == EntryKind.INTENT:
            self._intent(entry)
        elif kind == EntryKind.OUTCOME:
            self._outcome(entry)
        elif kind == EntryKind.CHECKPOINT:
            for intent_id in [i for i, o in self.open_intents.items() if o.run_id == entry.run_id]:
                self._close(intent_id)
        elif kind == EntryKind.OBSERVATION:
            self._observation(entry, pred.get("observation") or {})
        end = entry.offset + len(entry.raw) + 1
        if end > self.covered:
            self.covered, self.last = end, (entry.offset, len(entry.raw), sha256_hex(entry.raw)[:16])

    def _intent(self, entry: Entry) -> None:
        pred = entry.predicate
        commit = str(((pred.get("source") or {}).get("commit") or {}).get("gitCommit", ""))
        actions = []
        for action in pred.get("actions") or ():
            compact = {k: action[k] for k in _ACTION_KEYS if action.get(k) is not None}
            cleanup = (action.get("facts") or {}).get("cleanup")
            if cleanup:
                compact["cleanup"] = cleanup
            actions.append(compact)
            if action.get("specDigest"):
                self.job_specs.setdefault(entry.run_id, {})[str(action["ref"])] = [str(action["specDigest"]), commit]
        self.open_intents[entry.id] = OpenIntent(id=entry.id, run_id=entry.run_id, commit=commit, actions=actions)

    def _close(self, intent_id: str) -> None:
        self.open_intents.pop(intent_id, None)
        self.outcomes.pop(intent_id, None)

    def _outcome(self, entry: Entry) -> None:
        intent_id = str(entry.meta.get("intentId", ""))
        action, result = entry.predicate.get("action") or {}, entry.predicate.get("result") or {}
        intent = self.open_intents.get(intent_id)
        n = int(action.get("n", -1))
        if intent is not None:
            done = self.outcomes.setdefault(intent_id, set())
            done.add(n)
            if all(a.get("n") in done for a in intent.actions if a.get("op") in WRITE_OPS):
                self._close(intent_id)  # every write has its outcome: nothing left to recover
        if result.get("outcome") != "applied" and result.get("state") != "applied":
            return
        op = str(action.get("op", ""))
        if op in ("delete", "replace") and result.get("uidBefore"):
            self.deletions[str(result["uidBefore"])] = {"runId": entry.run_id, "op": op, "entryId": entry.id}
        if op != "delete" and result.get("uidAfter"):
            planned = next((a for a in intent.actions if a.get("n") == n), {}) if intent else {}
            self.known[str(result["uidAfter"])] = Known(
                ref=str(action.get("ref")), api_version=str(action.get("apiVersion", "")), uid=str(result["uidAfter"]),
                commit=intent.commit if intent else "", cleanup=dict(planned.get("cleanup") or {}),
                spec_digest=str(planned.get("specDigest") or ""))

    def _observation(self, entry: Entry, obs: Mapping[str, Any]) -> None:
        kind = obs.get("type")
        if kind == "inventory":
            for item in obs.get("appeared") or ():
                known = Known.from_json(item)
                self.known[known.uid] = known
        elif kind == "disappearance":
            self.known.pop(str(obs.get("uid")), None)
            why = obs.get("authorizedBy") or {}
            if obs.get("cause") == "ray-cleanup-rule" and obs.get("specDigest") and \
                    str(obs.get("ref", "")).startswith("RayJob/"):
                # A RayJob a cleanup rule deleted had finished (the operator deletes only then),
                # even when no run saw its terminal status: the planner must not re-run it.
                self.finished.append(FinishedJob(
                    ref=str(obs.get("ref")), uid=str(obs.get("uid")), spec_digest=str(obs["specDigest"]),
                    job_deployment_status="", job_status="", end_time="", run_id=entry.run_id, entry_id=entry.id,
                    commit=str(why.get("commit") or ""), via=str(why.get("rule") or "a Ray cleanup rule")))
        elif kind == "final-status":
            status = obs.get("status") or {}
            self.statuses.add((str(obs.get("uid")), str(status.get("jobDeploymentStatus") or ""),
                               str(status.get("jobStatus") or "")))
            if obs.get("terminal") and obs.get("specDigest"):
                self.finished.append(FinishedJob(
                    ref=str(obs.get("ref")), uid=str(obs.get("uid")), spec_digest=str(obs["specDigest"]),
                    job_deployment_status=str(status.get("jobDeploymentStatus") or ""),
                    job_status=str(status.get("jobStatus") or ""), end_time=str(status.get("endTime") or ""),
                    run_id=entry.run_id, entry_id=entry.id, commit=str(obs.get("commit") or "")))

    def spec_digest_for(self, live: Mapping[str, Any], ref: ObjectRef) -> tuple[str, str]:
        """(spec digest, commit) of the run that last wrote this object (its run annotation)."""
        run = str(((live.get("metadata") or {}).get("annotations") or {}).get(RUN_ANNOTATION, ""))
        found = self.job_specs.get(run, {}).get(str(ref))
        return (found[0], found[1]) if found else ("", "")

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, Any]:
        return {
            "known": [k.to_json() for k in self.known.values()], "deletions": self.deletions,
            "statuses": sorted(list(s) for s in self.statuses),
            "finished": [vars(f) for f in self.finished],
            "openIntents": [vars(o) for o in self.open_intents.values()],
            "outcomes": {k: sorted(v) for k, v in self.outcomes.items()}, "jobSpecs": self.job_specs,
            "covered": self.covered, "last": list(self.last) if self.last else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RecordIndex:
        last = data.get("last")
        return cls(
            known={k["uid"]: Known.from_json(k) for k in data["known"]}, deletions=dict(data["deletions"]),
            statuses={(s[0], s[1], s[2]) for s in data["statuses"]},
            finished=[FinishedJob(**f) for f in data["finished"]],
            open_intents={o["id"]: OpenIntent(**o) for o in data["openIntents"]},
            outcomes={k: set(v) for k, v in data["outcomes"].items()}, job_specs=dict(data["jobSpecs"]),
            covered=int(data["covered"]), last=(int(last[0]), int(last[1]), str(last[2])) if last else None,
        )


def state_path(log: Path) -> Path:
    return log.with_name(log.name + SUFFIX)


def load(store: RecordStore) -> RecordIndex:
    """The folded state: the saved one if it still matches the log, plus the entries since."""
    index = _read(store)
    if index is None:
        return RecordIndex.build(store.entries())
    catch_up(store, index)
    return index


def _read(store: RecordStore) -> RecordIndex | None:
    try:
        data = json.loads(state_path(store.path).read_bytes())
        if data.get("v") != VERSION:
            return None
        index = RecordIndex.from_json(data["index"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    if index.last is None:
        return index if index.covered == 0 else None
    offset, length, digest = index.last
    try:
        with store.path.open("rb") as fh:
            fh.seek(offset)
            raw = fh.read(length + 1)
    except OSError:
        return None
    if raw[-1:] != b"\n" or sha256_hex(raw[:-1])[:16] != digest:
        return None  # the log changed under the state (rewritten, truncated): rebuild
    return index


def catch_up(store: RecordStore, index: RecordIndex, upto: int | None = None) -> None:
    """Fold the entries between what the index covers and `upto` (default: the end)."""
    try:
        with store.path.open("rb") as fh:
            fh.seek(index.covered)
            data = fh.read() if upto is None else fh.read(max(0, upto - index.covered))
    except OSError:
        return
    base = index.covered
    for item in scan_bytes(data).entries:
        index.add(Entry(item.line, base + item.offset, item.raw, item.statement))


def save(store: RecordStore, index: RecordIndex) -> None:
    """Best effort, atomic (write then rename): a lost or stale state only costs a rebuild."""
    path = state_path(store.path)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_bytes(canonical_json({"v": VERSION, "index": index.to_json()}))
        os.replace(tmp, path)
