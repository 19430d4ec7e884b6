"""Server-side apply and managedFields bookkeeping, as kube-apiserver 1.32 does them (pure functions)."""

from __future__ import annotations

import copy
import gzip
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_ray.sandbox._fieldpath import difference, encode, intersection, iter_paths, path_set, union
from gitops_ray.sandbox.fieldmanager import ApplyConflict, BadApplyRequest, UndeclaredField, apply, update
from gitops_ray.sandbox.typeschema import TypeSchema, apply_defaults, prune

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "data" / "kuberay-samples-v1.5.1"
T0, T1, T2, T3 = "2025-01-02T03:04:00Z", "2025-01-02T03:04:01Z", "2025-01-02T03:04:02Z", "2025-01-02T03:04:03Z"
CM = TypeSchema.builtin("", "v1", "ConfigMap")
SVC = TypeSchema.builtin("", "v1", "Service")


@cache
def ray_schema(kind: str) -> TypeSchema:
    with gzip.open(ROOT / "schemas" / "kuberay" / "1.5.1" / "crds" / f"ray.io_{kind.lower()}s.yaml.gz") as f:
        crd = yaml.load(f, Loader=yaml.CSafeLoader)
    return TypeSchema.from_openapi(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])


def sample(name: str) -> dict[str, Any]:
    doc = next(d for d in yaml.load_all((SAMPLES / name).read_text(), Loader=yaml.CSafeLoader) if d)
    doc["metadata"]["namespace"] = "default"
    return doc  # type: ignore[no-any-return]


def configmap(data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "c", "namespace": "ns"}
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def ssa(live: dict[str, Any] | None, config: dict[str, Any], manager: str = "kubectl", *, force: bool = False,
        schema: TypeSchema = CM, now: str = T1, subresource: str | None = None) -> dict[str, Any]:
    """What the sandbox stores after an apply: field manager, then pruning and defaulting."""
    version = config["apiVersion"]
    out = apply(live, config, manager=manager, force=force, schema=schema, api_version=version,
                subresource=subresource, now=now)
    prune(schema, out)
    apply_defaults(schema, out)
    return out


def put(live: dict[str, Any] | None, new: dict[str, Any], manager: str, *, schema: TypeSchema = CM, now: str = T2,
        subresource: str | None = None) -> dict[str, Any]:
    return update(live, new, manager=manager, schema=schema, api_version=new["apiVersion"], subresource=subresource,
                  now=now)


def entries(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["manager"] + ("/" + m["subresource"] if "subresource" in m else ""): m
            for m in obj["metadata"].get("managedFields", [])}


def owned(obj: dict[str, Any], manager: str) -> list[str]:
    entry = entries(obj).get(manager)
    return list(iter_paths(entry["fieldsV1"])) if entry else []


# --------------------------------------------------------------------------- field sets and fieldsV1


def test_set_algebra_keeps_membership_of_nodes_with_children() -> None:
    a = path_set(("f:spec",), ("f:spec", "f:x"), ("f:metadata", "f:labels", "f:app"))
    b = path_set(("f:spec", "f:x"))
    assert difference(a, b) == {"f:spec": {}, "f:metadata": {"f:labels": {"f:app": {}}}}
    assert intersection(a, b) == {"f:spec": {"f:x": {}}}
    assert union(b, path_set(("f:spec",))) == {"f:spec": {".": {}, "f:x": {}}}
    assert list(iter_paths(a)) == [".spec", ".metadata.labels.app", ".spec.x"]


def test_fieldsv1_encoding_orders_dot_fields_keys_values_and_indices() -> None:
    s = path_set(("f:b",), ("f:a", 'k:{"port":80,"protocol":"UDP"}'), ("f:a", 'k:{"port":443,"protocol":"TCP"}'),
                 ("f:a", 'k:{"port":80,"protocol":"TCP"}', "f:x"), ("f:a", 'k:{"port":80,"protocol":"TCP"}'),
                 ("f:v", 'v:"b"'), ("f:v", "v:10"), ("f:v", 'v:"a"'), ("f:v", "v:9"), ("f:i", "i:10"), ("f:i", "i:9"))
    encoded = encode(s)
    assert list(encoded) == ["f:a", "f:b", "f:i", "f:v"]
    assert list(encoded["f:a"]) == ['k:{"port":80,"protocol":"TCP"}', 'k:{"port":80,"protocol":"UDP"}',
                                    'k:{"port":443,"protocol":"TCP"}']
    assert list(encoded["f:a"]['k:{"port":80,"protocol":"TCP"}']) == [".", "f:x"]
    assert list(encoded["f:v"]) == ["v:9", "v:10", 'v:"a"', 'v:"b"']
    assert list(encoded["f:i"]) == ["i:9", "i:10"]


def test_apply_records_map_entries_and_leaves_but_not_struct_fields() -> None:
    obj = ssa(None, configmap({"k": "v"}, labels={"app": "x"}))
    entry = obj["metadata"]["managedFields"][0]
    assert entry == {"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": T1,
                     "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}}
    assert list(entry) == ["manager", "operation", "apiVersion", "time", "fieldsType", "fieldsV1"]


def test_apply_records_list_map_items_with_compact_sorted_keys() -> None:
    config = sample("ray-cluster.complete.yaml")
    obj = ssa(None, config, "gitops", schema=ray_schema("RayCluster"))
    fields = entries(obj)["gitops"]["fieldsV1"]
    containers = fields["f:spec"]["f:headGroupSpec"]["f:template"]["f:spec"]["f:containers"]
    head = containers['k:{"name":"ray-head"}']
    assert next(iter(head)) == "."
    assert 'k:{"containerPort":6379,"protocol":"TCP"}' in head["f:ports"]  # protocol from the schema default
    assert fields["f:spec"]["f:workerGroupSpecs"] == {}  # atomic: owned as a whole
    assert "f:name" not in fields.get("f:metadata", {})  # never tracked
    assert "f:apiVersion" not in fields and "f:kind" not in fields


def test_create_by_update_owns_everything_and_marks_new_maps() -> None:
    obj = put(None, configmap({"k": "v"}, labels={"app": "x"}), "kubectl-create")
    assert entries(obj)["kubectl-create"]["fieldsV1"] == {
        "f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
    assert entries(obj)["kubectl-create"]["operation"] == "Update"


def test_create_by_update_of_a_builtin_does_not_mark_its_struct_fields() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"ports": [{"port": 80}], "selector": {"app": "x"}}}
    fields = entries(put(None, svc, "kubectl-create", schema=SVC))["kubectl-create"]["fieldsV1"]
    assert "." not in fields["f:spec"]  # typed objects start with spec: {}
    assert fields["f:spec"]["f:selector"] == {}  # atomic map
    assert fields["f:spec"]["f:ports"] == {".": {}, 'k:{"port":80,"protocol":"TCP"}': {".": {}, "f:port": {}}}


def test_create_by_update_of_a_custom_resource_marks_spec() -> None:
    job = sample("ray-job.sample.yaml")
    fields = entries(put(None, job, "kubectl-create", schema=ray_schema("RayJob")))["kubectl-create"]["fieldsV1"]
    assert next(iter(fields["f:spec"])) == "."


# --------------------------------------------------------------------------- entries: identity, order, time


def test_entries_sort_apply_before_update_then_time_then_manager() -> None:
    obj = ssa(None, configmap({"a": "1"}), "zeta", now=T3)
    obj = put(obj, {**obj, "data": {**obj["data"], "b": "2"}}, "updater-late", now=T3)
    obj = put(obj, {**obj, "data": {**obj["data"], "c": "3"}}, "updater-early", now=T0)
    obj = ssa(obj, configmap({"d": "4"}), "alpha", now=T2)
    assert [(m["operation"], m["manager"]) for m in obj["metadata"]["managedFields"]] == [
        ("Apply", "alpha"), ("Apply", "zeta"), ("Update", "updater-early"), ("Update", "updater-late")]


def test_apply_entry_identity_ignores_api_version_but_update_entries_do_not() -> None:
    schema = ray_schema("RayJob")
    job = sample("ray-job.sample.yaml")
    obj = ssa(None, job, "gitops", schema=schema)
    old_style = {**copy.deepcopy(job), "apiVersion": "ray.io/v1alpha1"}
    obj = apply(obj, old_style, manager="gitops", force=False, schema=schema, api_version="ray.io/v1alpha1",
                subresource=None, now=T2)
    assert [(m["manager"], m["apiVersion"]) for m in obj["metadata"]["managedFields"]] == [
        ("gitops", "ray.io/v1alpha1")]
    changed = copy.deepcopy(obj)
    changed["spec"]["entrypoint"] = "python a.py"
    obj = update(obj, changed, manager="op", schema=schema, api_version="ray.io/v1", subresource=None, now=T2)
    changed = copy.deepcopy(obj)
    changed["spec"]["entrypoint"] = "python b.py"
    obj = update(obj, changed, manager="op", schema=schema, api_version="ray.io/v1alpha1", subresource=None, now=T3)
    assert [(m["manager"], m["operation"], m["apiVersion"]) for m in obj["metadata"]["managedFields"]] == [
        ("gitops", "Apply", "ray.io/v1alpha1"), ("op", "Update", "ray.io/v1alpha1")]


def test_no_op_apply_returns_an_identical_object_without_touching_times() -> None:
    schema = ray_schema("RayCluster")
    config = sample("ray-cluster.complete.yaml")
    apply_defaults(schema, config)  # what `kubectl get -o yaml` gives back
    first = ssa(None, config, "gitops", schema=schema, now=T1)
    again = ssa(first, copy.deepcopy(config), "gitops", schema=schema, now=T3)
    assert again == first


def test_defaulted_field_inside_an_atomic_list_makes_a_reapply_a_change_as_on_a_real_server() -> None:
    # structured-merge-diff compares before defaulting: the config's workerGroupSpecs lacks the
    # defaulted numOfHosts, so the apply counts as a change and only the entry time moves.
    schema = ray_schema("RayCluster")
    config = sample("ray-cluster.complete.yaml")
    first = ssa(None, config, "gitops", schema=schema, now=T1)
    again = ssa(first, copy.deepcopy(config), "gitops", schema=schema, now=T3)
    assert entries(again)["gitops"]["time"] == T3
    assert {**again, "metadata": {}} == {**first, "metadata": {}}


def test_changing_apply_updates_only_the_appliers_time() -> None:
    obj = ssa(None, configmap({"a": "1"}), "one", now=T0)
    obj = ssa(obj, configmap({"b": "2"}), "two", now=T1)
    obj = ssa(obj, configmap({"a": "1", "x": "y"}), "one", now=T3)
    assert entries(obj)["one"]["time"] == T3 and entries(obj)["two"]["time"] == T1


def test_applying_the_same_value_shares_ownership_without_changing_time() -> None:
    obj = ssa(None, configmap({"a": "1"}), "one", now=T0)
    obj = ssa(obj, configmap({"a": "1"}), "two", now=T1)
    assert owned(obj, "one") == owned(obj, "two") == [".data.a"]
    assert "time" not in entries(obj)["two"]  # the object did not change, so no time is recorded


def test_inputs_are_never_mutated() -> None:
    schema = ray_schema("RayCluster")
    config = sample("ray-cluster.complete.yaml")
    live = ssa(None, config, "gitops", schema=schema)
    edited = copy.deepcopy(live)
    edited["spec"]["workerGroupSpecs"][0]["replicas"] = 3
    snapshot = copy.deepcopy((live, config, edited))
    after = update(live, edited, manager="auto", schema=schema, api_version="ray.io/v1", subresource=None, now=T2)
    result = apply(after, config, manager="gitops", force=True, schema=schema, api_version="ray.io/v1",
                   subresource=None, now=T3)
    assert (live, config, edited) == snapshot
    result["spec"]["workerGroupSpecs"][0]["replicas"] = 99
    assert after["spec"]["workerGroupSpecs"][0]["replicas"] == 3


# --------------------------------------------------------------------------- behaviour consequences (spec §4)


def test_kubectl_edit_steals_a_field_then_apply_conflicts_then_force_takes_it_back() -> None:
    obj = ssa(None, configmap({"k": "v", "other": "o"}))
    edited = copy.deepcopy(obj)
    edited["data"]["k"] = "edited"
    obj = put(obj, edited, "kubectl-edit")
    assert owned(obj, "kubectl-edit") == [".data.k"] and owned(obj, "kubectl") == [".data.other"]
    with pytest.raises(ApplyConflict) as err:
        ssa(obj, configmap({"k": "mine", "other": "o"}))
    assert str(err.value) == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.k'
    assert err.value.conflicts == [('"kubectl-edit" using v1', ".data.k")]
    assert err.value.causes() == [{"reason": "FieldManagerConflict", "message": 'conflict with "kubectl-edit" using v1',
                                   "field": ".data.k"}]
    forced = ssa(obj, configmap({"k": "mine", "other": "o"}), force=True, now=T3)
    assert forced["data"]["k"] == "mine"
    assert owned(forced, "kubectl") == [".data.k", ".data.other"]
    assert "kubectl-edit" not in entries(forced)  # lost its only field


def test_apply_with_the_value_another_manager_set_does_not_conflict() -> None:
    obj = ssa(None, configmap({"k": "v"}))
    edited = copy.deepcopy(obj)
    edited["data"]["k"] = "edited"
    obj = put(obj, edited, "kubectl-edit")
    shared = ssa(obj, configmap({"k": "edited"}))
    assert owned(shared, "kubectl") == owned(shared, "kubectl-edit") == [".data.k"]


def test_several_conflicts_are_grouped_by_manager() -> None:
    obj = ssa(None, configmap({"a": "1", "b": "2", "c": "3"}), "first")
    with pytest.raises(ApplyConflict) as err:
        ssa(obj, configmap({"a": "x", "b": "y", "c": "3"}), "second")
    assert str(err.value) == 'Apply failed with 2 conflicts: conflicts with "first":\n- .data.a\n- .data.b'
    assert [c[1] for c in err.value.conflicts] == [".data.a", ".data.b"]


def test_status_writer_is_named_with_its_subresource() -> None:
    schema = ray_schema("RayJob")
    obj = ssa(None, sample("ray-job.sample.yaml"), "gitops", schema=schema)
    with_status = copy.deepcopy(obj)
    with_status["status"] = {"jobStatus": "RUNNING"}
    obj = put(obj, with_status, "kuberay-operator", schema=schema, subresource="status")
    assert owned(obj, "kuberay-operator/status") == [".status", ".status.jobStatus"]
    status_apply = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "rayjob-sample"},
                    "status": {"jobStatus": "SUCCEEDED"}}
    with pytest.raises(ApplyConflict) as err:
        ssa(obj, status_apply, "other", schema=schema, subresource="status")
    assert str(err.value) == ('Apply failed with 1 conflict: conflict with "kuberay-operator" with subresource '
                              '"status" using ray.io/v1: .status.jobStatus')


def test_field_dropped_from_config_survives_when_another_manager_owns_it() -> None:
    obj = ssa(None, configmap({"k": "v"}, labels={"app": "x", "team": "t"}))
    labelled = copy.deepcopy(obj)
    labelled["metadata"]["labels"]["team"] = "ops"  # the operator takes the label with an Update
    obj = put(obj, labelled, "operator")
    obj = ssa(obj, configmap({"k": "v"}, labels={"app": "x"}))
    assert obj["metadata"]["labels"] == {"app": "x", "team": "ops"}


def test_field_dropped_from_config_is_removed_when_only_the_applier_owned_it() -> None:
    obj = ssa(None, configmap({"k": "v", "gone": "g"}, labels={"app": "x", "tmp": "1"}))
    obj = ssa(obj, configmap({"k": "v"}, labels={"app": "x"}), now=T3)
    assert obj["data"] == {"k": "v"} and obj["metadata"]["labels"] == {"app": "x"}
    assert owned(obj, "kubectl") == [".data.k", ".metadata.labels.app"]
    emptied = ssa(obj, configmap({"k": "v"}), now=T3)
    assert "labels" not in emptied["metadata"]


def test_fields_the_applier_never_owned_are_never_removed() -> None:
    obj = put(None, configmap({"created": "c"}), "kubectl-create")
    obj = ssa(obj, configmap({"k": "v"}))
    obj = ssa(obj, configmap({}), now=T3)
    assert obj["data"] == {"created": "c"}


def test_atomic_worker_group_specs_conflict_as_a_whole_after_an_autoscaler_update() -> None:
    schema = ray_schema("RayCluster")
    config = sample("ray-cluster.autoscaler.yaml")
    obj = ssa(None, config, "gitops", schema=schema)
    scaled = copy.deepcopy(obj)
    scaled["spec"]["workerGroupSpecs"][0]["replicas"] = 5
    obj = put(obj, scaled, "ray-autoscaler", schema=schema)
    assert owned(obj, "ray-autoscaler") == [".spec.workerGroupSpecs"]
    assert ".spec.workerGroupSpecs" not in owned(obj, "gitops")
    changed = copy.deepcopy(config)
    changed["spec"]["workerGroupSpecs"][0]["maxReplicas"] = 7  # a field the autoscaler never touched
    with pytest.raises(ApplyConflict) as err:
        ssa(obj, changed, "gitops", schema=schema)
    assert str(err.value) == ('Apply failed with 1 conflict: conflict with "ray-autoscaler" using ray.io/v1: '
                              ".spec.workerGroupSpecs")
    without_list = copy.deepcopy(config)
    del without_list["spec"]["workerGroupSpecs"]  # owning less avoids the conflict and keeps the autoscaler's list
    kept = ssa(obj, without_list, "gitops", schema=schema)
    assert kept["spec"]["workerGroupSpecs"][0]["replicas"] == 5
    forced = ssa(obj, changed, "gitops", schema=schema, force=True)
    assert forced["spec"]["workerGroupSpecs"][0]["replicas"] == config["spec"]["workerGroupSpecs"][0]["replicas"]
    assert ".spec.workerGroupSpecs" in owned(forced, "gitops") and "ray-autoscaler" not in entries(forced)


def test_map_list_items_merge_per_key_across_managers() -> None:
    schema = ray_schema("RayCluster")
    base = sample("ray-cluster.sample.yaml")
    head = base["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    obj = ssa(None, base, "gitops", schema=schema)
    sidecar = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": base["metadata"]["name"]},
               "spec": {"headGroupSpec": {"template": {"spec": {"containers": [
                   {"name": head["name"], "env": [{"name": "FROM_B", "value": "b"}]},
                   {"name": "sidecar", "image": "busybox"}]}}}}}
    obj = ssa(obj, sidecar, "team-b", schema=schema)
    containers = obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == [head["name"], "sidecar"]
    assert containers[0]["image"] == head["image"] and containers[0]["env"] == [{"name": "FROM_B", "value": "b"}]
    with_env = copy.deepcopy(base)
    with_env["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "FROM_A", "value": "a"}]
    obj = ssa(obj, with_env, "gitops", schema=schema)
    env = obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"] for e in env} == {"FROM_A", "FROM_B"}
    obj = ssa(obj, base, "gitops", schema=schema)  # team A drops its env entry again
    env = obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "FROM_B", "value": "b"}]
    assert [c["name"] for c in obj["spec"]["headGroupSpec"]["template"]["spec"]["containers"]] == [
        head["name"], "sidecar"]


def test_list_item_dropped_by_its_only_owner_disappears() -> None:
    svc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
    obj = ssa(None, svc, schema=SVC)
    fewer = copy.deepcopy(svc)
    fewer["spec"]["ports"] = [{"port": 443, "name": "https"}]
    obj = ssa(obj, fewer, schema=SVC, now=T3)
    assert obj["spec"]["ports"] == [{"port": 443, "name": "https"}]


def test_merged_list_keeps_config_order_for_shared_items_and_live_position_for_others() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"ports": [{"port": 1}, {"port": 2}, {"port": 3}]}}
    obj = ssa(None, svc, "a", schema=SVC)
    other = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
             "spec": {"ports": [{"port": 3}, {"port": 4}, {"port": 1}]}}
    obj = ssa(obj, other, "b", schema=SVC)
    assert [p["port"] for p in obj["spec"]["ports"]] == [2, 3, 4, 1]  # what merge.go produces


def test_first_apply_to_an_unmanaged_object_attributes_fields_to_before_first_apply() -> None:
    live = configmap({"k": "v", "x": "1"})
    live["metadata"]["uid"] = "u-1"
    obj = ssa(live, configmap({"k": "v"}))
    assert owned(obj, "before-first-apply") == [".data", ".data.k", ".data.x"]
    assert entries(obj)["before-first-apply"]["operation"] == "Update"
    with pytest.raises(ApplyConflict) as err:
        ssa(obj, configmap({"k": "changed"}))
    assert '"before-first-apply" using v1: .data.k' in str(err.value)


def test_status_is_not_owned_through_the_main_endpoint_and_spec_not_through_status() -> None:
    schema = ray_schema("RayJob")
    job = sample("ray-job.sample.yaml")
    job["status"] = {"jobStatus": "RUNNING"}
    obj = ssa(None, job, "gitops", schema=schema)
    assert not any(p.startswith(".status") for p in owned(obj, "gitops"))
    status_body = copy.deepcopy(obj)
    status_body["status"] = {"jobStatus": "SUCCEEDED"}
    status_body["spec"]["entrypoint"] = "ignored by /status"
    obj = put(obj, status_body, "kuberay-operator", schema=schema, subresource="status")
    assert owned(obj, "kuberay-operator/status") == [".status.jobStatus"]
    assert entries(obj)["kuberay-operator/status"]["subresource"] == "status"


def test_undeclared_field_in_apply_config_is_a_500_message() -> None:
    config = sample("ray-cluster.sample.yaml")
    config["spec"]["foo"] = 1
    with pytest.raises(UndeclaredField) as err:
        apply(None, config, manager="m", force=False, schema=ray_schema("RayCluster"), api_version="ray.io/v1",
              subresource=None, now=T1)
    assert err.value.path == ".spec.foo"
    assert str(err.value) == ("failed to create typed patch object (default/raycluster-kuberay; ray.io/v1, "
                              "Kind=RayCluster): .spec.foo: field not declared in schema")


def test_wrong_scalar_type_in_apply_config_is_rejected_like_smd() -> None:
    config = sample("ray-cluster.sample.yaml")
    config["spec"]["workerGroupSpecs"][0]["replicas"] = "three"
    with pytest.raises(UndeclaredField) as err:
        apply(None, config, manager="m", force=False, schema=ray_schema("RayCluster"), api_version="ray.io/v1",
              subresource=None, now=T1)
    assert str(err.value).endswith(".spec.workerGroupSpecs[0].replicas: expected numeric (int or float), got string")


def test_duplicate_keys_in_apply_config_are_rejected() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"ports": [{"port": 80}, {"port": 80, "protocol": "TCP"}]}}
    with pytest.raises(UndeclaredField) as err:
        apply(None, svc, manager="m", force=False, schema=SVC, api_version="v1", subresource=None, now=T1)
    assert str(err.value).endswith('.spec.ports: duplicate entries for key [port=80,protocol="TCP"]')


def test_managed_fields_in_apply_config_are_refused() -> None:
    config = configmap({"k": "v"})
    config["metadata"]["managedFields"] = []
    with pytest.raises(BadApplyRequest, match=r"metadata\.managedFields must be nil"):
        apply(None, config, manager="m", force=False, schema=CM, api_version="v1", subresource=None, now=T1)


# --------------------------------------------------------------------------- update


def test_update_takes_changed_fields_and_removed_fields_leave_every_set() -> None:
    obj = ssa(None, configmap({"a": "1", "b": "2"}))
    body = copy.deepcopy(obj)
    body["data"] = {"a": "changed"}
    obj = put(obj, body, "editor")
    assert owned(obj, "kubectl") == [] and "kubectl" not in entries(obj)
    assert owned(obj, "editor") == [".data.a"]


def test_update_that_changes_nothing_keeps_managed_fields_as_they_are() -> None:
    obj = ssa(None, configmap({"a": "1"}))
    assert put(obj, copy.deepcopy(obj), "editor", now=T3) == obj


def test_put_with_single_empty_entry_clears_managed_fields_and_empty_list_is_ignored() -> None:
    obj = ssa(None, configmap({"a": "1"}))
    ignored = copy.deepcopy(obj)
    ignored["metadata"]["managedFields"] = []
    assert put(obj, ignored, "editor") == obj
    cleared = copy.deepcopy(obj)
    cleared["metadata"]["managedFields"] = [{}]
    cleared["data"]["a"] = "2"
    result = put(obj, cleared, "editor")
    assert "managedFields" not in result["metadata"]
    assert "managedFields" not in put(result, {**result, "data": {"a": "3"}}, "editor")["metadata"]


def test_status_update_ignores_managed_fields_in_the_request() -> None:
    schema = ray_schema("RayJob")
    obj = ssa(None, sample("ray-job.sample.yaml"), "gitops", schema=schema)
    body = copy.deepcopy(obj)
    body["metadata"]["managedFields"] = [{}]
    body["status"] = {"jobStatus": "RUNNING"}
    result = put(obj, body, "kuberay-operator", schema=schema, subresource="status")
    assert set(entries(result)) == {"gitops", "kuberay-operator/status"}


def test_list_item_dropped_by_one_applier_survives_when_another_applier_owns_it() -> None:
    def svc(*ports: int) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
                "spec": {"ports": [{"port": p} for p in ports]}}

    obj = ssa(None, svc(80, 443), "a", schema=SVC)
    obj = ssa(obj, svc(443), "b", schema=SVC)
    obj = ssa(obj, svc(80), "a", schema=SVC, now=T3)
    assert [p["port"] for p in obj["spec"]["ports"]] == [80, 443]
    obj = ssa(obj, svc(), "b", schema=SVC, now=T3)
    assert [p["port"] for p in obj["spec"]["ports"]] == [80]


def test_emptied_list_of_a_builtin_is_dropped_not_left_null() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
           "spec": {"ports": [{"port": 80}], "type": "ClusterIP"}}
    obj = apply(None, svc, manager="m", force=False, schema=SVC, api_version="v1", subresource=None, now=T1)
    without = {**svc, "spec": {"type": "ClusterIP"}}
    obj = apply(obj, without, manager="m", force=False, schema=SVC, api_version="v1", subresource=None, now=T2)
    assert obj["spec"] == {"type": "ClusterIP"}
