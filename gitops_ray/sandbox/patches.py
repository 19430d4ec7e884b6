"""The three non-apply PATCH bodies: JSON merge patch, JSON patch and strategic merge patch.

Pure functions over decoded JSON that never mutate their inputs. The error
texts are the API server's: JSON patch follows gopkg.in/evanphx/json-patch.v4
v4.12.0 (vendored by kube-apiserver 1.32, including its quirks: `replace` of a
missing object key adds it, `test` of a missing key against null passes);
strategic merge patch follows apimachinery v0.32 `util/strategicpatch/patch.go`
`StrategicMergeMapPatch` for the built-in kinds, using the list merge keys and
patch strategies of their `TypeSchema` (new list items go first, as there).
"""

from __future__ import annotations

import copy
import json
from functools import cmp_to_key
from typing import Any

from gitops_ray.sandbox._gofmt import go_v
from gitops_ray.sandbox._nodes import DEDUCED, Node
from gitops_ray.sandbox.typeschema import TypeSchema

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList"
_SET_ORDER = "$setElementOrder"


class PatchError(Exception):
    """A patch that cannot be applied; `code` is the HTTP status the API server answers with."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- JSON merge patch (RFC 7386)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 as evanphx/json-patch `MergePatch` does it: objects merge recursively, `null`
    deletes, lists and scalars replace (with nulls inside inserted objects dropped). A patch
    that is not an object or a list is refused (400 `Invalid JSON Patch`)."""
    if isinstance(patch, list):
        return _prune_nulls(copy.deepcopy(patch))
    if not isinstance(patch, dict):
        raise PatchError("Invalid JSON Patch", 400)
    return _merge_doc(target, patch)


def _merge_doc(target: Any, patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = _merge_doc(out.get(key), value)
        else:
            out[key] = _prune_nulls(copy.deepcopy(value))
    return out


def _prune_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_prune_nulls(v) for v in value]
    return value


# --------------------------------------------------------------------------- JSON patch (RFC 6902)


class _Missing(Exception):
    pass


def _wrap(message: str, cause: str) -> PatchError:
    return PatchError(f"{message}: {cause}")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _find(doc: Any, path: str) -> tuple[Any, str] | None:
    """evanphx `findObject`: the container holding the last token, and that token."""
    parts = path.split("/")
    if len(parts) < 2:
        return None
    node = doc
    for part in parts[1:-1]:
        try:
            node = _get(node, _unescape(part))
        except (_Missing, PatchError):
            return None
        if not isinstance(node, dict | list):
            return None
    return node, _unescape(parts[-1])


def _index(key: str, size: int) -> int:
    """An existing position; negative indices count from the end (evanphx `SupportNegativeIndices`)."""
    try:
        idx = int(key)
    except ValueError:
        raise _Missing(f'strconv.Atoi: parsing "{key}": invalid syntax') from None
    if idx >= size or idx < -size:
        raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
    return idx + size if idx < 0 else idx


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    return container[_index(key, len(container))]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
        return
    if key == "-":
        container.append(value)
        return
    try:
        idx = int(key)
    except ValueError:
        raise PatchError(f"value was not a proper array index: '{key}': strconv.Atoi: parsing "
                         f'"{key}": invalid syntax') from None
    size = len(container) + 1
    if idx >= size or idx < -size:
        raise PatchError(f"Unable to access invalid index: {idx}: invalid index referenced")
    container.insert(idx + size if idx < 0 else idx, value)


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise PatchError(f"Unable to remove nonexistent key: {key}: missing value")
        del container[key]
        return
    try:
        idx = _index(key, len(container))
    except _Missing as exc:
        raise PatchError(str(exc)) from None
    del container[idx]


def _json_equal(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def _op_path(op: dict[str, Any], field: str) -> str | None:
    value = op.get(field)
    return value if isinstance(value, str) else None


def json_patch(target: Any, ops: Any) -> Any:
    """Apply an RFC 6902 patch; a failing operation raises PatchError (422) worded like evanphx/json-patch v4."""
    if not isinstance(ops, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", 400)
    doc = copy.deepcopy(target)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchError("json: cannot unmarshal into Go value of type jsonpatch.Operation", 400)
        kind = op.get("op") if isinstance(op.get("op"), str) else "unknown"
        if kind not in ("add", "remove", "replace", "move", "copy", "test"):
            raise PatchError(f"Unexpected kind: {kind}")
        doc = _apply_op(doc, kind, op)
    return doc


def _apply_op(doc: Any, kind: str, op: dict[str, Any]) -> Any:
    path = _op_path(op, "path")
    value = copy.deepcopy(op.get("value"))
    if path is None:
        if kind == "test":
            raise PatchError("test operation failed to decode path: missing value")
        raise PatchError(f"{kind} operation failed to decode path: missing value")
    if kind == "replace" and path == "":
        if not isinstance(value, dict | list):
            raise PatchError("replace operation value must be object or array")
        return value
    if kind == "test" and path == "":
        if _json_equal(doc, value):
            return doc
        raise PatchError(f"testing value {path} failed: test failed")
    if kind in ("move", "copy"):
        return _move_or_copy(doc, kind, op, path)
    found = _find(doc, path)
    if found is None:
        where = {"add": f'doc is missing path: "{path}"', "remove": f'doc is missing path: "{path}"',
                 "replace": f"doc is missing path: {path}", "test": f"is missing path: {path}"}[kind]
        raise PatchError(f"{kind} operation does not apply: {where}: missing value")
    container, key = found
    try:
        if kind == "add":
            _add(container, key, value)
        elif kind == "remove":
            _remove(container, key)
        elif kind == "replace":
            try:
                _get(container, key)
            except (_Missing, PatchError):
                raise PatchError(f"replace operation does not apply: doc is missing key: {path}: missing value") \
                    from None
            if isinstance(container, dict):
                container[key] = value
            else:
                container[_index(key, len(container))] = value
        else:
            try:
                current = _get(container, key)
            except (_Missing, PatchError) as exc:
                raise PatchError(f"error in test for path: '{path}': {exc}") from None
            if (current is None and value is None) or (current is not None and _json_equal(current, value)):
                return doc
            raise PatchError(f"testing value {path} failed: test failed")
    except PatchError as exc:
        if kind in ("add", "remove") and not str(exc).startswith(f"{kind} operation"):
            raise _wrap(f"error in {kind} for path: '{path}'", str(exc)) from None
        raise
    return doc


def _move_or_copy(doc: Any, kind: str, op: dict[str, Any], path: str) -> Any:
    source = _op_path(op, "from")
    if source is None:
        raise PatchError(f"{kind} operation failed to decode from: missing value")
    found = _find(doc, source)
    if found is None:
        raise PatchError(f"{kind} operation does not apply: doc is missing from path: {source}: missing value")
    container, key = found
    try:
        value = _get(container, key)
        if kind == "move":
            _remove(container, key)
        else:
            value = copy.deepcopy(value)
    except (_Missing, PatchError) as exc:
        label = f"error in move for path: '{key}'" if kind == "move" else f"error in copy for from: '{source}'"
        raise _wrap(label, str(exc)) from None
    target = _find(doc, path)
    if target is None:
        raise PatchError(f"{kind} operation does not apply: doc is missing destination path: {path}: missing value")
    try:
        _add(target[0], target[1], value)
    except PatchError as exc:
        label = f"error in move for path: '{path}'" if kind == "move" else "error while adding value during copy"
        raise _wrap(label, str(exc)) from None
    return doc


# --------------------------------------------------------------------------- strategic merge patch


def strategic_merge_patch(target: dict[str, Any], patch: dict[str, Any], schema: TypeSchema) -> dict[str, Any]:
    """`StrategicMergeMapPatch` with the API server's options (parallel lists merged, unmatched nulls
    ignored). Errors the API server reports as 400 or 422 carry that code."""
    if not isinstance(patch, dict):
        raise PatchError("invalid JSON document", 400)
    return _merge_map(copy.deepcopy(target), copy.deepcopy(patch), schema.root)


def _merge_map(original: dict[str, Any] | None, patch: dict[str, Any], node: Node) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            del patch[_DIRECTIVE]
            return patch
        if directive == "delete":
            return {}
        raise PatchError(f"unknown patch type: {directive} in map: {go_v(patch)}", 500)
    if original is None:
        original = {}
    _retain_keys(original, patch)
    _set_element_orders(original, patch, node)
    for key in list(patch):
        value = patch[key]
        is_delete_list = key.startswith(_DELETE_PRIMITIVE)
        if is_delete_list:
            key = _directive_key(key, _DELETE_PRIMITIVE, "invalid patch format of primitive list")
        if value is None:
            original.pop(key, None)
            continue
        child = _child(node, key)
        if key not in original or type(original[key]) is not type(value):
            if not is_delete_list:
                _discard_nulls(value)
                kept, keep = _remove_directives(value)
                if keep:
                    original[key] = kept
                else:
                    original.pop(key, None)
            continue
        current = original[key]
        if isinstance(current, dict):
            original[key] = _merge_map(current, value, child)
        elif isinstance(current, list):
            strategy, merge_key = _slice_meta(child)
            if strategy == "merge" or is_delete_list:
                original[key] = _merge_slice(current, value, child, merge_key, is_delete_list)
            else:
                original[key] = value
        else:
            kept, keep = _remove_directives(value)
            if keep:
                original[key] = kept
            else:
                original.pop(key, None)
    return original


def _child(node: Node, key: str) -> Node:
    return node.child(key) or DEDUCED


def _slice_meta(node: Node) -> tuple[str, str]:
    strategies = [s for s in node.patch_strategy.split(",") if s]
    rest = [s for s in strategies if s != "retainKeys"]
    if len(rest) > 1:
        raise PatchError(f"unexpected patch strategy: {strategies}", 500)
    return (rest[0] if rest else ""), node.patch_key


def _directive_key(key: str, prefix: str, error: str) -> str:
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        raise PatchError(error, 400)
    return rest


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if _RETAIN_KEYS not in patch:
        return
    retain = patch.pop(_RETAIN_KEYS)
    if not isinstance(retain, list):
        raise PatchError("invalid patch format of retainKeys", 400)
    allowed = {json.dumps(v) for v in retain}
    for k, v in patch.items():
        if v is None or k.startswith((_DELETE_PRIMITIVE, _SET_ORDER)):
            continue
        if json.dumps(k) not in allowed:
            raise PatchError("invalid patch format of retainKeys", 400)
    for k in [k for k in original if json.dumps(k) not in allowed]:
        del original[k]


def _set_element_orders(original: dict[str, Any], patch: dict[str, Any], node: Node) -> None:
    for key in [k for k in patch if k.startswith(_SET_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise PatchError("invalid patch format of setElementOrder list", 400)
        field = _directive_key(key, _SET_ORDER, "invalid patch format of setElementOrder list")
        child = _child(node, field)
        strategy, merge_key = _slice_meta(child)
        in_original, in_patch = field in original, field in patch
        original_list = original.get(field) if in_original else []
        patch_list = patch.get(field) if in_patch else []
        if not isinstance(original_list, list) or not isinstance(patch_list, list):
            raise PatchError("invalid patch format of setElementOrder list", 400)
        _check_order(patch_list, order, merge_key)
        if in_original and not in_patch:
            merged = original_list
        elif in_patch and not in_original:
            kept, keep = _remove_directives(patch_list)
            if not keep:
                continue
            merged = kept
        elif in_original and in_patch:
            merged = (_merge_slice(original_list, patch_list, child, merge_key, False) if strategy == "merge"
                      else patch_list)
        else:
            continue
        ours, server_only = _partition(merged, order, merge_key)
        original[field] = _normalize_order(ours, server_only, order, original_list, merge_key)
        patch.pop(field, None)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """`validatePatchWithSetOrderList`: the patch's items must appear in the order list's order."""
    if not order or not patch_list:
        return
    items = [p for p in patch_list if not (merge_key and isinstance(p, dict) and p.get(_DIRECTIVE) == "delete")]
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if isinstance(items[pi], dict) and _DIRECTIVE in items[pi]:
            pi += 1
            continue
        if _key_of(items[pi], merge_key) == _key_of(order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items) and oi >= len(order):
        raise PatchError(f"The order in patch list:\n{go_v(patch_list)}\n doesn't match $setElementOrder list:\n"
                         f"{go_v(order)}\n", 500)


def _key_of(item: Any, merge_key: str) -> Any:
    if not merge_key:
        return json.dumps(item)
    if not isinstance(item, dict):
        raise PatchError(f"expected a map, but received a {type(item).__name__}", 500)
    if merge_key not in item:
        raise PatchError(f"map: {go_v(item)} does not contain declared merge key: {merge_key}", 500)
    return json.dumps(item[merge_key])


def _merge_slice(original: list[Any], patch: list[Any], node: Node, merge_key: str,
                 is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    kinds = {type(v) for v in original + patch}
    if list in kinds:
        raise PatchError("lists of lists are not supported", 422)
    if len(kinds) > 1:
        raise PatchError(f"list element types are not identical: {go_v([original, patch])}", 500)
    is_map = dict in kinds
    if not is_map:
        if is_delete_list:
            drop = {json.dumps(v) for v in patch}
            return [v for v in original if json.dumps(v) not in drop]
        merged = _dedupe_scalars(original + patch)
        ours, server_only = _partition(merged, patch, "")
    else:
        if not merge_key:
            raise PatchError("cannot merge lists without merge key", 500)
        original, patch = _special_elements(original, patch, merge_key)
        item = node.item or DEDUCED
        merged = list(original)
        for p in patch:
            key = _key_of(p, merge_key)
            index = next((i for i, o in enumerate(merged) if _key_of(o, merge_key) == key), None)
            if index is None:
                merged.append(p)
            else:
                merged[index] = _merge_map(merged[index], p, item)
        ours, server_only = _partition(merged, patch, merge_key)
    return _normalize_order(ours, server_only, patch, original, merge_key)


def _special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    for p in patch:
        directive = p.get(_DIRECTIVE)
        if directive is None:
            plain.append(p)
        elif directive == "delete":
            if merge_key not in p:
                raise PatchError(f"map: {go_v(p)} does not contain declared merge key: {merge_key}", 500)
            key = json.dumps(p[merge_key])
            original = [o for o in original if not (isinstance(o, dict) and json.dumps(o.get(merge_key)) == key)]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError("merging lists cannot yet be specified in the patch", 500)
        else:
            raise PatchError(f"unknown patch type: {directive} in map: {go_v(p)}", 500)
    if replace:
        return plain, []
    return original, plain


def _dedupe_scalars(items: list[Any]) -> list[Any]:
    """apimachinery `deduplicateScalars`, which moves the last item into a duplicate's slot."""
    s = list(items)
    length = len(s) - 1
    i = 0
    while i < length:
        j = i + 1
        while j <= length:
            if s[i] == s[j] and type(s[i]) is type(s[j]):
                s[j] = s[length]
                s = s[:length]
                length -= 1
                j -= 1
            j += 1
        i += 1
    return s


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    keys = {_key_of(v, merge_key) for v in by if not (merge_key and isinstance(v, dict) and merge_key not in v)}
    ours = [v for v in merged if _key_of(v, merge_key) in keys]
    server_only = [v for v in merged if _key_of(v, merge_key) not in keys]
    return ours, server_only


def _position(order: list[Any], value: Any, merge_key: str) -> int:
    key = _key_of(value, merge_key) if not merge_key or isinstance(value, dict) else None
    for i, v in enumerate(order):
        if (not merge_key or isinstance(v, dict)) and _key_of(v, merge_key) == key:
            return i
    return -1


def _sort_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    deleted: list[Any] = []
    if merge_key:
        for v in items:
            if isinstance(v, dict) and merge_key not in v:
                raise PatchError(f"map: {go_v(v)} does not contain declared merge key: {merge_key}", 500)
        deleted = [v for v in items if isinstance(v, dict) and v.get(_DIRECTIVE) == "delete"]
        items = [v for v in items if not (isinstance(v, dict) and v.get(_DIRECTIVE) == "delete")]

    def compare(a: Any, b: Any) -> int:
        ia, ib = _position(order, a, merge_key), _position(order, b, merge_key)
        if ia >= 0 and ib >= 0:
            return -1 if ia < ib else (1 if ia > ib else 0)
        return 0

    return sorted(items, key=cmp_to_key(compare)) + deleted


def _normalize_order(ours: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any],
                     merge_key: str) -> list[Any]:
    """`normalizeElementOrder`: each side keeps its own order; server items go before patch items
    only where both are in the server's order (so new items come first)."""
    right = _sort_by(ours, patch_order, merge_key)
    left = _sort_by(server_only, server_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = _position(server_order, left[i], merge_key), _position(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(value: Any) -> tuple[Any, bool]:
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            return None, False
        out: dict[str, Any] = {}
        for k, v in value.items():
            kept, keep = _remove_directives(v)
            if keep:
                out[k] = kept
        return out, True
    if isinstance(value, list):
        items = []
        for v in value:
            kept, keep = _remove_directives(v)
            if keep:
                items.append(kept)
        return items, True
    return value, True
