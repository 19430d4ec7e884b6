"""Desired vs live: compare only what Git declares, then explain the difference.

The comparison is deliberately narrow, like Flux's and Argo CD's normalisers:

* Only fields the manifest sets are compared; the server's metadata, `status`,
  `managedFields`, defaults Git does not mention and annotations other
  controllers add are someone else's business.
* Fields another actor legitimately owns (the Ray autoscaler's
  `workerGroupSpecs[].replicas`, Kueue's `suspend`, per-environment ignore rules)
  are masked out of the comparison; `carry_owned_fields` then copies their live
  values into the object we apply, because `workerGroupSpecs` is an atomic list
  (kuberay-facts.md §1.3, §3) and leaving a field out would reset it.
* Fields gitops-ray applied before and Git no longer sets are removals: server-
  side apply deletes them unless another manager owns them (read from
  `managedFields`).
* A cheap projection-and-`==` decides in-sync objects; only changed objects go
  through deepdiff for the field-level explanation.
* Secret values, container env values and credentials inside URLs never leave
  this module unmasked (trust.py).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from gitops_ray.changes import FieldChange
from gitops_ray.quantity import quantity_equal
from gitops_ray.trust import is_secret_field, mask_url_credentials, mask_urls

MASK = "(hidden)"
OWN_ANNOTATION_PREFIX = "gitops-ray.io/"
KEEP_OWN_ANNOTATIONS = frozenset({"gitops-ray.io/prune", "gitops-ray.io/wave"})
_SERVER_METADATA = frozenset({
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "managedFields", "selfLink", "ownerReferences", "finalizers",
})

Path = tuple[str | int, ...]


# --------------------------------------------------------------------------- pointers


def pointer(path: Sequence[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def parse_pointer(text: str) -> tuple[str, ...]:
    if not text.startswith("/"):
        raise ValueError(f"{text!r}: a JSON pointer starts with /")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/"))


def expand(obj: Any, pattern: Sequence[str]) -> Iterator[Path]:
    """Concrete paths in `obj` matching a pointer whose segments may be `*`."""
    if not pattern:
        yield ()
        return
    head, rest = pattern[0], pattern[1:]
    if isinstance(obj, dict):
        keys: Sequence[str | int] = list(obj) if head == "*" else ([head] if head in obj else [])
    elif isinstance(obj, list):
        indexes = range(len(obj)) if head == "*" else ([int(head)] if head.isdigit() and int(head) < len(obj) else [])
        keys = list(indexes)
    else:
        return
    for key in keys:
        for tail in expand(obj[key], rest):
            yield (key, *tail)


def get_path(obj: Any, path: Path) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def _delete_path(obj: Any, path: Path) -> None:
    try:
        parent = get_path(obj, path[:-1])
        del parent[path[-1]]
    except (KeyError, IndexError, TypeError):
        pass


def _set_path(obj: Any, path: Path, value: Any) -> None:
    parent = get_path(obj, path[:-1])
    parent[path[-1]] = value


# --------------------------------------------------------------------------- normalising


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """What of a manifest is compared: no status, no server metadata, none of our
    own provenance annotations (they change on every apply by design)."""
    out = {k: v for k, v in body.items() if k != "status"}
    if body.get("kind") == "Secret" and body.get("stringData") and not body.get("apiVersion", "v1").count("/"):
        out = _fold_string_data(out)
    meta = dict(out.get("metadata") or {})
    for key in _SERVER_METADATA:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if annotations:
        kept = {k: v for k, v in annotations.items()
                if not k.startswith(OWN_ANNOTATION_PREFIX) or k in KEEP_OWN_ANNOTATIONS}
        if kept:
            meta["annotations"] = kept
        else:
            meta.pop("annotations")
    out["metadata"] = meta
    return out


def _fold_string_data(secret: dict[str, Any]) -> dict[str, Any]:
    """The API server merges `stringData` into `data` (base64) and never stores it."""
    import base64

    data = dict(secret.get("data") or {})
    for key, value in (secret.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    out = {k: v for k, v in secret.items() if k != "stringData"}
    out["data"] = data
    return out


def without_paths(obj: dict[str, Any], patterns: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """`obj` without the matching paths; containers are copied only along removed paths."""
    for pattern in patterns:
        for path in sorted(expand(obj, pattern), reverse=True):
            obj = _without(obj, path)
    return obj


def _without(node: Any, path: Path) -> Any:
    head, rest = path[0], path[1:]
    if isinstance(node, dict):
        if head not in node:
            return node
        out = dict(node)
        if rest:
            out[head] = _without(node[head], rest)
        else:
            del out[head]
        return out
    if isinstance(node, list) and isinstance(head, int) and head < len(node):
        items = list(node)
        if rest:
            items[head] = _without(node[head], rest)
        else:
            del items[head]
        return items
    return node


def matches(live: Any, desired: Any, path: Path = ()) -> bool:
    """True iff `live` has every value `desired` declares: the cheap test that decides
    in-sync objects without building anything (nulls in `desired` mean "absent")."""
    if isinstance(desired, dict | list) and live == desired:
        return True  # whole subtree equal: one C-level comparison instead of a walk
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        for key, want in desired.items():
            if want is None:
                continue
            if key not in live or not matches(live[key], want, (*path, key)):
                return False
        return True
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(matches(lv, dv, (*path, i)) for i, (lv, dv) in enumerate(zip(live, desired, strict=True)))
    if live == desired:
        return type(live) is type(desired) or (not isinstance(live, bool) and not isinstance(desired, bool))
    return _is_quantity_path(path) and quantity_equal(live, desired)


def project(live: Any, desired: Any, path: Path = ()) -> Any:
    """`live` cut down to the shape of `desired`: what deepdiff explains when not `matches`."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return live
        out: dict[str, Any] = {}
        for key, want in desired.items():
            if want is None:  # the API server drops nulls in non-nullable fields
                continue
            if key in live:
                out[key] = project(live[key], want, (*path, key))
        return out
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return live
        return [project(lv, dv, (*path, i)) for i, (lv, dv) in enumerate(zip(live, desired, strict=True))]
    if live != desired and _is_quantity_path(path) and quantity_equal(live, desired):
        return desired
    return live


def strip_nulls(desired: Any) -> Any:
    if isinstance(desired, dict):
        return {k: strip_nulls(v) for k, v in desired.items() if v is not None}
    if isinstance(desired, list):
        return [strip_nulls(v) for v in desired]
    return desired


_QUANTITY_KEYS = frozenset({"requests", "limits", "capacity", "storage", "hard", "default", "defaultRequest", "max",
                            "min", "resources"})


def _is_quantity_path(path: Path) -> bool:
    return any(isinstance(p, str) and p in _QUANTITY_KEYS for p in path[-3:])


# --------------------------------------------------------------------------- masking


def mask_for(kind: str) -> Sequence[tuple[str, ...]]:
    """Pointer patterns whose values never appear in output (names of keys do)."""
    if kind == "Secret":
        return (("data",), ("stringData",))
    return ()


_RUNTIME_ENV = re.compile(r"(^|/)(runtimeEnvYAML|serveConfigV2)$")


def is_masked(kind: str, path: Sequence[str | int]) -> bool:
    return is_secret_field(kind, pointer(path))


def mask_value(kind: str, path: Sequence[str | int], value: Any) -> Any:
    """What a diff may show of `value`: secret fields hidden, runtime-env `env_vars` hidden,
    and credentials inside URLs (`https://user:token@host`) hidden wherever they are."""
    if value is None:
        return None
    if is_masked(kind, path):
        return MASK
    if isinstance(value, str) and _RUNTIME_ENV.search(pointer(path)):
        return mask_url_credentials(_mask_runtime_env(value))
    if isinstance(value, dict | list):
        return mask_urls(_mask_tree(value, kind, path))
    return mask_urls(value)


def _mask_tree(value: Any, kind: str, path: Sequence[str | int]) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if is_masked(kind, (*path, k)) else _mask_tree(v, kind, (*path, k))) for k, v in value.items()}
    if isinstance(value, list):
        return [MASK if is_masked(kind, (*path, i)) else _mask_tree(v, kind, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, str) and _RUNTIME_ENV.search(pointer(path)):
        return _mask_runtime_env(value)
    return value


def _mask_runtime_env(text: str) -> str:
    """Runtime envs (runtimeEnvYAML, Serve configs) are YAML in a string: their env_vars
    values are hidden, the rest stays readable."""
    from gitops_ray.record.redact import mask_env_vars

    return mask_env_vars(text)


# --------------------------------------------------------------------------- diff


APPLIED_ANNOTATION = "gitops-ray.io/applied"
"""Stamped with the digest of what Git declared when gitops-ray last applied the object:
while it still matches, nothing gitops-ray set can have been dropped from Git."""


def compare(
    desired: dict[str, Any],
    live: dict[str, Any] | None,
    *,
    kind: str,
    ignore: Sequence[tuple[str, ...]] = (),
    manager: str = "gitops-ray",
    digest: str | None = None,
) -> tuple[FieldChange, ...]:
    """Field-level changes that applying `desired` would make to `live` (masked). `digest`
    identifies what Git declares (see APPLIED_ANNOTATION)."""
    want = without_paths(comparable(desired), ignore)
    if live is None:
        return (FieldChange(path="", op="add"),)  # the whole object; its manifest is the change's source
    have = without_paths(comparable(live), ignore)
    changes: list[FieldChange] = []
    if not matches(have, want):
        changes.extend(_deepdiff(project(have, want), strip_nulls(want), kind))
    applied = ((live.get("metadata") or {}).get("annotations") or {}).get(APPLIED_ANNOTATION)
    if digest is not None and applied == digest:
        return tuple(changes)  # Git unchanged since we applied it: nothing we set can have been dropped
    seen = {c.path for c in changes}
    for removal in removals(live, desired, manager=manager, kind=kind, ignore=ignore):
        if not any(removal.path == p or removal.path.startswith(p + "/") for p in seen):
            changes.append(removal)
    return tuple(changes)


def in_sync(desired: dict[str, Any], live: dict[str, Any], *, ignore: Sequence[tuple[str, ...]] = ()) -> bool:
    return matches(without_paths(comparable(live), ignore), without_paths(comparable(desired), ignore))


def _deepdiff(before: Any, after: Any, kind: str) -> Iterator[FieldChange]:
    from deepdiff import DeepDiff

    tree = DeepDiff(before, after, view="tree", ignore_order=False, verbose_level=2)
    rows: list[FieldChange] = []
    for report_type, items in tree.items():
        for item in items:
            path = tuple(item.path(output_format="list"))
            op = {"dictionary_item_added": "add", "iterable_item_added": "add",
                  "dictionary_item_removed": "remove", "iterable_item_removed": "remove"}.get(report_type, "change")
            t1 = None if op == "add" else item.t1
            t2 = None if op == "remove" else item.t2
            rows.append(FieldChange(path=pointer(path), op=op, before=mask_value(kind, path, t1),
                                    after=mask_value(kind, path, t2)))
    yield from sorted(rows, key=lambda c: c.path)


# --------------------------------------------------------------------------- managedFields


def removals(
    live: dict[str, Any],
    desired: dict[str, Any],
    *,
    manager: str,
    kind: str,
    ignore: Sequence[tuple[str, ...]] = (),
) -> Iterator[FieldChange]:
    """Fields `manager` applied before that Git no longer sets and nobody else owns:
    server-side apply will delete them."""
    entries = (live.get("metadata") or {}).get("managedFields") or []
    ours = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"
            and not e.get("subresource")]
    if not ours:
        return
    others = [e.get("fieldsV1") or {} for e in entries if e not in ours]
    for tokens in _leaf_tokens(ours[0].get("fieldsV1") or {}):
        if tokens[:2] in (("f:metadata", "f:annotations"),) and any(
            t.startswith(f"f:{OWN_ANNOTATION_PREFIX}") for t in tokens[2:3]
        ):
            continue
        if any(_owns(other, tokens) for other in others):
            continue
        live_path = _resolve(live, tokens)
        if live_path is None or _resolve(desired, tokens, lenient=True) is not None:
            continue
        if any(live_path[: len(p)] == p for pattern in ignore for p in expand(live, pattern)):
            continue
        value = get_path(live, live_path)
        yield FieldChange(path=pointer(live_path), op="remove", before=mask_value(kind, live_path, value))


def _leaf_tokens(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for token, sub in tree.items():
        if token == ".":
            continue
        path = (*prefix, token)
        children = {k: v for k, v in (sub or {}).items() if k != "."}
        if children and not token.startswith(("k:", "v:", "i:")):
            yield from _leaf_tokens(children, path)
        else:
            yield path  # a leaf, or a whole list item / set member


def _owns(tree: dict[str, Any], tokens: tuple[str, ...]) -> bool:
    node: Any = tree
    for token in tokens:
        if not isinstance(node, dict) or token not in node:
            return False
        node = node[token]
    return True


def _key_match(item: Any, keys: dict[str, Any], lenient: bool) -> bool:
    """A list-map item with these key values. `lenient` (matching Git's manifest) lets a key
    the manifest leaves out match: the server filled it from the schema default
    (`ports[].protocol: TCP`)."""
    if not isinstance(item, dict):
        return False
    if lenient:
        present = [k for k in keys if k in item]
        return bool(present) and all(item[k] == keys[k] for k in present)
    return all(item.get(k) == v for k, v in keys.items())


def _resolve(obj: Any, tokens: tuple[str, ...], *, lenient: bool = False) -> Path | None:
    """The concrete path of fieldsV1 tokens in `obj`, or None if absent."""
    path: list[str | int] = []
    node = obj
    for token in tokens:
        kind, _, rest = token.partition(":")
        if kind == "f" and isinstance(node, dict) and rest in node and node[rest] is not None:
            path.append(rest)
            node = node[rest]
        elif kind == "k" and isinstance(node, list):
            keys = json.loads(rest)
            index = next((i for i, item in enumerate(node) if _key_match(item, keys, lenient)), None)
            if index is None:
                return None
            path.append(index)
            node = node[index]
        elif kind == "v" and isinstance(node, list):
            value = json.loads(rest)
            if value not in node:
                return None
            path.append(node.index(value))
            node = value
        elif kind == "i" and isinstance(node, list) and int(rest) < len(node):
            path.append(int(rest))
            node = node[int(rest)]
        else:
            return None
    return tuple(path)


# --------------------------------------------------------------------------- carrying


def carry_owned_fields(
    desired: dict[str, Any],
    live: dict[str, Any] | None,
    patterns: Sequence[tuple[str, ...]],
) -> dict[str, Any]:
    """Copy live values of ignored fields into the object to apply, so server-side
    apply keeps them; where live has none, Git's value stands."""
    if live is None or not patterns:
        return desired
    out = copy.deepcopy(desired)
    for pattern in patterns:
        for path in expand(live, pattern):
            try:
                get_path(out, path[:-1])
            except (KeyError, IndexError, TypeError):
                continue
            _set_path(out, path, copy.deepcopy(get_path(live, path)))
    return out
