"""What the verb pipelines need of the API server core, as a protocol.

`writes`, `deletion`, `reads` and `watch` are the server's verbs; `api.Api`
composes them and supplies the hooks below (namespace admission, the reactions
to writes and removals: namespace bootstrap, CRD establishment). Typing the
pipelines against this protocol instead of `Api` keeps the arrows one way:
`api` imports the pipelines, never the reverse.
"""

from __future__ import annotations

from typing import Any, Protocol

from gitops_ray.sandbox.registry import Registry
from gitops_ray.sandbox.resources import ResourceType
from gitops_ray.sandbox.store import Store, Txn

Obj = dict[str, Any]


class ServerContext(Protocol):
    store: Store
    registry: Registry

    def now(self) -> str:
        """The server clock as an RFC 3339 timestamp (deletionTimestamp, managedFields times)."""
        ...

    def admit_namespace(self, txn: Txn, rt: ResourceType, ns: str, name: str) -> None:
        """NamespaceLifecycle admission: raise if `ns` cannot take new objects."""
        ...

    def after_write(self, txn: Txn, rt: ResourceType, obj: Obj, prev: Obj | None) -> None:
        """React to a persisted write (in the same transaction)."""
        ...

    def after_remove(self, txn: Txn, rt: ResourceType, obj: Obj) -> None:
        """React to an object deleted for good (in the same transaction)."""
        ...
