"""Schema nodes: the merge type (structured-merge-diff's atoms) and the admission
schema (structural OpenAPI) of one node, built once per CRD version or built-in kind.

A `Node` can accept several value shapes at once, like an SMD atom: `fields`
(a map: struct fields, plus `elem` for other keys), `list_type` (a list) and
`scalar`. How a CRD schema maps onto that follows kube-openapi
`pkg/schemaconv/openapi.go` (objects without properties, and everything under
`x-kubernetes-preserve-unknown-fields`, accept any other key as a "deduced"
value; lists without `x-kubernetes-list-type` are atomic; typeless nodes accept
anything). Nodes reference each other, so the recursive built-in types
(JSONSchemaProps) are graphs, not trees; nothing is copied per request.
"""

from __future__ import annotations

from typing import Any

from gitops_ray.sandbox import _builtin_defs
from gitops_ray.sandbox._cel import CelRule, compile_rule
from gitops_ray.sandbox._formats import SUPPORTED_FORMATS, compile_go_regexp

MISSING: Any = object()

_TYPE_NAMES = ("string", "integer", "number", "boolean", "object", "array")


class Checks:
    """OpenAPI keywords of one node beyond its type (kube-openapi `validate`)."""

    __slots__ = (
        "all_of", "any_of", "enum", "exclusive_maximum", "exclusive_minimum", "format", "max_items", "max_length",
        "max_properties", "maximum", "min_items", "min_length", "min_properties", "minimum", "multiple_of",
        "not_", "one_of", "pattern", "pattern_re", "required", "unique_items",
    )

    def __init__(self) -> None:
        self.enum: list[Any] | None = None
        self.format = ""
        self.maximum: float | None = None
        self.minimum: float | None = None
        self.exclusive_maximum = False
        self.exclusive_minimum = False
        self.multiple_of: float | None = None
        self.max_length: int | None = None
        self.min_length: int | None = None
        self.pattern = ""
        self.pattern_re: Any = None
        self.max_items: int | None = None
        self.min_items: int | None = None
        self.unique_items = False
        self.max_properties: int | None = None
        self.min_properties: int | None = None
        self.required: tuple[str, ...] = ()
        self.all_of: tuple[Node, ...] = ()
        self.any_of: tuple[Node, ...] = ()
        self.one_of: tuple[Node, ...] = ()
        self.not_: Node | None = None


class Node:
    __slots__ = (
        "addl", "cel", "default", "defaults", "elem", "embedded", "fields", "has_cel", "has_defaults", "has_listtype",
        "item",
        "key_defaults", "keys", "list_type", "map_atomic", "nullable", "patch_key", "patch_strategy", "preserve",
        "scalar", "type_name", "types", "v",
    )

    def __init__(self) -> None:
        # merge schema
        self.fields: dict[str, Node] | None = None  # None: the value may not be a map
        self.elem: Node | None = None  # type of map keys that are not fields (None: undeclared)
        self.map_atomic = False
        self.list_type: str | None = None  # None (not a list) | "atomic" | "set" | "map"
        self.item: Node | None = None
        self.keys: tuple[str, ...] = ()
        self.key_defaults: dict[str, Any] = {}
        self.scalar: str | None = None  # "string" | "numeric" | "boolean" | "untyped"
        self.patch_strategy = ""  # strategic merge patch (built-in kinds only)
        self.patch_key = ""
        # admission schema
        self.addl: Node | None = None  # additionalProperties: other keys are kept and checked against it
        self.preserve = False
        self.embedded = False
        self.default: Any = MISSING
        self.nullable = False
        self.types: tuple[str, ...] = ()  # allowed OpenAPI types; () = any
        self.type_name = ""
        self.v: Checks | None = None
        self.cel: tuple[CelRule, ...] = ()
        self.defaults: tuple[tuple[str, Any], ...] = ()  # (field, default) of fields that have one
        self.has_defaults = False
        self.has_cel = False
        self.has_listtype = False

    def child(self, key: str) -> Node | None:
        """The node of map key `key` (declared field, else the element type)."""
        fields = self.fields
        if fields is not None:
            node = fields.get(key)
            if node is not None:
                return node
        return self.elem


def _untyped(atomic_map: bool) -> Node:
    node = Node()
    node.scalar = "untyped"
    node.list_type = "atomic"
    node.fields = {}
    node.map_atomic = atomic_map
    node.preserve = True
    return node


# `__untyped_atomic_` and `__untyped_deduced_` of structured-merge-diff.
UNTYPED_ATOMIC = _untyped(True)
UNTYPED_ATOMIC.item = UNTYPED_ATOMIC
UNTYPED_ATOMIC.elem = UNTYPED_ATOMIC
DEDUCED = _untyped(False)
DEDUCED.item = UNTYPED_ATOMIC
DEDUCED.elem = DEDUCED


# --------------------------------------------------------------------------- CRD schemas


def from_openapi(schema: dict[str, Any]) -> tuple[Node, Node | None]:
    """Root node of a CRD version's `openAPIV3Schema`, and its own `metadata` node
    (validated as written; the merge schema uses ObjectMeta instead)."""
    root = _build(schema, preserve=False, root=True)
    props = schema.get("properties") or {}
    meta = props.get("metadata")
    meta_node = _build(meta, preserve=False, root=False) if isinstance(meta, dict) else None
    return root, meta_node


def _build(s: dict[str, Any], *, preserve: bool, root: bool = False) -> Node:
    n = Node()
    preserve = preserve or bool(s.get("x-kubernetes-preserve-unknown-fields"))
    n.preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    n.embedded = root or bool(s.get("x-kubernetes-embedded-resource"))
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    t = s.get("type") or ""
    n.type_name = t
    n.nullable = bool(s.get("nullable"))
    if int_or_string:
        n.types = ("integer", "string")
    elif t in _TYPE_NAMES:
        n.types = (t,)
    if "default" in s:
        n.default = s["default"]
        n.has_defaults = True

    if t == "" or int_or_string:
        n.scalar = "untyped"
    elif t in ("integer", "number"):
        n.scalar = "numeric"
    elif t == "boolean":
        n.scalar = "boolean"
    elif t == "string":
        n.scalar = "string" if s.get("format", "") in ("", "byte") else "untyped"

    props = s.get("properties")
    addl = s.get("additionalProperties")
    if t in ("object", "") and not int_or_string:
        n.fields = {name: _build(sub, preserve=preserve) for name, sub in (props or {}).items()}
        if isinstance(addl, dict):
            n.addl = _build(addl, preserve=preserve)
            n.elem = n.addl
        elif addl is True or preserve or not props:
            n.elem = DEDUCED
        n.map_atomic = s.get("x-kubernetes-map-type") == "atomic"
        if n.embedded:
            for name in ("apiVersion", "kind"):
                n.fields.setdefault(name, _string_node())
            n.fields["metadata"] = object_meta()
    if t in ("array", "") and not int_or_string:
        items = s.get("items")
        n.item = _build(items, preserve=preserve) if isinstance(items, dict) else UNTYPED_ATOMIC
        _list_markers(n, s)

    n.v = _checks(s)
    rules = s.get("x-kubernetes-validations")
    if rules:
        compiled = [compile_rule(r) for r in rules if isinstance(r, dict)]
        n.cel = tuple(r for r in compiled if r is not None)
    _summarize(n)
    return n


def _string_node() -> Node:
    n = Node()
    n.scalar = "string"
    n.types = ("string",)
    n.type_name = "string"
    return n


def _list_markers(n: Node, s: dict[str, Any]) -> None:
    lt = s.get("x-kubernetes-list-type")
    item = n.item
    assert item is not None
    if lt in ("set", "map"):
        n.list_type = lt
        n.keys = tuple(s.get("x-kubernetes-list-map-keys") or ()) if lt == "map" else ()
    elif lt is None and str(s.get("x-kubernetes-patch-strategy", "")).startswith("merge"):
        key = s.get("x-kubernetes-patch-merge-key")
        n.list_type = "map" if key else "set"
        n.keys = (key,) if key else ()
    else:
        n.list_type = "atomic"
    if n.keys and item.fields is not None:
        n.key_defaults = {k: item.fields[k].default for k in n.keys
                          if k in item.fields and item.fields[k].default is not MISSING}
    n.has_listtype = n.list_type in ("set", "map")


def _summarize(n: Node) -> None:
    children: list[Node] = []
    if n.fields:
        children.extend(n.fields.values())
    if n.addl is not None:
        children.append(n.addl)
    if n.item is not None and n.item is not UNTYPED_ATOMIC:
        children.append(n.item)
    if n.fields:
        n.defaults = tuple((k, c.default) for k, c in n.fields.items() if c.default is not MISSING)
    n.has_cel = bool(n.cel) or any(c.has_cel for c in children)
    n.has_defaults = n.has_defaults or any(c.has_defaults for c in children)
    n.has_listtype = n.has_listtype or any(c.has_listtype for c in children)


def _checks(s: dict[str, Any]) -> Checks | None:
    c = Checks()
    used = False
    if isinstance(s.get("enum"), list):
        c.enum = s["enum"]
        used = True
    fmt = str(s.get("format") or "")
    if fmt.replace("-", "") in SUPPORTED_FORMATS:
        c.format = fmt  # as written: the error message names it
        used = True
    for key, attr in (("maximum", "maximum"), ("minimum", "minimum"), ("multipleOf", "multiple_of"),
                      ("maxLength", "max_length"), ("minLength", "min_length"), ("maxItems", "max_items"),
                      ("minItems", "min_items"), ("maxProperties", "max_properties"),
                      ("minProperties", "min_properties")):
        if s.get(key) is not None:
            setattr(c, attr, s[key])
            used = True
    c.exclusive_maximum = bool(s.get("exclusiveMaximum"))
    c.exclusive_minimum = bool(s.get("exclusiveMinimum"))
    c.unique_items = bool(s.get("uniqueItems"))
    if s.get("pattern"):
        c.pattern = str(s["pattern"])
        c.pattern_re = compile_go_regexp(c.pattern)
        used = True
    if s.get("required"):
        c.required = tuple(s["required"])
        used = True
    for key, attr in (("allOf", "all_of"), ("anyOf", "any_of"), ("oneOf", "one_of")):
        if s.get(key):
            setattr(c, attr, tuple(_build(sub, preserve=True) for sub in s[key]))
            used = True
    if isinstance(s.get("not"), dict):
        c.not_ = _build(s["not"], preserve=True)
        used = True
    return c if used or c.unique_items else None


# --------------------------------------------------------------------------- built-in kinds

_SCALAR_SPECS = {"s": "string", "i": "numeric", "n": "numeric", "b": "boolean", "u": "untyped"}
_BUILTIN: dict[str, Node] = {}
# List-map keys that default on the server; the item of a keyed list may omit them.
_BUILTIN_KEY_DEFAULTS = {"protocol": "TCP"}


def builtin_type(name: str) -> Node:
    """The node of a named built-in type (`core.v1.PodSpec`), built once, cycles allowed."""
    node = _BUILTIN.get(name)
    if node is not None:
        return node
    node = Node()
    node.fields = {}
    _BUILTIN[name] = node
    for token in _builtin_defs.TYPES[name].split(" "):
        field, _, spec = token.partition(":")
        if field == ".":
            node.map_atomic = True
            continue
        node.fields[field] = _spec_node(spec)
    return node


def _spec_node(spec: str) -> Node:
    if spec in _SCALAR_SPECS:
        n = Node()
        n.scalar = _SCALAR_SPECS[spec]
        return n
    if spec == "x":
        return DEDUCED
    if spec.startswith("!@"):
        inner = builtin_type(spec[2:])
        n = Node()
        n.fields = inner.fields
        n.map_atomic = True
        return n
    if spec.startswith("@"):
        return builtin_type(spec[1:])
    if spec.startswith("{"):
        n = Node()
        n.fields = {}
        n.map_atomic = spec.startswith("{!")
        n.elem = n.addl = _spec_node(spec[2:] if n.map_atomic else spec[1:])
        return n
    if spec.startswith("["):
        info, _, elem = spec[1:].partition("]")
        n = Node()
        n.item = _spec_node(elem)
        kind, _, patch = info.partition("|")
        n.patch_strategy, _, n.patch_key = patch.partition("|")
        if kind.startswith("m="):
            n.list_type = "map"
            n.keys = tuple(kind[2:].split("+"))
            n.key_defaults = {k: _BUILTIN_KEY_DEFAULTS[k] for k in n.keys if k in _BUILTIN_KEY_DEFAULTS}
        elif kind == "s" or (kind == "" and n.patch_strategy.startswith("merge")):
            n.list_type = "map" if n.patch_key else "set"
            n.keys = (n.patch_key,) if n.patch_key else ()
        else:
            n.list_type = "atomic"
        return n
    raise ValueError(f"bad built-in field spec {spec!r}")


def object_meta() -> Node:
    return builtin_type("meta.v1.ObjectMeta")


def builtin_root(group: str, version: str, kind: str) -> Node | None:
    name = _builtin_defs.GVK.get((group, version, kind))
    return builtin_type(name) if name else None


def generic_root() -> Node:
    """Unknown kinds: ObjectMeta plus granular maps and atomic lists everywhere."""
    n = Node()
    n.fields = {"apiVersion": _string_node(), "kind": _string_node(), "metadata": object_meta()}
    n.elem = DEDUCED
    n.preserve = True
    n.embedded = True
    return n
