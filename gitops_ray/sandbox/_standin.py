"""Temporary stand-ins for engineer B's fieldmanager/patches until they land (removed then)."""

from __future__ import annotations

import copy
from typing import Any

from gitops_ray.sandbox.typeschema import TypeSchema


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[tuple[str, str]]) -> None:
        super().__init__("conflict")
        self.conflicts = conflicts

    def causes(self) -> list[dict[str, Any]]:
        return []


class UndeclaredField(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


class PatchError(Exception):
    pass


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def json_patch(target: Any, ops: list[dict[str, Any]]) -> Any:
    raise PatchError("json patch not available yet")


def strategic_merge_patch(target: Any, patch: Any, schema: TypeSchema) -> Any:
    return merge_patch(target, patch)


def apply(live: dict[str, Any] | None, config: dict[str, Any], *, manager: str, force: bool, schema: TypeSchema,
          api_version: str, subresource: str | None, now: str) -> dict[str, Any]:
    out: dict[str, Any] = merge_patch(live or {}, config)
    out.setdefault("metadata", {})["managedFields"] = [
        {"manager": manager, "operation": "Apply", "apiVersion": api_version, "time": now,
         "fieldsType": "FieldsV1", "fieldsV1": {}}]
    return out


def update(live: dict[str, Any] | None, new: dict[str, Any], *, manager: str, schema: TypeSchema,
           api_version: str, subresource: str | None, now: str) -> dict[str, Any]:
    out = copy.deepcopy(new)
    mf = list((live or {}).get("metadata", {}).get("managedFields") or [])
    mf = [e for e in mf if not (e.get("manager") == manager and e.get("operation") == "Update")]
    mf.append({"manager": manager, "operation": "Update", "apiVersion": api_version, "time": now,
               "fieldsType": "FieldsV1", "fieldsV1": {}})
    out.setdefault("metadata", {})["managedFields"] = mf
    return out
