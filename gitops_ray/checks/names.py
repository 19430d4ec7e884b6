"""Object names checked offline as the API server checks them, so a bad name is a finding with
a line number in review rather than a 422 half-way through an apply.

The rule per kind follows the API server's validation (apimachinery `NameIsDNSSubdomain`
by default; `ValidateNamespaceName` is a DNS-1123 label, `ValidateServiceName` a DNS-1035
label, RBAC objects only a valid path segment, `ValidateRBACName`). KubeRay's own kinds
are checked more strictly by kuberay_rules (`kuberay:name-format`), so they are left to it.
"""

from __future__ import annotations

from collections.abc import Callable

from gitops_ray.checks import syntax
from gitops_ray.findings import Finding
from gitops_ray.kinds import RAY_GROUP, is_namespaced
from gitops_ray.manifests import Manifest, format_path

RULES: dict[str, str] = {
    "name:format": "metadata.name and metadata.namespace as the API server validates them, per kind",
}

_RBAC = "rbac.authorization.k8s.io"
NAME_RULES: dict[tuple[str, str], tuple[str, Callable[[str], str | None]]] = {
    ("", "Namespace"): ("a DNS-1123 label", syntax.dns1123_label),
    ("", "Service"): ("a DNS-1035 label", syntax.dns1035_label),
    (_RBAC, "Role"): ("a path segment", syntax.path_segment_name),
    (_RBAC, "RoleBinding"): ("a path segment", syntax.path_segment_name),
    (_RBAC, "ClusterRole"): ("a path segment", syntax.path_segment_name),
    (_RBAC, "ClusterRoleBinding"): ("a path segment", syntax.path_segment_name),
}
DEFAULT_RULE: tuple[str, Callable[[str], str | None]] = ("a DNS-1123 subdomain", syntax.dns1123_subdomain)


def check_names(manifest: Manifest) -> list[Finding]:
    ref = manifest.ref
    found: list[Finding] = []
    if ref.group != RAY_GROUP:
        what, rule = NAME_RULES.get((ref.group, ref.kind), DEFAULT_RULE)
        problem = rule(ref.name)
        if problem:
            found.append(_finding(manifest, ("metadata", "name"),
                                  f"{ref.kind} name {ref.name!r} is not {what}: {problem}"))
    namespace = (manifest.body.get("metadata") or {}).get("namespace")
    if isinstance(namespace, str) and namespace and is_namespaced(ref.group, ref.kind):
        problem = syntax.dns1123_label(namespace)
        if problem:
            found.append(_finding(manifest, ("metadata", "namespace"),
                                  f"namespace {namespace!r} is not a DNS-1123 label: {problem}"))
    return found


def _finding(manifest: Manifest, path: tuple[str, ...], message: str) -> Finding:
    line, column = manifest.locate(path)
    ref = manifest.ref
    return Finding(file=manifest.origin.file, line=line, column=column, message=message, rule="name:format",
                   path=format_path(path), api_version=manifest.api_version, kind=ref.kind,
                   namespace=ref.namespace, name=ref.name)
