"""Governance facts of one object, read from its manifest: what a reviewer or an auditor asks.

Pure functions over a manifest body (record-anchors.md §6 table; kuberay-facts.md
§6 cleanup and §7 security surface). `facts_of(body)` is the full snapshot stored
with each action in the record; `impact_of(body)` is the reviewer's subset the
planner puts on each `Change` (GPUs at max replicas, images, Secrets and
ConfigMaps, exposure, cleanup rules that delete evidence, remote code).

Values that may be secret never leave these functions: Secret data and env
values are not read, only key and variable names; Secrets and ConfigMaps are
named, never quoted; credentials inside URLs are cut off. docs/record.md lists
each fact and the field it comes from. The pod-level half of the table
(groups, images, accelerators, resources, references, volumes) is podfacts.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gitops_ray.changes import Impact
from gitops_ray.record.podfacts import (
    DEFAULT_HEAD_PORTS,
    METRICS_PORT,
    QUEUE_LABELS,
    _ray_container,
    accelerators,
    cluster_spec,
    images,
    is_gpu_key,
    job_spec,
    pod_groups,
    references,
    remote_code,
    resources,
    runtime_env,
    service_accounts,
    storage,
    volumes,
)

RAY_KINDS = ("RayCluster", "RayJob", "RayService", "RayCronJob")
EXTERNAL_SERVICE_TYPES = ("NodePort", "LoadBalancer")
_DELETION_EFFECT = {
    "DeleteCluster": "deletes the RayCluster (pods, dashboard, in-cluster job logs)",
    "DeleteSelf": "deletes the RayJob itself, its status and everything it owns",
    "DeleteWorkers": "suspends the worker groups (their pods are deleted)",
    "DeleteNone": "deletes nothing",
}


def _meta(body: Mapping[str, Any]) -> Mapping[str, Any]:
    return body.get("metadata") or {}


# --------------------------------------------------------------------------- exposure


def _head_ports(spec: Mapping[str, Any]) -> dict[str, int]:
    template = (spec.get("headGroupSpec") or {}).get("template") or {}
    declared = {str(p.get("name") or p.get("containerPort")): int(p["containerPort"])
                for p in _ray_container(template).get("ports") or () if p.get("containerPort")}
    ports = declared or dict(DEFAULT_HEAD_PORTS)
    if METRICS_PORT not in ports.values():
        ports["metrics"] = METRICS_PORT
    return ports


def _service_ports(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{k: p[k] for k in ("name", "port", "targetPort", "nodePort", "protocol") if k in p}
            for p in spec.get("ports") or ()]


def exposure(body: Mapping[str, Any]) -> dict[str, Any]:
    """Head Service type and ports, custom head/serve Services, ingress, dashboard host, Jobs
    API authentication, RayJob submission mode; for Service and Ingress objects, their own."""
    kind = body.get("kind")
    spec = cluster_spec(body)
    out: dict[str, Any] = {}
    if spec is not None:
        head = spec.get("headGroupSpec") or {}
        custom = (head.get("headService") or {}).get("spec") or {}
        out["headServiceType"] = head.get("serviceType") or custom.get("type") or "ClusterIP"
        out["ports"] = _head_ports(spec)
        if head.get("headService"):
            out["customHeadService"] = {"type": custom.get("type", "ClusterIP"), "ports": _service_ports(custom)}
        out["ingress"] = bool(head.get("enableIngress"))
        out["dashboardHost"] = str((head.get("rayStartParams") or {}).get("dashboard-host", "0.0.0.0"))
        auth = spec.get("authOptions") or {}
        out["authMode"] = auth.get("mode") or "disabled"
        if auth.get("enableK8sTokenAuth"):
            out["k8sTokenAuth"] = True
    if kind in ("RayJob", "RayCronJob"):
        job = job_spec(body)
        out["submissionMode"] = job.get("submissionMode") or "K8sJobMode"
        if job.get("clusterSelector"):
            out["clusterSelector"] = dict(job["clusterSelector"])
    if kind == "RayService":
        serve = ((body.get("spec") or {}).get("serveService") or {}).get("spec") or {}
        out["serveService"] = {"type": serve.get("type", "ClusterIP"), "ports": _service_ports(serve) or [
            {"name": "serve", "port": DEFAULT_HEAD_PORTS["serve"]}]}
    if kind == "Service":
        svc = body.get("spec") or {}
        out.update({"type": svc.get("type", "ClusterIP"), "ports": _service_ports(svc)})
        if svc.get("loadBalancerSourceRanges"):
            out["loadBalancerSourceRanges"] = list(svc["loadBalancerSourceRanges"])
    if kind == "Ingress":
        rules = (body.get("spec") or {}).get("rules") or ()
        out["hosts"] = sorted({str(r.get("host", "*")) for r in rules})
        out["backends"] = sorted({f"{b['service'].get('name')}:{(b['service'].get('port') or {}).get('number') or (b['service'].get('port') or {}).get('name')}"  # noqa: E501
                                  for r in rules for p in ((r.get("http") or {}).get("paths") or ())
                                  if (b := p.get("backend") or {}).get("service")})
    return out


def exposed(body: Mapping[str, Any]) -> list[str]:
    """What is reachable from outside the cluster, as one line each (for the reviewer)."""
    facts = exposure(body)
    lines: list[str] = []
    auth = facts.get("authMode")
    no_auth = " — Jobs API without authentication (authOptions.mode not token)" if auth == "disabled" else ""
    service_type = facts.get("headServiceType")
    if service_type in EXTERNAL_SERVICE_TYPES:
        ports = ", ".join(f"{n} {p}" for n, p in facts["ports"].items())
        lines.append(f"head Service {service_type}: {ports}{no_auth}")
    if facts.get("ingress"):
        lines.append(f"Ingress to the dashboard {DEFAULT_HEAD_PORTS['dashboard']}{no_auth}")
    serve = facts.get("serveService") or {}
    if serve.get("type") in EXTERNAL_SERVICE_TYPES:
        lines.append(f"serve Service {serve['type']}: " + ", ".join(str(p.get("port")) for p in serve["ports"]))
    if body.get("kind") == "Service" and facts.get("type") in EXTERNAL_SERVICE_TYPES:
        lines.append(f"Service {facts['type']}: " + ", ".join(f"{p.get('name', '')} {p.get('port')}".strip()
                                                           for p in facts["ports"]))
    if body.get("kind") == "Ingress":
        lines.append(f"Ingress {', '.join(facts['hosts'])} -> {', '.join(facts['backends'])}")
    return lines


# --------------------------------------------------------------------------- cleanup


def cleanup(body: Mapping[str, Any]) -> dict[str, Any]:
    kind = body.get("kind")
    out: dict[str, Any] = {}
    if kind in ("RayJob", "RayCronJob"):
        job = job_spec(body)
        for key in ("shutdownAfterJobFinishes", "ttlSecondsAfterFinished", "activeDeadlineSeconds",
                    "preRunningDeadlineSeconds", "backoffLimit"):
            if key in job:
                out[key] = job[key]
        strategy = job.get("deletionStrategy") or {}
        rules = [{"condition": {k: v for k, v in (r.get("condition") or {}).items() if k != "ttlSeconds"},
                  "ttlSeconds": (r.get("condition") or {}).get("ttlSeconds", 0), "policy": r.get("policy")}
                 for r in strategy.get("deletionRules") or ()]
        for legacy in ("onSuccess", "onFailure"):
            if (strategy.get(legacy) or {}).get("policy"):
                rules.append({"condition": {"jobStatus": "SUCCEEDED" if legacy == "onSuccess" else "FAILED"},
                              "ttlSeconds": job.get("ttlSecondsAfterFinished", 0),
                              "policy": strategy[legacy]["policy"], "legacy": legacy})
        if rules:
            out["deletionRules"] = rules
    if kind == "RayCronJob":
        spec = body.get("spec") or {}
        out.update({k: spec[k] for k in ("schedule", "suspend", "successfulJobsHistoryLimit",
                                          "failedJobsHistoryLimit") if k in spec})
    if kind == "RayService":
        spec = body.get("spec") or {}
        out["rayClusterDeletionDelaySeconds"] = spec.get("rayClusterDeletionDelaySeconds", 60)
    meta = _meta(body)
    if meta.get("finalizers"):
        out["finalizers"] = list(meta["finalizers"])
    prune = (meta.get("annotations") or {}).get("gitops-ray.io/prune")
    if prune:
        out["prune"] = prune
    return out


def cleanup_effects(body: Mapping[str, Any]) -> list[str]:
    """The cleanup settings that delete evidence, as one sentence each."""
    rules = cleanup(body)
    lines: list[str] = []
    if rules.get("deletionRules"):
        for rule in rules["deletionRules"]:
            when = ", ".join(f"{k}={v}" for k, v in rule["condition"].items()) or "finished"
            effect = _DELETION_EFFECT.get(str(rule["policy"]), str(rule["policy"]))
            lines.append(f"deletionStrategy: {rule['policy']} {rule['ttlSeconds']}s after {when} {effect}")
    elif rules.get("shutdownAfterJobFinishes"):
        lines.append(f"shutdownAfterJobFinishes with ttlSecondsAfterFinished={rules.get('ttlSecondsAfterFinished', 0)}"
                     f" deletes the RayCluster (pods, dashboard, in-cluster job logs) after the job ends")
    if body.get("kind") == "RayCronJob" and lines:
        lines = [f"every scheduled run: {line}" for line in lines]
    return lines


# --------------------------------------------------------------------------- the rest of the table


def autoscaler(body: Mapping[str, Any]) -> dict[str, Any]:
    spec = cluster_spec(body)
    if spec is None:
        return {}
    options = spec.get("autoscalerOptions") or {}
    out: dict[str, Any] = {"enabled": bool(spec.get("enableInTreeAutoscaling"))}
    out.update({k: options[k] for k in ("version", "idleTimeoutSeconds", "upscalingMode", "image") if k in options})
    out["groups"] = {str(g.get("groupName")): {k: g[k] for k in ("replicas", "minReplicas", "maxReplicas",
                                                                 "numOfHosts", "suspend") if k in g}
                     for g in spec.get("workerGroupSpecs") or ()}
    return out


def network_policy(body: Mapping[str, Any]) -> dict[str, Any]:
    if body.get("kind") == "NetworkPolicy":
        spec = body.get("spec") or {}
        return {"podSelector": (spec.get("podSelector") or {}).get("matchLabels") or {},
                "policyTypes": list(spec.get("policyTypes") or ()),
                "ingressRules": len(spec.get("ingress") or ()), "egressRules": len(spec.get("egress") or ())}
    policy = (cluster_spec(body) or {}).get("networkPolicy")
    if not isinstance(policy, Mapping):
        return {}
    out: dict[str, Any] = {"mode": policy.get("mode", "DenyAll")}
    for role in ("head", "worker"):
        rules = policy.get(role) or {}
        if rules:
            out[role] = {"ingressRules": len(rules.get("ingressRules") or ()),
                         "egressRules": len(rules.get("egressRules") or ())}
    if policy.get("workerGroups"):
        out["workerGroups"] = len(policy["workerGroups"])
    return out


def queueing(body: Mapping[str, Any]) -> dict[str, Any]:
    labels = _meta(body).get("labels") or {}
    out: dict[str, Any] = {name: labels[label] for label, name in QUEUE_LABELS.items() if label in labels}
    spec = job_spec(body) if body.get("kind") in ("RayJob", "RayCronJob") else body.get("spec") or {}
    for key in ("managedBy", "suspend"):
        if key in spec:
            out[key] = spec[key]
    classes = sorted({str((g.template.get("spec") or {}).get("priorityClassName")) for g in pod_groups(body)
                      if (g.template.get("spec") or {}).get("priorityClassName")})
    if classes:
        out["priorityClassNames"] = classes
    return out


def monitoring(body: Mapping[str, Any]) -> dict[str, Any]:
    spec = cluster_spec(body)
    if spec is None:
        return {}
    head = ((spec.get("headGroupSpec") or {}).get("template") or {})
    containers = (head.get("spec") or {}).get("containers") or ()
    env_names = sorted({str(e.get("name")) for e in _ray_container(head).get("env") or ()
                        if str(e.get("name", "")).startswith(("RAY_PROMETHEUS", "RAY_GRAFANA"))})
    out: dict[str, Any] = {"metricsPort": _head_ports(spec).get("metrics", METRICS_PORT)}
    sidecars = [str(c.get("name")) for c in containers[1:]]
    if sidecars:
        out["headSidecars"] = sidecars
    if env_names:
        out["dashboardMetricsEnv"] = env_names
    if spec.get("historyServerOptions"):
        out["historyServer"] = True
    return out


def _rules(rules: Any) -> list[str]:
    out = []
    for rule in rules or ():
        verbs = ",".join(rule.get("verbs") or ())
        what = ",".join(rule.get("resources") or rule.get("nonResourceURLs") or ())
        groups = ",".join(g or "core" for g in rule.get("apiGroups") or ())
        names = f" named {','.join(rule['resourceNames'])}" if rule.get("resourceNames") else ""
        out.append(f"{verbs} {what}{f' ({groups})' if groups else ''}{names}")
    return out


def core_facts(body: Mapping[str, Any]) -> dict[str, Any]:
    """Core kinds, where there is something to say. Secrets: key names only."""
    kind, spec = body.get("kind"), body.get("spec") or {}
    if kind == "Secret":
        return {"type": body.get("type", "Opaque"),
                "keys": sorted({*(body.get("data") or {}), *(body.get("stringData") or {})})}
    if kind == "ConfigMap":
        return {"keys": sorted({*(body.get("data") or {}), *(body.get("binaryData") or {})})}
    if kind in ("Role", "ClusterRole"):
        rules = _rules(body.get("rules"))
        return {"rules": rules, "wildcard": any("*" in r.split(" ", 2)[0] or " *" in r for r in rules)}
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = body.get("roleRef") or {}
        return {"roleRef": f"{ref.get('kind')}/{ref.get('name')}",
                "subjects": [f"{s.get('kind')} {'/'.join(p for p in (s.get('namespace'), s.get('name')) if p)}"
                             for s in body.get("subjects") or ()]}
    if kind == "ServiceAccount":
        return {"automountServiceAccountToken": body.get("automountServiceAccountToken", True)}
    if kind == "PersistentVolumeClaim":
        return {"storageClass": spec.get("storageClassName"), "accessModes": list(spec.get("accessModes") or ()),
                "size": ((spec.get("resources") or {}).get("requests") or {}).get("storage")}
    if kind == "Namespace":
        labels = _meta(body).get("labels") or {}
        return {"podSecurity": {k: v for k, v in labels.items() if k.startswith("pod-security.kubernetes.io/")}}
    if kind == "ResourceQuota":
        return {"hard": dict(spec.get("hard") or {})}
    return {}


def facts_of(body: Mapping[str, Any]) -> dict[str, Any]:
    """Everything in the governance table that this object states; empty facts are left out."""
    meta = _meta(body)
    out: dict[str, Any] = {"kind": body.get("kind"), "apiVersion": body.get("apiVersion"), "name": meta.get("name"),
                           "namespace": meta.get("namespace")}
    if body.get("kind") in RAY_KINDS:
        spec = cluster_spec(body) or {}
        out["rayVersion"] = spec.get("rayVersion")
        out["images"] = images(body)
        out["accelerators"] = accelerators(body)
        out["resources"] = resources(body)
        out["serviceAccounts"] = service_accounts(body)
        out.update(references(body))
        out["volumes"] = volumes(body)
        out["storage"] = storage(body)
        out["runtimeEnv"] = runtime_env(body)
        out["autoscaler"] = autoscaler(body)
        out["exposure"] = exposure(body)
        out["networkPolicy"] = network_policy(body)
        out["queueing"] = queueing(body)
        out["cleanup"] = cleanup(body)
        out["monitoring"] = monitoring(body)
    else:
        out.update(core_facts(body))
        out["images"] = images(body)
        out.update(references(body))
        out["exposure"] = exposure(body)
        out["networkPolicy"] = network_policy(body)
        out["cleanup"] = cleanup(body)
    return {k: v for k, v in out.items() if v not in (None, "", [], {})}


def impact_of(body: Mapping[str, Any]) -> Impact:
    """The reviewer's subset of `facts_of`."""
    accel = accelerators(body)
    refs = references(body)
    secrets, config_maps = refs["secrets"], refs["configMaps"]
    accounts = service_accounts(body)
    kind, name = body.get("kind"), str(_meta(body).get("name", ""))
    if kind == "Secret":
        secrets = sorted({*secrets, name})
    elif kind == "ConfigMap":
        config_maps = sorted({*config_maps, name})
    elif kind == "ServiceAccount":
        accounts = sorted({*accounts, name})
    return Impact(gpus=accel.get("gpu", {}), tpus=accel.get("tpu", {}), images=tuple(images(body)),
                  secrets=tuple(secrets), config_maps=tuple(config_maps), service_accounts=tuple(accounts),
                  exposed=tuple(exposed(body)), cleanup=tuple(cleanup_effects(body)),
                  remote_code=tuple(remote_code(body)))


__all__ = [
    "accelerators", "autoscaler", "cleanup", "cleanup_effects", "core_facts", "exposed", "exposure", "facts_of",
    "images", "impact_of", "is_gpu_key", "monitoring", "network_policy", "queueing", "references", "remote_code",
    "resources", "runtime_env", "service_accounts", "storage", "volumes",
]
