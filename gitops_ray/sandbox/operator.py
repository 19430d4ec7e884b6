"""A simulated KubeRay operator (v1.7.0 behaviour) living inside the sandbox API server.

This is a simulation, not KubeRay: no pods run and no Ray code executes. It
exists so that gitops-ray's planner, health checks and record can be exercised
against objects that change the way they change on a real cluster:

- it writes only the way the real operator does: status through the status
  subresource, child objects (RayClusters, Services, the submitter batch/v1
  Job) with a controller ownerReference, finalizers with an Update of the main
  resource, all under field manager `kuberay-operator`; the simulated Ray
  autoscaler updates `workerGroupSpecs` under `ray-autoscaler`; the
  submitter Jobs' status comes from a simulated Job controller
  (`kube-controller-manager`);
- condition types and reasons, `jobDeploymentStatus`/`jobStatus` values and
  messages are upstream's (see ../shared/docs/kuberay-facts.md §2-§6);
- time is compressed (`OperatorTimings`, seconds instead of minutes).

Every pass LISTs each kind and reconciles every object (no watch, no work
queue): simple, and robust against missed events. `reconcile_once()` runs
one pass synchronously so tests can step it with an injected clock.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from gitops_ray.sandbox._raycluster import RayClusterController
from gitops_ray.sandbox._raycommon import (
    AUTOSCALER_MANAGER,
    DEFAULT_FEATURE_GATES,
    FIELD_MANAGER,
    JOB_CONTROLLER_MANAGER,
    RAY_V1,
    Client,
    Env,
    OperatorTimings,
    status_code,
)
from gitops_ray.sandbox._raycronjob import RayCronJobController
from gitops_ray.sandbox._rayjob import RayJobController, SubmitterJobs
from gitops_ray.sandbox._rayservice import RayServiceController
from gitops_ray.sandbox._raysim import World
from gitops_ray.sandbox.autoscaler import AutoscalerError, SimulatedAutoscaler

__all__ = [
    "AUTOSCALER_MANAGER",
    "FIELD_MANAGER",
    "JOB_CONTROLLER_MANAGER",
    "AutoscalerError",
    "OperatorTimings",
    "SimulatedOperator",
]

log = logging.getLogger(__name__)


class SimulatedOperator:
    """The RayCluster, RayJob, RayService and (gate `RayCronJob`) RayCronJob controllers plus the autoscaler."""

    def __init__(self, client: Client, *, timings: OperatorTimings | None = None,
                 operator_env: Mapping[str, str] | None = None, feature_gates: Mapping[str, bool] | None = None,
                 now: Callable[[], float] | None = None, rng: random.Random | None = None) -> None:
        self.env = Env(client=client, timings=timings or OperatorTimings(), now=now or time.time,
                       rng=rng or random.Random(), world=World(), operator_env=dict(operator_env or {}),
                       gates={**DEFAULT_FEATURE_GATES, **(feature_gates or {})})
        self.clusters = RayClusterController(self.env)
        self.jobs = RayJobController(self.env)
        self.submitters = SubmitterJobs(self.env)
        self.services = RayServiceController(self.env)
        self.cronjobs = RayCronJobController(self.env)
        self.autoscaler = SimulatedAutoscaler(self.env)
        # Unexpected failures of single reconciles (a conflict is expected and not kept): for tests and debugging.
        self.errors: deque[tuple[str, BaseException]] = deque(maxlen=100)
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def timings(self) -> OperatorTimings:
        return self.env.timings

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="kuberay-operator-sim", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.reconcile_once()
            except Exception as exc:  # a LIST failed (server stopping, fault injection): try again next tick
                log.debug("operator pass failed: %s", exc)
            self._stopping.wait(self.env.timings.tick)

    # ------------------------------------------------------------------ one pass

    def reconcile_once(self) -> None:
        """One reconcile of every Ray object, in dependency order; children created now are seen next pass."""
        with self._lock:
            clusters = self._list("rayclusters")
            self.env.world.forget_except({c["metadata"]["uid"] for c in clusters})
            for cluster in clusters:
                self._guard("RayCluster", cluster, self.clusters.reconcile)
            self._guard("Job", {}, lambda _: self.submitters.reconcile_all())
            for job in self._list("rayjobs"):
                self._guard("RayJob", job, self.jobs.reconcile)
            for svc in self._list("rayservices"):
                self._guard("RayService", svc, self.services.reconcile)
            if self.env.gate("RayCronJob"):
                for cron in self._list("raycronjobs"):
                    self._guard("RayCronJob", cron, self.cronjobs.reconcile)
            self._guard("autoscaler", {}, lambda _: self.autoscaler.reconcile_all(clusters))

    def autoscale(self, namespace: str, name: str, group: str, replicas: int) -> dict[str, Any]:
        """Make the autoscaler set `replicas` of one worker group now (an Update as `ray-autoscaler`)."""
        with self._lock:
            return self.autoscaler.scale(namespace, name, group, replicas)

    def _list(self, plural: str) -> list[dict[str, Any]]:
        try:
            return self.env.client.list(RAY_V1, plural)
        except Exception as exc:
            if status_code(exc) == 404:  # this KubeRay version has no such CRD
                return []
            raise

    def _guard(self, kind: str, obj: dict[str, Any], reconcile: Callable[[dict[str, Any]], None]) -> None:
        try:
            reconcile(obj)
        except Exception as exc:
            if status_code(exc) in (404, 409):  # deleted or changed meanwhile: the next pass sees the new state
                return
            meta = obj.get("metadata") or {}
            where = f"{kind}/{meta.get('namespace', '')}/{meta.get('name', '')}".rstrip("/")
            log.warning("simulated operator: reconcile of %s failed: %r", where, exc)
            self.errors.append((where, exc))
