"""Field sets in their `fieldsV1` shape, and the set algebra server-side apply needs.

A set is kept exactly as `metadata.managedFields[].fieldsV1` encodes it
(structured-merge-diff `fieldpath/serialize.go`): a dict from path elements
(`f:name`, `k:{"name":"x"}`, `v:"a"`, `i:0`) to child nodes; a child node is a
member of the set when it is `{}` or carries `".": {}`. The root dict is the
set itself (never a member). Keeping that shape means managedFields need no
decoding and unchanged entries are reused as they are. Operations return new
dicts (sharing untouched subtrees) and never mutate their inputs; `encode`
sorts keys into SMD's order (`.` first, then fields, keys, values, indices).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from gitops_ray.sandbox._gofmt import go_json, smd_value_string

FieldSet = dict[str, Any]
DOT = "."


def is_member(node: FieldSet) -> bool:
    return not node or DOT in node


def make(member: bool, children: FieldSet) -> FieldSet | None:
    """The node for a path, or None when it holds nothing."""
    if not children:
        return {} if member else None
    if member:
        out: FieldSet = {DOT: {}}
        out.update(children)
        return out
    return children


def children_of(node: FieldSet) -> FieldSet:
    if DOT in node:
        return {k: v for k, v in node.items() if k != DOT}
    return node


def union(a: FieldSet, b: FieldSet) -> FieldSet:
    """Union of two sets (root dicts)."""
    if not a:
        return b
    if not b or a is b:
        return a
    out = dict(a)
    for k, bv in b.items():
        if k == DOT:
            continue
        av = out.get(k)
        out[k] = bv if av is None else _union_node(av, bv)
    return out


def _union_node(a: FieldSet, b: FieldSet) -> FieldSet:
    if a is b:
        return a
    node = make(is_member(a) or is_member(b), union(children_of(a), children_of(b)))
    assert node is not None
    return node


def difference(a: FieldSet, b: FieldSet) -> FieldSet:
    """Members of `a` that are not members of `b` (root dicts)."""
    if not a or not b:
        return a
    if a is b:
        return {}
    out: FieldSet = {}
    changed = False
    for k, av in a.items():
        bv = b.get(k)
        if bv is None or k == DOT:
            out[k] = av
            continue
        node = make(is_member(av) and not is_member(bv), difference(children_of(av), children_of(bv)))
        changed = True
        if node is not None:
            out[k] = node
    return out if changed else a


def intersection(a: FieldSet, b: FieldSet) -> FieldSet:
    """Members of both sets (root dicts)."""
    if a is b:
        return a
    out: FieldSet = {}
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    for k, sv in small.items():
        if k == DOT:
            continue
        lv = large.get(k)
        if lv is None:
            continue
        node = make(is_member(sv) and is_member(lv), intersection(children_of(sv), children_of(lv)))
        if node is not None:
            out[k] = node
    return out


def is_subset(a: FieldSet, b: FieldSet) -> bool:
    """Every member of `a` is a member of `b`."""
    if a is b:
        return True
    for k, av in a.items():
        if k == DOT:
            continue
        bv = b.get(k)
        if bv is None:
            return False
        if is_member(av) and not is_member(bv):
            return False
        if len(av) > (DOT in av) and not is_subset(av, children_of(bv)):
            return False
    return True


def without_top(a: FieldSet, names: tuple[str, ...]) -> FieldSet:
    """`a` minus the top-level fields `names` and everything below them (an exclude filter)."""
    if not names or not any(f"f:{n}" in a for n in names):
        return a
    drop = {f"f:{n}" for n in names}
    return {k: v for k, v in a.items() if k not in drop}


# Paths never tracked for the writer (apimachinery `stripmeta.go`); "metadata" strips only its membership.
_STRIP_META = ("f:name", "f:namespace", "f:creationTimestamp", "f:selfLink", "f:uid", "f:clusterName",
               "f:generation", "f:managedFields", "f:resourceVersion")


def strip_meta(a: FieldSet) -> FieldSet:
    out = {k: v for k, v in a.items() if k not in ("f:apiVersion", "f:kind", "f:metadata")}
    meta = a.get("f:metadata")
    if meta is not None:
        rest = {k: v for k, v in meta.items() if k != DOT and k not in _STRIP_META}
        if rest:
            out["f:metadata"] = rest
    return out


# --------------------------------------------------------------------------- encoding and order


def encode(a: FieldSet) -> FieldSet:
    """A copy of the set with keys in structured-merge-diff's serialization order."""
    out: FieldSet = {}
    if DOT in a:
        out[DOT] = {}
    for k in sorted((k for k in a if k != DOT), key=element_order):
        out[k] = encode(a[k])
    return out


def _value_order(v: Any) -> tuple[Any, ...]:
    if isinstance(v, bool):
        return (2, v)
    if isinstance(v, int | float):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (3, tuple(_value_order(x) for x in v))
    if isinstance(v, dict):
        return (4, tuple((k, _value_order(v[k])) for k in sorted(v)))
    return (5,)


@lru_cache(maxsize=65536)
def element_order(element: str) -> tuple[Any, ...]:
    kind, body = element[0], element[2:]
    if kind == "f":
        return (0, body)
    if kind == "k":
        fields = json.loads(body)
        return (1, tuple((k, _value_order(fields[k])) for k in sorted(fields)))
    if kind == "v":
        return (2, _value_order(json.loads(body)))
    if kind == "i":
        return (3, int(body))
    return (-1,)


def key_element(item: dict[str, Any], keys: tuple[str, ...], defaults: dict[str, Any]) -> str | None:
    """`k:{...}` of a list-map item (missing keys take their schema default), or None."""
    parts: list[str] = []
    for k in sorted(keys) if len(keys) > 1 else keys:
        if k in item:
            value = item[k]
        elif k in defaults:
            value = defaults[k]
        else:
            return None
        if isinstance(value, str) and value.isascii() and value.isprintable() and not any(c in value for c in '"\\<>&'):
            parts.append(f'"{k}":"{value}"')
        elif isinstance(value, int) and not isinstance(value, bool):
            parts.append(f'"{k}":{value}')
        else:
            parts.append(f"{go_json(k)}:{go_json(value)}")
    return "k:{" + ",".join(parts) + "}"


def value_element(value: Any) -> str:
    return "v:" + go_json(value)


@lru_cache(maxsize=65536)
def render_element(element: str) -> str:
    """How a path element prints in messages: `.name`, `[name="x"]`, `[="a"]`, `[0]`."""
    kind, body = element[0], element[2:]
    if kind == "f":
        return "." + body
    if kind == "k":
        fields = json.loads(body)
        return "[" + ",".join(f"{k}={smd_value_string(fields[k])}" for k in sorted(fields)) + "]"
    if kind == "v":
        return f"[={smd_value_string(json.loads(body))}]"
    return f"[{body}]"


def render_path(elements: list[str] | tuple[str, ...]) -> str:
    return "".join(render_element(e) for e in elements)


def iter_paths(a: FieldSet, prefix: str = "") -> Iterator[str]:
    """Member paths in structured-merge-diff's iteration order: this level's members, then children."""
    keys = sorted((k for k in a if k != DOT), key=element_order)
    for k in keys:
        if is_member(a[k]):
            yield prefix + render_element(k)
    for k in keys:
        node = a[k]
        if len(node) > (DOT in node):
            yield from iter_paths(children_of(node), prefix + render_element(k))


def path_set(*paths: tuple[str, ...]) -> FieldSet:
    """Build a set from element tuples, e.g. `("f:metadata", "f:labels", "f:app")`."""
    out: FieldSet = {}
    for path in paths:
        node: FieldSet = {}
        for element in reversed(path[1:]):
            node = {element: node}
        out = union(out, {path[0]: node})
    return out
