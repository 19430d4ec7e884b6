"""What a rule reports before it is placed in a file: a path in the document, a rule id, a message."""

from __future__ import annotations

from dataclasses import dataclass

from gitops_ray.findings import Severity

PathElem = str | int
Path = tuple[PathElem, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    path: Path
    rule: str
    message: str
    severity: Severity = Severity.ERROR
