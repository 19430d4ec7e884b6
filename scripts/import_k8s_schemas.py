#!/usr/bin/env python3
"""Import every built-in Kubernetes kind of the bundled Kubernetes versions from kubernetes-validate.

    .venv/bin/python scripts/import_k8s_schemas.py [--out schemas/kubernetes]

Source: the PyPI package kubernetes-validate (pinned in pyproject's dev extra),
directories `kubernetes-json-schema/v<K>-local-strict/`: JSON Schemas (draft
2020-12) generated from the Kubernetes OpenAPI spec with
`additionalProperties: false` (strict), sharing a `_definitions.json`.

Every definition that carries an `x-kubernetes-group-version-kind` is a kind
(except the apimachinery meta types: Status, DeleteOptions, WatchEvent,
APIGroup, APIVersions; and `*List` kinds, which nobody applies).

What this script changes, mechanically (nothing is written by hand):
* `IntOrString` and `Quantity`, which the source spells as `oneOf` of two
  nullable types, become one `type` list (`oneOf` rejects `null`, which matches
  both branches, and is the slow path in every validator); Quantity strings get
  the quantity pattern the KubeRay CRDs carry (controller-gen's, read from a CRD);
* `description`, `$id` and `x-kubernetes-*` annotations are dropped (size), and
  `$ref`s point into a local `#/$defs/` block that the loader assembles per kind
  (gitops_ray/checks/builtin_schemas.py).

Output, deduplicated across versions (most definitions are the same in every minor):
* `definitions.json.gz`: `{"bodies": {digest: definition}, "versions": {K: {name: digest}}}`;
* `index.json`: per version, its source and its kinds (apiVersion, kind, definition name);
* `README.md`: provenance and licence.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# the three newest minors kubernetes-validate ships (see docs/schemas.md); the last is the default
KUBERNETES_VERSIONS = ("1.35.0", "1.36.0", "1.37.0")
DEFS_PREFIX = "/api/_definitions.json#/$defs/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _quantity_pattern() -> str:
    """The pattern controller-gen writes for resource.Quantity, taken from a bundled KubeRay CRD."""
    crd = gzip.decompress((ROOT / "schemas/kuberay/1.5.1/crds/ray.io_rayclusters.yaml.gz").read_bytes()).decode()
    match = re.search(r"pattern: (\^\(\\\+\|-\)\?\(\(\[0-9\]\+.*\$)\n", crd)
    if not match:
        raise SystemExit("cannot find the quantity pattern in the RayCluster CRD")
    return match.group(1)


def _clean(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("description", "$id", "$schema") or key.startswith("x-kubernetes-"):
                continue
            if key == "$ref" and isinstance(value, str):
                value = "#/$defs/" + value.removeprefix(DEFS_PREFIX).removeprefix("#/$defs/")
            out[key] = _clean(value) if key not in ("properties", "$defs") else {
                name: _clean(sub) for name, sub in value.items()
            }
        return out
    if isinstance(node, list):
        return [_clean(item) for item in node]
    return node


def digest(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


def kinds_of(definitions: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(apiVersion, kind, definition name) of every applicable kind in the definitions."""
    out = []
    for name, body in definitions.items():
        if name.startswith(META):
            continue
        for gvk in body.get("x-kubernetes-group-version-kind") or ():
            kind = gvk["kind"]
            if kind.endswith("List"):
                continue
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            out.append((api_version, kind, name))
    return sorted(set(out))


def convert_version(definitions: dict[str, Any], quantity_pattern: str) -> dict[str, Any]:
    replacements = {
        INT_OR_STRING: {"type": ["integer", "string", "null"]},
        QUANTITY: {"type": ["string", "number", "null"], "pattern": quantity_pattern},
    }
    return {name: replacements.get(name) or _clean(body) for name, body in sorted(definitions.items())}


def build(package_root: Any, quantity_pattern: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(definitions store, index) for every bundled version."""
    bodies: dict[str, Any] = {}
    names: dict[str, dict[str, str]] = {}
    versions: dict[str, Any] = {}
    for version in KUBERNETES_VERSIONS:
        source_dir = package_root / f"v{version}-local-strict"
        raw = json.loads((source_dir / "_definitions.json").read_text())["$defs"]
        converted = convert_version(raw, quantity_pattern)
        names[version] = {}
        for name, body in converted.items():
            key = digest(body)
            bodies[key] = body
            names[version][name] = key
        kinds = kinds_of(raw)
        versions[version] = {
            "source": f"kubernetes-json-schema/v{version}-local-strict",
            "kinds": [{"apiVersion": a, "kind": k, "definition": n} for a, k, n in kinds],
        }
        print(f"Kubernetes {version}: {len(kinds)} kinds, {len(converted)} definitions", file=sys.stderr)
    return {"bodies": dict(sorted(bodies.items())), "versions": names}, versions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "schemas" / "kubernetes")
    args = parser.parse_args()
    package_version = metadata.version("kubernetes-validate")
    package_root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    store, versions = build(package_root, _quantity_pattern())
    args.out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(store, sort_keys=True, separators=(",", ":")).encode()
    (args.out / "definitions.json.gz").write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    index = {"package": f"kubernetes-validate {package_version} (PyPI)", "generatedBy": "scripts/import_k8s_schemas.py",
             "default": KUBERNETES_VERSIONS[-1], "versions": versions}
    (args.out / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    (args.out / "README.md").write_text(README.format(
        package=package_version, versions=", ".join(KUBERNETES_VERSIONS),
        counts="; ".join(f"{v}: {len(i['kinds'])}" for v, i in versions.items()),
        distinct=len(store["bodies"]),
    ))
    return 0


README = """# Built-in Kubernetes kind schemas: Kubernetes {versions}

JSON Schemas (draft 2020-12) for every built-in kind of each version (kinds per version: {counts}):
`index.json` lists them per version, `definitions.json.gz` holds the OpenAPI definitions they are
assembled from, {distinct} distinct bodies shared by all versions (a definition that did not change
between minors is stored once).

**Source.** The PyPI package `kubernetes-validate` {package} (github.com/willthames/kubernetes-validate),
directories `kubernetes_validate/kubernetes-json-schema/v<K>-local-strict/`: schemas generated from
the Kubernetes OpenAPI specification of each version with `additionalProperties: false` on every object
(the API server's strict field validation). kubernetes-validate is licensed under the Apache License 2.0
(see LICENSE); the OpenAPI specification they derive from is copyright The Kubernetes Authors, also
Apache-2.0.

**Produced by** `scripts/import_k8s_schemas.py`; do not edit by hand. The script only rearranges:
descriptions, `$id` and `x-kubernetes-*` annotations are dropped; `IntOrString` and `Quantity` become
`type` lists instead of a `oneOf` (with controller-gen's quantity pattern, read from a bundled KubeRay
CRD); identical definitions are stored once. gitops_ray/checks/builtin_schemas.py assembles one
self-contained schema per kind (its definition plus the definitions it reaches, under `$defs`).
See docs/schemas.md.
"""


if __name__ == "__main__":
    sys.exit(main())
