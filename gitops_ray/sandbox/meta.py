"""ObjectMeta rules every kind shares: field-error wording, timestamps, name,
label, annotation, finalizer and ownerReference validation (spec §3).

Field errors are `(reason, field, body)` triples, where `body` is the text the
API server prints after `field: ` (apimachinery `util/validation/field/errors.go`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from gitops_ray.sandbox.resources import ResourceType

Cause = tuple[str, str, str]

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*"
_DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(" + _QUALIFIED_NAME + r")?"

MSG_DNS1123_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                     "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                     "validation is '" + _DNS1123_LABEL + "')")
MSG_DNS1123_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                         "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
                         "for validation is '" + _DNS1123_SUBDOMAIN + "')")
MSG_DNS1035_LABEL = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                     "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                     "regex used for validation is '" + _DNS1035_LABEL + "')")
MSG_QUALIFIED_NAME = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                      "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                      "validation is '" + _QUALIFIED_NAME + "')")
MSG_LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                   "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                   "'12345', regex used for validation is '" + _LABEL_VALUE + "')")
ANNOTATIONS_LIMIT = 262144


# -- field errors ------------------------------------------------------------------------------------------------
def go_value(value: Any) -> str:
    """How field errors print a bad value: %q for strings, %v for numbers and booleans."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))
    return json.dumps(value, separators=(",", ":"))


def required(field: str, detail: str = "") -> Cause:
    return ("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def invalid(field: str, value: Any, detail: str = "") -> Cause:
    return ("FieldValueInvalid", field, f"Invalid value: {go_value(value)}" + (f": {detail}" if detail else ""))


def forbidden(field: str, detail: str) -> Cause:
    return ("FieldValueForbidden", field, f"Forbidden: {detail}")


def too_long(field: str, limit: int) -> Cause:
    return ("FieldValueTooLong", field, f"Too long: may not be more than {limit} bytes")


def not_supported(field: str, value: Any, supported: Iterable[str]) -> Cause:
    values = ", ".join(json.dumps(v) for v in supported)
    return ("FieldValueNotSupported", field, f"Unsupported value: {go_value(value)}: supported values: {values}")


def duplicate(field: str, value: Any) -> Cause:
    return ("FieldValueDuplicate", field, f"Duplicate value: {go_value(value)}")


def immutable(field: str, value: Any) -> Cause:
    return invalid(field, value, "field is immutable")


# -- time --------------------------------------------------------------------------------------------------------
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def timestamp(moment: dt.datetime) -> str:
    """RFC 3339 UTC with second precision: `2025-01-02T03:04:05Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None


# -- names -------------------------------------------------------------------------------------------------------
def _check(value: str, pattern: str, limit: int, message: str) -> list[str]:
    problems = []
    if len(value) > limit:
        problems.append(f"must be no more than {limit} characters")
    if not re.fullmatch(pattern, value):
        problems.append(message)
    return problems


def dns1123_label(value: str) -> list[str]:
    return _check(value, _DNS1123_LABEL, 63, MSG_DNS1123_LABEL)


def dns1123_subdomain(value: str) -> list[str]:
    return _check(value, _DNS1123_SUBDOMAIN, 253, MSG_DNS1123_SUBDOMAIN)


def dns1035_label(value: str) -> list[str]:
    return _check(value, _DNS1035_LABEL, 63, MSG_DNS1035_LABEL)


def path_segment(value: str) -> list[str]:
    if value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def qualified_name(value: str) -> list[str]:
    """Label and annotation keys, finalizers: `[prefix/]name`."""
    prefix, slash, name = value.rpartition("/")
    problems: list[str] = []
    if slash and not prefix:
        problems.append("prefix part must be non-empty")
    elif slash:
        problems += ["prefix part " + p for p in dns1123_subdomain(prefix)]
    if not name:
        problems.append("name part must be non-empty")
    else:
        if len(name) > 63:
            problems.append("name part must be no more than 63 characters")
        if not re.fullmatch(_QUALIFIED_NAME, name):
            problems.append(MSG_QUALIFIED_NAME)
    return problems


NAME_RULES: dict[str, Callable[[str], list[str]]] = {
    "namespaces": dns1123_label,
    "services": dns1035_label,
    "roles.rbac.authorization.k8s.io": path_segment,
    "rolebindings.rbac.authorization.k8s.io": path_segment,
    "clusterroles.rbac.authorization.k8s.io": path_segment,
    "clusterrolebindings.rbac.authorization.k8s.io": path_segment,
}


def validate_name(rt: ResourceType, name: str) -> list[Cause]:
    rule = NAME_RULES.get(rt.group_resource, dns1123_subdomain)
    return [invalid("metadata.name", name, problem) for problem in rule(name)]


def validate_labels(labels: Any, field: str = "metadata.labels") -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(labels, dict):
        return causes
    for key, value in labels.items():
        causes += [invalid(field, key, p) for p in qualified_name(str(key))]
        text = str(value) if value is not None else ""
        if len(text) > 63:
            causes.append(invalid(field, text, "must be no more than 63 characters"))
        if not re.fullmatch(_LABEL_VALUE, text):
            causes.append(invalid(field, text, MSG_LABEL_VALUE))
    return causes


def validate_annotations(annotations: Any, field: str = "metadata.annotations") -> list[Cause]:
    causes: list[Cause] = []
    if not isinstance(annotations, dict):
        return causes
    total = 0
    for key, value in annotations.items():
        causes += [invalid(field, key, p) for p in qualified_name(str(key).lower())]
        total += len(str(key)) + len(str(value or ""))
    if total > ANNOTATIONS_LIMIT:
        causes.append(too_long(field, ANNOTATIONS_LIMIT))
    return causes


def validate_finalizers(finalizers: Any) -> list[Cause]:
    causes: list[Cause] = []
    for index, item in enumerate(finalizers or ()):
        causes += [invalid(f"metadata.finalizers[{index}]", item, p) for p in qualified_name(str(item))]
    values = set(finalizers or ())
    if {"orphan", "foregroundDeletion"} <= values:
        causes.append(invalid("metadata.finalizers", list(finalizers),
                              "finalizer orphan and foregroundDeletion cannot be both set"))
    return causes


def validate_owner_references(refs: Any) -> list[Cause]:
    causes: list[Cause] = []
    controllers = 0
    for index, ref in enumerate(refs or ()):
        base = f"metadata.ownerReferences[{index}]"
        if not isinstance(ref, dict):
            causes.append(invalid(base, ref, "must be an object"))
            continue
        for key, what in (("apiVersion", "version"), ("kind", "kind"), ("name", "name"), ("uid", "uid")):
            if not ref.get(key):
                causes.append(invalid(f"{base}.{key}", "", f"{what} must not be empty"))
        if ref.get("controller"):
            controllers += 1
    if controllers > 1:
        causes.append(invalid("metadata.ownerReferences", refs, "Only one reference can have Controller set to true"))
    return causes


def validate_meta(rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Cause]:
    """ObjectMeta checks of create and update (apimachinery `api/validation/objectmeta.go`)."""
    meta = obj.get("metadata") or {}
    causes: list[Cause] = []
    name = meta.get("name", "")
    if old is None:
        if not name:
            causes.append(required("metadata.name", "name or generateName is required"))
        elif rt.group_resource != "customresourcedefinitions.apiextensions.k8s.io":
            causes += validate_name(rt, name)
        if rt.namespaced and not meta.get("namespace"):
            causes.append(required("metadata.namespace"))
    causes += validate_labels(meta.get("labels"))
    causes += validate_annotations(meta.get("annotations"))
    causes += validate_finalizers(meta.get("finalizers"))
    causes += validate_owner_references(meta.get("ownerReferences"))
    if old is not None:
        old_meta = old.get("metadata") or {}
        for key in ("name", "namespace", "uid", "creationTimestamp"):
            if meta.get(key, "") != old_meta.get(key, ""):
                causes.append(immutable(f"metadata.{key}", meta.get(key, "")))
        if old_meta.get("deletionTimestamp"):
            new_finalizers = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if new_finalizers:
                causes.append(forbidden("metadata.finalizers", "no new finalizers can be added if the object is "
                                        "being deleted, found new finalizers []string{"
                                        + ", ".join(json.dumps(f) for f in sorted(new_finalizers)) + "}"))
    return causes


__all__ = [
    "ANNOTATIONS_LIMIT", "Cause", "Clock", "dns1035_label", "dns1123_label", "dns1123_subdomain", "duplicate",
    "forbidden", "go_value", "immutable", "invalid", "not_supported", "parse_time", "qualified_name", "required",
    "timestamp", "too_long", "utc_now", "validate_annotations", "validate_labels", "validate_meta", "validate_name",
]
