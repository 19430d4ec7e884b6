"""Label and field selectors as list and watch filter them (spec §1.6).

The grammar follows apimachinery `pkg/labels/selector.go` (`=`, `==`, `!=`,
`in`, `notin`, `key`, `!key`, `gt`/`lt`; commas mean AND) and
`pkg/fields/selector.go` (`=`, `==`, `!=` only). Parse errors are 400s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gitops_ray.sandbox.errors import StatusError, bad_request

_KEY = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?)")
_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=" "!=" "in" "notin" "exists" "!" "gt" "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(str(value))
        except ValueError:
            return False
        return number > int(self.values[0]) if self.op == "gt" else number < int(self.values[0])


Selector = Callable[[Mapping[str, str]], bool]


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or not match.group(1):
            break
        out.append(match.group(1))
        pos = match.end()
    return out


def parse_labels(text: str) -> list[Requirement]:
    """`app=a,tier in (x,y),!legacy` -> requirements (AND)."""
    tokens = _tokens(text)
    reqs: list[Requirement] = []
    i = 0

    def fail(why: str) -> StatusError:
        return bad_request(f"unable to parse requirement: {why}")

    def word(at: int, what: str) -> str:
        if at >= len(tokens) or tokens[at] in ("!=", "==", "=", "!", "(", ")", ",", ">", "<"):
            found = tokens[at] if at < len(tokens) else ""
            raise fail(f"found '{found}', expected: {what}")
        return tokens[at]

    while i < len(tokens):
        if tokens[i] == "!":
            key = word(i + 1, "identifier after '!'")
            reqs.append(Requirement(_check_key(key), "!"))
            i += 2
        else:
            key = _check_key(word(i, "identifier"))
            i += 1
            op = tokens[i] if i < len(tokens) else ","
            if op == ",":
                reqs.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                value = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1] not in (",", ")", "(") else ""
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (_check_value(value),)))
                i += 2 if value else 1
            elif op in (">", "<"):
                value = word(i + 1, "integer value")
                if not value.lstrip("-").isdigit():
                    raise fail(f"for 'Gt', 'Lt' operators, the value must be an integer: {value}")
                reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
                i += 2
            elif op in ("in", "notin"):
                if i + 1 >= len(tokens) or tokens[i + 1] != "(":
                    raise fail("found '', expected: '('")
                i += 2
                values: list[str] = []
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] != ",":
                        values.append(_check_value(tokens[i]))
                    i += 1
                if i >= len(tokens):
                    raise fail("found '', expected: ')'")
                i += 1
                reqs.append(Requirement(key, op, tuple(values) or ("",)))
            else:
                raise fail(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        if i < len(tokens):
            if tokens[i] != ",":
                raise fail(f"found '{tokens[i]}', expected: ',' or 'end of string'")
            i += 1
    return reqs


def _check_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if not _KEY.fullmatch(name) or len(name) > 63 or len(prefix) > 253:
        raise bad_request(f"unable to parse requirement: invalid label key \"{key}\": name part must consist of "
                          "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                          "character")
    return key


def _check_value(value: str) -> str:
    if value and (len(value) > 63 or not _KEY.fullmatch(value) or "/" in value):
        raise bad_request(f"unable to parse requirement: invalid label value: \"{value}\": at key: must be 63 "
                          "characters or less and consist of alphanumerics, '-', '_' or '.'")
    return value


def label_matcher(text: str | None) -> Selector | None:
    if not text or not text.strip():
        return None
    reqs = parse_labels(text)
    return lambda labels: all(req.matches(labels) for req in reqs)


@dataclass(frozen=True)
class FieldTerm:
    field: str
    value: str
    negate: bool


def parse_fields(text: str, allowed: tuple[str, ...]) -> list[FieldTerm]:
    terms: list[FieldTerm] = []
    for part in _split_fields(text):
        if not part:
            continue
        match = re.fullmatch(r"\s*([^=!\s]+)\s*(!=|==|=)\s*(.*?)\s*", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = match.groups()
        if field not in allowed:
            raise bad_request(f"field label not supported: {field}")
        terms.append(FieldTerm(field, value.replace("\\,", ",").replace("\\=", "="), op == "!="))
    return terms


def _split_fields(text: str) -> list[str]:
    parts, current, escaped = [], "", False
    for char in text:
        if escaped:
            current += "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def field_matcher(text: str | None, allowed: tuple[str, ...]) -> Selector | None:
    if not text or not text.strip():
        return None
    terms = parse_fields(text, allowed)
    return lambda fields: all((fields.get(t.field, "") == t.value) != t.negate for t in terms)


def field_values(obj: Mapping[str, object], labels: tuple[str, ...]) -> dict[str, str]:
    """The selectable field values of one object, rendered as strings (booleans lower-case, like Go)."""
    out: dict[str, str] = {}
    for path in labels:
        node: object = obj
        for part in path.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, bool):
            out[path] = "true" if node else "false"
        elif node is not None:
            out[path] = str(node)
        else:
            out[path] = ""
    return out


__all__ = ["FieldTerm", "Requirement", "Selector", "field_matcher", "field_values", "label_matcher",
           "parse_fields", "parse_labels"]
