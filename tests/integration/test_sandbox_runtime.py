"""Running the sandbox: restart persistence, concurrent writers, `connect`, the CLI,
the request log with Audit-ID, and the simulated operator switch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitops_ray.sandbox import Sandbox, connect
from gitops_ray.sandbox.runtime import read_server_file, running_server

REPO = Path(__file__).resolve().parents[2]


def _request(box: Sandbox, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(box.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), err.headers


def test_objects_versions_and_managed_fields_survive_a_restart(make_sandbox: Callable[..., Sandbox],
                                                               tmp_path: Path) -> None:
    state = tmp_path / "state"
    box = make_sandbox(state)
    _request(box, "POST", "/api/v1/namespaces", {"metadata": {"name": "keep"}})
    status, created, _ = _request(box, "POST", "/api/v1/namespaces/keep/configmaps?fieldManager=writer",
                                  {"metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": "v"}})
    assert status == 201
    box.stop()
    again = make_sandbox(state)
    status, read, _ = _request(again, "GET", "/api/v1/namespaces/keep/configmaps/c")
    assert status == 200
    assert read == created
    _, listed, _ = _request(again, "GET", "/api/v1/namespaces/keep/configmaps")
    assert int(listed["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])
    _, updated, _ = _request(again, "PUT", "/api/v1/namespaces/keep/configmaps/c", {**read, "data": {"k": "w"}})
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    crds = _request(again, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")[1]["items"]
    assert len(crds) == len({c["metadata"]["uid"] for c in crds}) == 4, "restart must not reinstall CRDs"


def test_exactly_one_of_concurrent_writers_with_the_same_version_wins(sandbox: Sandbox) -> None:
    _request(sandbox, "POST", "/api/v1/namespaces", {"metadata": {"name": "race"}})
    _, live, _ = _request(sandbox, "POST", "/api/v1/namespaces/race/configmaps", {"metadata": {"name": "c"}})
    results: list[int] = []
    barrier = threading.Barrier(8)

    def write(index: int) -> None:
        body = {**live, "data": {"writer": str(index)}}
        barrier.wait()
        results.append(_request(sandbox, "PUT", "/api/v1/namespaces/race/configmaps/c", body)[0])

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200] + [409] * 7


def test_concurrent_creates_all_succeed_with_distinct_versions(sandbox: Sandbox) -> None:
    _request(sandbox, "POST", "/api/v1/namespaces", {"metadata": {"name": "many"}})
    versions: list[str] = []

    def create(index: int) -> None:
        status, body, _ = _request(sandbox, "POST", "/api/v1/namespaces/many/configmaps",
                                   {"metadata": {"name": f"c{index}"}})
        assert status == 201
        versions.append(body["metadata"]["resourceVersion"])

    threads = [threading.Thread(target=create, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(versions)) == 10


def test_request_log_has_one_json_line_per_request_with_the_audit_id(sandbox: Sandbox) -> None:
    status, _, headers = _request(sandbox, "GET", "/api/v1/namespaces/default?probe=1",
                                  headers={"Audit-ID": "audit-123", "User-Agent": "probe/1.0"})
    assert status == 200 and headers["Audit-Id"] == "audit-123"
    _, _, generated = _request(sandbox, "GET", "/version")
    assert len(generated["Audit-Id"]) == 36
    entries = [json.loads(line) for line in sandbox.request_log.read_text().splitlines()]
    entry = next(e for e in entries if e["auditID"] == "audit-123")
    assert entry["method"] == "GET" and entry["path"] == "/api/v1/namespaces/default"
    assert entry["query"] == "probe=1" and entry["status"] == 200 and entry["userAgent"] == "probe/1.0"
    assert entry["duration"] >= 0 and entry["time"].endswith("Z")
    _request(sandbox, "POST", "/api/v1/namespaces/default/configmaps?fieldManager=logged",
             {"metadata": {"name": "logged"}}, headers={"Audit-ID": "audit-456"})
    entries = [json.loads(line) for line in sandbox.request_log.read_text().splitlines()]
    assert next(e for e in entries if e["auditID"] == "audit-456")["fieldManager"] == "logged"


def test_connect_reuses_a_running_server_and_starts_one_otherwise(sandbox: Sandbox, tmp_path: Path) -> None:
    with connect(sandbox.state_dir) as kubeconfig:
        assert kubeconfig == sandbox.kubeconfig
    state = tmp_path / "fresh"
    with connect(state) as kubeconfig:
        server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        with urllib.request.urlopen(server + "/healthz") as response:
            assert response.read() == b"ok"
        assert running_server(state) is not None
    assert running_server(state) is None
    assert read_server_file(state) is None


def test_kubeconfig_points_at_the_server(sandbox: Sandbox) -> None:
    config = yaml.safe_load(sandbox.kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == sandbox.url
    assert config["current-context"] == config["contexts"][0]["name"]


def test_cli_serve_detach_kubeconfig_and_stop(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "gitops_ray", "sandbox", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=90)

    started = cli("serve", "--detach", "--no-operator")
    assert started.returncode == 0, started.stderr
    try:
        path = cli("kubeconfig").stdout.strip()
        assert path == str(tmp_path / ".gitops-ray" / "sandbox" / "kubeconfig")
        info = running_server(tmp_path / ".gitops-ray" / "sandbox")
        assert info is not None and info["url"] in Path(path).read_text()
        second = cli("serve", "--detach")
        assert second.returncode != 0 and "already serves" in second.stderr
    finally:
        stopped = cli("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert running_server(tmp_path / ".gitops-ray" / "sandbox") is None
    assert cli("stop").returncode == 1


def test_operator_flag_controls_the_simulated_operator(make_sandbox: Callable[..., Sandbox]) -> None:
    assert make_sandbox(operator=False).operator is None
    with_operator = make_sandbox(operator=True)
    assert with_operator.operator is not None
    with_operator.stop()
    assert with_operator.operator is None


def test_internal_client_writes_go_through_the_pipeline(sandbox: Sandbox) -> None:
    client = sandbox.client
    assert client is not None
    client.create("v1", "namespaces", None, {"metadata": {"name": "internal"}}, field_manager="kuberay-operator")
    created = client.create("v1", "configmaps", "internal", {"metadata": {"name": "c"}, "data": {"a": "1"}},
                            field_manager="kuberay-operator")
    assert created["metadata"]["managedFields"][0]["manager"] == "kuberay-operator"
    listed = client.list("v1", "configmaps", "internal", label_selector=None)
    assert [i["metadata"]["name"] for i in listed] == ["c", "kube-root-ca.crt"]
    assert client.get("v1", "configmaps", "internal", "missing") is None
    status, via_http, _ = _request(sandbox, "GET", "/api/v1/namespaces/internal/configmaps/c")
    assert status == 200 and via_http["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_kuberay_version_is_chosen_at_first_start_and_kept(make_sandbox: Callable[..., Sandbox],
                                                          tmp_path: Path) -> None:
    state = tmp_path / "versioned"
    old = make_sandbox(state, kuberay_version="1.5.1")
    assert old.kuberay_version == "1.5.1"
    assert _request(old, "GET", "/apis/ray.io/v1/raycronjobs")[0] == 404, "RayCronJob arrived in 1.6"
    old.stop()
    kept = make_sandbox(state)
    assert kept.kuberay_version == "1.5.1"
    kept.stop()
    upgraded = make_sandbox(state, kuberay_version="1.7.0")
    assert _request(upgraded, "GET", "/apis/ray.io/v1/raycronjobs")[0] == 200
    crd = _request(upgraded, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/rayclusters.ray.io")[1]
    assert crd["metadata"]["annotations"]["gitops-ray.io/kuberay-version"] == "1.7.0"
    assert crd["metadata"]["generation"] == 2
