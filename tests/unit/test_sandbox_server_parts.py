"""Pure parts of the sandbox server: selectors, durations, JSONPath, Status bodies, name and
label rules, content negotiation, fault decisions, CRD handling, the store's versions and event ring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gitops_ray.sandbox import crds, errors, meta
from gitops_ray.sandbox.faults import FaultRule, Faults
from gitops_ray.sandbox.handlers import discovery_version, table_version
from gitops_ray.sandbox.resources import BUILTINS, version_priority
from gitops_ray.sandbox.selectors import field_matcher, label_matcher
from gitops_ray.sandbox.store import Store
from gitops_ray.sandbox.tables import human_duration, json_path

CONFIGMAPS = next(t for t in BUILTINS if t.plural == "configmaps")
SERVICES = next(t for t in BUILTINS if t.plural == "services")
NAMESPACES = next(t for t in BUILTINS if t.plural == "namespaces")


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    ("app=web", {"app": "web"}, True),
    ("app==web", {"app": "db"}, False),
    ("app!=web", {}, True),
    ("app in (web, db),tier", {"app": "db", "tier": "x"}, True),
    ("app notin (web)", {"app": "web"}, False),
    ("!legacy", {"legacy": "1"}, False),
    ("count>3", {"count": "4"}, True),
    ("count<3", {"count": "4"}, False),
    ("app=", {"app": ""}, True),
])
def test_label_selector_semantics(selector: str, labels: dict[str, str], expected: bool) -> None:
    matcher = label_matcher(selector)
    assert matcher is not None and matcher(labels) is expected


@pytest.mark.parametrize("selector", ["app in web", "a=b=c", "in (", "bad key!=x", "x>y"])
def test_malformed_label_selectors_are_bad_requests(selector: str) -> None:
    with pytest.raises(errors.StatusError) as err:
        label_matcher(selector)
    assert err.value.code == 400


def test_field_selectors_accept_only_supported_fields() -> None:
    matcher = field_matcher("metadata.name=a,metadata.namespace!=b", ("metadata.name", "metadata.namespace"))
    assert matcher is not None
    assert matcher({"metadata.name": "a", "metadata.namespace": "c"})
    assert not matcher({"metadata.name": "a", "metadata.namespace": "b"})
    with pytest.raises(errors.StatusError) as err:
        field_matcher("spec.foo=1", ("metadata.name",))
    assert err.value.code == 400 and err.value.message == "field label not supported: spec.foo"


@pytest.mark.parametrize(("seconds", "text"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (312, "5m12s"), (600, "10m"),
    (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 600, "3h10m"), (30 * 3600, "30h"), (52 * 3600, "2d4h"),
    (48 * 3600, "2d"), (400 * 86400, "400d"), (3 * 365 * 86400 + 2 * 86400, "3y2d"), (9 * 365 * 86400, "9y"),
])
def test_human_duration_matches_apimachinery(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_json_path_subset() -> None:
    obj = {"status": {"head": {"podIP": "1.2.3.4"}}, "spec": {"groups": [{"replicas": 1}, {"replicas": 2}]}}
    assert json_path(obj, ".status.head.podIP") == ["1.2.3.4"]
    assert json_path(obj, ".spec.groups[*].replicas") == [1, 2]
    assert json_path(obj, "{.spec.groups[1].replicas}") == [2]
    assert json_path(obj, ".status.missing") == []


def test_status_body_has_go_field_order_and_omits_empty_reason() -> None:
    body = errors.not_found("rayclusters", "ray.io", "x").status()
    assert list(body) == ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
    internal = errors.internal("boom").status()
    assert "reason" not in internal and internal["code"] == 500


def test_invalid_aggregates_messages_and_lists_causes() -> None:
    one = errors.invalid("ConfigMap", "", "c", [("FieldValueRequired", "data", "Required value")])
    assert one.message == 'ConfigMap "c" is invalid: data: Required value'
    two = errors.invalid("RayJob", "ray.io", "j", [("FieldValueRequired", "a", "Required value"),
                                                    ("FieldValueRequired", "a", "Required value"),
                                                    ("FieldValueInvalid", "b", 'Invalid value: "x"')])
    assert two.message == 'RayJob.ray.io "j" is invalid: [a: Required value, b: Invalid value: "x"]'
    assert two.details is not None and len(two.details["causes"]) == 3


@pytest.mark.parametrize(("rt", "name", "ok"), [
    (CONFIGMAPS, "a.b-c", True), (CONFIGMAPS, "Upper", False), (SERVICES, "1abc", False), (SERVICES, "abc", True),
    (NAMESPACES, "a.b", False), (NAMESPACES, "x" * 63, True), (NAMESPACES, "x" * 64, False),
])
def test_name_rules_per_kind(rt: object, name: str, ok: bool) -> None:
    assert (meta.validate_name(rt, name) == []) is ok  # type: ignore[arg-type]


def test_label_and_annotation_rules() -> None:
    assert meta.validate_labels({"example.com/app": "web-1", "x": ""}) == []
    assert meta.validate_labels({"bad key": "v"})[0][1] == "metadata.labels"
    assert "must be no more than 63 characters" in meta.validate_labels({"k": "v" * 64})[0][2]
    huge = meta.validate_annotations({"k": "v" * 262144})
    assert huge == [("FieldValueTooLong", "metadata.annotations", "Too long: may not be more than 262144 bytes")]


def test_negotiation_of_discovery_and_tables() -> None:
    v2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    beta = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    assert discovery_version(f"{beta},{v2},application/json") == "v2"
    assert discovery_version(f"{beta},application/json") == "v2beta1"
    assert discovery_version("application/json") is None
    assert table_version("application/json;as=Table;v=v1;g=meta.k8s.io,application/json") == "v1"
    assert table_version("application/json") is None


def test_fault_rules_count_matches_and_fire() -> None:
    faults = Faults(seed=1)
    faults.add(FaultRule(path="/x", verbs=("get",), nth=2, status=500))
    decisions = [faults.decide("GET", "/x").error for _ in range(3)]
    assert [d is not None for d in decisions] == [False, True, False]
    assert faults.decide("POST", "/x").error is None
    faults.clear()
    faults.add(path="/y", fraction=0.5)
    for _ in range(200):
        faults.decide("GET", "/y")
    assert faults.rules[0].seen == 200 and 60 < faults.rules[0].fired < 140
    with pytest.raises(ValueError):
        FaultRule(status=418)


def test_version_priority_orders_ga_beta_alpha() -> None:
    versions = ["v1alpha1", "v2beta1", "v1", "v1beta2", "v2"]
    assert sorted(versions, key=version_priority) == ["v2", "v1", "v2beta1", "v1beta2", "v1alpha1"]


def test_bundled_crds_give_types_with_printer_columns() -> None:
    version, documents = crds.load_bundled("1.5.1")
    assert version == "1.5.1" and {d["spec"]["names"]["kind"] for d in documents} == {
        "RayCluster", "RayJob", "RayService"}
    raycluster = next(d for d in documents if d["spec"]["names"]["kind"] == "RayCluster")
    assert crds.validate_crd(raycluster) == []
    types = crds.resource_types(raycluster)
    assert [t.version for t in types] == ["v1", "v1alpha1"]
    assert types[0].storage_version == "v1" and not types[1].deprecation_warning
    newest = next(d for d in crds.load_bundled("1.7.0")[1] if d["spec"]["names"]["kind"] == "RayCluster")
    assert "deprecated" in crds.resource_types(newest)[1].deprecation_warning
    assert [c.name for c in types[0].columns][:2] == ["desired workers", "available workers"]


def test_structural_schema_problems_are_reported() -> None:
    schema = {"type": "object", "properties": {"a": {"properties": {}}, "b": {"type": "object",
                                                                          "additionalProperties": False}}}
    fields = [c[1] for c in crds.structural_problems(schema, "s")]
    assert fields == ["s.properties[a].type", "s.properties[b].additionalProperties"]


def test_store_versions_are_global_and_the_ring_expires(tmp_path: Path) -> None:
    store = Store(tmp_path / "db", history=3)
    start = store.current_rv()
    rt = CONFIGMAPS
    with store.transaction() as txn:
        for index in range(5):
            txn.put(rt, {"metadata": {"name": f"c{index}", "namespace": "d", "uid": f"u{index}"}}, None)
    assert store.current_rv() == start + 5
    assert [e.rv for e in store.events_after(start + 2)] == [start + 3, start + 4, start + 5]
    with pytest.raises(errors.StatusError) as err:
        store.events_after(start)
    assert err.value.code == 410
    rv, rows = store.scan(rt.group_resource, "d")
    assert rv == start + 5 and [r.name for r in rows] == [f"c{i}" for i in range(5)]
    assert json.loads(rows[0].body)["metadata"]["resourceVersion"] == str(start + 1)
    store.close()
