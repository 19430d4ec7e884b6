"""The API server core without HTTP: one entry point per verb, each a store
transaction that ends with the controllers settling (deletion.settle). The
HTTP handlers and the internal client (the simulated operator) both call these,
so every write goes through one pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gitops_ray.sandbox import crds, deletion, writes
from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox.admission import Outcome, WriteOptions
from gitops_ray.sandbox.deletion import DeleteOptions
from gitops_ray.sandbox.meta import Clock, timestamp, utc_now
from gitops_ray.sandbox.reads import Filter, item_obj, list_rows
from gitops_ray.sandbox.registry import Registry
from gitops_ray.sandbox.resources import CRD_TYPE, NAMESPACES, ResourceType
from gitops_ray.sandbox.store import Store, Txn, clone

Obj = dict[str, Any]
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
CONTROLLER_MANAGER = "kube-controller-manager"
APISERVER = "kube-apiserver"
KUBERAY_VERSION_ANNOTATION = "gitops-ray.io/kuberay-version"
# A fixed, self-signed-looking placeholder: nothing in the sandbox verifies TLS.
ROOT_CA = ("-----BEGIN CERTIFICATE-----\nMIIBgitopsraysandboxplaceholdercertificatenotforproductionuse00=\n"
           "-----END CERTIFICATE-----\n")


class Api:
    def __init__(self, store: Store, registry: Registry | None = None, clock: Clock = utc_now) -> None:
        self.store = store
        self.registry = registry or Registry()
        self.clock = clock
        self._load_crds()

    def now(self) -> str:
        return timestamp(self.clock())

    # -- hooks the pipeline calls ----------------------------------------------------------------------------
    def admit_namespace(self, txn: Txn, rt: ResourceType, ns: str, name: str) -> None:
        """NamespaceLifecycle admission: creates need an existing, non-terminating namespace."""
        if not rt.namespaced:
            return
        row = txn.get("namespaces", "", ns)
        if row is None:
            raise E.not_found("namespaces", "", ns)
        obj = row.obj("Namespace")
        if obj["metadata"].get("deletionTimestamp") or (obj.get("status") or {}).get("phase") == "Terminating":
            raise E.forbidden(rt.plural, rt.group, name,
                              f"unable to create new content in namespace {ns} because it is being terminated",
                              [{"reason": "NamespaceTerminating", "message": f"namespace {ns} is being terminated",
                                "field": "metadata.namespace"}])

    def after_write(self, txn: Txn, rt: ResourceType, obj: Obj, prev: Obj | None) -> None:
        if rt.kind == "Namespace" and prev is None:
            self._bootstrap_namespace(txn, obj["metadata"]["name"])
        elif rt is CRD_TYPE or (rt.group_resource == CRD_TYPE.group_resource):
            self._establish(txn, obj)

    def after_remove(self, txn: Txn, rt: ResourceType, obj: Obj) -> None:
        if rt.group_resource != CRD_TYPE.group_resource:
            return
        name = obj["metadata"]["name"]
        for served in self.registry.crd_types(name):
            if served.version == served.storage_version:
                for row in txn.of_resource(served.group_resource):
                    writes.remove(self, txn, served, row)
        txn.after_commit.append(lambda: self.registry.set_crd(name, []))

    def _bootstrap_namespace(self, txn: Txn, ns: str) -> None:
        """What the service-account and root-CA publisher controllers create in every namespace."""
        sa = self.registry.lookup("", "v1", "serviceaccounts")
        cm = self.registry.lookup("", "v1", "configmaps")
        assert sa is not None and cm is not None
        if txn.get(sa.group_resource, ns, "default") is None:
            writes.system_create(self, txn, sa, {"metadata": {"name": "default", "namespace": ns}},
                                 manager=CONTROLLER_MANAGER)
        if txn.get(cm.group_resource, ns, "kube-root-ca.crt") is None:
            writes.system_create(self, txn, cm, {
                "metadata": {"name": "kube-root-ca.crt", "namespace": ns, "annotations": {
                    "kubernetes.io/description": "Contains a CA bundle that can be used to verify the "
                                                 "kube-apiserver when using internal endpoints such as the internal "
                                                 "service IP or kubernetes.default.svc. No other usage is guaranteed "
                                                 "across distributions of Kubernetes clusters."}},
                "data": {"ca.crt": ROOT_CA}}, manager=CONTROLLER_MANAGER)

    def _establish(self, txn: Txn, crd: Obj) -> None:
        """The naming and establishing controllers: accept names, mark Established, serve the types."""
        name = crd["metadata"]["name"]
        status = crds.established_status(crd, self.now())
        if crd.get("status") != status:
            # Only status matters to a /status write, so hand the pipeline a small body and the object we hold.
            body = {"metadata": {"name": name}, "status": status}
            crd = writes.system_update(self, txn, CRD_TYPE, body, manager=APISERVER, subresource="status",
                                       live=crd).obj
        types = crds.resource_types(crd)
        txn.after_commit.append(lambda: self.registry.set_crd(name, types))

    def _load_crds(self) -> None:
        _, rows = self.store.scan(CRD_TYPE.group_resource, None)
        for row in rows:
            crd = row.obj(CRD_TYPE.kind)
            if crds.is_established(crd):
                self.registry.set_crd(crd["metadata"]["name"], crds.resource_types(crd))

    # -- verbs -------------------------------------------------------------------------------------------------
    def _write(self, fn: Callable[[Txn], Outcome], dry_run: bool) -> Outcome:
        with self.store.transaction() as txn:
            result = fn(txn)
            if not dry_run:
                deletion.settle(self, txn)
            return result

    def create(self, rt: ResourceType, ns: str, body: Any, opts: WriteOptions) -> Outcome:
        return self._write(lambda txn: writes.create(self, txn, rt, ns, body, opts), opts.dry_run)

    def replace(self, rt: ResourceType, ns: str, name: str, body: Any, opts: WriteOptions,
                subresource: str | None = None) -> Outcome:
        return self._write(lambda txn: writes.replace(self, txn, rt, ns, name, body, opts, subresource),
                           opts.dry_run)

    def patch(self, rt: ResourceType, ns: str, name: str, content_type: str, raw: bytes, opts: WriteOptions,
              subresource: str | None = None) -> Outcome:
        return self._write(lambda txn: writes.patch(self, txn, rt, ns, name, content_type, raw, opts, subresource),
                           opts.dry_run)

    def delete(self, rt: ResourceType, ns: str, name: str, opts: DeleteOptions) -> tuple[int, Obj]:
        def run(txn: Txn) -> Outcome:
            code, body = deletion.delete(self, txn, rt, ns, name, opts)
            return Outcome(code, body)
        result = self._write(run, opts.dry_run)
        return result.code, result.obj

    def delete_collection(self, rt: ResourceType, ns: str | None, flt: Filter, opts: DeleteOptions) -> Obj:
        page = list_rows(self, rt, ns, flt, limit=None, token=None)

        def run(txn: Txn) -> Outcome:
            items = deletion.delete_collection(self, txn, rt, ns, page.rows, opts)
            return Outcome(200, {"kind": rt.list_kind, "apiVersion": rt.api_version,
                                 "metadata": {"resourceVersion": str(page.rv)}, "items": items})
        return self._write(run, opts.dry_run).obj

    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        row = self.store.get(rt.group_resource, ns, name)
        if row is None:
            raise E.not_found(rt.plural, rt.group, name)
        return item_obj(self, rt, row)

    # -- start-up ----------------------------------------------------------------------------------------------
    def bootstrap(self, kuberay_version: str | None = None, *, install_crds: bool = True) -> str | None:
        """System namespaces (each with its default objects) and the bundled KubeRay CRDs: `kuberay_version`,
        else the version this state directory already has, else the newest bundled."""
        with self.store.transaction() as txn:
            for ns in SYSTEM_NAMESPACES:
                if txn.get("namespaces", "", ns) is None:
                    writes.system_create(self, txn, NAMESPACES, {"metadata": {"name": ns}}, manager=APISERVER)
        if not install_crds:
            return None
        version, documents = crds.load_bundled(kuberay_version or self.installed_kuberay_version())
        for crd in documents:
            crd["metadata"].setdefault("annotations", {})[KUBERAY_VERSION_ANNOTATION] = version
            self.install_crd(crd)
        return version

    def installed_kuberay_version(self) -> str | None:
        row = self.store.get(CRD_TYPE.group_resource, "", "rayclusters.ray.io")
        if row is None:
            return None
        annotations = row.obj(CRD_TYPE.kind)["metadata"].get("annotations") or {}
        version = annotations.get(KUBERAY_VERSION_ANNOTATION)
        return str(version) if version in crds.bundled_versions() else None

    def install_crd(self, crd: Obj) -> None:
        """Create or update a CRD (as `kubectl apply --server-side` would), skipping an identical one."""
        name = crd["metadata"]["name"]
        with self.store.transaction() as txn:
            row = txn.get(CRD_TYPE.group_resource, "", name)
            if row is None:
                writes.system_create(self, txn, CRD_TYPE, {k: v for k, v in crd.items() if k != "status"},
                                     manager=APISERVER, trusted=True)
            else:
                live = row.obj(CRD_TYPE.kind, CRD_TYPE.api_version)
                desired = clone(crd)
                crds.crd_type_defaults(desired)
                wanted = desired["metadata"].get("annotations") or {}
                annotations = live["metadata"].get("annotations") or {}
                if live.get("spec") != desired.get("spec") or any(annotations.get(k) != v for k, v in wanted.items()):
                    live["spec"] = desired["spec"]
                    live["metadata"]["annotations"] = {**annotations, **wanted}
                    writes.system_update(self, txn, CRD_TYPE, live, manager=APISERVER)
            deletion.settle(self, txn)


__all__ = ["SYSTEM_NAMESPACES", "Api"]
