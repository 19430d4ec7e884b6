"""The kinds gitops-ray knows: group, version, plural and scope, as one table.

Ordering, health, schema lookup and the cluster client all key off this table
rather than spreading `if kind == ...` through the code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KindInfo:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


RAY_GROUP = "ray.io"

KINDS: tuple[KindInfo, ...] = (
    KindInfo("", "v1", "Namespace", "namespaces", False),
    KindInfo("", "v1", "ServiceAccount", "serviceaccounts", True),
    KindInfo("rbac.authorization.k8s.io", "v1", "Role", "roles", True),
    KindInfo("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True),
    KindInfo("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    KindInfo("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    KindInfo("", "v1", "ConfigMap", "configmaps", True),
    KindInfo("", "v1", "Secret", "secrets", True),
    KindInfo("", "v1", "Service", "services", True),
    KindInfo("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True),
    KindInfo("", "v1", "ResourceQuota", "resourcequotas", True),
    KindInfo("", "v1", "LimitRange", "limitranges", True),
    KindInfo("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", True),
    KindInfo("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False),
    KindInfo("coordination.k8s.io", "v1", "Lease", "leases", True),
    KindInfo("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    KindInfo(RAY_GROUP, "v1", "RayCluster", "rayclusters", True),
    KindInfo(RAY_GROUP, "v1", "RayJob", "rayjobs", True),
    KindInfo(RAY_GROUP, "v1", "RayService", "rayservices", True),
    KindInfo(RAY_GROUP, "v1", "RayCronJob", "raycronjobs", True),
)

_BY_GROUP_KIND: dict[tuple[str, str], KindInfo] = {(k.group, k.kind): k for k in KINDS}


def lookup(group: str, kind: str) -> KindInfo | None:
    return _BY_GROUP_KIND.get((group, kind))


def is_namespaced(group: str, kind: str) -> bool:
    """Unknown kinds are assumed namespaced, as most custom resources are."""
    info = lookup(group, kind)
    return True if info is None else info.namespaced


def is_ray(group: str) -> bool:
    return group == RAY_GROUP
