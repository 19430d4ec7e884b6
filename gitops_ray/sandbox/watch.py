"""Watch streams (spec §1.8): one JSON event per line, from the store's event ring.

`resourceVersion` unset or "0" starts with synthetic ADDED events for what
exists now; `=N` replays what happened after N, or answers a single 410
`Expired` ERROR event when N fell out of the ring. With a selector, an object
that stops matching is sent as DELETED and one that starts matching as ADDED.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox.context import ServerContext
from gitops_ray.sandbox.reads import Filter, body_of
from gitops_ray.sandbox.resources import ResourceType
from gitops_ray.sandbox.store import Event

BOOKMARK_INTERVAL = 5.0


def _line(kind: str, item: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + item + b"}\n"


def _item(rt: ResourceType, body: bytes) -> bytes:
    return rt.item_prefix() + body[1:]


def _event_type(event: Event, flt: Filter) -> str | None:
    """The type a filtered watcher sees for `event`, or None when it sees nothing."""
    now = flt.match(event.labels, event.name, event.ns, event.fields)
    if event.type != "MODIFIED":
        return event.type if now else None
    before = flt.match(event.old_labels or {}, event.name, event.ns, event.old_fields or {}) \
        if event.old_labels is not None else now
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


def stream(api: ServerContext, rt: ResourceType, ns: str | None, flt: Filter, *, resource_version: str | None,
           timeout: float, bookmarks: bool, stop: threading.Event,
           render: Callable[[bytes], bytes] | None = None) -> Iterator[bytes]:
    """`render` turns each event's object into what is sent (a one-row Table for `kubectl get -w`)."""
    store = api.store

    def emit(body: bytes) -> bytes:
        item = _item(rt, body)
        return render(item) if render is not None else item

    if resource_version in (None, "", "0"):
        start, rows = store.scan(rt.group_resource, ns)
        for row in rows:
            if flt.match_row(row, rt):
                yield _line("ADDED", emit(body_of(api, rt, row)))
    else:
        try:
            start = int(str(resource_version))
        except ValueError:
            yield _line("ERROR", E.bad_request(f"invalid resource version: {resource_version}").body())
            return
    deadline = time.monotonic() + timeout
    last_sent = time.monotonic()
    while not stop.is_set() and not store.closed:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            events = store.wait_events(start, min(remaining, 1.0))
        except E.StatusError as err:
            yield _line("ERROR", err.body())
            return
        for event in events:
            start = event.rv
            if event.gr != rt.group_resource or (ns is not None and event.ns != ns):
                continue
            kind = _event_type(event, flt)
            if kind is not None:
                last_sent = time.monotonic()
                yield _line(kind, emit(event.body))
        if bookmarks and time.monotonic() - last_sent >= BOOKMARK_INTERVAL:
            last_sent = time.monotonic()
            mark = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"resourceVersion": str(start)}}
            yield _line("BOOKMARK", json.dumps(mark, separators=(",", ":")).encode())


__all__ = ["stream"]
