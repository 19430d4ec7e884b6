"""Names: the operator's own name checks, and the names of the objects it generates from them.

`ValidateRay{Cluster,Job,Service}Metadata` (ray-operator/controllers/ray/utils/validation.go,
from v1.4.0) and `ValidateRayCronJobSpec` (v1.7.0) bound the names so that every
child the operator derives fits the API server's limits (kuberay-facts §5 "Names";
the limits are ray-operator/controllers/ray/utils/constant.go `MaxRay*NameLength`:
RayCluster 53 = 63 - len("-serve-svc"), RayJob/RayService 47 = 53 - len("-xxxxx"),
RayCronJob 36 = 47 - len("-<unix minute>")).

What those checks do not cover is reported as `kuberay:child-name`, with the
limit and the generated name:

* before 1.4 nothing bounds the names. Services are then shortened by
  `utils.CheckName` (keeps the last 50 characters: a warning, as two clusters
  may end up with the same Service name), but the `ray.io/cluster` label every
  Pod carries is not, and a RayJob's or RayService's cluster is
  `<name>-raycluster-<5 random>` (utils/util.go `GenerateRayClusterName` at
  v1.3.2): past 63 characters the Pods are rejected;
* v1.6 RayCronJob children are `<name>-<5 random>` (raycronjob_controller.go
  at v1.6.2) and must pass the RayJob name check (47, DNS-1035); from v1.7 they
  are `<name>-<unix minute>`, bounded by the operator itself;
* in every version, a worker group's name is the value of the `ray.io/group`
  label on its Pods (common/pod.go), and a custom `headService.metadata.name`
  is the head Service's name (utils/util.go `GenerateHeadServiceName`): the API
  server rejects a label value or Service name the operator never checks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Protocol

from gitops_ray.checks import syntax
from gitops_ray.checks.hits import Hit, Path
from gitops_ray.findings import Severity

RULES: dict[str, str] = {
    "kuberay:name-format": "metadata.name is a DNS-1035 label (the operator derives Service names from it)",
    "kuberay:name-length": "name length: RayCluster <= 53, RayJob/RayService <= 47, RayCronJob <= 36",
    "kuberay:child-name": "names the operator generates (Services, Pod labels, child clusters and RayJobs) fit the "
                          "API server's limits",
}

class Context(Protocol):
    """What the names need of kuberay_cluster_rules.Context (which imports this module)."""

    def since(self, version: str) -> bool: ...


NAME_LIMITS = {"RayCluster": 53, "RayJob": 47, "RayService": 47}
CRON_LIMIT = 36
LABEL_LIMIT = 63
_CHECK_NAME_KEEP = 50  # utils.CheckName at v1.3.2 keeps the last 50 characters
RANDOM = "xxxxx"  # stands for the operator's 5 random characters in messages


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def metadata(kind: str, meta: dict[str, Any], ctx: Context, spec: dict[str, Any] | None = None) -> Iterator[Hit]:
    name = meta.get("name")
    if not isinstance(name, str):
        return
    if not ctx.since("1.4"):
        if kind == "RayJob" and _d(spec).get("clusterSelector"):
            return  # runs on an existing cluster: nothing is generated from its name
        yield from _unbounded(kind, name)
        return
    at: Path = ("metadata", "name")
    limit = NAME_LIMITS.get(kind)
    if kind == "RayCronJob" and ctx.since("1.7"):
        limit = CRON_LIMIT
    if limit is not None and len(name) > limit:
        yield Hit(at, "kuberay:name-length",
                  f"{kind} name is {len(name)} characters; the operator allows at most {limit} "
                  f"(it appends suffixes to derive child object names)")
    if kind == "RayCronJob":
        yield from _cron_children(name, ctx)
        return
    problem = syntax.dns1035_label(name)
    if problem:
        yield Hit(at, "kuberay:name-format", f"{kind} name {name!r} is not a valid DNS-1035 label: {problem}")


def _unbounded(kind: str, name: str) -> Iterator[Hit]:
    """KubeRay 1.3: no name checks; what the generated names then run into."""
    at: Path = ("metadata", "name")
    rule = "kuberay:child-name"
    cluster = name if kind == "RayCluster" else f"{name}-raycluster-{RANDOM}"
    if len(cluster) > LABEL_LIMIT:
        what = "" if kind == "RayCluster" else f"the operator names its RayCluster {cluster!r}; "
        yield Hit(at, rule, f"{what}its Pods carry the label ray.io/cluster={cluster} ({len(cluster)} characters), "
                  f"over the {LABEL_LIMIT}-character limit of label values: the API server rejects them")
    problem = syntax.dns1035_label(name[:LABEL_LIMIT])
    if problem:
        yield Hit(at, rule, f"the operator names the head Service {name}-head-svc, and Service names must be "
                  f"DNS-1035 labels: {problem}")
    for suffix in ("-head-svc", "-serve-svc"):
        service = f"{cluster}{suffix}"
        if len(service) > _CHECK_NAME_KEEP:
            shortened = service[len(service) - _CHECK_NAME_KEEP:]
            yield Hit(at, rule, f"the operator shortens the Service name {service!r} ({len(service)} characters) to "
                      f"its last {_CHECK_NAME_KEEP}, {shortened!r}: objects with a common ending share it",
                      Severity.WARNING)
            break


def _cron_children(name: str, ctx: Context) -> Iterator[Hit]:
    at: Path = ("metadata", "name")
    rule = "kuberay:child-name"
    child = f"{name}-{RANDOM}" if not ctx.since("1.7") else f"{name}-{int(time.time() // 60)}"
    if not ctx.since("1.7") and len(child) > NAME_LIMITS["RayJob"]:
        yield Hit(at, rule, f"every scheduled RayJob is named {child!r} ({len(child)} characters), over the "
                  f"{NAME_LIMITS['RayJob']} the operator allows a RayJob: each one fails validation")
    problem = syntax.dns1035_label(name)
    if problem:
        yield Hit(at, rule, f"the scheduled RayJobs are named {child!r}, and RayJob names must be DNS-1035 "
                  f"labels: {problem}")


def cluster_children(spec: dict[str, Any], at: Path, *, embedded: bool) -> Iterator[Hit]:
    """Names in a RayClusterSpec that become the names or labels of what the operator creates."""
    rule = "kuberay:child-name"
    head = _d(spec.get("headGroupSpec"))
    service_name = _d(_d(head.get("headService")).get("metadata")).get("name")
    if isinstance(service_name, str) and service_name and not embedded:
        problem = syntax.dns1035_label(service_name)
        if problem:
            yield Hit((*at, "headGroupSpec", "headService", "metadata", "name"), rule,
                      f"the head Service is created with this name, and Service names are DNS-1035 labels: {problem}")
    workers = spec.get("workerGroupSpecs")
    for i, group in enumerate(workers if isinstance(workers, list) else ()):
        name = _d(group).get("groupName")
        if not isinstance(name, str):
            continue
        problem = syntax.label_value(name)
        if problem:
            yield Hit((*at, "workerGroupSpecs", i, "groupName"), rule,
                      f"the group's Pods carry the label ray.io/group={name}, and the API server rejects it: "
                      f"{problem}")
