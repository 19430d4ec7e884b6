"""How each component of the control plane is run: its command-line flags, and the settings they encode.

Pure functions of a `Layout` (where things are: ports, credentials, directories), so the flags can be
read in one place, beside the reasons for each non-default one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_ray.devcluster.pki import Credentials

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


@dataclass(frozen=True)
class Layout:
    """Where one control plane's pieces are: its directory, loopback ports and credentials."""

    workdir: Path
    ports: Mapping[str, int]
    credentials: Credentials

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    def dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path


def etcd_args(at: Layout) -> list[str]:
    client = f"http://127.0.0.1:{at.ports['etcd']}"
    peer = f"http://127.0.0.1:{at.ports['etcd-peer']}"
    return [
        "--name=dev",
        f"--data-dir={at.dir('etcd')}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=dev={peer}",
        "--unsafe-no-fsync=true",  # throwaway data: no fsync makes every write cheap
        "--log-level=warn",
    ]


def apiserver_args(at: Layout) -> list[str]:
    c = at.credentials
    return [
        f"--etcd-servers=http://127.0.0.1:{at.ports['etcd']}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={at.ports['apiserver']}",
        f"--cert-dir={at.dir('apiserver')}",
        f"--tls-cert-file={c.serving_cert}",
        f"--tls-private-key-file={c.serving_key}",
        f"--client-ca-file={c.client_ca}",
        f"--token-auth-file={c.token_file}",
        f"--service-account-issuer={at.server}",
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


def _component_common(at: Layout, name: str, port: str) -> list[str]:
    return [
        f"--kubeconfig={at.kubeconfig}",
        f"--authentication-kubeconfig={at.kubeconfig}",
        f"--authorization-kubeconfig={at.kubeconfig}",
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        f"--secure-port={at.ports[port]}",
        f"--cert-dir={at.dir(name)}",
    ]


def controller_manager_args(at: Layout) -> list[str]:
    c = at.credentials
    return [
        *_component_common(at, "kube-controller-manager", "controller-manager"),
        f"--controllers={','.join(CONTROLLERS)}",
        f"--service-account-private-key-file={c.sa_private}",
        f"--root-ca-file={c.serving_ca}",
    ]


def scheduler_args(at: Layout) -> list[str]:
    return _component_common(at, "kube-scheduler", "scheduler")


def kwok_args(at: Layout) -> list[str]:
    config = at.workdir / "kwok.yaml"
    # an explicit, empty configuration: kwok's default stages, and never ~/.kwok/kwok.yaml
    config.write_text("apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n")
    return [
        f"--kubeconfig={at.kubeconfig}",
        f"--config={config}",
        "--manage-all-nodes=true",
        f"--cidr={POD_CIDR}",
        f"--node-ip={POD_CIDR.split('/')[0]}",
        f"--server-address=127.0.0.1:{at.ports['kwok']}",
    ]


def operator_args(at: Layout, feature_gates: Mapping[str, bool]) -> list[str]:
    args = [
        f"--kubeconfig={at.kubeconfig}",
        "--enable-leader-election=false",
        "--metrics-addr=0",
        f"--health-probe-bind-address=127.0.0.1:{at.ports['operator']}",
        "--log-stdout-encoder=console",
    ]
    if feature_gates:
        gates = ",".join(f"{k}={str(v).lower()}" for k, v in sorted(feature_gates.items()))
        args.append(f"--feature-gates={gates}")
    return args
