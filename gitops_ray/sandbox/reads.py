"""GET and LIST: stored bytes spliced into responses, selectors, paging.

A LIST never re-encodes objects: each item is the stored JSON with
`apiVersion`/`kind` spliced in front (custom resources) or left off (built-in
list items carry neither, spec §6.3). Only objects written under an older CRD
schema are decoded, defaulted and re-encoded (defaults apply on read too).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox.context import ServerContext
from gitops_ray.sandbox.resources import COMMON_FIELD_LABELS, ResourceType
from gitops_ray.sandbox.selectors import Selector, field_matcher, field_values, label_matcher
from gitops_ray.sandbox.store import Row, encode_body
from gitops_ray.sandbox.typeschema import apply_defaults

Obj = dict[str, Any]


@dataclass
class Filter:
    """labelSelector + fieldSelector of one list or watch."""

    labels: Selector | None = None
    fields: Selector | None = None
    field_keys: tuple[str, ...] = ()

    @classmethod
    def parse(cls, rt: ResourceType, label_selector: str | None, field_selector: str | None) -> Filter:
        allowed = COMMON_FIELD_LABELS + rt.field_labels
        fields = field_matcher(field_selector, allowed)
        keys = tuple(k for k in rt.field_labels if field_selector and k in field_selector)
        return cls(label_matcher(label_selector), fields, keys)

    @property
    def empty(self) -> bool:
        return self.labels is None and self.fields is None

    def match_row(self, row: Row, rt: ResourceType) -> bool:
        if self.labels is not None and not self.labels(row.labels):
            return False
        if self.fields is not None:
            values = {"metadata.name": row.name, "metadata.namespace": row.ns}
            if self.field_keys:
                values.update(field_values(json.loads(row.body), self.field_keys))
            return self.fields(values)
        return True

    def match(self, labels: dict[str, str], name: str, ns: str, fields: dict[str, str]) -> bool:
        if self.labels is not None and not self.labels(labels):
            return False
        if self.fields is not None:
            return self.fields({"metadata.name": name, "metadata.namespace": ns, **fields})
        return True


def body_of(api: ServerContext, rt: ResourceType, row: Row) -> bytes:
    """The stored body, re-defaulted if its CRD schema changed since it was written."""
    if rt.builtin:
        return row.body
    storage = api.registry.storage_type(rt.group_resource)
    if storage is None or row.tag == storage.schema_tag:
        return row.body
    obj: Obj = json.loads(row.body)
    apply_defaults(api.registry.schema(storage), obj)
    return encode_body(obj)


def item_bytes(api: ServerContext, rt: ResourceType, row: Row) -> bytes:
    body = body_of(api, rt, row)
    return rt.item_prefix() + body[1:] if len(body) > 2 else rt.item_prefix()[:-1] + b"}"


def item_obj(api: ServerContext, rt: ResourceType, row: Row) -> Obj:
    obj: Obj = json.loads(item_bytes(api, rt, row))
    return obj


def get(api: ServerContext, rt: ResourceType, ns: str, name: str) -> Row:
    row = api.store.get(rt.group_resource, ns, name)
    if row is None:
        raise E.not_found(rt.plural, rt.group, name)
    return row


# -- continue tokens --------------------------------------------------------------------------------------------
def encode_continue(rv: int, ns: str, name: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{ns}/{name}\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(api: ServerContext, token: str) -> tuple[int, tuple[str, str]]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        rv = int(data["rv"])
        ns, _, name = str(data["start"]).rstrip("\x00").partition("/")
    except (ValueError, KeyError, TypeError):
        raise E.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version "
                            "meta.k8s.io/v1)") from None
    if rv < api.store.oldest_rv:
        raise E.expired(E.CONTINUE_EXPIRED)
    return rv, (ns, name)


@dataclass
class Page:
    rv: int
    rows: list[Row]
    token: str = ""
    remaining: int | None = None


def list_rows(api: ServerContext, rt: ResourceType, ns: str | None, flt: Filter, *, limit: int | None,
              token: str | None) -> Page:
    after = None
    if token:
        _, after = decode_continue(api, token)
    if flt.empty and limit:
        rv, rows = api.store.scan(rt.group_resource, ns, after=after, limit=limit + 1)
        if len(rows) <= limit:
            return Page(rv, rows)
        rows = rows[:limit]
        last = rows[-1]
        remaining = api.store.count(rt.group_resource, ns, after=(last.ns, last.name))
        return Page(rv, rows, encode_continue(rv, last.ns, last.name), remaining)
    rv, rows = api.store.scan(rt.group_resource, ns, after=after)
    if flt.empty:
        return Page(rv, rows)
    matched: list[Row] = []
    for index, row in enumerate(rows):
        if flt.match_row(row, rt):
            matched.append(row)
            if limit and len(matched) == limit:
                if index + 1 < len(rows):
                    return Page(rv, matched, encode_continue(rv, row.ns, row.name))
                break
    return Page(rv, matched)


def list_body(api: ServerContext, rt: ResourceType, page: Page) -> bytes:
    meta: Obj = {"resourceVersion": str(page.rv)}
    if page.token:
        meta["continue"] = page.token
    if page.remaining is not None:
        meta["remainingItemCount"] = page.remaining
    head = {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta}
    prefix = json.dumps(head, separators=(",", ":")).encode()[:-1] + b',"items":['
    items: Callable[[Row], bytes] = (lambda r: body_of(api, rt, r)) if rt.builtin else \
        (lambda r: item_bytes(api, rt, r))
    return prefix + b",".join(items(r) for r in page.rows) + b"]}"


def parse_limit(value: str | None) -> int | None:
    if not value:
        return None
    try:
        limit = int(value)
    except ValueError:
        raise E.bad_request(f"invalid limit: {value}") from None
    return limit if limit > 0 else None


__all__ = ["Filter", "Page", "body_of", "decode_continue", "encode_continue", "get", "item_bytes", "item_obj",
           "list_body", "list_rows", "parse_limit"]
