"""The simulated RayService controller (rayservice_controller.go `Reconcile`, kuberay-facts.md §2.3, §4.3, §6.3).

Covered: the pending -> active cluster promotion, zero-downtime upgrades on a
rayClusterConfig hash change, in-place updates for appended worker groups,
no-ops for replica-only changes, `upgradeStrategy.type: None`, superseded
clusters deleted after `rayClusterDeletionDelaySeconds` (scaled by the
timings), the Ready/UpgradeInProgress conditions, suspend, the finalizer.
Not covered: incremental upgrades (Gateway API; treated like NewCluster),
`ray.io/initializing-timeout`, the head pod `ray.io/serve` label.
"""

from __future__ import annotations

import copy
from typing import Any

from gitops_ray.sandbox import _rayvalidation as validation
from gitops_ray.sandbox._raycommon import (
    A_KUBERAY_VERSION,
    CORE_V1,
    F_RAYSERVICE,
    FIELD_MANAGER,
    KUBERAY_VERSION,
    L_CLUSTER,
    L_FROM_CRD,
    L_FROM_NAME,
    L_IDENTIFIER,
    L_NODE_TYPE,
    RAY_V1,
    Env,
    check_label,
    delete,
    deleting,
    get,
    has_finalizer,
    int_or,
    is_true,
    managed_by_external,
    owner_reference,
    rand_suffix,
    remove_condition,
    rfc3339,
    set_condition,
    update_status,
    with_finalizer,
)
from gitops_ray.sandbox._rayjob import ZERO_CLUSTER_STATUS
from gitops_ray.sandbox._rayserviceparts import (
    Requeue,
    cluster_body,
    hash_equal,
    inconsistent,
    serialize,
    serve_service_body,
)
from gitops_ray.sandbox._rayspec import dashboard_url, head_service

READY, UPGRADING, ROLLBACK, SUSPENDING, SUSPENDED = (
    "Ready", "UpgradeInProgress", "RollbackInProgress", "Suspending", "Suspended")
DEFAULT_DELETION_DELAY = 60


class RayServiceController:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.deletion_times: dict[tuple[str, str, str], float] = {}  # in memory, as upstream
        self.serve_configs: dict[tuple[str, str], dict[str, str]] = {}

    def reconcile(self, svc: dict[str, Any]) -> None:
        if managed_by_external(svc.get("spec") or {}):
            return
        try:
            self._reconcile(svc)
        except Requeue:
            return

    def _reconcile(self, svc: dict[str, Any]) -> None:
        env, meta = self.env, svc["metadata"]
        key = (meta["namespace"], meta["name"])
        status = copy.deepcopy(svc.get("status") or {})
        original = copy.deepcopy(status)
        names = {(status.get(s) or {}).get("rayClusterName") for s in ("activeServiceStatus", "pendingServiceStatus")}
        cache = self.serve_configs.setdefault(key, {})
        for stale in [c for c in cache if c not in names]:
            del cache[stale]
        to_clean = self._clean_up(svc, status)
        if deleting(svc):
            if not to_clean and has_finalizer(svc, F_RAYSERVICE):
                with_finalizer(env, "rayservices", svc, F_RAYSERVICE, False)
            return
        if not has_finalizer(svc, F_RAYSERVICE):
            with_finalizer(env, "rayservices", svc, F_RAYSERVICE, True)
            return
        error = validation.rayservice(svc, env.gate)
        if error:
            # Upstream writes this once and does not requeue; polling writes it only when it changes.
            self._condition(status, READY, "False", "ValidationFailed", error)
            if inconsistent(original, status):
                status["lastUpdateTime"] = rfc3339(env.now())
                update_status(env, RAY_V1, "rayservices", svc, serialize(status))
            return
        self._suspend(svc, status)
        if inconsistent(original, status):
            status["lastUpdateTime"] = rfc3339(env.now())
            svc = update_status(env, RAY_V1, "rayservices", svc, serialize(status))
            original = copy.deepcopy(status)
        if is_true(status.get("conditions"), SUSPENDING) or is_true(status.get("conditions"), SUSPENDED):
            return
        active, pending = self._clusters(svc, status)
        active_ready = pending_ready = False
        active_apps: dict[str, Any] | None = None
        pending_apps: dict[str, Any] | None = None
        if pending is not None:
            pending_ready, pending_apps = self._serve(svc, pending)
        if active is not None and pending is None and not self._prepare_new(svc, status, active, None, False):
            active_ready, active_apps = self._serve(svc, active)
        services = None
        if pending_ready or active_ready:
            target = pending if pending_ready and pending is not None else active
            assert target is not None
            services = (self._service(svc, target, head=True), self._service(svc, target, head=False))
        self._calculate(svc, status, services, active, pending, active_apps, pending_apps)
        if inconsistent(original, status):
            status["lastUpdateTime"] = rfc3339(env.now())
            update_status(env, RAY_V1, "rayservices", svc, serialize(status))

    # ------------------------------------------------------------------ helpers

    def _condition(self, status: dict[str, Any], kind: str, value: str, reason: str, message: str) -> None:
        conditions = status.setdefault("conditions", [])
        set_condition(conditions, kind, value, reason, message, self.env.now(),
                      int_or(status.get("observedGeneration"), 0))

    def _clean_up(self, svc: dict[str, Any], status: dict[str, Any]) -> bool:
        """`cleanUpRayClusterInstance`: clusters neither active nor pending go after the deletion delay."""
        env, meta, spec = self.env, svc["metadata"], svc.get("spec") or {}
        gone = deleting(svc)
        selector = f"{L_FROM_NAME}={meta['name']},{L_FROM_CRD}=RayService"
        clusters = env.client.list(RAY_V1, "rayclusters", meta["namespace"], label_selector=selector)
        keep = {(status.get(s) or {}).get("rayClusterName") for s in ("activeServiceStatus", "pendingServiceStatus")}
        delay = 0.0 if gone else int_or(spec.get("rayClusterDeletionDelaySeconds"), DEFAULT_DELETION_DELAY) * \
            env.timings.cluster_deletion_delay_scale
        now, to_clean = env.now(), False
        existing = set()
        for cluster in clusters:
            name = cluster["metadata"]["name"]
            existing.add(name)
            if not gone and name in keep:
                continue
            to_clean = True
            key = (meta["namespace"], meta["name"], name)
            due = self.deletion_times.get(key)
            if due is None and not gone:
                self.deletion_times[key] = now + delay
            elif gone or (due is not None and now > due):
                delete(env, RAY_V1, "rayclusters", meta["namespace"], name)
        for key in [k for k in self.deletion_times if k[:2] == (meta["namespace"], meta["name"])
                    and k[2] not in existing]:
            del self.deletion_times[key]
        return to_clean

    def _suspend(self, svc: dict[str, Any], status: dict[str, Any]) -> None:
        """`handleSuspend` (v1.7): atomic; all clusters and Services go, then Suspended."""
        env, meta = self.env, svc["metadata"]
        conditions = status.get("conditions")
        wanted = (svc.get("spec") or {}).get("suspend") is True
        if is_true(conditions, SUSPENDED):
            if not wanted:
                status["observedGeneration"] = int_or(meta.get("generation"), 0)
                self._condition(status, SUSPENDED, "False", "RayServiceResumed",
                                "Spec.Suspend is false; RayService has resumed.")
                for kind in (READY, UPGRADING):
                    remove_condition(status["conditions"], kind)
                    self._condition(status, kind, "False", "Initializing",
                                    "RayService is initializing after resuming from suspend.")
            return
        if not is_true(conditions, SUSPENDING):
            if wanted:
                status["observedGeneration"] = int_or(meta.get("generation"), 0)
                self._condition(status, SUSPENDING, "True", "SuspendRequested",
                                "Spec.Suspend is true; will delete all Kubernetes resources owned by this RayService.")
                self._condition(status, READY, "False", "SuspendInProgress", "RayService is suspending.")
                self._condition(status, UPGRADING, "False", "SuspendInProgress", "No upgrade in progress.")
                self._condition(status, ROLLBACK, "False", "SuspendInProgress", "No rollback in progress.")
                status["activeServiceStatus"], status["pendingServiceStatus"] = {}, {}
                status.pop("numServeEndpoints", None)
                status.pop("serviceStatus", None)
            return
        selector = f"{L_FROM_NAME}={meta['name']},{L_FROM_CRD}=RayService"
        remaining = 0
        for plural, version in (("rayclusters", RAY_V1), ("services", CORE_V1)):
            for obj in env.client.list(version, plural, meta["namespace"], label_selector=selector):
                remaining += 1
                if not deleting(obj):
                    delete(env, version, plural, meta["namespace"], obj["metadata"]["name"])
        if remaining:
            self._condition(status, SUSPENDING, "True", "SuspendInProgress",
                            "Waiting for all Kubernetes resources owned by this RayService to be deleted.")
            return
        done = "All owned resources have been deleted."
        self._condition(status, SUSPENDING, "False", "SuspendComplete", done)
        self._condition(status, SUSPENDED, "True", "SuspendComplete", done)
        self._condition(status, READY, "False", "SuspendComplete", "RayService is suspended.")
        self._condition(status, UPGRADING, "False", "SuspendComplete", "No upgrade in progress.")
        self._condition(status, ROLLBACK, "False", "SuspendComplete", "No rollback in progress.")

    # ------------------------------------------------------------------ clusters

    def _should_update(self, svc: dict[str, Any], status: dict[str, Any], cluster: dict[str, Any] | None,
                       active: bool) -> bool:
        if cluster is None:
            return False
        if active:
            if is_true(status.get("conditions"), UPGRADING):
                return False
            if ((cluster["metadata"].get("annotations") or {}).get(A_KUBERAY_VERSION)) != KUBERAY_VERSION:
                return True
        return not hash_equal(svc, cluster, False) and hash_equal(svc, cluster, True)

    def _clusters(self, svc: dict[str, Any], status: dict[str, Any]) -> tuple[dict[str, Any] | None,
                                                                              dict[str, Any] | None]:
        """`reconcileRayCluster`: create the pending cluster; update in place when only groups were appended."""
        env, namespace = self.env, svc["metadata"]["namespace"]
        found = []
        for side in ("activeServiceStatus", "pendingServiceStatus"):
            name = str((status.get(side) or {}).get("rayClusterName") or "")
            found.append(get(env, RAY_V1, "rayclusters", namespace, name))
        active, pending = found
        pending_name = str((status.get("pendingServiceStatus") or {}).get("rayClusterName") or "")
        if pending_name and pending is None:
            body = cluster_body(svc, pending_name)
            return active, env.client.create(RAY_V1, "rayclusters", namespace, body, field_manager=FIELD_MANAGER)
        result = []
        for cluster, is_active in ((active, True), (pending, False)):
            if cluster is not None and self._should_update(svc, status, cluster, is_active):
                goal = cluster_body(svc, cluster["metadata"]["name"])
                suspend = (cluster.get("spec") or {}).get("suspend")
                cluster["spec"] = goal["spec"]
                if suspend is None:
                    cluster["spec"].pop("suspend", None)
                else:
                    cluster["spec"]["suspend"] = suspend
                cluster["metadata"]["labels"] = goal["metadata"]["labels"]
                cluster["metadata"]["annotations"] = goal["metadata"]["annotations"]
                cluster = env.client.update(RAY_V1, "rayclusters", namespace, cluster, field_manager=FIELD_MANAGER)
            result.append(cluster)
        return result[0], result[1]

    def _prepare_new(self, svc: dict[str, Any], status: dict[str, Any], active: dict[str, Any] | None,
                     pending: dict[str, Any] | None, serving: bool) -> bool:
        """`shouldPrepareNewCluster`."""
        if serving or is_true(status.get("conditions"), ROLLBACK):
            return False
        if active is None and pending is None:
            return True
        cluster = pending if pending is not None else active
        assert cluster is not None
        if hash_equal(svc, cluster, False) or hash_equal(svc, cluster, True):
            return False
        kind = ((svc.get("spec") or {}).get("upgradeStrategy") or {}).get("type")
        if kind is not None:
            allowed = ("NewCluster", "NewClusterWithIncrementalUpgrade") if self.env.gate(
                "RayServiceIncrementalUpgrade") else ("NewCluster",)
            return kind in allowed
        return not self.env.env_false("ENABLE_ZERO_DOWNTIME")

    # ------------------------------------------------------------------ serve and services

    def _serve(self, svc: dict[str, Any], cluster: dict[str, Any]) -> tuple[bool, dict[str, Any] | None]:
        """`reconcileServe`: PUT the Serve config to the cluster's dashboard when it is new or changed."""
        env = self.env
        if not is_true((cluster.get("status") or {}).get("conditions"), "HeadPodReady"):
            return False, None
        if not dashboard_url(env, cluster):
            raise Requeue
        meta, now = cluster["metadata"], env.now()
        sim = env.world.find(meta["namespace"], meta["name"])
        if sim is None or not sim.dashboard_up(now):
            raise Requeue
        apps = sim.serve_status(now, env.timings.serve_deploy)
        ready = bool(apps) and all(a["status"] == "RUNNING" for a in apps.values())
        config = str((svc.get("spec") or {}).get("serveConfigV2") or "")
        cache = self.serve_configs.setdefault((svc["metadata"]["namespace"], svc["metadata"]["name"]), {})
        cached = cache.get(meta["name"], "")
        if not cached or not apps or cached != config:
            sim.deploy_serve(config, now)
            if config:
                cache[meta["name"]] = config
        return ready, apps or None

    def _service(self, svc: dict[str, Any], cluster: dict[str, Any], *, head: bool) -> dict[str, Any]:
        """`reconcileServices`: `<svc>-head-svc` / `<svc>-serve-svc`, re-pointed only when the cluster switches."""
        env, meta = self.env, svc["metadata"]
        name, namespace, cluster_name = meta["name"], meta["namespace"], cluster["metadata"]["name"]
        if head:
            body = head_service(cluster, env, own_annotations=False)
            body["metadata"].update(name=f"{name}-head-svc", namespace=namespace, labels={
                L_FROM_NAME: name, L_FROM_CRD: "RayService", L_NODE_TYPE: "head",
                L_IDENTIFIER: check_label(f"{name}-head")})
        else:
            body = serve_service_body(svc, cluster)
        old = get(env, CORE_V1, "services", namespace, body["metadata"]["name"])
        if old is None:
            body["metadata"]["ownerReferences"] = [owner_reference(svc)]
            return env.client.create(CORE_V1, "services", namespace, body, field_manager=FIELD_MANAGER)
        if ((old.get("spec") or {}).get("selector") or {}).get(L_CLUSTER) == cluster_name:
            return old
        cluster_ip = (old.get("spec") or {}).get("clusterIP")
        old["spec"] = body["spec"]
        if cluster_ip:
            old["spec"]["clusterIP"] = cluster_ip
        return env.client.update(CORE_V1, "services", namespace, old, field_manager=FIELD_MANAGER)

    def _endpoints(self, svc: dict[str, Any]) -> int:
        """Ready pods behind the serve Service: the head (unless excluded) and the workers, once Serve runs."""
        env, meta, spec = self.env, svc["metadata"], svc.get("spec") or {}
        name = ((spec.get("serveService") or {}).get("metadata") or {}).get("name") or f"{meta['name']}-serve-svc"
        service = get(env, CORE_V1, "services", meta["namespace"], name)
        cluster = ((service or {}).get("spec") or {}).get("selector", {}).get(L_CLUSTER)
        sim = env.world.find(meta["namespace"], cluster) if cluster else None
        now = env.now()
        if sim is None or not sim.serve_running(now, env.timings.serve_deploy):
            return 0
        excluded = spec.get("excludeHeadPodFromServeSvc") is True
        head = 1 if sim.head is not None and sim.head.ready(now) and not excluded else 0
        return head + sum(1 for p in sim.worker_pods() if p.ready(now))

    # ------------------------------------------------------------------ status

    def _calculate(self, svc: dict[str, Any], status: dict[str, Any],
                   services: tuple[dict[str, Any], dict[str, Any]] | None, active: dict[str, Any] | None,
                   pending: dict[str, Any] | None, active_apps: dict[str, Any] | None,
                   pending_apps: dict[str, Any] | None) -> None:
        """`calculateStatus` + `calculateConditions`."""
        env = self.env
        status["observedGeneration"] = int_or(svc["metadata"].get("generation"), 0)
        for side, cluster, apps in (("activeServiceStatus", active, active_apps),
                                    ("pendingServiceStatus", pending, pending_apps)):
            part = status.setdefault(side, {})
            part["rayClusterStatus"] = copy.deepcopy((cluster or {}).get("status") or ZERO_CLUSTER_STATUS)
            if apps:
                part["applicationStatuses"] = apps
            else:
                part.pop("applicationStatuses", None)
        serving = False
        if services is not None:
            points_to = ((services[0].get("spec") or {}).get("selector") or {}).get(L_CLUSTER)
            pending_name = status["pendingServiceStatus"].get("rayClusterName")
            if status["activeServiceStatus"].get("rayClusterName") != points_to:
                status["activeServiceStatus"], status["pendingServiceStatus"] = status["pendingServiceStatus"], {}
            serving = points_to == pending_name
        if self._prepare_new(svc, status, active, pending, serving):
            status["pendingServiceStatus"] = {"rayClusterName": f"{svc['metadata']['name']}-{rand_suffix(env.rng)}"}
        endpoints = self._endpoints(svc)
        status["numServeEndpoints"] = endpoints
        conditions = status.setdefault("conditions", [])
        if not conditions:
            self._condition(status, READY, "False", "Initializing", "RayService is initializing")
            self._condition(status, UPGRADING, "False", "Initializing", "RayService is initializing")
        if endpoints > 0:
            self._condition(status, READY, "True", "NonZeroServeEndpoints",
                            "Number of serve endpoints is greater than 0")
        elif is_true(conditions, READY):
            self._condition(status, READY, "False", "ZeroServeEndpoints", "Number of serve endpoints dropped to 0")
        active_name = status["activeServiceStatus"].get("rayClusterName")
        pending_name = (status.get("pendingServiceStatus") or {}).get("rayClusterName")
        if active_name and pending_name:
            self._condition(status, UPGRADING, "True", "BothActivePendingClustersExist",
                            "Both active and pending Ray clusters exist")
        elif active_name:
            self._condition(status, UPGRADING, "False", "NoPendingCluster",
                            "Active Ray cluster exists and no pending Ray cluster")
        else:
            current = next((c for c in conditions if c.get("type") == UPGRADING), None)
            if current is None or current.get("reason") not in ("Initializing", "InitializingTimeout"):
                self._condition(status, UPGRADING, "Unknown", "NoActiveCluster",
                                "No active Ray cluster exists, and the RayService is not initializing. Please open a "
                                "GitHub issue in the KubeRay repository.")
        status["serviceStatus"] = "Running" if is_true(conditions, READY) else ""
