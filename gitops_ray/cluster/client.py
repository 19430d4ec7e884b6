"""`Cluster`: requests through the official client's ApiClient, over HTTP.

Design choices (see docs/plan.md):

* Live state costs one LIST per kind (cluster-wide, or per allowed namespace),
  filtered by the ownership label selector and following `continue`; never one
  GET per object. Responses are decoded as plain JSON, not into the client's
  model objects, which is several times cheaper.
* Writes are server-side apply with field manager `gitops-ray`; every write
  carries an `Audit-ID` header (the record's entry id, so the cluster's audit
  log joins the record) and a User-Agent naming gitops-ray, its version and
  the commit being applied.
* Retries with exponential backoff on 429, 5xx and connection errors,
  honouring `Retry-After`; never on other 4xx, which are answers, not failures;
  and never past a time budget: a run ends in bounded time whatever the server does.
* The cluster is what it says (docs/security.md): every request has connect and
  read timeouts (discovery included), a server that does not answer `/version`
  and `/api` like Kubernetes is refused before anything is read from it, an
  answer that is not the JSON shape Kubernetes gives is one line naming what came
  back, and a 404 to a LIST means "not served" only when discovery agrees.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gitops_ray import __version__, kinds
from gitops_ray.cluster.answers import (
    MAX_CONNECT_TIMEOUT,
    ApiError,
    api_error,
    is_object,
    json_object,
    lists,
    retry_after,
    retryable_transport,
    transport_problem,
)
from gitops_ray.errors import ClusterError
from gitops_ray.refs import ObjectRef, split_api_version

FIELD_MANAGER = "gitops-ray"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
ENVIRONMENT_LABEL = "gitops-ray.io/environment"

_RETRYABLE = {429, 500, 502, 503, 504}
DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds, per request: connect, and each read of the answer


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 10.0
    budget_s: float = 60.0  # no retry starts this long after the first attempt

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay)
        backoff: float = min(self.base_delay * (2**attempt), self.max_delay)
        return backoff * (0.5 + random.random() / 2)


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
    timeout: float = DEFAULT_REQUEST_TIMEOUT
    sleep: Callable[[float], None] = time.sleep
    calls: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    _discovery: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _version: dict[str, Any] | None = None

    # ------------------------------------------------------------------ plumbing

    def _send(self, method: str, path: str, body: Any, query: list[tuple[str, Any]], headers: dict[str, str],
              timeout: float) -> tuple[int, bytes, Any]:
        """One HTTP exchange through the official client (its auth, TLS and proxy settings),
        with our timeouts: connect, then each read of the answer."""
        api = self.api_client
        prepared = api.param_serialize(method, path, query_params=query, header_params=headers, body=body,
                                       auth_settings=["BearerToken"])
        resp = api.call_api(*prepared, _request_timeout=(min(timeout, MAX_CONNECT_TIMEOUT), timeout))
        data = resp.read()
        return int(resp.status or 0), bytes(data or b""), resp.headers

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
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One API request with retries (bounded in time); returns the decoded JSON object."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        headers = {"User-Agent": self.user_agent, "Accept": "application/json",
                   "Content-Type": content_type or "application/json"}
        if audit_id:
            headers["Audit-ID"] = audit_id
        limit = timeout if timeout is not None else self.timeout
        self.calls[verb or method.lower()] += 1
        started = time.monotonic()
        for attempt in range(self.retry.attempts):
            final = attempt == self.retry.attempts - 1 or time.monotonic() - started >= self.retry.budget_s
            wait_for: float | None = None
            try:
                status, data, resp_headers = self._send(method, path, body, list(query or []), headers, limit)
            except (Urllib3Error, ApiException, OSError) as err:
                # A timeout or a TLS failure is not retried: the time is spent, and a retry of a
                # server that hangs would only multiply --request-timeout.
                if final or not retryable_transport(err):
                    raise ClusterError(f"{self.server}: {method} {path}: {transport_problem(err, limit)}") from None
            else:
                if 200 <= status < 300:
                    return json_object(data, resp_headers, self.server, method, path)
                if status not in _RETRYABLE or final:
                    raise api_error(status, data, resp_headers, method, path)
                wait_for = retry_after(resp_headers)
            self.calls["retry"] += 1
            delay = self.retry.delay(attempt, wait_for)
            self.sleep(max(0.0, min(delay, self.retry.budget_s - (time.monotonic() - started))))
        raise AssertionError("unreachable: the last attempt returns or raises")

    # ------------------------------------------------------------------ discovery

    def verify(self) -> None:
        """Refuse a server that does not answer `/version` and `/api` like Kubernetes, before
        anything is planned from its answers (a server answering 404 to everything is not an
        empty cluster)."""
        version = self._probe("/version")
        if not (isinstance(version.get("gitVersion"), str) or (
                isinstance(version.get("major"), str) and isinstance(version.get("minor"), str))):
            raise ClusterError(f"{self.server}: does not answer like a Kubernetes API server "
                               "(/version has no gitVersion, major or minor)")
        api = self._probe("/api")
        if api.get("kind") != "APIVersions" or "v1" not in (api.get("versions") or ()):
            raise ClusterError(f"{self.server}: does not answer like a Kubernetes API server "
                               "(/api does not list the core group v1)")
        self._version = version

    def _probe(self, path: str) -> dict[str, Any]:
        try:
            return self.request("GET", path, verb="discovery")
        except ApiError as err:
            if err.status in (401, 403):
                raise ClusterError(f"{self.server}: GET {path}: HTTP {err.status}: the server refused our "
                                   f"credentials ({err})") from None
            raise ClusterError(f"{self.server}: does not answer like a Kubernetes API server (GET {path}: "
                               f"HTTP {err.status})") from None

    def _group_version(self, api_version: str) -> dict[str, Any] | None:
        """The discovery document of a group version; None when the server does not serve it
        (and its group list agrees)."""
        with self._lock:
            if api_version in self._discovery:
                return self._discovery[api_version]
        group, version = split_api_version(api_version)
        path = f"/apis/{group}/{version}" if group else f"/api/{version}"
        try:
            doc: dict[str, Any] | None = self.request("GET", path, verb="discovery")
        except ApiError as err:
            if err.status != 404:
                raise
            if not group:
                raise ClusterError(f"{self.server}: does not answer like a Kubernetes API server "
                                   f"(GET {path}: HTTP 404)") from None
            if lists(self.request("GET", "/apis", verb="discovery"), group, version):
                raise ClusterError(f"{self.server}: /apis lists {api_version} but GET {path} answers 404: the "
                                   "server contradicts its own discovery") from None
            doc = None
        if doc is not None and not isinstance(doc.get("resources"), list):
            raise ClusterError(f"{self.server}: GET {path}: not an API resource list (no resources)")
        with self._lock:
            self._discovery[api_version] = doc
        return doc

    def served(self, api_version: str, kind: str) -> bool:
        """Whether discovery lists `kind` in `api_version`."""
        return self._discovered(api_version, kind) is not None

    def _discovered(self, api_version: str, kind: str) -> Resource | None:
        doc = self._group_version(api_version)
        for res in (doc or {}).get("resources") or ():
            if isinstance(res, dict) and res.get("kind") == kind and "/" not in str(res.get("name", "/")):
                return Resource(api_version, kind, str(res["name"]), bool(res.get("namespaced")))
        return None

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
            found = self._discovered(api_version, kind)
            if found is None:
                raise ClusterError(f"{self.server}: the server does not serve {kind} in {api_version}")
            resolved = found
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
            page_items = page.get("items")
            if page_items is None:
                page_items = []
            if not isinstance(page_items, list) or not all(is_object(i) for i in page_items):
                raise ClusterError(f"{self.server}: GET {path}: not a Kubernetes list (items must be a list of "
                                   "objects with metadata.name)")
            for item in page_items:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                items.append(item)
            meta = page.get("metadata") or {}
            token = meta.get("continue") if isinstance(meta, dict) else None
            if not token:
                return items
            if not isinstance(token, str):
                raise ClusterError(f"{self.server}: GET {path}: metadata.continue is not a string")

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
        if self._version is None:
            self._version = self.request("GET", "/version", verb="discovery")
        return str(self._version.get("gitVersion", ""))

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


def owned_selector(environment: str) -> str:
    return f"{MANAGED_BY_LABEL}=gitops-ray,{ENVIRONMENT_LABEL}={environment}"


def ref_of(obj: Mapping[str, Any]) -> ObjectRef:
    return ObjectRef.from_object(dict(obj))
