"""Object identity: one frozen value used as a dict key everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def split_api_version(api_version: str) -> tuple[str, str]:
    """`ray.io/v1` -> (`ray.io`, `v1`); core `v1` -> (``, `v1`)."""
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True, order=True, slots=True)
class ObjectRef:
    """(group, kind, namespace, name): what makes two manifests the same object.

    The version is deliberately not part of identity: `ray.io/v1alpha1` and
    `ray.io/v1` RayClusters with one name are the same object on the server.
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def from_object(cls, body: dict[str, Any], default_namespace: str = "") -> ObjectRef:
        meta = body.get("metadata") or {}
        group, _ = split_api_version(str(body.get("apiVersion", "")))
        return cls(
            group=group,
            kind=str(body.get("kind", "")),
            namespace=str(meta.get("namespace") or default_namespace),
            name=str(meta.get("name", "")),
        )

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def group_kind(self) -> tuple[str, str]:
        return (self.group, self.kind)
