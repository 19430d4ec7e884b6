"""Facts about what a Ray object runs: pod groups, images, accelerators, resources,
service accounts, referenced Secrets/ConfigMaps, volumes, storage, and the
runtime environment's remote code.

The first half of facts.py's table (split by subject: what runs where, versus
how it is exposed, queued and cleaned up). Pure functions over a manifest body;
Secret data and env values are never read, and URLs lose their credentials.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from gitops_ray.quantity import parse_quantity
from gitops_ray.trust import mask_urls

TPU_KEY = "google.com/tpu"
RAY_CONTAINER = 0  # KubeRay treats the first container of a Ray pod as the Ray container
DEFAULT_HEAD_PORTS = {"gcs-server": 6379, "dashboard": 8265, "client": 10001, "serve": 8000}
METRICS_PORT = 8080
QUEUE_LABELS = {
    "kueue.x-k8s.io/queue-name": "kueue",
    "volcano.sh/queue-name": "volcano",
    "yunikorn.apache.org/queue": "yunikorn",
    "yunikorn.apache.org/queue-name": "yunikorn",
    "ray.io/scheduler-name": "scheduler",
    "ray.io/priority-class-name": "priorityClass",
    "ray.io/gang-scheduling-enabled": "gangScheduling",
}
_JOB_KINDS = ("RayJob", "RayCronJob")


def is_gpu_key(key: str) -> bool:
    """KubeRay's rule (utils/resources.go IsGPUResourceKey): any key ending in `gpu`, or MIG slices."""
    return key.endswith("gpu") or key.startswith("nvidia.com/mig-")


# --------------------------------------------------------------------------- where the pods are


@dataclass(frozen=True, slots=True)
class PodGroup:
    name: str
    role: str  # head | worker | submitter
    template: Mapping[str, Any]
    max_pods: int  # head 1; workers maxReplicas x numOfHosts
    max_unset: bool = False


def job_spec(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The RayJob spec: the object's own, or a RayCronJob's jobTemplate."""
    spec = body.get("spec") or {}
    return (spec.get("jobTemplate") or {}) if body.get("kind") == "RayCronJob" else spec


def cluster_spec(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kind, spec = body.get("kind"), body.get("spec") or {}
    if kind == "RayCluster":
        return spec
    if kind in _JOB_KINDS:
        found = job_spec(body).get("rayClusterSpec")
        return found if isinstance(found, Mapping) else None
    if kind == "RayService":
        found = spec.get("rayClusterConfig")
        return found if isinstance(found, Mapping) else None
    return None


def pod_groups(body: Mapping[str, Any]) -> list[PodGroup]:
    groups: list[PodGroup] = []
    spec = cluster_spec(body)
    if spec is not None:
        head = spec.get("headGroupSpec") or {}
        groups.append(PodGroup("head", "head", head.get("template") or {}, 1))
        for group in spec.get("workerGroupSpecs") or ():
            hosts = int(group.get("numOfHosts") or 1)
            top = group.get("maxReplicas")
            count = top if top is not None else (group.get("replicas") or group.get("minReplicas") or 1)
            groups.append(PodGroup(str(group.get("groupName", "")), "worker", group.get("template") or {},
                                   int(count) * hosts, max_unset=top is None))
    if body.get("kind") in _JOB_KINDS and job_spec(body).get("submitterPodTemplate"):
        groups.append(PodGroup("submitter", "submitter", job_spec(body)["submitterPodTemplate"], 1))
    if body.get("kind") == "Pod":
        groups.append(PodGroup("pod", "pod", {"spec": body.get("spec") or {}}, 1))
    return groups


def _containers(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    pod = template.get("spec") or {}
    return [*(pod.get("initContainers") or ()), *(pod.get("containers") or ())]


def _ray_container(template: Mapping[str, Any]) -> Mapping[str, Any]:
    containers = (template.get("spec") or {}).get("containers") or ()
    return containers[RAY_CONTAINER] if containers else {}


def walk(value: Any) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(key, value, parent) for every key in a tree."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            for key, child in node.items():
                yield str(key), child, node
                stack.append(child)
        elif isinstance(node, list):
            stack.extend(node)


# --------------------------------------------------------------------------- single facts


def images(body: Mapping[str, Any]) -> list[str]:
    found = {str(c["image"]) for g in pod_groups(body) for c in _containers(g.template) if c.get("image")}
    autoscaler = (cluster_spec(body) or {}).get("autoscalerOptions") or {}
    if autoscaler.get("image"):
        found.add(str(autoscaler["image"]))
    if body.get("kind") not in ("RayCluster", "RayJob", "RayService", "RayCronJob", "Pod"):
        found.update(str(v) for k, v, parent in walk(body.get("spec") or {})
                     if k == "image" and isinstance(v, str) and "name" in parent)
    return sorted(found)


def _resources(container: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    res = container.get("resources") or {}
    return dict(res.get("requests") or {}), dict(res.get("limits") or {})


def accelerators(body: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """{"gpu": {name: count}, "tpu": {...}, "other": {...}} per pod group summed at max replicas.
    A limit counts; a request without a limit counts too (extended resources need both equal)."""
    out: dict[str, dict[str, int]] = {"gpu": {}, "tpu": {}, "other": {}}
    for group in pod_groups(body):
        for container in _containers(group.template):
            requests, limits = _resources(container)
            for key in {*requests, *limits}:
                if key in ("cpu", "memory", "ephemeral-storage") or key.startswith("hugepages-"):
                    continue
                amount = parse_quantity(limits.get(key, requests.get(key)))
                if amount is None:
                    continue
                bucket = "gpu" if is_gpu_key(key) else "tpu" if key == TPU_KEY else "other"
                out[bucket][key] = out[bucket].get(key, 0) + int(amount) * group.max_pods
    return {k: v for k, v in out.items() if v}


def _fmt(key: str, value: Decimal) -> str:
    """Back to a familiar quantity: `4Gi`, `500m`; bytes or plain numbers otherwise."""
    if key in ("memory", "ephemeral-storage") and value == value.to_integral_value():
        for suffix, scale in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("T", 10**12), ("G", 10**9),
                              ("M", 10**6), ("Ki", 2**10), ("k", 10**3)):
            if value >= scale and value % scale == 0:
                return f"{int(value / scale)}{suffix}"
    if key == "cpu" and value != value.to_integral_value() and (value * 1000) == (value * 1000).to_integral_value():
        return f"{int(value * 1000)}m"
    return format(value.normalize(), "f")


def resources(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per pod group: requests and limits of one pod (summed over its containers), and pods at max."""
    out = []
    for group in pod_groups(body):
        req: dict[str, Decimal] = {}
        lim: dict[str, Decimal] = {}
        for container in (group.template.get("spec") or {}).get("containers") or ():
            requests, limits = _resources(container)
            for source, target in ((requests, req), (limits, lim)):
                for key, raw in source.items():
                    amount = parse_quantity(raw)
                    if amount is not None:
                        target[key] = target.get(key, Decimal(0)) + amount
        params = (_group_spec(body, group.name) or {}).get("rayStartParams") or {}
        entry: dict[str, Any] = {"group": group.name, "role": group.role, "maxPods": group.max_pods,
                                 "requests": {k: _fmt(k, v) for k, v in sorted(req.items())},
                                 "limits": {k: _fmt(k, v) for k, v in sorted(lim.items())}}
        ray_params = {k: str(params[k]) for k in ("num-cpus", "num-gpus", "memory", "resources") if k in params}
        if ray_params:
            entry["rayStartParams"] = ray_params
        if group.max_unset:
            entry["maxReplicasUnset"] = True
        out.append(entry)
    return out


def _group_spec(body: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    spec = cluster_spec(body) or {}
    if name == "head":
        return spec.get("headGroupSpec") or {}
    for group in spec.get("workerGroupSpecs") or ():
        if group.get("groupName") == name:
            return dict(group)
    return None


def service_accounts(body: Mapping[str, Any]) -> list[str]:
    names = {str((g.template.get("spec") or {}).get("serviceAccountName") or "") for g in pod_groups(body)}
    if body.get("kind") in ("RayCluster", "RayJob", "RayService", "RayCronJob") and "" in names:
        names.discard("")
        names.add("(default)")
    names.discard("")
    return sorted(names)


def references(body: Mapping[str, Any]) -> dict[str, list[str]]:
    """Secrets and ConfigMaps the object refers to, by name only, wherever they are referenced:
    env valueFrom, envFrom, volumes (also projected), imagePullSecrets, authOptions.secretName,
    GCS fault-tolerance passwords, TLS secrets."""
    secrets: set[str] = set()
    config_maps: set[str] = set()
    tree = body.get("spec") or {}
    for key, value, _ in walk(tree):
        if not isinstance(value, Mapping):
            if key == "secretName" and isinstance(value, str) and value:
                secrets.add(value)
            continue
        name = value.get("name")
        if key in ("secretKeyRef", "secretRef") and name:
            secrets.add(str(name))
        elif key == "secret" and (value.get("secretName") or name):
            secrets.add(str(value.get("secretName") or name))
        elif key in ("configMapKeyRef", "configMapRef", "configMap") and name:
            config_maps.add(str(name))
    for _, value, _ in walk(tree):
        if isinstance(value, Mapping) and isinstance(value.get("imagePullSecrets"), list):
            secrets.update(str(s.get("name")) for s in value["imagePullSecrets"] if isinstance(s, Mapping)
                           and s.get("name"))
    if body.get("kind") == "ServiceAccount":
        secrets.update(str(s.get("name")) for s in (body.get("imagePullSecrets") or ()) + (body.get("secrets") or ())
                       if isinstance(s, Mapping) and s.get("name"))
    return {"secrets": sorted(secrets), "configMaps": sorted(config_maps)}


_VOLUME_SOURCE = {
    "configMap": "name", "secret": "secretName", "persistentVolumeClaim": "claimName", "hostPath": "path",
    "csi": "driver", "nfs": "path", "emptyDir": "medium",
}


def volumes(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for group in pod_groups(body):
        for volume in (group.template.get("spec") or {}).get("volumes") or ():
            kind = next((k for k in volume if k != "name"), "unknown")
            source = volume.get(kind) if isinstance(volume.get(kind), Mapping) else {}
            entry = {"group": group.name, "name": volume.get("name"), "type": kind}
            field = _VOLUME_SOURCE.get(kind)
            if field and source.get(field):
                entry["source"] = str(source[field])
            if kind == "ephemeral":
                claim = ((source.get("volumeClaimTemplate") or {}).get("spec") or {})
                entry["storageClass"] = claim.get("storageClassName")
                entry["size"] = ((claim.get("resources") or {}).get("requests") or {}).get("storage")
            out.append(entry)
    return out


def storage(body: Mapping[str, Any]) -> dict[str, Any]:
    spec = cluster_spec(body) or {}
    out: dict[str, Any] = {}
    gcs = spec.get("gcsFaultToleranceOptions")
    if isinstance(gcs, Mapping):
        ft: dict[str, Any] = {"backend": gcs.get("backend", "redis")}
        if gcs.get("redisAddress"):
            ft["redisAddress"] = _without_credentials(str(gcs["redisAddress"]))
        if gcs.get("externalStorageNamespace"):
            ft["externalStorageNamespace"] = gcs["externalStorageNamespace"]
        for key in ("redisPassword", "redisUsername"):
            ref = ((gcs.get(key) or {}).get("valueFrom") or {}).get("secretKeyRef") or {}
            if ref.get("name"):
                ft[key] = f"secret {ref['name']}"
            elif (gcs.get(key) or {}).get("value"):
                ft[key] = "inline value (hidden)"
        out["gcsFaultTolerance"] = ft
    annotations = ((body.get("metadata") or {}).get("annotations") or {})
    if annotations.get("ray.io/ft-enabled"):
        out["gcsFaultToleranceAnnotation"] = annotations["ray.io/ft-enabled"]
    claims = sorted({str(v["source"]) for v in volumes(body) if v["type"] == "persistentVolumeClaim" and "source" in v})
    if claims:
        out["persistentVolumeClaims"] = claims
    host_paths = sorted({str(v["source"]) for v in volumes(body) if v["type"] == "hostPath" and "source" in v})
    if host_paths:
        out["hostPaths"] = host_paths
    return out


def _without_credentials(url: str) -> str:
    return re.sub(r"(?<=://)[^/@]*@", "", url)


# --------------------------------------------------------------------------- runtime env


def _split_packages(value: Any) -> tuple[list[str], list[str]]:
    """(remote URIs, package specs) from a pip/uv/conda value."""
    items = value.get("packages") or value.get("dependencies") or [] if isinstance(value, Mapping) else value
    if isinstance(items, str):
        items = [items]
    uris: list[str] = []
    packages: list[str] = []
    for item in items if isinstance(items, list) else ():
        text = str(item)
        (uris if "://" in text or text.startswith("git+") else packages).append(_without_credentials(text))
    return uris, packages


def _runtime_env_facts(env: Any) -> dict[str, Any]:
    if not isinstance(env, Mapping):
        return {}
    uris: list[str] = []
    packages: list[str] = []
    working_dir = env.get("working_dir")
    if isinstance(working_dir, str):
        (uris if "://" in working_dir else packages).append(_without_credentials(working_dir))
    for module in env.get("py_modules") or ():
        if "://" in str(module):
            uris.append(_without_credentials(str(module)))
    for key in ("pip", "uv", "conda"):
        if key in env:
            more_uris, more_packages = _split_packages(env[key])
            uris += more_uris
            packages += [f"{key}:{p}" for p in more_packages]
    for key in ("image_uri", "container"):
        if env.get(key):
            image = env[key] if isinstance(env[key], str) else (env[key] or {}).get("image")
            uris.append(f"image:{image}")
    out: dict[str, Any] = {"keys": sorted(str(k) for k in env)}
    if uris:
        out["remoteURIs"] = uris
    if packages:
        out["packages"] = packages
    if isinstance(env.get("env_vars"), Mapping):
        out["envVarNames"] = sorted(str(k) for k in env["env_vars"])
    return out


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> tuple[Any, bool]:
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader), True  # libyaml: ~20x the pure-Python loader
    except yaml.YAMLError:
        return None, False


def _load_yaml(text: Any) -> tuple[Any, bool]:
    """Parsed once per distinct text (a plan asks for the same runtime env several times);
    callers only read the result."""
    return _parse(str(text))


def runtime_env(body: Mapping[str, Any]) -> dict[str, Any]:
    """runtimeEnvYAML (RayJob) and serveConfigV2 runtime_env (RayService): digest, remote URIs
    (working_dir, py_modules, pip/uv URLs, images; credentials in them masked), packages,
    env var names (never values)."""
    out: dict[str, Any] = {}
    kind = body.get("kind")
    if kind in ("RayJob", "RayCronJob"):
        job = job_spec(body)
        if job.get("entrypoint"):
            out["entrypointSha256"] = _sha256(str(job["entrypoint"]))
        if job.get("runtimeEnvYAML"):
            parsed, ok = _load_yaml(job["runtimeEnvYAML"])
            out["runtimeEnvYAML"] = {"sha256": _sha256(str(job["runtimeEnvYAML"])), **_runtime_env_facts(parsed)}
            if not ok:
                out["runtimeEnvYAML"]["parseError"] = True
    if kind == "RayService":
        text = (body.get("spec") or {}).get("serveConfigV2")
        if text:
            parsed, ok = _load_yaml(text)
            apps = (parsed or {}).get("applications") or [] if isinstance(parsed, Mapping) else []
            serve: dict[str, Any] = {"sha256": _sha256(str(text)), "applications": []}
            for app in apps:
                if isinstance(app, Mapping):
                    serve["applications"].append({"name": app.get("name"), "importPath": app.get("import_path"),
                                                  "routePrefix": app.get("route_prefix"),
                                                  **_runtime_env_facts(app.get("runtime_env"))})
            if not ok:
                serve["parseError"] = True
            out["serveConfigV2"] = serve
    masked: dict[str, Any] = mask_urls(out)  # working_dir, py_modules, pip/uv indexes: no credentials shown
    return masked


def remote_code(body: Mapping[str, Any]) -> list[str]:
    env = runtime_env(body)
    found = list((env.get("runtimeEnvYAML") or {}).get("remoteURIs") or ())
    found += list((env.get("runtimeEnvYAML") or {}).get("packages") or ())
    for app in (env.get("serveConfigV2") or {}).get("applications") or ():
        found += [*(app.get("remoteURIs") or ()), *(app.get("packages") or ())]
    return list(dict.fromkeys(found))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
