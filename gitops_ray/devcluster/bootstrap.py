"""What the control plane's bootstrap creates through the API: the KubeRay CRDs and the fake Nodes."""

from __future__ import annotations

import gzip
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitops_ray.devcluster.api import AdminApi
from gitops_ray.devcluster.errors import DevClusterError
from gitops_ray.devcluster.process import Child, wait_until


def crd_name(text: str) -> str:
    match = re.search(r"^metadata:\n(?:[ \t].*\n)*?  name: (\S+)", text, re.MULTILINE)
    if not match:
        raise DevClusterError("a KubeRay CRD file without metadata.name")
    return match.group(1)


def install_crds(api: AdminApi, files: Sequence[Path], *, timeout: float, watch: Sequence[Child]) -> None:
    """Server-side apply (the CRDs are too large for client-side apply's annotation); wait Established."""
    names = []
    for path in files:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode()
        if text.startswith("---\n"):
            text = text[4:]
        name = crd_name(text)
        api.apply(
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
            status, body = api.request("GET", f"/apis/{group}")
            if status != 200:
                return False
            for version in body.get("versions", []):
                status, listing = api.request("GET", f"/apis/{version['groupVersion']}")
                served |= {r["name"] for r in listing.get("resources", [])} if status == 200 else set()
        return plurals <= served

    wait_until("KubeRay CRDs Established", discovered, timeout=timeout, watch=watch)
    for name in names:
        crd = api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        if not condition(crd, "Established"):
            raise DevClusterError(f"CRD {name} is served but not Established: {crd.get('status')}")


def create_nodes(
    api: AdminApi, count: int, capacity: Mapping[str, str], *, timeout: float, watch: Sequence[Child]
) -> None:
    names = [f"kwok-node-{i}" for i in range(count)]
    for name in names:
        api.create(
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
                    "capacity": dict(capacity),
                    "allocatable": dict(capacity),
                },
            },
        )

    def ready() -> bool:
        return all(condition(api.get(f"/api/v1/nodes/{n}"), "Ready") for n in names)

    wait_until("kwok's Node(s) Ready", ready, timeout=timeout, watch=watch)


def condition(obj: Any, kind: str) -> bool:
    conditions = (obj or {}).get("status", {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)
