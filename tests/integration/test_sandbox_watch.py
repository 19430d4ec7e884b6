"""Watch (spec §1.8) through the official client and raw HTTP; continue-token expiry."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from gitops_ray.sandbox import Sandbox

Http = Callable[..., Any]


def _ns(kube: Any) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"
    kube.resources.get(api_version="v1", kind="Namespace").create(body={"metadata": {"name": name}})
    return name


def _cm(kube: Any) -> Any:
    return kube.resources.get(api_version="v1", kind="ConfigMap")


def _collect(kube: Any, ns: str, count: int, **kwargs: Any) -> list[tuple[str, str, str]]:
    """(type, name, resourceVersion) of the first `count` events of a watch."""
    events: list[tuple[str, str, str]] = []
    for event in kube.watch(_cm(kube), namespace=ns, timeout=5, **kwargs):
        meta = event["raw_object"]["metadata"]
        events.append((event["type"], meta["name"], meta["resourceVersion"]))
        if len(events) == count:
            break
    return events


def _later(action: Callable[[], Any], delay: float = 0.2) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), action()))
    thread.start()
    return thread


def test_watch_reports_added_modified_deleted_in_order(kube: Any) -> None:
    ns = _ns(kube)
    start = _cm(kube).get(namespace=ns).metadata.resourceVersion

    def writes() -> None:
        _cm(kube).create(body={"metadata": {"name": "a"}, "data": {"k": "1"}}, namespace=ns)
        _cm(kube).patch(body={"data": {"k": "2"}}, name="a", namespace=ns, content_type="application/merge-patch+json")
        _cm(kube).delete(name="a", namespace=ns)

    thread = _later(writes)
    events = _collect(kube, ns, 3, resource_version=start)
    thread.join()
    assert [(t, n) for t, n, _ in events] == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    versions = [int(rv) for _, _, rv in events]
    assert versions == sorted(versions) and len(set(versions)) == 3, "DELETED carries the deletion resourceVersion"


def test_watch_without_resource_version_starts_with_synthetic_added_events(kube: Any) -> None:
    ns = _ns(kube)
    _cm(kube).create(body={"metadata": {"name": "existing"}}, namespace=ns)
    events = _collect(kube, ns, 2)
    assert sorted((t, n) for t, n, _ in events) == [("ADDED", "existing"), ("ADDED", "kube-root-ca.crt")]


def test_watch_resumes_after_a_resource_version(kube: Any) -> None:
    ns = _ns(kube)
    first = _cm(kube).create(body={"metadata": {"name": "one"}}, namespace=ns).metadata.resourceVersion
    _cm(kube).create(body={"metadata": {"name": "two"}}, namespace=ns)
    _cm(kube).create(body={"metadata": {"name": "three"}}, namespace=ns)
    events = _collect(kube, ns, 2, resource_version=first)
    assert [(t, n) for t, n, _ in events] == [("ADDED", "two"), ("ADDED", "three")]


def test_selector_transitions_are_deleted_and_added(kube: Any) -> None:
    ns = _ns(kube)
    start = _cm(kube).get(namespace=ns).metadata.resourceVersion

    def relabel(app: str) -> None:
        _cm(kube).patch(body={"metadata": {"labels": {"app": app}}}, name="s", namespace=ns,
                        content_type="application/merge-patch+json")

    def writes() -> None:
        _cm(kube).create(body={"metadata": {"name": "s", "labels": {"app": "x"}}}, namespace=ns)
        relabel("y")
        relabel("z")
        relabel("x")

    thread = _later(writes)
    events = _collect(kube, ns, 3, resource_version=start, label_selector="app=x")
    thread.join()
    assert [t for t, _, _ in events] == ["ADDED", "DELETED", "ADDED"]


def test_watch_from_a_compacted_resource_version_is_expired(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(watch_history=4)
    for index in range(8):
        _post(box, f"c{index}")
    result = _raw(box, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2&timeoutSeconds=2")
    lines = [json.loads(line) for line in result.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0]["type"] == "ERROR"
    status = lines[0]["object"]
    assert status["code"] == 410 and status["reason"] == "Expired"
    assert status["message"].startswith("too old resource version: 2 (")


def test_python_watch_raises_expired_for_a_compacted_resource_version(make_sandbox: Callable[..., Sandbox],
                                                                      client_for: Callable[[Sandbox], Any]) -> None:
    box = make_sandbox(watch_history=4)
    for index in range(8):
        _post(box, f"c{index}")
    client = client_for(box)
    with pytest.raises(ApiException) as err:
        for _ in client.watch(client.resources.get(api_version="v1", kind="ConfigMap"), namespace="default",
                              resource_version="2", timeout=2):
            pass
    assert err.value.status == 410
    assert str(err.value.reason).startswith("Expired: too old resource version: 2")


def test_watch_stream_ends_after_timeout_seconds(sandbox: Sandbox) -> None:
    started = time.monotonic()
    _raw(sandbox, "/api/v1/namespaces/kube-system/configmaps?watch=true&resourceVersion=1000000&timeoutSeconds=1")
    assert 0.9 <= time.monotonic() - started < 5


def test_continue_token_expires_when_history_is_gone(make_sandbox: Callable[..., Sandbox]) -> None:
    box = make_sandbox(watch_history=3)
    for index in range(3):
        _post(box, f"c{index}")
    token = json.loads(_raw(box, "/api/v1/namespaces/default/configmaps?limit=1"))["metadata"]["continue"]
    status, body = _get(box, f"/api/v1/namespaces/default/configmaps?limit=1&continue={token}")
    assert status == 200 and body["items"][0]["metadata"]["name"] == "c1"
    for index in range(3, 7):
        _post(box, f"c{index}")
    status, body = _get(box, f"/api/v1/namespaces/default/configmaps?limit=1&continue={token}")
    assert status == 410
    assert body["reason"] == "Expired"
    assert body["message"].startswith("The provided continue parameter is too old")


# -- raw HTTP helpers ---------------------------------------------------------------------------------------------
def _post(box: Sandbox, name: str) -> None:
    import urllib.request

    request = urllib.request.Request(f"{box.url}/api/v1/namespaces/default/configmaps", method="POST",
                                     data=json.dumps({"metadata": {"name": name}}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 201


def _raw(box: Sandbox, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(box.url + path, timeout=10) as response:
        return str(response.read().decode())


def _get(box: Sandbox, path: str) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(box.url + path, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
