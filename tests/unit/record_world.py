"""A small in-memory world for record tests: a fake cluster (the handful of calls apply and
the anchors make), a fake notes store, manifests with secret canaries, and a run helper.

The fake cluster is not a mock of the kubernetes client: it is an object that keeps
objects in a dict and satisfies the same duck-typed calls `apply.execute` and
`anchors.ConfigMapClient` make, so the record can be exercised end to end in
milliseconds. The sandbox integration tests exercise the real client.
"""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

from gitops_ray.changes import ApplyResult, Plan
from gitops_ray.cluster import ENVIRONMENT_LABEL, MANAGED_BY_LABEL
from gitops_ray.engine.apply import ApplyOptions, execute
from gitops_ray.engine.plan import LiveState, PlanOptions, build_plan
from gitops_ray.environment import parse_environment
from gitops_ray.manifests import load_text
from gitops_ray.record import audit, provenance
from gitops_ray.record.store import RecordStore
from gitops_ray.refs import ObjectRef
from gitops_ray.source import Commit

CANARY_SECRET = "canary-s3cret-9d8f7e"
CANARY_ENV = "canary-envvalue-5b4a3c"

ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {}}
  namespaces: [ray-dev]
"""

NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-dev}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: ray-dev}\ndata: {a: '1'}\n"
SECRET = f"""apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: ray-dev}}
stringData: {{token: {CANARY_SECRET}}}
data: {{password: Y2FuYXJ5LXMzY3JldC1iYXNlNjQtdmFsdWU=}}
"""
SECRET_B64_DECODED = "canary-s3cret-base64-value"
JOB = f"""apiVersion: ray.io/v1
kind: RayJob
metadata: {{name: job, namespace: ray-dev}}
spec:
  entrypoint: python run.py
  shutdownAfterJobFinishes: true
  ttlSecondsAfterFinished: 60
  rayClusterSpec:
    rayVersion: "2.46.0"
    headGroupSpec:
      template:
        spec:
          containers:
            - name: head
              image: "rayproject/ray:2.46.0"
              env:
                - {{name: API_TOKEN, value: {CANARY_ENV}}}
                - {{name: DB, valueFrom: {{secretKeyRef: {{name: creds, key: password}}}}}}
    workerGroupSpecs:
      - groupName: gpu
        replicas: 1
        minReplicas: 1
        maxReplicas: 2
        template:
          spec:
            containers:
              - name: w
                image: "rayproject/ray:2.46.0-gpu"
                resources: {{limits: {{nvidia.com/gpu: "2"}}}}
"""


def environment() -> Any:
    return parse_environment("environments/dev/environment.yaml", ENV.encode())


def manifests(*docs: str) -> list[Any]:
    result = load_text("environments/dev/app.yaml", "---\n".join(docs))
    assert result.findings == []
    return result.manifests


class FakeNotes:
    def __init__(self) -> None:
        self.notes: dict[str, str] = {}
        self.commits: set[str] = set()

    def read_note(self, sha: str) -> str | None:
        return self.notes.get(sha)

    def add_note(self, sha: str, text: str) -> None:
        self.notes[sha] = text
        self.commits.add(sha)

    def noted_commits(self) -> list[str] | None:
        return sorted(self.notes) if self.notes else None

    def has_commit(self, sha: str) -> bool:
        return sha in self.commits


class FakeCluster:
    server = "https://fake:6443"
    context = "fake"

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (verb, "Kind/ns/name", audit id)
        self._uid = itertools.count(1)
        self._rv = itertools.count(100)
        self.fail_configmap = False

    @staticmethod
    def key(obj: dict[str, Any]) -> tuple[str, str, str]:
        meta = obj.get("metadata") or {}
        return (str(obj["kind"]), str(meta.get("namespace", "")), str(meta["name"]))

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        old = self.objects.get(self.key(obj))
        meta["uid"] = (old or {}).get("metadata", {}).get("uid") or f"uid-{next(self._uid)}"
        meta["resourceVersion"] = str(next(self._rv))
        if old and "status" in old and "status" not in obj:
            obj["status"] = old["status"]
        self.objects[self.key(obj)] = obj
        return copy.deepcopy(obj)

    # apply.execute's calls
    def apply(self, body: dict[str, Any], *, force: bool = False, dry_run: bool = False,
              audit_id: str | None = None, field_manager: str = "gitops-ray") -> dict[str, Any]:
        self.requests.append(("apply", "/".join(self.key(body)), audit_id))
        return self.put(body)

    def delete(self, api_version: str, kind: str, namespace: str | None, name: str, *, propagation: str = "Background",
               uid: str | None = None, dry_run: bool = False, audit_id: str | None = None) -> dict[str, Any] | None:
        self.requests.append(("delete", f"{kind}/{namespace or ''}/{name}", audit_id))
        self.objects.pop((kind, namespace or "", name), None)
        return None

    def list_objects(self, api_version: str, kind: str, *, namespace: str | None = None,
                     label_selector: str | None = None, field_selector: str | None = None,
                     page_size: int = 500) -> list[dict[str, Any]]:
        out = [copy.deepcopy(o) for (k, ns, _), o in self.objects.items() if k == kind
               and (namespace is None or ns == namespace)]
        if field_selector and field_selector.startswith("metadata.name="):
            out = [o for o in out if o["metadata"]["name"] == field_selector.split("=", 1)[1]]
        return out

    # anchors.ConfigMapClient
    def read_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get(("ConfigMap", namespace, name))
        return copy.deepcopy(found) if found else None

    def apply_configmap(self, body: dict[str, Any], *, audit_id: str | None = None) -> None:
        if self.fail_configmap:
            from gitops_ray.errors import ClusterError

            raise ClusterError("connection refused")
        self.put(body)

    # helpers for tests
    def owned(self, env: str = "dev") -> dict[ObjectRef, dict[str, Any]]:
        out = {}
        for obj in self.objects.values():
            labels = (obj.get("metadata") or {}).get("labels") or {}
            if labels.get(MANAGED_BY_LABEL) == "gitops-ray" and labels.get(ENVIRONMENT_LABEL) == env:
                out[ObjectRef.from_object(obj)] = copy.deepcopy(obj)
        return out

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((kind, namespace, name))


COMMIT = Commit(sha="a" * 40, author="Ada Author", author_email="ada@example.com", authored_at="2026-01-01T00:00:00",
                committer="Carl Committer", committer_email="carl@example.com", committed_at="2026-01-01T00:00:00",
                message="Add batch job (#42)\n\nChange-Reason: nightly scoring\nReviewed-by: Rita Reviewer",
                signed=False)


class World:
    """One environment, one fake cluster, one record, one notes store."""

    def __init__(self, record_dir: Path, notes: Any = None) -> None:
        self.env = environment()
        self.cluster = FakeCluster()
        self.notes = notes if notes is not None else FakeNotes()
        self.store = RecordStore(record_dir / "dev.jsonl", environment="dev")
        self.commit = COMMIT

    def recorder(self, commit: Commit | None = None) -> audit.RunRecorder:
        commit = commit or self.commit
        if isinstance(self.notes, FakeNotes):
            self.notes.commits.add(commit.sha)
        anchors = audit.default_anchors(self.env, cluster=self.cluster)
        anchors.append(audit.GitNoteAnchor(notes=self.notes, commit=commit.sha, environment="dev"))
        return audit.RunRecorder(
            self.store, environment=self.env,
            source=provenance.source(commit, repository="git@example.com:org/repo.git", ref="refs/heads/main",
                                     env={}),
            actor=provenance.actor({"GITHUB_ACTOR": "deploy-bot", "GITHUB_RUN_ID": "77"}, kube_user="system:admin"),
            target=provenance.target(server=self.cluster.server, context="fake", kuberay_version="1.5.1"),
            anchors=anchors,
        )

    def plan(self, *docs: str, recorder: audit.RunRecorder | None = None, commit: Commit | None = None) -> Plan:
        live = LiveState(owned=self.cluster.owned())
        options = PlanOptions(environment=self.env, commit=(commit or self.commit).sha)
        history = recorder.job_history() if recorder else None
        return build_plan(manifests(*docs), live, options, history=history)

    def run(self, *docs: str, commit: Commit | None = None) -> tuple[ApplyResult, audit.RunRecorder]:
        """One reconcile the way the engine does it: recover, observe, plan, apply, observe, close."""
        recorder = self.recorder(commit)
        recorder.recover(lambda ref: self.cluster.get(ref.kind, ref.namespace, ref.name))
        recorder.observe(self.cluster.owned())
        plan = self.plan(*docs, recorder=recorder, commit=commit)
        recorder.close_on_finish = False  # as the engine: one checkpoint after the post-apply inventory
        result = execute(plan, self.cluster, ApplyOptions(environment=self.env, wait=False, run_id=recorder.run_id,
                                                          recorder=recorder))  # type: ignore[arg-type]
        recorder.observe(self.cluster.owned())
        recorder.close(result)
        return result, recorder
