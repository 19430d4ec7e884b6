"""`kubectl get` Table responses (spec §1.4): the implicit Name column, then the
printer columns of built-in kinds (kubernetes `pkg/printers/internalversion/printers.go`)
or a CRD's `additionalPrinterColumns` evaluated as simple JSONPaths, with dates
rendered as human durations the way apimachinery `util/duration` does.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from gitops_ray.sandbox.meta import parse_time
from gitops_ray.sandbox.resources import Column, ResourceType

NAME_COLUMN = Column(name="Name", type="string", format="name",
                     description="Name must be unique within a namespace. Is required when creating resources, "
                                 "although some resources may allow a client to request the generation of an "
                                 "appropriate name automatically. Name is primarily intended for creation "
                                 "idempotence and configuration definition. Cannot be updated. More info: "
                                 "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")


def human_duration(seconds: float) -> str:
    """Short, rounded-down ages: `45s`, `5m12s`, `3h`, `2d4h`, `400d`, `3y2d`."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        rest = secs % 60
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d{rest}h" if rest else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y{rest}d" if rest else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def age(value: Any, now: dt.datetime) -> str:
    moment = parse_time(value) if isinstance(value, str) else None
    if moment is None:
        return "<unknown>"
    return human_duration((now - moment).total_seconds())


# -- JSONPath (the subset printer columns use: .a.b, [n], [*]) --------------------------------------------------
_STEP = re.compile(r"\.([^.\[\]]+)|\[(\*|-?\d+)\]|\['([^']+)'\]")


def json_path(obj: Any, path: str) -> list[Any]:
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    nodes = [obj]
    for match in _STEP.finditer(path):
        key, index, quoted = match.groups()
        nxt: list[Any] = []
        for node in nodes:
            if key is not None or quoted is not None:
                name = key if key is not None else quoted
                if isinstance(node, dict) and name in node:
                    nxt.append(node[name])
            elif index == "*":
                if isinstance(node, list):
                    nxt.extend(node)
                elif isinstance(node, dict):
                    nxt.extend(node.values())
            elif isinstance(node, list):
                i = int(index)
                if -len(node) <= i < len(node):
                    nxt.append(node[i])
        nodes = nxt
    return nodes


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def cr_cell(column: Column, obj: dict[str, Any], now: dt.datetime) -> Any:
    """apiextensions `tableconvertor.go`: strings are printed, other types converted, missing -> null."""
    found = json_path(obj, column.path)
    if not found or found[0] is None:
        return None
    if column.type == "string":
        return " ".join(_text(v) for v in found)
    value = found[0]
    if column.type == "integer":
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if column.type == "number":
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if column.type == "boolean":
        return value if isinstance(value, bool) else None
    if column.type == "date":
        return age(value, now) if isinstance(value, str) else None
    return None


# -- built-in printers ------------------------------------------------------------------------------------------
def _ports(spec: dict[str, Any]) -> str:
    parts = []
    for port in spec.get("ports") or ():
        text = f"{port.get('port')}"
        if port.get("nodePort"):
            text += f":{port['nodePort']}"
        parts.append(f"{text}/{port.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _external_ip(spec: dict[str, Any], status: dict[str, Any]) -> str:
    kind = spec.get("type", "ClusterIP")
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    ips = list(spec.get("externalIPs") or ())
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or ()]
        ips = [i for i in ingress if i] + ips
        return ",".join(ips) if ips else "<pending>"
    return ",".join(ips) if ips else "<none>"


def _selector(selector: Any) -> str:
    if not selector:
        return "<none>"
    if isinstance(selector, dict) and "matchLabels" not in selector and "matchExpressions" not in selector:
        return ",".join(f"{k}={v}" for k, v in selector.items())
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "<none>"


def _subjects(obj: dict[str, Any], kind: str) -> str:
    names = []
    for s in obj.get("subjects") or ():
        if s.get("kind") == kind:
            names.append(f"{s.get('namespace')}/{s.get('name')}" if kind == "ServiceAccount" else str(s.get("name")))
    return ", ".join(names)


def _job_status(obj: dict[str, Any]) -> str:
    conditions = {c.get("type"): c.get("status") for c in (obj.get("status") or {}).get("conditions") or ()}
    for kind, label in (("Failed", "Failed"), ("Complete", "Complete"), ("Suspended", "Suspended"),
                        ("FailureTarget", "FailureTarget"), ("SuccessCriteriaMet", "SuccessCriteriaMet")):
        if conditions.get(kind) == "True":
            return label
    return "Running"


Printer = Callable[[dict[str, Any], dt.datetime], Any]

_PRINTERS: dict[str, dict[str, Printer]] = {
    "Namespace": {"status": lambda o, n: (o.get("status") or {}).get("phase", "")},
    "ConfigMap": {"data": lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {})},
    "Secret": {"type": lambda o, n: o.get("type", ""), "data": lambda o, n: len(o.get("data") or {})},
    "ServiceAccount": {"secrets": lambda o, n: len(o.get("secrets") or ())},
    "Service": {
        "type": lambda o, n: (o.get("spec") or {}).get("type", "ClusterIP"),
        "cluster-ip": lambda o, n: (o.get("spec") or {}).get("clusterIP") or "<none>",
        "external-ip": lambda o, n: _external_ip(o.get("spec") or {}, o.get("status") or {}),
        "port(s)": lambda o, n: _ports(o.get("spec") or {}),
        "selector": lambda o, n: _selector((o.get("spec") or {}).get("selector")),
    },
    "PersistentVolumeClaim": {
        "status": lambda o, n: (o.get("status") or {}).get("phase", ""),
        "volume": lambda o, n: (o.get("spec") or {}).get("volumeName", ""),
        "capacity": lambda o, n: ((o.get("status") or {}).get("capacity") or {}).get("storage", ""),
        "access modes": lambda o, n: ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX",
                                               "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}.get(m, m)
                                              for m in (o.get("status") or {}).get("accessModes") or ()),
        "storageclass": lambda o, n: (o.get("spec") or {}).get("storageClassName") or "<unset>",
        "volumeattributesclass": lambda o, n: (o.get("spec") or {}).get("volumeAttributesClassName") or "<unset>",
        "volumemode": lambda o, n: (o.get("spec") or {}).get("volumeMode", "Filesystem"),
    },
    "Pod": {
        "ready": lambda o, n: f"0/{len((o.get('spec') or {}).get('containers') or ())}",
        "status": lambda o, n: (o.get("status") or {}).get("phase", "Pending"),
        "restarts": lambda o, n: 0,
        "ip": lambda o, n: (o.get("status") or {}).get("podIP") or "<none>",
        "node": lambda o, n: (o.get("spec") or {}).get("nodeName") or "<none>",
    },
    "Job": {
        "status": lambda o, n: _job_status(o),
        "completions": lambda o, n: f"{(o.get('status') or {}).get('succeeded', 0)}/"
                                    f"{(o.get('spec') or {}).get('completions', 1)}",
        "duration": lambda o, n: age((o.get("status") or {}).get("startTime"), n)
        if (o.get("status") or {}).get("startTime") else "",
        "containers": lambda o, n: ",".join(c.get("name", "") for c in
                                            (((o.get("spec") or {}).get("template") or {}).get("spec") or {})
                                            .get("containers") or ()),
        "images": lambda o, n: ",".join(c.get("image", "") for c in
                                        (((o.get("spec") or {}).get("template") or {}).get("spec") or {})
                                        .get("containers") or ()),
        "selector": lambda o, n: _selector((o.get("spec") or {}).get("selector")),
    },
    "Lease": {"holder": lambda o, n: (o.get("spec") or {}).get("holderIdentity", "")},
    "RoleBinding": {
        "role": lambda o, n: f"{(o.get('roleRef') or {}).get('kind')}/{(o.get('roleRef') or {}).get('name')}",
        "users": lambda o, n: _subjects(o, "User"), "groups": lambda o, n: _subjects(o, "Group"),
        "serviceaccounts": lambda o, n: _subjects(o, "ServiceAccount"),
    },
    "NetworkPolicy": {"pod-selector": lambda o, n: _selector((o.get("spec") or {}).get("podSelector")) or ""},
    "PriorityClass": {"value": lambda o, n: o.get("value", 0),
                      "global-default": lambda o, n: bool(o.get("globalDefault")),
                      "preemptionpolicy": lambda o, n: o.get("preemptionPolicy", "PreemptLowerPriority")},
}
_PRINTERS["ClusterRoleBinding"] = _PRINTERS["RoleBinding"]


def builtin_cell(rt: ResourceType, column: Column, obj: dict[str, Any], now: dt.datetime) -> Any:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if column.path == "age":
        return age(created, now)
    if column.path == "created at":
        return created or ""
    printer = _PRINTERS.get(rt.kind, {}).get(column.path)
    return printer(obj, now) if printer else ""


def table(rt: ResourceType, objects: list[dict[str, Any]], *, now: dt.datetime, resource_version: str,
          continue_token: str = "", remaining: int | None = None, include: str = "Metadata") -> dict[str, Any]:
    columns = [NAME_COLUMN, *rt.columns]
    rows = []
    for obj in objects:
        cells: list[Any] = [(obj.get("metadata") or {}).get("name", "")]
        for column in rt.columns:
            cells.append(builtin_cell(rt, column, obj, now) if rt.builtin else cr_cell(column, obj, now))
        row: dict[str, Any] = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata") or {}}
        rows.append(row)
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
            "columnDefinitions": [c.definition() for c in columns], "rows": rows}


__all__ = ["age", "human_duration", "json_path", "table"]
