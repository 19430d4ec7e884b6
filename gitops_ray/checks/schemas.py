"""The schema catalogue: which KubeRay versions we can validate against, and where their schemas live.

Two catalogues with one layout, `<root>/kuberay/<X.Y.Z>/index.json` beside the
converted JSON Schemas (`raycluster-v1.json`, ...) and the CRDs they came from
(`crds/*.yaml.gz`):

* bundled: the repository's `schemas/` (committed; regenerated with
  `gitops-ray schemas import --into schemas`), plus `schemas/kubernetes/v<K>/`
  for the core kinds, converted from kubernetes-validate by
  scripts/import_k8s_schemas.py;
* imported: `$GITOPS_RAY_SCHEMA_DIR`, else `$XDG_CACHE_HOME/gitops-ray/schemas`
  (`~/.cache/...`), written by `gitops-ray schemas import --crd FILE`. An
  imported version shadows a bundled one of the same number.

Converting a CRD costs ~0.5 s (mostly YAML); loading a converted schema ~3 ms.
Conversions are therefore cached on disk keyed by the digest of their input and
the converter version, and an index whose converter version is stale is
re-derived from its CRDs through that cache rather than trusted.

Nothing here imports jsonschema or the Kubernetes client: this is on the
`validate` hot path.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_ray.checks.crdschema import CONVERTER_VERSION, CRDFormatError, ServedVersion, crd_to_jsonschemas
from gitops_ray.errors import ExitCode, SchemaError

BUNDLED_ROOT = Path(__file__).resolve().parents[2] / "schemas"
KUBERNETES_VERSION = "1.32.0"
INDEX = "index.json"
RAY_GROUP = "ray.io"

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    """One (apiVersion, kind) and the file holding its JSON Schema."""

    api_version: str
    kind: str
    path: Path
    origin: str  # "bundled", "imported" or "cache" (re-derived from a stale index)
    source: str  # provenance, for `schemas list` and messages
    crd: bool  # a custom resource: nulls are pruned as the API server does
    deprecated: bool = False
    deprecation_warning: str = ""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    version: str
    directory: Path
    origin: str
    entries: tuple[SchemaEntry, ...]


@dataclass(slots=True)
class ImportResult:
    version: str
    directory: Path
    written: list[SchemaEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- locations


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-ray"


def user_dir() -> Path:
    """Where `schemas import` writes by default, and the imported catalogue is read from."""
    configured = os.environ.get("GITOPS_RAY_SCHEMA_DIR")
    return Path(configured).expanduser() if configured else _cache_home() / "schemas"


def conversion_cache_dir() -> Path:
    return _cache_home() / "converted"


def bundled_root() -> Path:
    return BUNDLED_ROOT


# --------------------------------------------------------------------------- versions


def normalize_version(text: str) -> str:
    """`v1.5.1` -> `1.5.1`; SchemaError for anything that is not X.Y or X.Y.Z."""
    match = _VERSION.match(text.strip())
    if not match:
        raise SchemaError(f"{text!r} is not a KubeRay version (expected X.Y.Z, e.g. 1.5.1)")
    major, minor, patch = match.groups()
    return f"{major}.{minor}" + (f".{patch}" if patch is not None else "")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _read_index(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / INDEX).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise SchemaError(f"{directory / INDEX}: unreadable schema index: {err}",
                          exit_code=ExitCode.ERROR) from None
    return data if isinstance(data, dict) else None


def _version_dirs(root: Path) -> Iterable[Path]:
    base = root / "kuberay"
    if not base.is_dir():
        return ()
    return sorted((p for p in base.iterdir() if p.is_dir() and _VERSION.match(p.name)), key=lambda p: p.name)


@functools.cache
def _load_version(directory: Path, origin: str) -> VersionInfo | None:
    index = _read_index(directory)
    if index is None:
        return None
    version = str(index.get("kuberayVersion") or directory.name)
    if index.get("converter") != CONVERTER_VERSION:
        return _rederive(directory, origin, version, index)
    entries = tuple(
        SchemaEntry(
            api_version=item["apiVersion"], kind=item["kind"], path=directory / item["file"], origin=origin,
            source=f"KubeRay {version} CRD {item.get('source', '?')}", crd=True,
            deprecated=bool(item.get("deprecated")), deprecation_warning=str(item.get("deprecationWarning") or ""),
        )
        for item in index.get("schemas", ())
    )
    return VersionInfo(version=version, directory=directory, origin=origin, entries=entries)


def _rederive(directory: Path, origin: str, version: str, index: dict[str, Any]) -> VersionInfo:
    """The committed conversions predate this converter: convert their CRDs again (cached)."""
    sources = sorted({str(item["source"]) for item in index.get("schemas", ()) if item.get("source")})
    entries: list[SchemaEntry] = []
    for source in sources:
        for entry in convert_cached(read_crd_file(directory / source), str(directory / source)):
            entries.append(dataclasses.replace(
                entry, origin=origin, source=f"KubeRay {version} CRD {source} (re-converted)"))
    return VersionInfo(version=version, directory=directory, origin=origin, entries=tuple(entries))


def catalogue() -> dict[str, VersionInfo]:
    """Every KubeRay version available, imported shadowing bundled."""
    found: dict[str, VersionInfo] = {}
    for origin, root in (("bundled", bundled_root()), ("imported", user_dir())):
        for directory in _version_dirs(root):
            info = _load_version(directory.resolve(), origin)
            if info is not None and info.entries:
                found[info.version] = info
    return dict(sorted(found.items(), key=lambda kv: version_key(kv[0])))


def bundled_versions() -> list[str]:
    return [v for v, info in catalogue().items() if info.origin == "bundled"]


def available_versions() -> list[str]:
    return list(catalogue())


def newest_version() -> str:
    """The default: the newest bundled version (an import never changes what CI validates against)."""
    versions = bundled_versions() or available_versions()
    if not versions:
        raise SchemaError(f"no KubeRay schemas found (looked in {bundled_root()} and {user_dir()})",
                          exit_code=ExitCode.ERROR)
    return versions[-1]


def select_version(requested: str | None) -> str:
    """`--kuberay-version`, else the environment's `kuberayVersion`, else the newest bundled.

    `X.Y` picks the newest available `X.Y.Z`."""
    if requested is None:
        return newest_version()
    version = normalize_version(requested)
    versions = available_versions()
    if version in versions:
        return version
    if version.count(".") == 1:
        patches = [v for v in versions if v.startswith(version + ".")]
        if patches:
            return patches[-1]
    known = ", ".join(versions) or "none"
    raise SchemaError(
        f"no schemas for KubeRay {version} (available: {known}); "
        f"add them with `gitops-ray schemas import --crd FILE --version {version}`"
    )


# --------------------------------------------------------------------------- lookups


@functools.cache
def _kubernetes_entries(root: Path) -> tuple[SchemaEntry, ...]:
    directory = root / "kubernetes" / f"v{KUBERNETES_VERSION}"
    index = _read_index(directory)
    if index is None:
        return ()
    source = str(index.get("source", "kubernetes"))
    return tuple(
        SchemaEntry(api_version=item["apiVersion"], kind=item["kind"], path=directory / item["file"],
                    origin="bundled", source=source, crd=False)
        for item in index.get("schemas", ())
    )


class SchemaSet:
    """The schemas one validation run uses: one KubeRay version plus the pinned core kinds."""

    def __init__(self, kuberay_version: str) -> None:
        info = catalogue().get(kuberay_version)
        if info is None:
            raise SchemaError(f"no schemas for KubeRay {kuberay_version}")
        self.kuberay_version = kuberay_version
        self.kubernetes_version = KUBERNETES_VERSION
        self.info = info
        self._by_key: dict[tuple[str, str], SchemaEntry] = {
            (e.api_version, e.kind): e for e in _kubernetes_entries(bundled_root())
        }
        self._by_key.update({(e.api_version, e.kind): e for e in info.entries})

    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None:
        return self._by_key.get((api_version, kind))

    def entries(self) -> list[SchemaEntry]:
        return list(self._by_key.values())

    def served_versions(self, group: str, kind: str) -> list[str]:
        """The apiVersions this kind of this group has schemas for (`ray.io/v1`, ...)."""
        return sorted(api for api, k in self._by_key if k == kind and api.rpartition("/")[0] == group)


@functools.cache
def schema_set(kuberay_version: str) -> SchemaSet:
    return SchemaSet(kuberay_version)


def schema_for(kuberay_version: str, api_version: str, kind: str) -> dict[str, Any] | None:
    entry = schema_set(select_version(kuberay_version)).lookup(api_version, kind)
    return load_schema(entry.path) if entry is not None else None


@functools.cache
def load_schema(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        raise SchemaError(f"{path}: cannot load schema: {err}", exit_code=ExitCode.ERROR) from None
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: not a JSON Schema object", exit_code=ExitCode.ERROR)
    return schema


def clear_caches() -> None:
    """Forget loaded catalogues (after an import, and in tests)."""
    for cached in (_load_version, _kubernetes_entries, schema_set, load_schema):
        cached.cache_clear()


# --------------------------------------------------------------------------- conversion


def read_crd_file(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SchemaError(f"{path}: cannot read: {err.strerror}", exit_code=ExitCode.ERROR) from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise SchemaError(f"{path}: corrupt gzip data: {err}", exit_code=ExitCode.ERROR) from None
    return data


def _parse_crds(data: bytes, label: str) -> list[dict[str, Any]]:
    """The objects in a CRD file (a `List` is flattened), with the manifest loader: a CRD is a
    megabyte of YAML, and its constructor is several times faster than PyYAML's."""
    from gitops_ray.manifests import load_bytes

    loaded = load_bytes(label, data, max_bytes=64 * 1024 * 1024)
    problems = [f for f in loaded.findings if f.rule != "manifest:duplicate-object"]
    if problems:
        first = problems[0]
        raise SchemaError(f"{first.location()}: {first.message}")
    return [m.body for m in loaded.manifests]


def convert(data: bytes, label: str = "CRD") -> list[ServedVersion]:
    """All KubeRay (ray.io) CRDs in `data`, converted; other CRDs are ignored."""
    out: list[ServedVersion] = []
    for doc in _parse_crds(data, label):
        if doc.get("kind") != "CustomResourceDefinition":
            continue
        if ((doc.get("spec") or {}).get("group")) != RAY_GROUP:
            continue
        try:
            out.extend(crd_to_jsonschemas(doc))
        except CRDFormatError as err:
            raise SchemaError(f"{label}: {err}") from None
    return out


def input_digest(data: bytes) -> str:
    return hashlib.sha256(f"gitops-ray-crd\0{CONVERTER_VERSION}\0".encode() + data).hexdigest()


def convert_cached(data: bytes, label: str = "CRD") -> list[SchemaEntry]:
    """`convert`, with the results kept on disk under the digest of (converter, input)."""
    directory = conversion_cache_dir() / input_digest(data)
    index = _read_index(directory)
    items: list[dict[str, Any]] | None = None
    if index is not None and isinstance(index.get("schemas"), list):
        items = [i for i in index["schemas"] if isinstance(i, dict) and (directory / str(i.get("file"))).is_file()]
        if len(items) != len(index["schemas"]):
            items = None  # damaged: rebuilt below
    if items is None:
        items = _write_schemas(directory, convert(data, label))
        _write_json(directory / INDEX, {"converter": CONVERTER_VERSION, "schemas": items})
    return [
        SchemaEntry(api_version=i["apiVersion"], kind=i["kind"], path=directory / i["file"], origin="cache",
                    source=label, crd=True, deprecated=bool(i.get("deprecated")),
                    deprecation_warning=str(i.get("deprecationWarning") or ""))
        for i in items
    ]


def schema_file_name(api_version: str, kind: str) -> str:
    return f"{kind.lower()}-{api_version.rpartition('/')[2]}.json"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if path.name == INDEX:  # for people
        text = json.dumps(data, indent=1, sort_keys=True)
    else:  # schemas are large and machine-made
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    tmp.write_text(text + "\n")
    os.replace(tmp, path)


def _write_schemas(directory: Path, served: Sequence[ServedVersion], source: str = "") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for s in served:
        name = schema_file_name(s.api_version, s.kind)
        _write_json(directory / name, s.schema)
        item: dict[str, Any] = {"apiVersion": s.api_version, "kind": s.kind, "file": name}
        if source:
            item["source"] = source
        if s.deprecated:
            item["deprecated"] = True
            item["deprecationWarning"] = s.deprecation_warning
        items.append(item)
    return items


def _guess_version(paths: Sequence[Path]) -> str | None:
    for path in paths:
        for part in reversed(path.resolve().parts):
            match = re.fullmatch(r"v?(\d+\.\d+\.\d+)", part)
            if match:
                return match.group(1)
    return None


def import_crds(files: Sequence[Path], *, version: str | None = None, into: Path | None = None) -> ImportResult:
    """Convert KubeRay CRD files (YAML, optionally gzipped) into a catalogue.

    `into` is a catalogue root (e.g. the repository's `schemas/`); default the
    user catalogue. The CRDs are kept beside the result as `crds/<name>.yaml.gz`
    so the conversion can be repeated and audited."""
    if not files:
        raise SchemaError("no CRD files given")
    chosen = version or _guess_version(files)
    if chosen is None:
        raise SchemaError("cannot tell which KubeRay version these CRDs are; pass --version X.Y.Z")
    chosen = normalize_version(chosen)
    if chosen.count(".") != 2:
        raise SchemaError(f"{chosen}: give the full KubeRay version X.Y.Z")
    directory = (into if into is not None else user_dir()) / "kuberay" / chosen
    result = ImportResult(version=chosen, directory=directory)
    index = _read_index(directory) or {}
    current = index.get("converter") == CONVERTER_VERSION
    kept = {(i["apiVersion"], i["kind"]): i for i in index.get("schemas", ()) if current}
    for file in files:
        data = read_crd_file(file)
        served = convert(data, str(file))
        if not served:
            result.skipped.append(f"{file}: no ray.io CustomResourceDefinition in it")
            continue
        crd_name = _crd_file_name(served[0])
        _store_crd(directory / "crds" / crd_name, data)
        for item in _write_schemas(directory, served, source=f"crds/{crd_name}"):
            item["sha256"] = hashlib.sha256(data).hexdigest()
            kept[(item["apiVersion"], item["kind"])] = item
        for s in served:
            result.written.append(SchemaEntry(
                api_version=s.api_version, kind=s.kind, path=directory / schema_file_name(s.api_version, s.kind),
                origin="imported" if into is None else "bundled", source=str(file), crd=True,
                deprecated=s.deprecated, deprecation_warning=s.deprecation_warning,
            ))
    if not result.written:
        raise SchemaError("no KubeRay CRDs found in " + ", ".join(str(f) for f in files))
    _write_json(directory / INDEX, {
        "kuberayVersion": chosen,
        "converter": CONVERTER_VERSION,
        "generatedBy": "gitops-ray schemas import",
        "schemas": sorted(kept.values(), key=lambda i: (i["kind"], i["apiVersion"])),
    })
    clear_caches()
    return result


def _crd_file_name(served: ServedVersion) -> str:
    plural = served.kind.lower() + "s"
    return f"{served.api_version.partition('/')[0]}_{plural}.yaml.gz"


def _store_crd(path: Path, data: bytes) -> None:
    """Keep an identical existing copy untouched (gzip output embeds nothing variable here)."""
    if path.exists() and read_crd_file(path) == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0))
