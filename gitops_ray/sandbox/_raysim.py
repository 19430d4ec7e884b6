"""The parts of a Ray deployment that are not Kubernetes objects: pods, the Ray dashboard, Ray Serve.

The sandbox runs no kubelet, so the head and worker pods of a RayCluster live
here, in memory, with the names the real operator would give them
(`<cluster>-head-xxxxx`, `<cluster>-<group>-worker-xxxxx`); each becomes
running and ready a configured delay after it is "created". Each simulated
cluster also carries the state its Ray dashboard would answer: submitted Ray
jobs (PENDING -> RUNNING -> SUCCEEDED/FAILED) and Serve applications
(DEPLOYING -> RUNNING). State is lost when the operator restarts, like a
kubelet's pods would not be; the operator then recreates pods, which is what
the real one does for missing pods.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import yaml

# A non-zero exit in the entrypoint decides the job's fate: `exit 1`, `sys.exit(3)`, `os._exit(2)`.
_EXIT = re.compile(r"(?:\bsys\.exit|\bos\._exit|\bexit)\s*\(?\s*([1-9][0-9]*)")
DEFAULT_APP = "default"  # utils.DefaultServeAppName


def exit_code_of(entrypoint: str) -> int:
    match = _EXIT.search(entrypoint or "")
    return int(match.group(1)) if match else 0


@dataclass
class SimPod:
    name: str
    group: str  # "" for the head
    created: float
    ready_after: float
    spec_hash: str = ""

    @property
    def ip(self) -> str:
        n = zlib.crc32(self.name.encode())
        return f"10.244.{(n >> 8) % 250 + 1}.{n % 250 + 2}"

    def ready(self, now: float) -> bool:
        return now >= self.created + self.ready_after


@dataclass
class SimRayJob:
    """What `ray job status` would say, derived from the submit time and the entrypoint."""

    job_id: str
    entrypoint: str
    submitted: float
    pending_for: float
    runtime: float
    has_runtime_env: bool = False
    reserves_resources: bool = False
    stopped: float | None = None

    @property
    def started(self) -> float:
        return self.submitted + self.pending_for

    @property
    def ended(self) -> float:
        return self.started + self.runtime

    def status(self, now: float) -> str:
        if self.stopped is not None and self.stopped < self.ended:
            return "STOPPED"
        if now < self.started:
            return "PENDING"
        if now < self.ended:
            return "RUNNING"
        return "FAILED" if exit_code_of(self.entrypoint) else "SUCCEEDED"

    def end_time(self, now: float) -> float | None:
        status = self.status(now)
        if status == "STOPPED":
            return self.stopped
        return self.ended if status in ("SUCCEEDED", "FAILED") else None

    def message(self, now: float) -> str:
        """Ray's `JobInfo` default messages; a failing driver's message carries its exit code and logs."""
        status = self.status(now)
        if status == "PENDING":
            text = "Job has not started yet."
            if self.reserves_resources:
                text += " It may be waiting for resources (CPUs, GPUs, memory, custom resources) to become available."
            if self.has_runtime_env:
                text += " It may be waiting for the runtime environment to be set up."
            return text
        if status == "FAILED":
            code = exit_code_of(self.entrypoint)
            return (f"Job entrypoint command failed with exit code {code}, last available logs (truncated to "
                    f"20,000 chars):\nsimulated driver exited with code {code}\n")
        return {"RUNNING": "Job is currently running.", "STOPPED": "Job was intentionally stopped.",
                "SUCCEEDED": "Job finished successfully."}[status]


@dataclass
class SimServeApp:
    deployed: float
    config: Any
    deployments: list[str]


@dataclass
class SimCluster:
    """One RayCluster's pods and the dashboard behind its head."""

    namespace: str
    name: str
    head: SimPod | None = None
    workers: dict[str, list[SimPod]] = field(default_factory=dict)
    jobs: dict[str, SimRayJob] = field(default_factory=dict)
    apps: dict[str, SimServeApp] = field(default_factory=dict)
    first_ready: float | None = None  # when the operator first saw `state: ready`
    deletion_seen: float | None = None

    def pods(self) -> list[SimPod]:
        found = [self.head] if self.head else []
        for pods in self.workers.values():
            found.extend(pods)
        return found

    def worker_pods(self) -> list[SimPod]:
        return [p for pods in self.workers.values() for p in pods]

    def dashboard_up(self, now: float) -> bool:
        return self.head is not None and self.head.ready(now)

    def deploy_serve(self, config_text: str, now: float) -> None:
        """PUT the multi-application Serve config: changed apps redeploy, removed apps go."""
        try:
            config = yaml.safe_load(config_text or "") or {}
        except yaml.YAMLError:
            config = {}
        wanted: dict[str, SimServeApp] = {}
        for app in (config.get("applications") or []) if isinstance(config, dict) else []:
            if not isinstance(app, dict):
                continue
            name = str(app.get("name") or DEFAULT_APP)
            deployments = [str(d.get("name")) for d in app.get("deployments") or [] if isinstance(d, dict)
                           and d.get("name")]
            old = self.apps.get(name)
            keep = old is not None and old.config == app
            wanted[name] = old if keep and old is not None else SimServeApp(now, app, deployments)
        self.apps = wanted

    def serve_status(self, now: float, deploy_time: float) -> dict[str, dict[str, Any]]:
        """`GetMultiApplicationStatus` as the RayService status stores it."""
        statuses: dict[str, dict[str, Any]] = {}
        for name, app in sorted(self.apps.items()):
            running = now >= app.deployed + deploy_time
            entry: dict[str, Any] = {"status": "RUNNING" if running else "DEPLOYING"}
            if app.deployments:
                entry["serveDeploymentStatuses"] = {
                    d: {"status": "HEALTHY" if running else "UPDATING"} for d in app.deployments}
            statuses[name] = entry
        return statuses

    def serve_running(self, now: float, deploy_time: float) -> bool:
        return bool(self.apps) and all(now >= a.deployed + deploy_time for a in self.apps.values())


class World:
    """Every simulated cluster, keyed by the RayCluster's uid, and looked up by namespace/name."""

    def __init__(self) -> None:
        self.clusters: dict[str, SimCluster] = {}
        self.by_name: dict[tuple[str, str], str] = {}
        # submitter Job uid -> (namespace, cluster name, Ray job id)
        self.submitters: dict[str, tuple[str, str, str]] = {}

    def cluster(self, uid: str, namespace: str, name: str) -> SimCluster:
        sim = self.clusters.get(uid)
        if sim is None:
            sim = self.clusters[uid] = SimCluster(namespace, name)
        self.by_name[(namespace, name)] = uid
        return sim

    def find(self, namespace: str, name: str) -> SimCluster | None:
        uid = self.by_name.get((namespace, name))
        return self.clusters.get(uid) if uid else None

    def forget_except(self, live_uids: set[str]) -> None:
        """Drop the pods and dashboards of clusters that no longer exist."""
        for uid in [u for u in self.clusters if u not in live_uids]:
            sim = self.clusters.pop(uid)
            if self.by_name.get((sim.namespace, sim.name)) == uid:
                del self.by_name[(sim.namespace, sim.name)]
