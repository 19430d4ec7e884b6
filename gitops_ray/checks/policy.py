"""Environment policy: what an environment allows beyond what Kubernetes accepts.

For now one rule, `policy:namespace`: an environment may touch only the
namespaces its environment.yaml lists, so a manifest outside them is an error
before any cluster sees it (a typo in `metadata.namespace` would otherwise
create objects where nobody looks, or where another team works).
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_ray import kinds
from gitops_ray.findings import Finding
from gitops_ray.manifests import Manifest, PathElem, format_path

RULES: dict[str, str] = {
    "policy:namespace": "objects (and Namespace objects) only in the environment's namespaces",
}


def check_namespace(manifest: Manifest, namespaces: Sequence[str]) -> Finding | None:
    ref = manifest.ref
    allowed = ", ".join(namespaces) or "none"
    path: tuple[PathElem, ...]
    if ref.group == "" and ref.kind == "Namespace":
        if ref.name in namespaces:
            return None
        path = ("metadata", "name")
        message = f"Namespace {ref.name!r} is not one of this environment's namespaces ({allowed})"
    elif not kinds.is_namespaced(ref.group, ref.kind):
        return None
    elif not ref.namespace:
        path = ("metadata",)
        message = f"no metadata.namespace, and the environment allows several namespaces ({allowed}): set one"
    elif ref.namespace in namespaces:
        return None
    else:
        path = ("metadata", "namespace")
        message = f"namespace {ref.namespace!r} is not one of this environment's namespaces ({allowed})"
    line, column = manifest.locate(path)
    return Finding(
        file=manifest.origin.file, line=line, column=column, message=message, rule="policy:namespace",
        path=format_path(path), api_version=manifest.api_version, kind=ref.kind, namespace=ref.namespace,
        name=ref.name,
    )
