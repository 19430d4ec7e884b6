"""Read live state: one LIST per kind, never one GET per object.

Owned objects are listed with the ownership label selector (what prune may
touch). Objects Git declares that the selector did not return may exist without
our labels (created by hand, or by another tool); for those kinds only, one more
unfiltered LIST finds them, so a plan never claims "create" for an object that
exists. In steady state that second LIST never happens.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gitops_ray import kinds
from gitops_ray.cluster import ApiError, Cluster, owned_selector
from gitops_ray.engine.plan import LiveState
from gitops_ray.environment import Environment
from gitops_ray.errors import ClusterError
from gitops_ray.refs import ObjectRef

# Kinds always listed for pruning, even when Git no longer holds any of them.
PRUNABLE_KINDS: tuple[tuple[str, str], ...] = (
    ("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"),
    ("v1", "PersistentVolumeClaim"), ("rbac.authorization.k8s.io/v1", "Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"), ("ray.io/v1", "RayCluster"), ("ray.io/v1", "RayJob"),
    ("ray.io/v1", "RayService"), ("ray.io/v1", "RayCronJob"),
)
PER_NAMESPACE_LIMIT = 3


def read_live(
    cluster: Cluster,
    environment: Environment,
    desired: Iterable[tuple[str, ObjectRef]],
    *,
    extra_kinds: Sequence[tuple[str, str]] = PRUNABLE_KINDS,
    concurrency: int = 8,
) -> LiveState:
    """`desired` = (apiVersion, ref) of every object Git declares."""
    wanted = list(desired)
    kind_versions: dict[tuple[str, str], str] = {}
    for api_version, ref in wanted:
        kind_versions.setdefault(ref.group_kind, api_version)
    for api_version, kind in extra_kinds:
        group = api_version.rpartition("/")[0]
        kind_versions.setdefault((group, kind), api_version)

    selector = owned_selector(environment.name)
    jobs = list(kind_versions.items())
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(jobs)))) as pool:
        listed = list(pool.map(lambda job: _list(cluster, environment, job[1], job[0][1], selector), jobs))
    owned: dict[ObjectRef, dict[str, Any]] = {}
    for items in listed:
        for item in items:
            owned[ObjectRef.from_object(item)] = item

    # Objects Git declares that the owned LIST did not return: look for them unlabelled, but
    # only in the namespaces that hold them (fresh namespaces answer with nothing, cheaply).
    missing: dict[tuple[str, str, str], str] = {}
    for api_version, ref in wanted:
        if ref not in owned:
            missing.setdefault((ref.group, ref.kind, ref.namespace), api_version)
    unowned: dict[ObjectRef, dict[str, Any]] = {}
    if missing:
        wanted_refs = {ref for _, ref in wanted}
        jobs2 = list(missing.items())
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(jobs2)))) as pool:
            found = list(pool.map(lambda job: _list_in(cluster, job[1], job[0][1], job[0][2]), jobs2))
        for items in found:
            for item in items:
                ref = ObjectRef.from_object(item)
                if ref in wanted_refs and ref not in owned:
                    unowned[ref] = item
    return LiveState(owned=owned, unowned=unowned)


def _list_in(cluster: Cluster, api_version: str, kind: str, namespace: str) -> list[dict[str, Any]]:
    try:
        return cluster.list_objects(api_version, kind, namespace=namespace or None)
    except ApiError as err:
        return _not_served(cluster, api_version, kind, err)


def _not_served(cluster: Cluster, api_version: str, kind: str, err: ApiError) -> list[dict[str, Any]]:
    """A 404 to a LIST is "no such kind here" only when discovery agrees: a server (or a proxy
    in front of one) that answers 404 to everything must not read as an empty cluster, or
    the plan creates everything and the record notes false disappearances."""
    if err.status != 404:
        raise err
    if cluster.served(api_version, kind):
        raise ClusterError(f"{cluster.server}: LIST {kind} ({api_version}) answered 404 although discovery says "
                           "it is served: the server contradicts itself") from None
    return []


def _list(
    cluster: Cluster, env: Environment, api_version: str, kind: str, selector: str | None
) -> list[dict[str, Any]]:
    group = api_version.rpartition("/")[0]
    try:
        if not kinds.is_namespaced(group, kind):
            items = cluster.list_objects(api_version, kind, label_selector=selector)
            return [i for i in items if kind != "Namespace" or env.allows_cluster_scoped(group, kind,
                                                                                         i["metadata"]["name"])]
        if len(env.namespaces) <= PER_NAMESPACE_LIMIT:
            out: list[dict[str, Any]] = []
            for namespace in env.namespaces:
                out += cluster.list_objects(api_version, kind, namespace=namespace, label_selector=selector)
            return out
        allowed = set(env.namespaces)
        return [i for i in cluster.list_objects(api_version, kind, label_selector=selector)
                if (i.get("metadata") or {}).get("namespace") in allowed]
    except ApiError as err:
        return _not_served(cluster, api_version, kind, err)  # e.g. RayCronJob before KubeRay 1.6
