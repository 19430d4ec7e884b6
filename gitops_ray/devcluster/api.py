"""The few admin calls the control plane's bootstrap makes, over the standard library's HTTPS client.

The bootstrap must not depend on the client it is there to test, so this is urllib, not `kubernetes`.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from gitops_ray.devcluster.errors import DevClusterError


class AdminApi:
    """HTTPS to one kube-apiserver as the admin client certificate (system:masters)."""

    def __init__(self, server: str, *, ca: Path, cert: Path, key: Path) -> None:
        self.server = server.rstrip("/")
        self._context = ssl.create_default_context(cafile=str(ca))
        self._context.load_cert_chain(str(cert), str(key))

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/json",
        timeout: float = 30.0,
    ) -> tuple[int, Any]:
        """`(status, decoded JSON body or None)`; HTTP errors are returned, not raised."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(self.server + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, context=self._context, timeout=timeout) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, _decode(err.read())

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        if status != 200:
            raise DevClusterError(f"GET {path}: HTTP {status}: {_message(body)}")
        return body

    def ok(self, path: str) -> bool:
        """True if GET `path` answers 200 (for /readyz-style probes)."""
        status, _ = self.request("GET", path, timeout=5.0)
        return status == 200

    def create(self, path: str, obj: dict[str, Any]) -> Any:
        status, body = self.request("POST", path, body=json.dumps(obj).encode())
        if status not in (200, 201, 409):
            raise DevClusterError(f"POST {path}: HTTP {status}: {_message(body)}")
        return body

    def apply(self, path: str, manifest: bytes, *, manager: str) -> Any:
        """Server-side apply (YAML or JSON body), forced: the control plane's bootstrap owns these objects."""
        status, body = self.request(
            "PATCH",
            f"{path}?fieldManager={manager}&force=true",
            body=manifest,
            content_type="application/apply-patch+yaml",
            timeout=60.0,
        )
        if status not in (200, 201):
            raise DevClusterError(f"server-side apply of {path}: HTTP {status}: {_message(body)}")
        return body


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw.decode(errors="replace")[:500]}


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("message", body))
    return str(body)
