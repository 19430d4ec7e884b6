"""A real Kubernetes control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok) and the real
KubeRay operator, built from pinned Go modules (tools/kube/) and run on loopback ports.

Self-contained on purpose: it imports nothing from gitops_ray but `gitops_ray.errors`, so that tests
can hold the rest of the package to it. See docs/real-control-plane.md.
"""

from gitops_ray.devcluster.build import Binaries, cached_binaries, ensure_binaries, pins
from gitops_ray.devcluster.controlplane import ControlPlane, ControlPlaneOptions
from gitops_ray.devcluster.errors import BuildError, DevClusterError, GoMissingError

__all__ = [
    "Binaries",
    "BuildError",
    "ControlPlane",
    "ControlPlaneOptions",
    "DevClusterError",
    "GoMissingError",
    "cached_binaries",
    "ensure_binaries",
    "pins",
]
