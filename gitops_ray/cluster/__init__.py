"""The only package that talks to Kubernetes (the official client): connections, requests,
discovery, and reading the server's answers as data.

* `client`: `Cluster` — LIST/GET/apply/delete with timeouts, bounded retries, Audit-IDs;
  discovery, and the check that the server is Kubernetes at all.
* `connect`: kubeconfigs (the user's, or one the environment names: no plugins from
  those) and in-cluster configuration.
* `answers`: JSON objects, Status errors, or one line saying what came back instead.
"""

from gitops_ray.cluster.answers import ApiError, FieldConflict
from gitops_ray.cluster.client import (
    DEFAULT_REQUEST_TIMEOUT,
    ENVIRONMENT_LABEL,
    FIELD_MANAGER,
    MANAGED_BY_LABEL,
    Cluster,
    Resource,
    RetryPolicy,
    owned_selector,
    ref_of,
)
from gitops_ray.cluster.connect import connect, make_user_agent

__all__ = [
    "DEFAULT_REQUEST_TIMEOUT",
    "ENVIRONMENT_LABEL",
    "FIELD_MANAGER",
    "MANAGED_BY_LABEL",
    "ApiError",
    "Cluster",
    "FieldConflict",
    "Resource",
    "RetryPolicy",
    "connect",
    "make_user_agent",
    "owned_selector",
    "ref_of",
]
