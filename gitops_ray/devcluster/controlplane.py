"""A real Kubernetes control plane and the real KubeRay operator on loopback ports, for tests and development.

    with ControlPlane() as cp:          # builds the binaries first if they are not cached
        subprocess.run(["kubectl", "--kubeconfig", cp.kubeconfig, "get", "rayclusters", "-A"])

Start order: credentials -> etcd -> kube-apiserver (/readyz) -> KubeRay CRDs, server-side applied and
Established -> kube-controller-manager, kube-scheduler, kwok (/healthz) -> fake Node(s) Ready ->
ray-operator (/readyz). Stop is the reverse, also when the start fails half-way; every child dies with
this process even if it is SIGKILLed (see process.py).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

from gitops_ray.devcluster import bootstrap, components, pki
from gitops_ray.devcluster.api import AdminApi
from gitops_ray.devcluster.build import REPO_ROOT, Binaries, default_kuberay_version, ensure_binaries
from gitops_ray.devcluster.errors import DevClusterError
from gitops_ray.devcluster.process import Child, pid_alive, rss_mib, start, stop, wait_until

# Token users with no bindings at all: tests grant them exactly the rights they check.
DEFAULT_TOKEN_USERS: Mapping[str, tuple[str, ...]] = {"nobody": (), "alice": (), "bob": ()}
TEMP_PREFIX = "gitops-ray-kube-"
OWNER_FILE = "owner.pid"


@dataclass(frozen=True, kw_only=True)
class ControlPlaneOptions:
    """How to start one control plane; every field has a default that suits the test suite."""

    kuberay_version: str | None = None  # None: the newest pinned operator
    crd_dir: Path | None = None  # None: schemas/kuberay/<kuberay_version>/crds in this repository
    operator: bool = True
    feature_gates: Mapping[str, bool] = field(default_factory=dict)  # the operator's --feature-gates
    nodes: int = 1
    node_capacity: Mapping[str, str] = field(default_factory=lambda: dict(components.NODE_CAPACITY))
    token_users: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_TOKEN_USERS))
    workdir: Path | None = None  # None: a fresh temporary directory, removed on stop
    keep_workdir: bool = False
    build: bool = True  # build missing binaries (else fail)
    binaries: Binaries | None = None  # explicit binaries; skips the cache lookup
    start_timeout: float = 120.0  # per step
    stop_timeout: float = 10.0  # per group, before SIGKILL


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    with urllib.request.urlopen(url, timeout=5, context=context) as resp:
        return bool(resp.status == 200)


def _insecure() -> ssl.SSLContext:
    """For /healthz of the controller-manager and scheduler, which serve a self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def remove_stale_workdirs() -> None:
    """Delete temporary directories of control planes whose owner died without stopping (e.g. SIGKILL)."""
    for directory in Path(tempfile.gettempdir()).glob(f"{TEMP_PREFIX}*"):
        try:
            owner = int((directory / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not pid_alive(owner):
            shutil.rmtree(directory, ignore_errors=True)


class ControlPlane:
    """etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok and ray-operator; a context manager."""

    def __init__(self, options: ControlPlaneOptions | None = None) -> None:
        self.options = options or ControlPlaneOptions()
        given = self.options.binaries
        if given is not None and self.options.kuberay_version not in (None, given.kuberay_version):
            raise DevClusterError(
                f"kuberay_version {self.options.kuberay_version} but the binaries are KubeRay {given.kuberay_version}"
            )
        # the operator's release decides the CRDs' (unless crd_dir says otherwise)
        self.kuberay_version = (given.kuberay_version if given else None) or (
            self.options.kuberay_version or default_kuberay_version()
        )
        self.children: list[Child] = []
        self.timings: dict[str, float] = {}
        self.ports: dict[str, int] = {}
        self._owns_workdir = self.options.workdir is None
        self.workdir = self.options.workdir or Path("/nonexistent")
        self._creds: pki.Credentials | None = None
        self._api: AdminApi | None = None

    # -- public surface -------------------------------------------------------------------------

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (client certificate, O=system:masters)."""
        return self.workdir / "admin.kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self.credentials.serving_ca

    @property
    def credentials(self) -> pki.Credentials:
        if self._creds is None:
            raise DevClusterError("the control plane is not started")
        return self._creds

    @property
    def api(self) -> AdminApi:
        if self._api is None:
            raise DevClusterError("the control plane is not started")
        return self._api

    def token(self, user: str) -> str:
        """The bearer token of a user from `token_users` (no RBAC bindings unless a test makes them)."""
        return self.credentials.tokens[user]

    def kubeconfig_for(self, user: str) -> Path:
        """A kubeconfig that authenticates as token user `user`."""
        return pki.write_kubeconfig(
            self.workdir / f"{user}.kubeconfig", server=self.server, ca=self.ca_file, user=user, token=self.token(user)
        )

    def pids(self) -> dict[str, int]:
        return {child.name: child.pid for child in self.children}

    def rss_mib(self) -> dict[str, float]:
        """Resident memory of each running component, from /proc."""
        sizes = {child.name: rss_mib(child.pid) for child in self.children}
        return {name: size for name, size in sizes.items() if size is not None}

    def log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- start and stop ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every component in order; on any failure (or Ctrl-C) stop what started and re-raise."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the components (clients first, etcd last) and remove the temporary directory."""
        by_name = {child.name: child for child in self.children}
        groups = (("ray-operator", "kwok", "kube-scheduler", "kube-controller-manager"), ("kube-apiserver",), ("etcd",))
        for group in groups:
            stop([by_name[n] for n in group if n in by_name], timeout=self.options.stop_timeout)
        self.children = []
        if self._owns_workdir and not self.options.keep_workdir and self.workdir.name.startswith(TEMP_PREFIX):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _step(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 2)

    def _start(self) -> None:
        t0 = time.monotonic()
        opts = self.options
        bins = opts.binaries or ensure_binaries(self.kuberay_version, build=opts.build)
        self._step("binaries", t0)
        if self._owns_workdir:
            remove_stale_workdirs()
            self.workdir = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
            (self.workdir / OWNER_FILE).write_text(str(os.getpid()))
        else:
            self.workdir.mkdir(parents=True, exist_ok=True)
        crds = self._crd_files()
        for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok", "operator"):
            self.ports[name] = free_port()
        creds = self._creds = pki.generate(self.workdir / "pki", opts.token_users)
        pki.write_kubeconfig(
            self.kubeconfig,
            server=self.server,
            ca=creds.serving_ca,
            user="admin",
            client_cert=creds.admin_cert,
            client_key=creds.admin_key,
        )
        self._api = AdminApi(self.server, ca=creds.serving_ca, cert=creds.admin_cert, key=creds.admin_key)
        at = components.Layout(self.workdir, dict(self.ports), creds)
        env = {**os.environ, "HOME": str(at.dir("home")), "KUBECONFIG": str(self.kubeconfig)}

        t = time.monotonic()
        etcd = self._run("etcd", [str(bins.etcd), *components.etcd_args(at)], env)
        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}/health"
        wait_until("etcd /health", lambda: _http_ok(etcd_url), timeout=opts.start_timeout, watch=[etcd])
        self._step("etcd", t)

        t = time.monotonic()
        apiserver = self._run("kube-apiserver", [str(bins.kube_apiserver), *components.apiserver_args(at)], env)
        wait_until(
            "kube-apiserver /readyz",
            lambda: self.api.ok("/readyz"),
            timeout=opts.start_timeout,
            watch=[etcd, apiserver],
        )
        self._step("kube-apiserver", t)

        t = time.monotonic()
        bootstrap.install_crds(self.api, crds, timeout=opts.start_timeout, watch=[etcd, apiserver])
        self._step("crds", t)

        t = time.monotonic()
        others = [
            self._run(
                "kube-controller-manager",
                [str(bins.kube_controller_manager), *components.controller_manager_args(at)],
                env,
            ),
            self._run("kube-scheduler", [str(bins.kube_scheduler), *components.scheduler_args(at)], env),
            self._run("kwok", [str(bins.kwok), *components.kwok_args(at)], env),
        ]
        insecure = _insecure()
        for name, url, ctx in (
            ("kube-controller-manager", f"https://127.0.0.1:{self.ports['controller-manager']}/healthz", insecure),
            ("kube-scheduler", f"https://127.0.0.1:{self.ports['scheduler']}/healthz", insecure),
            ("kwok", f"http://127.0.0.1:{self.ports['kwok']}/healthz", None),
        ):
            wait_until(f"{name} /healthz", partial(_http_ok, url, ctx), timeout=opts.start_timeout, watch=self.children)
        self._step("controllers", t)

        t = time.monotonic()
        bootstrap.create_nodes(
            self.api, opts.nodes, opts.node_capacity, timeout=opts.start_timeout, watch=self.children
        )
        self._step("nodes", t)

        if opts.operator:
            t = time.monotonic()
            operator = self._run(
                "ray-operator", [str(bins.ray_operator), *components.operator_args(at, opts.feature_gates)], env
            )
            probe = f"http://127.0.0.1:{self.ports['operator']}/readyz"
            wait_until(
                "ray-operator /readyz", lambda: _http_ok(probe), timeout=opts.start_timeout, watch=[*others, operator]
            )
            self._step("ray-operator", t)
        self._step("total", t0)

    # -- pieces --------------------------------------------------------------------------------------

    def _run(self, name: str, argv: list[str], env: Mapping[str, str]) -> Child:
        child = start(name, argv, log=self.log(name), env=env)
        self.children.append(child)
        return child

    def _crd_files(self) -> list[Path]:
        directory = self.options.crd_dir or REPO_ROOT / "schemas" / "kuberay" / self.kuberay_version / "crds"
        files = sorted(directory.glob("*.yaml.gz")) + sorted(directory.glob("*.yaml"))
        if not files:
            raise DevClusterError(f"no KubeRay CRDs (*.yaml.gz or *.yaml) in {directory}")
        return files


def summary(cp: ControlPlane) -> dict[str, Any]:
    """What `dev-cluster status` and the tests report: endpoints, pids, ports, timings, memory."""
    return {
        "server": cp.server,
        "kubeconfig": str(cp.kubeconfig),
        "kuberayVersion": cp.kuberay_version,
        "pids": cp.pids(),
        "ports": cp.ports,
        "startSeconds": cp.timings,
        "rssMiB": cp.rss_mib(),
        "workdir": str(cp.workdir),
    }


def dumps(cp: ControlPlane) -> str:
    return json.dumps(summary(cp), indent=1, sort_keys=True)
