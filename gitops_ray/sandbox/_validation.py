"""OpenAPI schema validation of a custom resource, worded like the API server.

Follows kube-openapi `pkg/validation/validate` as vendored by Kubernetes 1.32
(type, schema props, string, format, number, slice, common, object validators
in that order; no int32/int64 range check) and the error mapping of
apiextensions-apiserver `validation.go kubeOpenAPIResultToFieldErrors`.
Errors are collected as `(type, field, message)` triples.
"""

from __future__ import annotations

import json
from typing import Any

from gitops_ray.sandbox._formats import check_format
from gitops_ray.sandbox._gofmt import error_value, go_float, go_quote, go_v
from gitops_ray.sandbox._nodes import Checks, Node

Err = tuple[str, str, str]


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "null")


def _field(name: str) -> str:
    return name[1:] if name.startswith(".") else name


def _invalid(name: str, value: Any, detail: str) -> Err:
    return ("FieldValueInvalid", _field(name), f"Invalid value: {error_value(value)}: {detail}")


def _type_invalid(name: str, value: Any, detail: str) -> Err:
    return ("FieldValueTypeInvalid", _field(name), f"Invalid value: {error_value(value)}: {detail}")


def _composite(detail: str) -> Err:
    return ("FieldValueInvalid", "<nil>", f'Invalid value: "": {detail}')


def _num(x: float) -> str:
    return go_float(x) if isinstance(x, float) and not x.is_integer() else go_v(int(x))


def _type_check(value: Any, kind: str, node: Node, fmt: str, name: str, errs: list[Err]) -> None:
    """kube-openapi `typeValidator.Validate` for a non-null value."""
    types = node.types
    if not fmt and (not types or kind in types):
        return
    if kind == "integer":
        schema_fmt = "int64"
    elif kind == "number":
        schema_fmt = "float64"
    else:
        schema_fmt = ""
    is_float_int = kind == "number" and float(value).is_integer() and "integer" in types
    is_int_float = kind == "integer" and "number" in types
    if kind not in ("string", "array") and fmt and not (kind in types or schema_fmt == fmt or is_float_int
                                                         or is_int_float):
        errs.append(_type_invalid(name, schema_fmt, f"{name} in body must be of type {fmt}: {go_quote(schema_fmt)}"))
        return
    if "number" not in types and "integer" not in types and fmt and kind in ("string", "array"):
        return
    if types and not (kind in types or is_float_int or is_int_float):
        expected = ",".join(types)
        errs.append(_type_invalid(name, kind, f"{name} in body must be of type {expected}: {go_quote(kind)}"))


def validate_node(value: Any, node: Node, name: str, errs: list[Err]) -> None:
    """Validate `value` against `node`; `name` is the kube-openapi path (`spec.a[0].b`)."""
    v = node.v
    if value is None:
        if node.types and not node.nullable:
            types = ",".join(node.types)
            errs.append(_type_invalid(name, "null", f"{name} in body must be of type {types}: \"null\""))
        if v is not None and v.enum is not None:
            _enum(value, v, name, errs)
        return
    kind = json_type(value)
    _type_check(value, kind, node, v.format if v is not None else "", name, errs)
    if v is not None:
        _checked(value, kind, node, v, name, errs)
        return
    if kind == "object":
        _properties(value, node, name, errs)
    elif kind == "array" and node.item is not None:
        item = node.item
        for i, x in enumerate(value):
            validate_node(x, item, f"{name}[{i}]", errs)


def _properties(value: dict[str, Any], node: Node, name: str, errs: list[Err]) -> None:
    fields = node.fields
    if fields is None:
        return
    addl = node.addl
    prefix = name + "." if name else ""
    for key, sub in value.items():
        child = fields.get(key)
        if child is not None:
            validate_node(sub, child, prefix + key, errs)
        elif addl is not None:
            validate_node(sub, addl, name + "." + key, errs)


def _checked(value: Any, kind: str, node: Node, v: Checks, name: str, errs: list[Err]) -> None:
    if v.all_of or v.any_of or v.one_of or v.not_ is not None:
        _junctors(value, v, name, errs)
    if kind == "string":
        _string(value, v, name, errs)
        if v.format and not check_format(v.format, value):
            errs.append(_type_invalid(name, value, f"{name} in body must be of type {v.format}: {go_quote(value)}"))
    elif kind in ("integer", "number"):
        _number(value, v, name, errs)
    elif kind == "array":
        item = node.item
        if item is not None:
            for i, x in enumerate(value):
                validate_node(x, item, f"{name}[{i}]", errs)
        size = len(value)
        if v.min_items is not None and size < v.min_items:
            errs.append(_invalid(name, size, f"{name} in body should have at least {v.min_items} items"))
        if v.max_items is not None and size > v.max_items:
            errs.append(("FieldValueTooMany", _field(name),
                         f"Too many: {size}: must have at most {v.max_items} items"))
        if v.unique_items and _has_duplicates(value):
            errs.append(_invalid(name, "", f"{name} in body shouldn't contain duplicates"))
    if v.enum is not None:
        _enum(value, v, name, errs)
    if kind == "object":
        size = len(value)
        if v.min_properties is not None and size < v.min_properties:
            errs.append(_invalid(name, size, f"{name} in body should have at least {v.min_properties} properties"))
        if v.max_properties is not None and size > v.max_properties:
            errs.append(("FieldValueTooMany", _field(name),
                         f"Too many: {size}: must have at most {v.max_properties} items"))
        _properties(value, node, name, errs)
        for key in v.required:
            if key not in value:
                errs.append(("FieldValueRequired", _field(name + "." + key), "Required value"))


def _string(value: str, v: Checks, name: str, errs: list[Err]) -> None:
    """The string validator stops at its first failure."""
    if v.max_length is not None and len(value) > v.max_length:
        errs.append(("FieldValueTooLong", _field(name), f"Too long: may not be more than {v.max_length} bytes"))
        return
    if v.min_length is not None and len(value) < v.min_length:
        errs.append(_invalid(name, value, f"{name} in body should be at least {v.min_length} chars long"))
        return
    if v.pattern:
        if v.pattern_re is None:
            errs.append(_invalid(name, value, f"{name} in body should match '{v.pattern}, but pattern is invalid'"))
        elif not v.pattern_re.search(value):
            errs.append(_invalid(name, value, f"{name} in body should match '{v.pattern}'"))


def _number(value: float, v: Checks, name: str, errs: list[Err]) -> None:
    is_int = isinstance(value, int)
    if v.multiple_of is not None:
        factor = v.multiple_of
        if factor <= 0:
            detail = f"factor MultipleOf declared for {name} must be positive: {_num(factor)}"
            errs.append(_invalid(name, factor, detail))
        elif is_int and float(factor).is_integer():
            if value % int(factor):
                errs.append(_invalid(name, value, f"{name} in body should be a multiple of {_num(factor)}"))
        else:
            mult = value * (1 / factor) if factor < 1 else value / factor
            if not float(mult).is_integer():
                errs.append(_invalid(name, value, f"{name} in body should be a multiple of {_num(factor)}"))
    if v.minimum is not None:
        low = int(v.minimum) if is_int else v.minimum
        if value < low or (v.exclusive_minimum and value <= low):
            word = "greater than" if v.exclusive_minimum else "greater than or equal to"
            errs.append(_invalid(name, value, f"{name} in body should be {word} {_num(low)}"))
    if v.maximum is not None:
        high = int(v.maximum) if is_int else v.maximum
        if value > high or (v.exclusive_maximum and value >= high):
            word = "less than" if v.exclusive_maximum else "less than or equal to"
            errs.append(_invalid(name, value, f"{name} in body should be {word} {_num(high)}"))


def _enum(value: Any, v: Checks, name: str, errs: list[Err]) -> None:
    assert v.enum is not None
    for allowed in v.enum:
        if allowed == value and isinstance(allowed, bool) == isinstance(value, bool):
            return
    supported = ", ".join(go_quote(a if isinstance(a, str) else json.dumps(a, separators=(",", ":")))
                          for a in v.enum)
    detail = f": supported values: {supported}" if v.enum else ""
    errs.append(("FieldValueNotSupported", _field(name), f"Unsupported value: {error_value(value)}{detail}"))


def _has_duplicates(items: list[Any]) -> bool:
    seen: set[str] = set()
    for item in items:
        key = json.dumps(item, sort_keys=True)
        if key in seen:
            return True
        seen.add(key)
    return False


def _plainly_valid(value: Any, sub: Node) -> bool:
    """A branch that only names a type the value has (int-or-string's `anyOf`) passes without a walk."""
    return sub.v is None and not isinstance(value, dict | list) and (not sub.types or json_type(value) in sub.types)


def _junctors(value: Any, v: Checks, name: str, errs: list[Err]) -> None:
    """allOf / anyOf / oneOf / not (`schemaPropsValidator`): the best failing branch is reported too."""
    if v.any_of and not any(_plainly_valid(value, sub) for sub in v.any_of):
        best: list[Err] | None = None
        for sub in v.any_of:
            found: list[Err] = []
            validate_node(value, sub, name, found)
            if not found:
                best = None
                break
            if best is None:
                best = found
        else:
            errs.append(_composite(f"{go_quote(name)} must validate at least one schema (anyOf)"))
        if best:
            errs.extend(best)
    if v.one_of:
        valid = 0
        first: list[Err] | None = None
        for sub in v.one_of:
            found = []
            validate_node(value, sub, name, found)
            if not found:
                valid += 1
            elif valid == 0 and first is None:
                first = found
        if valid != 1:
            extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            errs.append(_composite(f"{go_quote(name)} must validate one and only one schema (oneOf). {extra}"))
            if valid == 0 and first:
                errs.extend(first)
    if v.all_of:
        passed = 0
        for sub in v.all_of:
            found = []
            validate_node(value, sub, name, found)
            errs.extend(found)
            passed += not found
        if passed != len(v.all_of):
            extra = ". None validated" if passed == 0 else ""
            errs.append(_composite(f"{go_quote(name)} must validate all the schemas (allOf){extra}"))
    if v.not_ is not None:
        found = []
        validate_node(value, v.not_, name, found)
        if not found:
            errs.append(_composite(f"{go_quote(name)} must not validate the schema (not)"))
