"""Renderers: every format renders the same findings; the JSON shape is stable."""

from __future__ import annotations

import json
from xml.etree import ElementTree

from gitops_ray.cli.report import FINDING_KEYS, Report, render_github, render_json, render_junit, render_text, summary
from gitops_ray.findings import Finding, Severity

ERROR = Finding(file="a.yaml", line=3, column=5, message="'x' is not of type 'integer'", rule="schema:type",
                path="spec.replicas", api_version="ray.io/v1", kind="RayCluster", namespace="ns", name="c")
WARNING = Finding(file="b.yaml", line=1, column=1, message="needs a gate, 100% sure: yes\nreally",
                  rule="kuberay:feature-gate", severity=Severity.WARNING, kind="RayJob", name="j")
SYNTAX = Finding(file="c.yaml", line=2, column=1, message="invalid YAML", rule="yaml:syntax")


def _report(*findings: Finding) -> Report:
    return Report(source="commit abc (HEAD) of /r", kuberay_version="1.5.1", kubernetes_version="1.32.0",
                  files=["a.yaml", "b.yaml", "c.yaml"], documents=4, findings=list(findings))


def test_text_lines_and_summary() -> None:
    lines = render_text(_report(ERROR, WARNING, SYNTAX)).splitlines()
    assert lines[0] == "a.yaml:3:5: RayCluster/c: spec.replicas: 'x' is not of type 'integer' [schema:type]"
    assert lines[1].startswith("b.yaml:1:1: warning: RayJob/j: needs a gate")
    assert lines[-2] == "c.yaml:2:1: invalid YAML [yaml:syntax]"
    assert lines[-1] == ("invalid: 2 errors in 2 files, 1 warning: 3 files, 4 documents; KubeRay 1.5.1 and "
                         "Kubernetes 1.32.0 schemas; read commit abc (HEAD) of /r")
    assert summary(_report()).startswith("valid: 3 files")


def test_json_shape() -> None:
    data = json.loads(render_json(_report(ERROR, WARNING)))
    assert data["valid"] is False and data["documents"] == 4
    assert [tuple(e) for e in data["errors"] + data["warnings"]] == [FINDING_KEYS, FINDING_KEYS]
    assert data["errors"][0]["apiVersion"] == "ray.io/v1" and data["warnings"][0]["rule"] == "kuberay:feature-gate"
    assert json.loads(render_json(_report()))["valid"] is True


def test_github_annotations_escape_their_data() -> None:
    lines = render_github(_report(ERROR, WARNING)).splitlines()
    assert lines[0] == ("::error file=a.yaml,line=3,col=5,title=schema%3Atype::RayCluster/c: spec.replicas: "
                        "'x' is not of type 'integer'")
    assert lines[1] == ("::warning file=b.yaml,line=1,col=1,title=kuberay%3Afeature-gate::RayJob/j: needs a gate, "
                        "100%25 sure: yes%0Areally")


def test_junit_marks_files_with_errors_as_failures() -> None:
    root = ElementTree.fromstring(render_junit(_report(ERROR, WARNING, SYNTAX)).split("\n", 1)[1])
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert [name for name, c in sorted(cases.items()) if c.find("failure") is not None] == ["a.yaml", "c.yaml"]
    out = cases["b.yaml"].find("system-out")
    assert out is not None and "kuberay:feature-gate" in (out.text or "")
