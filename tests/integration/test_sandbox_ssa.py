"""Server-side apply through the official client: ownership, conflicts, force, pruning of
dropped fields, no-op applies (spec §4)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from kubernetes.dynamic.exceptions import ConflictError

WORKERS = [{"groupName": "small", "replicas": 1, "minReplicas": 0, "maxReplicas": 5, "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "ray-worker", "image": "rayproject/ray:2.9.0"}]}}}]


def _cluster(name: str, workers: list[dict[str, Any]] | None = None, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": name, "labels": labels},
            "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [
                {"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}}},
                "workerGroupSpecs": workers if workers is not None else WORKERS}}


@pytest.fixture
def ns(kube: Any) -> str:
    name = f"ssa-{uuid.uuid4().hex[:8]}"
    kube.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": name}})
    return name


def _rc(kube: Any) -> Any:
    return kube.resources.get(api_version="ray.io/v1", kind="RayCluster")


def _apply(kube: Any, ns: str, body: dict[str, Any], manager: str = "gitops", force: bool = False,
           **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = kube.server_side_apply(_rc(kube), body=body, namespace=ns, field_manager=manager,
                                                    force_conflicts=force, **kwargs).to_dict()
    return result


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"]["managedFields"]}


def test_apply_creates_and_records_apply_ownership(kube: Any, ns: str) -> None:
    created = _apply(kube, ns, _cluster("rc", team="a"))
    entry = _managers(created)[("gitops", "Apply")]
    assert entry["apiVersion"] == "ray.io/v1" and entry["fieldsType"] == "FieldsV1"
    assert entry["fieldsV1"]["f:metadata"]["f:labels"] == {"f:team": {}}
    assert "f:workerGroupSpecs" in entry["fieldsV1"]["f:spec"]


def test_reapplying_the_same_config_changes_nothing(kube: Any, ns: str) -> None:
    first = _apply(kube, ns, _cluster("rc"))
    again = _apply(kube, ns, _cluster("rc"))
    assert again["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert again["metadata"]["managedFields"] == first["metadata"]["managedFields"]


def test_update_by_another_manager_conflicts_until_forced(kube: Any, ns: str) -> None:
    _apply(kube, ns, _cluster("rc"))
    edited = json.loads(json.dumps(WORKERS))
    edited[0]["replicas"] = 3
    _rc(kube).patch(body={"spec": {"workerGroupSpecs": edited}}, name="rc", namespace=ns,
                    content_type="application/merge-patch+json", field_manager="kubectl-edit")
    with pytest.raises(ConflictError) as err:
        _apply(kube, ns, _cluster("rc"))
    status = json.loads(err.value.body)
    assert status["message"] == ('Apply failed with 1 conflict: conflict with "kubectl-edit" using ray.io/v1: '
                                 ".spec.workerGroupSpecs")
    forced = _apply(kube, ns, _cluster("rc"), force=True)
    assert forced["spec"]["workerGroupSpecs"][0]["replicas"] == 1
    owners = _managers(forced)
    assert "f:workerGroupSpecs" in owners[("gitops", "Apply")]["fieldsV1"]["f:spec"]
    assert ("kubectl-edit", "Update") not in owners or \
        "f:workerGroupSpecs" not in owners[("kubectl-edit", "Update")]["fieldsV1"].get("f:spec", {})


def test_same_value_from_two_appliers_is_shared_not_a_conflict(kube: Any, ns: str) -> None:
    _apply(kube, ns, _cluster("rc", team="a"))
    other = _apply(kube, ns, {"apiVersion": "ray.io/v1", "kind": "RayCluster",
                              "metadata": {"name": "rc", "labels": {"team": "a"}}}, manager="other")
    assert other["metadata"]["labels"] == {"team": "a"}


def test_dropping_a_field_removes_it_unless_someone_else_owns_it(kube: Any, ns: str) -> None:
    _apply(kube, ns, _cluster("rc", team="a", tier="web"))
    # An Update takes ownership of what it changes only: `tier` moves to the operator, `team` stays ours.
    _rc(kube).patch(body={"metadata": {"labels": {"tier": "api", "team": "a", "owner": "op"}}}, name="rc",
                    namespace=ns, content_type="application/merge-patch+json", field_manager="operator")
    result = _apply(kube, ns, _cluster("rc", team="a"))
    assert result["metadata"]["labels"] == {"team": "a", "tier": "api", "owner": "op"}
    _apply(kube, ns, _cluster("rc"), manager="gitops")
    after = _rc(kube).get(name="rc", namespace=ns).to_dict()
    assert "team" not in after["metadata"].get("labels", {})


def test_dry_run_apply_checks_conflicts_without_persisting(kube: Any, ns: str) -> None:
    created = _apply(kube, ns, _cluster("rc", team="a"))
    preview = _apply(kube, ns, _cluster("rc", team="b"), dry_run="All")
    assert preview["metadata"]["labels"]["team"] == "b"
    live = _rc(kube).get(name="rc", namespace=ns).to_dict()
    assert live["metadata"]["labels"]["team"] == "a"
    assert live["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    _rc(kube).patch(body={"metadata": {"labels": {"team": "c"}}}, name="rc", namespace=ns,
                    content_type="application/merge-patch+json", field_manager="editor")
    with pytest.raises(ConflictError):
        _apply(kube, ns, _cluster("rc", team="b"), dry_run="All")


def test_apply_to_status_subresource_is_owned_with_subresource(kube: Any, ns: str) -> None:
    _apply(kube, ns, _cluster("rc"))
    status = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "rc"},
              "status": {"state": "ready"}}
    result = kube.server_side_apply(_rc(kube).status, body=status, namespace=ns, field_manager="kuberay-operator",
                                    force_conflicts=True).to_dict()
    assert result["status"]["state"] == "ready"
    entry = _managers(result)[("kuberay-operator", "Apply")]
    assert entry["subresource"] == "status"
    assert result["metadata"]["generation"] == 1


def test_apply_to_core_kind_and_create_status_code(sandbox: Any, ns: str) -> None:
    import urllib.request

    body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}})
    url = f"{sandbox.url}/api/v1/namespaces/{ns}/configmaps/c?fieldManager=gitops"
    request = urllib.request.Request(url, data=body.encode(), method="PATCH",
                                     headers={"Content-Type": "application/apply-patch+yaml"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 201
    with urllib.request.urlopen(urllib.request.Request(url, data=body.encode(), method="PATCH", headers={
            "Content-Type": "application/apply-patch+yaml"})) as response:
        assert response.status == 200
