"""ValidatingAdmissionPolicy expressions offline: what the cluster's admission would answer.

Given a policy's `spec` and the request's variables, this runs `matchConditions`,
`variables` and `validations` the way the API server's validating policy plugin does
(k8s.io/apiserver/pkg/admission/plugin/policy/validating/validator.go): a validation
that is not `true` denies with its messageExpression's text, else its message, else
`failed expression: <expression>`; one that errors denies (failurePolicy Fail) or is
ignored (Ignore) with `expression '<expression>' resulted in error: <error>`.

Which objects a policy and binding select (matchConstraints, namespace and object
selectors, paramRef lookup) and what `validationActions` make of a denial are the
caller's: they are data lookups, not CEL. Environment custom rules are plain
`compile_rule(expr, kind=RuleKind.POLICY)` calls over the same variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitops_ray.checks.cel import Bindings, CelCompileError, RuleKind, compile_rule, evaluate_message


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyViolation:
    """One denial (or, with failurePolicy Ignore, nothing) from one validation of one policy."""

    policy: str
    binding: str
    expression: str
    message: str
    reason: str = "Invalid"  # metav1.StatusReason: the validation's `reason`, Invalid by default
    evaluation_error: bool = False
    unsupported: bool = False  # valid Kubernetes CEL this evaluator cannot run (docs/cel.md, "Gaps")

    def denial(self) -> str:
        """The API server's error text for the request."""
        who = f"ValidatingAdmissionPolicy '{self.policy}'"
        if self.binding:
            who += f" with binding '{self.binding}'"
        return f"{who} denied request: {self.message}"


def admission_request(obj: Mapping[str, Any] | None, old: Mapping[str, Any] | None = None, *,
                      operation: str | None = None, username: str = "") -> dict[str, Any]:
    """The `request` variable for an apply of `obj` over `old` (AdmissionRequest fields a policy reads)."""
    source = obj if obj is not None else old or {}
    group, _, version = str(source.get("apiVersion", "")).rpartition("/")
    meta = source.get("metadata") or {}
    return {
        "kind": {"group": group, "version": version, "kind": source.get("kind", "")},
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "operation": operation or ("CREATE" if old is None else "DELETE" if obj is None else "UPDATE"),
        "userInfo": {"username": username},
        "dryRun": False,
    }


def _fail(policy: str, binding: str, expression: str, error: str, *, ignore: bool,
          unsupported: bool = False) -> list[PolicyViolation]:
    if ignore:
        return []
    return [PolicyViolation(policy=policy, binding=binding, expression=expression, evaluation_error=True,
                            unsupported=unsupported, message=f"expression '{expression}' resulted in error: {error}")]


def evaluate_policy(policy: Mapping[str, Any], *, obj: Mapping[str, Any] | None,
                    old_object: Mapping[str, Any] | None = None, params: Any = None,
                    request: Mapping[str, Any] | None = None, namespace_object: Mapping[str, Any] | None = None,
                    binding: str = "") -> list[PolicyViolation]:
    """The denials of one ValidatingAdmissionPolicy for one request; empty when it admits or does not match.

    `obj`, `old_object`, `params`, `namespace_object` are the CEL variables `object`,
    `oldObject`, `params`, `namespaceObject`; `request` defaults to `admission_request`.
    """
    name = str((policy.get("metadata") or {}).get("name", ""))
    spec = policy.get("spec") or {}
    ignore = spec.get("failurePolicy") == "Ignore"
    variables: dict[str, Any] = {
        "object": obj, "oldObject": old_object, "params": params, "namespaceObject": namespace_object,
        "request": request if request is not None else admission_request(obj, old_object),
    }
    errors: list[PolicyViolation] = []
    bound = Bindings(RuleKind.POLICY, variables)
    for condition in spec.get("matchConditions") or ():
        expression = str(condition.get("expression", ""))
        try:
            outcome = compile_rule(expression, kind=RuleKind.POLICY).evaluate(bound)
        except CelCompileError as exc:
            errors += _fail(name, binding, expression, exc.detail, ignore=ignore, unsupported=exc.unsupported)
            continue
        if outcome.error is not None:
            errors += _fail(name, binding, expression, outcome.error, ignore=ignore)
        elif outcome.value is not True:
            return []  # a false condition: the policy does not apply, errors or not (matchconditions/matcher.go)
    if errors:
        return errors
    composited: dict[str, Any] = {}
    for var in spec.get("variables") or ():
        # evaluated eagerly, in order; one that fails is left out, so using it fails with `no such key`
        so_far = Bindings(RuleKind.POLICY, {**variables, "variables": composited})
        try:
            outcome = compile_rule(str(var.get("expression", "")), kind=RuleKind.POLICY,
                                   returns_bool=False).evaluate(so_far)
        except CelCompileError:
            continue
        if outcome.error is None:
            composited[str(var.get("name", ""))] = outcome.value
    if composited:
        bound = Bindings(RuleKind.POLICY, {**variables, "variables": composited})
    out: list[PolicyViolation] = []
    for validation in spec.get("validations") or ():
        expression = str(validation.get("expression", ""))
        try:
            outcome = compile_rule(expression, kind=RuleKind.POLICY).evaluate(bound)
        except CelCompileError as exc:
            out += _fail(name, binding, expression, exc.detail, ignore=ignore, unsupported=exc.unsupported)
            continue
        if outcome.error is not None:
            out += _fail(name, binding, expression, outcome.error, ignore=ignore)
            continue
        if outcome.value is True:
            continue
        message = None
        if validation.get("messageExpression"):
            message = evaluate_message(str(validation["messageExpression"]), bound, kind=RuleKind.POLICY)
        message = message or str(validation.get("message") or "").strip() or f"failed expression: {expression.strip()}"
        out.append(PolicyViolation(policy=name, binding=binding, expression=expression, message=message,
                                   reason=str(validation.get("reason") or "Invalid")))
    return out
