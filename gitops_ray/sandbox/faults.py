"""Fault injection for reliability tests: per path regex and HTTP verb, fail the
Nth matching request or a fraction of them (500, 503 or 429 with Retry-After,
409), add latency, or drop the connection half way through the response.

Off by default. Rules are set from Python (`sandbox.faults.add(...)`) or from a
YAML/JSON file (`serve --faults FILE`), a list of rule mappings or
`{"rules": [...]}` with the field names of `FaultRule`.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from gitops_ray.sandbox import errors as E

STATUSES = (409, 429, 500, 503, 504)


@dataclass
class FaultRule:
    """`nth` fires on the Nth matching request only; `fraction` on that share of them (seeded);
    neither fires on every match. `times` caps how often it fires in total."""

    path: str = ".*"
    verbs: tuple[str, ...] = ()
    status: int | None = None
    nth: int | None = None
    fraction: float | None = None
    times: int | None = None
    latency: float = 0.0
    drop: bool = False
    retry_after: int = 1
    message: str = ""
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"fault status must be one of {STATUSES}, not {self.status}")
        self.verbs = tuple(v.upper() for v in self.verbs)
        self._pattern = re.compile(self.path)

    def matches(self, method: str, path: str) -> bool:
        return (not self.verbs or method.upper() in self.verbs) and self._pattern.search(path) is not None


@dataclass
class Decision:
    delay: float = 0.0
    error: E.StatusError | None = None
    drop: bool = False


def _error(rule: FaultRule, path: str) -> E.StatusError:
    message = rule.message or "injected fault"
    if rule.status == 429:
        return E.too_many_requests(rule.retry_after)
    if rule.status == 503:
        err = E.service_unavailable(rule.message or "the server is currently unable to handle the request")
        err.headers["Retry-After"] = str(rule.retry_after)
        return err
    if rule.status == 504:
        return E.StatusError(504, "Timeout", rule.message or "the server was unable to return a response in the "
                                                             "time allotted, but may still be processing the request")
    if rule.status == 409:
        parts = [p for p in path.split("/") if p]
        resource, name = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", "")
        group = parts[1] if parts[:1] == ["apis"] and len(parts) > 1 else ""
        return E.conflict(resource, group, name)
    return E.internal_error(message)


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, rule: FaultRule | None = None, **options: Any) -> FaultRule:
        if rule is None:
            kwargs: dict[str, Any] = {k: tuple(v) if k == "verbs" else v for k, v in options.items()}
            rule = FaultRule(**kwargs)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def load(self, path: Path) -> list[FaultRule]:
        """Add the rules of a YAML or JSON file."""
        doc = yaml.safe_load(path.read_text())
        items = doc.get("rules", []) if isinstance(doc, dict) else doc
        if not isinstance(items, list):
            raise ValueError(f"{path}: expected a list of fault rules")
        names = {f.name for f in fields(FaultRule)} - {"seen", "fired"}
        added = []
        for item in items:
            unknown = set(item) - names
            if unknown:
                raise ValueError(f"{path}: unknown fault rule fields: {', '.join(sorted(unknown))}")
            added.append(self.add(**item))
        return added

    def decide(self, method: str, path: str) -> Decision:
        decision = Decision()
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.nth is not None and rule.seen != rule.nth:
                    continue
                if rule.fraction is not None and self._random.random() >= rule.fraction:
                    continue
                rule.fired += 1
                decision.delay += rule.latency
                decision.drop = decision.drop or rule.drop
                if decision.error is None and rule.status is not None:
                    decision.error = _error(rule, path)
        return decision


__all__ = ["Decision", "FaultRule", "Faults"]
