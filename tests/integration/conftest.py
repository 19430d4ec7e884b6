"""Fixtures for tests against the embedded sandbox API server.

`sandbox` is one server per test module (operator off), `operator_sandbox` the
same with the simulated KubeRay operator on, `make_sandbox` starts extra ones
with any options. `kube` is the official client's DynamicClient with its own
discovery cache file; `kubectl` runs the real kubectl with `--kubeconfig` and
its own `--cache-dir`. Without kubectl its tests skip with one line, except in CI
(`GITOPS_RAY_REQUIRE_KUBECTL=1`, set by .ci/run), where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from needs import kubectl_binary

from gitops_ray.sandbox import Sandbox

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox"), operator=False) as box:
        yield box


@pytest.fixture(scope="module")
def operator_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    with Sandbox(tmp_path_factory.mktemp("sandbox-operator"), operator=True) as box:
        yield box


@pytest.fixture
def make_sandbox(tmp_path: Path) -> Iterator[Callable[..., Sandbox]]:
    """`make_sandbox(state_dir=None, **options)` -> a started Sandbox, stopped after the test."""
    started: list[Sandbox] = []

    def make(state_dir: Path | None = None, **options: Any) -> Sandbox:
        options.setdefault("operator", False)
        box = Sandbox(state_dir or tmp_path / f"sandbox{len(started)}", **options).start()
        started.append(box)
        return box

    yield make
    for box in reversed(started):
        box.stop()


def dynamic_client(box: Sandbox, cache_file: Path) -> Any:
    from kubernetes import config, dynamic

    api_client = config.new_client_from_config(config_file=str(box.kubeconfig))
    return dynamic.DynamicClient(api_client, cache_file=str(cache_file))


@pytest.fixture(scope="module")
def kube(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return dynamic_client(sandbox, tmp_path_factory.mktemp("kube-cache") / "discovery.json")


@pytest.fixture
def client_for(tmp_path: Path) -> Callable[[Sandbox], Any]:
    """`client_for(box)` -> a DynamicClient for another sandbox, with its own cache file."""
    count = [0]

    def make(box: Sandbox) -> Any:
        count[0] += 1
        return dynamic_client(box, tmp_path / f"discovery-{count[0]}.json")

    return make


def kubectl_runner(box: Sandbox, cache_dir: Path) -> Kubectl:
    binary = kubectl_binary()

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60,
            env: dict[str, str] | None = None) -> Any:
        command = [binary, "--kubeconfig", str(box.kubeconfig), "--cache-dir", str(cache_dir), *args]
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **env} if env else None)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    return run


@pytest.fixture(scope="module")
def kubectl(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """`kubectl("get", "ns", check=True, input=None)` -> CompletedProcess (check raises on failure)."""
    return kubectl_runner(sandbox, tmp_path_factory.mktemp("kubectl-cache"))


class HTTPResult:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = body

    def json(self) -> Any:
        return json.loads(self.raw)


def http_call(box: Sandbox, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
              headers: dict[str, str] | None = None, timeout: float = 30) -> HTTPResult:
    """A plain HTTP request (no client library in between), for exact status/headers/body checks."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(box.url + path, data=data, method=method,
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HTTPResult(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        return HTTPResult(err.code, err.headers, err.read())


@pytest.fixture(scope="module")
def http(sandbox: Sandbox) -> Callable[..., HTTPResult]:
    """`http("GET", "/api/v1/namespaces")` -> HTTPResult(status, headers, raw) with `.json()`."""
    return lambda method, path, body=None, **kwargs: http_call(sandbox, method, path, body, **kwargs)


@pytest.fixture(scope="module")
def operator_kubectl(operator_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """kubectl against `operator_sandbox` (the simulated KubeRay operator on)."""
    return kubectl_runner(operator_sandbox, tmp_path_factory.mktemp("kubectl-operator-cache"))
