from __future__ import annotations

import copy

from gitops_ray.engine.diff import MASK, carry_owned_fields, compare, expand, in_sync, parse_pointer, pointer
from gitops_ray.quantity import parse_quantity

RC = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "rc", "namespace": "ns", "labels": {"app": "x"}},
    "spec": {
        "enableInTreeAutoscaling": True,
        "headGroupSpec": {"template": {"spec": {"containers": [{"name": "head", "image": "ray:2.46.0",
                                                                 "resources": {"limits": {"cpu": "0.5"}}}]}}},
        "workerGroupSpecs": [{"groupName": "cpu", "replicas": 1, "maxReplicas": 5,
                              "template": {"spec": {"containers": [{"name": "w", "image": "ray:2.46.0"}]}}}],
    },
}


def live_of(desired, **server_fields):
    live = copy.deepcopy(desired)
    live["metadata"].update({"uid": "u1", "resourceVersion": "7", "generation": 2,
                             "creationTimestamp": "2026-01-01T00:00:00Z"})
    live["metadata"]["annotations"] = {"ray.io/operator": "x", "gitops-ray.io/run": "r1"}
    live["status"] = {"state": "ready"}
    live["spec"]["workerGroupSpecs"][0]["numOfHosts"] = 1  # a server default Git does not mention
    live.update(server_fields)
    return live


def test_server_fields_status_and_foreign_annotations_are_not_drift():
    assert compare(RC, live_of(RC), kind="RayCluster") == ()
    assert in_sync(RC, live_of(RC))


def test_quantities_compare_by_value():
    live = live_of(RC)
    live["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "500m"
    assert in_sync(RC, live)
    assert parse_quantity("1Gi") == 1024**3 and parse_quantity("1500m") == parse_quantity(1.5)


def test_changed_field_is_reported_with_a_json_pointer():
    live = live_of(RC)
    live["spec"]["workerGroupSpecs"][0]["maxReplicas"] = 3
    [change] = compare(RC, live, kind="RayCluster")
    assert (change.path, change.op, change.before, change.after) == (
        "/spec/workerGroupSpecs/0/maxReplicas", "change", 3, 5)


def test_ignored_paths_are_not_drift_and_are_carried_on_apply():
    live = live_of(RC)
    live["spec"]["workerGroupSpecs"][0]["replicas"] = 4
    ignore = [parse_pointer("/spec/workerGroupSpecs/*/replicas")]
    assert compare(RC, live, kind="RayCluster") != ()
    assert compare(RC, live, kind="RayCluster", ignore=ignore) == ()
    carried = carry_owned_fields(RC, live, ignore)
    assert carried["spec"]["workerGroupSpecs"][0]["replicas"] == 4
    assert RC["spec"]["workerGroupSpecs"][0]["replicas"] == 1  # input untouched


def test_secret_values_are_masked_but_keys_are_named():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
               "stringData": {"token": "canary-s3cr3t"}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
            "data": {"token": "b2xkLXZhbHVl"}, "type": "Opaque"}
    changes = compare(desired, live, kind="Secret")
    assert [c.path for c in changes] == ["/data/token"]
    assert "canary" not in repr(changes) and changes[0].after == MASK
    created = compare(desired, None, kind="Secret")
    assert "canary" not in repr(created)


def test_secret_string_data_matching_live_data_is_in_sync():
    desired = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "value"}}
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "dmFsdWU="}}
    assert compare(desired, live, kind="Secret") == ()


def test_container_env_values_are_masked():
    desired = copy.deepcopy(RC)
    desired["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "TOKEN",
                                                                                     "value": "canary-env"}]
    live = live_of(desired)
    live["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "older"
    changes = compare(desired, live, kind="RayCluster")
    assert [c.path for c in changes] == ["/spec/headGroupSpec/template/spec/containers/0/env/0/value"]
    assert "canary" not in repr(changes) and "older" not in repr(changes)


def test_fields_we_applied_and_git_dropped_are_removals_unless_someone_else_owns_them():
    desired = copy.deepcopy(RC)
    live = live_of(RC)
    live["metadata"]["labels"].update({"old": "1", "shared": "2"})
    live["metadata"]["managedFields"] = [
        {"manager": "gitops-ray", "operation": "Apply", "fieldsV1": {
            "f:metadata": {"f:labels": {"f:app": {}, "f:old": {}, "f:shared": {}}}}},
        {"manager": "kubectl-label", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {"f:shared": {}}}}},
    ]
    changes = compare(desired, live, kind="RayCluster")
    assert [(c.path, c.op, c.before) for c in changes] == [("/metadata/labels/old", "remove", "1")]


def test_map_list_item_removal_resolves_keys():
    desired = copy.deepcopy(RC)
    live = live_of(RC)
    containers = live["spec"]["headGroupSpec"]["template"]["spec"]["containers"]
    containers.append({"name": "sidecar", "image": "busybox"})
    live["metadata"]["managedFields"] = [{"manager": "gitops-ray", "operation": "Apply", "fieldsV1": {
        "f:spec": {"f:headGroupSpec": {"f:template": {"f:spec": {"f:containers": {
            'k:{"name":"head"}': {".": {}, "f:image": {}}, 'k:{"name":"sidecar"}': {".": {}, "f:image": {}}}}}}}}}]
    [change] = compare(desired, live, kind="RayCluster")
    assert change.path == "/spec/headGroupSpec/template/spec/containers/1" and change.op == "remove"


def test_pointer_helpers():
    assert pointer(("metadata", "annotations", "a/b")) == "/metadata/annotations/a~1b"
    assert parse_pointer("/metadata/annotations/a~1b") == ("metadata", "annotations", "a/b")
    assert list(expand(RC, ("spec", "workerGroupSpecs", "*", "replicas"))) == [("spec", "workerGroupSpecs", 0,
                                                                                 "replicas")]
