"""The served resource types and the discovery documents built from them.

Built-in types are fixed; custom resource types come and go with their CRDs
(only once the CRD is Established, as on a real server). Every change bumps
`generation`, which keys the cached discovery and OpenAPI bodies, so a LIST
never rebuilds them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from gitops_ray.sandbox.resources import BUILTINS, SUBRESOURCE_VERBS, ResourceType, version_priority
from gitops_ray.sandbox.typeschema import TypeSchema

_BUILTIN_GROUP_ORDER = ["", "batch", "coordination.k8s.io", "rbac.authorization.k8s.io", "networking.k8s.io",
                        "scheduling.k8s.io", "apiextensions.k8s.io"]


_BUILTIN_SCHEMAS: dict[tuple[str, str, str], TypeSchema] = {}


def builtin_schema(group: str, version: str, kind: str) -> TypeSchema:
    """The merge schema of a built-in kind, or the generic one if its definition is incomplete (once per process:
    a failed build must not be retried against a half-filled definition cache)."""
    key = (group, version, kind)
    schema = _BUILTIN_SCHEMAS.get(key)
    if schema is None:
        try:
            schema = TypeSchema.builtin(group, version, kind)
        except KeyError:
            schema = TypeSchema.builtin(group, version, "")
        _BUILTIN_SCHEMAS[key] = schema
    return schema


def _dump(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._crds: dict[str, list[ResourceType]] = {}
        self.generation = 0
        self._cache: dict[tuple[Any, ...], bytes] = {}
        self._rebuild()

    # -- content -------------------------------------------------------------------------------------------
    def set_crd(self, name: str, types: list[ResourceType]) -> None:
        with self._lock:
            if types:
                self._crds[name] = types
            else:
                self._crds.pop(name, None)
            self._rebuild()

    def _rebuild(self) -> None:
        types = list(BUILTINS) + [t for ts in self._crds.values() for t in ts]
        self._by_gvr = {(t.group, t.version, t.plural): t for t in types}
        storage: dict[str, ResourceType] = {}
        for t in types:
            if t.builtin or t.version == t.storage_version:
                storage[t.group_resource] = t
        self._by_gr = storage
        self._types = types
        self.generation += 1
        self._cache = {}

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def storage_type(self, group_resource: str) -> ResourceType | None:
        """The storage version's type of a `plural.group` (for GC and namespace cleanup)."""
        return self._by_gr.get(group_resource)

    def find_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        for t in self._types:
            if t.group == group and t.version == version and t.kind == kind:
                return t
        return None

    def all_types(self) -> list[ResourceType]:
        return list(self._types)

    def crd_types(self, name: str) -> list[ResourceType]:
        return list(self._crds.get(name, ()))

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, preferred first; core ("") first, then built-in groups, then CRD groups."""
        groups: dict[str, list[str]] = {}
        for t in self._types:
            versions = groups.setdefault(t.group, [])
            if t.version not in versions:
                versions.append(t.version)
        order = {g: i for i, g in enumerate(_BUILTIN_GROUP_ORDER)}
        ordered = sorted(groups, key=lambda g: (order.get(g, len(order)), g))
        return {g: sorted(groups[g], key=version_priority) for g in ordered}

    def types_in(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types if t.group == group and t.version == version]

    def schema(self, rt: ResourceType) -> TypeSchema:
        if rt.builtin or rt.schema is None:
            return builtin_schema(rt.group, rt.version, rt.kind)
        return TypeSchema.from_openapi(rt.schema)

    def cached(self, key: tuple[Any, ...], build: Callable[[], Any]) -> bytes:
        full = (self.generation, *key)
        hit = self._cache.get(full)
        if hit is None:
            hit = _dump(build())
            self._cache[full] = hit
        return hit

    # -- plain discovery -------------------------------------------------------------------------------------
    def api_versions(self, address: str) -> bytes:
        return self.cached(("api", address), lambda: {
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]})

    def _group_doc(self, group: str, versions: list[str]) -> dict[str, Any]:
        listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"name": group, "versions": listed, "preferredVersion": listed[0]}

    def api_groups(self) -> bytes:
        def build() -> dict[str, Any]:
            groups = [self._group_doc(g, vs) for g, vs in self.group_versions().items() if g]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        return self.cached(("apis",), build)

    def api_group(self, group: str) -> bytes | None:
        versions = self.group_versions().get(group)
        if not group or not versions:
            return None
        return self.cached(("group", group), lambda: {"kind": "APIGroup", "apiVersion": "v1",
                                                      **self._group_doc(group, versions)})

    def resource_list(self, group: str, version: str) -> bytes | None:
        types = self.types_in(group, version)
        if not types:
            return None

        def build() -> dict[str, Any]:
            resources: list[dict[str, Any]] = []
            for t in sorted(types, key=lambda t: t.plural):
                entry: dict[str, Any] = {"name": t.plural, "singularName": t.singular, "namespaced": t.namespaced,
                                         "kind": t.kind, "verbs": list(t.verbs)}
                if t.short_names:
                    entry["shortNames"] = list(t.short_names)
                if t.categories:
                    entry["categories"] = list(t.categories)
                resources.append(entry)
                for sub in t.subresources:
                    verbs = ["update"] if sub == "finalize" else list(SUBRESOURCE_VERBS)
                    resources.append({"name": f"{t.plural}/{sub}", "singularName": "", "namespaced": t.namespaced,
                                      "kind": t.kind, "verbs": verbs})
            gv = f"{group}/{version}" if group else version
            return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
        return self.cached(("resources", group, version), build)

    # -- aggregated discovery (apidiscovery.k8s.io v2 / v2beta1) ---------------------------------------------
    def aggregated(self, version: str, legacy: bool) -> bytes:
        def build() -> dict[str, Any]:
            items = []
            for group, versions in self.group_versions().items():
                if bool(group) == legacy:
                    continue
                items.append({
                    "metadata": {"name": group, "creationTimestamp": None} if group
                    else {"creationTimestamp": None},
                    "versions": [{"version": v, "resources": self._aggregated_resources(group, v),
                                  "freshness": "Current"} for v in versions],
                })
            return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}",
                    "metadata": {}, "items": items}
        return self.cached(("aggregated", version, legacy), build)

    def _aggregated_resources(self, group: str, version: str) -> list[dict[str, Any]]:
        out = []
        for t in sorted(self.types_in(group, version), key=lambda t: t.plural):
            kind = {"group": group, "version": version, "kind": t.kind}
            entry: dict[str, Any] = {"resource": t.plural, "responseKind": kind,
                                     "scope": "Namespaced" if t.namespaced else "Cluster",
                                     "singularResource": t.singular, "verbs": list(t.verbs)}
            if t.short_names:
                entry["shortNames"] = list(t.short_names)
            if t.categories:
                entry["categories"] = list(t.categories)
            if t.subresources:
                entry["subresources"] = [
                    {"subresource": sub, "responseKind": kind,
                     "verbs": ["update"] if sub == "finalize" else list(SUBRESOURCE_VERBS)}
                    for sub in t.subresources]
            out.append(entry)
        return out


__all__ = ["Registry"]
