"""The only module that talks to Kubernetes: the official client's DynamicClient over HTTP.

Design choices (see docs/plan.md):

* Live state costs one LIST per kind (cluster-wide, or per allowed namespace),
  filtered by the ownership label selector and following `continue`; never one
  GET per object. Responses are decoded as plain JSON (`serialize=False`),
  not into the client's model objects, which is several times cheaper.
* Writes are server-side apply with field manager `gitops-ray`; every write
  carries an `Audit-ID` header (the record's entry id, so the cluster's audit
  log joins the record) and a User-Agent naming gitops-ray, its version and
  the commit being applied.
* Retries with exponential backoff on 429, 5xx and connection errors,
  honouring `Retry-After`; never on other 4xx, which are answers, not failures.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gitops_ray import __version__, kinds
from gitops_ray.environment import ClusterTarget
from gitops_ray.errors import ClusterError
from gitops_ray.refs import ObjectRef, split_api_version

FIELD_MANAGER = "gitops-ray"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ENVIRONMENT_LABEL = "gitops-ray.io/environment"

_RETRYABLE = {429, 500, 502, 503, 504}


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        backoff: float = min(self.base_delay * (2**attempt), self.max_delay)
        return backoff * (0.5 + random.random() / 2)


class ApiError(ClusterError):
    """A request the API server answered with an error Status."""

    def __init__(self, message: str, *, status: int, reason: str = "", body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body: Mapping[str, Any] = body or {}

    @property
    def causes(self) -> list[dict[str, Any]]:
        details = self.body.get("details") or {}
        return list(details.get("causes") or [])


class FieldConflict(ApiError):
    """A server-side apply conflict: other managers own fields we would change."""

    @property
    def conflicts(self) -> list[tuple[str, str]]:
        """(manager, field) pairs, e.g. ('"kubectl-edit" using v1', '.spec.x')."""
        out = []
        for cause in self.causes:
            if cause.get("reason") == "FieldManagerConflict":
                manager = str(cause.get("message", "")).removeprefix("conflict with ").strip()
                out.append((manager, str(cause.get("field", ""))))
        return out

    @property
    def managers(self) -> set[str]:
        return {_manager_name(manager) for manager, _ in self.conflicts}


def _manager_name(description: str) -> str:
    """'"kubectl-edit" using v1' -> 'kubectl-edit'."""
    if description.startswith('"'):
        return description[1:].split('"', 1)[0]
    return description.split(" ", 1)[0]


@dataclass(frozen=True, slots=True)
class Resource:
    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        group, version = split_api_version(self.api_version)
        base = f"/apis/{group}/{version}" if group else f"/api/{version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        return base


@dataclass(kw_only=True)
class Cluster:
    """A connected cluster. Thread-safe: apply runs writes of a wave concurrently."""

    api_client: Any
    server: str
    context: str = ""
    user_agent: str = f"gitops-ray/{__version__}"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    calls: Counter[str] = field(default_factory=Counter)
    _dynamic: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _resources: dict[tuple[str, str], Resource] = field(default_factory=dict)

    # ------------------------------------------------------------------ plumbing

    @property
    def dynamic(self) -> Any:
        with self._lock:
            if self._dynamic is None:
                from kubernetes.dynamic import DynamicClient

                self._dynamic = DynamicClient(  # type: ignore[no-untyped-call]
                    self.api_client, cache_file=str(_discovery_cache(self.server))
                )
            return self._dynamic

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: list[tuple[str, Any]] | None = None,
        content_type: str | None = None,
        audit_id: str | None = None,
        verb: str = "",
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """One API request with retries; returns the decoded JSON body."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if audit_id:
            headers["Audit-ID"] = audit_id
        self.calls[verb or method.lower()] += 1
        last: Exception | None = None
        for attempt in range(self.retry.attempts):
            retry_after: float | None = None
            try:
                resp = self.dynamic.request(
                    method, path, body=body, query_params=list(query or []), header_params=dict(headers),
                    content_type=content_type, serialize=False, _request_timeout=timeout,
                )
                data = resp.data
                return json.loads(data) if data else {}
            except ApiException as err:
                status = int(err.status or 0)
                if status not in _RETRYABLE or attempt == self.retry.attempts - 1:
                    raise _api_error(err, method, path) from None
                retry_after = _retry_after(err.headers)
                last = err
            except (Urllib3Error, ConnectionError, OSError) as err:
                if attempt == self.retry.attempts - 1:
                    raise ClusterError(f"{self.server}: {method} {path}: {_short(err)}") from None
                last = err
            self.calls["retry"] += 1
            self.sleep(self.retry.delay(attempt, retry_after))
        raise ClusterError(f"{self.server}: {method} {path}: gave up after retries: {_short(last)}")

    def resource(self, api_version: str, kind: str) -> Resource:
        """Plural and scope of a kind: from our table, else from API discovery."""
        key = (api_version, kind)
        known = self._resources.get(key)
        if known is not None:
            return known
        group, _ = split_api_version(api_version)
        info = kinds.lookup(group, kind)
        if info is not None:
            resolved = Resource(api_version, kind, info.plural, info.namespaced)
        else:
            from kubernetes.dynamic.exceptions import ResourceNotFoundError

            try:
                found = self.dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                raise ClusterError(f"{self.server}: the server does not serve {kind} in {api_version}") from None
            resolved = Resource(api_version, kind, found.name, bool(found.namespaced))
        self._resources[key] = resolved
        return resolved

    # ------------------------------------------------------------------ reads

    def list_objects(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 1000,
    ) -> list[dict[str, Any]]:
        """All objects of a kind, following `continue`. Items get apiVersion/kind set
        (built-in lists leave them out)."""
        res = self.resource(api_version, kind)
        path = res.path(namespace=namespace)
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            query: list[tuple[str, Any]] = [("limit", page_size)]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if field_selector:
                query.append(("fieldSelector", field_selector))
            if token:
                query.append(("continue", token))
            page = self.request("GET", path, query=query, verb="list")
            for item in page.get("items") or ():
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items

    def get(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        res = self.resource(api_version, kind)
        try:
            return self.request("GET", res.path(namespace, name), verb="get")
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    # ------------------------------------------------------------------ writes

    def apply(
        self,
        body: dict[str, Any],
        *,
        force: bool = False,
        dry_run: bool = False,
        audit_id: str | None = None,
        field_manager: str = FIELD_MANAGER,
    ) -> dict[str, Any]:
        res = self.resource(body["apiVersion"], body["kind"])
        meta = body.get("metadata") or {}
        query: list[tuple[str, Any]] = [("fieldManager", field_manager), ("force", "true" if force else "false")]
        if dry_run:
            query.append(("dryRun", "All"))
        return self.request(
            "PATCH", res.path(meta.get("namespace"), meta["name"]), body=body, query=query,
            content_type="application/apply-patch+yaml", audit_id=audit_id, verb="apply",
        )

    def delete(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
        uid: str | None = None,
        dry_run: bool = False,
        audit_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Delete; None if it was already gone. `uid` is a precondition: never delete
        a re-created object of the same name by mistake."""
        res = self.resource(api_version, kind)
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        query = [("dryRun", "All")] if dry_run else []
        try:
            return self.request("DELETE", res.path(namespace, name), body=body, query=query,
                                audit_id=audit_id, verb="delete")
        except ApiError as err:
            if err.status == 404:
                return None
            raise

    # ------------------------------------------------------------------ record anchors

    def read_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.get("v1", "ConfigMap", namespace, name)

    def apply_configmap(self, body: dict[str, Any], *, audit_id: str | None = None) -> None:
        # force: the anchor has one writer per environment; a hand edit must not block it.
        self.apply({"apiVersion": "v1", "kind": "ConfigMap", **body}, force=True, audit_id=audit_id)

    # ------------------------------------------------------------------ facts

    def server_version(self) -> str:
        info = self.request("GET", "/version", verb="discovery")
        return str(info.get("gitVersion", ""))

    def identity(self) -> str:
        """The Kubernetes user we act as, as far as the kubeconfig tells."""
        cfg = self.api_client.configuration
        if cfg.username:
            return str(cfg.username)
        token = (cfg.api_key or {}).get("authorization", "") or (cfg.api_key or {}).get("BearerToken", "")
        if token:
            return "bearer-token:" + hashlib.sha256(str(token).encode()).hexdigest()[:12]
        if cfg.cert_file:
            return f"client-certificate:{Path(cfg.cert_file).name}"
        return "anonymous"


def _api_error(err: Any, method: str, path: str) -> ApiError:
    status = int(err.status or 0)
    body: dict[str, Any] = {}
    try:
        body = json.loads(err.body) if err.body else {}
    except (ValueError, TypeError):
        body = {}
    message = str(body.get("message") or err.reason or f"HTTP {status}")
    reason = str(body.get("reason") or "")
    cls = FieldConflict if status == 409 and any(
        c.get("reason") == "FieldManagerConflict" for c in (body.get("details") or {}).get("causes") or ()
    ) else ApiError
    return cls(message, status=status, reason=reason, body=body)


def _retry_after(headers: Any) -> float | None:
    if not headers:
        return None
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _short(err: Exception | None) -> str:
    text = str(err) if err else "unknown error"
    return text.splitlines()[0][:300]


def _discovery_cache(server: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gitops-ray" / "discovery"
    base.mkdir(parents=True, exist_ok=True)
    return base / (hashlib.sha256(server.encode()).hexdigest()[:16] + ".json")


def owned_selector(environment: str) -> str:
    return f"{MANAGED_BY_LABEL}=gitops-ray,{ENVIRONMENT_LABEL}={environment}"


def make_user_agent(commit: str = "") -> str:
    suffix = f" (commit {commit[:12]})" if commit else ""
    return f"gitops-ray/{__version__}{suffix}"


@contextlib.contextmanager
def connect(
    target: ClusterTarget,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    user_agent: str | None = None,
    pool_size: int = 16,
) -> Iterator[Cluster]:
    """Connect the way kubectl would: `--kubeconfig`/`--context` override the environment.

    A target naming the embedded sandbox is resolved to the sandbox's kubeconfig by the
    caller (`engine.target`): this module knows kubeconfigs, not the sandbox.
    """
    if kubeconfig is None and context is None and target.in_cluster:
        yield _in_cluster(user_agent, pool_size)
        return
    if kubeconfig is None and context is None and target.is_sandbox:
        raise ClusterError(f"{target.describe()}: a sandbox target needs its kubeconfig (engine.target.open_cluster)")
    yield _from_kubeconfig(kubeconfig or target.kubeconfig, context or target.context, user_agent, pool_size)


def _from_kubeconfig(path: str | None, context: str | None, user_agent: str | None, pool_size: int) -> Cluster:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    resolved = os.path.expanduser(path) if path else None
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=resolved, context=context, client_configuration=cfg, persist_config=False)
    except (ConfigException, OSError, TypeError) as err:
        where = resolved or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClusterError(f"{where}: cannot load kubeconfig: {_short(err)}") from None
    _, active = config.list_kube_config_contexts(config_file=resolved)  # type: ignore[no-untyped-call]
    name = context or (active or {}).get("name", "")
    return _cluster(cfg, name, user_agent, pool_size)


def _in_cluster(user_agent: str | None, pool_size: int) -> Cluster:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except ConfigException as err:
        raise ClusterError(f"in-cluster config: {_short(err)}") from None
    return _cluster(cfg, "in-cluster", user_agent, pool_size)


def _cluster(cfg: Any, context: str, user_agent: str | None, pool_size: int) -> Cluster:
    from kubernetes import client

    cfg.retries = False  # we retry ourselves, honouring Retry-After
    cfg.connection_pool_maxsize = pool_size
    api_client = client.ApiClient(configuration=cfg)
    agent = user_agent or make_user_agent()
    api_client.user_agent = agent
    return Cluster(api_client=api_client, server=str(cfg.host), context=context, user_agent=agent)


def ref_of(obj: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.from_object(dict(obj))
