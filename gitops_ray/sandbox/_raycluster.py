"""The simulated RayCluster controller (raycluster_controller.go `rayClusterReconcile`, `calculateStatus`)."""

from __future__ import annotations

import copy
from typing import Any

from gitops_ray.sandbox import _rayvalidation as validation
from gitops_ray.sandbox._raycommon import (
    A_DISABLE_HEAD_RESTART,
    A_ENABLE_SERVE_SERVICE,
    A_FT_ENABLED,
    CORE_V1,
    F_GCS_FT,
    FIELD_MANAGER,
    L_CLUSTER,
    L_FROM_CRD,
    L_FROM_NAME,
    L_HEADLESS,
    L_IDENTIFIER,
    L_NODE_TYPE,
    L_SERVE,
    MAX_INT32,
    RAY_V1,
    Env,
    check_label,
    deleting,
    has_finalizer,
    int_or,
    is_true,
    log,
    managed_by_external,
    owner_reference,
    rand_suffix,
    remove_condition,
    rfc3339,
    set_condition,
    update_status,
    with_finalizer,
)
from gitops_ray.sandbox._rayquantity import Quantity, is_gpu, pod_resources, sum_resources
from gitops_ray.sandbox._raysim import SimCluster, SimPod
from gitops_ray.sandbox._rayspec import (
    autoscaling,
    group_desired,
    head_service,
    head_service_name,
    hosts,
    is_serving_port,
    service_ports,
    spec_hash,
)

PROVISIONED, HEAD_READY, REPLICA_FAILURE = "RayClusterProvisioned", "HeadPodReady", "ReplicaFailure"
SUSPENDING, SUSPENDED = "RayClusterSuspending", "RayClusterSuspended"


def pod_name(prefix: str, node_type: str, suffix: str) -> str:
    """`utils.PodName` with generateName: prefix cut to 50 characters, then `-head-`/`-worker-` and 5 random."""
    return f"{prefix[:50]}-{node_type}-".lower() + suffix


def desired_resources(spec: dict[str, Any]) -> dict[str, Quantity]:
    """`CalculateDesiredResources`: head pod + each unsuspended group x replicas (not clamped) x numOfHosts."""
    head_pod = ((spec.get("headGroupSpec") or {}).get("template") or {}).get("spec") or {}
    parts = [pod_resources(head_pod)]
    for group in spec.get("workerGroupSpecs") or ():
        if group.get("suspend") is True:
            continue
        count = hosts(group) * int_or(group.get("replicas"), 0)
        pod = (group.get("template") or {}).get("spec") or {}
        parts.append({k: q.mul(count) for k, q in pod_resources(pod).items()})
    return sum_resources(parts)


def _put(status: dict[str, Any], key: str, value: Any) -> None:
    """Go `omitempty`: zero values are not written."""
    if value in (0, "", None, {}, []):
        status.pop(key, None)
    else:
        status[key] = value


def inconsistent(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """`utils.InconsistentRayClusterStatus`: lastUpdateTime, observedGeneration and resources do not count."""
    keys = ("state", "reason", "readyWorkerReplicas", "availableWorkerReplicas", "desiredWorkerReplicas",
            "minWorkerReplicas", "maxWorkerReplicas", "endpoints", "head", "conditions")
    return any((old.get(k) or None) != (new.get(k) or None) for k in keys)


class RayClusterController:
    def __init__(self, env: Env) -> None:
        self.env = env

    def reconcile(self, cluster: dict[str, Any]) -> None:
        env, meta, spec = self.env, cluster["metadata"], cluster.get("spec") or {}
        if managed_by_external(spec):
            return
        sim = env.world.cluster(meta["uid"], meta["namespace"], meta["name"])
        error = (validation.cluster_metadata(meta) or validation.cluster_spec(spec, meta.get("annotations") or {},
                                                                              env.gate)
                 or validation.cluster_upgrade_options(cluster))
        if error:
            log.debug("RayCluster %s/%s is invalid (event InvalidRayClusterSpec): %s", meta["namespace"],
                      meta["name"], error)
            return
        conditions = (cluster.get("status") or {}).get("conditions") or []
        if is_true(conditions, SUSPENDING) and is_true(conditions, SUSPENDED):
            return
        if self._gcs_ft_finalizer(cluster, sim) or deleting(cluster):
            return
        self._services(cluster)
        self._pods(cluster, sim)
        self._status(cluster, sim)

    # ------------------------------------------------------------------ GCS fault tolerance

    def _gcs_ft_finalizer(self, cluster: dict[str, Any], sim: SimCluster) -> bool:
        """Redis cleanup finalizer: added (with the `rayStartParams: {}` defaults) before any pod exists;
        on delete all pods go, the cleanup Job runs (simulated, not created) and the finalizer is removed."""
        env, meta, spec = self.env, cluster["metadata"], cluster.get("spec") or {}
        options = spec.get("gcsFaultToleranceOptions")
        embedded = (options or {}).get("backend") == "rocksdb"
        if deleting(cluster) and embedded and has_finalizer(cluster, F_GCS_FT):
            with_finalizer(env, "rayclusters", cluster, F_GCS_FT, False)
            return True
        enabled = str((meta.get("annotations") or {}).get(A_FT_ENABLED, "")).lower() == "true" or options is not None
        if env.env_false("ENABLE_GCS_FT_REDIS_CLEANUP") or not enabled or embedded:
            return False
        if not deleting(cluster):
            if has_finalizer(cluster, F_GCS_FT):
                return False
            body = copy.deepcopy(cluster)
            body_spec = body.setdefault("spec", {})
            body_spec.setdefault("headGroupSpec", {}).setdefault("rayStartParams", {})
            for group in body_spec.get("workerGroupSpecs") or ():
                group.setdefault("rayStartParams", {})
            with_finalizer(env, "rayclusters", body, F_GCS_FT, True)
            return True
        if not has_finalizer(cluster, F_GCS_FT):
            return False
        now = env.now()
        sim.head, sim.workers = None, {}
        if sim.deletion_seen is None:
            sim.deletion_seen = now
        if now >= sim.deletion_seen + env.timings.redis_cleanup:
            with_finalizer(env, "rayclusters", cluster, F_GCS_FT, False)
        return True

    # ------------------------------------------------------------------ services

    def _create(self, cluster: dict[str, Any], svc: dict[str, Any]) -> None:
        svc.setdefault("metadata", {})["ownerReferences"] = [owner_reference(cluster)]
        self.env.client.create(CORE_V1, "services", cluster["metadata"]["namespace"], svc, field_manager=FIELD_MANAGER)

    def _head_service(self, cluster: dict[str, Any]) -> dict[str, Any] | None:
        """The head Service, found by name and checked by the labels upstream lists it by (a GET, not a LIST:
        a pass must stay cheap with hundreds of clusters)."""
        meta = cluster["metadata"]
        svc = self.env.client.get(CORE_V1, "services", meta["namespace"], head_service_name(cluster))
        labels = ((svc or {}).get("metadata") or {}).get("labels") or {}
        wanted = {L_CLUSTER: meta["name"], L_NODE_TYPE: "head", L_IDENTIFIER: check_label(meta["name"] + "-head")}
        return svc if all(labels.get(k) == v for k, v in wanted.items()) else None

    def _services(self, cluster: dict[str, Any]) -> None:
        """Head, headless (multi-host groups) and serve (annotation) Services: created once, never updated."""
        env, meta, spec = self.env, cluster["metadata"], cluster.get("spec") or {}
        name, namespace = meta["name"], meta["namespace"]
        if self._head_service(cluster) is None:
            self._create(cluster, head_service(cluster, env))
        if any(hosts(g) > 1 for g in spec.get("workerGroupSpecs") or ()) and env.client.get(
                CORE_V1, "services", namespace, f"{name}-headless") is None:
            self._create(cluster, {"apiVersion": CORE_V1, "kind": "Service", "metadata": {
                "name": f"{name}-headless", "namespace": namespace, "labels": {L_HEADLESS: name}}, "spec": {
                "clusterIP": "None", "selector": {L_CLUSTER: name, L_NODE_TYPE: "worker"}, "type": "ClusterIP",
                "publishNotReadyAddresses": True}})
        if (meta.get("annotations") or {}).get(A_ENABLE_SERVE_SERVICE) == "true" and env.client.get(
                CORE_V1, "services", namespace, f"{name}-serve-svc") is None:
            ports = [{"name": p, "port": n} for p, n in sorted(service_ports(spec).items()) if is_serving_port(p)]
            if ports:
                body: dict[str, Any] = {"apiVersion": CORE_V1, "kind": "Service", "metadata": {
                    "name": f"{name}-serve-svc", "namespace": namespace,
                    "labels": {L_FROM_NAME: name, L_FROM_CRD: "RayCluster", L_SERVE: f"{name}-serve"}},
                    "spec": {"selector": {L_CLUSTER: name}, "ports": ports}}
                if (spec.get("headGroupSpec") or {}).get("serviceType"):
                    body["spec"]["type"] = spec["headGroupSpec"]["serviceType"]
                self._create(cluster, body)

    # ------------------------------------------------------------------ pods

    def _pods(self, cluster: dict[str, Any], sim: SimCluster) -> None:
        """`reconcilePods`: suspend, Recreate upgrades, a missing head, and each group's count."""
        env, meta, spec = self.env, cluster["metadata"], cluster.get("spec") or {}
        conditions = (cluster.get("status") or {}).get("conditions") or []
        gate = env.gate("RayClusterStatusConditions")
        suspend = spec.get("suspend") is True
        if is_true(conditions, SUSPENDING) or (not gate and suspend):
            sim.head, sim.workers = None, {}
            return
        if gate and (is_true(conditions, SUSPENDED) or suspend):
            return
        now, current = env.now(), spec_hash(spec)
        recreate = (spec.get("upgradeStrategy") or {}).get("type") == "Recreate"
        if recreate and sim.head is not None and sim.head.spec_hash and sim.head.spec_hash != current:
            sim.head, sim.workers = None, {}
            return
        name = meta["name"]
        if sim.head is None and not (is_true(conditions, PROVISIONED) and
                                     (meta.get("annotations") or {}).get(A_DISABLE_HEAD_RESTART) == "true"):
            sim.head = SimPod(pod_name(name, "head", rand_suffix(env.rng)), "", now, env.timings.head_ready, current)
        for group in spec.get("workerGroupSpecs") or ():
            group_name = str(group.get("groupName", ""))
            pods = sim.workers.setdefault(group_name, [])
            if group.get("suspend") is True:
                pods.clear()
                continue
            doomed = set((group.get("scaleStrategy") or {}).get("workersToDelete") or ())
            pods[:] = [p for p in pods if p.name not in doomed]
            diff = group_desired(group) - len(pods)
            for _ in range(diff):
                pods.append(SimPod(pod_name(f"{name}-{group_name}", "worker", rand_suffix(env.rng)), group_name, now,
                                   env.timings.workers_ready, current))
            if diff < 0 and (not autoscaling(spec) or env.env_true("ENABLE_RANDOM_POD_DELETE")):
                del pods[:-diff]

    # ------------------------------------------------------------------ status

    def _status(self, cluster: dict[str, Any], sim: SimCluster) -> None:
        env, meta, spec = self.env, cluster["metadata"], cluster.get("spec") or {}
        old = cluster.get("status") or {}
        new = copy.deepcopy(old)
        now, gate = env.now(), env.gate("RayClusterStatusConditions")
        groups = spec.get("workerGroupSpecs") or []
        conditions: list[dict[str, Any]] = new.get("conditions") or []
        if gate:
            remove_condition(conditions, REPLICA_FAILURE)
        _put(new, "observedGeneration", int_or(meta.get("generation"), 0))
        pods, workers = sim.pods(), sim.worker_pods()
        ready_workers = sum(1 for p in workers if p.ready(now))
        desired = sum(group_desired(g) for g in groups)
        _put(new, "readyWorkerReplicas", ready_workers)
        _put(new, "availableWorkerReplicas", ready_workers)
        _put(new, "desiredWorkerReplicas", desired)
        _put(new, "minWorkerReplicas", sum(int_or(g.get("minReplicas"), 0) * hosts(g) for g in groups
                                           if g.get("suspend") is not True))
        _put(new, "maxWorkerReplicas", min(MAX_INT32, sum(int_or(g.get("maxReplicas"), MAX_INT32) * hosts(g)
                                                          for g in groups if g.get("suspend") is not True)))
        resources = desired_resources(spec)
        new["desiredCPU"] = str(resources.get("cpu", Quantity()))
        new["desiredMemory"] = str(resources.get("memory", Quantity()))
        gpus = Quantity()
        for key, quantity in sorted(resources.items()):
            if is_gpu(key) and not quantity.is_zero():
                gpus = gpus.add(quantity)
        new["desiredGPU"] = str(gpus)
        new["desiredTPU"] = str(resources.get("google.com/tpu", Quantity()))
        all_ready = bool(pods) and all(p.ready(now) for p in pods)
        if len(pods) == desired + 1 and all_ready:
            new["state"] = "ready"
            new.pop("reason", None)
        if gate:
            self._conditions(spec, conditions, sim, all_ready, pods, now)
            _put(new, "conditions", conditions)
        if spec.get("suspend") is True and not pods:
            new["state"] = "suspended"
        self._endpoints_and_head(cluster, new, sim)
        new["lastUpdateTime"] = rfc3339(now)
        if old.get("state") != new.get("state"):
            new.setdefault("stateTransitionTimes", {})[new.get("state", "")] = rfc3339(now)
        if new.get("state") == "ready" and sim.first_ready is None:
            sim.first_ready = now
        if inconsistent(old, new):
            update_status(env, RAY_V1, "rayclusters", cluster, new)

    def _conditions(self, spec: dict[str, Any], conditions: list[dict[str, Any]], sim: SimCluster, all_ready: bool,
                    pods: list[SimPod], now: float) -> None:
        head = sim.head
        if head is None:
            set_condition(conditions, HEAD_READY, "False", "HeadPodNotFound", "Head Pod not found", now)
        elif head.ready(now):
            set_condition(conditions, HEAD_READY, "True", "HeadPodRunningAndReady", "", now)
        else:
            container = ((((spec.get("headGroupSpec") or {}).get("template") or {}).get("spec") or {})
                         .get("containers") or [{}])[0].get("name", "ray-head")
            set_condition(conditions, HEAD_READY, "False", "ContainerCreating",
                          f"containers with unready status: [{container}]; {container}: ", now)
        suspend_status = (SUSPENDING if is_true(conditions, SUSPENDING) else
                          SUSPENDED if is_true(conditions, SUSPENDED) else "")
        if not is_true(conditions, PROVISIONED) and suspend_status != SUSPENDED:
            if all_ready:
                set_condition(conditions, PROVISIONED, "True", "AllPodRunningAndReadyFirstTime",
                              "All Ray Pods are ready for the first time", now)
            else:
                set_condition(conditions, PROVISIONED, "False", "RayClusterPodsProvisioning",
                              "RayCluster Pods are being provisioned for first time", now)
        suspend = spec.get("suspend") is True
        if suspend_status == SUSPENDING:
            if not pods:
                set_condition(conditions, PROVISIONED, "False", "RayClusterPodsProvisioning",
                              "RayCluster has been suspended", now)
                set_condition(conditions, SUSPENDING, "False", SUSPENDING, "", now)
                set_condition(conditions, SUSPENDED, "True", SUSPENDED, "", now)
        elif suspend_status == SUSPENDED:
            if not suspend:
                set_condition(conditions, SUSPENDED, "False", SUSPENDED, "", now)
        else:
            set_condition(conditions, SUSPENDED, "False", SUSPENDED, "", now)
            set_condition(conditions, SUSPENDING, "True" if suspend else "False", SUSPENDING, "", now)

    def _endpoints_and_head(self, cluster: dict[str, Any], new: dict[str, Any], sim: SimCluster) -> None:
        """`updateEndpoints` and `updateHeadInfo`: ports and addresses of the head Service and pod."""
        svc = self._head_service(cluster)
        services = [svc] if svc is not None else []
        endpoints = dict(new.get("endpoints") or {})
        head: dict[str, Any] = {}
        if sim.head is not None:
            head = {"podIP": sim.head.ip, "podName": sim.head.name}
        if services:
            svc_spec = services[0].get("spec") or {}
            for port in svc_spec.get("ports") or ():
                if not port.get("name"):
                    continue
                value = port.get("nodePort") or port.get("targetPort") or port.get("port")
                if value:
                    endpoints[port["name"]] = str(value)
            cluster_ip = svc_spec.get("clusterIP") or ""
            if cluster_ip == "None":
                cluster_ip = sim.head.ip if sim.head is not None else ""
            head["serviceIP"] = cluster_ip
            head["serviceName"] = services[0]["metadata"]["name"]
        _put(new, "endpoints", endpoints)
        new["head"] = {k: v for k, v in head.items() if v}
