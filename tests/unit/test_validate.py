"""Schema validation: the v1.5.1 samples, mutated samples (path and line), the fast/explaining validators'
agreement, null pruning and defaults, missing and deprecated kinds, duplicates, the process pool."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_ray.checks import schemas
from gitops_ray.checks.validate import Checker, SourceBlob, ValidateOptions, validate_blobs, validate_manifests
from gitops_ray.environment import ClusterTarget, Environment, OperatorConfig
from gitops_ray.findings import Finding, Severity
from gitops_ray.manifests import load_text

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "data" / "kuberay-samples-v1.5.1"
VERSION = "1.5.1"

# Upstream samples that are really invalid for a GitOps repository, and why.
KNOWN_INVALID = {
    "pytorch-resnet-image-classifier/ray-job.pytorch-image-classifier.yaml":
        ("manifest:generate-name", "uses metadata.generateName: every apply would create another RayJob"),
    "pytorch-text-classifier/ray-job.pytorch-distributed-training.yaml":
        ("manifest:generate-name", "uses metadata.generateName"),
    "ray-job.kueue-toy-sample.yaml": ("manifest:generate-name", "uses metadata.generateName"),
}


@pytest.fixture(autouse=True)
def isolated_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_RAY_SCHEMA_DIR", str(tmp_path / "user-schemas"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    schemas.clear_caches()


def sample_files() -> list[Path]:
    return sorted(SAMPLES.rglob("*.yaml"))


def validate_text(text: str, name: str = "m.yaml", **options: Any) -> list[Finding]:
    opts = ValidateOptions(kuberay_version=options.pop("version", VERSION), jobs=1, **options)
    return validate_blobs([SourceBlob(name, text.encode())], opts).findings


def line_of(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column of the first occurrence of `needle`."""
    index = text.index(needle)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


# --------------------------------------------------------------------------- the upstream samples


def test_every_v1_5_1_sample_validates_against_v1_5_1() -> None:
    ray_documents = 0
    for path in sample_files():
        rel = path.relative_to(SAMPLES).as_posix()
        result = validate_blobs([SourceBlob(rel, path.read_bytes())],
                                ValidateOptions(kuberay_version=VERSION, jobs=1))
        set_ = schemas.schema_set(VERSION)
        for finding in result.errors:
            if finding.rule == "schema:missing":
                assert set_.lookup(finding.api_version, finding.kind) is None
                assert not finding.api_version.startswith("ray.io/"), finding
                continue
            expected = KNOWN_INVALID.get(rel)
            assert expected is not None and finding.rule == expected[0], finding
        if rel in KNOWN_INVALID:
            assert any(f.rule == KNOWN_INVALID[rel][0] for f in result.errors), rel
        ray_documents += sum(1 for _ in path.read_text().split("\nkind: Ray")) - 1
    assert ray_documents >= 66


def test_samples_of_kinds_we_do_not_bundle_are_reported_as_missing_schemas_or_skipped() -> None:
    text = (SAMPLES / "ray-cluster.external-redis.yaml").read_text()
    assert not [f for f in validate_text(text) if f.rule == "schema:missing"]  # Deployment is built in
    text = text.replace("apiVersion: apps/v1\nkind: Deployment", "apiVersion: example.com/v1\nkind: Widget")
    missing = [f for f in validate_text(text) if f.rule == "schema:missing"]
    assert [f.kind for f in missing] == ["Widget"]
    assert missing[0].line == line_of(text, "kind: Widget")[0]
    assert "--ignore-missing-schemas" in missing[0].message
    result = validate_blobs([SourceBlob("x.yaml", text.encode())],
                            ValidateOptions(kuberay_version=VERSION, ignore_missing_schemas=True, jobs=1))
    assert result.valid and result.skipped == 1 and result.checked == result.documents - 1


def test_feature_gated_samples_warn_without_failing() -> None:
    for name in ("ray-job.deletion-rules.yaml", "ray-service.incremental-upgrade.yaml"):
        findings = validate_text((SAMPLES / name).read_text(), ignore_missing_schemas=True)
        assert findings and all(f.severity is Severity.WARNING and f.rule == "kuberay:feature-gate" for f in findings)


# --------------------------------------------------------------------------- mutations: path and line

CLUSTER = (SAMPLES / "ray-cluster.sample.yaml").read_text()
AUTOSCALER = (SAMPLES / "ray-cluster.autoscaler.yaml").read_text()


def mutate(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


MUTATIONS = [
    # (name, source, old, new, rule, path, where: text whose position the finding must have)
    ("wrong type", CLUSTER, "  - replicas: 1\n", "  - replicas: one\n",
     "schema:type", "spec.workerGroupSpecs[0].replicas", "replicas: one"),
    ("wrong nested type", CLUSTER, "            requests:\n              cpu: 1\n              memory: 1G\n",
     "            requests:\n              cpu: 1\n              memory: [1G]\n", "schema:type",
     "spec.workerGroupSpecs[0].template.spec.containers[0].resources.requests.memory", "memory: [1G]"),
    ("unknown field", CLUSTER, "  headGroupSpec:\n", "  bogusField: 1\n  headGroupSpec:\n",
     "schema:additionalProperties", "spec.bogusField", "bogusField"),
    ("unknown nested field", CLUSTER, "    groupName: workergroup\n", "    groupName: workergroup\n    replica: 2\n",
     "schema:additionalProperties", "spec.workerGroupSpecs[0].replica", "replica: 2"),
    ("missing required field", CLUSTER, "    groupName: workergroup\n", "",
     "schema:required", "spec.workerGroupSpecs[0].groupName", "replicas: 1\n    minReplicas"),
    ("bad enum", AUTOSCALER, "upscalingMode: Default", "upscalingMode: Sometimes",
     "schema:enum", "spec.autoscalerOptions.upscalingMode", "upscalingMode: Sometimes"),
    ("duplicate key", CLUSTER, "    maxReplicas: 5\n", "    maxReplicas: 5\n    minReplicas: 3\n",
     "yaml:duplicate-key", "", "minReplicas: 3"),
    ("bad indentation", CLUSTER, "    groupName: workergroup\n", "      groupName: workergroup\n",
     "yaml:syntax", "", "groupName: workergroup"),
    ("bad outdent", CLUSTER, "    maxReplicas: 5\n", "    maxReplicas: 5\n   minReplicas: 3\n",
     "yaml:syntax", "", "minReplicas: 3"),
    ("string for a boolean", (SAMPLES / "ray-job.shutdown.yaml").read_text(), "shutdownAfterJobFinishes: true",
     "shutdownAfterJobFinishes: \"true\"", "schema:type", "spec.shutdownAfterJobFinishes",
     "shutdownAfterJobFinishes: \"true\""),
]


@pytest.mark.parametrize(("source", "old", "new", "rule", "path", "where"),
                         [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_a_mutated_sample_fails_with_the_right_path_and_line(source: str, old: str, new: str, rule: str, path: str,
                                                             where: str) -> None:
    text = mutate(source, old, new)
    findings = [f for f in validate_text(text) if f.is_error]
    assert len(findings) == 1, findings
    [finding] = findings
    assert (finding.rule, finding.path) == (rule, path)
    line, column = line_of(text, where)
    assert finding.line == line
    if rule.startswith("schema:"):
        assert finding.column == column
        assert finding.kind in ("RayCluster", "RayJob") and finding.name


def test_every_error_in_a_document_is_reported() -> None:
    text = mutate(mutate(CLUSTER, "  - replicas: 1\n", "  - replicas: one\n"),
                  "  headGroupSpec:\n", "  bogusField: 1\n  other: 2\n  headGroupSpec:\n")
    findings = validate_text(text)
    assert sorted(f.path for f in findings) == ["spec.bogusField", "spec.other", "spec.workerGroupSpecs[0].replicas"]
    assert [f.line for f in findings] == sorted(f.line for f in findings)


def test_long_values_are_abbreviated_in_messages() -> None:
    text = mutate(CLUSTER, "  rayVersion: '2.46.0'", "  rayVersion:\n    a: 1\n    b: 2\n    c: [1, 2, 3, 4, 5, 6, 7]\n"
                  "    d: 'a long string that makes the value long enough to abbreviate'\n  x:")
    findings = [f for f in validate_text(text) if f.path == "spec.rayVersion"]
    assert findings and findings[0].message == "an object is not of type 'string'"


# --------------------------------------------------------------------------- nulls and defaults


def test_nulls_in_non_nullable_fields_are_dropped_like_the_api_server_does() -> None:
    head = "    rayStartParams: {}\n    template:\n      spec:\n        containers:\n        - name: ray-head"
    text = mutate(CLUSTER, head, head.replace("{}", "null"))
    assert validate_text(mutate(text, "  name: raycluster-kuberay\n",
                                "  name: raycluster-kuberay\n  creationTimestamp: null\n")) == []


def test_a_null_required_field_is_missing_not_null() -> None:
    text = CLUSTER[:CLUSTER.index("  headGroupSpec:")] + "  headGroupSpec: null\n"
    [finding] = validate_text(text)
    assert (finding.rule, finding.path, finding.message) == (
        "schema:required", "spec.headGroupSpec", "'headGroupSpec' is a required property")


def test_defaulted_fields_need_not_be_written() -> None:
    text = mutate(mutate(CLUSTER, "    minReplicas: 1\n", ""), "    maxReplicas: 5\n", "")
    assert validate_text(text) == []


# --------------------------------------------------------------------------- the two validators agree


def _leaf_mutations(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, replacement) pairs that break or keep a document in many different ways."""
    if isinstance(doc, dict):
        yield path, {**doc, "zzUnknownField": 1}
        for key, value in doc.items():
            yield from _leaf_mutations(value, (*path, key))
    elif isinstance(doc, list):
        yield path, [*doc, None]
        for i, value in enumerate(doc):
            yield from _leaf_mutations(value, (*path, i))
    elif isinstance(doc, bool):
        yield path, "yes"
    elif isinstance(doc, int):
        yield path, str(doc)
        yield path, -1
    elif isinstance(doc, str):
        yield path, 123
        yield path, None


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.copy(doc)
    out[path[0]] = _replace(doc[path[0]], path[1:], value)
    return out


def test_the_fast_validator_and_the_validator_of_record_agree_on_samples_and_mutations() -> None:
    checker = Checker(ValidateOptions(kuberay_version=VERSION))
    bodies: list[tuple[str, str, Any]] = []
    for path in sample_files():
        for manifest in load_text(path.name, path.read_text()).manifests:
            bodies.append((manifest.api_version, manifest.kind, manifest.body))
    for _, source, old, new, rule, *_ in MUTATIONS:
        if rule.startswith("schema:"):
            for manifest in load_text("m.yaml", mutate(source, old, new)).manifests:
                bodies.append((manifest.api_version, manifest.kind, manifest.body))
    checked = 0
    for index, (api_version, kind, body) in enumerate(list(bodies)):
        compiled = checker.compiled(api_version, kind)
        if compiled is None:
            continue
        variants = [body] + [_replace(body, p, v) for n, (p, v) in enumerate(_leaf_mutations(body))
                             if (n + index) % 4 == 0]
        for variant in variants:
            fast = compiled.fast.is_valid(variant)
            record = compiled.explainer().is_valid(variant)
            assert fast == record, (api_version, kind, variant)
            checked += 1
    assert checked > 2000


# --------------------------------------------------------------------------- kinds, versions, duplicates


def test_unknown_kinds_are_errors_at_their_kind_line() -> None:
    text = "apiVersion: example.com/v1\n# a comment\nkind: Widget\nmetadata:\n  name: w\n"
    [finding] = validate_text(text)
    assert (finding.rule, finding.line, finding.column) == ("schema:missing", 3, 1)
    assert validate_text(text, ignore_missing_schemas=True) == []


def test_a_known_kind_at_an_unserved_version_is_an_error_even_when_ignoring_missing_schemas() -> None:
    text = CLUSTER.replace("apiVersion: ray.io/v1", "apiVersion: ray.io/v2")
    [finding] = validate_text(text, ignore_missing_schemas=True)
    assert finding.rule == "schema:unserved-version" and "ray.io/v1, ray.io/v1alpha1" in finding.message
    assert finding.line == line_of(text, "apiVersion: ray.io/v2")[0]
    service = "apiVersion: v2\nkind: Service\nmetadata:\n  name: s\n"
    assert [f.rule for f in validate_text(service, ignore_missing_schemas=True)] == ["schema:unserved-version"]


def test_a_kuberay_kind_the_version_lacks_is_an_error() -> None:
    cron = ("apiVersion: ray.io/v1\nkind: RayCronJob\nmetadata:\n  name: c\nspec:\n  schedule: '* * * * *'\n"
            "  jobTemplate: {entrypoint: x, clusterSelector: {ray.io/cluster: c}}\n")
    [finding] = validate_text(cron, ignore_missing_schemas=True)
    assert (finding.rule, finding.line) == ("schema:unserved-version", 2)
    assert finding.message == "KubeRay 1.5.1 has no RayCronJob kind"
    assert [f.rule for f in validate_text(cron, version="1.6.2")] == ["kuberay:feature-gate"]


def test_deprecated_api_versions_warn() -> None:
    text = CLUSTER.replace("apiVersion: ray.io/v1", "apiVersion: ray.io/v1alpha1")
    assert validate_text(text) == []
    [warning] = validate_text(text, version="1.7.0")
    assert warning.severity is Severity.WARNING and warning.rule == "schema:deprecated-version"
    assert warning.line == line_of(text, "apiVersion")[0] and "KubeRay 1.9" in warning.message


def test_core_kinds_are_checked_against_kubernetes_schemas() -> None:
    text = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports:\n  - port: http\n"
            "    targetPort: 8080\n")
    [finding] = validate_text(text)
    assert (finding.rule, finding.path, finding.line) == ("schema:type", "spec.ports[0].port", 7)
    assert validate_text(text.replace("port: http", "port: 80")) == []


def test_duplicate_objects_across_files_name_both_places() -> None:
    first = CLUSTER
    second = "# another file\n" + CLUSTER
    result = validate_blobs([SourceBlob("a.yaml", first.encode()), SourceBlob("b.yaml", second.encode())],
                            ValidateOptions(kuberay_version=VERSION, jobs=1))
    [finding] = result.errors
    assert (finding.file, finding.rule, finding.line) == ("b.yaml", "manifest:duplicate-object", 8)
    assert "a.yaml:4:1" in finding.message


def test_the_process_pool_finds_exactly_what_one_process_finds() -> None:
    blobs = []
    for n, path in enumerate(sample_files()):
        text = path.read_text()
        if n % 7 == 3:
            text = text.replace("\nspec:\n", "\nspec:\n  bogus: 1\n", 1)
        blobs.append(SourceBlob(f"f{n:03d}-{path.name}", text.encode()))
    blobs.append(SourceBlob("zz-dup.yaml", CLUSTER.encode()))
    one = validate_blobs(blobs, ValidateOptions(kuberay_version=VERSION, jobs=1))
    two = validate_blobs(blobs, ValidateOptions(kuberay_version=VERSION, jobs=2))
    assert two.jobs == 2
    assert two.findings == one.findings
    assert (two.documents, two.checked, two.skipped) == (one.documents, one.checked, one.skipped)
    rules = {f.rule for f in one.findings}
    assert {"schema:additionalProperties", "manifest:duplicate-object", "schema:missing"} <= rules


def test_the_parse_and_schema_stages_stop_early() -> None:
    text = mutate(CLUSTER, "  - replicas: 1\n", "  - replicas: one\n").replace("name: raycluster-kuberay",
                                                                               "name: Not_A_DNS_Label")
    assert validate_text(text, stage="parse") == []
    assert [f.rule for f in validate_text(text, stage="schema")] == ["schema:type"]
    fixed = text.replace("replicas: one", "replicas: 1")
    assert [f.rule for f in validate_text(fixed, stage="schema")] == []
    assert [f.rule for f in validate_text(fixed)] == ["kuberay:name-format"]


# --------------------------------------------------------------------------- environment policy


def _environment(namespaces: tuple[str, ...], gates: dict[str, bool] | None = None) -> Environment:
    return Environment(name="dev", file="environments/dev/environment.yaml", directory="environments/dev",
                       cluster=ClusterTarget(sandbox_state_dir=".state"), namespaces=namespaces, paths=("x",),
                       operator=OperatorConfig(feature_gates=gates))


def test_manifests_outside_the_environment_namespaces_are_errors() -> None:
    env = _environment(("ray-dev",))
    text = CLUSTER.replace("  name: raycluster-kuberay\n", "  name: raycluster-kuberay\n  namespace: ray-prod\n")
    opts = ValidateOptions.for_environment(env, VERSION, jobs=1)
    [finding] = validate_blobs([SourceBlob("m.yaml", text.encode())], opts).findings
    assert (finding.rule, finding.path, finding.line) == ("policy:namespace", "metadata.namespace", 8)
    assert "ray-prod" in finding.message and "ray-dev" in finding.message
    # no namespace: the environment's only namespace applies
    assert validate_blobs([SourceBlob("m.yaml", CLUSTER.encode())], opts).findings == []


def test_the_pipeline_entry_point_checks_schema_rules_and_policy() -> None:
    env = _environment(("a", "b"), gates={"RayJobDeletionPolicy": False})
    text = (SAMPLES / "ray-job.deletion-rules.yaml").read_text()
    manifests = load_text("j.yaml", text.replace("metadata:\n", "metadata:\n  namespace: a\n", 1)).manifests
    findings = validate_manifests(manifests, version=VERSION, environment=env, ignore_missing=True)
    assert [(f.rule, f.severity) for f in findings] == [("kuberay:feature-gate", Severity.ERROR)]
    unplaced = load_text("j.yaml", text).manifests
    rules = [f.rule for f in validate_manifests(unplaced, version=VERSION, environment=env, ignore_missing=True)]
    assert "policy:namespace" in rules
