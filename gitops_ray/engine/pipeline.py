"""One reconcile, stage by stage: source -> manifests -> validate -> live -> plan (-> apply -> record).

The CLI commands `plan`, `apply` (and later `reconcile`) are thin layers over
these functions; each stage is a plain function of plain data, so tests can run
any prefix of the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ray import __version__, kinds
from gitops_ray.environment import Environment, load_environment, manifest_files
from gitops_ray.errors import GitopsRayError
from gitops_ray.findings import Finding, Severity
from gitops_ray.manifests import LoadResult, Manifest, Origin, SourceFile, find_duplicates, load_bytes
from gitops_ray.refs import ObjectRef
from gitops_ray.source import NotAFile, Snapshot, open_snapshot
from gitops_ray.trust import private_dir, private_write

CACHE_VERSION = "2"


class InvalidManifests(GitopsRayError):
    """The commit's manifests do not validate: nothing is planned or applied."""

    exit_code = 1

    def __init__(self, findings: Sequence[Finding]) -> None:
        errors = [f for f in findings if f.is_error]
        shown = "\n".join(f"  {f.location()}: {f.kind + '/' + f.name + ': ' if f.name else ''}"
                          f"{f.path + ': ' if f.path else ''}{f.message}" for f in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} invalid manifest finding(s); nothing was planned:\n{shown}{more}")
        self.findings = list(findings)


@dataclass(frozen=True, kw_only=True)
class Desired:
    snapshot: Snapshot
    environment: Environment
    manifests: list[Manifest]
    warnings: list[Finding]
    kuberay_version: str
    documents: int
    kubernetes_version: str = ""


def open_environment(*, env: str, repo: str | None, ref: str | None, worktree: bool) -> tuple[Snapshot, Environment]:
    snapshot = open_snapshot(repo=repo, ref=ref, worktree=worktree)
    return snapshot, load_environment(snapshot, env)


def load_desired(
    snapshot: Snapshot,
    environment: Environment,
    *,
    kuberay_version: str | None = None,
    kubernetes_version: str | None = None,
    validate: bool = True,
    cache_dir: Path | None = None,
) -> Desired:
    """Parse and validate, both cached by Git blob id; refuse to go on if anything is invalid."""
    import gitops_ray.checks.schemas as schemas

    version = schemas.select_version(kuberay_version or environment.kuberay_version)
    k8s_version = schemas.select_kubernetes_version(kubernetes_version or environment.kubernetes_version)
    default_ns = environment.namespaces[0] if len(environment.namespaces) == 1 else ""
    cache = cache_dir if cache_dir is not None else default_cache_dir()
    context = _validation_context(environment, version, k8s_version)
    manifests: list[Manifest] = []
    documents = 0
    unchecked: list[Manifest] = []
    entries: list[tuple[Path, LoadResult]] = []
    cached_warnings: list[Finding] = []
    findings: list[Finding] = []
    for path in manifest_files(snapshot, environment):
        loaded, entry, validated = _load_cached(snapshot, path, default_ns, cache, context)
        manifests.extend(loaded.manifests)
        documents += loaded.documents
        if validated:
            cached_warnings.extend(loaded.findings)  # replayed: only clean files are cached
            continue
        findings.extend(loaded.findings)
        unchecked.extend(loaded.manifests)
        if not loaded.findings:
            entries.append((entry, loaded))
    findings += find_duplicates(manifests)
    if validate and unchecked:
        import gitops_ray.checks.validate as validation

        findings += validation.validate_manifests(unchecked, version=version, environment=environment,
                                                  kubernetes_version=k8s_version)
    errors = [f for f in findings if f.is_error]
    if errors:
        raise InvalidManifests(findings)
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        by_file.setdefault(finding.file, []).append(finding)
    for entry, loaded in entries:
        if loaded.manifests:
            _store(entry, loaded, validated=validate, warnings=by_file.get(loaded.manifests[0].origin.file, []))
    warnings = [f for f in findings if not f.is_error] + cached_warnings
    return Desired(snapshot=snapshot, environment=environment, manifests=manifests,
                   warnings=sorted(warnings, key=lambda f: (f.file, f.line, f.column)), kuberay_version=version,
                   documents=documents, kubernetes_version=k8s_version)


def _validation_context(environment: Environment, version: str, kubernetes_version: str = "") -> str:
    """What a validation verdict depends on besides the file: schema versions and policy."""
    policy = {"version": version, "kubernetes": kubernetes_version, "namespaces": environment.namespaces,
              "clusterScoped": [[r.group, r.kind, list(r.names or ())] for r in environment.cluster_scoped],
              "gates": dict(environment.operator.feature_gates or {}), "env": dict(environment.operator.env or {}),
              "gitops_ray": __version__}
    return hashlib.sha256(json.dumps(policy, sort_keys=True).encode()).hexdigest()


def _cache_base(directory: Path) -> Path:
    """The `gitops-ray` directory of the user's cache (made private along with its children);
    a cache directory given explicitly is its own base."""
    return directory.parent if directory.parent.name == "gitops-ray" else directory


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gitops-ray" / "manifests"


def _load_cached(
    snapshot: Snapshot, path: str, default_ns: str, cache: Path, context: str
) -> tuple[LoadResult, Path, bool]:
    """Parsed documents are cached by the file's Git blob id (content-addressed, so an entry
    is never stale), with whether they validated clean under `context`."""
    try:
        blob = snapshot.blob_id(path)
        data = snapshot.read(path)
    except NotAFile as err:
        return LoadResult(findings=[not_a_file_finding(err)]), cache / "-", False
    key = hashlib.sha256(f"{CACHE_VERSION}\0{blob}\0{path}\0{default_ns}\0{context}".encode()).hexdigest()
    entry = cache / key[:2] / f"{key}.json"
    try:
        cached = json.loads(entry.read_bytes())
    except (OSError, ValueError):
        cached = None
    if cached is not None:
        return _from_cache(path, data, cached), entry, bool(cached.get("validated"))
    return load_bytes(path, data, default_namespace=default_ns), entry, False


def _store(entry: Path, loaded: LoadResult, *, validated: bool, warnings: Sequence[Finding]) -> None:
    """Cache a parsed file, privately (0600 in 0700 directories). A file holding a Secret is
    never cached: its data would sit on disk in the clear (docs/security.md)."""
    if any(m.ref.kind == "Secret" and not m.ref.group for m in loaded.manifests):
        return
    records = [{"body": m.body, "doc": m.origin.document, "line": m.origin.line, "column": m.origin.column,
                "span": list(m.doc_span), "item": list(m.item_path),
                "ref": [m.ref.group, m.ref.kind, m.ref.namespace, m.ref.name], "apiVersion": m.api_version}
               for m in loaded.manifests]
    try:
        private_dir(entry.parent, base=_cache_base(entry.parent.parent))
        data = {"documents": loaded.documents, "validated": validated, "manifests": records,
                "warnings": [f.to_json() for f in warnings]}
        private_write(entry, json.dumps(data, separators=(",", ":")).encode())
    except OSError:
        pass  # a read-only cache is only slower


def _from_cache(path: str, data: bytes, cached: dict[str, Any]) -> LoadResult:
    source = SourceFile(path, data.decode("utf-8-sig"))
    manifests = [
        Manifest(ref=ObjectRef(*r["ref"]), api_version=r["apiVersion"], body=r["body"],
                 origin=Origin(path, r["doc"], r["line"], r["column"]), source=source,
                 doc_span=(r["span"][0], r["span"][1]), item_path=tuple(r["item"]))
        for r in cached["manifests"]
    ]
    warnings = [Finding(file=w["file"], line=w["line"], column=w["column"], message=w["message"], rule=w["rule"],
                        severity=Severity(w["severity"]), path=w["path"], api_version=w["apiVersion"],
                        kind=w["kind"], namespace=w["namespace"], name=w["name"]) for w in cached.get("warnings", ())]
    return LoadResult(manifests=manifests, findings=warnings, documents=int(cached["documents"]))


def not_a_file_finding(err: NotAFile, file: str | None = None) -> Finding:
    """A link, submodule or LFS pointer, reported by name as what it is (not as invalid YAML)."""
    return Finding(file=file or err.path, line=1, column=1, rule=err.rule, message=err.what)


def desired_refs(manifests: Sequence[Manifest]) -> list[tuple[str, ObjectRef]]:
    out = []
    for m in manifests:
        ref = m.ref
        if not ref.namespace and kinds.is_namespaced(ref.group, ref.kind):
            continue  # validation has already refused these
        out.append((m.api_version, ref))
    return out


def _verified_file(environment: Environment, server: str, cache: Path | None = None) -> Path:
    """Per environment, cluster and policy (ignore rules change what "in sync" means)."""
    policy = json.dumps({"env": environment.name, "server": server, "version": __version__,
                         "ignore": [[r.kind, r.group, r.name, r.namespace, list(r.paths)] for r in environment.ignore]},
                        sort_keys=True)
    key = hashlib.sha256(policy.encode()).hexdigest()[:24]
    return (cache or default_cache_dir()).parent / "in-sync" / f"{key}.json"


def load_verified(environment: Environment, server: str, cache: Path | None = None) -> dict[str, tuple[str, str]]:
    try:
        data = json.loads(_verified_file(environment, server, cache).read_bytes())
    except (OSError, ValueError):
        return {}
    return {uid: (str(v[0]), str(v[1])) for uid, v in data.items()}


def save_verified(environment: Environment, server: str, marks: dict[str, tuple[str, str]],
                  cache: Path | None = None) -> None:
    path = _verified_file(environment, server, cache)
    try:
        private_dir(path.parent, base=_cache_base(path.parent))
        private_write(path, json.dumps(marks, separators=(",", ":")).encode())
    except OSError:
        pass  # only slower next time
