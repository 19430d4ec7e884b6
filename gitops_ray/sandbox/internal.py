"""`InternalClient`: what in-process controllers (the simulated KubeRay operator)
use instead of HTTP. It calls the same `Api` entry points as the HTTP handlers,
so its writes get admission, managedFields, resourceVersions and watch events
exactly like a client's; errors are the same `StatusError`s.
"""

from __future__ import annotations

import json
from typing import Any

from gitops_ray.refs import split_api_version
from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox.admission import WriteOptions
from gitops_ray.sandbox.api import Api
from gitops_ray.sandbox.deletion import DeleteOptions
from gitops_ray.sandbox.reads import Filter, item_obj, list_rows
from gitops_ray.sandbox.resources import ResourceType

Obj = dict[str, Any]


class InternalClient:
    def __init__(self, api: Api) -> None:
        self.api = api

    def _type(self, api_version: str, plural: str) -> ResourceType:
        group, version = split_api_version(api_version)
        rt = self.api.registry.lookup(group, version, plural)
        if rt is None:
            raise E.path_not_found()
        return rt

    def list(self, api_version: str, plural: str, namespace: str | None = None, *,
             label_selector: str | None = None, field_selector: str | None = None) -> list[Obj]:
        rt = self._type(api_version, plural)
        page = list_rows(self.api, rt, namespace, Filter.parse(rt, label_selector, field_selector), limit=None,
                         token=None)
        return [item_obj(self.api, rt, row) for row in page.rows]

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        rt = self._type(api_version, plural)
        row = self.api.store.get(rt.group_resource, namespace or "", name)
        return item_obj(self.api, rt, row) if row is not None else None

    def create(self, api_version: str, plural: str, namespace: str | None, body: Obj, *, field_manager: str) -> Obj:
        rt = self._type(api_version, plural)
        return self.api.create(rt, namespace or "", _copy(body), WriteOptions(field_manager=field_manager)).obj

    def update(self, api_version: str, plural: str, namespace: str | None, body: Obj, *, field_manager: str) -> Obj:
        """PUT: `metadata.resourceVersion` in the body is checked (stale: 409)."""
        rt = self._type(api_version, plural)
        name = body["metadata"]["name"]
        opts = WriteOptions(field_manager=field_manager)
        return self.api.replace(rt, namespace or "", name, _copy(body), opts).obj

    def update_status(self, api_version: str, plural: str, namespace: str | None, body: Obj, *,
                      field_manager: str) -> Obj:
        rt = self._type(api_version, plural)
        name = body["metadata"]["name"]
        opts = WriteOptions(field_manager=field_manager)
        return self.api.replace(rt, namespace or "", name, _copy(body), opts, "status").obj

    def apply(self, api_version: str, plural: str, namespace: str | None, body: Obj, *, field_manager: str,
              force: bool = True, subresource: str | None = None) -> Obj:
        """Server-side apply (what `kubectl apply --server-side` sends)."""
        rt = self._type(api_version, plural)
        name = body["metadata"]["name"]
        opts = WriteOptions(field_manager=field_manager, force=force, field_validation="Strict")
        raw = json.dumps(body).encode()
        return self.api.patch(rt, namespace or "", name, "application/apply-patch+yaml", raw, opts, subresource).obj

    def merge_patch(self, api_version: str, plural: str, namespace: str | None, name: str, patch: Obj, *,
                    field_manager: str, subresource: str | None = None) -> Obj:
        rt = self._type(api_version, plural)
        opts = WriteOptions(field_manager=field_manager)
        raw = json.dumps(patch).encode()
        return self.api.patch(rt, namespace or "", name, "application/merge-patch+json", raw, opts, subresource).obj

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str, *,
               propagation: str = "Background") -> None:
        rt = self._type(api_version, plural)
        self.api.delete(rt, namespace or "", name, DeleteOptions(propagation=propagation))

    def resource_version(self) -> int:
        """The current global resourceVersion (to pass to `wait`)."""
        return self.api.store.current_rv()

    def wait(self, since: int, timeout: float) -> int:
        """Block until something changes after `since` (or `timeout` seconds); returns the newest version seen."""
        try:
            events = self.api.store.wait_events(since, timeout)
        except E.StatusError:  # `since` fell out of the event history: something certainly changed
            return self.api.store.current_rv()
        return events[-1].rv if events else since


def _copy(body: Obj) -> Obj:
    copied: Obj = json.loads(json.dumps(body))
    return copied


__all__ = ["InternalClient"]
