"""Deletion: finalizers, deletionTimestamp, propagation policies and the owner-reference
cascade, namespaces (system objects, Terminating), CRD lifecycle (spec §3, §5, §6.6-6.7)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

Http = Callable[..., Any]
MERGE = "application/merge-patch+json"


@pytest.fixture
def ns(http: Http) -> str:
    name = f"del-{uuid.uuid4().hex[:8]}"
    assert http("POST", "/api/v1/namespaces", {"metadata": {"name": name}}).status == 201
    return name


def _cm_path(ns: str, name: str = "") -> str:
    return f"/api/v1/namespaces/{ns}/configmaps" + (f"/{name}" if name else "")


def _create(http: Http, ns: str, name: str, **meta: Any) -> dict[str, Any]:
    result = http("POST", _cm_path(ns), {"metadata": {"name": name, **meta}})
    assert result.status == 201, result.json()
    created: dict[str, Any] = result.json()
    return created


def _owner_ref(owner: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], **extra}


def test_delete_without_finalizers_returns_success_status(http: Http, ns: str) -> None:
    created = _create(http, ns, "plain")
    result = http("DELETE", _cm_path(ns, "plain"))
    assert result.status == 200
    assert result.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                             "details": {"name": "plain", "kind": "configmaps", "uid": created["metadata"]["uid"]}}
    assert http("GET", _cm_path(ns, "plain")).status == 404


def test_finalizer_keeps_object_visible_until_removed(http: Http, ns: str) -> None:
    _create(http, ns, "held", finalizers=["example.com/hold"])
    first = http("DELETE", _cm_path(ns, "held"))
    assert first.status == 200
    marked = first.json()
    assert marked["metadata"]["deletionTimestamp"] and marked["metadata"]["deletionGracePeriodSeconds"] == 0
    assert http("GET", _cm_path(ns, "held")).json()["metadata"]["deletionTimestamp"] == \
        marked["metadata"]["deletionTimestamp"]
    again = http("DELETE", _cm_path(ns, "held"))
    assert again.status == 200
    assert again.json()["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
    added = http("PATCH", _cm_path(ns, "held"), {"metadata": {"finalizers": ["example.com/hold", "example.com/x"]}},
                 content_type=MERGE)
    assert added.status == 422
    assert "no new finalizers can be added if the object is being deleted" in added.json()["message"]
    released = http("PATCH", _cm_path(ns, "held"), {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert released.status == 200
    assert http("GET", _cm_path(ns, "held")).status == 404


def test_deletion_timestamp_bumps_custom_resource_generation(http: Http, ns: str) -> None:
    job = {"apiVersion": "ray.io/v1", "kind": "RayJob",
           "metadata": {"name": "j", "finalizers": ["ray.io/rayjob-finalizer"]}, "spec": {"entrypoint": "x"}}
    path = f"/apis/ray.io/v1/namespaces/{ns}/rayjobs"
    assert http("POST", path, job).json()["metadata"]["generation"] == 1
    marked = http("DELETE", f"{path}/j").json()
    assert marked["metadata"]["generation"] == 2
    http("PATCH", f"{path}/j", {"metadata": {"finalizers": []}}, content_type=MERGE)
    assert http("GET", f"{path}/j").status == 404


def test_background_deletion_cascades_to_dependents(http: Http, ns: str) -> None:
    owner = _create(http, ns, "owner")
    _create(http, ns, "child", ownerReferences=[_owner_ref(owner)])
    _create(http, ns, "grandchild", ownerReferences=[
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "child",
         "uid": http("GET", _cm_path(ns, "child")).json()["metadata"]["uid"]}])
    assert http("DELETE", _cm_path(ns, "owner")).status == 200
    for name in ("owner", "child", "grandchild"):
        assert http("GET", _cm_path(ns, name)).status == 404, name


def test_dependent_with_another_live_owner_only_loses_the_dangling_reference(http: Http, ns: str) -> None:
    first, second = _create(http, ns, "first"), _create(http, ns, "second")
    _create(http, ns, "shared", ownerReferences=[_owner_ref(first), _owner_ref(second)])
    http("DELETE", _cm_path(ns, "first"))
    shared = http("GET", _cm_path(ns, "shared")).json()
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["second"]


def test_foreground_deletion_waits_for_dependents(http: Http, ns: str) -> None:
    owner = _create(http, ns, "fg-owner")
    _create(http, ns, "fg-child", ownerReferences=[_owner_ref(owner, blockOwnerDeletion=True)],
            finalizers=["example.com/hold"])
    result = http("DELETE", _cm_path(ns, "fg-owner"), {"propagationPolicy": "Foreground"})
    assert result.status == 200 and "foregroundDeletion" in result.json()["metadata"]["finalizers"]
    waiting = http("GET", _cm_path(ns, "fg-owner")).json()
    assert waiting["metadata"]["deletionTimestamp"]
    assert http("GET", _cm_path(ns, "fg-child")).json()["metadata"]["deletionTimestamp"]
    http("PATCH", _cm_path(ns, "fg-child"), {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert http("GET", _cm_path(ns, "fg-child")).status == 404
    assert http("GET", _cm_path(ns, "fg-owner")).status == 404


def test_orphan_deletion_keeps_dependents_without_the_reference(http: Http, ns: str) -> None:
    owner = _create(http, ns, "or-owner")
    _create(http, ns, "or-child", ownerReferences=[_owner_ref(owner)])
    assert http("DELETE", _cm_path(ns, "or-owner") + "?propagationPolicy=Orphan").status == 200
    assert http("GET", _cm_path(ns, "or-owner")).status == 404
    child = http("GET", _cm_path(ns, "or-child")).json()
    assert "ownerReferences" not in child["metadata"]


def test_orphan_dependents_with_propagation_policy_is_invalid(http: Http, ns: str) -> None:
    _create(http, ns, "both")
    result = http("DELETE", _cm_path(ns, "both"), {"orphanDependents": True, "propagationPolicy": "Background"})
    assert result.status == 422 and result.json()["reason"] == "Invalid"


def test_uid_precondition_mismatch_is_a_conflict(http: Http, ns: str) -> None:
    _create(http, ns, "pre")
    result = http("DELETE", _cm_path(ns, "pre"), {"preconditions": {"uid": "not-the-uid"}})
    assert result.status == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in result.json()["message"]


def test_new_namespace_gets_label_default_service_account_and_root_ca(http: Http, ns: str) -> None:
    namespace = http("GET", f"/api/v1/namespaces/{ns}").json()
    assert namespace["metadata"]["labels"] == {"kubernetes.io/metadata.name": ns}
    assert namespace["spec"] == {"finalizers": ["kubernetes"]} and namespace["status"] == {"phase": "Active"}
    assert http("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default").status == 200
    root_ca = http("GET", _cm_path(ns, "kube-root-ca.crt")).json()
    assert "ca.crt" in root_ca["data"]


def test_system_namespaces_exist(http: Http) -> None:
    names = {i["metadata"]["name"] for i in http("GET", "/api/v1/namespaces").json()["items"]}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_namespace_deletion_removes_its_contents(http: Http, ns: str) -> None:
    _create(http, ns, "content")
    deleted = http("DELETE", f"/api/v1/namespaces/{ns}")
    assert deleted.status == 200 and deleted.json()["status"]["phase"] == "Terminating"
    assert http("GET", f"/api/v1/namespaces/{ns}").status == 404
    assert http("GET", _cm_path(ns)).json()["items"] == []
    assert http("GET", _cm_path(ns, "content")).status == 404


def test_crd_lifecycle_serves_and_then_removes_its_resources(http: Http, ns: str) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                      "spec": {"type": "object", "properties": {
                                          "size": {"type": "integer", "default": 3}}}}}}}]}}
    created = http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert created.status == 201
    established = http("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").json()
    conditions = {c["type"]: c["status"] for c in established["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert established["status"]["storedVersions"] == ["v1"]
    discovery = http("GET", "/apis/example.com/v1").json()
    assert [r["name"] for r in discovery["resources"]] == ["widgets"]
    widget = http("POST", f"/apis/example.com/v1/namespaces/{ns}/widgets",
                  {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}})
    assert widget.status == 201 and widget.json()["spec"] == {"size": 3}
    assert http("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 200
    assert http("GET", "/apis/example.com/v1").status == 404
    assert http("GET", f"/apis/example.com/v1/namespaces/{ns}/widgets/w").status == 404


def test_crd_with_a_non_structural_schema_is_invalid(http: Http) -> None:
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "gadgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "gadgets", "kind": "Gadget"},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                      "spec": {"properties": {"x": {"type": "string"}}}}}}}]}}
    result = http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    assert result.status == 422
    assert result.json()["details"]["causes"][0]["field"] == \
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type"
