"""The subset of CEL (`x-kubernetes-validations`) that the KubeRay CRDs use.

KubeRay's rules are `self == oldSelf`, `self in ['a', 'b']` and boolean
combinations of `has(self.x)` with `!`, `&&`, `||`. This is a small recursive
descent parser for literals, `self`/`oldSelf`, field selection, `has()`,
`size()`, comparison, `in`, `!`, `&&`, `||` and parentheses, compiled once per
schema into closures (no `eval`). A rule outside the subset is logged once and
treated as passing, which is a documented gap (see the sandbox spec §5).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

Env = dict[str, Any]
Fn = Callable[[Env], Any]


class CelError(Exception):
    """A runtime evaluation error (`no such key: x`)."""


class Unsupported(Exception):
    """The rule uses CEL the sandbox does not implement."""


@dataclass(frozen=True)
class CelRule:
    rule: str
    message: str
    reason: str
    transition: bool  # refers to oldSelf: evaluated on update only, when the old value exists
    evaluate: Fn

    def error_text(self) -> str:
        """What the API server reports when the rule fails (`ruleMessageOrDefault`)."""
        return self.message.strip() if self.message else f"failed rule: {self.rule.strip()}"


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+(?:\.\d+)?)|
    (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|
    (?P<op>&&|\|\||==|!=|<=|>=|[!<>()\[\].,-])|
    (?P<id>[A-Za-z_][A-Za-z0-9_]*)
)""", re.VERBOSE)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Unsupported(f"unexpected character at {pos}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        tokens.append((kind, m.group(kind)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.uses_old = False

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise Unsupported("unexpected end of rule")
        tok = self.tokens[self.i]
        if expected is not None and tok[1] != expected:
            raise Unsupported(f"expected {expected!r}, got {tok[1]!r}")
        self.i += 1
        return tok

    def parse(self) -> Fn:
        fn = self.or_()
        if self.i != len(self.tokens):
            raise Unsupported(f"unexpected {self.peek()!r}")
        return fn

    def or_(self) -> Fn:
        left = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            left = _or(left, right)
        return left

    def and_(self) -> Fn:
        left = self.rel()
        while self.peek() == "&&":
            self.take()
            right = self.rel()
            left = _and(left, right)
        return left

    def rel(self) -> Fn:
        left = self.unary()
        op = self.peek()
        if op in ("==", "!=", "<", "<=", ">", ">=", "in"):
            self.take()
            right = self.unary()
            return _compare(op, left, right)
        return left

    def unary(self) -> Fn:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda env: not _bool(inner(env))
        if self.peek() == "-":
            self.take()
            inner = self.unary()
            return lambda env: -inner(env)
        return self.postfix()

    def postfix(self) -> Fn:
        fn = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                name = self.take()[1]
                fn = self.method(fn, name) if self.peek() == "(" else _select(fn, name)
            else:
                index = self.or_()
                self.take("]")
                fn = _index(fn, index)
        return fn

    def method(self, target: Fn, name: str) -> Fn:
        self.take("(")
        self.take(")")
        if name == "size":
            return lambda env: len(target(env))
        raise Unsupported(f"method {name}()")

    def primary(self) -> Fn:
        kind, text = self.take()
        if kind == "num":
            number: Any = float(text) if "." in text else int(text)
            return lambda env: number
        if kind == "str":
            value = bytes(text[1:-1], "utf-8").decode("unicode_escape")
            return lambda env: value
        if text == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if text == "[":
            items: list[Fn] = []
            while self.peek() != "]":
                items.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return lambda env: [item(env) for item in items]
        if kind == "id":
            return self.identifier(text)
        raise Unsupported(f"unexpected {text!r}")

    def identifier(self, name: str) -> Fn:
        if name in ("true", "false"):
            flag = name == "true"
            return lambda env: flag
        if name == "null":
            return lambda env: None
        if name in ("self", "oldSelf"):
            self.uses_old = self.uses_old or name == "oldSelf"
            return lambda env: env[name]
        if name == "has" and self.peek() == "(":
            self.take("(")
            target = self.postfix_selector()
            self.take(")")
            return target
        if name == "size" and self.peek() == "(":
            self.take("(")
            arg = self.or_()
            self.take(")")
            return lambda env: len(arg(env))
        raise Unsupported(f"identifier {name}")

    def postfix_selector(self) -> Fn:
        """The argument of has(): a field selection `a.b.c`, true when the last field is present."""
        base = self.primary()
        names: list[str] = []
        while self.peek() == ".":
            self.take()
            names.append(self.take()[1])
        if not names:
            raise Unsupported("has() needs a field selection")
        *path, last = names
        for name in path:
            base = _select(base, name)
        target = base
        return lambda env: _has(target(env), last)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CelError("no matching overload")
    return value


def _or(left: Fn, right: Fn) -> Fn:
    def run(env: Env) -> bool:
        try:
            if _bool(left(env)):
                return True
        except CelError:
            if _bool(right(env)):  # CEL's commutative error handling
                return True
            raise
        return _bool(right(env))
    return run


def _and(left: Fn, right: Fn) -> Fn:
    def run(env: Env) -> bool:
        try:
            if not _bool(left(env)):
                return False
        except CelError:
            if not _bool(right(env)):
                return False
            raise
        return _bool(right(env))
    return run


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _compare(op: str, left: Fn, right: Fn) -> Fn:
    if op == "==":
        return lambda env: _same(left(env), right(env))
    if op == "!=":
        return lambda env: not _same(left(env), right(env))
    if op == "in":
        def member(env: Env) -> bool:
            container = right(env)
            value = left(env)
            if isinstance(container, dict):
                return value in container
            return any(_same(value, item) for item in container)
        return member
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    }
    cmp = ops[op]

    def ordered(env: Env) -> bool:
        try:
            return cmp(left(env), right(env))
        except TypeError as exc:
            raise CelError("no matching overload") from exc
    return ordered


def _select(target: Fn, name: str) -> Fn:
    def run(env: Env) -> Any:
        value = target(env)
        if not isinstance(value, dict):
            raise CelError(f"no such key: {name}")
        if name not in value:
            raise CelError(f"no such key: {name}")
        return value[name]
    return run


def _index(target: Fn, index: Fn) -> Fn:
    def run(env: Env) -> Any:
        value, key = target(env), index(env)
        try:
            return value[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise CelError(f"no such key: {key}") from exc
    return run


def _has(value: Any, name: str) -> bool:
    if not isinstance(value, dict):
        raise CelError(f"no such key: {name}")
    return name in value


def compile_rule(spec: dict[str, Any]) -> CelRule | None:
    """A compiled rule, or None (logged) when the rule is outside the supported subset."""
    text = str(spec.get("rule", ""))
    try:
        parser = _Parser(text)
        fn = parser.parse()
    except Unsupported as exc:
        log.warning("CEL rule not supported by the sandbox, treated as passing: %r (%s)", text, exc)
        return None
    message = str(spec.get("message") or "")
    reason = str(spec.get("reason") or "FieldValueInvalid")
    return CelRule(rule=text, message=message, reason=reason, transition=parser.uses_old, evaluate=fn)
