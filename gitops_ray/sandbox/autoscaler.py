"""The simulated Ray autoscaler: the other writer of a RayCluster's `workerGroupSpecs` (kuberay-facts.md §3).

The real autoscaler (a sidecar of the head pod when `enableInTreeAutoscaling`
is true) patches `spec.workerGroupSpecs[i].replicas` and
`scaleStrategy.workersToDelete` on the RayCluster's main resource. Because
`workerGroupSpecs` is an atomic list, that write makes the autoscaler's field
manager the owner of the whole list, so a later server-side apply of the
manifest conflicts on it unless forced. The simulation writes the same way: an
Update (PUT) of the main resource under field manager `ray-autoscaler`.

Two triggers: simulated load (once a cluster is first seen ready, every worker
group grows by one, bounded by maxReplicas, once per cluster) and `scale()`,
which tests call to set a group's replicas deterministically.
"""

from __future__ import annotations

import copy
from typing import Any

from gitops_ray.sandbox._raycommon import AUTOSCALER_MANAGER, MAX_INT32, RAY_V1, Env, deleting, int_or, status_code
from gitops_ray.sandbox._rayspec import autoscaling


class AutoscalerError(Exception):
    """A scale request that names no such cluster or group."""


class SimulatedAutoscaler:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.loaded: set[str] = set()  # cluster uids that already got their simulated load

    def reconcile_all(self, clusters: list[dict[str, Any]]) -> None:
        delay = self.env.timings.autoscaler_scale_up_after
        live = {c["metadata"]["uid"] for c in clusters}
        self.loaded &= live
        if delay is None:
            return
        now = self.env.now()
        for cluster in clusters:
            meta = cluster["metadata"]
            if meta["uid"] in self.loaded or deleting(cluster) or not autoscaling(cluster.get("spec")):
                continue
            sim = self.env.world.clusters.get(meta["uid"])
            if sim is None or sim.first_ready is None or now < sim.first_ready + delay:
                continue
            self.loaded.add(meta["uid"])
            wanted = {}
            for group in (cluster.get("spec") or {}).get("workerGroupSpecs") or ():
                replicas = int_or(group.get("replicas"), 0)
                wanted[str(group.get("groupName"))] = min(replicas + 1, int_or(group.get("maxReplicas"), MAX_INT32))
            self._write(meta["namespace"], meta["name"], wanted)

    def scale(self, namespace: str, name: str, group: str, replicas: int) -> dict[str, Any]:
        """Set one group's replicas; scaling down names the workers to delete, newest first."""
        return self._write(namespace, name, {group: replicas}, strict=True)

    def _write(self, namespace: str, name: str, wanted: dict[str, int], strict: bool = False) -> dict[str, Any]:
        env = self.env
        for _attempt in range(5):
            cluster = env.client.get(RAY_V1, "rayclusters", namespace, name)
            if cluster is None:
                raise AutoscalerError(f'rayclusters.ray.io "{name}" not found')
            body = copy.deepcopy(cluster)
            groups = {str(g.get("groupName")): g for g in (body.get("spec") or {}).get("workerGroupSpecs") or ()}
            missing = [g for g in wanted if g not in groups]
            if missing and strict:
                raise AutoscalerError(f"RayCluster {namespace}/{name} has no worker group {missing[0]!r}")
            changed = False
            sim = env.world.clusters.get(cluster["metadata"]["uid"])
            for group_name, replicas in wanted.items():
                group = groups.get(group_name)
                if group is None:
                    continue
                current = int_or(group.get("replicas"), 0)
                if replicas == current:
                    continue
                changed = True
                group["replicas"] = replicas
                if replicas < current:
                    pods = list(sim.workers.get(group_name, [])) if sim is not None else []
                    doomed = [p.name for p in reversed(pods)][:current - replicas]
                    group.setdefault("scaleStrategy", {})["workersToDelete"] = doomed
            if not changed:
                return cluster
            try:
                return env.client.update(RAY_V1, "rayclusters", namespace, body, field_manager=AUTOSCALER_MANAGER)
            except Exception as exc:
                if status_code(exc) != 409:
                    raise
        raise AutoscalerError(f"RayCluster {namespace}/{name} kept changing; gave up after 5 attempts")
