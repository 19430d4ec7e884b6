"""Environment policy: what an environment allows beyond what Kubernetes accepts.

`policy:namespace`: an environment may touch only the namespaces its
environment.yaml lists, so a manifest outside them is an error before any
cluster sees it (a typo in `metadata.namespace` would otherwise create objects
where nobody looks, or where another team works).

`policy:cluster-scoped`: a cluster-scoped object (PriorityClass, ClusterRole,
a CRD, a Namespace other than the environment's own) belongs to every team on
the cluster at once; an environment owns one only where its `clusterScoped`
list says so (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence

from gitops_ray import kinds
from gitops_ray.environment import ClusterScopedRule
from gitops_ray.findings import Finding
from gitops_ray.manifests import Manifest, PathElem, format_path

RULES: dict[str, str] = {
    "policy:namespace": "objects (and Namespace objects) only in the environment's namespaces",
    "policy:cluster-scoped": "cluster-scoped objects only where the environment's clusterScoped list allows them",
}


def check_namespace(manifest: Manifest, namespaces: Sequence[str],
                    cluster_scoped: Sequence[ClusterScopedRule] = ()) -> Finding | None:
    ref = manifest.ref
    allowed = ", ".join(namespaces) or "none"
    path: tuple[PathElem, ...]
    rule = "policy:namespace"
    listed = any(r.allows(ref.group, ref.kind, ref.name) for r in cluster_scoped)
    if ref.group == "" and ref.kind == "Namespace":
        if ref.name in namespaces or listed:
            return None
        path = ("metadata", "name")
        message = (f"Namespace {ref.name!r} is not one of this environment's namespaces ({allowed}) nor in its "
                   "clusterScoped list")
    elif not kinds.is_namespaced(ref.group, ref.kind):
        if listed:
            return None
        path = ("kind",)
        rule = "policy:cluster-scoped"
        group = f" (group {ref.group})" if ref.group else ""
        message = (f"{ref.kind}{group} {ref.name!r} is cluster-scoped: other teams share it; list it in the "
                   "environment's spec.clusterScoped to let this environment own it")
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
        file=manifest.origin.file, line=line, column=column, message=message, rule=rule,
        path=format_path(path), api_version=manifest.api_version, kind=ref.kind, namespace=ref.namespace,
        name=ref.name,
    )
