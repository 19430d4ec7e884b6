"""The schema catalogue: which KubeRay and Kubernetes versions we can validate against, and where
their schemas live.

* KubeRay: `<root>/kuberay/<X.Y.Z>/index.json` beside the converted JSON
  Schemas (`raycluster-v1.json`, ...) and the CRDs they came from
  (`crds/*.yaml.gz`), in two catalogues with one layout: bundled (the
  repository's `schemas/`, regenerated with `gitops-ray schemas import --into
  schemas`) and imported (`$GITOPS_RAY_SCHEMA_DIR`, else
  `$XDG_CACHE_HOME/gitops-ray/schemas`), an imported version shadowing a
  bundled one of the same number;
* Kubernetes: every built-in kind of the bundled minor versions
  (`schemas/kubernetes/`, builtin_schemas.py);
* other custom resources: the CRDs Ray platforms deploy beside Ray, bundled,
  and imported ones (`schemas/crds/`, crd_catalogue.py).

A `SchemaSet` is one KubeRay version + one Kubernetes version + the other CRDs.

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
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_ray.checks import builtin_schemas, crd_catalogue
from gitops_ray.checks.catalogue_io import (
    INDEX,
    SchemaEntry,
    cache_home,
    load_schema,
    parse_crds,
    read_crd_file,
    read_index,
    schema_file_name,
    store_crd,
    user_dir,
    write_json,
)
from gitops_ray.checks.crdschema import CONVERTER_VERSION, ServedVersion
from gitops_ray.errors import ExitCode, SchemaError

__all__ = ["INDEX", "SchemaEntry", "SchemaSet", "load_schema", "read_crd_file", "schema_file_name", "user_dir"]

BUNDLED_ROOT = Path(__file__).resolve().parents[2] / "schemas"
RAY_GROUP = "ray.io"

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


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


def conversion_cache_dir() -> Path:
    return cache_home() / "converted"


def bundled_root() -> Path:
    return BUNDLED_ROOT


def kubernetes_root() -> Path:
    return bundled_root() / "kubernetes"


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


def _version_dirs(root: Path) -> Iterable[Path]:
    base = root / "kuberay"
    if not base.is_dir():
        return ()
    return sorted((p for p in base.iterdir() if p.is_dir() and _VERSION.match(p.name)), key=lambda p: p.name)


@functools.cache
def _load_version(directory: Path, origin: str) -> VersionInfo | None:
    index = read_index(directory)
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


def select_kubernetes_version(requested: str | None) -> str:
    """`--kubernetes-version`, else the environment's `kubernetesVersion`, else the newest bundled."""
    return builtin_schemas.select(kubernetes_root(), requested)


def kubernetes_versions() -> list[str]:
    return list(builtin_schemas.catalogue(kubernetes_root()).versions)


@functools.cache
def _builtin_entries(root: Path, version: str) -> tuple[SchemaEntry, ...]:
    info = builtin_schemas.catalogue(root).versions[version]
    return tuple(
        SchemaEntry(api_version=k.api_version, kind=k.kind, path=root / "definitions.json.gz", origin="bundled",
                    source=info.source, crd=False, builtin=f"{version}:{k.definition}")
        for k in info.kinds
    )


class SchemaSet:
    """The schemas one validation run uses: one KubeRay version, one Kubernetes version's built-in
    kinds, and the other custom resources (bundled platform CRDs and imported ones)."""

    def __init__(self, kuberay_version: str, kubernetes_version: str | None = None) -> None:
        info = catalogue().get(kuberay_version)
        if info is None:
            raise SchemaError(f"no schemas for KubeRay {kuberay_version}")
        self.kuberay_version = kuberay_version
        self.kubernetes_version = select_kubernetes_version(kubernetes_version)
        self.info = info
        self._by_key: dict[tuple[str, str], SchemaEntry] = {
            (e.api_version, e.kind): e for e in _builtin_entries(kubernetes_root(), self.kubernetes_version)
        }
        self._by_key.update(crd_catalogue.entries(bundled_root(), user_dir()))
        self._by_key.update({(e.api_version, e.kind): e for e in info.entries})

    def lookup(self, api_version: str, kind: str) -> SchemaEntry | None:
        return self._by_key.get((api_version, kind))

    def entries(self) -> list[SchemaEntry]:
        return list(self._by_key.values())

    def served_versions(self, group: str, kind: str) -> list[str]:
        """The apiVersions this kind of this group has schemas for (`ray.io/v1`, ...)."""
        return sorted(api for api, k in self._by_key if k == kind and api.rpartition("/")[0] == group)

    def is_builtin_group(self, group: str) -> bool:
        return builtin_schemas.is_builtin_group(kubernetes_root(), group)

    def unserved_builtin(self, api_version: str, kind: str) -> tuple[str, str]:
        """(message, "apiVersion" or "kind") for a built-in group's kind this Kubernetes version lacks."""
        return builtin_schemas.unserved_message(kubernetes_root(), self.kubernetes_version, api_version, kind)


@functools.cache
def schema_set(kuberay_version: str, kubernetes_version: str | None = None) -> SchemaSet:
    return SchemaSet(kuberay_version, kubernetes_version)


def entry_schema(entry: SchemaEntry) -> dict[str, Any]:
    """The JSON Schema of an entry: a file, or a built-in kind assembled from the definitions."""
    if entry.builtin:
        version, _, definition = entry.builtin.partition(":")
        return builtin_schemas.kind_schema(entry.path.parent, version, definition)
    return load_schema(entry.path)


def schema_for(kuberay_version: str, api_version: str, kind: str,
               kubernetes_version: str | None = None) -> dict[str, Any] | None:
    entry = schema_set(select_version(kuberay_version), kubernetes_version).lookup(api_version, kind)
    return entry_schema(entry) if entry is not None else None


def clear_caches() -> None:
    """Forget loaded catalogues (after an import, and in tests)."""
    for cached in (_load_version, _builtin_entries, schema_set, load_schema):
        cached.cache_clear()
    builtin_schemas.clear_caches()
    crd_catalogue.clear_caches()


# --------------------------------------------------------------------------- conversion


def convert(data: bytes, label: str = "CRD") -> list[ServedVersion]:
    """All KubeRay (ray.io) CRDs in `data`, converted; other CRDs are ignored."""
    return [s for _, served in crd_catalogue.convert_documents(parse_crds(data, label), label, groups=(RAY_GROUP,))
            for s in served]


def input_digest(data: bytes) -> str:
    return crd_catalogue.input_digest(data)


def convert_cached(data: bytes, label: str = "CRD") -> list[SchemaEntry]:
    """`convert` (KubeRay CRDs only), with the results kept on disk under the digest of (converter, input)."""
    return crd_catalogue.convert_cached(data, label, convert=lambda d, name: convert(d, name))


def _guess_version(paths: Sequence[Path]) -> str | None:
    for path in paths:
        for part in reversed(path.resolve().parts):
            match = re.fullmatch(r"v?(\d+\.\d+\.\d+)", part)
            if match:
                return match.group(1)
    return None


@dataclass(slots=True)
class FileImport:
    """`schemas import --crd`: KubeRay CRDs become a KubeRay version, other CRDs join the imported CRDs."""

    kuberay: ImportResult | None = None
    other: crd_catalogue.CRDImport | None = None


def import_files(files: Sequence[Path], *, version: str | None = None, into: Path | None = None) -> FileImport:
    """Import CRD files of any kind: ray.io CRDs as a KubeRay version (needs a version), the rest as
    imported custom resources (into the user catalogue, or `into`'s `crds/imported/`)."""
    if not files:
        raise SchemaError("no CRD files given")
    ray_files: list[Path] = []
    others: list[dict[str, Any]] = []
    for file in files:
        docs = parse_crds(read_crd_file(file), str(file))
        crds = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
        if any((d.get("spec") or {}).get("group") == RAY_GROUP for d in crds):
            ray_files.append(file)
        others.extend(d for d in crds if (d.get("spec") or {}).get("group") != RAY_GROUP)
    if not ray_files and not others:
        raise SchemaError("no CustomResourceDefinition found in " + ", ".join(str(f) for f in files))
    result = FileImport()
    if ray_files:
        result.kuberay = import_crds(ray_files, version=version, into=into)
    if others:
        result.other = crd_catalogue.import_crds(others, ", ".join(str(f) for f in files),
                                                 user=into if into is not None else user_dir())
    clear_caches()
    return result


def import_cluster_crds(crds: Sequence[dict[str, Any]], *, version: str | None = None,
                        into: Path | None = None) -> FileImport:
    """CRD objects read from a cluster (by the engine): the non-Ray ones join the imported CRDs; the
    KubeRay ones become KubeRay `version` when one is given (a cluster does not say its operator's)."""
    result = FileImport()
    ray = [c for c in crds if (c.get("spec") or {}).get("group") == RAY_GROUP]
    if ray and version is not None:
        chosen = normalize_version(version)
        directory = (into if into is not None else user_dir()) / "kuberay" / chosen
        result.kuberay = ImportResult(version=chosen, directory=directory)
        index = read_index(directory) or {}
        current = index.get("converter") == CONVERTER_VERSION
        kept = {(i["apiVersion"], i["kind"]): i for i in index.get("schemas", ()) if current}
        for crd, served in crd_catalogue.convert_documents(ray, "cluster", groups=(RAY_GROUP,)):
            _add_kuberay_crd(directory, crd_catalogue.crd_bytes(crd), served, kept, result.kuberay, "cluster")
        _write_kuberay_index(directory, chosen, kept)
    result.other = crd_catalogue.import_crds(crds, "cluster", user=into if into is not None else user_dir(),
                                             exclude=(RAY_GROUP,))
    if ray and version is None:
        result.other.skipped.append(f"{len(ray)} ray.io CRDs: pass --version X.Y.Z to import them as a KubeRay "
                                    "version")
    clear_caches()
    return result


def _add_kuberay_crd(directory: Path, data: bytes, served: Sequence[ServedVersion], kept: dict[tuple[str, str], Any],
                     result: ImportResult, label: str, *, origin: str = "imported") -> None:
    crd_name = _crd_file_name(served[0])
    store_crd(directory / "crds" / crd_name, data)
    for item in crd_catalogue.write_schemas(directory, served, source=f"crds/{crd_name}"):
        item["sha256"] = hashlib.sha256(data).hexdigest()
        kept[(item["apiVersion"], item["kind"])] = item
    for s in served:
        result.written.append(SchemaEntry(
            api_version=s.api_version, kind=s.kind, path=directory / schema_file_name(s.api_version, s.kind),
            origin=origin, source=label, crd=True, deprecated=s.deprecated,
            deprecation_warning=s.deprecation_warning,
        ))


def _write_kuberay_index(directory: Path, version: str, kept: dict[tuple[str, str], Any]) -> None:
    write_json(directory / INDEX, {
        "kuberayVersion": version,
        "converter": CONVERTER_VERSION,
        "generatedBy": "gitops-ray schemas import",
        "schemas": sorted(kept.values(), key=lambda i: (i["kind"], i["apiVersion"])),
    })


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
    index = read_index(directory) or {}
    current = index.get("converter") == CONVERTER_VERSION
    kept = {(i["apiVersion"], i["kind"]): i for i in index.get("schemas", ()) if current}
    for file in files:
        data = read_crd_file(file)
        served = convert(data, str(file))
        if not served:
            result.skipped.append(f"{file}: no ray.io CustomResourceDefinition in it")
            continue
        _add_kuberay_crd(directory, data, served, kept, result, str(file),
                         origin="imported" if into is None else "bundled")
    if not result.written:
        raise SchemaError("no KubeRay CRDs found in " + ", ".join(str(f) for f in files))
    _write_kuberay_index(directory, chosen, kept)
    clear_caches()
    return result


def _crd_file_name(served: ServedVersion) -> str:
    plural = served.kind.lower() + "s"
    return f"{served.api_version.partition('/')[0]}_{plural}.yaml.gz"
