"""Fault injection: Nth request or a fraction, 500/503/429/409, latency, dropped connections,
rules from Python and from a file; off by default."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitops_ray.sandbox import Sandbox

PATH = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def box(sandbox: Sandbox) -> Iterator[Sandbox]:
    sandbox.faults.clear()
    yield sandbox
    sandbox.faults.clear()


def _get(box: Sandbox, path: str = PATH, method: str = "GET", body: bytes | None = None) -> tuple[int, dict[str, str],
                                                                                                   bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", box.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_no_faults_by_default(box: Sandbox) -> None:
    assert box.faults.rules == []
    assert all(_get(box)[0] == 200 for _ in range(5))


def test_nth_request_fails_with_503_and_retry_after(box: Sandbox) -> None:
    box.faults.add(path=r"/configmaps$", verbs=["GET"], nth=2, status=503, retry_after=3)
    codes = [_get(box)[0] for _ in range(4)]
    assert codes == [200, 503, 200, 200]
    box.faults.clear()
    box.faults.add(path=r"/configmaps$", nth=1, status=503, retry_after=3)
    status, headers, body = _get(box)
    assert status == 503 and headers["Retry-After"] == "3"
    assert json.loads(body)["reason"] == "ServiceUnavailable"


def test_rule_matches_only_its_verbs_and_path(box: Sandbox) -> None:
    box.faults.add(path=r"/secrets", verbs=["POST"], status=500)
    assert _get(box)[0] == 200
    assert _get(box, "/api/v1/namespaces/default/secrets")[0] == 200
    status, _, body = _get(box, "/api/v1/namespaces/default/secrets", "POST", b'{"metadata":{"name":"s"}}')
    assert status == 500 and json.loads(body)["reason"] == "InternalError"


def test_fraction_with_a_cap_throttles_with_429(box: Sandbox) -> None:
    rule = box.faults.add(path=PATH, fraction=1.0, times=2, status=429, retry_after=1)
    results = [_get(box) for _ in range(4)]
    assert [r[0] for r in results] == [429, 429, 200, 200]
    assert results[0][1]["Retry-After"] == "1"
    assert json.loads(results[0][2])["details"]["retryAfterSeconds"] == 1
    assert rule.fired == 2 and rule.seen == 4


def test_conflict_fault_names_the_object(box: Sandbox) -> None:
    box.faults.add(path=r"/configmaps/kube-root-ca\.crt$", verbs=["PUT"], status=409)
    status, _, body = _get(box, PATH + "/kube-root-ca.crt", "PUT", b"{}")
    assert status == 409
    assert json.loads(body)["message"].startswith('Operation cannot be fulfilled on configmaps "kube-root-ca.crt"')


def test_latency_is_added(box: Sandbox) -> None:
    box.faults.add(path=PATH, latency=0.3)
    started = time.monotonic()
    assert _get(box)[0] == 200
    assert time.monotonic() - started >= 0.3


def test_dropped_connection_cuts_the_response(box: Sandbox) -> None:
    box.faults.add(path=PATH, nth=1, drop=True)
    with pytest.raises((http.client.IncompleteRead, http.client.RemoteDisconnected, ConnectionError)):
        _get(box)
    assert _get(box)[0] == 200


def test_rules_load_from_a_yaml_file(make_sandbox: Callable[..., Sandbox], tmp_path: Path) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text("rules:\n- {path: /configmaps$, verbs: [GET], nth: 1, status: 500}\n")
    box = make_sandbox(faults=rules, install_crds=False)
    assert [_get(box)[0] for _ in range(2)] == [500, 200]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {path: x, colour: red}\n")
    with pytest.raises(ValueError, match="colour"):
        box.faults.load(bad)
