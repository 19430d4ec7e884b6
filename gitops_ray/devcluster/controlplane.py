"""A real Kubernetes control plane and the real KubeRay operator on loopback ports, for tests and development.

    with ControlPlane() as cp:          # builds the binaries first if they are not cached
        subprocess.run(["kubectl", "--kubeconfig", cp.kubeconfig, "get", "rayclusters", "-A"])

Start order: credentials -> etcd -> kube-apiserver (/readyz) -> KubeRay CRDs, server-side applied and
Established -> kube-controller-manager, kube-scheduler, kwok (/healthz) -> fake Node(s) Ready ->
ray-operator (/readyz). Stop is the reverse, also when the start fails half-way; every child dies with
this process even if it is SIGKILLed (see process.py).
"""

from __future__ import annotations

import gzip
import json
import os
import re
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

from gitops_ray.devcluster import pki
from gitops_ray.devcluster.api import AdminApi
from gitops_ray.devcluster.build import REPO_ROOT, Binaries, default_kuberay_version, ensure_binaries
from gitops_ray.devcluster.errors import DevClusterError
from gitops_ray.devcluster.process import Child, pid_alive, rss_mib, start, stop, wait_until

# Token users with no bindings at all: tests grant them exactly the rights they check.
DEFAULT_TOKEN_USERS: Mapping[str, tuple[str, ...]] = {"nobody": (), "alice": (), "bob": ()}
# What kube-controller-manager runs: GC (owned pods/services go with their RayCluster), namespace
# termination, Jobs (RayJob's submitter) and their TTL, default ServiceAccounts and the per-namespace
# root CA, the aggregated ClusterRoles, Deployments/ReplicaSets, Endpoints/EndpointSlices. No node
# lifecycle: kwok owns the nodes.
CONTROLLERS = (
    "garbage-collector-controller",
    "namespace-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",  # fills view/edit/admin, which least-privilege tests bind
    "deployment-controller",
    "replicaset-controller",
    "endpoints-controller",
    "endpointslice-controller",
)
# Each fake node's capacity: room for many Ray clusters, GPU and TPU workers included (kwok would give
# cpu 1k, memory 1Ti, pods 1M, but no accelerators, and a GPU worker would stay Pending).
NODE_CAPACITY: Mapping[str, str] = {
    "cpu": "1000",
    "memory": "4Ti",
    "pods": "1000",
    "ephemeral-storage": "10Ti",
    "nvidia.com/gpu": "64",
    "google.com/tpu": "64",
}
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"  # kwok's pod IPs; must not overlap SERVICE_CIDR
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
    node_capacity: Mapping[str, str] = field(default_factory=lambda: dict(NODE_CAPACITY))
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


def _crd_name(text: str) -> str:
    match = re.search(r"^metadata:\n(?:[ \t].*\n)*?  name: (\S+)", text, re.MULTILINE)
    if not match:
        raise DevClusterError("a KubeRay CRD file without metadata.name")
    return match.group(1)


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
        env = {**os.environ, "HOME": str(self._dir("home")), "KUBECONFIG": str(self.kubeconfig)}

        t = time.monotonic()
        etcd = self._run("etcd", [str(bins.etcd), *self._etcd_args()], env)
        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}/health"
        wait_until("etcd /health", lambda: _http_ok(etcd_url), timeout=opts.start_timeout, watch=[etcd])
        self._step("etcd", t)

        t = time.monotonic()
        apiserver = self._run("kube-apiserver", [str(bins.kube_apiserver), *self._apiserver_args()], env)
        wait_until(
            "kube-apiserver /readyz",
            lambda: self.api.ok("/readyz"),
            timeout=opts.start_timeout,
            watch=[etcd, apiserver],
        )
        self._step("kube-apiserver", t)

        t = time.monotonic()
        self._install_crds(crds, watch=[etcd, apiserver])
        self._step("crds", t)

        t = time.monotonic()
        others = [
            self._run("kube-controller-manager", [str(bins.kube_controller_manager), *self._kcm_args()], env),
            self._run("kube-scheduler", [str(bins.kube_scheduler), *self._scheduler_args()], env),
            self._run("kwok", [str(bins.kwok), *self._kwok_args()], env),
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
        self._create_nodes(watch=self.children)
        self._step("nodes", t)

        if opts.operator:
            t = time.monotonic()
            operator = self._run("ray-operator", [str(bins.ray_operator), *self._operator_args()], env)
            probe = f"http://127.0.0.1:{self.ports['operator']}/readyz"
            wait_until(
                "ray-operator /readyz", lambda: _http_ok(probe), timeout=opts.start_timeout, watch=[*others, operator]
            )
            self._step("ray-operator", t)
        self._step("total", t0)

    # -- pieces --------------------------------------------------------------------------------------

    def _dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

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

    def _etcd_args(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports['etcd']}"
        peer = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        return [
            "--name=dev",
            f"--data-dir={self._dir('etcd')}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=dev={peer}",
            "--unsafe-no-fsync=true",  # throwaway data: no fsync makes every write cheap
            "--log-level=warn",
        ]

    def _apiserver_args(self) -> list[str]:
        c = self.credentials
        return [
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={self._dir('apiserver')}",
            f"--tls-cert-file={c.serving_cert}",
            f"--tls-private-key-file={c.serving_key}",
            f"--client-ca-file={c.client_ca}",
            f"--token-auth-file={c.token_file}",
            f"--service-account-issuer={self.server}",
            f"--service-account-key-file={c.sa_public}",
            f"--service-account-signing-key-file={c.sa_private}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            # only node-lifecycle-controller would lift its not-ready taint, and kwok's nodes need no lifecycle
            "--disable-admission-plugins=TaintNodesByCondition",
            # the `kubernetes` Endpoints may not point at loopback: keep no endpoints for it
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ]

    def _component_common(self, name: str, port: str) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.ports[port]}",
            f"--cert-dir={self._dir(name)}",
        ]

    def _kcm_args(self) -> list[str]:
        c = self.credentials
        return [
            *self._component_common("kube-controller-manager", "controller-manager"),
            f"--controllers={','.join(CONTROLLERS)}",
            f"--service-account-private-key-file={c.sa_private}",
            f"--root-ca-file={c.serving_ca}",
        ]

    def _scheduler_args(self) -> list[str]:
        return self._component_common("kube-scheduler", "scheduler")

    def _kwok_args(self) -> list[str]:
        config = self.workdir / "kwok.yaml"
        # an explicit, empty configuration: kwok's default stages, and never ~/.kwok/kwok.yaml
        config.write_text("apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n")
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--config={config}",
            "--manage-all-nodes=true",
            f"--cidr={POD_CIDR}",
            f"--node-ip={POD_CIDR.split('/')[0]}",
            f"--server-address=127.0.0.1:{self.ports['kwok']}",
        ]

    def _operator_args(self) -> list[str]:
        args = [
            f"--kubeconfig={self.kubeconfig}",
            "--enable-leader-election=false",
            "--metrics-addr=0",
            f"--health-probe-bind-address=127.0.0.1:{self.ports['operator']}",
            "--log-stdout-encoder=console",
        ]
        if self.options.feature_gates:
            gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(self.options.feature_gates.items()))
            args.append(f"--feature-gates={gates}")
        return args

    def _install_crds(self, files: Sequence[Path], *, watch: Sequence[Child]) -> None:
        """Server-side apply (the CRDs are too large for client-side apply's annotation); wait Established."""
        names = []
        for path in files:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            text = raw.decode()
            if text.startswith("---\n"):
                text = text[4:]
            name = _crd_name(text)
            self.api.apply(
                f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
                text.encode(),
                manager="gitops-ray-devcluster",
            )
            names.append(name)

        # Poll discovery, which lists a CRD's resource only once it is Established: GETting the CRDs
        # themselves (≈1 MB each) ten times a second slowed the apiserver down noticeably.
        groups = {name.split(".", 1)[1] for name in names}
        plurals = {name.split(".", 1)[0] for name in names}

        def discovered() -> bool:
            served: set[str] = set()
            for group in groups:
                status, body = self.api.request("GET", f"/apis/{group}")
                if status != 200:
                    return False
                for version in body.get("versions", []):
                    status, listing = self.api.request("GET", f"/apis/{version['groupVersion']}")
                    served |= {r["name"] for r in listing.get("resources", [])} if status == 200 else set()
            return plurals <= served

        wait_until("KubeRay CRDs Established", discovered, timeout=self.options.start_timeout, watch=watch)
        for name in names:
            crd = self.api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
            if not _condition(crd, "Established"):
                raise DevClusterError(f"CRD {name} is served but not Established: {crd.get('status')}")

    def _create_nodes(self, *, watch: Sequence[Child]) -> None:
        names = [f"kwok-node-{i}" for i in range(self.options.nodes)]
        for name in names:
            self.api.create(
                "/api/v1/nodes",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": name,
                        "labels": {
                            "kubernetes.io/hostname": name,
                            "kubernetes.io/os": "linux",
                            "kubernetes.io/arch": "amd64",
                            "type": "kwok",
                        },
                        "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    },
                    # kept on create (as a kubelet's registration); kwok fills in conditions and addresses
                    "status": {
                        "capacity": dict(self.options.node_capacity),
                        "allocatable": dict(self.options.node_capacity),
                    },
                },
            )

        def ready() -> bool:
            return all(_condition(self.api.get(f"/api/v1/nodes/{n}"), "Ready") for n in names)

        wait_until("kwok's Node(s) Ready", ready, timeout=self.options.start_timeout, watch=watch)


def _condition(obj: Any, kind: str) -> bool:
    conditions = (obj or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


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
