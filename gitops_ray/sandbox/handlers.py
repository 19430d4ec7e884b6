"""Routing and verb dispatch: an HTTP request in, a `Response` out.

Paths, verbs, query parameters and content negotiation follow spec §1; the
transport (threads, keep-alive, chunked watch streams, logging, faults) is
server.py's business.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox import openapi, protobuf, reads, tables, watch
from gitops_ray.sandbox.admission import Outcome, WriteOptions
from gitops_ray.sandbox.api import Api
from gitops_ray.sandbox.deletion import parse_options
from gitops_ray.sandbox.resources import ResourceType

JSON = "application/json"
VERSION = {"major": "1", "minor": "32", "emulationMajor": "1", "emulationMinor": "32", "minCompatibilityMajor": "1",
           "minCompatibilityMinor": "31", "gitVersion": "v1.32.4", "gitCommit": "59526cd4867447956156ae3a602fcbac5",
           "gitTreeState": "clean", "buildDate": "2025-04-22T16:02:27Z", "goVersion": "go1.23.6",
           "compiler": "gc", "platform": "linux/amd64"}
MAX_BODY = 3 * 1024 * 1024
FIELD_VALIDATION = ("Ignore", "Strict", "Warn")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes = b""

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def user_agent(self) -> str:
        return str(self.headers.get("User-Agent", ""))


@dataclass
class Response:
    code: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    stream: Iterator[bytes] | None = None
    field_manager: str = ""


def error_response(err: E.StatusError) -> Response:
    return Response(err.code, err.body(), headers=list(err.headers.items()))


def _json(code: int, doc: Any, warnings: list[str] | None = None) -> Response:
    body = doc if isinstance(doc, bytes) else json.dumps(doc, separators=(",", ":")).encode()
    headers = [("Warning", f'299 - {json.dumps(w)}') for w in warnings or ()]
    return Response(code, body, headers=headers)


def media_types(accept: str) -> list[tuple[str, dict[str, str]]]:
    out = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        params = dict(p.split("=", 1) for p in pieces[1:] if "=" in p)
        out.append((pieces[0].lower(), params))
    return out


def discovery_version(accept: str) -> str | None:
    """Aggregated discovery only when asked for: v2 first, then v2beta1, else plain (never 406)."""
    offered = {p.get("v") for t, p in media_types(accept)
               if t == JSON and p.get("g") == "apidiscovery.k8s.io" and p.get("as") == "APIGroupDiscoveryList"}
    for version in ("v2", "v2beta1"):
        if version in offered:
            return version
    return None


def table_version(accept: str) -> str | None:
    for media, params in media_types(accept):
        if media == JSON and params.get("as") == "Table" and params.get("g") == "meta.k8s.io" \
                and params.get("v") in ("v1", "v1beta1"):
            return params["v"]
    return None


class Handler:
    def __init__(self, api: Api, address: str, stop: threading.Event) -> None:
        self.api = api
        self.address = address
        self.stop = stop

    @property
    def registry(self) -> Any:
        return self.api.registry

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except E.StatusError as err:
            return error_response(err)
        except sqlite3.ProgrammingError:  # the store closed under a request: the server is stopping
            return error_response(E.service_unavailable("the sandbox is shutting down"))
        except Exception as err:  # a bug: answer like the API server's panic handler, keep the trace
            traceback.print_exc()
            return error_response(E.internal_error(f"{type(err).__name__}: {err}"))

    # -- routing ---------------------------------------------------------------------------------------------
    def _route(self, req: Request) -> Response:
        parts = [p for p in req.path.split("/") if p]
        if req.method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise E.method_not_allowed()
        if not parts:
            return _json(200, {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3",
                                         "/readyz", "/version"]})
        head = parts[0]
        if head in ("healthz", "livez", "readyz"):
            return Response(200, b"ok", "text/plain; charset=utf-8")
        if head == "version" and len(parts) == 1:
            return _json(200, VERSION)
        if head == "openapi":
            return self._openapi(parts)
        if head == "api":
            if len(parts) == 1:
                return self._discovery(req, legacy=True)
            if parts[1] != "v1":
                raise E.path_not_found()
            return self._group_version(req, "", "v1", parts[2:])
        if head == "apis":
            if len(parts) == 1:
                return self._discovery(req, legacy=False)
            if len(parts) == 2:
                body = self.registry.api_group(parts[1])
                if body is None:
                    raise E.path_not_found()
                return _json(200, body)
            return self._group_version(req, parts[1], parts[2], parts[3:])
        raise E.path_not_found()

    def _openapi(self, parts: list[str]) -> Response:
        if parts[1:2] != ["v3"]:
            raise E.path_not_found()
        if len(parts) == 2:
            return _json(200, openapi.root_body(self.registry))
        body = openapi.gv_body(self.registry, "/".join(parts[2:]))
        if body is None:
            raise E.path_not_found()
        return Response(200, body, headers=[("Cache-Control", "public, immutable")])

    def _discovery(self, req: Request, *, legacy: bool) -> Response:
        version = discovery_version(str(req.headers.get("Accept", "")))
        if version is not None:
            body = self.registry.aggregated(version, legacy)
            ctype = f"{JSON};g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
            return Response(200, body, ctype)
        return _json(200, self.registry.api_versions(self.address) if legacy else self.registry.api_groups())

    def _group_version(self, req: Request, group: str, version: str, rest: list[str]) -> Response:
        if not rest:
            body = self.registry.resource_list(group, version)
            if body is None:
                raise E.path_not_found()
            return _json(200, body)
        ns: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and group == "" and rest[2] in ("status", "finalize") \
                and len(rest) == 3:
            return self._resource(req, group, version, "namespaces", None, rest[1], rest[2])
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if len(rest) > 3:
            raise E.path_not_found()
        return self._resource(req, group, version, plural, ns, name, sub)

    def _resource(self, req: Request, group: str, version: str, plural: str, ns: str | None, name: str | None,
                  sub: str | None) -> Response:
        rt = self.registry.lookup(group, version, plural)
        if rt is None or (ns is not None and not rt.namespaced) or (sub is not None and sub not in rt.subresources):
            raise E.path_not_found()
        warnings = [rt.deprecation_warning] if rt.deprecation_warning else []
        response = self._collection(req, rt, ns) if name is None else self._item(req, rt, ns or "", name, sub)
        response.headers += [("Warning", f"299 - {json.dumps(w)}") for w in warnings]
        return response

    # -- collections -----------------------------------------------------------------------------------------
    def _collection(self, req: Request, rt: ResourceType, ns: str | None) -> Response:
        if req.method == "GET":
            flt = reads.Filter.parse(rt, req.q("labelSelector"), req.q("fieldSelector"))
            if (req.q("watch") or "").lower() in ("true", "1"):
                return self._watch(req, rt, ns, flt)
            return self._list(req, rt, ns, flt)
        if req.method == "POST":
            if rt.namespaced and ns is None:
                raise E.method_not_allowed()
            opts = self._write_options(req, "CreateOptions")
            return self._outcome(self.api.create(rt, ns or "", self._body(req), opts), req, opts)
        if req.method == "DELETE":
            flt = reads.Filter.parse(rt, req.q("labelSelector"), req.q("fieldSelector"))
            options = parse_options(self._flat(req), self._optional_body(req))
            options.dry_run = self._dry_run(req, "DeleteOptions")
            return _json(200, self.api.delete_collection(rt, ns, flt, options))
        raise E.method_not_allowed()

    def _list(self, req: Request, rt: ResourceType, ns: str | None, flt: reads.Filter) -> Response:
        page = reads.list_rows(self.api, rt, ns, flt, limit=reads.parse_limit(req.q("limit")), token=req.q("continue"))
        if not flt.empty:
            page.remaining = None
        table = table_version(str(req.headers.get("Accept", "")))
        if table is not None:
            objects = [reads.item_obj(self.api, rt, row) for row in page.rows]
            doc = tables.table(rt, objects, now=self.api.clock(), resource_version=str(page.rv),
                               continue_token=page.token, remaining=page.remaining,
                               include=req.q("includeObject") or "Metadata")
            doc["apiVersion"] = f"meta.k8s.io/{table}"
            return _json(200, doc)
        return _json(200, reads.list_body(self.api, rt, page))

    def _watch(self, req: Request, rt: ResourceType, ns: str | None, flt: reads.Filter) -> Response:
        timeout = float(req.q("timeoutSeconds") or 1800)
        bookmarks = (req.q("allowWatchBookmarks") or "").lower() == "true"
        table = table_version(str(req.headers.get("Accept", "")))
        render = None
        if table is not None:
            include = req.q("includeObject") or "Metadata"

            def render(item: bytes) -> bytes:
                doc = tables.table(rt, [json.loads(item)], now=self.api.clock(), resource_version="",
                                   include=include)
                doc["apiVersion"] = f"meta.k8s.io/{table}"
                doc["metadata"] = {}
                return json.dumps(doc, separators=(",", ":")).encode()
        events = watch.stream(self.api, rt, ns, flt, resource_version=req.q("resourceVersion"), timeout=timeout,
                              bookmarks=bookmarks, stop=self.stop, render=render)
        return Response(200, stream=events)

    # -- items -----------------------------------------------------------------------------------------------
    def _item(self, req: Request, rt: ResourceType, ns: str, name: str, sub: str | None) -> Response:
        if req.method == "GET":
            row = reads.get(self.api, rt, ns, name)
            table = table_version(str(req.headers.get("Accept", "")))
            if table is not None:
                obj = reads.item_obj(self.api, rt, row)
                doc = tables.table(rt, [obj], now=self.api.clock(), resource_version=str(row.rv),
                                   include=req.q("includeObject") or "Metadata")
                doc["apiVersion"] = f"meta.k8s.io/{table}"
                return _json(200, doc)
            return _json(200, reads.item_bytes(self.api, rt, row))
        if req.method == "PUT":
            opts = self._write_options(req, "UpdateOptions")
            return self._outcome(self.api.replace(rt, ns, name, self._body(req), opts, sub), req, opts)
        if req.method == "PATCH":
            opts = self._write_options(req, "PatchOptions")
            ctype = str(req.headers.get("Content-Type", "")).split(";")[0].strip().lower()
            if ctype == "application/apply-patch+yaml" and not req.q("fieldManager"):
                opts.field_manager = ""
            return self._outcome(self.api.patch(rt, ns, name, ctype, req.body, opts, sub), req, opts)
        if req.method == "DELETE":
            if sub is not None:
                raise E.method_not_allowed()
            options = parse_options(self._flat(req), self._optional_body(req))
            options.dry_run = self._dry_run(req, "DeleteOptions")
            code, body = self.api.delete(rt, ns, name, options)
            return _json(code, body)
        raise E.method_not_allowed()

    # -- helpers ---------------------------------------------------------------------------------------------
    def _outcome(self, outcome: Outcome, req: Request, opts: WriteOptions) -> Response:
        response = _json(outcome.code, outcome.obj, outcome.warnings)
        response.field_manager = opts.field_manager
        return response

    @staticmethod
    def _flat(req: Request) -> dict[str, str]:
        return {k: v[0] for k, v in req.query.items() if v}

    def _dry_run(self, req: Request, kind: str) -> bool:
        values = req.query.get("dryRun") or []
        for value in values:
            if value != "All":
                raise E.options_invalid(kind, [("FieldValueNotSupported", "dryRun",
                                                f'Unsupported value: {json.dumps(values)}: supported values: "All"')])
        return bool(values)

    def _write_options(self, req: Request, kind: str) -> WriteOptions:
        validation = req.q("fieldValidation") or "Warn"
        if validation not in FIELD_VALIDATION:
            raise E.options_invalid(kind, [("FieldValueNotSupported", "fieldValidation",
                                            f'Unsupported value: {json.dumps(validation)}: supported values: '
                                            '"Ignore", "Strict", "Warn"')])
        manager = req.q("fieldManager")
        if manager is not None:
            if len(manager) > 128:
                raise E.options_invalid(kind, [("FieldValueTooLong", "fieldManager",
                                                "Too long: may not be more than 128 bytes")])
            bad = [c for c in manager if not c.isprintable()]
            if bad:
                raise E.options_invalid(kind, [("FieldValueInvalid", "fieldManager",
                                                f"Invalid value: {json.dumps(manager)}: invalid character")])
        else:
            manager = req.user_agent.split("/")[0][:128]
        force_text = req.q("force")
        force = None if force_text is None else force_text.lower() == "true"
        return WriteOptions(dry_run=self._dry_run(req, kind), field_manager=manager, field_validation=validation,
                            force=force)

    @staticmethod
    def _body(req: Request) -> Any:
        ctype = str(req.headers.get("Content-Type", JSON)).split(";")[0].strip().lower() or JSON
        if ctype == protobuf.MEDIA_TYPE:
            return protobuf.decode(req.body)
        if ctype not in (JSON, "application/yaml", "*/*"):
            raise E.unsupported_media_type([JSON, "application/yaml"])
        try:
            if ctype == "application/yaml":
                import yaml

                return yaml.safe_load(req.body)
            return json.loads(req.body or b"null")
        except ValueError as err:
            raise E.bad_request(f"the object provided is unrecognized: {err}") from None

    @staticmethod
    def _optional_body(req: Request) -> Any:
        if not req.body:
            return None
        try:
            return json.loads(req.body)
        except ValueError:
            raise E.bad_request("the body of the request could not be decoded as DeleteOptions") from None


__all__ = ["MAX_BODY", "VERSION", "Handler", "Request", "Response", "discovery_version", "error_response",
           "table_version"]
