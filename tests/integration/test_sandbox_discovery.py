"""Version, health, discovery negotiation, OpenAPI v3 and Table responses (spec §0-§1.4)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from gitops_ray.sandbox import Sandbox

Http = Callable[..., Any]
V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
TABLE = ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
         "application/json")


def test_version_reports_1_32(http: Http) -> None:
    version = http("GET", "/version").json()
    assert version["major"] == "1" and version["minor"] == "32" and version["gitVersion"].startswith("v1.32.")


def test_health_endpoints_answer_ok_as_text(http: Http) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        result = http("GET", path)
        assert result.status == 200 and result.raw == b"ok"
        assert result.headers["Content-Type"].startswith("text/plain")


def test_plain_discovery_lists_groups_versions_and_resources(http: Http, sandbox: Sandbox) -> None:
    api = http("GET", "/api").json()
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    assert api["serverAddressByClientCIDRs"][0]["serverAddress"] == f"127.0.0.1:{sandbox.port}"
    groups = {g["name"]: g for g in http("GET", "/apis").json()["groups"]}
    ray = groups["ray.io"]
    assert [v["version"] for v in ray["versions"]] == ["v1", "v1alpha1"]
    assert ray["preferredVersion"] == {"groupVersion": "ray.io/v1", "version": "v1"}
    assert "apiextensions.k8s.io" in groups and "batch" in groups
    resources = {r["name"]: r for r in http("GET", "/apis/ray.io/v1").json()["resources"]}
    assert resources["rayclusters"]["kind"] == "RayCluster" and resources["rayclusters"]["namespaced"] is True
    assert resources["rayclusters"]["categories"] == ["all"]
    assert resources["rayclusters/status"] == {"name": "rayclusters/status", "singularName": "", "namespaced": True,
                                               "kind": "RayCluster", "verbs": ["get", "patch", "update"]}
    core = {r["name"]: r for r in http("GET", "/api/v1").json()["resources"]}
    assert core["configmaps"]["shortNames"] == ["cm"] and core["namespaces"]["namespaced"] is False
    assert {"namespaces/status", "namespaces/finalize", "services/status"} <= set(core)


def test_aggregated_discovery_is_negotiated_exactly(http: Http) -> None:
    v2 = http("GET", "/apis", headers={"Accept": f"{V2},{V2BETA1},application/json"})
    assert v2.headers["Content-Type"] == V2
    body = v2.json()
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    ray = next(i for i in body["items"] if i["metadata"]["name"] == "ray.io")
    rayclusters = next(r for r in ray["versions"][0]["resources"] if r["resource"] == "rayclusters")
    assert rayclusters["responseKind"] == {"group": "ray.io", "version": "v1", "kind": "RayCluster"}
    assert rayclusters["scope"] == "Namespaced" and rayclusters["subresources"][0]["subresource"] == "status"
    beta = http("GET", "/api", headers={"Accept": f"{V2BETA1},application/json"})
    assert beta.headers["Content-Type"] == V2BETA1
    assert beta.json()["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert beta.json()["items"][0]["versions"][0]["version"] == "v1"
    plain = http("GET", "/apis", headers={"Accept": "application/yaml"})
    assert plain.status == 200 and plain.json()["kind"] == "APIGroupList", "never 406 for discovery"


def test_openapi_v3_root_and_group_version_documents(http: Http) -> None:
    root = http("GET", "/openapi/v3").json()["paths"]
    assert {"api/v1", "apis/ray.io/v1", "apis/ray.io/v1alpha1", "apis/apiextensions.k8s.io/v1"} <= set(root)
    url = root["apis/ray.io/v1"]["serverRelativeURL"]
    assert re.fullmatch(r"/openapi/v3/apis/ray\.io/v1\?hash=[0-9A-F]+", url)
    doc = http("GET", url).json()
    patches = [item["patch"] for item in doc["paths"].values() if "patch" in item]
    raycluster = next(p for p in patches
                      if p["x-kubernetes-group-version-kind"] == {"group": "ray.io", "version": "v1",
                                                                  "kind": "RayCluster"})
    assert {"name": "fieldValidation", "in": "query"}.items() <= next(
        p for p in raycluster["parameters"] if p["name"] == "fieldValidation").items()
    assert "requestBody" not in raycluster
    core = http("GET", root["api/v1"]["serverRelativeURL"]).json()
    kinds = {p["patch"]["x-kubernetes-group-version-kind"]["kind"] for p in core["paths"].values() if "patch" in p}
    assert {"ConfigMap", "Secret", "Namespace", "Service", "ServiceAccount"} <= kinds
    assert http("GET", "/openapi/v2").status == 404


def test_openapi_hash_changes_when_a_crd_is_added(http: Http) -> None:
    before = http("GET", "/openapi/v3").json()["paths"]
    name = f"t{uuid.uuid4().hex[:6]}"
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"{name}s.example.org"},
           "spec": {"group": "example.org", "scope": "Cluster", "names": {"plural": f"{name}s", "kind": name.title()},
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    assert http("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd).status == 201
    after = http("GET", "/openapi/v3").json()["paths"]
    assert "apis/example.org/v1" in after
    assert after["api/v1"] == before["api/v1"]


def test_table_for_core_kinds_has_printer_columns(http: Http) -> None:
    ns = f"t-{uuid.uuid4().hex[:6]}"
    http("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    http("POST", f"/api/v1/namespaces/{ns}/services", {"metadata": {"name": "web"}, "spec": {
        "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}], "selector": {"app": "web"}}})
    table = http("GET", f"/api/v1/namespaces/{ns}/services", headers={"Accept": TABLE}).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert [c["priority"] for c in table["columnDefinitions"]][-1] == 1
    row = table["rows"][0]
    assert row["cells"][:5] == ["web", "ClusterIP", row["cells"][2], "<none>", "80/TCP,443/TCP"]
    assert row["cells"][6] == "app=web"
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "web"
    secrets = http("GET", f"/api/v1/namespaces/{ns}/configmaps", headers={"Accept": TABLE}).json()
    assert [c["name"] for c in secrets["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert secrets["rows"][0]["cells"][:2] == ["kube-root-ca.crt", 1]
    namespaces = http("GET", f"/api/v1/namespaces/{ns}", headers={"Accept": TABLE}).json()
    assert namespaces["rows"][0]["cells"][:2] == [ns, "Active"]


def test_table_for_custom_resources_uses_additional_printer_columns(http: Http) -> None:
    ns = f"t-{uuid.uuid4().hex[:6]}"
    http("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    rc = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "rc"},
          "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [
              {"name": "ray-head", "image": "rayproject/ray"}]}}}}}
    path = f"/apis/ray.io/v1/namespaces/{ns}/rayclusters"
    http("POST", path, rc)
    http("PATCH", f"{path}/rc/status", {"status": {"state": "ready", "desiredWorkerReplicas": 2, "desiredCPU": "3"}},
         content_type="application/merge-patch+json")
    table = http("GET", path, headers={"Accept": TABLE}).json()
    columns = [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [("Name", "string", 0), ("desired workers", "integer", 0), ("available workers", "integer", 0),
                       ("cpus", "string", 0), ("memory", "string", 0), ("gpus", "string", 0), ("tpus", "string", 1),
                       ("status", "string", 0), ("age", "date", 0), ("head pod IP", "string", 1),
                       ("head service IP", "string", 1)]
    cells = table["rows"][0]["cells"]
    assert cells[:8] == ["rc", 2, None, "3", None, None, None, "ready"]
    assert re.fullmatch(r"\d+s", cells[8])
    jobs = http("GET", f"/apis/ray.io/v1alpha1/namespaces/{ns}/rayjobs", headers={"Accept": TABLE})
    assert [c["name"] for c in jobs.json()["columnDefinitions"]] == ["Name", "Age"]
    assert "deprecated" in jobs.headers["Warning"]


def test_python_dynamic_client_discovers_and_lists(kube: Any) -> None:
    rayjobs = kube.resources.get(api_version="ray.io/v1", kind="RayJob")
    assert rayjobs.namespaced and rayjobs.name == "rayjobs"
    assert rayjobs.subresources["status"].kind == "RayJob"
    assert kube.resources.get(api_version="v1", kind="Namespace").get().kind == "NamespaceList"
