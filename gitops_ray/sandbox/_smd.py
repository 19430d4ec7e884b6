"""Typed-value walkers of structured-merge-diff v4.4.2 (Kubernetes 1.32) over schema nodes.

`typed/tofieldset.go` (fieldset), `typed/validate.go` (the apply config's type
errors, the API server's 500), `typed/merge.go` (merge, including its list
ordering), `typed/compare.go` (Added/Modified/Removed), `typed/remove.go` and
`Set.EnsureNamedFieldsAreMembers`. Values are plain JSON dicts/lists; results
share untouched subtrees with their inputs, which are never mutated.
"""

from __future__ import annotations

from typing import Any

from gitops_ray.sandbox._fieldpath import (
    DOT,
    FieldSet,
    children_of,
    is_member,
    key_element,
    make,
    render_path,
    union,
    value_element,
)
from gitops_ray.sandbox._gofmt import go_sharp_v, go_v
from gitops_ray.sandbox._nodes import DEDUCED, Node

ABSENT: Any = object()
Errors = list[tuple[str, str]]  # (rendered path, message)


# --------------------------------------------------------------------------- list item path elements


def item_element(item: Any, node: Node) -> tuple[str | None, str]:
    """The path element of an associative list item, or (None, why not)."""
    if node.keys:
        if item is None:
            return None, "associative list with keys may not have a null element"
        if not isinstance(item, dict):
            return None, "associative list with keys may not have non-map elements"
        pe = key_element(item, node.keys, node.key_defaults)
        if pe is None:
            missing = next(k for k in node.keys if k not in item and k not in node.key_defaults)
            return None, (f'associative list with keys has an element that omits key field "{missing}" '
                          "(and doesn't have default value)")
        return pe, ""
    if isinstance(item, dict):
        return None, "associative list without keys has an element that's a map type"
    if isinstance(item, list):
        return None, "not supported: associative list with lists as elements"
    if item is None:
        return None, "associative list without keys has an element that's an explicit null"
    return value_element(item), ""


# --------------------------------------------------------------------------- fieldset and validation


def _type_error(v: Any, node: Node) -> str | None:
    """validate.go's complaint about `v` at `node`, if any (null is always fine)."""
    if v is None:
        return None
    if isinstance(v, dict):
        if node.fields is not None:
            return None
        if node.scalar is not None:
            return _scalar_error(v, node.scalar)
        return f"expected list, got &{{{go_v(v)}}}"
    if isinstance(v, list):
        if node.list_type is not None:
            return None
        if node.fields is not None:
            return f"expected map, got &{{{go_v(v)}}}"
        return _scalar_error(v, node.scalar or "untyped")
    if node.scalar is not None:
        return _scalar_error(v, node.scalar)
    if node.fields is not None:
        return f"expected map, got &{{{go_v(v)}}}"
    return f"expected list, got &{{{go_v(v)}}}"


def _go_type(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, str):
        return "string"
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list):
        return "[]interface {}"
    return "int64" if isinstance(v, int) else "float64"


def _scalar_error(v: Any, scalar: str) -> str | None:
    is_num = isinstance(v, int | float) and not isinstance(v, bool)
    if scalar == "numeric" and not is_num:
        return f"expected numeric (int or float), got {_go_type(v)}"
    if scalar == "string" and not isinstance(v, str):
        return f"expected string, got &value.valueUnstructured{{Value:{go_sharp_v(v, top=False)}}}"
    if scalar == "boolean" and not isinstance(v, bool):
        return f"expected boolean, got &{{{go_v(v)}}}"
    if scalar == "untyped" and isinstance(v, dict | list):
        return f"expected any scalar, got &{{{go_v(v)}}}"
    return None


def fieldset(value: dict[str, Any], node: Node, errors: Errors | None = None) -> FieldSet:
    """`ToFieldSet` of an object. With `errors`, also validates it as an apply config must be
    (undeclared fields, wrong types, duplicate or unkeyable list items); without, it is lenient."""
    stack: list[str] = []
    if errors is not None:
        _validate(value, node, errors, stack)
        if errors:
            return {}
    _, children = _fs(value, node)
    return children


def _fs(v: Any, node: Node) -> tuple[bool, FieldSet]:
    """(is the value's own path a member, its children set)."""
    if isinstance(v, dict):
        if node.fields is None or node.map_atomic:
            return True, {}
        out: FieldSet = {}
        fields = node.fields
        elem = node.elem
        for k, cv in v.items():
            child = fields.get(k)
            declared = child is not None
            if child is None:
                if elem is None:
                    continue
                child = elem
            own, kids = _fs(cv, child)
            entry = make(own or cv is None or cv == {} or not declared, kids)
            if entry is not None:
                out["f:" + k] = entry
        return False, out
    if isinstance(v, list):
        if node.list_type is None or node.list_type == "atomic":
            return True, {}
        out = {}
        item = node.item or DEDUCED
        for x in v:
            pe, _ = item_element(x, node)
            if pe is None:
                continue
            _, kids = _fs(x, item)
            previous = out.get(pe)
            entry = make(True, kids) or {}
            out[pe] = entry if previous is None else make(True, _union_kids(previous, entry))
        return False, out
    return True, {}


def _union_kids(a: FieldSet, b: FieldSet) -> FieldSet:
    return union(children_of(a), children_of(b))


_SCALAR_TYPES: dict[str | None, frozenset[type]] = {
    "string": frozenset({str}), "numeric": frozenset({int, float}), "boolean": frozenset({bool}),
    "untyped": frozenset({str, int, float, bool}), None: frozenset(),
}


def _validate(v: Any, node: Node, errors: Errors, stack: list[str]) -> None:
    problem = _type_error(v, node)
    if problem is not None:
        errors.append((render_path(stack), problem))
        return
    if isinstance(v, dict) and node.fields is not None:
        fields, elem = node.fields, node.elem
        for k, cv in v.items():
            child = fields.get(k) or elem
            if child is not None and (cv is None or type(cv) in _SCALAR_TYPES[child.scalar]):
                continue  # the common case, checked inline
            stack.append("f:" + k)
            if child is None:
                errors.append((render_path(stack), "field not declared in schema"))
                stack.pop()
                return
            _validate(cv, child, errors, stack)
            stack.pop()
    elif isinstance(v, list) and node.list_type is not None:
        item = node.item or DEDUCED
        seen: set[str] = set()
        for i, x in enumerate(v):
            if node.list_type == "atomic":
                pe = f"i:{i}"
            else:
                key, why = item_element(x, node)
                if key is None:
                    errors.append((render_path(stack), f"element {i}: {why}"))
                    return
                pe = key
                if pe in seen:
                    errors.append((render_path(stack), f"duplicate entries for key {render_path([pe])}"))
                seen.add(pe)
            stack.append(pe)
            _validate(x, item, errors, stack)
            stack.pop()


# --------------------------------------------------------------------------- merge


def merge(lhs: Any, rhs: Any, node: Node) -> Any:
    """`lhs.Merge(rhs)`: granular maps and associative lists merge, everything else is replaced."""
    if lhs is ABSENT or lhs is rhs:
        return rhs
    if isinstance(rhs, dict):
        if node.fields is None or node.map_atomic or not isinstance(lhs, dict) or not lhs:
            return rhs
        out = dict(lhs)
        changed = False
        for k, rv in rhs.items():
            lv = lhs.get(k, ABSENT)
            mv = merge(lv, rv, node.child(k) or DEDUCED)
            if mv is not lv:
                out[k] = mv
                changed = True
        return out if changed else lhs
    if isinstance(rhs, list):
        if node.list_type in (None, "atomic") or not isinstance(lhs, list) or not lhs:
            return rhs
        return _merge_list(lhs, rhs, node)
    if rhs is None:
        # A null map or list in the config keeps the live entries (merge.go visits lhs items).
        if isinstance(lhs, dict) and lhs and node.fields is not None and not node.map_atomic:
            return lhs
        if isinstance(lhs, list) and lhs and node.list_type in ("set", "map"):
            return lhs
    return rhs


def _merge_list(lhs: list[Any], rhs: list[Any], node: Node) -> list[Any]:
    """merge.go `visitListItems`: shared items follow the config's order, live-only items keep their place."""
    item = node.item or DEDUCED
    rpes = [item_element(x, node)[0] for x in rhs]
    lpes = [item_element(x, node)[0] for x in lhs]
    observed_r = {pe: x for pe, x in zip(rpes, rhs, strict=True) if pe is not None}
    observed_l: dict[str, Any] = {}
    for pe, x in zip(lpes, lhs, strict=True):
        if pe is not None:
            observed_l[pe] = ABSENT if pe in observed_l else x  # duplicates are not merged
    shared = [pe for pe in rpes if pe is not None and pe in observed_l]
    shared.reverse()
    next_shared = shared.pop() if shared else None
    merged_r: set[str | None] = set()
    out: list[Any] = []
    li, ri, ln, rn = 0, 0, len(lpes), len(rpes)
    while li < ln or ri < rn:
        if li < ln and ri < rn:
            pe = lpes[li]
            if pe == rpes[ri]:
                merged_r.add(pe)
                out.append(merge(observed_l.get(pe, ABSENT), rhs[ri], item) if pe is not None else rhs[ri])
                li += 1
                ri += 1
                next_shared = shared.pop() if shared else None
                continue
            if pe in observed_r and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < ln:
            pe = lpes[li]
            if pe not in observed_r:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_r:
                li += 1
        if ri < rn:
            pe = rpes[ri]
            merged_r.add(pe)
            out.append(merge(observed_l.get(pe, ABSENT), rhs[ri], item) if pe is not None else rhs[ri])
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = shared.pop() if shared else None
    if len(out) == len(lhs) and all(a is b for a, b in zip(out, lhs, strict=True)):
        return lhs
    return out


# --------------------------------------------------------------------------- compare


Triple = tuple[FieldSet | None, FieldSet | None, FieldSet | None]
_NOTHING: Triple = (None, None, None)


def compare(lhs: dict[str, Any], rhs: dict[str, Any], node: Node) -> tuple[FieldSet, FieldSet, FieldSet]:
    """(Added, Modified, Removed) from `lhs` to `rhs`, as sets."""
    added, modified, removed = _cmp(lhs, rhs, node)
    return children_of(added or {}), children_of(modified or {}), children_of(removed or {})


def everything(v: Any, node: Node) -> FieldSet:
    """The node of a value compared against nothing: every path in it is a member."""
    if isinstance(v, dict) and v and node.fields is not None and not node.map_atomic:
        return make(True, {"f:" + k: everything(cv, node.child(k) or DEDUCED) for k, cv in v.items()}) or {}
    if isinstance(v, list) and v and node.list_type in ("set", "map"):
        item = node.item or DEDUCED
        out: FieldSet = {}
        for x in v:
            pe, _ = item_element(x, node)
            if pe is not None:
                out[pe] = everything(x, item)
        return make(True, out) or {}
    return {}


def _cmp(lhs: Any, rhs: Any, node: Node) -> Triple:
    if lhs is rhs:
        return _NOTHING
    if lhs is ABSENT:
        return everything(rhs, node), None, None
    if rhs is ABSENT:
        return None, None, everything(lhs, node)
    if (isinstance(lhs, dict) or lhs is None) and (isinstance(rhs, dict) or rhs is None) and (lhs or rhs) \
            and node.fields is not None and not node.map_atomic:
        return _cmp_map(lhs or {}, rhs or {}, node)
    if (isinstance(lhs, list) or lhs is None) and (isinstance(rhs, list) or rhs is None) and (lhs or rhs) \
            and node.list_type in ("set", "map"):
        return _cmp_list(lhs or [], rhs or [], node)
    if lhs == rhs and isinstance(lhs, bool) == isinstance(rhs, bool):
        return _NOTHING
    return None, {}, None


def _attach(out: list[FieldSet], key: str, triple: Triple) -> None:
    for i in range(3):
        node = triple[i]
        if node is not None:
            out[i][key] = node


def _cmp_map(lhs: dict[str, Any], rhs: dict[str, Any], node: Node) -> Triple:
    out: list[FieldSet] = [{}, {}, {}]
    for k, lv in lhs.items():
        rv = rhs.get(k, ABSENT)
        if lv is not rv:
            _attach(out, "f:" + k, _cmp(lv, rv, node.child(k) or DEDUCED))
    for k, rv in rhs.items():
        if k not in lhs:
            _attach(out, "f:" + k, _cmp(ABSENT, rv, node.child(k) or DEDUCED))
    return make(False, out[0]), make(False, out[1]), make(False, out[2])


def _cmp_list(lhs: list[Any], rhs: list[Any], node: Node) -> Triple:
    item = node.item or DEDUCED
    lvals: dict[str, list[Any]] = {}
    rvals: dict[str, list[Any]] = {}
    order: list[str] = []
    for x in lhs:
        pe, _ = item_element(x, node)
        if pe is not None:
            if pe not in lvals:
                lvals[pe] = []
                order.append(pe)
            lvals[pe].append(x)
    for x in rhs:
        pe, _ = item_element(x, node)
        if pe is not None:
            if pe not in rvals:
                rvals[pe] = []
                if pe not in lvals:
                    order.append(pe)
            rvals[pe].append(x)
    out: list[FieldSet] = [{}, {}, {}]
    for pe in order:
        ls, rs = lvals.get(pe, []), rvals.get(pe, [])
        if len(ls) <= 1 and len(rs) <= 1:
            _attach(out, pe, _cmp(ls[0] if ls else ABSENT, rs[0] if rs else ABSENT, item))
        elif len(ls) >= 2 and len(rs) >= 2:
            if ls != rs:
                out[1][pe] = {}
        elif len(ls) >= 2:
            out[2][pe] = {}
        else:
            out[0][pe] = {}
    return make(False, out[0]), make(False, out[1]), make(False, out[2])


# --------------------------------------------------------------------------- remove and ensure


def remove_items(value: Any, remove: FieldSet, node: Node) -> Any:
    """`RemoveItems`: drop every member of `remove` (with its subtree). Like SMD, a map or list
    that ends up empty becomes null, and so does an empty or atomic one on the way."""
    if not remove:
        return value
    if isinstance(value, dict):
        if node.fields is None:
            return value
        if not value or node.map_atomic:
            return None
        out: dict[str, Any] = {}
        for k, cv in value.items():
            sub = remove.get("f:" + k)
            if sub is not None:
                if is_member(sub):
                    continue
                cv = remove_items(cv, children_of(sub), node.child(k) or DEDUCED)
            out[k] = cv
        return out or None
    if isinstance(value, list):
        if node.list_type is None:
            return value
        if not value or node.list_type == "atomic":
            return None
        item = node.item or DEDUCED
        items: list[Any] = []
        for x in value:
            pe, _ = item_element(x, node)
            sub = remove.get(pe) if pe is not None else None
            if sub is not None:
                if is_member(sub):
                    continue
                x = remove_items(x, children_of(sub), item)
            items.append(x)
        return items or None
    return value


def ensure_named(s: FieldSet, node: Node | None) -> FieldSet:
    """`EnsureNamedFieldsAreMembers`: struct fields on the way to a member become members."""
    out: FieldSet = {}
    for k, sub in s.items():
        if k == DOT or len(sub) <= (DOT in sub) or node is None:
            out[k] = sub
            continue
        child: Node | None = None
        named = False
        if k[0] == "f" and node.fields is not None:
            name = k[2:]
            named = name in node.fields
            child = node.fields.get(name) or node.elem
        elif k[0] == "k" and node.list_type is not None:
            child = node.item
        kids = ensure_named(children_of(sub), child)
        out[k] = make(is_member(sub) or named, kids) or {}
    return out
