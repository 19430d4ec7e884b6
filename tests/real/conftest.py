"""The real-control-plane tier: etcd, kube-apiserver, controller-manager, scheduler, kwok and the real
KubeRay operator, built from the Go modules under tools/kube/ (gitops_ray.devcluster).

Every test here is marked `real`. The binaries are built (or found in the cache) once, before the first
test runs, so a first build does not count against a test's timeout. Without Go and without cached
binaries the tier is skipped with one line; with GITOPS_RAY_REQUIRE_REAL=1 (CI) that, or a failed build,
is a failure instead. `control_plane` is one control plane for the whole session; `namespace` is a
fresh namespace per test. GITOPS_RAY_REAL_KUBERAY=1.5.1 runs the tier with another pinned operator.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_ray.devcluster import (
    Binaries,
    ControlPlane,
    ControlPlaneOptions,
    DevClusterError,
    GoMissingError,
    ensure_binaries,
)

HERE = Path(__file__).resolve().parent
REQUIRE = os.environ.get("GITOPS_RAY_REQUIRE_REAL") == "1"
# The operator (and CRD) release the tier runs; default: the newest pinned under tools/kube/kuberay/.
KUBERAY = os.environ.get("GITOPS_RAY_REAL_KUBERAY") or None
_BINARIES = pytest.StashKey[Binaries]()
_PROBLEM = pytest.StashKey[str]()

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]


def _is_real(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    real = [item for item in items if _is_real(item)]
    for item in real:
        item.add_marker(pytest.mark.real)
    if not real:
        return
    # A first build takes many minutes: show its progress (collection output is captured otherwise).
    capture = config.pluginmanager.getplugin("capturemanager")
    try:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            config.stash[_BINARIES] = ensure_binaries(KUBERAY)
    except GoMissingError as err:
        config.stash[_PROBLEM] = f"real control plane: {err} (install Go 1.26, or `make real-cluster-build`)"
    except DevClusterError as err:
        config.stash[_PROBLEM] = f"real control plane: build failed: {err}"
    if _PROBLEM in config.stash and not REQUIRE:
        reason = config.stash[_PROBLEM].splitlines()[0]
        for item in real:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Report every skip of the tier at this file, so `-ra` folds them into one line."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    problem = item.config.stash.get(_PROBLEM, None)
    if report.skipped and problem is not None and isinstance(report.longrepr, tuple):
        report.longrepr = (__file__, None, report.longrepr[2])  # type: ignore[assignment]


@pytest.fixture(scope="session")
def real_binaries(pytestconfig: pytest.Config) -> Binaries:
    problem = pytestconfig.stash.get(_PROBLEM, None)
    if problem is not None:
        pytest.fail(f"{problem} [GITOPS_RAY_REQUIRE_REAL=1]", pytrace=False)  # else the tests were marked skip
    return pytestconfig.stash[_BINARIES]


@pytest.fixture(scope="session")
def control_plane(real_binaries: Binaries) -> Iterator[ControlPlane]:
    with ControlPlane(ControlPlaneOptions(binaries=real_binaries)) as cp:
        yield cp


@pytest.fixture
def namespace(control_plane: ControlPlane, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace named after the test; deleted (not awaited) afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    name = f"{stem}-{secrets.token_hex(3)}"
    control_plane.api.create(
        "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    control_plane.api.request("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture(scope="session")
def k8s_client(control_plane: ControlPlane) -> Any:
    """The official client's ApiClient, configured from the admin kubeconfig."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(control_plane.kubeconfig))


@pytest.fixture(scope="session")
def real_kubectl(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """`real_kubectl("get", "ns", check=True, input=None)` -> CompletedProcess, as the admin."""
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.fail("kubectl is not on PATH (CI installs it; `make system-deps`)")
    cache = tmp_path_factory.mktemp("kubectl-real-cache")

    def run(*args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> Any:
        command = [binary, "--kubeconfig", str(control_plane.kubeconfig), "--cache-dir", str(cache), *args]
        result = subprocess.run(command, input=input, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    return run
