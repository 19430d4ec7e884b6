"""Renderers of validation findings: text, JSON, GitHub annotations, JUnit XML.

Every format renders the same `Report` value; the JSON shape is stable and
documented in docs/validation.md:

    {"valid": bool, "documents": int, "files": int, "source": str,
     "kuberayVersion": str, "kubernetesVersion": str, "environment": str | null,
     "skipped": int (documents without a schema), "skippedFiles": [{"file", "reason"}],
     "errors":   [{"file", "line", "column", "apiVersion", "kind", "namespace", "name", "path", "rule", "message"}],
     "warnings": [same shape]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

from gitops_ray.findings import Finding, FindingsVerdict

FORMATS = ("text", "json", "junit", "github")
FINDING_KEYS = ("file", "line", "column", "apiVersion", "kind", "namespace", "name", "path", "rule", "message")

Style = Callable[..., str]


@dataclass(frozen=True, kw_only=True)
class Report(FindingsVerdict):
    source: str  # what was read: the Snapshot's description
    kuberay_version: str
    kubernetes_version: str
    files: Sequence[str]
    documents: int
    findings: Sequence[Finding]
    skipped: int = 0  # documents without a schema, ignored by request
    skipped_files: Sequence[tuple[str, str]] = ()  # (file, why) read but not validated as manifests
    environment: str | None = None


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def summary(report: Report) -> str:
    errors, warnings = len(report.errors), len(report.warnings)
    bad_files = len({f.file for f in report.errors})
    verdict = (f"invalid: {_plural(errors, 'error')} in {_plural(bad_files, 'file')}" if errors else "valid")
    if warnings:
        verdict += f", {_plural(warnings, 'warning')}"
    skipped = f" ({report.skipped:,} without a schema skipped)" if report.skipped else ""
    if report.skipped_files:
        skipped += f"; {_plural(len(report.skipped_files), 'file')} skipped (not manifests)"
    env = f"environment {report.environment}, " if report.environment else ""
    return (f"{verdict}: {_plural(len(report.files), 'file')}, {_plural(report.documents, 'document')}{skipped}; "
            f"{env}KubeRay {report.kuberay_version} and Kubernetes {report.kubernetes_version} schemas; "
            f"read {report.source}")


def _subject(finding: Finding) -> str:
    parts = []
    if finding.kind and finding.name:
        parts.append(f"{finding.kind}/{finding.name}")
    if finding.path:
        parts.append(finding.path)
    parts.append(finding.message)
    return ": ".join(parts)


def render_text(report: Report, style: Style | None = None) -> str:
    """One line per finding, `file:line:col: kind/name: path: message [rule]`, then the summary."""
    paint: Style = style or (lambda text, **_: text)
    lines = []
    for finding in report.findings:
        tag = "" if finding.is_error else paint("warning", fg="yellow") + ": "
        lines.append(f"{paint(finding.location(), bold=True)}: {tag}{_subject(finding)} "
                     f"{paint('[' + finding.rule + ']', dim=True)}")
    lines.append(paint(summary(report), fg="red" if report.errors else "green", bold=True))
    return "\n".join(lines)


def finding_json(finding: Finding) -> dict[str, Any]:
    data = finding.to_json()
    return {key: data[key] for key in FINDING_KEYS}


def render_json(report: Report) -> str:
    data = {
        "valid": report.valid,
        "documents": report.documents,
        "files": len(report.files),
        "skipped": report.skipped,
        "skippedFiles": [{"file": file, "reason": reason} for file, reason in report.skipped_files],
        "source": report.source,
        "environment": report.environment,
        "kuberayVersion": report.kuberay_version,
        "kubernetesVersion": report.kubernetes_version,
        "errors": [finding_json(f) for f in report.errors],
        "warnings": [finding_json(f) for f in report.warnings],
    }
    return json.dumps(data, indent=2)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: Report) -> str:
    """GitHub Actions workflow commands: each finding annotates its line in the pull request."""
    lines = []
    for finding in report.findings:
        command = "error" if finding.is_error else "warning"
        props = (f"file={_escape_property(finding.file)},line={finding.line},col={finding.column},"
                 f"title={_escape_property(finding.rule)}")
        lines.append(f"::{command} {props}::{_escape_data(_subject(finding))}")
    lines.append(summary(report))
    return "\n".join(lines)


def render_junit(report: Report) -> str:
    """JUnit XML: one test case per file; a file with errors fails, carrying its findings."""
    by_file: dict[str, list[Finding]] = {path: [] for path in report.files}
    for finding in report.findings:
        by_file.setdefault(finding.file, []).append(finding)
    failures = sum(1 for findings in by_file.values() if any(f.is_error for f in findings))
    suites = ElementTree.Element("testsuites", name="gitops-ray validate", tests=str(len(by_file)),
                                 failures=str(failures), errors="0")
    suite = ElementTree.SubElement(suites, "testsuite", name=f"KubeRay {report.kuberay_version}",
                                   tests=str(len(by_file)), failures=str(failures), errors="0", skipped="0")
    properties = ElementTree.SubElement(suite, "properties")
    ElementTree.SubElement(properties, "property", name="source", value=report.source)
    for path, findings in sorted(by_file.items()):
        case = ElementTree.SubElement(suite, "testcase", classname="gitops-ray.validate", name=path)
        errors = [f for f in findings if f.is_error]
        if errors:
            failure = ElementTree.SubElement(case, "failure", type=errors[0].rule,
                                             message=f"{_plural(len(errors), 'error')}: {_subject(errors[0])}")
            failure.text = "\n".join(f"{f.location()}: {_subject(f)} [{f.rule}]" for f in errors)
        warnings = [f for f in findings if not f.is_error]
        if warnings:
            out = ElementTree.SubElement(case, "system-out")
            out.text = "\n".join(f"warning: {f.location()}: {_subject(f)} [{f.rule}]" for f in warnings)
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode")


RENDERERS: dict[str, Callable[[Report], str]] = {
    "text": render_text,
    "json": render_json,
    "junit": render_junit,
    "github": render_github,
}
