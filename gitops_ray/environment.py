"""Environments: `environments/<name>/environment.yaml`, the policy and target of one deployment.

The file has a JSON Schema of its own (gitops_ray/data/environment.schema.json,
documented in docs/environments.md) in which unknown keys are errors: a typo in
`sync.prune` must not silently leave pruning off. It is read from the same
`Snapshot` as the manifests, so the commit decides the policy too.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from gitops_ray.errors import ConfigError, ExitCode, SourceError
from gitops_ray.source import Snapshot
from gitops_ray.trust import outside_repository

ENVIRONMENTS_DIR = "environments"
ENVIRONMENT_FILE = "environment.yaml"
DEFAULT_SANDBOX_STATE = ".gitops-ray/sandbox"


@dataclass(frozen=True, kw_only=True)
class OperatorConfig:
    """How the target's KubeRay operator is configured, where the environment declares it.

    `None` means "not declared": validation rules that depend on it are warnings.
    """

    version: str | None = None
    feature_gates: Mapping[str, bool] | None = None
    env: Mapping[str, str] | None = None

    def gate(self, name: str, default: bool) -> bool | None:
        """The gate's value if gates are declared (absent gates take `default`), else None."""
        if self.feature_gates is None:
            return None
        return self.feature_gates.get(name, default)

    def env_var(self, name: str) -> str | None:
        return None if self.env is None else self.env.get(name)


@dataclass(frozen=True, kw_only=True)
class ClusterTarget:
    """Exactly one of: the embedded sandbox, a kubeconfig (+context), in-cluster config."""

    sandbox_state_dir: str | None = None
    sandbox_operator: bool = True
    kubeconfig: str | None = None  # named by the environment file: outside the repository (trust.py)
    context: str | None = None
    in_cluster: bool = False
    request_timeout_s: float | None = None  # spec.requestTimeout; --request-timeout wins

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_state_dir is not None

    def describe(self) -> str:
        if self.is_sandbox:
            return f"sandbox ({self.sandbox_state_dir})"
        if self.in_cluster:
            return "in-cluster"
        context = f", context {self.context}" if self.context else ""
        return f"kubeconfig {self.kubeconfig or '(default)'}{context}"


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    prune: bool = True
    prune_namespaces: bool = False
    self_heal: bool = False
    force: bool = False
    replace_running_jobs: bool = False
    concurrency: int = 8
    timeout_seconds: float = 600.0


@dataclass(frozen=True, kw_only=True)
class IgnoreRule:
    """JSON-pointer paths that belong to someone else, for objects matching the selector."""

    paths: tuple[str, ...]
    kind: str | None = None
    group: str | None = None
    name: str | None = None
    namespace: str | None = None

    def matches(self, group: str, kind: str, namespace: str, name: str) -> bool:
        return (
            (self.kind is None or self.kind == kind)
            and (self.group is None or self.group == group)
            and (self.name is None or self.name == name)
            and (self.namespace is None or self.namespace == namespace)
        )


@dataclass(frozen=True, kw_only=True)
class ClusterScopedRule:
    """`spec.clusterScoped[]`: cluster-scoped objects this environment may own (PriorityClass,
    ClusterRole, CRDs, Namespaces beyond its own): a kind, optionally a group and names."""

    kind: str
    group: str | None = None
    names: tuple[str, ...] | None = None

    def allows(self, group: str, kind: str, name: str) -> bool:
        return (self.kind == kind and (self.group is None or self.group == group)
                and (self.names is None or name in self.names))


@dataclass(frozen=True, kw_only=True)
class RecordOptions:
    dir: str | None = None
    anchor_configmap: bool = True
    anchor_git_note: bool = True


@dataclass(frozen=True, kw_only=True)
class Environment:
    name: str
    file: str
    directory: str
    cluster: ClusterTarget
    namespaces: tuple[str, ...]
    paths: tuple[str, ...]
    kuberay_version: str | None = None
    kubernetes_version: str | None = None  # `kubernetesVersion`: the built-in kinds' schemas (X.Y or X.Y.Z)
    sync: SyncOptions = field(default_factory=SyncOptions)
    operator: OperatorConfig = field(default_factory=OperatorConfig)
    ignore: tuple[IgnoreRule, ...] = ()
    record: RecordOptions = field(default_factory=RecordOptions)
    cluster_scoped: tuple[ClusterScopedRule, ...] = ()

    def allows_namespace(self, namespace: str) -> bool:
        return namespace in self.namespaces

    def allows_cluster_scoped(self, group: str, kind: str, name: str) -> bool:
        """A cluster-scoped object is this environment's only if it says so: its own Namespaces,
        or a `clusterScoped` entry (docs/security.md: one environment, one set of objects)."""
        if group == "" and kind == "Namespace" and name in self.namespaces:
            return True
        return any(rule.allows(group, kind, name) for rule in self.cluster_scoped)


# --------------------------------------------------------------------------- loading


@functools.cache
def environment_schema() -> dict[str, Any]:
    text = resources.files("gitops_ray").joinpath("data/environment.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def list_environments(snapshot: Snapshot) -> list[str]:
    if not snapshot.is_dir(ENVIRONMENTS_DIR):
        return []
    files = snapshot.files([ENVIRONMENTS_DIR])
    names = {
        PurePosixPath(f).parent.name
        for f in files
        if PurePosixPath(f).name == ENVIRONMENT_FILE and PurePosixPath(f).parent.parent.as_posix() == ENVIRONMENTS_DIR
    }
    return sorted(names)


def is_environment_file(path: str) -> bool:
    """`environments/<name>/environment.yaml`: configuration, not a manifest to apply."""
    parts = PurePosixPath(path).parts
    return len(parts) >= 3 and parts[-1] == ENVIRONMENT_FILE and parts[-3] == ENVIRONMENTS_DIR


def manifest_files(snapshot: Snapshot, environment: Environment) -> list[str]:
    """The environment's manifest files: its paths, without environment files."""
    return [f for f in snapshot.files(environment.paths) if not is_environment_file(f)]


def environment_file(name: str) -> str:
    return f"{ENVIRONMENTS_DIR}/{name}/{ENVIRONMENT_FILE}"


_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def check_name(name: str) -> str:
    """An environment is named, never addressed by path: the name becomes file names
    (`<record dir>/<name>.jsonl`), so `../x` or `/etc/x` must never get that far."""
    if not _NAME.fullmatch(name) or len(name) > 63:
        raise ConfigError(f"{name!r}: not a valid environment name (lowercase letters, digits and '-', "
                          "as a directory under environments/)", exit_code=ExitCode.USAGE)
    return name


def load_environment(snapshot: Snapshot, name: str) -> Environment:
    """Read and check `environments/<name>/environment.yaml` from the snapshot."""
    check_name(name)
    path = environment_file(name)
    if not snapshot.exists(path):
        known = ", ".join(list_environments(snapshot)) or "none"
        raise ConfigError(f"{path}: no such environment in {snapshot.description} (environments: {known})",
                          exit_code=ExitCode.USAGE)
    return parse_environment(path, snapshot.read(path), snapshot=snapshot)


def parse_environment(path: str, data: bytes, *, snapshot: Snapshot | None = None) -> Environment:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not valid UTF-8") from None
    except MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"{mark.line + 1}:{mark.column + 1}" if mark else "1:1"
        raise ConfigError(f"{path}:{where}: invalid YAML: {err.problem}") from None
    _check_schema(path, doc)
    plain: dict[str, Any] = json.loads(json.dumps(doc))
    env = _build(path, plain, snapshot)
    if env.metadata_name != PurePosixPath(path).parent.name:
        raise ConfigError(
            f"{path}:{_line(doc, ['metadata', 'name'])}: metadata.name {env.metadata_name!r} does not match "
            f"the directory name {PurePosixPath(path).parent.name!r}"
        )
    if snapshot is not None:
        for manifest_path in env.environment.paths:
            if not snapshot.exists(manifest_path):
                raise ConfigError(f"{path}: spec.paths: {manifest_path!r} not found in {snapshot.description}")
    return env.environment


def _check_schema(path: str, doc: Any) -> None:
    """A compiled yes/no check first; jsonschema (slower to import) only to explain a failure."""
    import jsonschema_rs

    plain = json.loads(json.dumps(doc))
    if jsonschema_rs.Draft7Validator(environment_schema()).is_valid(plain):
        return
    import jsonschema

    validator = jsonschema.Draft7Validator(environment_schema())
    errors = sorted(validator.iter_errors(plain), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    first = errors[0]
    where = list(first.absolute_path)
    field_name = ".".join(str(p) for p in where) or "(document)"
    message = first.message
    if first.validator == "additionalProperties":
        extra = sorted(set(first.instance) - set(first.schema.get("properties", {})))
        allowed = ", ".join(first.schema.get("properties", {}))
        message = f"unknown field {extra[0]!r} (allowed: {allowed})" if extra else message
        where = [*where, extra[0]] if extra else where
        field_name = ".".join(str(p) for p in where)
    if where == ["spec", "cluster"] and first.validator in ("minProperties", "maxProperties"):
        message = "set exactly one of: sandbox, kubeconfig, inCluster"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    raise ConfigError(f"{path}:{_line(doc, where)}: {field_name}: {message}{more}")


def _line(doc: Any, path: list[Any]) -> str:
    line, column = 0, 0
    node = doc
    for elem in path:
        lc = getattr(node, "lc", None)
        try:
            if isinstance(node, list) and isinstance(elem, int):
                if lc is not None:
                    line, column = lc.item(elem)
            elif isinstance(node, dict) and elem in node:
                if lc is not None:
                    line, column = lc.key(elem)
            else:
                break
            node = node[elem]
        except (KeyError, IndexError, TypeError):
            break
    return f"{line + 1}:{column + 1}"


@dataclass(frozen=True)
class _Parsed:
    metadata_name: str
    environment: Environment


def _cluster_target(path: str, spec: dict[str, Any], snapshot: Snapshot | None) -> ClusterTarget:
    """Where the environment points: never at a file the commit itself could supply (a
    kubeconfig or a sandbox's server.json inside the repository), docs/security.md."""
    cluster_spec = spec["cluster"]
    root = snapshot.root if snapshot is not None else None
    timeout = parse_duration(spec["requestTimeout"]) if "requestTimeout" in spec else None
    if "sandbox" in cluster_spec:
        sandbox = cluster_spec["sandbox"] or {}
        if "stateDir" in sandbox:
            state = outside_repository(sandbox["stateDir"], root=root, field="spec.cluster.sandbox.stateDir",
                                       file=path)
        else:
            state = DEFAULT_SANDBOX_STATE
            if snapshot is not None:
                _refuse_committed_state(path, snapshot)
        return ClusterTarget(sandbox_state_dir=state, sandbox_operator=sandbox.get("operator", True),
                             request_timeout_s=timeout)
    if "kubeconfig" in cluster_spec:
        kc = cluster_spec["kubeconfig"] or {}
        named = kc.get("path")
        if named is not None:
            named = outside_repository(named, root=root, field="spec.cluster.kubeconfig.path", file=path)
        return ClusterTarget(kubeconfig=named, context=kc.get("context"), request_timeout_s=timeout)
    return ClusterTarget(in_cluster=True, request_timeout_s=timeout)


def _refuse_committed_state(path: str, snapshot: Snapshot) -> None:
    """The default state directory is the operator's (under the current directory); when that
    is inside the repository, the repository must not hold one: a committed server.json would
    point gitops-ray at a server of the committer's choice."""
    state = resolve_state_dir(ClusterTarget(sandbox_state_dir=DEFAULT_SANDBOX_STATE))
    try:
        rel = state.resolve().relative_to(snapshot.root.resolve()).as_posix()
    except ValueError:
        return
    if snapshot.tracked(rel):
        raise ConfigError(f"{path}: the repository holds {rel}/, the default sandbox state directory: a sandbox's "
                          "state is never read from a repository (remove it from Git, or run from another "
                          "directory)")


def _build(path: str, doc: dict[str, Any], snapshot: Snapshot | None = None) -> _Parsed:
    spec = doc["spec"]
    directory = PurePosixPath(path).parent.as_posix()
    cluster = _cluster_target(path, spec, snapshot)
    sync = spec.get("sync", {})
    operator = spec.get("operator", {})
    record = spec.get("record", {})
    paths = tuple(_join(directory, p, path) for p in spec.get("paths", ["."]))
    version = spec.get("kuberayVersion")
    env = Environment(
        name=doc["metadata"]["name"],
        file=path,
        directory=directory,
        cluster=cluster,
        namespaces=tuple(spec["namespaces"]),
        paths=paths,
        kuberay_version=version.removeprefix("v") if version else None,
        kubernetes_version=str(spec["kubernetesVersion"]).removeprefix("v") if spec.get("kubernetesVersion") else None,
        sync=SyncOptions(
            prune=sync.get("prune", True),
            prune_namespaces=sync.get("pruneNamespaces", False),
            self_heal=sync.get("selfHeal", False),
            force=sync.get("force", False),
            replace_running_jobs=sync.get("replaceRunningJobs", False),
            concurrency=sync.get("concurrency", 8),
            timeout_seconds=parse_duration(sync.get("timeout", "10m")),
        ),
        operator=OperatorConfig(
            version=operator.get("version"),
            feature_gates=operator.get("featureGates"),
            env=operator.get("env"),
        ),
        ignore=tuple(
            IgnoreRule(paths=tuple(r["paths"]), kind=r.get("kind"), group=r.get("group"),
                       name=r.get("name"), namespace=r.get("namespace"))
            for r in spec.get("ignore", [])
        ),
        cluster_scoped=tuple(
            ClusterScopedRule(kind=r["kind"], group=r.get("group"),
                              names=tuple(r["names"]) if "names" in r else None)
            for r in spec.get("clusterScoped", [])
        ),
        record=RecordOptions(
            dir=record.get("dir"),
            anchor_configmap=record.get("anchorConfigMap", True),
            anchor_git_note=record.get("anchorGitNote", True),
        ),
    )
    return _Parsed(metadata_name=doc["metadata"]["name"], environment=env)


def _join(directory: str, relative: str, path: str) -> str:
    if relative.startswith("/"):
        raise ConfigError(f"{path}: spec.paths: {relative!r} must be relative to the environment directory")
    parts: list[str] = []
    for part in PurePosixPath(directory, relative).parts:
        if part == "..":
            if not parts:
                raise ConfigError(f"{path}: spec.paths: {relative!r} leaves the repository")
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go-style durations (`90s`, `10m`, `1h30m`, `500ms`) in seconds."""
    text = text.strip()
    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return float(text)
    if not text or _DURATION.sub("", text):
        raise ConfigError(f"{text!r}: not a duration (examples: 90s, 10m, 1h30m)", exit_code=ExitCode.USAGE)
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(num) * scale[unit] for num, unit in _DURATION.findall(text))


def resolve_state_dir(target: ClusterTarget, base: Path | None = None) -> Path:
    """Sandbox state directories are relative to where the command runs."""
    assert target.sandbox_state_dir is not None
    state = Path(target.sandbox_state_dir).expanduser()
    return state if state.is_absolute() else (base or Path.cwd()) / state


__all__ = [
    "ClusterScopedRule",
    "ClusterTarget",
    "Environment",
    "IgnoreRule",
    "OperatorConfig",
    "RecordOptions",
    "SourceError",
    "SyncOptions",
    "list_environments",
    "load_environment",
    "parse_duration",
]
