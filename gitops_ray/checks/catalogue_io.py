"""What every schema catalogue shares: the entry type, index files, schema files and CRD files.

A catalogue directory holds `index.json` (for people: what is there and where
it came from) beside the schemas it lists. Schemas are JSON, gzipped (`.json.gz`)
where they are large and nobody reads them; CRDs are kept as `crds/*.yaml.gz`,
unchanged, so a conversion can be repeated and audited.
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ray.errors import ExitCode, SchemaError

INDEX = "index.json"


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    """One (apiVersion, kind) and where its JSON Schema is."""

    api_version: str
    kind: str
    path: Path
    origin: str  # "bundled", "imported" or "cache" (re-derived from a stale index)
    source: str  # provenance, for `schemas list` and messages
    crd: bool  # a custom resource: nulls are pruned as the API server does
    deprecated: bool = False
    deprecation_warning: str = ""
    builtin: str = ""  # "<kubernetes version>:<definition>" for a built-in kind (assembled, not a file)


def cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-ray"


def user_dir() -> Path:
    """Where `schemas import` writes by default, and the imported catalogue is read from."""
    configured = os.environ.get("GITOPS_RAY_SCHEMA_DIR")
    return Path(configured).expanduser() if configured else cache_home() / "schemas"


def read_index(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / INDEX).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise SchemaError(f"{directory / INDEX}: unreadable schema index: {err}", exit_code=ExitCode.ERROR) from None
    return data if isinstance(data, dict) else None


def write_json(path: Path, data: Any, *, compress: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    if path.name == INDEX:  # for people
        text = json.dumps(data, indent=1, sort_keys=True)
    else:  # schemas are large and machine-made
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    raw = (text + "\n").encode()
    tmp.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0) if compress else raw)
    os.replace(tmp, path)


@functools.cache
def load_schema(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        schema = json.loads(data)
    except (OSError, EOFError, ValueError) as err:
        raise SchemaError(f"{path}: cannot load schema: {err}", exit_code=ExitCode.ERROR) from None
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: not a JSON Schema object", exit_code=ExitCode.ERROR)
    return schema


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


def parse_crds(data: bytes, label: str) -> list[dict[str, Any]]:
    """The objects in a CRD file (a `List` is flattened), with the manifest loader: a CRD is a
    megabyte of YAML, and its constructor is several times faster than PyYAML's."""
    from gitops_ray.manifests import load_bytes

    loaded = load_bytes(label, data, max_bytes=64 * 1024 * 1024)
    problems = [f for f in loaded.findings if f.rule != "manifest:duplicate-object"]
    if problems:
        first = problems[0]
        raise SchemaError(f"{first.location()}: {first.message}")
    return [m.body for m in loaded.manifests]


def schema_file_name(api_version: str, kind: str, suffix: str = ".json") -> str:
    return f"{kind.lower()}-{api_version.rpartition('/')[2]}{suffix}"


def crd_file_name(group: str, plural: str) -> str:
    return f"{group}_{plural}.yaml.gz"


def store_crd(path: Path, data: bytes) -> None:
    """Keep an identical existing copy untouched (gzip output embeds nothing variable here)."""
    if path.exists() and read_crd_file(path) == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0))
