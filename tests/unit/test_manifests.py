from __future__ import annotations

import pytest

from gitops_ray.manifests import find_duplicates, format_path, load_bytes, load_text
from gitops_ray.refs import ObjectRef

CM = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ray-dev
data:
  mode: 0777
  enabled: yes
  day: 2024-01-01
"""


def test_multi_document_file_knows_origin_and_positions():
    text = "# leading comment\n" + CM + "---\n---\n" + CM.replace("settings", "other")
    result = load_text("env/a.yaml", text)
    assert result.findings == []
    assert [m.ref for m in result.manifests] == [
        ObjectRef("", "ConfigMap", "ray-dev", "settings"),
        ObjectRef("", "ConfigMap", "ray-dev", "other"),
    ]
    first, second = result.manifests
    assert (first.origin.line, second.origin.line) == (2, 13)
    assert first.locate(("metadata", "name")) == (5, 3)
    assert second.locate(("data", "day")) == (21, 3)
    assert second.locate(("data", "missing", "deeper")) == (18, 1)  # nearest parent: data


def test_yaml_1_1_scalars_like_the_kubernetes_decoder():
    body = load_text("a.yaml", CM).manifests[0].body
    assert body["data"] == {"mode": 511, "enabled": True, "day": "2024-01-01"}


def test_list_kinds_are_flattened_with_item_positions():
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: a, namespace: n}
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: b
      namespace: n
"""
    result = load_text("l.yaml", text)
    assert [m.ref.name for m in result.manifests] == ["a", "b"]
    assert result.manifests[1].origin.line == 7
    assert result.manifests[1].locate(("metadata", "name")) == (10, 7)


def test_default_namespace_applies_to_namespaced_kinds_only():
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ns}\n---\n" + CM.replace("  namespace: ray-dev\n", "")
    refs = [m.ref for m in load_text("a.yaml", text, default_namespace="ray-dev").manifests]
    assert refs == [ObjectRef("", "Namespace", "", "ns"), ObjectRef("", "ConfigMap", "ray-dev", "settings")]


@pytest.mark.parametrize(
    ("text", "rule", "line", "column", "words"),
    [
        ("a: 1\nb: 2\na: 3\n", "yaml:duplicate-key", 3, 1, 'duplicate key "a" (first defined at line 1)'),
        ("kind: X\nmetadata:\n\tname: y\n", "yaml:syntax", 3, 1, "tab character"),
        ("a: [1, 2\n", "yaml:syntax", 2, 1, "invalid YAML"),
        ("- 1\n- 2\n", "manifest:not-a-mapping", 1, 1, "is a list"),
        ("just a string\n", "manifest:not-a-mapping", 1, 1, "is a string"),
        ("", "manifest:empty", 1, 1, "no YAML documents"),
        ("# only a comment\n", "manifest:empty", 1, 1, "no YAML documents"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", "manifest:missing-apiVersion", 1, 1, "apiVersion is required"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "manifest:missing-kind", 1, 1, "kind is required"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {}\n", "manifest:missing-name", 3, 1,
         "metadata.name is required"),
        ("apiVersion: v1\nkind: ConfigMap\n", "manifest:missing-name", 1, 1, "metadata is required"),
        ("apiVersion: v1\nkind: Job\nmetadata:\n  generateName: run-\n", "manifest:generate-name", 4, 3,
         "not idempotent"),
        ("!!python/object/apply:os.system ['true']\n", "yaml:tag", 1, 1, "never executed"),
    ],
)
def test_bad_documents_are_findings_with_file_line_column(text, rule, line, column, words):
    result = load_text("bad.yaml", text)
    assert result.manifests == []
    [finding] = result.findings
    assert (finding.rule, finding.file, finding.line, finding.column) == (rule, "bad.yaml", line, column)
    assert words in finding.message


def test_alias_bomb_is_refused_before_expansion():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    result = load_text("bomb.yaml", "\n".join(lines) + "\n")
    assert [f.rule for f in result.findings] == ["yaml:alias-bomb"]


def test_small_aliases_are_fine():
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: &l {x: y}, annotations: *l}\n"
    [manifest] = load_text("a.yaml", text).manifests
    assert manifest.body["metadata"]["annotations"] == {"x": "y"}


def test_bytes_level_problems():
    assert load_bytes("big.yaml", b"a: 1\n" * 10, max_bytes=20).findings[0].rule == "manifest:too-large"
    assert load_bytes("bin.yaml", b"\x89PNG\r\n\x00\x00").findings[0].rule == "manifest:binary"
    latin = load_bytes("l.yaml", "a: 1\nb: caf\xe9\n".encode("latin-1")).findings[0]
    assert (latin.rule, latin.line, latin.column) == ("manifest:encoding", 2, 7)
    assert load_bytes("bom.yaml", b"\xef\xbb\xbf" + CM.encode()).manifests[0].ref.name == "settings"


def test_duplicate_objects_name_both_places():
    text = CM + "---\n" + CM.replace("mode: 0777", "mode: 1")
    result = load_text("a.yaml", text)
    [dup] = find_duplicates(result.manifests)
    assert dup.rule == "manifest:duplicate-object"
    assert (dup.line, dup.column) == (14, 3)
    assert "ConfigMap/ray-dev/settings is defined twice: first at a.yaml:1:1" in dup.message


def test_format_path():
    assert format_path(("spec", "workerGroupSpecs", 0, "replicas")) == "spec.workerGroupSpecs[0].replicas"
