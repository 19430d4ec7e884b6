"""The built-in Kubernetes kinds of the bundled Kubernetes versions, and what each version serves.

`schemas/kubernetes/` (written by scripts/import_k8s_schemas.py from the PyPI
package kubernetes-validate) holds, for each bundled minor version, the list of
its kinds (`index.json`) and the OpenAPI definitions they are made of
(`definitions.json.gz`, each distinct body stored once across versions). A
kind's schema is assembled on first use: its definition as the root, plus every
definition it reaches under `$defs`, so each is self-contained for the
validators.

Besides schemas, this answers the questions a precise message needs when a
document names a built-in kind we have no schema for: is the group built in,
which versions of the kind does this Kubernetes version serve, which Kubernetes
versions serve the requested one. A built-in kind is never "import its CRD".

Nothing here imports jsonschema: this is on the `validate` hot path, and only the
small index is read until a built-in kind is actually validated.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_ray.errors import ExitCode, SchemaError

DIALECT = "https://json-schema.org/draft/2020-12/schema"

REMOVED_GROUPS = frozenset({"extensions", "settings.k8s.io", "auditregistration.k8s.io"})
"""Built-in API groups that no bundled version serves any more (kinds in them are not CRDs either)."""

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


@dataclass(frozen=True, slots=True)
class BuiltinKind:
    api_version: str
    kind: str
    definition: str

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


@dataclass(frozen=True, slots=True)
class KubernetesVersion:
    version: str
    source: str
    kinds: tuple[BuiltinKind, ...]

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True, slots=True)
class Catalogue:
    root: Path
    package: str
    default: str
    versions: dict[str, KubernetesVersion]

    def groups(self) -> frozenset[str]:
        return frozenset(k.group for v in self.versions.values() for k in v.kinds) | REMOVED_GROUPS


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


@functools.cache
def catalogue(root: Path) -> Catalogue:
    """The bundled versions under `root` (the `schemas/kubernetes` directory); empty if there is none."""
    try:
        index = json.loads((root / "index.json").read_text())
    except FileNotFoundError:
        return Catalogue(root=root, package="", default="", versions={})
    except (OSError, ValueError) as err:
        raise SchemaError(f"{root / 'index.json'}: unreadable Kubernetes schema index: {err}",
                          exit_code=ExitCode.ERROR) from None
    versions = {
        version: KubernetesVersion(
            version=version, source=f"{index.get('package', 'kubernetes-validate')}, {info.get('source', '')}",
            kinds=tuple(BuiltinKind(k["apiVersion"], k["kind"], k["definition"]) for k in info.get("kinds", ())),
        )
        for version, info in sorted(index.get("versions", {}).items(), key=lambda kv: _key(kv[0]))
    }
    default = str(index.get("default") or (list(versions)[-1] if versions else ""))
    return Catalogue(root=root, package=str(index.get("package", "")), default=default, versions=versions)


def select(root: Path, requested: str | None) -> str:
    """`--kubernetes-version`, else the environment's `kubernetesVersion`, else the newest bundled.

    `1.36`, `v1.36` and `1.36.0` all pick the bundled 1.36.x (one patch per minor is bundled: the
    built-in kinds' schemas do not change in patch releases)."""
    cat = catalogue(root)
    if not cat.versions:
        raise SchemaError(f"no Kubernetes schemas found under {root}", exit_code=ExitCode.ERROR)
    if requested is None:
        return cat.default
    match = _VERSION.match(str(requested).strip())
    if not match:
        raise SchemaError(f"{requested!r} is not a Kubernetes version (expected X.Y or X.Y.Z, e.g. 1.36)")
    minor = f"{match.group(1)}.{match.group(2)}"
    for version, info in cat.versions.items():
        if info.minor == minor:
            return version
    raise SchemaError(f"no schemas for Kubernetes {minor} (bundled: "
                      f"{', '.join(v.minor for v in cat.versions.values())})")


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


@functools.cache
def _store(root: Path) -> dict[str, Any]:
    path = root / "definitions.json.gz"
    try:
        data: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, EOFError, ValueError) as err:
        raise SchemaError(f"{path}: cannot load the Kubernetes definitions: {err}", exit_code=ExitCode.ERROR) from None
    return data


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.removeprefix("#/$defs/"))
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)


@functools.cache
def kind_schema(root: Path, version: str, definition: str) -> dict[str, Any]:
    """One kind's self-contained schema: its definition, and what it reaches under `$defs`."""
    store = _store(root)
    names: dict[str, str] = store["versions"][version]
    bodies: dict[str, Any] = store["bodies"]
    if definition not in names:
        raise SchemaError(f"Kubernetes {version}: no definition {definition}", exit_code=ExitCode.ERROR)
    root_body = bodies[names[definition]]
    needed: set[str] = set()
    _refs(root_body, needed)
    closure: dict[str, Any] = {}
    while needed:
        name = needed.pop()
        if name in closure:
            continue
        if name not in names:
            raise SchemaError(f"Kubernetes {version}: unresolvable $ref {name}", exit_code=ExitCode.ERROR)
        closure[name] = bodies[names[name]]
        _refs(closure[name], needed)
    return {"$schema": DIALECT, **root_body, "$defs": dict(sorted(closure.items()))}


def clear_caches() -> None:
    for cached in (catalogue, _store, kind_schema):
        cached.cache_clear()


# --------------------------------------------------------------------------- what is served


def is_builtin_group(root: Path, group: str) -> bool:
    """A group only Kubernetes itself serves: no dot (CRD groups need one: core, apps, batch, policy,
    autoscaling, extensions), or a group some bundled version serves built-in kinds in."""
    return "." not in group or group in catalogue(root).groups()


def unserved_message(root: Path, version: str, api_version: str, kind: str) -> tuple[str, str]:
    """(message, where: "apiVersion" or "kind") for a built-in group's kind without a schema in `version`."""
    cat = catalogue(root)
    group = api_version.rpartition("/")[0]
    here = cat.versions[version].kinds
    served = sorted(k.api_version for k in here if k.group == group and k.kind == kind)
    name = f"{api_version} {kind}"
    if served:
        return (f"{name} is not served by Kubernetes {minor(version)}; served: {', '.join(served)}", "apiVersion")
    elsewhere = [v for v, info in cat.versions.items()
                 if any(k.api_version == api_version and k.kind == kind for k in info.kinds)]
    if elsewhere:
        return (f"{name} is not served by Kubernetes {minor(version)}; it is in Kubernetes "
                f"{', '.join(minor(v) for v in elsewhere)} (choose with kubernetesVersion or --kubernetes-version)",
                "apiVersion")
    kinds = sorted({k.kind for k in here if k.group == group})
    if not kinds:
        what = f"the API group {group!r}" if group else "the core API group"
        return f"{name}: Kubernetes {minor(version)} does not serve {what}", "apiVersion"
    import difflib

    close = difflib.get_close_matches(kind, kinds, n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; its kinds: {', '.join(kinds)}"
    group_name = f"group {group}" if group else "the core group (v1)"
    return f"{name}: Kubernetes {minor(version)} has no kind {kind} in {group_name}{hint}", "kind"
