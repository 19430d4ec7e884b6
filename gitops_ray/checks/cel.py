"""CEL offline: CRD `x-kubernetes-validations` and admission policy expressions, judged as the API server would.

The engine is cel-expr-python (Google's CEL C++ runtime; choice and measurements in
docs/cel.md) with the API server's libraries: cel-go's strings v2, sets, lists, optional
types and two-variable comprehensions from the engine, Kubernetes' own from cel_library.

* `compile_rule` compiles once per (expression, kind), cached; `CompiledRule.evaluate`
  returns an `Outcome`, with evaluation errors worded as cel-go words them.
* `CrdValidator` walks an object (and the old one, on update) through a CRD's
  openAPIV3Schema and returns `CelFinding`s with the API server's paths and messages
  (k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/validation.go).
* `cel_policy.evaluate_policy` runs a ValidatingAdmissionPolicy's matchConditions, variables and
  validations over `object`/`oldObject`/`params`/`request`/`namespaceObject`
  (k8s.io/apiserver/pkg/admission/plugin/policy/validating/validator.go).

Gaps (what Kubernetes does that this does not) are listed in docs/cel.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from cel_expr_python import cel

from gitops_ray.checks import cel_library
from gitops_ray.checks.cel_values import MISSING as _MISSING
from gitops_ray.checks.cel_values import to_cel
from gitops_ray.errors import GitopsRayError

MAX_MESSAGE_BYTES: Final = 5 * 1024
"""celconfig.MaxEvaluatedMessageExpressionSizeBytes: a longer evaluated message is not used."""

SKIPPED_MESSAGE: Final = ("some validation rules were not checked because the object was invalid; "
                          "correct the existing errors to complete validation")
"""What the API server adds instead of running CEL when the object failed schema validation."""


_ERROR: Final = cel.Type.ERROR


class RuleKind(StrEnum):
    """Which variables an expression sees."""

    CRD = "crd"  # self, oldSelf
    POLICY = "policy"  # object, oldObject, params, request, namespaceObject, variables


_VARIABLES: dict[RuleKind, tuple[str, ...]] = {
    RuleKind.CRD: ("self", "oldSelf", "_oldSelfPresent", "_oldSelfValue"),
    RuleKind.POLICY: ("object", "oldObject", "params", "request", "namespaceObject", "variables"),
}
# The API server's extension libraries that the engine ships (environment/base.go):
# strings at version 2 as Kubernetes pins it; bindings only to express optionalOldSelf.
_EXTENSIONS = ("strings:2", "optional", "sets", "lists", "two-var-comprehensions", "bindings")


class CelCompileError(GitopsRayError):
    """An expression that does not compile; `unsupported` when it is valid Kubernetes CEL we cannot run."""

    def __init__(self, expression: str, detail: str) -> None:
        super().__init__(f"compilation failed: {detail}")
        self.expression = expression
        self.detail = detail
        self.unsupported = bool(_UNSUPPORTED.search(detail))


_UNSUPPORTED = re.compile(r"undeclared reference to '(authorizer|format)'"
                          r"|no matching overload for '(indexOf|lastIndexOf)' applied to '\(list")


@functools.cache
def _env(kind: RuleKind) -> Any:
    lines = ["name: gitops-ray", "extensions:"]
    for ext in _EXTENSIONS:
        name, _, version = ext.partition(":")
        lines.append(f"  - name: {name}")
        if version:
            lines.append(f"    version: {version}")
    lines.append("variables:")
    for var in _VARIABLES[kind]:
        lines += [f"  - name: {var}", f"    type_name: {'bool' if var == '_oldSelfPresent' else 'dyn'}"]
    config = cel.NewEnvConfigFromYaml("\n".join(lines) + "\n")
    return cel.NewEnv(config=config, functions=cel_library.declarations())


# --------------------------------------------------------------------------- evaluation

@dataclass(frozen=True, slots=True)
class Outcome:
    """One evaluation: `value`, or `error` in cel-go's words (`no such key: x`)."""

    value: Any = None
    error: str | None = None

    @property
    def passed(self) -> bool:
        """What the API server asks of a rule: no error and exactly `true`."""
        return self.error is None and self.value is True


_ERROR_WORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'Key not found in map : "?(.*?)"?$'), r"no such key: \1"),
    (re.compile(r"Index error: index=(-?\d+) size=\d+"), r"index out of bounds: \1"),
    (re.compile(r"^divide by zero$"), "division by zero"),
    (re.compile(r"^No matching overloads found.*"), "no such overload"),
)
_STATUS = re.compile(r"^[A-Z_]+: |\s*\[[A-Z_]+\]$")


def cel_go_error(text: str) -> str:
    """An engine error message as cel-go (and so the API server) words it."""
    text = _STATUS.sub("", _STATUS.sub("", text.strip()))
    for pattern, words in _ERROR_WORDS:
        if pattern.search(text):
            return pattern.sub(words, text)
    return text


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A compiled expression; evaluate it with `evaluate` as often as needed."""

    expression: str
    kind: RuleKind
    uses_old_self: bool
    optional_old_self: bool
    _program: Any

    def evaluate(self, variables: Mapping[str, Any] | Bindings) -> Outcome:
        """Evaluate with plain JSON-like values (convert CRD values with `to_cel` first), or `Bindings`.

        Unbound variables are null; a transition rule is the caller's to skip when there
        is no old value (the API server does not run it), unless `optional_old_self`.
        """
        bound = variables if isinstance(variables, Bindings) else Bindings(self.kind, variables)
        try:
            result = self._program.eval(bound.activation)
        except RuntimeError as exc:  # raised only for inputs the engine cannot convert
            return Outcome(error=cel_go_error(str(exc)))
        value = result.plain_value()
        if isinstance(value, str) and result.type() == _ERROR:  # an error's plain value is its text
            return Outcome(error=cel_go_error(value))
        return Outcome(value=value)


class Bindings:
    """Variables handed to the engine once, for every expression of one kind evaluated over them.

    Converting a whole object into the engine costs ~50 µs; evaluating a compiled
    expression over converted values ~4 µs. Build one per object (per schema node for
    CRD rules) and evaluate all its expressions with it.
    """

    __slots__ = ("activation", "kind")

    def __init__(self, kind: RuleKind, variables: Mapping[str, Any]) -> None:
        data = dict.fromkeys(_VARIABLES[kind])
        data.update(variables)
        if kind is RuleKind.CRD:  # what an optionalOldSelf rule binds oldSelf from
            data["_oldSelfPresent"] = "oldSelf" in variables
            data["_oldSelfValue"] = variables.get("oldSelf")
        self.kind = kind
        self.activation = _env(kind).Activation(data)


_OLD_SELF = re.compile(r"\boldSelf\b")
_STRINGS = re.compile(r"""(?s)[rR]?(?:'''.*?'''|\"\"\".*?\"\"\"|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")""")


@functools.lru_cache(maxsize=4096)
def compile_rule(expression: str, *, kind: RuleKind = RuleKind.CRD, optional_old_self: bool = False,
                 returns_bool: bool = True) -> CompiledRule:
    """Compile `expression`, cached by its text; raises CelCompileError.

    `returns_bool=False` is for messageExpressions and policy variables, which may be of
    any type (the API server type-checks a messageExpression to `string`; so do we, below).
    """
    uses_old_self = kind is RuleKind.CRD and bool(_OLD_SELF.search(_STRINGS.sub("", expression)))
    text = expression
    if optional_old_self and uses_old_self:
        # oldSelf becomes optional.of(old) or optional.none(), as with the API server's optionalOldSelf
        text = f"cel.bind(oldSelf, _oldSelfPresent ? optional.of(_oldSelfValue) : optional.none(), {expression})"
    try:
        program = _env(kind).compile(text)
    except RuntimeError as exc:
        raise CelCompileError(expression, cel_go_error(str(exc))) from None
    if returns_bool and program.return_type() not in (cel.Type.BOOL, cel.Type.DYN):
        raise CelCompileError(expression, "cel expression must evaluate to a bool")
    return CompiledRule(expression, kind, uses_old_self, optional_old_self and uses_old_self, program)


def evaluate_message(expression: str, variables: Mapping[str, Any] | Bindings, *, kind: RuleKind) -> str | None:
    """A messageExpression's text, or None when the API server would fall back to the message.

    None for: a compile or evaluation error, a non-string, a blank string, a line break,
    more than MAX_MESSAGE_BYTES (validation.go `evalMessageExpression`).
    """
    try:
        outcome = compile_rule(expression, kind=kind, returns_bool=False).evaluate(variables)
    except CelCompileError:
        return None
    if outcome.error is not None or not isinstance(outcome.value, str):
        return None
    text = outcome.value.strip()
    if not text or "\n" in text or len(text.encode()) > MAX_MESSAGE_BYTES:
        return None
    return text


# --------------------------------------------------------------------------- findings

@dataclass(frozen=True, slots=True, kw_only=True)
class CelFinding:
    """One failed CRD rule (or one that failed to evaluate), as the API server reports it.

    `path` is the field path of the error (the rule's `fieldPath` applied),
    `spec.workerGroupSpecs[0].name`; `node_path` is where the rule sits. `warning` means
    the API server would only warn: the value is unchanged since the old object
    (ratcheting) or the rule uses CEL this evaluator cannot run (`unsupported`).
    """

    path: str
    node_path: str
    reason: str  # FieldValueInvalid, FieldValueForbidden, FieldValueRequired, FieldValueDuplicate
    detail: str
    rule: str
    schema_type: str
    evaluation_error: bool = False
    warning: bool = False
    unsupported: bool = False

    @property
    def message(self) -> str:
        """The error body (`field.Error.ErrorBody`): `Invalid value: "string": <detail>`."""
        if self.reason == "FieldValueForbidden":
            return f"Forbidden: {self.detail}"
        if self.reason == "FieldValueRequired":
            return f"Required value: {self.detail}"
        if self.reason == "FieldValueDuplicate":
            return f'Duplicate value: "{self.schema_type}"'
        return f'Invalid value: "{self.schema_type}": {self.detail}'

    def __str__(self) -> str:
        return f"{self.path or '<nil>'}: {self.message}"


def rule_message(rule: Mapping[str, Any]) -> str:
    """`ruleMessageOrDefault`: the rule's message trimmed, else `failed rule: <rule>`."""
    message = str(rule.get("message") or "").strip()
    return message or f"failed rule: {str(rule.get('rule', '')).strip()}"


def rule_error_string(rule: Mapping[str, Any]) -> str:
    """`ruleErrorString`, what follows an evaluation error: the message, else the rule."""
    return str(rule.get("message") or "").strip() or str(rule.get("rule", "")).strip()


def evaluation_error_detail(error: str, rule: Mapping[str, Any]) -> str:
    """The API server's detail for a rule whose evaluation failed."""
    if error.startswith("no such overload"):
        return (f"'{error}': call arguments did not match a supported operator, function or macro signature "
                f"for rule: {rule_error_string(rule)}")
    return f"{error} evaluating rule: {rule_error_string(rule)}"



# --------------------------------------------------------------------------- the CRD walker

_FIELD_PATH_TOKEN = re.compile(r"\.([^.\[\]']+)|\['((?:\\.|[^'\\])*)'\]")


def normalize_field_path(field_path: str, schema: Mapping[str, Any]) -> str:
    """A rule's `fieldPath` (`.spec['a.b'].c`) as a field path (`spec[a.b].c` under a map), or "" if invalid."""
    out, pos, node = "", 0, schema
    for m in _FIELD_PATH_TOKEN.finditer(field_path):
        if m.start() != pos:
            return ""
        pos = m.end()
        name = m.group(1) if m.group(1) is not None else re.sub(r"\\(.)", r"\1", m.group(2))
        props, addl = node.get("properties"), node.get("additionalProperties")
        if props is not None and name in props:
            out, node = (f"{out}.{name}" if out else name), props[name]
        elif props is None and isinstance(addl, dict):
            out, node = f"{out}[{name}]", addl
        else:
            return ""
    return out if pos == len(field_path) else ""


@dataclass(frozen=True, slots=True)
class _Rule:
    spec: Mapping[str, Any]
    program: CompiledRule | None
    compile_error: CelCompileError | None
    field_path: str
    reason: str


@dataclass(slots=True)
class _Node:
    schema: Mapping[str, Any]
    rules: tuple[_Rule, ...]
    properties: dict[str, _Node]
    items: _Node | None
    additional: _Node | None
    resource_root: bool

    @property
    def type_name(self) -> str:
        return str(self.schema.get("type") or "")


def _build(schema: Mapping[str, Any], resource_root: bool) -> _Node | None:
    """Nodes only where a rule is, or is below (validation.go `hasXValidations`)."""
    rules = []
    for spec in schema.get("x-kubernetes-validations") or ():
        program, error = None, None
        try:
            program = compile_rule(str(spec.get("rule", "")), optional_old_self=bool(spec.get("optionalOldSelf")))
        except CelCompileError as exc:
            error = exc
        rules.append(_Rule(spec, program, error, normalize_field_path(str(spec.get("fieldPath") or ""), schema),
                           str(spec.get("reason") or "FieldValueInvalid")))
    props = {}
    for name, sub in (schema.get("properties") or {}).items():
        child = _build(sub, bool(sub.get("x-kubernetes-embedded-resource")))
        if child is not None:
            props[name] = child
    items, addl = schema.get("items"), schema.get("additionalProperties")
    items_node = _build(items, bool(items.get("x-kubernetes-embedded-resource"))) if isinstance(items, dict) else None
    addl_node = _build(addl, bool(addl.get("x-kubernetes-embedded-resource"))) if isinstance(addl, dict) else None
    if not (rules or props or items_node or addl_node):
        return None
    return _Node(schema, tuple(rules), props, items_node, addl_node, resource_root)


def _join(path: str, child: str) -> str:
    return f"{path}.{child}" if path and child else (path or child)


def _list_key(item: Any, keys: tuple[str, ...]) -> Any:
    return tuple(repr(item.get(k)) for k in keys) if isinstance(item, dict) else None


class CrdValidator:
    """Every `x-kubernetes-validations` rule of one CRD version's openAPIV3Schema, compiled once."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.root = _build(schema, True)

    @property
    def has_rules(self) -> bool:
        return self.root is not None

    def validate(self, obj: Any, old: Any = None) -> list[CelFinding]:
        """Findings for `obj`; with `old` (the live object) transition rules run and unchanged values ratchet."""
        out: list[CelFinding] = []
        if self.root is not None:
            present = old is not None
            self._walk(self.root, obj, old if present else _MISSING, "", present and obj == old, out)
        return out

    def _walk(self, node: _Node, value: Any, old: Any, path: str, unchanged: bool, out: list[CelFinding]) -> None:
        if value is None:
            return
        if node.rules:
            self._evaluate(node, value, old, path, unchanged, out)
        if isinstance(value, dict):
            # maps correlate by key unless a new x-kubernetes-map-type says otherwise (MapIsCorrelatable)
            correlatable = node.schema.get("x-kubernetes-map-type", "granular") in ("granular", "atomic")
            olds = old if correlatable and isinstance(old, dict) else {}
            for key, sub in value.items():
                child = node.properties.get(key)
                if child is None and node.additional is None:
                    continue
                was = olds.get(key, _MISSING)
                same = unchanged if was is _MISSING else sub == was
                if child is not None:
                    self._walk(child, sub, was, _join(path, key), same, out)
                if node.additional is not None:
                    self._walk(node.additional, sub, was, f"{path}[{key}]", same, out)
        elif isinstance(value, list) and node.items is not None:
            # only list-type map items correlate with old ones, by their keys (common/maplist.go)
            keys: tuple[str, ...] = ()
            if node.schema.get("x-kubernetes-list-type") == "map":
                keys = tuple(node.schema.get("x-kubernetes-list-map-keys") or ())
            by_key = {_list_key(o, keys): o for o in old} if keys and isinstance(old, list) else {}
            for i, sub in enumerate(value):
                was = by_key.get(_list_key(sub, keys), _MISSING) if by_key else _MISSING
                self._walk(node.items, sub, was, f"{path}[{i}]", unchanged if was is _MISSING else sub == was, out)

    def _evaluate(self, node: _Node, value: Any, old: Any, path: str, unchanged: bool,
                  out: list[CelFinding]) -> None:
        values = {"self": to_cel(value, node.schema, resource_root=node.resource_root)}
        if old is not _MISSING and old is not None:
            values["oldSelf"] = to_cel(old, node.schema, resource_root=node.resource_root)
        variables = Bindings(RuleKind.CRD, values)
        for rule in node.rules:
            text = str(rule.spec.get("rule", ""))
            if rule.program is None:
                error = rule.compile_error
                assert error is not None
                out.append(CelFinding(path=path, node_path=path, reason="FieldValueInvalid", rule=text,
                                      detail=f"rule compile error: {error.detail}", schema_type=node.type_name,
                                      evaluation_error=True, warning=error.unsupported,
                                      unsupported=error.unsupported))
                continue
            if rule.program.uses_old_self and "oldSelf" not in values and not rule.program.optional_old_self:
                continue  # transition rules run only when there is an old value to compare
            outcome = rule.program.evaluate(variables)
            if outcome.error is not None:
                out.append(CelFinding(path=path, node_path=path, reason="FieldValueInvalid", rule=text,
                                      detail=evaluation_error_detail(outcome.error, rule.spec),
                                      schema_type=node.type_name, evaluation_error=True))
                continue
            if outcome.value is True:
                continue
            detail = None
            if rule.spec.get("messageExpression"):
                detail = evaluate_message(str(rule.spec["messageExpression"]), variables, kind=RuleKind.CRD)
            out.append(CelFinding(path=_join(path, rule.field_path), node_path=path, reason=rule.reason, rule=text,
                                  detail=detail if detail is not None else rule_message(rule.spec),
                                  schema_type=node.type_name,
                                  warning=unchanged and not rule.program.uses_old_self))


def crd_validators(crd: Mapping[str, Any]) -> dict[str, CrdValidator]:
    """A validator per served version name of a CustomResourceDefinition (`v1`, `v1alpha1`)."""
    out = {}
    for version in (crd.get("spec") or {}).get("versions") or ():
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {}
        out[str(version.get("name"))] = CrdValidator(schema)
    return out
