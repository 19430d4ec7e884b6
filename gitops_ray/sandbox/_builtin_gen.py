"""Regenerate `_builtin_defs.py` from the Kubernetes 1.32 OpenAPI definitions.

The merge markers of the built-in kinds (`x-kubernetes-list-type`, map keys,
`x-kubernetes-map-type`, patch strategies) must be the real ones, or SSA and
strategic merge patch behave differently from a kube-apiserver. They come from
the Kubernetes OpenAPI definitions that the dev dependency `kubernetes-validate`
ships; this module condenses the ones the sandbox serves into a small compact
table so that the runtime needs no extra dependency.

Run `python -m gitops_ray.sandbox._builtin_gen` after changing `KINDS`.

Field spec grammar (one token per field, see `_nodes.py` for the reader):
  s string · i integer · n number · b boolean · u int-or-string/quantity · x any JSON
  @Name  a named type · !@Name the same, as an atomic struct
  {spec  a granular map of spec · {!spec an atomic map
  [info]spec a list: info = a | s | m=key+key, then optional |strategy|mergekey
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

KINDS: tuple[tuple[str, str, str], ...] = (
    *(("", "v1", k) for k in (
        "Namespace", "ConfigMap", "Secret", "ServiceAccount", "Service", "PersistentVolumeClaim",
        "ResourceQuota", "LimitRange", "Pod", "PodTemplate", "Endpoints", "Event",
    )),
    ("batch", "v1", "Job"), ("batch", "v1", "CronJob"),
    ("apps", "v1", "Deployment"), ("apps", "v1", "StatefulSet"), ("apps", "v1", "DaemonSet"),
    ("apps", "v1", "ReplicaSet"),
    ("coordination.k8s.io", "v1", "Lease"),
    ("rbac.authorization.k8s.io", "v1", "Role"), ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole"), ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
    ("networking.k8s.io", "v1", "NetworkPolicy"), ("networking.k8s.io", "v1", "Ingress"),
    ("scheduling.k8s.io", "v1", "PriorityClass"),
    ("policy", "v1", "PodDisruptionBudget"),
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
)

# Definitions that are scalars or free-form JSON rather than structs.
_SPECIAL = {
    "util.intstr.IntOrString": "u",
    "api.resource.Quantity": "u",
    "meta.v1.Time": "s",
    "meta.v1.MicroTime": "s",
    "runtime.RawExtension": "x",
    "meta.v1.FieldsV1": "x",
    "apiextensions.v1.JSON": "x",
    "apiextensions.v1.JSONSchemaPropsOrArray": "x",
    "apiextensions.v1.JSONSchemaPropsOrBool": "x",
    "apiextensions.v1.JSONSchemaPropsOrStringArray": "x",
}
_SCALARS = {"string": "s", "integer": "i", "number": "n", "boolean": "b"}


def short_name(ref: str) -> str:
    return ".".join(ref.split("/")[-1].split(".")[-3:])


def _type_of(node: dict[str, Any]) -> str | None:
    t = node.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    return t if isinstance(t, str) else None


def field_spec(node: dict[str, Any], defs: dict[str, Any]) -> str:
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = short_name(ref)
        if name in _SPECIAL:
            return _SPECIAL[name]
        if "properties" not in defs[ref.split("/")[-1]]:
            return "x"  # an empty struct: structured-merge-diff deduces its content
        return ("!@" if node.get("x-kubernetes-map-type") == "atomic" else "@") + name
    t = _type_of(node)
    if t == "array":
        items = node.get("items")
        elem = field_spec(items, defs) if isinstance(items, dict) else "x"
        lt = node.get("x-kubernetes-list-type")
        info = {"atomic": "a", "set": "s"}.get(str(lt), "")
        if lt == "map":
            info = "m=" + "+".join(node.get("x-kubernetes-list-map-keys", []))
        strategy = node.get("x-kubernetes-patch-strategy")
        if strategy:
            info += f"|{strategy}|{node.get('x-kubernetes-patch-merge-key', '')}"
        return f"[{info}]{elem}"
    if t == "object":
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            return ("{!" if node.get("x-kubernetes-map-type") == "atomic" else "{") + field_spec(extra, defs)
        return "x"
    if t in _SCALARS:
        return "u" if node.get("format") == "int-or-string" else _SCALARS[t]
    return "x"


def _refs(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            out.append(ref.split("/")[-1])
        for value in node.values():
            out.extend(_refs(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_refs(value))
    return out


def condense(defs: dict[str, Any]) -> tuple[dict[tuple[str, str, str], str], dict[str, str]]:
    """GVK table and `{short name: "field:spec field:spec ..."}` for the closure of KINDS."""
    by_gvk: dict[tuple[str, str, str], str] = {}
    for name, node in defs.items():
        for g in node.get("x-kubernetes-group-version-kind", []):
            by_gvk[(g["group"], g["version"], g["kind"])] = name
    roots = {gvk: by_gvk[gvk] for gvk in KINDS}
    seen: set[str] = set()
    stack = list(roots.values())
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(_refs(defs[name]))
    types: dict[str, str] = {}
    for name in sorted(seen, key=short_name):
        short = short_name(name)
        node = defs[name]
        if short in _SPECIAL or "properties" not in node:
            continue
        parts = [f"{field}:{field_spec(sub, defs)}" for field, sub in sorted(node["properties"].items())]
        if node.get("x-kubernetes-map-type") == "atomic":
            parts.insert(0, ".:atomic")
        types[short] = " ".join(parts)
    return {gvk: short_name(name) for gvk, name in roots.items()}, types


def render(gvks: dict[tuple[str, str, str], str], types: dict[str, str]) -> str:
    lines = [
        '"""Generated by `python -m gitops_ray.sandbox._builtin_gen` from the Kubernetes 1.32 OpenAPI',
        "definitions (kubernetes-validate 1.32.0). Do not edit; see `_builtin_gen.py` for the grammar.",
        '"""',
        "",
        "GVK: dict[tuple[str, str, str], str] = {",
    ]
    lines += [f"    {gvk!r}: {name!r}," for gvk, name in sorted(gvks.items())]
    lines += ["}", "", "TYPES: dict[str, str] = {"]
    for name, spec in types.items():
        chunks: list[str] = []
        current = ""
        for token in spec.split(" "):
            if current and len(current) + len(token) > 90:
                chunks.append(current)
                current = ""
            current += token + " "
        chunks.append(current.rstrip())
        chunks = [c[i:i + 100] for c in chunks for i in range(0, len(c), 100)]
        lines.append(f"    {name!r}: (")
        lines += [f"        {json.dumps(chunk)}" for chunk in chunks]
        lines.append("    ),")
    lines += ["}", ""]
    return "\n".join(lines)


def generate() -> str:
    """The text of `_builtin_defs.py` (needs the `kubernetes-validate` dev dependency)."""
    import kubernetes_validate  # type: ignore[import-untyped]

    root = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / "v1.32.0-local"
    defs = json.loads((root / "_definitions.json").read_text())["$defs"]
    return render(*condense(defs))


if __name__ == "__main__":  # pragma: no cover
    (Path(__file__).parent / "_builtin_defs.py").write_text(generate())
