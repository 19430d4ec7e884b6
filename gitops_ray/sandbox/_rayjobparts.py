"""What runs around a RayJob besides its controller: the submitter command, the Ray job, the Job controller.

The sandbox has no kube-controller-manager, so the batch/v1 submitter Jobs the
RayJob controller creates get their status from `SubmitterJobs`, written the
way the Kubernetes Job controller writes it (status subresource, manager
`kube-controller-manager`): `startTime`/`active` once the submitter "runs",
then `SuccessCriteriaMet` + `Complete` when the Ray job reaches a terminal
state (`ray job logs --follow` returns 0 for failed Ray jobs too, so the
submitter Job completes and the RayJob reads the failure from Ray).
Only Jobs labelled `ray.io/originated-from-crd=RayJob` are simulated.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from gitops_ray.sandbox._raycommon import (
    A_DISABLE_HEAD_RESTART,
    BATCH_V1,
    FIELD_MANAGER,
    JOB_CONTROLLER_MANAGER,
    L_CREATED_BY,
    L_FROM_CRD,
    L_FROM_NAME,
    L_SUBMISSION_MODE,
    RAY_V1,
    Env,
    OperatorTimings,
    deleting,
    get,
    owner_reference,
    rfc3339,
    update_status,
)
from gitops_ray.sandbox._raysim import SimCluster, SimRayJob
from gitops_ray.sandbox._rayspec import head_container


@dataclass
class Pass:
    """One reconcile of one RayJob: the object as last written, and the status being computed."""

    job: dict[str, Any]
    status: dict[str, Any]

    @property
    def spec(self) -> dict[str, Any]:
        return dict(self.job.get("spec") or {})

    @property
    def namespace(self) -> str:
        return str(self.job["metadata"]["namespace"])

    @property
    def name(self) -> str:
        return str(self.job["metadata"]["name"])

    @property
    def mode(self) -> str:
        return str(self.spec.get("submissionMode") or "K8sJobMode")

    @property
    def selector(self) -> dict[str, Any]:
        return dict(self.spec.get("clusterSelector") or {})


def submit_to(sim: SimCluster, job_id: str, spec: Mapping[str, Any], now: float, timings: OperatorTimings) -> None:
    """`ray job submit --submission-id <id>`: a second submission of the same id is refused, so it is a no-op."""
    if not job_id or job_id in sim.jobs:
        return
    reserves = any(float(spec.get(k) or 0) > 0 for k in ("entrypointNumCpus", "entrypointNumGpus")) or bool(
        spec.get("entrypointResources"))
    sim.jobs[job_id] = SimRayJob(job_id, str(spec.get("entrypoint") or ""), now, timings.job_pending,
                                 timings.job_runtime, has_runtime_env=bool(spec.get("runtimeEnvYAML")),
                                 reserves_resources=reserves)


def submit_command(job: Mapping[str, Any], status: Mapping[str, Any], *, sidecar: bool) -> str:
    """`BuildJobSubmitCommand`: wait for the GCS, submit once (K8sJobMode re-attaches on retry), follow the logs."""
    spec = job.get("spec") or {}
    job_id = str(status.get("jobId") or "")
    if sidecar:
        address = "http://127.0.0.1:8265"
        health = "http://localhost:8265/api/gcs_healthz"
    else:
        address = str(status.get("dashboardURL") or "")
        address = address if address.startswith("http://") else "http://" + address
        health = address + "/api/gcs_healthz"
    check = (f"python -c \"import urllib.request; r=urllib.request.urlopen('{health}', timeout=10); "
             "exit(0 if b'success' in r.read() else 1)\"")
    parts = ["until", check, ">/dev/null", "2>&1", ";", "do", "echo",
             json.dumps(f"Waiting for Ray Dashboard GCS to become healthy at {address} ..."), ";", "sleep", "2", ";",
             "done", ";"]
    if not sidecar:
        parts += ["if", "!", "ray", "job", "status", "--address", address, job_id, ">/dev/null", "2>&1", ";", "then"]
    parts += ["ray", "job", "submit", "--address", address]
    if not sidecar:
        parts.append("--no-wait")
    runtime_env = spec.get("runtimeEnvYAML")
    if runtime_env:
        with contextlib.suppress(yaml.YAMLError):
            parts += ["--runtime-env-json", json.dumps(json.dumps(yaml.safe_load(runtime_env)))]
    if spec.get("metadata"):
        parts += ["--metadata-json", json.dumps(json.dumps(spec["metadata"], separators=(",", ":")))]
    if job_id:
        parts += ["--submission-id", job_id]
    if float(spec.get("entrypointNumCpus") or 0) > 0:
        parts += ["--entrypoint-num-cpus", f"{float(spec['entrypointNumCpus']):f}"]
    if float(spec.get("entrypointNumGpus") or 0) > 0:
        parts += ["--entrypoint-num-gpus", f"{float(spec['entrypointNumGpus']):f}"]
    if spec.get("entrypointResources"):
        parts += ["--entrypoint-resources", shlex.quote(str(spec["entrypointResources"]))]
    parts += ["--", str(spec.get("entrypoint") or "").strip(), ";"]
    if not sidecar:
        parts += ["fi", ";", "ray", "job", "logs", "--address", address, "--follow", job_id]
    return " ".join(parts)


def cluster_body(p: Pass) -> dict[str, Any]:
    """`constructRayClusterForRayJob`: the RayJob's labels and annotations plus its own, owned by the RayJob."""
    name = str(p.status.get("rayClusterName") or "")
    meta = p.job["metadata"]
    labels = {**(meta.get("labels") or {}), L_FROM_NAME: p.name, L_FROM_CRD: "RayJob",
              L_SUBMISSION_MODE: p.mode}
    annotations = dict(meta.get("annotations") or {})
    spec = copy.deepcopy(p.spec.get("rayClusterSpec") or {})
    if p.mode == "SidecarMode":
        annotations[A_DISABLE_HEAD_RESTART] = "true"
        pod = spec.setdefault("headGroupSpec", {}).setdefault("template", {}).setdefault("spec", {})
        pod.setdefault("containers", []).append({
            "name": "ray-job-submitter", "image": head_container(spec).get("image", ""),
            "command": ["/bin/bash", "-ce", "--"], "args": [submit_command(p.job, p.status, sidecar=True)]})
        pod["restartPolicy"] = "Never"
    body: dict[str, Any] = {"apiVersion": RAY_V1, "kind": "RayCluster", "metadata": {
        "name": name, "namespace": p.namespace, "labels": labels, "annotations": annotations,
        "ownerReferences": [owner_reference(p.job)]}, "spec": spec}
    if not annotations:
        del body["metadata"]["annotations"]
    return body


def submitter_body(p: Pass, cluster: dict[str, Any]) -> dict[str, Any]:
    """`createNewK8sJob`: the submitter pod template (default: `ray-job-submitter` with the head image)."""
    spec = p.spec
    labels = {L_FROM_NAME: p.name, L_FROM_CRD: "RayJob", L_CREATED_BY: FIELD_MANAGER}
    template = copy.deepcopy(spec.get("submitterPodTemplate")) or {"spec": {"containers": [{
        "name": "ray-job-submitter", "image": head_container(cluster.get("spec") or {}).get("image", ""),
        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m", "memory": "200Mi"}},
    }], "restartPolicy": "Never"}}
    container = template.setdefault("spec", {}).setdefault("containers", [{}])[0]
    if not container.get("command"):
        container["command"] = ["/bin/bash", "-ce", "--"]
        container["args"] = [submit_command(p.job, p.status, sidecar=False)]
    container["env"] = [
        *(container.get("env") or []), {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "RAY_DASHBOARD_ADDRESS", "value": str(p.status.get("dashboardURL", ""))},
        {"name": "RAY_JOB_SUBMISSION_ID", "value": str(p.status.get("jobId", ""))}]
    template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    backoff = (spec.get("submitterConfig") or {}).get("backoffLimit")
    body = {"apiVersion": BATCH_V1, "kind": "Job", "metadata": {
        "name": p.name, "namespace": p.namespace, "labels": labels, "ownerReferences": [owner_reference(p.job)]},
        "spec": {"backoffLimit": backoff if isinstance(backoff, int) else 2, "template": template}}
    return body


class SubmitterJobs:
    """The Kubernetes Job controller, for RayJob submitter Jobs only."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def reconcile_all(self) -> None:
        env = self.env
        jobs = env.client.list(BATCH_V1, "jobs", None, label_selector=f"{L_FROM_CRD}=RayJob")
        live = {j["metadata"]["uid"] for j in jobs}
        for uid in [u for u in env.world.submitters if u not in live]:
            del env.world.submitters[uid]
        for job in jobs:
            if not deleting(job):
                self._reconcile(job)

    def _target(self, job: dict[str, Any]) -> tuple[str, str, str] | None:
        """Which Ray job this submitter runs: remembered at creation, else read from the owning RayJob."""
        meta = job["metadata"]
        target = self.env.world.submitters.get(meta["uid"])
        if target is not None:
            return target
        owner = next((o for o in meta.get("ownerReferences") or () if o.get("kind") == "RayJob"), None)
        rayjob = get(self.env, RAY_V1, "rayjobs", meta["namespace"], owner["name"]) if owner else None
        status = (rayjob or {}).get("status") or {}
        if not status.get("rayClusterName") or not status.get("jobId"):
            return None
        target = (meta["namespace"], str(status["rayClusterName"]), str(status["jobId"]))
        self.env.world.submitters[meta["uid"]] = target
        return target

    def _reconcile(self, job: dict[str, Any]) -> None:
        env, old = self.env, job.get("status") or {}
        if any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in old.get("conditions") or ()):
            return
        target = self._target(job)
        if target is None:
            return
        now = env.now()
        new = copy.deepcopy(old)
        if "startTime" not in new:
            new.update(startTime=rfc3339(now), active=1, ready=0, terminating=0, uncountedTerminatedPods={})
        sim = env.world.find(target[0], target[1])
        ray_job = sim.jobs.get(target[2]) if sim is not None and sim.dashboard_up(now) else None
        if sim is not None and ray_job is None and sim.dashboard_up(now):
            owner = next((o for o in job["metadata"].get("ownerReferences") or () if o.get("kind") == "RayJob"), None)
            rayjob = get(env, RAY_V1, "rayjobs", target[0], owner["name"]) if owner else None
            submit_to(sim, target[2], (rayjob or {}).get("spec") or {}, now, env.timings)
        elif ray_job is not None and ray_job.end_time(now) is not None:
            stamp = rfc3339(now)
            reached = {"status": "True", "lastProbeTime": stamp, "lastTransitionTime": stamp,
                       "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}
            new["conditions"] = [*list(new.get("conditions") or []), {"type": "SuccessCriteriaMet", **reached},
                                 {"type": "Complete", **reached}]
            new.update(completionTime=stamp, succeeded=1, ready=0)
            new.pop("active", None)
        if new != old:
            update_status(env, BATCH_V1, "jobs", job, new, manager=JOB_CONTROLLER_MANAGER)
