"""`schemas import --from-cluster`: the cluster's CustomResourceDefinitions into the schema catalogue.

Reading is here (the engine may talk to a cluster); converting and storing is
checks.schemas' (which never does): the CRDs cross as plain dicts.
"""

from __future__ import annotations

from pathlib import Path

from gitops_ray.checks import schemas
from gitops_ray.engine.target import open_cluster
from gitops_ray.environment import ClusterTarget, Environment

CRD_API = "apiextensions.k8s.io/v1"


def import_from_cluster(*, kubeconfig: str | None = None, context: str | None = None,
                        environment: Environment | None = None, version: str | None = None,
                        into: Path | None = None, request_timeout: float | None = None) -> schemas.FileImport:
    """One LIST of the CRDs, then the conversion. `--kubeconfig/--context` win over the
    environment's target, as everywhere; a sandbox target must already be serving."""
    target = environment.cluster if environment is not None else ClusterTarget(kubeconfig=kubeconfig, context=context)
    named_by = environment.file if environment is not None else "--kubeconfig"
    with open_cluster(target, kubeconfig=kubeconfig, context=context, start_sandbox=False,
                      request_timeout=request_timeout, named_by=named_by) as cluster:
        crds = cluster.list_objects(CRD_API, "CustomResourceDefinition")
    return schemas.import_cluster_crds(crds, version=version, into=into)
