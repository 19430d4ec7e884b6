"""Validation of built-in kinds: the checks of kubernetes `pkg/apis/core/validation` (and batch, rbac)
that matter for what gitops-ray and KubeRay write, as 422 causes (spec §3 "Core-kind specifics")."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

from gitops_ray.sandbox.meta import (
    Cause,
    dns1123_label,
    dns1123_subdomain,
    immutable,
    invalid,
    not_supported,
    required,
    too_long,
)
from gitops_ray.sandbox.resources import ResourceType

Obj = dict[str, Any]
DATA_LIMIT = 1024 * 1024
_DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def _data_keys(obj: Obj, field: str) -> list[Cause]:
    causes: list[Cause] = []
    for key in obj.get(field) or {}:
        if len(key) > 253 or not _DATA_KEY.fullmatch(key):
            causes.append(invalid(f"{field}[{key}]", key,
                                  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                                  "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
                                  "'[-._a-zA-Z0-9]+')"))
    return causes


def _size(obj: Obj, fields: tuple[str, ...]) -> int:
    return sum(len(k) + len(str(v)) for f in fields for k, v in (obj.get(f) or {}).items())


def _validate_configmap(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _data_keys(obj, "data") + _data_keys(obj, "binaryData")
    if _size(obj, ("data", "binaryData")) > DATA_LIMIT:
        causes.append(too_long("", DATA_LIMIT))
    causes += _immutable_data(obj, old, ("data", "binaryData"))
    return causes


def _immutable_data(obj: Obj, old: Obj | None, fields: tuple[str, ...]) -> list[Cause]:
    if old is None or not old.get("immutable"):
        return []
    causes = []
    if not obj.get("immutable"):
        causes.append(("FieldValueForbidden", "immutable", "Forbidden: field is immutable when `immutable` is set"))
    for field in fields:
        if (obj.get(field) or {}) != (old.get(field) or {}):
            causes.append(("FieldValueForbidden", field, "Forbidden: field is immutable when `immutable` is set"))
    return causes


def _validate_secret(obj: Obj, old: Obj | None) -> list[Cause]:
    causes = _data_keys(obj, "data")
    for key, value in (obj.get("data") or {}).items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            causes.append(invalid(f"data[{key}]", "<secret contents redacted>", "illegal base64 data"))
    if _size(obj, ("data",)) > DATA_LIMIT:
        causes.append(too_long("data", DATA_LIMIT))
    if old is not None and obj.get("type") != old.get("type"):
        causes.append(immutable("type", obj.get("type")))
    causes += _immutable_data(obj, old, ("data",))
    return causes


def _validate_service(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    kind = spec.get("type", "ClusterIP")
    supported = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
    if kind not in supported:
        causes.append(not_supported("spec.type", kind, supported))
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if not ports and kind != "ExternalName" and not headless:
        causes.append(required("spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        base = f"spec.ports[{index}]"
        name = port.get("name", "") if isinstance(port, dict) else ""
        if len(ports) > 1 and not name:
            causes.append(required(f"{base}.name"))
        elif name:
            causes += [invalid(f"{base}.name", name, p) for p in dns1123_label(name)]
            if name in names:
                causes.append(("FieldValueDuplicate", f"{base}.name", f'Duplicate value: "{name}"'))
            names.add(name)
        number = port.get("port") if isinstance(port, dict) else None
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append(invalid(f"{base}.port", number or 0, "must be between 1 and 65535, inclusive"))
        protocol = port.get("protocol", "TCP") if isinstance(port, dict) else "TCP"
        if protocol not in ("TCP", "UDP", "SCTP"):
            causes.append(not_supported(f"{base}.protocol", protocol, ("SCTP", "TCP", "UDP")))
    if kind == "ExternalName":
        causes += [invalid("spec.externalName", spec.get("externalName", ""), p)
                   for p in dns1123_subdomain(str(spec.get("externalName", "")))]
    if old is not None:
        old_spec = old.get("spec") or {}
        if old_spec.get("clusterIP") and spec.get("clusterIP") != old_spec.get("clusterIP") \
                and kind != "ExternalName" and old_spec.get("type") != "ExternalName":
            causes.append(invalid("spec.clusterIPs[0]", spec.get("clusterIP", ""), "may not change once set"))
    return causes


def _validate_namespace(obj: Obj, old: Obj | None) -> list[Cause]:
    return []


def _validate_job(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    causes: list[Cause] = []
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy not in ("OnFailure", "Never"):
        causes.append(not_supported("spec.template.spec.restartPolicy", policy or "", ("OnFailure", "Never")))
    if not (template.get("spec") or {}).get("containers"):
        causes.append(required("spec.template.spec.containers"))
    if old is not None:
        old_template = (old.get("spec") or {}).get("template") or {}
        if (template.get("spec") or {}) != (old_template.get("spec") or {}):
            causes.append(invalid("spec.template", template, "field is immutable"))
    return causes


def _validate_pod(obj: Obj, old: Obj | None) -> list[Cause]:
    spec = obj.get("spec") or {}
    causes: list[Cause] = []
    if not spec.get("containers"):
        causes.append(required("spec.containers"))
    for index, container in enumerate(spec.get("containers") or ()):
        if not isinstance(container, dict) or not container.get("name"):
            causes.append(required(f"spec.containers[{index}].name"))
        if isinstance(container, dict) and not container.get("image"):
            causes.append(required(f"spec.containers[{index}].image"))
    return causes


def _validate_rolebinding(obj: Obj, old: Obj | None) -> list[Cause]:
    ref = obj.get("roleRef") or {}
    causes: list[Cause] = []
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    if ref.get("kind") not in ("Role", "ClusterRole"):
        causes.append(not_supported("roleRef.kind", ref.get("kind", ""), ("ClusterRole", "Role")))
    if old is not None and ref != (old.get("roleRef") or {}):
        causes.append(invalid("roleRef", ref, "cannot change roleRef"))
    return causes


VALIDATORS: dict[str, Callable[[Obj, Obj | None], list[Cause]]] = {
    "ConfigMap": _validate_configmap,
    "Secret": _validate_secret,
    "Service": _validate_service,
    "Namespace": _validate_namespace,
    "Job": _validate_job,
    "Pod": _validate_pod,
    "RoleBinding": _validate_rolebinding,
    "ClusterRoleBinding": _validate_rolebinding,
}


def validate(rt: ResourceType, obj: Obj, old: Obj | None) -> list[Cause]:
    fn = VALIDATORS.get(rt.kind)
    return fn(obj, old) if fn is not None else []



__all__ = ["DATA_LIMIT", "validate"]
