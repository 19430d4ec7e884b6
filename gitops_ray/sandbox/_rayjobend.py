"""A finished RayJob's end of life (kuberay-facts.md §6.1; rayjob_controller.go `case Complete, Failed`).

Evaluated on every pass once the RayJob is Complete or Failed, never with a
clusterSelector: `deletionStrategy` first (gate RayJobDeletionPolicy), else
`shutdownAfterJobFinishes` at endTime + ttlSecondsAfterFinished, which deletes
the RayCluster (or, with operator env DELETE_RAYJOB_CR_AFTER_JOB_FINISHES=true,
the RayJob itself). The submitter Job and the RayJob's status stay.
"""

from __future__ import annotations

from typing import Any

from gitops_ray.sandbox._raycommon import FIELD_MANAGER, RAY_V1, Env, delete, deleting, get, int_or, parse_time
from gitops_ray.sandbox._rayjobparts import Pass

IMPACT = {"DeleteSelf": 4, "DeleteCluster": 3, "DeleteWorkers": 2, "DeleteNone": 1}


class EndOfLife:
    def __init__(self, env: Env) -> None:
        self.env = env

    def finished(self, p: Pass) -> bool:
        """kuberay-facts.md §6.1: deletionStrategy (gate on) before shutdownAfterJobFinishes; never with a selector."""
        spec = p.spec
        if p.selector:
            return False
        strategy = spec.get("deletionStrategy")
        if self.env.gate("RayJobDeletionPolicy") and strategy is not None:
            if strategy.get("deletionRules") is not None:
                self._deletion_rules(p, strategy["deletionRules"])
            else:
                self._legacy_policy(p, strategy)
        elif spec.get("shutdownAfterJobFinishes") is True and self.overdue(p, int_or(spec.get(
                "ttlSecondsAfterFinished"), 0)):
            if self.env.env_true("DELETE_RAYJOB_CR_AFTER_JOB_FINISHES"):
                delete(self.env, RAY_V1, "rayjobs", p.namespace, p.name)
            else:
                self.delete_cluster(p)
        return False


    def overdue(self, p: Pass, ttl: int) -> bool:
        end = parse_time(p.status.get("endTime"))
        return end is not None and self.env.now() >= end + ttl



    def _deletion_rules(self, p: Pass, rules: list[dict[str, Any]]) -> None:
        overdue = []
        for rule in rules:
            condition = rule.get("condition") or {}
            if "jobStatus" in condition:
                matched = condition["jobStatus"] == p.status.get("jobStatus")
            else:
                matched = condition.get("jobDeploymentStatus") == p.status.get("jobDeploymentStatus")
            if matched and self.overdue(p, int_or(condition.get("ttlSeconds"), 0)) and not self._done(
                    p, str(rule.get("policy"))):
                overdue.append(rule)
        if overdue:
            chosen = overdue[0]
            for rule in overdue[1:]:
                if IMPACT.get(str(rule.get("policy")), 0) > IMPACT.get(str(chosen.get("policy")), 0):
                    chosen = rule
            self._execute(p, str(chosen.get("policy")))

    def _legacy_policy(self, p: Pass, strategy: dict[str, Any]) -> None:
        side = {"SUCCEEDED": "onSuccess", "FAILED": "onFailure"}.get(str(p.status.get("jobStatus")))
        policy = str(((strategy.get(side) or {}) if side else {}).get("policy") or "DeleteNone")
        if policy != "DeleteNone" and self.overdue(p, int_or(p.spec.get("ttlSecondsAfterFinished"), 0)):
            self._execute(p, policy)

    def _done(self, p: Pass, policy: str) -> bool:
        """`isDeletionActionCompleted`."""
        if policy == "DeleteNone":
            return True
        if policy == "DeleteSelf":
            return False
        cluster = get(self.env, RAY_V1, "rayclusters", p.namespace, str(p.status.get("rayClusterName") or ""))
        if cluster is None or deleting(cluster):
            return True
        if policy == "DeleteWorkers":
            return all(g.get("suspend") is True for g in (cluster.get("spec") or {}).get("workerGroupSpecs") or ())
        return False

    def _execute(self, p: Pass, policy: str) -> None:
        if policy == "DeleteCluster":
            self.delete_cluster(p)
        elif policy == "DeleteSelf":
            delete(self.env, RAY_V1, "rayjobs", p.namespace, p.name)
        elif policy == "DeleteWorkers":
            cluster = get(self.env, RAY_V1, "rayclusters", p.namespace, str(p.status.get("rayClusterName") or ""))
            if cluster is not None:
                for group in (cluster.get("spec") or {}).get("workerGroupSpecs") or ():
                    group["suspend"] = True
                self.env.client.update(RAY_V1, "rayclusters", p.namespace, cluster, field_manager=FIELD_MANAGER)

    def delete_cluster(self, p: Pass) -> bool:
        """`deleteClusterResources`: True once the RayCluster is gone."""
        if p.selector:
            return True
        name = str(p.status.get("rayClusterName") or "")
        cluster = get(self.env, RAY_V1, "rayclusters", p.namespace, name)
        if cluster is None:
            return True
        if not deleting(cluster):
            delete(self.env, RAY_V1, "rayclusters", p.namespace, name)
        return False
