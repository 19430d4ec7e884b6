"""One import point for engineer B's merge libraries (patch stand-ins until patches.py lands)."""

from __future__ import annotations

from gitops_ray.sandbox._standin import PatchError, json_patch, merge_patch, strategic_merge_patch
from gitops_ray.sandbox.fieldmanager import ApplyConflict, BadApplyRequest, UndeclaredField, apply, update

__all__ = ["ApplyConflict", "BadApplyRequest", "PatchError", "UndeclaredField", "apply", "json_patch", "merge_patch",
           "strategic_merge_patch", "update"]
