"""`/openapi/v3`: just enough for `kubectl apply` with its default validation.

kubectl reads the root index, then the group-version document, and looks for
a PATCH operation tagged with the kind's `x-kubernetes-group-version-kind` that
takes a `fieldValidation` query parameter; finding it, it leaves validation to
the server (cli-runtime `query_param_verifier_v3.go`, spec §1.3). No
`requestBody` is declared, so kubectl builds client-side-apply patches from its
compiled-in types (strategic) or as merge patches (custom resources). CR
component schemas come from the CRD so `kubectl explain` has something to show.
"""

from __future__ import annotations

import hashlib
from typing import Any

from gitops_ray.sandbox.registry import Registry
from gitops_ray.sandbox.resources import ResourceType

_QUERY = ("dryRun", "fieldManager", "fieldValidation", "force")


def gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}


def _schema_name(rt: ResourceType) -> str:
    prefix = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{prefix}.{rt.version}.{rt.kind}"


def _item_path(rt: ResourceType) -> str:
    base = "/" + gv_path(rt.group, rt.version)
    ns = "/namespaces/{namespace}" if rt.namespaced else ""
    return f"{base}{ns}/{rt.plural}/{{name}}"


def gv_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    types = registry.types_in(group, version)
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rt in types:
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        ref = {"$ref": f"#/components/schemas/{_schema_name(rt)}"}
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        operation = {"x-kubernetes-group-version-kind": gvk, "responses": ok}
        paths[_item_path(rt)] = {
            "get": {**operation, "x-kubernetes-action": "get", "operationId": f"read{rt.kind}"},
            "put": {**operation, "x-kubernetes-action": "put", "operationId": f"replace{rt.kind}",
                    "parameters": [_param(p) for p in _QUERY if p != "force"]},
            "patch": {**operation, "x-kubernetes-action": "patch", "operationId": f"patch{rt.kind}",
                      "parameters": [_param(p) for p in _QUERY]},
            "delete": {**operation, "x-kubernetes-action": "delete", "operationId": f"delete{rt.kind}",
                       "parameters": [_param("dryRun")]},
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
        }
        schema: dict[str, Any] = dict(rt.schema) if rt.schema else {"type": "object"}
        schema["x-kubernetes-group-version-kind"] = [gvk]
        schemas[_schema_name(rt)] = schema
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.32.4"}, "paths": paths,
            "components": {"schemas": schemas}}


def _hash(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest().upper()


def gv_body(registry: Registry, gv: str) -> bytes | None:
    """The document at `/openapi/v3/<gv>` (`api/v1`, `apis/ray.io/v1`), or None."""
    parts = gv.strip("/").split("/")
    if parts[0] == "api" and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[0] == "apis" and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        return None
    if not registry.types_in(group, version):
        return None
    return registry.cached(("openapi", group, version), lambda: gv_document(registry, group, version))


def root_body(registry: Registry) -> bytes:
    def build() -> dict[str, Any]:
        paths: dict[str, Any] = {}
        for group, versions in registry.group_versions().items():
            for version in versions:
                gv = gv_path(group, version)
                body = gv_body(registry, gv)
                assert body is not None
                paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(body)}"}
        return {"paths": paths}
    return registry.cached(("openapi-root",), build)


__all__ = ["gv_body", "gv_document", "gv_path", "root_body"]
