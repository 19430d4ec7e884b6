"""The simulated RayJob controller (rayjob_controller.go `Reconcile`), and the Job controller for its submitters.

The state machine is the one of kuberay-facts.md §2.1/§4.2: New -> Initializing
-> [Waiting] -> Running -> Complete | Failed, with Suspending/Suspended,
Retrying and ValidationFailed on the side, then the end-of-life rules of §6.1.
Like upstream, status is written only when `jobStatus`, `jobDeploymentStatus`,
the copied cluster status or the status-check timer changed.
"""

from __future__ import annotations

import copy
from typing import Any

from gitops_ray.sandbox import _rayvalidation as validation
from gitops_ray.sandbox._raycluster import inconsistent as cluster_status_changed
from gitops_ray.sandbox._raycommon import (
    BATCH_V1,
    CORE_V1,
    F_RAYJOB,
    FIELD_MANAGER,
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
    go_time,
    has_finalizer,
    int_or,
    log,
    managed_by_external,
    owner_reference,
    parse_time,
    rand_suffix,
    rfc3339,
    update_status,
    with_finalizer,
)
from gitops_ray.sandbox._rayjobend import EndOfLife
from gitops_ray.sandbox._rayjobparts import Pass, SubmitterJobs, cluster_body, submit_to, submitter_body
from gitops_ray.sandbox._raysim import SimCluster
from gitops_ray.sandbox._rayspec import dashboard_url, head_service

TERMINAL_JOB = frozenset({"STOPPED", "SUCCEEDED", "FAILED"})
TERMINAL_DEPLOYMENT = frozenset({"Complete", "Failed"})
ZERO_CLUSTER_STATUS: dict[str, Any] = {"desiredCPU": "0", "desiredMemory": "0", "desiredGPU": "0",
                                       "desiredTPU": "0", "head": {}}
SUBMITTER_FINISHED_TIMEOUT = 30.0  # DefaultSubmitterFinishedTimeout

__all__ = ["RayJobController", "SubmitterJobs"]


class RayJobController:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.end = EndOfLife(env)

    def reconcile(self, job: dict[str, Any]) -> None:
        env, spec = self.env, job.get("spec") or {}
        if managed_by_external(spec):
            return
        old = job.get("status") or {}
        if deleting(job):
            if old.get("jobStatus") not in TERMINAL_JOB:
                self._stop_job(job)
            if has_finalizer(job, F_RAYJOB):
                with_finalizer(env, "rayjobs", job, F_RAYJOB, False)
            return
        p = Pass(job, copy.deepcopy(old))
        error = validation.rayjob(job, env.gate)
        if error:
            p.status.update(jobDeploymentStatus="ValidationFailed", reason="ValidationFailed", message=error)
            self._write(p, old)
            return
        handler = {
            "": self._new, "Initializing": self._initializing, "Waiting": self._waiting, "Running": self._running,
            "Suspending": self._release, "Retrying": self._release, "Suspended": self._suspended,
            "Complete": self.end.finished, "Failed": self.end.finished,
        }.get(str(p.status.get("jobDeploymentStatus") or ""))
        if handler is None or not handler(p):
            return  # `default: Unknown JobDeploymentStatus` (e.g. ValidationFailed) just requeues
        self._backoff(p)
        self._write(p, old)

    # ------------------------------------------------------------------ writing

    def _write(self, p: Pass, old: dict[str, Any]) -> None:
        """`updateRayJobStatus`: only state-machine changes are written; endTime when it turns terminal."""
        new = p.status
        changed = (old.get("jobStatus", "") != new.get("jobStatus", "")
                   or old.get("jobDeploymentStatus", "") != new.get("jobDeploymentStatus", "")
                   or cluster_status_changed(old.get("rayClusterStatus") or {}, new.get("rayClusterStatus") or {})
                   or old.get("jobStatusCheckFailureStartTime") != new.get("jobStatusCheckFailureStartTime"))
        if not changed:
            return
        if new.get("jobDeploymentStatus") in TERMINAL_DEPLOYMENT:
            new["endTime"] = rfc3339(self.env.now())
        new.setdefault("rayJobInfo", {})
        new.setdefault("rayClusterStatus", copy.deepcopy(ZERO_CLUSTER_STATUS))
        for key in ("jobId", "rayClusterName", "dashboardURL", "jobStatus", "jobDeploymentStatus", "reason",
                    "message", "jobStatusCheckFailureStartTime"):
            if not new.get(key):
                new.pop(key, None)
        update_status(self.env, RAY_V1, "rayjobs", p.job, new)

    def _backoff(self, p: Pass) -> None:
        """`checkBackoffLimitAndUpdateStatusIfNeeded`: counters, and Failed -> Retrying while retries remain."""
        status, spec = p.status, p.spec
        failed, succeeded = int_or(status.get("failed"), 0), int_or(status.get("succeeded"), 0)
        if status.get("jobDeploymentStatus") == "Failed":
            failed += 1
        if status.get("jobStatus") == "SUCCEEDED" and status.get("jobDeploymentStatus") == "Complete":
            succeeded += 1
        status["failed"], status["succeeded"] = failed, succeeded
        limit = spec.get("backoffLimit")
        if (status.get("jobDeploymentStatus") == "Failed" and isinstance(limit, int) and failed < limit + 1
                and status.get("reason") not in ("DeadlineExceeded", "JobStatusCheckTimeoutExceeded")):
            status["jobDeploymentStatus"] = "Retrying"

    # ------------------------------------------------------------------ states

    def _new(self, p: Pass) -> bool:
        if not has_finalizer(p.job, F_RAYJOB):
            p.job = with_finalizer(self.env, "rayjobs", p.job, F_RAYJOB, True)
        status, spec = p.status, p.spec
        if p.mode != "InteractiveMode" and not status.get("jobId"):
            status["jobId"] = spec.get("jobId") or f"{p.name}-{rand_suffix(self.env.rng)}"
        if not status.get("rayClusterName"):
            status["rayClusterName"] = p.selector.get(L_CLUSTER) or f"{p.name}-{rand_suffix(self.env.rng)}"
        status["jobDeploymentStatus"] = "Initializing"
        status["startTime"] = rfc3339(self.env.now())
        return True

    def _initializing(self, p: Pass) -> bool:
        if self._suspend_requested(p) or self._deadline(p, "activeDeadlineSeconds", "DeadlineExceeded") or \
                self._deadline(p, "preRunningDeadlineSeconds", "PreRunningDeadlineExceeded"):
            return True
        cluster = self._cluster(p)
        if cluster is None:
            return False
        if not p.status.get("dashboardURL"):
            if (cluster.get("status") or {}).get("state") != "ready":
                p.status["rayClusterStatus"] = copy.deepcopy(cluster.get("status") or ZERO_CLUSTER_STATUS)
                return True
            url = dashboard_url(self.env, cluster)
            if not url:
                return False
            p.status["dashboardURL"] = url
        if p.mode == "InteractiveMode":
            p.status["jobDeploymentStatus"] = "Waiting"
            return True
        if p.mode == "K8sJobMode":
            self._create_submitter(p, cluster)
        elif p.mode == "SidecarMode":
            self._submit(p)  # the sidecar in the head pod submits as soon as the dashboard answers
        p.status["jobDeploymentStatus"] = "Running"
        return True

    def _waiting(self, p: Pass) -> bool:
        if self._deadline(p, "preRunningDeadlineSeconds", "PreRunningDeadlineExceeded"):
            return True
        job_id = p.spec.get("jobId")
        if not job_id:
            return False
        p.status["jobId"] = job_id
        p.status["jobDeploymentStatus"] = "Running"
        self._submit(p)  # InteractiveMode: the user submitted it; the simulation runs the spec's entrypoint
        return True

    def _running(self, p: Pass) -> bool:
        env, status = self.env, p.status
        if self._suspend_requested(p) or self._deadline(p, "activeDeadlineSeconds", "DeadlineExceeded") or \
                self._status_check_timeout(p):
            return True
        cluster = self._cluster(p)
        if cluster is None:
            return False
        if not p.selector:
            self._job_head_service(p, cluster)
        finished_at: float | None = None
        if p.mode in ("K8sJobMode", "SidecarMode"):
            found, failed, finished_at = self._submitter_state(p)
            if not found:
                return False
            if finished_at is not None and env.now() >= finished_at + SUBMITTER_FINISHED_TIMEOUT:
                status.update(jobStatus="FAILED", jobDeploymentStatus="Failed",
                              reason="JobDeploymentStatusTransitionGracePeriodExceeded",
                              message=f"The RayJob submitter finished at {go_time(rfc3339(finished_at))[:19]} but "
                                      f"the ray job did not reach terminal state within 30s")
                return True
            if failed:
                return True
        sim = self._dashboard(p)
        if sim is None:
            if status.get("jobStatusCheckFailureStartTime"):
                return False
            status["jobStatusCheckFailureStartTime"] = rfc3339(env.now())
            return True
        ray_job = sim.jobs.get(str(status.get("jobId") or ""))
        if ray_job is None:
            if p.mode == "HTTPMode":
                self._submit(p)
                had_timer = bool(status.pop("jobStatusCheckFailureStartTime", None))
                return had_timer
            if finished_at is not None:
                status.update(jobDeploymentStatus="Failed", reason="AppFailed",
                              message="Submitter completed but Ray job not found in RayCluster.")
                return True
            return False
        status.pop("jobStatusCheckFailureStartTime", None)
        now = env.now()
        job_status = ray_job.status(now)
        terminal = job_status in TERMINAL_JOB and (p.mode not in ("K8sJobMode", "SidecarMode") or
                                                   finished_at is not None)
        deployment, reason = "Running", ""
        if terminal:
            deployment, reason = ("Failed", "AppFailed") if job_status == "FAILED" else ("Complete", "")
        status["rayClusterStatus"] = copy.deepcopy(cluster.get("status") or ZERO_CLUSTER_STATUS)
        status.update(jobStatus=job_status, jobDeploymentStatus=deployment, reason=reason,
                      message=ray_job.message(now))
        info = status.setdefault("rayJobInfo", {})
        info["startTime"] = rfc3339(ray_job.submitted)
        ended = ray_job.end_time(now)
        if ended is not None:
            info["endTime"] = rfc3339(ended)
        return True

    def _release(self, p: Pass) -> bool:
        """Suspending / Retrying: delete the cluster and the submitter, then reset and go on."""
        cluster_gone = True if p.selector else self.end.delete_cluster(p)
        submitter_gone = True
        if p.mode == "K8sJobMode":
            submitter = get(self.env, BATCH_V1, "jobs", p.namespace, p.name)
            submitter_gone = submitter is None
            if submitter is not None and not deleting(submitter):
                delete(self.env, BATCH_V1, "jobs", p.namespace, p.name)
        if not (cluster_gone and submitter_gone):
            return False
        status = p.status
        status["rayClusterStatus"] = copy.deepcopy(ZERO_CLUSTER_STATUS)
        status["rayJobInfo"] = {}
        for key in ("rayClusterName", "dashboardURL", "jobId", "message", "reason", "jobStatusCheckFailureStartTime",
                    "jobStatus"):
            status.pop(key, None)
        status["jobDeploymentStatus"] = "Suspended" if status.get("jobDeploymentStatus") == "Suspending" else ""
        return True

    def _suspended(self, p: Pass) -> bool:
        if p.spec.get("suspend") is True:
            return False
        p.status.pop("jobStatus", None)
        p.status["jobDeploymentStatus"] = ""
        return True

    # ------------------------------------------------------------------ checks

    def _suspend_requested(self, p: Pass) -> bool:
        if p.spec.get("suspend") is not True:
            return False
        p.status["jobDeploymentStatus"] = "Suspending"
        return True

    def _deadline(self, p: Pass, field: str, reason: str) -> bool:
        seconds, start = p.spec.get(field), parse_time(p.status.get("startTime"))
        if not isinstance(seconds, int) or start is None or self.env.now() < start + seconds:
            return False
        p.status.update(jobDeploymentStatus="Failed", reason=reason, message=(
            f"The RayJob has passed the {field}. StartTime: {go_time(p.status.get('startTime'))}. "
            f"{field[0].upper()}{field[1:]}: {seconds}"))
        return True

    def _status_check_timeout(self, p: Pass) -> bool:
        started = parse_time(p.status.get("jobStatusCheckFailureStartTime"))
        raw = self.env.operator_env.get("RAYJOB_STATUS_CHECK_TIMEOUT_SECONDS", "")
        timeout = int(raw) if raw.isdigit() and int(raw) > 0 else 300
        if started is None or self.env.now() < started + timeout:
            return False
        p.status.update(jobDeploymentStatus="Failed", reason="JobStatusCheckTimeoutExceeded", message=(
            f"Job status checks have been failing since {go_time(p.status['jobStatusCheckFailureStartTime'])[:19]}; "
            f"exceeded timeout of {timeout}s"))
        return True

    # ------------------------------------------------------------------ children

    def _cluster(self, p: Pass) -> dict[str, Any] | None:
        """`getOrCreateRayClusterInstance`: created once from rayClusterSpec; later spec changes are disregarded."""
        name = str(p.status.get("rayClusterName") or "")
        cluster = get(self.env, RAY_V1, "rayclusters", p.namespace, name)
        if cluster is not None or not name:
            return cluster
        if p.selector:
            log.debug("clusterSelector mode is enabled, but RayCluster %s/%s is not found", p.namespace, name)
            return None
        body = cluster_body(p)
        return self.env.client.create(RAY_V1, "rayclusters", p.namespace, body, field_manager=FIELD_MANAGER)

    def _job_head_service(self, p: Pass, cluster: dict[str, Any]) -> None:
        """`<rayjob>-head-svc` (v1.5+): re-pointed only when the RayCluster changes."""
        svc = head_service(cluster, self.env, own_annotations=False)
        svc["metadata"].update(name=f"{p.name}-head-svc", namespace=p.namespace, labels={
            L_FROM_NAME: p.name, L_FROM_CRD: "RayJob", L_NODE_TYPE: "head",
            L_IDENTIFIER: check_label(f"{p.name}-head")})
        old = get(self.env, CORE_V1, "services", p.namespace, svc["metadata"]["name"])
        if old is None:
            svc["metadata"]["ownerReferences"] = [owner_reference(p.job)]
            self.env.client.create(CORE_V1, "services", p.namespace, svc, field_manager=FIELD_MANAGER)
        elif (old.get("spec") or {}).get("selector", {}).get(L_CLUSTER) != svc["spec"]["selector"][L_CLUSTER]:
            cluster_ip = (old.get("spec") or {}).get("clusterIP")
            old["spec"] = svc["spec"]
            if cluster_ip:
                old["spec"]["clusterIP"] = cluster_ip
            self.env.client.update(CORE_V1, "services", p.namespace, old, field_manager=FIELD_MANAGER)

    def _create_submitter(self, p: Pass, cluster: dict[str, Any]) -> None:
        """`createK8sJobIfNeed`: a batch/v1 Job named like the RayJob; an existing one is adopted as it is."""
        if get(self.env, BATCH_V1, "jobs", p.namespace, p.name) is not None:
            return
        body = submitter_body(p, cluster)
        created = self.env.client.create(BATCH_V1, "jobs", p.namespace, body, field_manager=FIELD_MANAGER)
        self.env.world.submitters[created["metadata"]["uid"]] = (
            p.namespace, str(p.status.get("rayClusterName")), str(p.status.get("jobId")))
        self._submit(p)

    def _submitter_state(self, p: Pass) -> tuple[bool, bool, float | None]:
        """(submitter found, submitter failed -> status set, when it finished)."""
        if p.mode == "SidecarMode":
            sim = self.env.world.find(p.namespace, str(p.status.get("rayClusterName") or ""))
            if sim is None or sim.head is None:
                p.status.update(jobDeploymentStatus="Failed", reason="AppFailed", message="Ray head pod not found.")
                return True, True, None
            ray_job = sim.jobs.get(str(p.status.get("jobId") or ""))
            return True, False, ray_job.end_time(self.env.now()) if ray_job else None
        submitter = get(self.env, BATCH_V1, "jobs", p.namespace, p.name)
        if submitter is None:
            return False, False, None
        finished_at, failed = None, False
        for cond in (submitter.get("status") or {}).get("conditions") or ():
            if cond.get("status") != "True" or cond.get("type") not in ("Complete", "Failed"):
                continue
            finished_at = parse_time(cond.get("lastTransitionTime"))
            if cond.get("type") == "Failed":
                failed = True
                p.status["jobDeploymentStatus"] = "Failed"
                if p.status.get("jobStatus") == "FAILED":
                    p.status["reason"] = "AppFailed"
                else:
                    p.status.update(reason="SubmissionFailed", message=(
                        f"Job submission has failed. Reason: {cond.get('reason', '')}. "
                        f"Message: {cond.get('message', '')}"))
        return True, failed, finished_at

    def _dashboard(self, p: Pass) -> SimCluster | None:
        sim = self.env.world.find(p.namespace, str(p.status.get("rayClusterName") or ""))
        return sim if sim is not None and sim.dashboard_up(self.env.now()) else None

    def _submit(self, p: Pass) -> None:
        sim = self.env.world.find(p.namespace, str(p.status.get("rayClusterName") or ""))
        if sim is not None:
            submit_to(sim, str(p.status.get("jobId") or ""), p.spec, self.env.now(), self.env.timings)

    def _stop_job(self, job: dict[str, Any]) -> None:
        """Deleting a RayJob whose Ray job may still run: `StopJob`, best effort."""
        status = job.get("status") or {}
        sim = self.env.world.find(job["metadata"]["namespace"], str(status.get("rayClusterName") or ""))
        ray_job = sim.jobs.get(str(status.get("jobId") or "")) if sim else None
        if ray_job is not None and ray_job.stopped is None:
            ray_job.stopped = self.env.now()
