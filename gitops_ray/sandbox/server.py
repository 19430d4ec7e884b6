"""The HTTP transport: a threaded HTTP/1.1 server with keep-alive, chunked watch
streams, `Audit-Id` echo, a JSON-lines request log and the fault-injection hook.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gitops_ray.sandbox import errors as E
from gitops_ray.sandbox.faults import Faults
from gitops_ray.sandbox.handlers import MAX_BODY, Handler, Request, Response, error_response


class RequestLog:
    """One JSON object per line; a lock keeps lines whole under concurrent requests."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8", buffering=1)

    def write(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: Handler, log: RequestLog, faults: Faults) -> None:
        self.api_handler = handler
        self.log = log
        self.faults = faults
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def close_connections(self) -> None:
        with self.connections_lock:
            for conn in list(self.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.connections.clear()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer
    timeout = 300

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle plus the client's delayed ACK
        # add ~40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Requests go to the JSON request log instead of stderr."""

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _serve(self) -> None:
        started = time.monotonic()
        audit_id = self.headers.get("Audit-ID") or str(uuid.uuid4())
        split = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        response: Response
        dropped = False
        if length > MAX_BODY:
            self.rfile.read(length)
            response = error_response(E.too_large())
        else:
            body = self.rfile.read(length) if length else b""
            request = Request(self.command, urllib.parse.unquote(split.path), query, self.headers, body)
            decision = self.server.faults.decide(self.command, split.path)
            if decision.delay:
                time.sleep(decision.delay)
            if decision.error is not None:
                response = error_response(decision.error)
            else:
                response = self.server.api_handler.handle(request)
            dropped = decision.drop
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": self.command,
            "path": split.path,
            "query": split.query,
            "status": response.code,
            "duration": 0.0,
            "userAgent": self.headers.get("User-Agent", ""),
            "fieldManager": response.field_manager or (query.get("fieldManager") or [""])[0],
            "auditID": audit_id,
        }
        if response.stream is None:
            # Logged before the body goes out, so a client that has its answer also finds the log line.
            entry["duration"] = round(time.monotonic() - started, 6)
            self.server.log.write(entry)
            self._send(response, audit_id, dropped)
        else:
            self._send(response, audit_id, dropped)
            entry["duration"] = round(time.monotonic() - started, 6)
            self.server.log.write(entry)

    def _send(self, response: Response, audit_id: str, drop: bool) -> None:
        self.send_response(response.code)
        self.send_header("Audit-Id", audit_id)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in response.headers:
            self.send_header(key, value)
        if response.stream is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._stream(response)
            return
        self.send_header("Content-Length", str(len(response.body)))
        if drop:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if drop:
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(response.body)

    def _stream(self, response: Response) -> None:
        assert response.stream is not None
        try:
            for chunk in response.stream:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


__all__ = ["RequestLog", "SandboxHTTPServer"]
