"""Merge patch, JSON patch and strategic merge patch, with the API server's semantics and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gitops_ray.sandbox.patches import PatchError, json_patch, merge_patch, strategic_merge_patch
from gitops_ray.sandbox.typeschema import TypeSchema

SVC = TypeSchema.builtin("", "v1", "Service")
SA = TypeSchema.builtin("", "v1", "ServiceAccount")
CM = TypeSchema.builtin("", "v1", "ConfigMap")
JOB = TypeSchema.builtin("batch", "v1", "Job")


def service(*ports: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "ns"},
            "spec": {"ports": list(ports), **spec}}


# --------------------------------------------------------------------------- merge patch


def test_merge_patch_merges_objects_deletes_nulls_and_replaces_lists() -> None:
    target = {"a": {"b": 1, "c": 2}, "l": [1, 2], "keep": True}
    patch = {"a": {"b": None, "d": 4}, "l": [3], "new": {"x": None, "y": 1}}
    assert merge_patch(target, patch) == {"a": {"c": 2, "d": 4}, "l": [3], "keep": True, "new": {"y": 1}}
    assert target == {"a": {"b": 1, "c": 2}, "l": [1, 2], "keep": True}


def test_merge_patch_replaces_a_scalar_with_an_object_and_drops_nulls_in_inserted_values() -> None:
    assert merge_patch({"a": 1}, {"a": {"b": {"c": None, "d": 1}}}) == {"a": {"b": {"d": 1}}}
    assert merge_patch({}, {"l": [{"x": None, "y": 1}, None]}) == {"l": [{"y": 1}, None]}


def test_merge_patch_that_is_not_an_object_is_a_bad_request() -> None:
    with pytest.raises(PatchError) as err:
        merge_patch({"a": 1}, "text")
    assert (str(err.value), err.value.code) == ("Invalid JSON Patch", 400)


# --------------------------------------------------------------------------- JSON patch


def test_json_patch_operations() -> None:
    doc: dict[str, Any] = {"metadata": {"labels": {"a/b": "1"}}, "spec": {"list": [1, 2, 3]}}
    out = json_patch(doc, [
        {"op": "add", "path": "/spec/list/-", "value": 4},
        {"op": "add", "path": "/spec/list/0", "value": 0},
        {"op": "remove", "path": "/spec/list/-1"},
        {"op": "replace", "path": "/metadata/labels/a~1b", "value": "2"},
        {"op": "copy", "from": "/spec/list", "path": "/spec/copied"},
        {"op": "move", "from": "/spec/copied", "path": "/moved"},
        {"op": "test", "path": "/moved/1", "value": 1},
    ])
    assert out == {"metadata": {"labels": {"a/b": "2"}}, "spec": {"list": [0, 1, 2, 3]}, "moved": [0, 1, 2, 3]}
    assert doc["spec"]["list"] == [1, 2, 3]


def test_json_patch_replace_of_a_missing_object_key_adds_it_like_evanphx_v4() -> None:
    assert json_patch({"data": {}}, [{"op": "replace", "path": "/data/k", "value": "v"}]) == {"data": {"k": "v"}}


@pytest.mark.parametrize(("ops", "message"), [
    ([{"op": "remove", "path": "/data/x"}],
     "error in remove for path: '/data/x': Unable to remove nonexistent key: x: missing value"),
    ([{"op": "replace", "path": "/spec/missing/x", "value": 1}],
     "replace operation does not apply: doc is missing path: /spec/missing/x: missing value"),
    ([{"op": "replace", "path": "/list/5", "value": 1}],
     "replace operation does not apply: doc is missing key: /list/5: missing value"),
    ([{"op": "add", "path": "/spec/missing/x", "value": 1}],
     'add operation does not apply: doc is missing path: "/spec/missing/x": missing value'),
    ([{"op": "add", "path": "/list/7", "value": 1}],
     "error in add for path: '/list/7': Unable to access invalid index: 7: invalid index referenced"),
    ([{"op": "test", "path": "/data/k", "value": "other"}], "testing value /data/k failed: test failed"),
    ([{"op": "move", "from": "/data/nope", "path": "/x"}],
     "error in move for path: 'nope': Unable to remove nonexistent key: nope: missing value"),
    ([{"op": "frobnicate", "path": "/x"}], "Unexpected kind: frobnicate"),
    ([{"op": "add", "value": 1}], "add operation failed to decode path: missing value"),
])
def test_json_patch_failures_are_worded_like_the_api_server(ops: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(PatchError) as err:
        json_patch({"data": {"k": "v"}, "list": [1], "spec": {}}, ops)
    assert str(err.value) == message
    assert err.value.code == 422


def test_json_patch_test_of_missing_key_against_null_passes() -> None:
    assert json_patch({"a": 1}, [{"op": "test", "path": "/b", "value": None}]) == {"a": 1}


# --------------------------------------------------------------------------- strategic merge patch


def test_smp_merges_service_ports_by_port_in_patch_order() -> None:
    live = service({"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"})
    out = strategic_merge_patch(live, {"spec": {"ports": [{"port": 80, "targetPort": 9090},
                                                          {"name": "https", "port": 443}]}}, SVC)
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 9090, "protocol": "TCP"},
                                    {"name": "https", "port": 443}]
    assert live["spec"]["ports"][0]["targetPort"] == 8080


def test_smp_puts_new_items_before_the_items_only_the_server_has() -> None:
    out = strategic_merge_patch(service({"port": 80}, {"port": 8080}), {"spec": {"ports": [{"port": 443}]}}, SVC)
    assert [p["port"] for p in out["spec"]["ports"]] == [443, 80, 8080]


def test_smp_set_element_order_decides_the_order() -> None:
    live = service({"port": 1}, {"port": 2}, {"port": 3})
    patch = {"spec": {"$setElementOrder/ports": [{"port": 3}, {"port": 1}, {"port": 2}], "ports": [{"port": 1,
                                                                                                    "name": "one"}]}}
    out = strategic_merge_patch(live, patch, SVC)
    assert out["spec"]["ports"] == [{"port": 3}, {"port": 1, "name": "one"}, {"port": 2}]


def test_smp_delete_and_replace_directives_in_lists() -> None:
    live = service({"port": 1}, {"port": 2})
    deleted = strategic_merge_patch(live, {"spec": {"ports": [{"port": 1, "$patch": "delete"}]}}, SVC)
    assert deleted["spec"]["ports"] == [{"port": 2}]
    replaced = strategic_merge_patch(live, {"spec": {"ports": [{"port": 9}, {"$patch": "replace"}]}}, SVC)
    assert replaced["spec"]["ports"] == [{"port": 9}]


def test_smp_replaces_lists_without_a_merge_strategy() -> None:
    live = service({"port": 1}, externalIPs=["1.1.1.1", "2.2.2.2"])
    out = strategic_merge_patch(live, {"spec": {"externalIPs": ["3.3.3.3"]}}, SVC)
    assert out["spec"]["externalIPs"] == ["3.3.3.3"]


def test_smp_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    live = {"metadata": {"name": "c", "finalizers": ["a", "b"]}, "data": {}}
    assert strategic_merge_patch(live, {"metadata": {"finalizers": ["b", "c"]}}, CM)["metadata"]["finalizers"] \
        == ["a", "b", "c"]
    assert strategic_merge_patch(live, {"metadata": {"finalizers": ["c"]}}, CM)["metadata"]["finalizers"] \
        == ["c", "a", "b"]
    removed = strategic_merge_patch(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, CM)
    assert removed["metadata"]["finalizers"] == ["b"]


def test_smp_owner_references_merge_by_uid_and_secrets_by_name() -> None:
    live = {"metadata": {"name": "sa", "ownerReferences": [{"uid": "1", "name": "one", "kind": "K",
                                                            "apiVersion": "v1"}]},
            "secrets": [{"name": "s1"}]}
    out = strategic_merge_patch(live, {"metadata": {"ownerReferences": [{"uid": "1", "controller": True}]},
                                       "secrets": [{"name": "s2"}]}, SA)
    assert out["metadata"]["ownerReferences"] == [{"uid": "1", "name": "one", "kind": "K", "apiVersion": "v1",
                                                   "controller": True}]
    assert out["secrets"] == [{"name": "s2"}, {"name": "s1"}]


def test_smp_maps_merge_and_null_deletes() -> None:
    live = {"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v", "gone": "g"}}
    out = strategic_merge_patch(live, {"metadata": {"labels": {"b": None, "c": "3"}}, "data": {"gone": None}}, CM)
    assert out == {"metadata": {"name": "c", "labels": {"a": "1", "c": "3"}}, "data": {"k": "v"}}


def test_smp_map_directives_replace_and_retain_keys() -> None:
    live = {"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"k": "v"}}
    replaced = strategic_merge_patch(live, {"metadata": {"labels": {"$patch": "replace", "z": "9"}}}, CM)
    assert replaced["metadata"]["labels"] == {"z": "9"}
    retained = strategic_merge_patch(live, {"data": {"$retainKeys": ["x"], "x": "1"}}, CM)
    assert retained["data"] == {"x": "1"}
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(live, {"data": {"$retainKeys": ["x"], "y": "1"}}, CM)
    assert (str(err.value), err.value.code) == ("invalid patch format of retainKeys", 400)


def test_smp_kubectl_edit_of_a_job_container_merges_by_name() -> None:
    live = {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "ray:1", "env": [{"name": "A", "value": "1"}]},
        {"name": "side", "image": "busybox"}]}}}}
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "main"}, {"name": "side"}],
        "containers": [{"name": "main", "image": "ray:2", "$setElementOrder/env": [{"name": "A"}, {"name": "B"}],
                        "env": [{"name": "B", "value": "2"}]}]}}}}
    out = strategic_merge_patch(live, patch, JOB)
    main, side = out["spec"]["template"]["spec"]["containers"]
    assert main == {"name": "main", "image": "ray:2", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    assert side == {"name": "side", "image": "busybox"}


def test_smp_list_item_without_merge_key_is_an_error() -> None:
    with pytest.raises(PatchError) as err:
        strategic_merge_patch(service({"port": 80}), {"spec": {"ports": [{"targetPort": 8080}]}}, SVC)
    assert str(err.value) == "map: map[targetPort:8080] does not contain declared merge key: port"


def test_smp_does_not_mutate_its_inputs() -> None:
    live = service({"port": 80})
    patch = {"spec": {"ports": [{"port": 81}], "$retainKeys": ["ports"]}}
    before = copy.deepcopy((live, patch))
    strategic_merge_patch(live, patch, SVC)
    assert (live, patch) == before
