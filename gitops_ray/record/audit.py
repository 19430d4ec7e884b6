"""The record: what the engine calls, and the only module that writes the record.

Integration contract for the engine (engine.py / reconcile), a handful of calls::

    store = audit.open_store(environment, record_dir)          # --record-dir wins, then record.dir
    recorder = audit.RunRecorder(
        store, environment=environment, run_id=run_id,
        source=provenance.source(commit, repository=..., ref=..., signature=provenance.verify_signature(root, commit)),
        actor=provenance.actor(kube_user=cluster.identity()),
        target=provenance.target(server=cluster.server, context=cluster.context, kuberay_version=...,
                                 crd_schema_version=desired.kuberay_version, namespaces=environment.namespaces),
        anchors=audit.default_anchors(environment, cluster=cluster,
                                      repository=repo, commit=commit_sha),
        close_on_finish=False,                                  # the engine closes after its last observe
    )
    recorder.recover(lambda ref: live.get(ref))    # 1. finish what a killed run left open, before anything new
    recorder.observe(live.owned)                    # 2. new objects, disappearances (with cause), final statuses
    plan = build_plan(..., history=recorder.job_history())   # "completed, do not re-run" reads the record
    apply.execute(plan, cluster, ApplyOptions(run_id=recorder.run_id, recorder=recorder, ...))
        # apply calls recorder.intent(plan, run_id) before its first write (the returned entry id is the
        # Audit-ID prefix: audit_id(entry_id, n)), recorder.evidence(change, live) before deleting or
        # replacing, recorder.outcome(result) after each write (thread-safe), recorder.finish(result)
    recorder.observe(read_live(...).owned)          # after apply: what the operator made, jobs that finished
    recorder.close(result)                          # one checkpoint + anchor write (Audit-ID <checkpoint id>-1)
    # plan-only / drift runs: recorder.observe(...); recorder.drift(plan); recorder.close()

`close` (and `finish`, unless `close_on_finish=False`) writes the `checkpoint`
entry and publishes it to the anchors; a run that dies before it leaves its
intent open for the next run's `recover`. An anchor that cannot be written is
recorded (observation `anchor-failed`) and listed in `recorder.notices`, never
raised. Every value that reaches the record passes the redactor built from the
plan and the observed objects: Secret values (as given and base64-decoded) are
removed everywhere, container env values from free text.

A run starts from the folded state saved beside the log (state.py) and
reads only what was appended since, so its cost does not grow with the record.
Two reconcilers of one environment must not run at once (the engine's lock):
each append is safe, but both could record the same disappearance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitops_ray.changes import Action, ApplyResult, Change, ChangeResult, Outcome, Plan
from gitops_ray.environment import Environment
from gitops_ray.errors import GitopsRayError
from gitops_ray.record import anchors as anchors_mod
from gitops_ray.record import evidence, facts, state
from gitops_ray.record.anchors import Anchor, Checkpoint, ConfigMapAnchor, ConfigMapClient, GitNoteAnchor
from gitops_ray.record.entries import Draft, Entry, EntryKind, audit_id, now_iso, object_digest, subject
from gitops_ray.record.gitnotes import RepositoryNotes
from gitops_ray.record.redact import Redactor, bounded
from gitops_ray.record.store import RecordStore
from gitops_ray.refs import ObjectRef

DEFAULT_RECORD_DIR = ".gitops-ray/records"

__all__ = ["DEFAULT_RECORD_DIR", "RepositoryNotes", "RunRecorder", "audit_id", "completed_job", "default_anchors",
           "open_store", "record_path", "unfinished_intents"]


def record_path(environment: Environment | str, record_dir: str | Path | None = None, *,
                base: Path | None = None) -> Path:
    """`--record-dir` if given, else the environment's `record.dir`, else `.gitops-ray/records`;
    relative directories are relative to the current directory (`base`)."""
    name = environment if isinstance(environment, str) else environment.name
    configured = None if isinstance(environment, str) else environment.record.dir
    directory = Path(record_dir or configured or DEFAULT_RECORD_DIR).expanduser()
    if not directory.is_absolute():
        directory = (base or Path.cwd()) / directory
    return directory / f"{name}.jsonl"


def open_store(environment: Environment | str, record_dir: str | Path | None = None) -> RecordStore:
    name = environment if isinstance(environment, str) else environment.name
    return RecordStore(record_path(environment, record_dir), environment=name)


def unfinished_intents(store: RecordStore) -> list[evidence.UnfinishedIntent]:
    """Runs that died mid-way (an intent without all its outcomes and without a checkpoint)."""
    return evidence.unfinished_intents(state.load(store))


def completed_job(store: RecordStore, ref: ObjectRef, spec_digest: str) -> evidence.FinishedJob | None:
    """The recorded terminal status of this RayJob for this spec digest (plan.spec_digest)."""
    return evidence.completed_job(state.load(store), ref, spec_digest)


def default_anchors(environment: Environment, *, cluster: ConfigMapClient | None = None, repository: Any = None,
                    commit: str = "", namespace: str | None = None) -> list[Anchor]:
    """The anchors the environment asks for (record.anchorConfigMap / anchorGitNote) that can be reached.
    `cluster`: a ConfigMapClient (cluster.Cluster is one)."""
    found: list[Anchor] = []
    if cluster is not None and environment.record.anchor_configmap and (namespace or environment.namespaces):
        found.append(ConfigMapAnchor(client=cluster, namespace=namespace or environment.namespaces[0],
                                     environment=environment.name))
    if repository is not None and commit and environment.record.anchor_git_note:
        found.append(GitNoteAnchor(notes=RepositoryNotes(repository), commit=commit, environment=environment.name))
    return found


# --------------------------------------------------------------------------- the recorder


def _rv(obj: Mapping[str, Any] | None) -> str | None:
    value = ((obj or {}).get("metadata") or {}).get("resourceVersion")
    return str(value) if value else None


def _uid(obj: Mapping[str, Any] | None) -> str | None:
    value = ((obj or {}).get("metadata") or {}).get("uid")
    return str(value) if value else None


def _subject(change: Change, body: Mapping[str, Any] | None) -> dict[str, Any]:
    ref = change.ref
    from gitops_ray.record.entries import subject_name

    return subject(subject_name(change.api_version, ref.kind, ref.namespace, ref.name), object_digest(body))


class RunRecorder:
    """One run's view of the record. Satisfies apply.Recorder; safe to call from apply's threads."""

    def __init__(
        self,
        store: RecordStore,
        *,
        environment: Environment | str,
        run_id: str = "",
        source: Mapping[str, Any] | None = None,
        actor: Mapping[str, Any] | None = None,
        target: Mapping[str, Any] | None = None,
        anchors: Sequence[Anchor] = (),
        waivers: Mapping[ObjectRef, Sequence[str]] | None = None,
        operator_env: Mapping[str, str] | None = None,
        close_on_finish: bool = True,
    ) -> None:
        from gitops_ray.changes import new_run_id

        self.store = store
        self.environment = environment if isinstance(environment, str) else environment.name
        if operator_env is None and not isinstance(environment, str):
            operator_env = dict(environment.operator.env or {})
        self.operator_env = dict(operator_env or {})
        self.run_id = run_id or new_run_id()
        self.context = {"source": dict(source or {}), "actor": dict(actor or {}), "target": dict(target or {})}
        self.anchors = list(anchors)
        self.waivers = {k: list(v) for k, v in (waivers or {}).items()}
        self.close_on_finish = close_on_finish  # False: the engine observes after apply, then closes
        self.redactor = Redactor()
        self.notices: list[str] = []
        self.intent_id = ""
        self.checkpoint: Checkpoint | None = None
        self._lock = threading.RLock()
        self._index: evidence.RecordIndex | None = None
        self._written = 0
        self._since_checkpoint = 0
        self._numbers: dict[ObjectRef, int] = {}
        self._planned: dict[int, Change] = {}
        self._outcomes: dict[int, Outcome] = {}

    # ------------------------------------------------------------------ plumbing

    @property
    def index(self) -> evidence.RecordIndex:
        with self._lock:
            if self._index is None:
                self._index = state.load(self.store)
            return self._index

    def refresh(self) -> evidence.RecordIndex:
        """Fold what other writers appended since (two reconcilers of one environment
        should not run at once; this narrows what such a race can double-record)."""
        with self._lock:
            index = self.index
            state.catch_up(self.store, index)
            return index

    def _append(self, drafts: Sequence[Draft]) -> list[Entry]:
        with self._lock:
            index = self.index
            safe = [Draft(kind=d.kind, run_id=d.run_id, subjects=d.subjects, entry=d.entry,
                          predicate=self.redactor.scrub(d.predicate)) for d in drafts]
            written = self.store.append_all(safe)
            if written and written[0].offset > index.covered:
                state.catch_up(self.store, index, upto=written[0].offset)  # another writer's entries
            for entry in written:
                index.add(entry)
            self._written += len(written)
            self._since_checkpoint += len(written)
            return written

    def _draft(self, kind: EntryKind, predicate: dict[str, Any], subjects: Sequence[dict[str, Any]] = (),
               **entry: Any) -> Draft:
        return Draft(kind=kind, run_id=self.run_id, predicate=predicate, subjects=list(subjects), entry=entry)

    # ------------------------------------------------------------------ before planning

    def job_history(self) -> _JobHistory:
        return _JobHistory(self)

    def recover(self, live: Callable[[ObjectRef], Mapping[str, Any] | None]) -> list[Entry]:
        """Recovery outcomes for every write a killed run left without one (what the cluster shows)."""
        drafts = []
        for unfinished in evidence.unfinished_intents(self.refresh()):
            for action in unfinished.missing:
                ref = evidence.ref_from(str(action["ref"]), str(action.get("apiVersion", "")))
                obj = live(ref)
                found = evidence.recovery_state(action, obj, unfinished.run_id)
                result = {"outcome": "recovered", "state": found, "uidBefore": action.get("uidBefore"),
                          "uidAfter": _uid(obj) if action.get("op") != "delete" else None, "rvAfter": _rv(obj),
                          "liveAfterSha256": object_digest(obj), "recoveredBy": self.run_id,
                          "message": f"run {unfinished.run_id} stopped before recording this action"}
                name = f"{action.get('apiVersion')}/{action['ref']}"
                drafts.append(self._draft(
                    EntryKind.OUTCOME, {"action": {k: action.get(k) for k in ("n", "ref", "apiVersion", "op",
                                                                                 "strategy")},
                                        "result": {k: v for k, v in result.items() if v is not None}},
                    [subject(name, object_digest(obj) or action.get("desiredSha256"))],
                    intentId=unfinished.intent.id, recovery=True))
        return self._append(drafts) if drafts else []

    def observe(self, owned: Mapping[ObjectRef, Mapping[str, Any]], *,
                prunes: Mapping[str, str] | None = None) -> list[Entry]:
        """Inventory new owned objects, classify the ones that vanished, keep final RayJob statuses."""
        index = self.refresh()
        previously = list(index.known.values())
        drafts: list[Draft] = []
        appeared = []
        for ref, obj in owned.items():
            uid = _uid(obj)
            if uid and uid not in index.known:
                rules = facts.cleanup(obj) if obj.get("kind") in ("RayJob", "RayCronJob") else None
                digest = index.spec_digest_for(obj, ref)[0] if ref.kind == "RayJob" else ""
                appeared.append(evidence.known_from_live(obj, rules, digest).to_json())
        if appeared:
            drafts.append(self._draft(EntryKind.OBSERVATION, {"observation": {"type": "inventory",
                                                                              "appeared": appeared}},
                                      [subject(f"{a['apiVersion']}/{a['ref']}", None, uid=a["uid"]) for a in appeared]))
        vanished = []
        secrets_learned = False
        for ref, obj in owned.items():
            if ref.kind == "RayJob" and evidence.is_terminal(obj) and evidence.status_key(obj) not in index.statuses:
                # A status message can echo the job's env or a Secret: learn those values first
                # (only here: walking every listed object each run costs seconds at 10k objects).
                if not secrets_learned:
                    for other_ref, other in owned.items():
                        if other_ref.kind == "Secret":
                            self.redactor.learn(other)
                    secrets_learned = True
                self.redactor.learn(obj)
                drafts.append(self._status_draft(ref, obj, "terminal"))
                unlisted = evidence.unlisted_cluster(obj, owned, index)
                if unlisted is not None:
                    vanished.append(unlisted)
        vanished += evidence.classify_disappearances(previously, owned, prunes or {}, index,
                                                     operator_env=self.operator_env)
        for gone in vanished:
            drafts.append(self._draft(EntryKind.OBSERVATION, {"observation": gone.to_json()},
                                      [subject(f"{gone.api_version}/{gone.ref}", None, uid=gone.uid)]))
        return self._append(drafts) if drafts else []

    def _status_draft(self, ref: ObjectRef, live: Mapping[str, Any], when: str) -> Draft:
        digest, commit = self.index.spec_digest_for(live, ref)
        status = evidence.final_status(live) if ref.kind == "RayJob" else evidence.cluster_status(live)
        observation = {"type": "final-status", "ref": str(ref), "apiVersion": live.get("apiVersion"),
                       "uid": _uid(live), "status": self.redactor.scrub(status, free_text=True), "when": when,
                       "terminal": ref.kind == "RayJob" and evidence.is_terminal(live), "specDigest": digest,
                       "commit": commit, "facts": facts.facts_of(live)}
        name = f"{live.get('apiVersion')}/{ref}"
        return self._draft(EntryKind.OBSERVATION, {"observation": {k: v for k, v in observation.items() if v != ""}},
                           [subject(name, object_digest(live), uid=_uid(live))])

    def drift(self, plan: Plan) -> list[Entry]:
        """Out-of-band changes a report-only run found (live differs from Git; not corrected)."""
        drafts = []
        for change in plan.changes:
            if change.action in (Action.UPDATE, Action.REPLACE, Action.CREATE):
                self.redactor.learn(change.desired)
                self.redactor.learn(change.live)
                drafts.append(self._draft(EntryKind.OBSERVATION, {"observation": {
                    "type": "drift", "ref": str(change.ref), "apiVersion": change.api_version,
                    "uid": change.live_uid, "would": change.action.value, "reason": change.reason,
                    "changedPaths": [d.path for d in change.diff], "diff": self._diff(change)}},
                    [_subject(change, change.live)]))
        return self._append(drafts) if drafts else []

    # ------------------------------------------------------------------ apply.Recorder

    def _diff(self, change: Change) -> list[dict[str, Any]]:
        return [bounded(self.redactor.scrub(d.to_json(), free_text=True)) for d in change.diff[:500]]

    def intent(self, plan: Plan, run_id: str) -> str:
        with self._lock:
            if run_id and run_id != self.run_id and not self._written:
                self.run_id = run_id
            actions, subjects = [], []
            for n, change in enumerate(plan.changes):
                self.redactor.learn(change.desired)
                self.redactor.learn(change.live)
                if change.action is Action.NOOP:
                    continue
                self._numbers[change.ref] = n
                self._planned[n] = change
                actions.append(self._planned_action(n, change))
                subjects.append(_subject(change, change.desired if change.desired is not None else change.live))
            if not any(c.action.writes for c in plan.changes):
                self._numbers.clear()
                return self.run_id  # nothing will be written: nothing to intend
            predicate = {**self.context, "environment": self.environment,
                         "plan": {"commit": plan.commit, "snapshot": plan.snapshot, "target": plan.target,
                                  "kuberayVersion": plan.kuberay_version, "summary": plan.summary()},
                         "actions": actions}
            entry = self._append([self._draft(EntryKind.INTENT, predicate, subjects)])[0]
            self.intent_id = entry.id
            return entry.id

    def _planned_action(self, n: int, change: Change) -> dict[str, Any]:
        from gitops_ray.changes import spec_digest

        body = change.desired if change.desired is not None else change.live
        out: dict[str, Any] = {
            "n": n, "ref": str(change.ref), "apiVersion": change.api_version, "op": change.action.value,
            "strategy": change.strategy, "reason": change.reason, "source": change.source, "wave": change.wave,
            "warnings": list(change.warnings), "changedPaths": [d.path for d in change.diff],
            "diff": self._diff(change), "desiredSha256": object_digest(change.desired),
            "liveBeforeSha256": object_digest(change.live), "uidBefore": change.live_uid, "rvBefore": _rv(change.live),
            "impact": change.impact.to_json(), "facts": facts.facts_of(body or {}),
            "waivers": self.waivers.get(change.ref, []),
        }
        if change.ref.kind == "RayJob" and change.desired is not None:
            out["specDigest"] = spec_digest(change.desired)
        return {k: v for k, v in out.items() if v not in (None, "", [])}

    def evidence(self, change: Change, live: dict[str, Any]) -> None:
        """Before a delete or replace: the object's last status, once per (uid, state)."""
        if change.ref.kind not in ("RayJob", "RayCluster", "RayService"):
            return
        if change.ref.kind == "RayJob" and evidence.status_key(live) in self.refresh().statuses:
            return
        self._append([self._status_draft(change.ref, live, f"before {change.action.value}")])

    def outcome(self, result: ChangeResult) -> None:
        change = result.change
        with self._lock:
            n = self._numbers.get(change.ref, -1)
            if n in self._outcomes:
                return
            self._outcomes[n] = result.outcome
        after = result.live_after
        values: dict[str, Any] = {
            "outcome": result.outcome.value, "message": result.message, "http": result.http_status,
            "error": result.error, "durationS": round(result.duration_s, 3), "auditIDs": list(result.audit_ids),
            "forced": result.forced or None, "uidBefore": change.live_uid,
            "uidAfter": result.uid_after if change.action is not Action.DELETE else None,
            "rvBefore": _rv(change.live), "rvAfter": _rv(after), "desiredSha256": object_digest(change.desired),
            "liveBeforeSha256": object_digest(change.live), "liveAfterSha256": object_digest(after),
        }
        values = self.redactor.scrub({k: v for k, v in values.items() if v not in (None, "", [])}, free_text=True)
        action = {"n": n, "ref": str(change.ref), "apiVersion": change.api_version, "op": change.action.value,
                  "strategy": change.strategy}
        self._append([self._draft(EntryKind.OUTCOME, {"action": action, "result": values},
                                  [_subject(change, after or change.desired or change.live)],
                                  intentId=self.intent_id)])

    def finish(self, result: ApplyResult | None = None) -> None:
        if result is not None and self.intent_id:
            for res in result.results:
                n = self._numbers.get(res.change.ref)
                if n is None:
                    continue
                recorded = self._outcomes.get(n)
                if recorded is None:
                    self.outcome(res)
                elif recorded is not res.outcome:
                    self._append([self._draft(EntryKind.OBSERVATION, {"observation": {
                        "type": "health", "ref": str(res.change.ref), "n": n, "outcome": res.outcome.value,
                        "message": self.redactor.scrub(res.message, free_text=True)}}, [_subject(res.change, None)])])
        if self.close_on_finish:
            self.close(result)

    def close(self, result: ApplyResult | None = None) -> Checkpoint | None:
        """Checkpoint and anchors, if this run wrote anything since its last checkpoint."""
        with self._lock:
            if not self._since_checkpoint:
                return self.checkpoint
            run: dict[str, Any] = {"intentId": self.intent_id or None}
            if result is not None:
                run.update(ok=result.ok, dryRun=result.dry_run,
                           outcomes={o.value: len(result.by_outcome(o)) for o in Outcome if result.by_outcome(o)})
            predicate = {**self.context, "environment": self.environment,
                         "checkpoint": {"origin": anchors_mod.ORIGIN_PREFIX + self.environment},
                         "anchors": [a.describe() for a in self.anchors], "run": run}
            name = anchors_mod.ORIGIN_PREFIX + self.environment
            entry = self._append([self._draft(EntryKind.CHECKPOINT, predicate, [subject(name, None)])])[0]
            self._since_checkpoint = 0
            self.checkpoint = Checkpoint.of(self.environment, entry.seq, entry.hash)
            state.save(self.store, self.index)
            failures = anchors_mod.publish(self.anchors, self.checkpoint, now_iso(), audit_id(entry.id, 1))
        for anchor, message in failures:
            self.notices.append(f"anchor not written: {anchor.where}: {message}")
            try:
                self._append([self._draft(EntryKind.OBSERVATION, {"observation": {
                    "type": "anchor-failed", "where": anchor.where, "checkpointSeq": entry.seq, "error": message}})])
            except GitopsRayError as err:
                self.notices.append(err.message)
        with self._lock:
            self._since_checkpoint = 0  # the failure notes ride on the next run's checkpoint
        return self.checkpoint


class _JobHistory:
    """plan.JobHistory over the record: a RayJob that already ran to the end for this spec."""

    def __init__(self, recorder: RunRecorder) -> None:
        self.recorder = recorder

    def finished(self, ref: ObjectRef, spec_digest: str) -> str | None:
        job = evidence.completed_job(self.recorder.index, ref, spec_digest)
        return job.describe() if job else None
