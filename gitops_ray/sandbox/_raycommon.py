"""What every simulated KubeRay controller shares: names, labels, timings, conditions, time.

The simulation follows ray-project/kuberay v1.7.0 (see ../shared/docs/kuberay-facts.md);
comments cite the upstream function a behaviour comes from. Nothing here is
copied from upstream: the code is a re-statement of the documented behaviour.
"""

from __future__ import annotations

import calendar
import copy
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from gitops_ray.sandbox._raysim import World

log = logging.getLogger("gitops_ray.sandbox.operator")

FIELD_MANAGER = "kuberay-operator"
AUTOSCALER_MANAGER = "ray-autoscaler"
# The Kubernetes Job controller, simulated only for the RayJob submitter Jobs.
JOB_CONTROLLER_MANAGER = "kube-controller-manager"
KUBERAY_VERSION = "v1.7.0"  # utils.KUBERAY_VERSION, stamped on RayService clusters

RAY_V1 = "ray.io/v1"
CORE_V1 = "v1"
BATCH_V1 = "batch/v1"

# utils/constant.go
L_CLUSTER = "ray.io/cluster"
L_NODE_TYPE = "ray.io/node-type"
L_IDENTIFIER = "ray.io/identifier"
L_GROUP = "ray.io/group"
L_SERVE = "ray.io/serve"
L_HEADLESS = "ray.io/headless-worker-svc"
L_FROM_NAME = "ray.io/originated-from-cr-name"
L_FROM_CRD = "ray.io/originated-from-crd"
L_SUBMISSION_MODE = "ray.io/job-submission-mode"
L_CRONJOB = "ray.io/cronjob-name"
L_APP_NAME = "app.kubernetes.io/name"
L_CREATED_BY = "app.kubernetes.io/created-by"
A_HASH = "ray.io/hash-without-replicas-and-workers-to-delete"
A_NUM_GROUPS = "ray.io/num-worker-groups"
A_KUBERAY_VERSION = "ray.io/kuberay-version"
A_FT_ENABLED = "ray.io/ft-enabled"
A_ENABLE_SERVE_SERVICE = "ray.io/enable-serve-service"
A_DISABLE_HEAD_RESTART = "ray.io/disable-provisioned-head-restart"
A_CRON_TIMESTAMP = "ray.io/cronjob-scheduled-timestamp"
F_RAYJOB = "ray.io/rayjob-finalizer"
F_RAYSERVICE = "ray.io/rayservice-finalizer"
F_GCS_FT = "ray.io/gcs-ft-redis-cleanup-finalizer"
KUBERAY_CONTROLLER = "ray.io/kuberay-operator"

DEFAULT_PORTS = {"client": 10001, "gcs-server": 6379, "dashboard": 8265, "metrics": 8080, "serve": 8000}
MAX_INT32 = 2**31 - 1

# pkg/features/features.go at v1.7.0
DEFAULT_FEATURE_GATES: dict[str, bool] = {
    "RayClusterStatusConditions": True,
    "RayJobDeletionPolicy": True,
    "RayMultiHostIndexing": True,
    "RayServiceIncrementalUpgrade": True,
    "RayCronJob": False,
    "RayClusterNetworkPolicy": False,
    "RayClusterMTLS": False,
    "RayClusterHistoryServer": False,
    "GCSFaultToleranceEmbeddedStorage": False,
    "SidecarSubmitterRestart": False,
    "KubernetesWAS": False,
}


@dataclass(kw_only=True)
class OperatorTimings:
    """How long simulated things take, in seconds (the real ones take minutes)."""

    tick: float = 0.1  # pause between two reconcile passes of the background thread
    head_ready: float = 0.5  # head pod created -> running and ready
    workers_ready: float = 0.5  # worker pod created -> running and ready
    job_pending: float = 0.2  # Ray job submitted -> RUNNING
    job_runtime: float = 1.0  # Ray job RUNNING -> SUCCEEDED / FAILED
    serve_deploy: float = 0.3  # Serve application DEPLOYING -> RUNNING
    redis_cleanup: float = 0.2  # GCS FT redis cleanup Job run time
    # RayService `rayClusterDeletionDelaySeconds` (default 60) is multiplied by this.
    cluster_deletion_delay_scale: float = 0.01
    # Simulated load: seconds after a cluster with in-tree autoscaling is first seen ready
    # until the autoscaler adds one worker per group; None turns the simulated load off.
    autoscaler_scale_up_after: float | None = 0.0


class Client(Protocol):
    """The part of the sandbox `InternalClient` the operator uses (same write pipeline as HTTP)."""

    def list(self, api_version: str, plural: str, namespace: str | None = None, *,
             label_selector: str | None = None) -> list[dict[str, Any]]: ...

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def create(self, api_version: str, plural: str, namespace: str | None, body: dict[str, Any], *,
               field_manager: str) -> dict[str, Any]: ...

    def update(self, api_version: str, plural: str, namespace: str | None, body: dict[str, Any], *,
               field_manager: str) -> dict[str, Any]: ...

    def update_status(self, api_version: str, plural: str, namespace: str | None, body: dict[str, Any], *,
                      field_manager: str) -> dict[str, Any]: ...

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str, *,
               propagation: str = "Background") -> None: ...


@dataclass
class Env:
    """What a controller needs: the API, the clock, randomness, operator flags and the simulated pods."""

    client: Client
    timings: OperatorTimings
    now: Callable[[], float]
    rng: random.Random
    world: World
    operator_env: Mapping[str, str] = field(default_factory=dict)
    gates: Mapping[str, bool] = field(default_factory=lambda: dict(DEFAULT_FEATURE_GATES))

    def gate(self, name: str) -> bool:
        return bool(self.gates.get(name, DEFAULT_FEATURE_GATES.get(name, False)))

    def env_true(self, name: str) -> bool:
        return str(self.operator_env.get(name, "")).lower() == "true"

    def env_false(self, name: str) -> bool:
        return str(self.operator_env.get(name, "")).lower() == "false"


# --------------------------------------------------------------------------- API helpers


def status_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def get(env: Env, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
    if not name:
        return None
    return env.client.get(api_version, plural, namespace, name)


def delete(env: Env, api_version: str, plural: str, namespace: str, name: str) -> bool:
    """Background delete; False when it was already gone."""
    try:
        env.client.delete(api_version, plural, namespace, name, propagation="Background")
    except Exception as exc:
        if status_code(exc) == 404:
            return False
        raise
    return True


def update_status(env: Env, api_version: str, plural: str, obj: dict[str, Any], status: dict[str, Any],
                  manager: str = FIELD_MANAGER) -> dict[str, Any]:
    body = copy.deepcopy(obj)
    body["status"] = status
    meta = obj.get("metadata") or {}
    return env.client.update_status(api_version, plural, meta.get("namespace"), body, field_manager=manager)


def with_finalizer(env: Env, plural: str, obj: dict[str, Any], finalizer: str, present: bool) -> dict[str, Any]:
    """Add or remove one finalizer with an Update on the main resource (`controllerutil.AddFinalizer` + `r.Update`)."""
    body = copy.deepcopy(obj)
    meta = body.setdefault("metadata", {})
    finalizers = [f for f in meta.get("finalizers") or [] if f != finalizer]
    if present:
        finalizers.append(finalizer)
    meta["finalizers"] = finalizers
    return env.client.update(RAY_V1, plural, meta.get("namespace"), body, field_manager=FIELD_MANAGER)


def owner_reference(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A controller reference, as `ctrl.SetControllerReference` writes it."""
    meta = obj.get("metadata") or {}
    return {"apiVersion": obj.get("apiVersion", RAY_V1), "kind": obj.get("kind", ""), "name": meta.get("name", ""),
            "uid": meta.get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def has_finalizer(obj: Mapping[str, Any], finalizer: str) -> bool:
    return finalizer in ((obj.get("metadata") or {}).get("finalizers") or ())


def managed_by_external(spec: Mapping[str, Any]) -> bool:
    """`utils.ManagedByExternalController`: Kueue MultiKueue objects are left alone."""
    managed_by = spec.get("managedBy")
    return managed_by is not None and managed_by != KUBERAY_CONTROLLER


# --------------------------------------------------------------------------- time, names


def rfc3339(moment: float) -> str:
    """`metav1.Time` as JSON: UTC, whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return float(calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def go_time(text: Any) -> str:
    """How Go's `%v` prints a `*metav1.Time` in the operator's messages."""
    moment = parse_time(text)
    return "<nil>" if moment is None else time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(moment))


# apimachinery `util/rand.String`: no vowels, so generated names never spell words.
_RAND_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def rand_suffix(rng: random.Random, length: int = 5) -> str:
    return "".join(rng.choice(_RAND_ALPHABET) for _ in range(length))


def check_label(value: str) -> str:
    """`utils.CheckLabel`: keep the last 63 characters; never start with punctuation."""
    value = value[-63:]
    return "r" + value[1:] if value and not value[0].isalnum() else value


_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def dns1035_errors(name: str) -> list[str]:
    """apimachinery `validation.IsDNS1035Label` messages."""
    errors = []
    if len(name) > 63:
        errors.append("must be no more than 63 characters")
    if not _DNS1035.match(name):
        errors.append("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                      "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                      "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
    return errors


def go_list(items: list[str]) -> str:
    return "[" + " ".join(items) + "]"


# --------------------------------------------------------------------------- conditions


def find_condition(conditions: list[dict[str, Any]] | None, kind: str) -> dict[str, Any] | None:
    for cond in conditions or ():
        if cond.get("type") == kind:
            return cond
    return None


def is_true(conditions: list[dict[str, Any]] | None, kind: str) -> bool:
    cond = find_condition(conditions, kind)
    return cond is not None and cond.get("status") == "True"


def set_condition(conditions: list[dict[str, Any]], kind: str, status: str, reason: str, message: str, now: float,
                  observed_generation: int = 0) -> None:
    """`meta.SetStatusCondition`: lastTransitionTime moves only when the status flips."""
    cond = find_condition(conditions, kind)
    if cond is None:
        cond = {"type": kind, "status": status, "lastTransitionTime": rfc3339(now)}
        conditions.append(cond)
    elif cond.get("status") != status:
        cond["status"] = status
        cond["lastTransitionTime"] = rfc3339(now)
    cond["reason"] = reason
    cond["message"] = message
    if observed_generation:
        cond["observedGeneration"] = observed_generation
    else:
        cond.pop("observedGeneration", None)


def remove_condition(conditions: list[dict[str, Any]], kind: str) -> None:
    conditions[:] = [c for c in conditions if c.get("type") != kind]


def int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
