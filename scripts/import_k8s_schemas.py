#!/usr/bin/env python3
"""Import the core Kubernetes kinds a Ray environment needs from kubernetes-validate.

    .venv/bin/python scripts/import_k8s_schemas.py [--out schemas/kubernetes]

Source: the PyPI package kubernetes-validate (pinned in pyproject's dev extra),
directory `kubernetes-json-schema/v<K>-local-strict/`: one JSON Schema (draft
2020-12) per kind with `$ref`s into a shared `_definitions.json`, generated
from the Kubernetes OpenAPI spec with `additionalProperties: false` (strict).

What this script changes, mechanically (nothing is written by hand):
* each kind becomes self-contained: the definitions it reaches are copied into
  its own `$defs` and the `$ref`s rewritten to `#/$defs/...`;
* `IntOrString` and `Quantity`, which the source spells as `oneOf` of two
  nullable types, become one `type` list (`oneOf` rejects `null`, which matches
  both branches, and is the slow path in every validator); Quantity strings get
  the quantity pattern the KubeRay CRDs carry (controller-gen's, read from a CRD);
* `description`, `$id` and `x-kubernetes-*` annotations are dropped (size).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from importlib import metadata, resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KUBERNETES_VERSION = "1.32.0"
DEFS_PREFIX = "/api/_definitions.json#/$defs/"

# (apiVersion, kind, file in kubernetes-validate)
KINDS = (
    ("v1", "Namespace", "namespace-v1.json"),
    ("v1", "ServiceAccount", "serviceaccount-v1.json"),
    ("rbac.authorization.k8s.io/v1", "Role", "role-rbac-v1.json"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebinding-rbac-v1.json"),
    ("v1", "ConfigMap", "configmap-v1.json"),
    ("v1", "Secret", "secret-v1.json"),
    ("v1", "Service", "service-v1.json"),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaim-v1.json"),
    ("networking.k8s.io/v1", "NetworkPolicy", "networkpolicy-networking-v1.json"),
    ("v1", "ResourceQuota", "resourcequota-v1.json"),
    ("v1", "LimitRange", "limitrange-v1.json"),
    ("scheduling.k8s.io/v1", "PriorityClass", "priorityclass-scheduling-v1.json"),
)

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
            if key in ("description", "$id") or key.startswith("x-kubernetes-"):
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


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.removeprefix(DEFS_PREFIX).removeprefix("#/$defs/"))
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)


def convert_kind(schema: dict[str, Any], definitions: dict[str, Any], quantity_pattern: str) -> dict[str, Any]:
    needed: set[str] = set()
    _refs(schema, needed)
    closure: dict[str, Any] = {}
    while needed:
        name = needed.pop()
        if name in closure:
            continue
        if name not in definitions:
            raise SystemExit(f"unresolvable $ref {name}")
        closure[name] = definitions[name]
        _refs(definitions[name], needed)
    replacements = {
        INT_OR_STRING: {"type": ["integer", "string", "null"]},
        QUANTITY: {"type": ["string", "number", "null"], "pattern": quantity_pattern},
    }
    defs = {name: replacements.get(name, body) for name, body in sorted(closure.items())}
    out = _clean({**schema, "$defs": defs})
    leftover = json.dumps(out).count('"oneOf"') + json.dumps(out).count('"anyOf"')
    if leftover:
        print(f"  note: {leftover} oneOf/anyOf left in {schema.get('title', '?')}", file=sys.stderr)
    return dict(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "schemas" / "kubernetes")
    args = parser.parse_args()
    package_version = metadata.version("kubernetes-validate")
    schema_root = resources.files("kubernetes_validate") / "kubernetes-json-schema"
    source_dir = schema_root / f"v{KUBERNETES_VERSION}-local-strict"
    definitions = json.loads((source_dir / "_definitions.json").read_text())["$defs"]
    pattern = _quantity_pattern()
    target = args.out / f"v{KUBERNETES_VERSION}"
    target.mkdir(parents=True, exist_ok=True)
    items = []
    for api_version, kind, name in KINDS:
        schema = json.loads((source_dir / name).read_text())
        converted = convert_kind(schema, definitions, pattern)
        converted["title"] = f"{kind} {api_version} (Kubernetes {KUBERNETES_VERSION})"
        (target / name).write_text(json.dumps(converted, sort_keys=True, separators=(",", ":")) + "\n")
        items.append({"apiVersion": api_version, "kind": kind, "file": name})
        print(f"{kind:22} {api_version:30} {name}")
    source = (f"kubernetes-validate {package_version} (PyPI), "
              f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict")
    index = {"kubernetesVersion": KUBERNETES_VERSION, "source": source,
             "generatedBy": "scripts/import_k8s_schemas.py", "schemas": items}
    (target / "index.json").write_text(json.dumps(index, indent=1, sort_keys=True) + "\n")
    (target / "README.md").write_text(README.format(version=KUBERNETES_VERSION, package=package_version,
                                                    kinds=", ".join(kind for _, kind, _ in KINDS)))
    return 0


README = """# Kubernetes {version} core-kind schemas

JSON Schemas (draft 2020-12) for {kinds}; `index.json` maps `(apiVersion, kind)` to the file.

**Source.** The PyPI package `kubernetes-validate` {package} (github.com/willthames/kubernetes-validate),
directory `kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/`: schemas generated from
the Kubernetes v{version} OpenAPI specification with `additionalProperties: false` on every object (the
API server's strict field validation). Licensed under the Apache License 2.0 (see ../LICENSE); the
OpenAPI specification they derive from is copyright The Kubernetes Authors, also Apache-2.0.

**Produced by** `scripts/import_k8s_schemas.py`; do not edit by hand. The script only rearranges: each
kind's `$ref`s into the shared `_definitions.json` are resolved into a local `$defs` block so every file
is self-contained; `IntOrString` and `Quantity` become `type` lists instead of a `oneOf` (with
controller-gen's quantity pattern, read from a bundled KubeRay CRD); descriptions, `$id` and
`x-kubernetes-*` annotations are dropped. See docs/schemas.md.
"""


if __name__ == "__main__":
    sys.exit(main())
