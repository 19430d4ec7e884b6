"""What the sandbox serves: one `ResourceType` per (group, version, resource).

Built-in kinds are a table (the facts kube-apiserver 1.32 reports in discovery:
short names, categories, subresources, whether PUT may create, whether the
strategy keeps `metadata.generation`); custom resources get theirs from their
CRD (crds.py). Everything else in the server is driven by these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
CR_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Column:
    """A Table column; `path` is a JSONPath for CRD printer columns, a printer key for built-ins."""

    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0
    path: str = ""

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format,
                "description": self.description, "priority": self.priority}


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = VERBS
    builtin: bool = True
    storage_version: str = ""
    deprecation_warning: str = ""
    columns: tuple[Column, ...] = ()
    create_on_update: bool = False
    has_generation: bool = False
    field_labels: tuple[str, ...] = ()
    # CRs: the version's openAPIV3Schema (for TypeSchema, defaults, OpenAPI docs) and its digest
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False, repr=False)
    schema_tag: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def storage_api_version(self) -> str:
        version = self.storage_version or self.version
        return f"{self.group}/{version}" if self.group else version

    @property
    def group_resource(self) -> str:
        """The storage key and the text in error messages: `configmaps`, `rayclusters.ray.io`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    def item_prefix(self) -> bytes:
        """`{"apiVersion":...,"kind":...,` to splice in front of a stored body's remaining keys."""
        return b'{"apiVersion":"' + self.api_version.encode() + b'","kind":"' + self.kind.encode() + b'",'


def _core(kind: str, plural: str, *, short: tuple[str, ...] = (), cats: tuple[str, ...] = (),
          subs: tuple[str, ...] = (), namespaced: bool = True, create_on_update: bool = False,
          generation: bool = False, fields: tuple[str, ...] = (), group: str = "", verbs: tuple[str, ...] = VERBS,
          columns: tuple[Column, ...] = ()) -> ResourceType:
    return ResourceType(group=group, version="v1", kind=kind, plural=plural, singular=kind.lower(),
                        namespaced=namespaced, short_names=short, categories=cats, subresources=subs, verbs=verbs,
                        create_on_update=create_on_update, has_generation=generation, field_labels=fields,
                        columns=columns)


def _cols(*spec: tuple[str, str, int]) -> tuple[Column, ...]:
    """(name, type, priority) triples; the printer key is the lowered name."""
    return tuple(Column(name=n, type=t, priority=p, path=n.lower()) for n, t, p in spec)


_AGE = ("Age", "string", 0)

# Columns as kubernetes/kubernetes pkg/printers/internalversion/printers.go prints them (spec §1.4).
BUILTINS: tuple[ResourceType, ...] = (
    _core("Namespace", "namespaces", short=("ns",), subs=("finalize", "status"), namespaced=False,
          fields=("status.phase",), verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
          columns=_cols(("Status", "string", 0), _AGE)),
    _core("ConfigMap", "configmaps", short=("cm",), columns=_cols(("Data", "string", 0), _AGE)),
    _core("Secret", "secrets", fields=("type",),
          columns=_cols(("Type", "string", 0), ("Data", "string", 0), _AGE)),
    _core("ServiceAccount", "serviceaccounts", short=("sa",), columns=_cols(("Secrets", "string", 0), _AGE)),
    _core("Service", "services", short=("svc",), cats=("all",), subs=("status",), create_on_update=True,
          columns=_cols(("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
                        ("Port(s)", "string", 0), _AGE, ("Selector", "string", 1))),
    _core("PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), subs=("status",),
          columns=_cols(("Status", "string", 0), ("Volume", "string", 0), ("Capacity", "string", 0),
                        ("Access Modes", "string", 0), ("StorageClass", "string", 0),
                        ("VolumeAttributesClass", "string", 0), _AGE, ("VolumeMode", "string", 1))),
    _core("ResourceQuota", "resourcequotas", short=("quota",), subs=("status",),
          columns=_cols(_AGE, ("Request", "string", 0), ("Limit", "string", 0))),
    _core("LimitRange", "limitranges", short=("limits",), create_on_update=True,
          columns=_cols(("Created At", "string", 0))),
    _core("Pod", "pods", short=("po",), cats=("all",), subs=("status",),
          fields=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                  "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
          columns=_cols(("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), _AGE,
                        ("IP", "string", 1), ("Node", "string", 1))),
    _core("Job", "jobs", group="batch", cats=("all",), subs=("status",), generation=True,
          fields=("status.successful",),
          columns=_cols(("Status", "string", 0), ("Completions", "string", 0), ("Duration", "string", 0), _AGE,
                        ("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1))),
    _core("Lease", "leases", group="coordination.k8s.io", create_on_update=True,
          columns=_cols(("Holder", "string", 0), _AGE)),
    _core("Role", "roles", group="rbac.authorization.k8s.io", create_on_update=True,
          columns=_cols(("Created At", "string", 0))),
    _core("RoleBinding", "rolebindings", group="rbac.authorization.k8s.io", create_on_update=True,
          columns=_cols(("Role", "string", 0), _AGE, ("Users", "string", 1), ("Groups", "string", 1),
                        ("ServiceAccounts", "string", 1))),
    _core("ClusterRole", "clusterroles", group="rbac.authorization.k8s.io", namespaced=False,
          create_on_update=True, columns=_cols(("Created At", "string", 0))),
    _core("ClusterRoleBinding", "clusterrolebindings", group="rbac.authorization.k8s.io", namespaced=False,
          create_on_update=True,
          columns=_cols(("Role", "string", 0), _AGE, ("Users", "string", 1), ("Groups", "string", 1),
                        ("ServiceAccounts", "string", 1))),
    _core("NetworkPolicy", "networkpolicies", group="networking.k8s.io", short=("netpol",), generation=True,
          columns=_cols(("Pod-Selector", "string", 0), _AGE)),
    _core("PriorityClass", "priorityclasses", group="scheduling.k8s.io", short=("pc",), namespaced=False,
          columns=_cols(("Value", "integer", 0), ("Global-Default", "boolean", 0), _AGE,
                        ("PreemptionPolicy", "string", 0))),
    _core("CustomResourceDefinition", "customresourcedefinitions", group="apiextensions.k8s.io",
          short=("crd", "crds"), cats=("api-extensions",), subs=("status",), namespaced=False, generation=True,
          columns=_cols(("Created At", "date", 0))),
)

NAMESPACES = BUILTINS[0]
CRD_TYPE = BUILTINS[-1]

# Field selectors every kind accepts (spec §1.6).
COMMON_FIELD_LABELS = ("metadata.name", "metadata.namespace")


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version priority: GA > beta > alpha, higher numbers first (sort ascending on this)."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not match:
        return (3, 0, 0)
    major = int(match.group(1))
    level = {"": 0, "beta": 1, "alpha": 2}[match.group(2) or ""]
    minor = int(match.group(3) or 0)
    return (level, -major, -minor)


__all__ = ["BUILTINS", "COMMON_FIELD_LABELS", "CRD_TYPE", "CR_VERBS", "NAMESPACES", "SUBRESOURCE_VERBS", "VERBS",
           "Column", "ResourceType", "version_priority"]
