"""Custom resources that are not KubeRay's: the CRDs Ray platforms deploy beside Ray, and imported ones.

Two sources, one layout (`index.json` beside gzipped JSON Schemas and the CRDs
they came from, `crds/*.yaml.gz`):

* bundled: `schemas/crds/<project>/<version>/` — Kueue, the Prometheus
  operator's monitoring CRDs, the Gateway API standard channel — converted by
  scripts/import_platform_crds.py from their upstream CRD YAML at a pinned
  module version (provenance and licence in each directory's README.md);
* imported: `<user catalogue>/crds/imported/`, written by
  `gitops-ray schemas import --crd FILE` (any CRD that is not `ray.io`) and
  `gitops-ray schemas import --from-cluster` (the engine reads the cluster's
  CRDs and hands them here as plain dicts: checks never talk to a cluster).

Unlike KubeRay's, these do not depend on the KubeRay version: every validation
run sees all of them, an imported (apiVersion, kind) shadowing a bundled one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops_ray.checks.catalogue_io import (
    SchemaEntry,
    cache_home,
    crd_file_name,
    read_crd_file,
    read_index,
    schema_file_name,
    store_crd,
    write_json,
)
from gitops_ray.checks.crdschema import CONVERTER_VERSION, CRDFormatError, ServedVersion, crd_to_jsonschemas
from gitops_ray.errors import SchemaError

PLATFORM_DIR = "crds"
IMPORTED = "imported"


@dataclass(frozen=True, slots=True)
class CRDSet:
    """The schemas of one bundled project version, or of everything imported."""

    name: str  # "kueue", "gateway-api", ... or "imported"
    version: str
    origin: str  # "bundled" or "imported"
    directory: Path
    source: str
    entries: tuple[SchemaEntry, ...]


@dataclass(slots=True)
class CRDImport:
    directory: Path
    written: list[SchemaEntry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _entries(directory: Path, index: dict[str, Any], origin: str, label: str) -> tuple[SchemaEntry, ...]:
    if index.get("converter") != CONVERTER_VERSION:
        return _rederive(directory, index, origin, label)
    return tuple(
        SchemaEntry(api_version=i["apiVersion"], kind=i["kind"], path=directory / i["file"], origin=origin,
                    source=f"{label} CRD {i.get('source', '?')}", crd=True, deprecated=bool(i.get("deprecated")),
                    deprecation_warning=str(i.get("deprecationWarning") or ""))
        for i in index.get("schemas", ())
    )


def _rederive(directory: Path, index: dict[str, Any], origin: str, label: str) -> tuple[SchemaEntry, ...]:
    """The committed conversions predate this converter: convert their CRDs again (cached on disk)."""
    out: list[SchemaEntry] = []
    for source in sorted({str(i["source"]) for i in index.get("schemas", ()) if i.get("source")}):
        for entry in convert_cached(read_crd_file(directory / source), str(directory / source)):
            out.append(dataclasses.replace(entry, origin=origin, source=f"{label} CRD {source} (re-converted)"))
    return tuple(out)


@functools.cache
def bundled_sets(root: Path) -> tuple[CRDSet, ...]:
    base = root / PLATFORM_DIR
    if not base.is_dir():
        return ()
    sets: list[CRDSet] = []
    for directory in sorted(p for p in base.glob("*/*") if p.is_dir()):
        index = read_index(directory)
        if index is None:
            continue
        name, version = str(index.get("project", directory.parent.name)), str(index.get("version", directory.name))
        label = f"{name} {version}"
        sets.append(CRDSet(name=name, version=version, origin="bundled", directory=directory,
                           source=str(index.get("module", "")), entries=_entries(directory, index, "bundled", label)))
    return tuple(sets)


@functools.cache
def imported_set(user: Path) -> CRDSet | None:
    directory = user / PLATFORM_DIR / IMPORTED
    index = read_index(directory)
    if index is None:
        return None
    return CRDSet(name=IMPORTED, version="", origin="imported", directory=directory,
                  source="gitops-ray schemas import", entries=_entries(directory, index, "imported", "imported"))


def entries(root: Path, user: Path) -> dict[tuple[str, str], SchemaEntry]:
    """Every non-KubeRay custom resource schema, imported shadowing bundled."""
    found: dict[tuple[str, str], SchemaEntry] = {}
    for crd_set in bundled_sets(root):
        found.update({(e.api_version, e.kind): e for e in crd_set.entries})
    imported = imported_set(user)
    if imported is not None:
        found.update({(e.api_version, e.kind): e for e in imported.entries})
    return found


def clear_caches() -> None:
    for cached in (bundled_sets, imported_set):
        cached.cache_clear()


# --------------------------------------------------------------------------- conversion


def convert_documents(docs: Iterable[dict[str, Any]], label: str, *,
                      groups: Sequence[str] | None = None,
                      exclude: Sequence[str] = ()) -> list[tuple[dict[str, Any], list[ServedVersion]]]:
    """(CRD, its served versions converted) for every CustomResourceDefinition among `docs`
    whose group is in `groups` (all when None) and not in `exclude`."""
    out: list[tuple[dict[str, Any], list[ServedVersion]]] = []
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            continue
        group = (doc.get("spec") or {}).get("group")
        if (groups is not None and group not in groups) or group in exclude:
            continue
        try:
            out.append((doc, crd_to_jsonschemas(doc)))
        except CRDFormatError as err:
            raise SchemaError(f"{label}: {err}") from None
    return out


def convert_all(data: bytes, label: str) -> list[ServedVersion]:
    from gitops_ray.checks.catalogue_io import parse_crds

    return [s for _, versions in convert_documents(parse_crds(data, label), label) for s in versions]


def input_digest(data: bytes) -> str:
    return hashlib.sha256(f"gitops-ray-crd\0{CONVERTER_VERSION}\0".encode() + data).hexdigest()


def convert_cached(data: bytes, label: str = "CRD", *,
                   convert: Callable[[bytes, str], list[ServedVersion]] | None = None) -> list[SchemaEntry]:
    """Convert the CRDs in `data` (with `convert`, default: every CRD in it), keeping the results on
    disk under the digest of (converter, input)."""
    directory = cache_home() / "converted" / input_digest(data)
    index = read_index(directory)
    items: list[dict[str, Any]] | None = None
    if index is not None and isinstance(index.get("schemas"), list):
        items = [i for i in index["schemas"] if isinstance(i, dict) and (directory / str(i.get("file"))).is_file()]
        if len(items) != len(index["schemas"]):
            items = None  # damaged: rebuilt below
    if items is None:
        served = (convert or convert_all)(data, label)
        items = write_schemas(directory, served)
        write_json(directory / "index.json", {"converter": CONVERTER_VERSION, "schemas": items})
    return [
        SchemaEntry(api_version=i["apiVersion"], kind=i["kind"], path=directory / i["file"], origin="cache",
                    source=label, crd=True, deprecated=bool(i.get("deprecated")),
                    deprecation_warning=str(i.get("deprecationWarning") or ""))
        for i in items
    ]


def write_schemas(directory: Path, served: Sequence[ServedVersion], source: str = "", *,
                  compress: bool = False) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for s in served:
        name = schema_file_name(s.api_version, s.kind, ".json.gz" if compress else ".json")
        if compress:  # two groups may share a kind name
            name = f"{s.api_version.partition('/')[0]}_{name}"
        write_json(directory / name, s.schema, compress=compress)
        item: dict[str, Any] = {"apiVersion": s.api_version, "kind": s.kind, "file": name}
        if source:
            item["source"] = source
        if s.deprecated:
            item["deprecated"] = True
            item["deprecationWarning"] = s.deprecation_warning
        items.append(item)
    return items


def crd_bytes(crd: dict[str, Any]) -> bytes:
    """A CRD as stored: its spec and name only (no status, managedFields or resourceVersion from a
    cluster), as JSON, which is YAML."""
    kept = {"apiVersion": crd.get("apiVersion"), "kind": crd.get("kind"),
            "metadata": {"name": (crd.get("metadata") or {}).get("name")}, "spec": crd.get("spec")}
    return (json.dumps(kept, sort_keys=True, indent=1) + "\n").encode()


def add_crds(directory: Path, crds: Sequence[tuple[dict[str, Any], list[ServedVersion]]], *,
             index_extra: dict[str, Any] | None = None,
             keep_bytes: dict[int, bytes] | None = None) -> list[SchemaEntry]:
    """Store CRDs and their conversions in a catalogue directory, merging with what is there.

    `keep_bytes` maps a position in `crds` to the bytes to store for it (a bundled CRD is kept
    byte for byte as upstream wrote it); the others are stored as `crd_bytes`."""
    index = read_index(directory) or {}
    current = index.get("converter") == CONVERTER_VERSION
    kept = {(i["apiVersion"], i["kind"]): i for i in index.get("schemas", ()) if current}
    written: list[SchemaEntry] = []
    for position, (crd, served) in enumerate(crds):
        spec = crd.get("spec") or {}
        data = (keep_bytes or {}).get(position) or crd_bytes(crd)
        name = crd_file_name(str(spec.get("group")), str((spec.get("names") or {}).get("plural")))
        store_crd(directory / "crds" / name, data)
        for item in write_schemas(directory, served, source=f"crds/{name}", compress=True):
            item["sha256"] = hashlib.sha256(data).hexdigest()
            kept[(item["apiVersion"], item["kind"])] = item
            written.append(SchemaEntry(api_version=item["apiVersion"], kind=item["kind"],
                                       path=directory / item["file"], origin="imported", source=name, crd=True,
                                       deprecated=bool(item.get("deprecated")),
                                       deprecation_warning=str(item.get("deprecationWarning") or "")))
    write_json(directory / "index.json", {
        **(index_extra or {}), "converter": CONVERTER_VERSION,
        "schemas": sorted(kept.values(), key=lambda i: (i["apiVersion"].partition("/")[0], i["kind"],
                                                        i["apiVersion"])),
    })
    clear_caches()
    return written


def import_crds(crds: Sequence[dict[str, Any]], label: str, *, user: Path, exclude: Sequence[str] = ()) -> CRDImport:
    """Import CRD objects (read from files or from a cluster) into the user catalogue."""
    directory = user / PLATFORM_DIR / IMPORTED
    result = CRDImport(directory=directory)
    converted = convert_documents(crds, label, exclude=exclude)
    if converted:
        result.written = add_crds(directory, converted, index_extra={"generatedBy": "gitops-ray schemas import"})
    return result
