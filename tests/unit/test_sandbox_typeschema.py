"""TypeSchema, pruning, defaulting and validation of custom resources, as the API server does them."""

from __future__ import annotations

import copy
import gzip
import logging
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ray.sandbox._formats import compile_go_regexp
from gitops_ray.sandbox._nodes import MISSING, Node
from gitops_ray.sandbox.typeschema import FieldError, TypeSchema, apply_defaults, prune, validate

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "kuberay-samples-v1.5.1"
CRDS = ROOT / "schemas" / "kuberay" / "1.5.1" / "crds"


@cache
def crd_schema(kind: str, version: str = "v1") -> dict[str, Any]:
    path = CRDS / f"ray.io_{kind.lower()}s.yaml.gz"
    with gzip.open(path) as f:
        crd = yaml.load(f, Loader=yaml.CSafeLoader)
    for v in crd["spec"]["versions"]:
        if v["name"] == version:
            return v["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]
    raise KeyError(version)


def schema_for(kind: str) -> TypeSchema:
    return TypeSchema.from_openapi(crd_schema(kind))


def ray_samples() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(SAMPLES.rglob("*.yaml")):
        for i, doc in enumerate(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader)):
            if doc and doc.get("apiVersion") == "ray.io/v1":
                out.append((f"{path.relative_to(SAMPLES)}#{i}", doc))
    return out


SAMPLE_DOCS = ray_samples()


def load(name: str) -> dict[str, Any]:
    return next(d for d in yaml.load_all((SAMPLES / name).read_text(), Loader=yaml.CSafeLoader) if d)


def admitted(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
    schema = schema_for(kind)
    prune(schema, obj)
    apply_defaults(schema, obj)
    return validate(schema, obj, old)


def messages(errors: list[FieldError]) -> list[str]:
    return [str(e) for e in errors if e.field != "<nil>"]


def test_sample_corpus_has_all_three_kinds() -> None:
    kinds = {doc["kind"] for _, doc in SAMPLE_DOCS}
    assert kinds == {"RayCluster", "RayJob", "RayService"}
    assert len(SAMPLE_DOCS) > 60


@pytest.mark.parametrize(("name", "doc"), SAMPLE_DOCS, ids=[n for n, _ in SAMPLE_DOCS])
def test_kuberay_sample_prunes_nothing_and_validates_clean(name: str, doc: dict[str, Any]) -> None:
    schema = schema_for(doc["kind"])
    obj = copy.deepcopy(doc)
    assert prune(schema, obj) == []
    assert obj == doc
    apply_defaults(schema, obj)
    assert validate(schema, obj, None) == []
    assert validate(schema, obj, copy.deepcopy(obj)) == []


def _missing_defaults(value: Any, node: Node, path: str) -> list[str]:
    """Paths where the schema declares a default but the object lacks the field."""
    out: list[str] = []
    if isinstance(value, dict) and node.fields is not None:
        for key, child in node.fields.items():
            if child.default is not MISSING and key not in value:
                out.append(f"{path}.{key}")
            if key in value and not (node.embedded and key == "metadata"):
                out.extend(_missing_defaults(value[key], child, f"{path}.{key}"))
    elif isinstance(value, list) and node.item is not None:
        for i, item in enumerate(value):
            out.extend(_missing_defaults(item, node.item, f"{path}[{i}]"))
    return out


@pytest.mark.parametrize(("name", "doc"), SAMPLE_DOCS[::4], ids=[n for n, _ in SAMPLE_DOCS[::4]])
def test_every_declared_default_is_filled_in(name: str, doc: dict[str, Any]) -> None:
    schema = schema_for(doc["kind"])
    obj = copy.deepcopy(doc)
    assert _missing_defaults(obj, schema.root, "") or True  # samples may already be complete
    apply_defaults(schema, obj)
    assert _missing_defaults(obj, schema.root, "") == []


def test_defaulting_fills_container_port_protocol_and_worker_num_of_hosts() -> None:
    obj = load("ray-cluster.complete.yaml")
    ports = obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]
    assert all("protocol" not in p for p in ports)
    assert "numOfHosts" not in obj["spec"]["workerGroupSpecs"][0]
    apply_defaults(schema_for("RayCluster"), obj)
    assert {p["protocol"] for p in ports} == {"TCP"}
    assert obj["spec"]["workerGroupSpecs"][0]["numOfHosts"] == 1


def test_defaults_are_copies_not_shared_with_the_schema() -> None:
    schema = schema_for("RayJob")
    a, b = load("ray-job.sample.yaml"), load("ray-job.sample.yaml")
    apply_defaults(schema, a)
    apply_defaults(schema, b)
    a["spec"]["submissionMode"] = "changed"
    assert b["spec"]["submissionMode"] == "K8sJobMode"


def test_null_in_non_nullable_field_is_dropped_or_defaulted() -> None:
    schema = schema_for("RayJob")
    obj = load("ray-job.sample.yaml")
    obj["spec"]["entrypoint"] = None  # no default: dropped
    obj["spec"]["submissionMode"] = None  # default: replaced
    apply_defaults(schema, obj)
    assert "entrypoint" not in obj["spec"]
    assert obj["spec"]["submissionMode"] == "K8sJobMode"


def test_null_in_nullable_field_is_kept_and_not_defaulted() -> None:
    schema = TypeSchema.from_openapi({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "a": {"type": "string", "nullable": True, "default": "x"}, "b": {"type": "string", "default": "y"}}}}})
    obj: dict[str, Any] = {"spec": {"a": None}}
    apply_defaults(schema, obj)
    assert obj == {"spec": {"a": None, "b": "y"}}


def test_prune_removes_unknown_fields_and_reports_paths() -> None:
    schema = schema_for("RayCluster")
    obj = load("ray-cluster.sample.yaml")
    obj["spec"]["foo"] = 1
    obj["spec"]["workerGroupSpecs"][0]["bar"] = {"x": 1}
    obj["metadata"]["bogus"] = "y"
    obj["extra"] = True
    assert prune(schema, obj) == ["extra", "metadata.bogus", "spec.foo", "spec.workerGroupSpecs[0].bar"]
    assert "foo" not in obj["spec"] and "bar" not in obj["spec"]["workerGroupSpecs"][0]
    assert "bogus" not in obj["metadata"] and "extra" not in obj
    assert obj["apiVersion"] == "ray.io/v1" and obj["kind"] == "RayCluster"


def test_prune_reduces_metadata_to_object_meta_and_drops_empty_values() -> None:
    schema = schema_for("RayCluster")
    obj = load("ray-cluster.sample.yaml")
    obj["metadata"].update({"labels": {}, "annotations": None, "ownerReferences": [
        {"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u", "color": "red"}]})
    assert prune(schema, obj) == ["metadata.ownerReferences[0].color"]
    assert "labels" not in obj["metadata"] and "annotations" not in obj["metadata"]
    assert obj["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u"}]


def test_preserve_unknown_fields_keeps_unknown_keys_but_prunes_declared_properties() -> None:
    schema = TypeSchema.from_openapi({"type": "object", "properties": {"spec": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}}}}})
    obj: dict[str, Any] = {"spec": {"free": {"any": [1, {"thing": 2}]}, "known": {"a": "x", "b": "pruned"}}}
    assert prune(schema, obj) == ["spec.known.b"]
    assert obj == {"spec": {"free": {"any": [1, {"thing": 2}]}, "known": {"a": "x"}}}


def test_missing_required_field_is_required_value() -> None:
    obj = load("ray-cluster.sample.yaml")
    del obj["spec"]["headGroupSpec"]
    errors = admitted("RayCluster", obj)
    assert errors[0] == FieldError("FieldValueRequired", "spec.headGroupSpec", "Required value")
    # KubeRay has CEL rules, so the API server adds its "rules not checked" cause after a blocking error.
    assert errors[-1].field == "<nil>" and "some validation rules were not checked" in errors[-1].message


def test_wrong_type_is_type_invalid_with_the_type_names() -> None:
    obj = load("ray-cluster.sample.yaml")
    obj["spec"]["workerGroupSpecs"][0]["replicas"] = "string"
    errors = admitted("RayCluster", obj)
    assert errors[0] == FieldError(
        "FieldValueTypeInvalid", "spec.workerGroupSpecs[0].replicas",
        'Invalid value: "string": spec.workerGroupSpecs[0].replicas in body must be of type integer: "string"')


def test_integral_float_passes_as_integer_but_fraction_does_not() -> None:
    obj = load("ray-cluster.sample.yaml")
    obj["spec"]["workerGroupSpecs"][0]["replicas"] = 2.0
    assert admitted("RayCluster", copy.deepcopy(obj)) == []
    obj["spec"]["workerGroupSpecs"][0]["replicas"] = 2.5
    assert messages(admitted("RayCluster", obj)) == [
        'spec.workerGroupSpecs[0].replicas: Invalid value: "number": '
        'spec.workerGroupSpecs[0].replicas in body must be of type integer: "number"']


def test_enum_violation_lists_supported_values() -> None:
    obj = load("ray-job.sample.yaml")
    obj["spec"]["deletionStrategy"] = {"onSuccess": {"policy": "Nope"}, "onFailure": {"policy": "DeleteNone"}}
    errors = admitted("RayJob", obj)
    assert errors[0] == FieldError(
        "FieldValueNotSupported", "spec.deletionStrategy.onSuccess.policy",
        'Unsupported value: "Nope": supported values: "DeleteCluster", "DeleteWorkers", "DeleteSelf", "DeleteNone"')


LIMITS = TypeSchema.from_openapi({"type": "object", "properties": {"spec": {"type": "object", "properties": {
    "replicas": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10},
    "ratio": {"type": "number", "exclusiveMaximum": True, "maximum": 1.5, "multipleOf": 0.5},
    "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
    "short": {"type": "string", "minLength": 2},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2, "minItems": 1,
             "x-kubernetes-list-type": "set"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1},
    "when": {"type": "string", "format": "date-time"},
    "big": {"type": "integer", "format": "int32"},
    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["port", "protocol"],
              "items": {"type": "object", "required": ["port"], "properties": {
                  "port": {"type": "integer"}, "protocol": {"type": "string", "default": "TCP"}}}},
}}}})


def limit_errors(spec: dict[str, Any]) -> list[str]:
    obj = {"spec": spec}
    apply_defaults(LIMITS, obj)
    return messages(validate(LIMITS, obj, None))


def test_limits_are_worded_like_the_api_server() -> None:
    assert limit_errors({"replicas": 15}) == [
        "spec.replicas: Invalid value: 15: spec.replicas in body should be less than or equal to 10"]
    assert limit_errors({"replicas": 0}) == [
        "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"]
    assert limit_errors({"ratio": 1.5}) == [
        "spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than 1.5"]
    assert limit_errors({"ratio": 0.7}) == [
        "spec.ratio: Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5"]
    assert limit_errors({"name": "toolong"}) == ["spec.name: Too long: may not be more than 5 bytes"]
    assert limit_errors({"name": "ABC"}) == [
        "spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'"]
    assert limit_errors({"short": "a"}) == [
        'spec.short: Invalid value: "a": spec.short in body should be at least 2 chars long']
    assert limit_errors({"tags": ["a", "b", "c"]}) == ["spec.tags: Too many: 3: must have at most 2 items"]
    assert limit_errors({"tags": []}) == ["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"]
    assert limit_errors({"labels": {"a": "1", "b": "2"}}) == ["spec.labels: Too many: 2: must have at most 1 items"]
    assert limit_errors({"when": "yesterday"}) == [
        'spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"']


def test_int32_format_has_no_range_check_and_valid_values_pass() -> None:
    assert limit_errors({"big": 2**40, "when": "2025-01-02T03:04:05Z", "name": "abc", "replicas": 10}) == []


def test_pattern_dollar_does_not_match_before_a_trailing_newline() -> None:
    assert limit_errors({"name": "abc\n"}) == [
        "spec.name: Invalid value: \"abc\\n\": spec.name in body should match '^[a-z]+$'"]
    assert compile_go_regexp(r"^a\z").search("a") and not compile_go_regexp(r"^a\z").search("a\n")
    assert compile_go_regexp("^[[:digit:]]+$").search("123")


def test_list_type_set_and_map_duplicates() -> None:
    assert limit_errors({"tags": ["a", "a"]}) == ['spec.tags[1]: Duplicate value: "a"']
    assert limit_errors({"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}]}) \
        == ['spec.ports[1]: Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}']


def test_list_type_duplicates_already_in_the_old_object_are_not_reported_on_update() -> None:
    obj: dict[str, Any] = {"spec": {"tags": ["a", "a"]}}
    assert validate(LIMITS, obj, None) != []
    assert validate(LIMITS, obj, copy.deepcopy(obj)) == []


def test_managed_by_must_be_one_of_two_values() -> None:
    obj = load("ray-cluster.sample.yaml")
    obj["spec"]["managedBy"] = "someone"
    assert messages(admitted("RayCluster", obj)) == [
        "spec.managedBy: Invalid value: \"string\": the managedBy field value must be either "
        "'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'"]


def test_managed_by_is_immutable_only_as_a_transition_rule() -> None:
    old = load("ray-cluster.sample.yaml")
    old["spec"]["managedBy"] = "ray.io/kuberay-operator"
    new = copy.deepcopy(old)
    new["spec"]["managedBy"] = "kueue.x-k8s.io/multikueue"
    assert admitted("RayCluster", copy.deepcopy(new)) == []  # create: no oldSelf
    assert messages(admitted("RayCluster", new, old)) == [
        'spec.managedBy: Invalid value: "string": the managedBy field is immutable']
    added = copy.deepcopy(new)
    del old["spec"]["managedBy"]
    assert admitted("RayCluster", added, old) == []  # set for the first time: no old value


def test_rayjob_deletion_strategy_has_rules() -> None:
    base = load("ray-job.sample.yaml")
    legacy = {"onSuccess": {"policy": "DeleteCluster"}, "onFailure": {"policy": "DeleteNone"}}
    rules = {"deletionRules": [{"policy": "DeleteCluster", "condition": {"jobStatus": "SUCCEEDED"}}]}
    for strategy in (legacy, rules):
        obj = copy.deepcopy(base)
        obj["spec"]["deletionStrategy"] = strategy
        assert admitted("RayJob", obj) == []
    both = copy.deepcopy(base)
    both["spec"]["deletionStrategy"] = {**legacy, **rules}
    assert messages(admitted("RayJob", both)) == [
        'spec.deletionStrategy: Invalid value: "object": legacy policies (onSuccess/onFailure) and deletionRules '
        "cannot be used together within the same deletionStrategy"]
    half = copy.deepcopy(base)
    half["spec"]["deletionStrategy"] = {"onSuccess": {"policy": "DeleteCluster"}}
    assert messages(admitted("RayJob", half)) == [
        'spec.deletionStrategy: Invalid value: "object": deletionStrategy requires either BOTH onSuccess and '
        "onFailure, OR the deletionRules field (cannot be empty)"]


def test_cel_rules_do_not_run_when_a_blocking_error_exists() -> None:
    obj = load("ray-cluster.sample.yaml")
    obj["spec"]["managedBy"] = "someone"
    obj["spec"]["workerGroupSpecs"][0]["replicas"] = "x"
    fields = [e.field for e in admitted("RayCluster", obj)]
    assert "spec.managedBy" not in fields
    assert fields[-1] == "<nil>"


def test_unsupported_cel_rule_is_logged_and_passes(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        schema = TypeSchema.from_openapi({"type": "object", "properties": {"spec": {
            "type": "object", "properties": {"a": {"type": "string"}},
            "x-kubernetes-validations": [{"rule": "self.a.matches('^x')", "message": "m"},
                                         {"rule": "size(self.a) < 3", "message": "short"}]}}})
    assert "not supported" in caplog.text
    assert messages(validate(schema, {"spec": {"a": "abcd"}}, None)) == ['spec: Invalid value: "object": short']
    assert validate(schema, {"spec": {"a": "ab"}}, None) == []


def test_status_subresource_validates_only_status_with_relative_messages() -> None:
    schema = schema_for("RayCluster")
    obj = load("ray-cluster.sample.yaml")
    del obj["spec"]["headGroupSpec"]  # not checked on /status
    obj["status"] = {"desiredWorkerReplicas": "many"}
    errors = validate(schema, obj, copy.deepcopy(obj), subresource="status")
    assert messages(errors) == ['status.desiredWorkerReplicas: Invalid value: "string": desiredWorkerReplicas '
                                'in body must be of type integer: "string"']


def test_from_openapi_is_cached_per_schema_object() -> None:
    assert TypeSchema.from_openapi(crd_schema("RayJob")) is TypeSchema.from_openapi(crd_schema("RayJob"))
    assert TypeSchema.from_openapi(crd_schema("RayJob")) is not TypeSchema.from_openapi(copy.deepcopy(
        crd_schema("RayJob")))


def test_crd_lists_without_list_type_are_atomic_and_markers_are_read() -> None:
    spec = schema_for("RayCluster").root.child("spec")
    assert spec is not None
    workers = spec.child("workerGroupSpecs")
    assert workers is not None and workers.list_type == "atomic"
    pod = workers.item.child("template").child("spec")  # type: ignore[union-attr]
    containers = pod.child("containers")  # type: ignore[union-attr]
    assert (containers.list_type, containers.keys) == ("map", ("name",))  # type: ignore[union-attr]
    ports = containers.item.child("ports")  # type: ignore[union-attr]
    assert ports.keys == ("containerPort", "protocol") and ports.key_defaults == {"protocol": "TCP"}  # type: ignore
    selector = pod.child("nodeSelector")  # type: ignore[union-attr]
    assert selector.map_atomic and selector.elem is not None  # type: ignore[union-attr]
    meta = schema_for("RayCluster").root.child("metadata")
    assert meta is not None and meta.child("ownerReferences").keys == ("uid",)  # type: ignore[union-attr]


@pytest.mark.parametrize(("gvk", "path", "expected"), [
    (("", "v1", "Service"), "spec.ports", ("map", ("port", "protocol"))),
    (("", "v1", "Service"), "spec.clusterIPs", ("atomic", ())),
    (("", "v1", "Service"), "spec.externalIPs", ("atomic", ())),
    (("", "v1", "Service"), "spec.ipFamilies", ("atomic", ())),
    (("", "v1", "ServiceAccount"), "secrets", ("map", ("name",))),
    (("", "v1", "ServiceAccount"), "imagePullSecrets", ("atomic", ())),
    (("", "v1", "Namespace"), "spec.finalizers", ("atomic", ())),
    (("", "v1", "ConfigMap"), "metadata.finalizers", ("set", ())),
    (("", "v1", "ConfigMap"), "metadata.ownerReferences", ("map", ("uid",))),
    (("", "v1", "ConfigMap"), "metadata.managedFields", ("atomic", ())),
    (("batch", "v1", "Job"), "spec.template.spec.containers", ("map", ("name",))),
    (("batch", "v1", "Job"), "spec.template.spec.volumes", ("map", ("name",))),
    (("batch", "v1", "Job"), "spec.template.spec.imagePullSecrets", ("map", ("name",))),
    (("rbac.authorization.k8s.io", "v1", "Role"), "rules", ("atomic", ())),
])
def test_builtin_list_markers(gvk: tuple[str, str, str], path: str, expected: tuple[str, tuple[str, ...]]) -> None:
    node: Node | None = TypeSchema.builtin(*gvk).root
    for part in path.split("."):
        assert node is not None
        node = node.child(part)
    assert node is not None
    assert (node.list_type, node.keys) == expected


def test_builtin_container_lists_are_keyed_like_core() -> None:
    container = TypeSchema.builtin("batch", "v1", "Job").root
    for part in ("spec", "template", "spec", "containers"):
        container = container.child(part)  # type: ignore[assignment]
    item = container.item
    assert item is not None
    assert item.child("env").keys == ("name",)  # type: ignore[union-attr]
    assert item.child("ports").keys == ("containerPort", "protocol")  # type: ignore[union-attr]
    assert item.child("ports").key_defaults == {"protocol": "TCP"}  # type: ignore[union-attr]
    assert item.child("volumeMounts").keys == ("mountPath",)  # type: ignore[union-attr]


def test_builtin_maps_selector_atomic_data_granular() -> None:
    svc = TypeSchema.builtin("", "v1", "Service").root.child("spec")
    assert svc is not None and svc.child("selector").map_atomic  # type: ignore[union-attr]
    data = TypeSchema.builtin("", "v1", "ConfigMap").root.child("data")
    labels = TypeSchema.builtin("", "v1", "ConfigMap").root.child("metadata").child("labels")  # type: ignore
    assert data is not None and not data.map_atomic and data.elem is not None
    assert labels is not None and not labels.map_atomic


def test_unknown_builtin_kind_is_granular_maps_and_atomic_lists() -> None:
    schema = TypeSchema.builtin("example.com", "v1", "Widget")
    node = schema.root.child("spec")
    assert node is not None and node.fields is not None and not node.map_atomic
    assert node.list_type == "atomic"
    obj: dict[str, Any] = {"spec": {"anything": [1]}, "metadata": {"name": "w"}}
    assert prune(schema, obj) == [] and validate(schema, obj, None) == []


def test_builtin_prune_drops_fields_the_type_does_not_have() -> None:
    schema = TypeSchema.builtin("", "v1", "ConfigMap")
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}, "spec": {}}
    assert prune(schema, obj) == ["spec"]
    assert obj == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}


def test_builtin_empty_object_has_its_struct_fields() -> None:
    assert TypeSchema.builtin("", "v1", "Service").empty_object == {"metadata": {}, "spec": {}, "status": {}}
    assert TypeSchema.builtin("", "v1", "ConfigMap").empty_object == {"metadata": {}}
    assert schema_for("RayCluster").empty_object == {}


def test_builtin_defs_are_regenerated_from_the_kubernetes_definitions() -> None:
    pytest.importorskip("kubernetes_validate")
    from gitops_ray.sandbox import _builtin_gen

    assert (ROOT / "gitops_ray" / "sandbox" / "_builtin_defs.py").read_text() == _builtin_gen.generate()


def test_every_builtin_kind_in_the_table_builds_and_refers_only_to_known_types() -> None:
    import re

    from gitops_ray.sandbox import _builtin_defs

    referenced = set(re.findall(r"@([\w.]+)", " ".join(_builtin_defs.TYPES.values())))
    assert referenced <= set(_builtin_defs.TYPES)
    for gvk in _builtin_defs.GVK:
        assert TypeSchema.builtin(*gvk).root.child("metadata") is not None
    crd = TypeSchema.builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition").root.child("spec")
    assert crd is not None and crd.child("versions").list_type == "atomic"  # type: ignore[union-attr]


def test_embedded_resource_keeps_type_meta_and_reduces_its_metadata() -> None:
    schema = TypeSchema.from_openapi({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}}}}}}})
    obj: dict[str, Any] = {"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "x": 1},
                                                 "spec": {"a": "1", "b": 2}}}}
    assert prune(schema, obj) == ["spec.template.metadata.x", "spec.template.spec.b"]
    assert obj["spec"]["template"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                       "spec": {"a": "1"}}
