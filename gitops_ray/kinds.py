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

CLUSTER_SCOPED: frozenset[tuple[str, str]] = frozenset({
    # built-in kinds (the API server's scope of each resource; `kubectl api-resources --namespaced=false`)
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"), ("node.k8s.io", "RuntimeClass"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"), ("storage.k8s.io", "VolumeAttributesClass"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"), ("apiregistration.k8s.io", "APIService"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("certificates.k8s.io", "CertificateSigningRequest"), ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"), ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "IPAddress"), ("networking.k8s.io", "ServiceCIDR"),
    ("internal.apiserver.k8s.io", "StorageVersion"), ("storagemigration.k8s.io", "StorageVersionMigration"),
    ("resource.k8s.io", "DeviceClass"), ("resource.k8s.io", "ResourceSlice"), ("resource.k8s.io", "DeviceTaintRule"),
    ("authentication.k8s.io", "TokenReview"), ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SubjectAccessReview"), ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    # the cluster-scoped kinds of the bundled platform CRDs (a test checks them against the CRDs' spec.scope)
    ("kueue.x-k8s.io", "ClusterQueue"), ("kueue.x-k8s.io", "ResourceFlavor"), ("kueue.x-k8s.io", "Cohort"),
    ("kueue.x-k8s.io", "AdmissionCheck"), ("kueue.x-k8s.io", "Topology"), ("kueue.x-k8s.io", "WorkloadPriorityClass"),
    ("kueue.x-k8s.io", "MultiKueueCluster"), ("kueue.x-k8s.io", "MultiKueueConfig"),
    ("kueue.x-k8s.io", "ProvisioningRequestConfig"), ("gateway.networking.k8s.io", "GatewayClass"),
})
"""Kinds outside KINDS that live outside namespaces: without this a StorageClass in an environment
with one namespace would be given that namespace, and one with several would be refused."""


def lookup(group: str, kind: str) -> KindInfo | None:
    return _BY_GROUP_KIND.get((group, kind))


def is_namespaced(group: str, kind: str) -> bool:
    """Unknown kinds are assumed namespaced, as most custom resources are."""
    info = lookup(group, kind)
    return (group, kind) not in CLUSTER_SCOPED if info is None else info.namespaced


def is_ray(group: str) -> bool:
    return group == RAY_GROUP
