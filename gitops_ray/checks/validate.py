"""Validation: schemas, the KubeRay operator's own rules and environment policy, each finding at file:line:column.

The hot path, per document (measurements: docs/benchmarks.md):

1. libyaml parse (manifests.load_bytes; YAML 1.1 like the Kubernetes decoder);
2. a compiled jsonschema-rs validator answers yes/no (~5 µs);
3. only a "no" costs more: for custom resources, nulls in non-nullable fields
   are dropped as the API server drops them and the document re-checked
   (defaulted fields are not `required` in the converted schemas, which is
   what applying the defaults first amounts to); if it still fails, jsonschema
   - the validator of record, whose messages users read - explains it, and
   each error is placed with ruamel.yaml (Manifest.locate);
4. schema-valid KubeRay objects go through kuberay_rules, every object through policy.

Validators are compiled once per (apiVersion, kind) per process and reused.
Large inputs are split by files across a fork()ed process pool; workers send
back findings and counts, never manifests. Nothing here imports the Kubernetes
client, and jsonschema is imported only when a document fails.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitops_ray.checks import k8s_values, kuberay_rules, names, policy
from gitops_ray.checks.crdschema import prune_nulls
from gitops_ray.checks.schemas import SchemaEntry, SchemaSet, entry_schema, schema_set
from gitops_ray.findings import Finding, FindingsVerdict, Severity
from gitops_ray.kinds import RAY_GROUP
from gitops_ray.manifests import LoadResult, Manifest, PathElem, find_duplicates, format_path, load_bytes
from gitops_ray.refs import ObjectRef
from gitops_ray.trust import holds_secret, mask_url_credentials

if TYPE_CHECKING:
    from gitops_ray.environment import ClusterScopedRule, Environment, OperatorConfig

POOL_MIN_BYTES = 1 << 20
"""Below this much YAML a process pool costs more (fork, IPC) than it saves."""

STAGES = ("parse", "schema", "all")

RULES: dict[str, str] = {
    "schema:<keyword>": "the JSON Schema keyword that failed: schema:type, schema:required, "
                        "schema:additionalProperties, schema:enum, schema:pattern, schema:minimum, ...",
    "schema:missing": "no schema for the document's apiVersion and kind (--ignore-missing-schemas skips it)",
    "schema:unserved-version": "a known kind at an apiVersion that is not served, or a ray.io kind the KubeRay "
                               "version does not have (never skipped)",
    "schema:deprecated-version": "the CRD marks this apiVersion deprecated (warning)",
}


@dataclass(frozen=True, kw_only=True)
class ValidateOptions:
    kuberay_version: str
    kubernetes_version: str | None = None  # None: the environment's, else the newest bundled
    ignore_missing_schemas: bool = False
    namespaces: tuple[str, ...] | None = None  # the environment's; None: no namespace policy
    cluster_scoped: tuple[ClusterScopedRule, ...] = ()  # the environment's clusterScoped allow-list
    operator: OperatorConfig | None = None
    default_namespace: str = ""
    stage: str = "all"  # "parse", "schema" or "all": how far to go (benchmarks measure each stage)
    jobs: int = 0  # worker processes; 0: decide from the input size and the CPUs

    @classmethod
    def for_environment(cls, environment: Environment | None, kuberay_version: str, **kwargs: Any) -> ValidateOptions:
        if environment is None:
            return cls(kuberay_version=kuberay_version, **kwargs)
        default_ns = environment.namespaces[0] if len(environment.namespaces) == 1 else ""
        kwargs.setdefault("kubernetes_version", environment.kubernetes_version)
        return cls(kuberay_version=kuberay_version, namespaces=tuple(environment.namespaces),
                   cluster_scoped=environment.cluster_scoped, operator=environment.operator,
                   default_namespace=default_ns, **kwargs)


@dataclass(frozen=True, slots=True)
class SourceBlob:
    """One file to validate: its name as findings show it, and its bytes."""

    path: str
    data: bytes


@dataclass(slots=True)
class ValidationResult(FindingsVerdict):
    files: int = 0
    documents: int = 0
    checked: int = 0  # documents that had a schema
    skipped: int = 0  # documents without a schema, ignored by request
    findings: list[Finding] = field(default_factory=list)
    jobs: int = 1


# --------------------------------------------------------------------------- one document


class _Compiled:
    """A schema with its fast validator; the explaining validator is built on first failure."""

    def __init__(self, entry: SchemaEntry) -> None:
        import jsonschema_rs

        self.entry = entry
        self.schema = entry_schema(entry)
        self.fast = jsonschema_rs.validator_for(self.schema, validate_formats=False)
        self._explainer: Any = None

    def explainer(self) -> Any:
        if self._explainer is None:
            import jsonschema

            cls = jsonschema.validators.validator_for(self.schema, default=jsonschema.Draft7Validator)
            self._explainer = cls(self.schema)
        return self._explainer


class Checker:
    """Schema, rules and policy for single manifests; validators compiled on first use, then reused."""

    def __init__(self, options: ValidateOptions, schemas: SchemaSet | None = None) -> None:
        self.options = options
        self.schemas = schemas or schema_set(options.kuberay_version, options.kubernetes_version)
        self._compiled: dict[tuple[str, str], _Compiled | None] = {}

    def compiled(self, api_version: str, kind: str) -> _Compiled | None:
        key = (api_version, kind)
        if key not in self._compiled:
            entry = self.schemas.lookup(api_version, kind)
            self._compiled[key] = _Compiled(entry) if entry is not None else None
        return self._compiled[key]

    def check(self, manifest: Manifest) -> tuple[list[Finding], bool]:
        """(findings, whether a schema was found)."""
        findings, had_schema, valid_body = self._schema(manifest)
        if self.options.stage != "all":
            return findings, had_schema
        if valid_body is not None and manifest.ref.group == RAY_GROUP:
            for hit in kuberay_rules.check(manifest.kind, valid_body, kuberay_version=self.schemas.kuberay_version,
                                           operator=self.options.operator):
                findings.append(_finding(manifest, hit.path, hit.rule, hit.message, hit.severity))
        elif valid_body is not None:  # closed-set values the built-in schemas do not enumerate
            for hit in k8s_values.check_builtin(manifest.ref.group, manifest.kind, valid_body):
                findings.append(_finding(manifest, hit.path, hit.rule, hit.message, hit.severity))
        findings += names.check_names(manifest)
        if self.options.namespaces is not None:
            problem = policy.check_namespace(manifest, self.options.namespaces, self.options.cluster_scoped)
            if problem is not None:
                findings.append(problem)
        return findings, had_schema

    def _schema(self, manifest: Manifest) -> tuple[list[Finding], bool, dict[str, Any] | None]:
        """(findings, had a schema, the body as the API server would store it if it is valid)."""
        compiled = self.compiled(manifest.api_version, manifest.kind)
        if compiled is None:
            if manifest.ref.group != RAY_GROUP and self.schemas.is_builtin_group(manifest.ref.group):
                return [self._unserved_builtin(manifest)], False, None  # never "import a CRD"
            versions = self.schemas.served_versions(manifest.ref.group, manifest.kind)
            if versions or manifest.ref.group == RAY_GROUP:  # known group: a wrong version, not an unknown kind
                return [self._unserved(manifest, versions)], False, None
            if self.options.ignore_missing_schemas:
                return [], False, None
            return [self._missing(manifest)], False, None
        body = manifest.body
        if not compiled.fast.is_valid(body):
            if compiled.entry.crd:
                body = prune_nulls(body, compiled.schema)
            if body is manifest.body or not compiled.fast.is_valid(body):
                return explain(manifest, compiled, body), True, None
        if not compiled.entry.deprecated:
            return [], True, body
        return [_finding(
            manifest, ("apiVersion",), "schema:deprecated-version",
            compiled.entry.deprecation_warning or f"{manifest.api_version} {manifest.kind} is deprecated",
            Severity.WARNING, position=_top_level_position(manifest, "apiVersion"),
        )], True, body

    def _missing(self, manifest: Manifest) -> Finding:
        return _finding(
            manifest, ("kind",), "schema:missing",
            f"no schema for {manifest.kind} {manifest.api_version} (KubeRay {self.schemas.kuberay_version}, "
            f"Kubernetes {self.schemas.kubernetes_version}); add its CRD with `gitops-ray schemas import --crd FILE` "
            "(or --from-cluster), or pass --ignore-missing-schemas",
            position=_top_level_position(manifest, "kind"),
        )

    def _unserved_builtin(self, manifest: Manifest) -> Finding:
        message, where = self.schemas.unserved_builtin(manifest.api_version, manifest.kind)
        return _finding(manifest, (where,), "schema:unserved-version", message,
                        position=_top_level_position(manifest, where))

    def _unserved(self, manifest: Manifest, versions: list[str]) -> Finding:
        """A kind of a group we know whole (ray.io, the bundled core kinds) at a version that does not exist."""
        if versions:
            message = (f"{manifest.kind} is not served as {manifest.api_version}; it is served as "
                       f"{', '.join(versions)}")
            where = "apiVersion"
        else:
            message = f"KubeRay {self.schemas.kuberay_version} has no {manifest.kind} kind"
            where = "kind"
        return _finding(manifest, (where,), "schema:unserved-version", message,
                        position=_top_level_position(manifest, where))


def _finding(manifest: Manifest, path: Sequence[PathElem], rule: str, message: str,
             severity: Severity = Severity.ERROR, *, position: tuple[int, int] | None = None) -> Finding:
    line, column = position or manifest.locate(path)
    return Finding(
        file=manifest.origin.file, line=line, column=column, message=mask_url_credentials(message), rule=rule,
        severity=severity,
        path=format_path(path), api_version=manifest.api_version, kind=manifest.kind,
        namespace=manifest.ref.namespace, name=manifest.ref.name,
    )


def _top_level_position(manifest: Manifest, key: str) -> tuple[int, int]:
    """Where a top-level key is, by a text scan of the document: no re-parse for the common findings."""
    if manifest.item_path:
        return manifest.locate((key,))
    start, end = manifest.doc_span
    text = manifest.source.text
    match = re.compile(rf"^{re.escape(key)}\s*:", re.MULTILINE).search(text, start, end)
    if match is None:
        return manifest.origin.line, manifest.origin.column
    return manifest.origin.line + text.count("\n", start, match.start()), 1


def explain(manifest: Manifest, compiled: _Compiled, body: Any) -> list[Finding]:
    """jsonschema's account of why `body` fails, one finding per error (per unknown field)."""
    findings: list[Finding] = []
    for error in compiled.explainer().iter_errors(body):
        findings.extend(_error_findings(manifest, error))
    if not findings:  # the fast validator disagreed: report its errors rather than nothing
        for rs_error in compiled.fast.iter_errors(body):
            path = tuple(rs_error.instance_path)
            findings.append(_finding(manifest, path, "schema:invalid",
                                     _no_secret(str(rs_error.message), rs_error.instance, manifest.kind, path)))
    return findings


def _pointer(path: Sequence[PathElem]) -> str:
    return "".join(f"/{p}" for p in path)


def _no_secret(message: str, instance: Any, kind: str, path: Sequence[PathElem]) -> str:
    """jsonschema quotes the offending value; never an env value or a Secret's data
    (docs/security.md): the message names the field, the value stays hidden."""
    if not holds_secret(kind, _pointer(path), instance):
        return message
    forms = {repr(instance), json.dumps(instance, default=str)}
    if isinstance(instance, str) and len(instance) >= 4:
        forms.add(instance)
    for form in sorted(forms, key=len, reverse=True):
        message = message.replace(form, "the value (hidden)")
    return message


def _error_findings(manifest: Manifest, error: Any) -> Iterable[Finding]:
    path: tuple[PathElem, ...] = tuple(error.absolute_path)
    keyword = str(error.validator)
    rule = f"schema:{keyword}"
    if keyword == "required" and isinstance(error.instance, dict):
        missing = next((p for p in error.validator_value if p not in error.instance and repr(p) in error.message),
                       None)
        return [_finding(manifest, (*path, missing) if missing else path, rule,
                         _no_secret(error.message, error.instance, manifest.kind, path))]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        extras = _unexpected(error.instance, error.schema)
        if extras:
            return [_finding(manifest, (*path, extra), rule,
                             f"Additional properties are not allowed ({extra!r} was unexpected)") for extra in extras]
    message = _shorten(_no_secret(error.message, error.instance, manifest.kind, path), error.instance)
    return [_finding(manifest, path, rule, message)]


def _unexpected(instance: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    known = schema.get("properties") or {}
    patterns = schema.get("patternProperties") or {}
    return [k for k in instance if k not in known and not any(re.search(p, k) for p in patterns)]


def _shorten(message: str, instance: Any) -> str:
    """`{...200 lines of pod spec...} is not of type 'string'` -> `an object is not of type 'string'`."""
    text = repr(instance)
    if len(text) <= 80 or not message.startswith(text):
        return message
    what = "an object" if isinstance(instance, dict) else f"a list of {len(instance)} items" if isinstance(
        instance, list) else text[:60] + "..."
    return what + message[len(text):]


# --------------------------------------------------------------------------- many files


@dataclass(slots=True)
class _ChunkResult:
    findings: list[Finding] = field(default_factory=list)
    documents: int = 0
    checked: int = 0
    skipped: int = 0
    refs: list[tuple[ObjectRef, int, int, tuple[PathElem, ...]]] = field(default_factory=list)


_last_checker: Checker | None = None
_shared: tuple[Sequence[SourceBlob], ValidateOptions] | None = None


def _checker(options: ValidateOptions) -> Checker:
    """One Checker per process and options: forked workers inherit it with its compiled validators."""
    global _last_checker
    if _last_checker is None or _last_checker.options is not options:
        _last_checker = Checker(options)
    return _last_checker


def _validate_range(blobs: Sequence[SourceBlob], indexes: Iterable[int], options: ValidateOptions) -> _ChunkResult:
    checker = _checker(options) if options.stage != "parse" else None
    out = _ChunkResult()
    for index in indexes:
        blob = blobs[index]
        loaded = load_bytes(blob.path, blob.data, default_namespace=options.default_namespace)
        out.documents += loaded.documents
        out.findings.extend(loaded.findings)
        for manifest in loaded.manifests:
            out.refs.append((manifest.ref, index, manifest.origin.document, manifest.item_path))
            if checker is None:
                continue
            findings, had_schema = checker.check(manifest)
            out.findings.extend(findings)
            if had_schema:
                out.checked += 1
            elif not findings:
                out.skipped += 1
    return out


def _run_chunk(bounds: tuple[int, int]) -> _ChunkResult:
    assert _shared is not None
    blobs, options = _shared
    return _validate_range(blobs, range(*bounds), options)


def _chunks(blobs: Sequence[SourceBlob], count: int) -> list[tuple[int, int]]:
    """Contiguous index ranges of about equal bytes (contiguous keeps the file order for free)."""
    total = sum(len(b.data) for b in blobs) or 1
    target = total / count
    bounds: list[tuple[int, int]] = []
    start, size = 0, 0
    for i, blob in enumerate(blobs):
        size += len(blob.data)
        if size >= target and i + 1 < len(blobs):
            bounds.append((start, i + 1))
            start, size = i + 1, 0
    bounds.append((start, len(blobs)))
    return [b for b in bounds if b[0] < b[1]]


def auto_jobs(blobs: Sequence[SourceBlob]) -> int:
    if sum(len(b.data) for b in blobs) < POOL_MIN_BYTES or len(blobs) < 2:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, len(blobs)))


def validate_blobs(blobs: Sequence[SourceBlob], options: ValidateOptions) -> ValidationResult:
    """Validate files (parsing them), in a process pool when they are large."""
    global _shared
    if options.stage not in STAGES:
        raise ValueError(f"unknown stage {options.stage!r}")
    blobs = sorted(blobs, key=lambda b: b.path)
    if options.stage != "parse":
        # fail before forking, and load the catalogue once
        schema_set(options.kuberay_version, options.kubernetes_version)
    jobs = options.jobs or auto_jobs(blobs)
    if jobs > 1 and "fork" in multiprocessing.get_all_start_methods():
        _shared = (blobs, options)
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                parts = pool.map(_run_chunk, _chunks(blobs, jobs * 4), chunksize=1)
        finally:
            _shared = None
    else:
        jobs = 1
        parts = [_validate_range(blobs, range(len(blobs)), options)]
    result = ValidationResult(files=len(blobs), jobs=jobs)
    refs: list[tuple[ObjectRef, int, int, tuple[PathElem, ...]]] = []
    for part in parts:
        result.findings.extend(part.findings)
        result.documents += part.documents
        result.checked += part.checked
        result.skipped += part.skipped
        refs.extend(part.refs)
    result.findings.extend(_duplicates(blobs, refs, options.default_namespace))
    result.findings.sort(key=_order)
    return result


def _duplicates(blobs: Sequence[SourceBlob], refs: list[tuple[ObjectRef, int, int, tuple[PathElem, ...]]],
                default_namespace: str) -> list[Finding]:
    """manifests.find_duplicates, re-parsing only the files that hold a duplicated object."""
    counts: dict[ObjectRef, int] = {}
    for ref, *_ in refs:
        counts[ref] = counts.get(ref, 0) + 1
    wanted = [r for r in refs if counts[r[0]] > 1]
    if not wanted:
        return []
    loaded: dict[int, LoadResult] = {}
    manifests: list[Manifest] = []
    for ref, index, document, item_path in wanted:
        if index not in loaded:
            loaded[index] = load_bytes(blobs[index].path, blobs[index].data, default_namespace=default_namespace)
        manifests.extend(m for m in loaded[index].manifests
                         if m.ref == ref and m.origin.document == document and m.item_path == item_path)
    return find_duplicates(manifests)


def _order(finding: Finding) -> tuple[str, int, int, str]:
    return (finding.file, finding.line, finding.column, finding.rule)


def validate_manifests(manifests: Iterable[Manifest], *, version: str, environment: Environment | None = None,
                       ignore_missing: bool = False, kubernetes_version: str | None = None) -> list[Finding]:
    """Schema, rules and policy for manifests already parsed (the plan/apply pipeline; it finds duplicates).

    `kubernetes_version` (the flag) wins over the environment's."""
    extra = {"kubernetes_version": kubernetes_version} if kubernetes_version else {}
    checker = Checker(ValidateOptions.for_environment(environment, version, ignore_missing_schemas=ignore_missing,
                                                      **extra))
    findings: list[Finding] = []
    for manifest in manifests:
        findings.extend(checker.check(manifest)[0])
    return sorted(findings, key=_order)
