"""Every error case of spec §1.9: HTTP status, reason, exact message and details."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

Http = Callable[..., Any]
HTTPResult = Any
APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"
RC = "/apis/ray.io/v1/namespaces/{ns}/rayclusters"
CM = "/api/v1/namespaces/{ns}/configmaps"
RAYCLUSTER = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "rc"},
              "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [
                  {"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}}}}}


def _status(result: HTTPResult, code: int, reason: str | None) -> dict[str, Any]:
    body: dict[str, Any] = result.json()
    assert result.status == code, body
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == code
    assert body.get("reason") == reason
    return body


@pytest.fixture
def ns(http: Http) -> str:
    name = f"err-{uuid.uuid4().hex[:8]}"
    assert http("POST", "/api/v1/namespaces", {"metadata": {"name": name}}).status == 201
    return name


def test_missing_object_is_not_found_with_plural_details(http: Http, ns: str) -> None:
    core = _status(http("GET", CM.format(ns=ns) + "/x"), 404, "NotFound")
    assert core["message"] == 'configmaps "x" not found'
    assert core["details"] == {"name": "x", "kind": "configmaps"}
    custom = _status(http("GET", RC.format(ns=ns) + "/x"), 404, "NotFound")
    assert custom["message"] == 'rayclusters.ray.io "x" not found'
    assert custom["details"] == {"name": "x", "group": "ray.io", "kind": "rayclusters"}


def test_unknown_path_or_type_is_a_generic_not_found(http: Http) -> None:
    for path in ("/apis/ray.io/v1/namespaces/default/nonsense", "/apis/nope.io/v1", "/nothing/here"):
        body = _status(http("GET", path), 404, "NotFound")
        assert body["message"] == "the server could not find the requested resource"
        assert body["details"] == {}


def test_create_in_missing_namespace_is_not_found_for_the_namespace(http: Http) -> None:
    for body in ({"metadata": {"name": "c"}}, None):
        if body is None:
            result = http("PATCH", CM.format(ns="foo") + "/c?fieldManager=m",
                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, content_type=APPLY)
        else:
            result = http("POST", CM.format(ns="foo"), body)
        status = _status(result, 404, "NotFound")
        assert status["message"] == 'namespaces "foo" not found'
        assert status["details"] == {"name": "foo", "kind": "namespaces"}


def test_create_of_existing_object_is_already_exists(http: Http, ns: str) -> None:
    assert http("POST", CM.format(ns=ns), {"metadata": {"name": "x"}}).status == 201
    body = _status(http("POST", CM.format(ns=ns), {"metadata": {"name": "x"}}), 409, "AlreadyExists")
    assert body["message"] == 'configmaps "x" already exists'
    assert body["details"] == {"name": "x", "kind": "configmaps"}


def test_stale_resource_version_in_patch_and_delete_precondition_conflict(http: Http, ns: str) -> None:
    created = http("POST", RC.format(ns=ns), RAYCLUSTER).json()
    stale = str(int(created["metadata"]["resourceVersion"]) - 1)
    body = _status(http("PATCH", RC.format(ns=ns) + "/rc", {"metadata": {"resourceVersion": stale}},
                        content_type=MERGE), 409, "Conflict")
    assert body["message"] == ('Operation cannot be fulfilled on rayclusters.ray.io "rc": the object has been '
                               "modified; please apply your changes to the latest version and try again")
    assert body["details"] == {"name": "rc", "group": "ray.io", "kind": "rayclusters"}
    delete = _status(http("DELETE", RC.format(ns=ns) + "/rc", {"preconditions": {"resourceVersion": stale}}),
                     409, "Conflict")
    assert delete["message"].startswith('Operation cannot be fulfilled on rayclusters.ray.io "rc": Precondition failed')


def test_server_side_apply_conflict_names_the_other_manager_and_field(http: Http, ns: str) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"k": "a"}}
    assert http("PATCH", CM.format(ns=ns) + "/ssa?fieldManager=gitops", config, content_type=APPLY).status == 201
    assert http("PATCH", CM.format(ns=ns) + "/ssa?fieldManager=kubectl-edit", {"data": {"k": "b"}},
                content_type=MERGE).status == 200
    body = _status(http("PATCH", CM.format(ns=ns) + "/ssa?fieldManager=gitops", config, content_type=APPLY),
                   409, "Conflict")
    assert body["message"] == 'Apply failed with 1 conflict: conflict with "kubectl-edit" using v1: .data.k'
    assert body["details"]["causes"] == [{"reason": "FieldManagerConflict",
                                          "message": 'conflict with "kubectl-edit" using v1', "field": ".data.k"}]


def test_validation_errors_are_invalid_with_field_causes(http: Http, ns: str) -> None:
    body = _status(http("POST", RC.format(ns=ns), {**RAYCLUSTER, "spec": {}}), 422, "Invalid")
    # The RayCluster schema has CEL rules, which a blocking schema error keeps from running; 1.32 says so.
    assert body["message"] == ('RayCluster.ray.io "rc" is invalid: [spec.headGroupSpec: Required value, <nil>: '
                               'Invalid value: "null": some validation rules were not checked because the object '
                               "was invalid; correct the existing errors to complete validation]")
    assert body["details"]["name"] == "rc" and body["details"]["group"] == "ray.io"
    assert body["details"]["kind"] == "RayCluster"
    assert body["details"]["causes"][0] == {"reason": "FieldValueRequired", "message": "Required value",
                                            "field": "spec.headGroupSpec"}
    job = {"apiVersion": "ray.io/v1", "kind": "RayJob", "metadata": {"name": "j"},
           "spec": {"entrypoint": "x", "ttlSecondsAfterFinished": "soon"}}
    typed = _status(http("POST", f"/apis/ray.io/v1/namespaces/{ns}/rayjobs", job), 422, "Invalid")
    assert typed["details"]["causes"][0] == {
        "reason": "FieldValueTypeInvalid", "field": "spec.ttlSecondsAfterFinished",
        "message": 'Invalid value: "string": spec.ttlSecondsAfterFinished in body must be of type integer: "string"'}
    bad = {**RAYCLUSTER, "metadata": {"name": "Bad_Name", "labels": {"a": "b c"}}}
    several = _status(http("POST", RC.format(ns=ns), bad), 422, "Invalid")
    assert several["message"].startswith('RayCluster.ray.io "Bad_Name" is invalid: [metadata.name: Invalid value: '
                                         '"Bad_Name": a lowercase RFC 1123 subdomain')
    assert {c["field"] for c in several["details"]["causes"]} == {"metadata.name", "metadata.labels"}
    core = _status(http("POST", "/api/v1/namespaces", {"metadata": {"name": "x" * 64}}), 422, "Invalid")
    long_name = "x" * 64
    assert core["message"].startswith(f'Namespace "{long_name}" is invalid: [metadata.name: Invalid value: '
                                      f'"{long_name}": must be no more than 63 characters')
    assert core["details"]["kind"] == "Namespace" and "group" not in core["details"]


def test_bad_patch_options_name_the_options_kind(http: Http, ns: str) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    body = _status(http("PATCH", CM.format(ns=ns) + "/x", config, content_type=APPLY), 422, "Invalid")
    assert body["message"] == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
                               "for apply patch")
    assert body["details"]["group"] == "meta.k8s.io" and body["details"]["kind"] == "PatchOptions"
    forced = _status(http("PATCH", CM.format(ns=ns) + "/x?force=true", {"data": {}}, content_type=MERGE),
                     422, "Invalid")
    assert forced["message"] == 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified ' \
                                "for non-apply patch"
    dry = _status(http("POST", CM.format(ns=ns) + "?dryRun=Maybe", config), 422, "Invalid")
    assert dry["message"].startswith('CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value')


def test_name_in_body_must_match_the_url(http: Http, ns: str) -> None:
    http("POST", CM.format(ns=ns), {"metadata": {"name": "b"}})
    body = _status(http("PUT", CM.format(ns=ns) + "/b", {"metadata": {"name": "a"}}), 400, "BadRequest")
    assert body["message"] == "the name of the object (a) does not match the name on the URL (b)"


def test_unknown_field_with_strict_validation_is_a_bad_request(http: Http, ns: str) -> None:
    bad = {**RAYCLUSTER, "spec": {**RAYCLUSTER["spec"], "foo": 1}}
    body = _status(http("POST", RC.format(ns=ns) + "?fieldValidation=Strict", bad), 400, "BadRequest")
    assert body["message"] == ('RayCluster in version "v1" cannot be handled as a RayCluster: strict decoding '
                               'error: unknown field "spec.foo"')


def test_unknown_field_with_default_validation_is_pruned_with_a_warning(http: Http, ns: str) -> None:
    bad = {**RAYCLUSTER, "spec": {**RAYCLUSTER["spec"], "foo": 1}}
    result = http("POST", RC.format(ns=ns), bad)
    assert result.status == 201
    assert result.headers.get_all("Warning") == ['299 - "unknown field \\"spec.foo\\""']
    assert "foo" not in result.json()["spec"]
    ignored = http("PUT", RC.format(ns=ns) + "/rc?fieldValidation=Ignore", {**result.json(), "bar": 1})
    assert ignored.status == 200 and not ignored.headers.get_all("Warning")


def test_bad_apply_bodies_are_bad_requests(http: Http, ns: str) -> None:
    url = CM.format(ns=ns) + "/x?fieldManager=m"
    wrong = _status(http("PATCH", url, {"apiVersion": "v2", "kind": "ConfigMap", "metadata": {"name": "x"}},
                         content_type=APPLY), 400, "BadRequest")
    assert wrong["message"] == "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1"
    managed = _status(http("PATCH", url, {"apiVersion": "v1", "kind": "ConfigMap",
                                          "metadata": {"name": "x", "managedFields": [{"manager": "m"}]}},
                           content_type=APPLY), 400, "BadRequest")
    assert managed["message"] == "metadata.managedFields must be nil"
    garbage = _status(http("PATCH", url, b"{: [", content_type=APPLY), 400, "BadRequest")
    assert garbage["message"].startswith("error decoding YAML: ")


def test_create_in_terminating_namespace_is_forbidden(http: Http, ns: str) -> None:
    http("POST", CM.format(ns=ns), {"metadata": {"name": "held", "finalizers": ["example.com/hold"]}})
    deleted = http("DELETE", f"/api/v1/namespaces/{ns}")
    assert deleted.status == 200 and deleted.json()["status"]["phase"] == "Terminating"
    body = _status(http("POST", CM.format(ns=ns), {"metadata": {"name": "x"}}), 403, "Forbidden")
    assert body["message"] == (f'configmaps "x" is forbidden: unable to create new content in namespace {ns} '
                               "because it is being terminated")
    assert body["details"]["causes"] == [{"reason": "NamespaceTerminating",
                                          "message": f"namespace {ns} is being terminated",
                                          "field": "metadata.namespace"}]
    recreate = _status(http("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}), 409, "AlreadyExists")
    assert recreate["message"] == f'namespaces "{ns}" already exists'
    http("PATCH", CM.format(ns=ns) + "/held", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert http("GET", f"/api/v1/namespaces/{ns}").status == 404


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_deleting_a_protected_namespace_is_forbidden(http: Http, name: str) -> None:
    body = _status(http("DELETE", f"/api/v1/namespaces/{name}"), 403, "Forbidden")
    assert body["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'


def test_strategic_merge_patch_on_a_custom_resource_is_unsupported(http: Http, ns: str) -> None:
    http("POST", RC.format(ns=ns), RAYCLUSTER)
    body = _status(http("PATCH", RC.format(ns=ns) + "/rc", {"metadata": {"labels": {"a": "b"}}},
                        content_type="application/strategic-merge-patch+json"), 415, "UnsupportedMediaType")
    assert body["message"] == ("the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml")


def test_server_side_apply_of_an_undeclared_field_is_an_internal_error(http: Http, ns: str) -> None:
    config = {**RAYCLUSTER, "spec": {**RAYCLUSTER["spec"], "foo": 1}}
    body = _status(http("PATCH", RC.format(ns=ns) + "/rc?fieldManager=m", config, content_type=APPLY), 500, None)
    assert body["message"] == (f"failed to create typed patch object ({ns}/rc; ray.io/v1, Kind=RayCluster): "
                               ".spec.foo: field not declared in schema")


def test_error_bodies_are_json_statuses_for_every_verb(http: Http, ns: str) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        result = http(method, CM.format(ns=ns) + "/absent", {"metadata": {"name": "absent"}},
                      content_type=MERGE if method == "PATCH" else "application/json")
        assert result.status == 404, method
        assert json.loads(result.raw)["reason"] == "NotFound"


def test_several_apply_conflicts_are_listed_under_one_manager(http: Http, ns: str) -> None:
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "multi"}, "data": {"a": "1", "b": "1"}}
    http("PATCH", CM.format(ns=ns) + "/multi?fieldManager=gitops", config, content_type=APPLY)
    http("PATCH", CM.format(ns=ns) + "/multi?fieldManager=m", {"data": {"a": "2", "b": "2"}}, content_type=MERGE)
    body = _status(http("PATCH", CM.format(ns=ns) + "/multi?fieldManager=gitops", config, content_type=APPLY),
                   409, "Conflict")
    assert body["message"] == 'Apply failed with 2 conflicts: conflicts with "m" using v1:\n- .data.a\n- .data.b'
    assert [c["field"] for c in body["details"]["causes"]] == [".data.a", ".data.b"]


def test_namespace_in_body_must_match_the_url(http: Http, ns: str) -> None:
    body = _status(http("POST", CM.format(ns=ns), {"metadata": {"name": "x", "namespace": "other"}}),
                   400, "BadRequest")
    assert body["message"] == "the namespace of the provided object does not match the namespace sent on the request"


def test_put_creates_only_where_the_kind_allows_it(http: Http, ns: str) -> None:
    service = {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
    assert http("PUT", f"/api/v1/namespaces/{ns}/services/svc", service).status == 201
    missing = _status(http("PUT", CM.format(ns=ns) + "/nope", {"metadata": {"name": "nope"}}), 404, "NotFound")
    assert missing["message"] == 'configmaps "nope" not found'


def test_create_with_a_resource_version_is_refused(http: Http, ns: str) -> None:
    body = _status(http("POST", CM.format(ns=ns), {"metadata": {"name": "rv", "resourceVersion": "5"}}), 500, None)
    assert body["message"] == "resourceVersion should not be set on objects to be created"


def test_refusals_come_in_the_api_servers_order(http: Http, ns: str) -> None:
    bad = {**RAYCLUSTER, "spec": {"foo": 1}}
    assert http("POST", RC.format(ns="nowhere") + "?fieldValidation=Strict", bad).status == 400  # decoding first
    assert http("POST", RC.format(ns="nowhere"), bad).status == 404  # then namespace admission
    http("POST", CM.format(ns=ns), {"metadata": {"name": "dup"}})
    assert http("POST", CM.format(ns=ns), {"metadata": {"name": "dup", "labels": {"a": "b c"}}}).status == 422
    assert http("POST", CM.format(ns=ns), {"metadata": {"name": "dup"}}).status == 409  # storage last
