"""Findings: validation and policy results as values every output format renders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem at one place.

    `path` is a JSON path into the document (`spec.workerGroupSpecs[0].replicas`);
    `line`/`column` are 1-based positions of that field, or of its nearest parent
    present in the file. `rule` names the check (`schema:type`, `kuberay:head-group`, ...).
    """

    file: str
    line: int
    column: int
    message: str
    rule: str
    severity: Severity = Severity.ERROR
    path: str = ""
    api_version: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict[str, Any]:
        """The stable `-o json` shape (documented in the README)."""
        data = asdict(self)
        data["apiVersion"] = data.pop("api_version")
        data["severity"] = str(self.severity)
        return data

    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class FindingsVerdict:
    """`errors`, `warnings` and `valid` for any result that holds `findings`."""

    __slots__ = ()
    findings: Sequence[Finding]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]

    @property
    def valid(self) -> bool:
        return not self.errors
