"""The cluster is what it says, in bounded time (issue 9, deliverable 4): servers that are not
Kubernetes, that hang, or that answer garbage are one line and exit 4, never a traceback and
never an empty cluster. Each fake server is a tiny http.server in a thread on loopback; the
requests go through the official client as in production.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from gitops_ray.cli.main import cli
from gitops_ray.errors import ExitCode
from gitops_ray.sandbox import Sandbox

ENV = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  cluster: {sandbox: {}}
  kuberayVersion: "1.5.1"
  namespaces: [ray-dev]
"""
NS = "apiVersion: v1\nkind: Namespace\nmetadata: {name: ray-dev}\n"
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ray-dev}\ndata: {mode: fast}\n"
VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0"}
API = {"kind": "APIVersions", "versions": ["v1"]}

Answer = tuple[int, str, bytes]  # status, content type, body
Route = Callable[[str], Answer | None]


def json_answer(doc: Any, status: int = 200) -> Answer:
    return status, "application/json", json.dumps(doc).encode()


class FakeServer:
    """A loopback HTTP server answering with `route(path)` (None: 404 Not Found, as JSON Status);
    `hang`: read the request and never answer; `lie`: announce 10,000 bytes more than it sends."""

    def __init__(self, route: Route, *, hang: bool = False, lie: bool = False) -> None:
        self.paths: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.paths.append(self.path)
                if hang:
                    owner.release.wait(30)  # accept, read the request, never answer
                    return
                answer = route(self.path.split("?")[0])
                status, content_type, body = answer or json_answer(
                    {"kind": "Status", "status": "Failure", "reason": "NotFound", "code": 404}, 404)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body) + (10_000 if lie else 0)))
                self.end_headers()
                self.wfile.write(body)

            do_PATCH = do_DELETE = do_POST = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def kubeconfig_for(url: str, path: Path) -> Path:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{url}"}}}}]
users: [{{name: u, user: {{token: not-a-real-token}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u}}}}]
current-context: x
""")
    return path


@pytest.fixture
def repo(git_repo: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return git_repo({"environments/dev/environment.yaml": ENV, "environments/dev/ns.yaml": NS,
                     "environments/dev/cm.yaml": CM})


def plan(repo: Any, kubeconfig: Path, tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["plan", "--env", "dev", "--repo", str(repo.path), "--kubeconfig", str(kubeconfig),
                                    "--record-dir", str(tmp_path / "records"), *args])


def one_line_error(result: Result, code: int = ExitCode.ERROR) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def no_record(tmp_path: Path) -> None:
    """Nothing was learned from a server that is not Kubernetes: no record, no disappearances."""
    log = tmp_path / "records" / "dev.jsonl"
    assert not log.exists() or b"disappear" not in log.read_bytes()


# --------------------------------------------------------------------------- not Kubernetes


def test_a_server_answering_404_to_everything_is_refused_not_an_empty_cluster(repo, tmp_path):
    with FakeServer(lambda path: None) as server:
        line = one_line_error(plan(repo, kubeconfig_for(server.url, tmp_path / "kc"), tmp_path))
    assert line == f"error: {server.url}: does not answer like a Kubernetes API server (GET /version: HTTP 404)"
    assert not any("configmaps" in p or "namespaces" in p for p in server.paths)  # nothing listed
    no_record(tmp_path)


def test_version_and_api_without_the_core_group_is_refused(repo, tmp_path):
    routes = {"/version": json_answer(VERSION), "/api": json_answer({"kind": "APIVersions", "versions": []})}
    with FakeServer(routes.get) as server:
        line = one_line_error(plan(repo, kubeconfig_for(server.url, tmp_path / "kc"), tmp_path))
    assert line.endswith("does not answer like a Kubernetes API server (/api does not list the core group v1)")


def test_a_list_answering_404_for_a_kind_discovery_serves_is_an_error_not_an_empty_list(repo, tmp_path):
    """/version and /api look right, /api/v1 lists configmaps, but the LIST answers 404."""
    core = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "namespaced": True, "kind": "ConfigMap"},
        {"name": "namespaces", "namespaced": False, "kind": "Namespace"}]}
    routes = {"/version": json_answer(VERSION), "/api": json_answer(API), "/api/v1": json_answer(core),
              "/apis": json_answer({"kind": "APIGroupList", "groups": []})}
    with FakeServer(routes.get) as server:
        line = one_line_error(plan(repo, kubeconfig_for(server.url, tmp_path / "kc"), tmp_path))
    assert "answered 404 although discovery says it is served" in line
    no_record(tmp_path)


def test_a_group_listed_in_apis_whose_discovery_answers_404_is_a_contradiction(repo, tmp_path):
    core = {"kind": "APIResourceList", "groupVersion": "v1", "resources": []}
    groups = {"kind": "APIGroupList", "groups": [{"name": "ray.io", "versions": [{"version": "v1"}]}]}
    routes = {"/version": json_answer(VERSION), "/api": json_answer(API), "/api/v1": json_answer(core),
              "/apis": json_answer(groups), "/api/v1/namespaces": json_answer({"items": []})}

    def route(path: str) -> Answer | None:
        if path.startswith("/api/v1/namespaces/ray-dev/") or path == "/api/v1/namespaces":
            return json_answer({"kind": "List", "items": []})
        return routes.get(path)

    with FakeServer(route) as server:
        line = one_line_error(plan(repo, kubeconfig_for(server.url, tmp_path / "kc"), tmp_path))
    assert "/apis lists ray.io/v1 but GET /apis/ray.io/v1 answers 404" in line


# --------------------------------------------------------------------------- time


def test_a_server_that_accepts_and_never_answers_fails_within_the_request_timeout(repo, tmp_path):
    with FakeServer(lambda path: None, hang=True) as server:
        started = time.monotonic()
        result = plan(repo, kubeconfig_for(server.url, tmp_path / "kc"), tmp_path, "--request-timeout", "1s")
        elapsed = time.monotonic() - started
    line = one_line_error(result)
    assert line == f"error: {server.url}: GET /version: no answer within 1s (--request-timeout)"
    assert len(server.paths) == 1  # a timeout is not retried: the time is already spent
    assert elapsed < 10, elapsed  # 1s of waiting plus validation of the commit; never the default 30s


def test_the_environment_sets_the_request_timeout_and_the_flag_wins(repo, tmp_path):
    repo.commit({"environments/dev/environment.yaml": ENV + "  requestTimeout: 500ms\n"})
    with FakeServer(lambda path: None, hang=True) as server:
        kc = kubeconfig_for(server.url, tmp_path / "kc")
        assert one_line_error(plan(repo, kc, tmp_path)).endswith("no answer within 0.5s (--request-timeout)")
        assert one_line_error(plan(repo, kc, tmp_path, "--request-timeout", "700ms")).endswith(
            "no answer within 0.7s (--request-timeout)")
    bad = plan(repo, kc, tmp_path, "--request-timeout", "soon")
    assert bad.exit_code == ExitCode.USAGE and "not a duration" in bad.output


def test_a_refused_connection_is_retried_within_a_bounded_time_and_is_one_line(repo, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    started = time.monotonic()
    line = one_line_error(plan(repo, kubeconfig_for(f"http://127.0.0.1:{port}", tmp_path / "kc"), tmp_path))
    assert f"http://127.0.0.1:{port}: GET /version: cannot connect" in line
    assert time.monotonic() - started < 70  # attempts and backoff stop at the retry budget


# --------------------------------------------------------------------------- garbage


def garbage_cases() -> dict[str, tuple[dict[str, Answer], str]]:
    html = (200, "text/html", b"<!DOCTYPE html><html><body>Sign in to continue</body></html>")
    core = json_answer({"kind": "APIResourceList", "groupVersion": "v1", "resources": []})
    ok = {"/version": json_answer(VERSION), "/api": json_answer(API), "/api/v1": core}
    lists = "/api/v1/namespaces"
    return {
        "html login page": ({"/version": html}, "GET /version: the answer is not JSON: an HTML page (60 bytes)"),
        "truncated json": ({"/version": (200, "application/json", b'{"major": "1", "mino')},
                           "GET /version: the answer is not JSON: 20 bytes"),
        "json array": ({"/version": json_answer(["v1.33"])},
                       "GET /version: the answer is JSON but not an object (a list)"),
        "items not a list": ({**ok, lists: json_answer({"kind": "NamespaceList", "items": {"a": 1}})},
                             "not a Kubernetes list (items must be a list of objects with metadata.name)"),
        "item without a name": ({**ok, lists: json_answer({"kind": "NamespaceList", "items": [{"metadata": {}}]})},
                                "not a Kubernetes list (items must be a list of objects with metadata.name)"),
    }


@pytest.mark.parametrize("case", sorted(garbage_cases()))
def test_garbage_answers_are_one_line_each_and_exit_4(repo, tmp_path, case):
    routes, expected = garbage_cases()[case]
    with FakeServer(routes.get) as server:
        line = one_line_error(plan(repo, kubeconfig_for(server.url, tmp_path / "kc"), tmp_path))
    assert line.startswith(f"error: {server.url}: ") and line.endswith(expected), line
    no_record(tmp_path)


def test_a_body_shorter_than_its_content_length_is_a_broken_answer(repo, tmp_path):
    with FakeServer(lambda path: json_answer(VERSION) if path == "/version" else None, lie=True) as server:
        line = one_line_error(plan(repo, kubeconfig_for(server.url, tmp_path / "kc"), tmp_path))
    assert line.startswith(f"error: {server.url}: GET /version: the connection broke off mid-answer ("), line


# --------------------------------------------------------------------------- kubeconfigs


def test_invalid_kubeconfig_yaml_is_one_line_without_quoting_the_file(repo, tmp_path):
    bad = tmp_path / "kc"
    bad.write_text("apiVersion: v1\nclusters:\n  - name: x\n   secret-token-line: [canary-kc-7f2a\n")
    line = one_line_error(plan(repo, bad, tmp_path))
    assert line == f"error: kubeconfig {bad}: not a valid kubeconfig: invalid YAML (line 4, column 4)"
    assert "canary" not in line
    missing = plan(repo, tmp_path / "nope", tmp_path)
    assert one_line_error(missing, ExitCode.USAGE).endswith("no such kubeconfig file")


@pytest.mark.parametrize(("server", "expected"), [
    ("https://example.invalid:notaport", "the server URL is malformed (a bad port or address)"),
    ("ftp://example.invalid", "the server URL 'ftp://example.invalid' is not an http(s) URL with a host"),
    ("https://user:canary-pw-9c1d@example.invalid", "the server URL carries credentials; put them in the user entry"),
])
def test_malformed_server_url_is_one_line(repo, tmp_path, server, expected):
    line = one_line_error(plan(repo, kubeconfig_for(server, tmp_path / "kc"), tmp_path))
    assert line.startswith(f"error: kubeconfig {tmp_path / 'kc'}, context x: ") and line.endswith(expected), line
    assert "canary" not in line


def test_a_real_sandbox_still_plans(repo, tmp_path, make_sandbox: Callable[..., Sandbox]):
    """The checks above must not refuse the real thing."""
    box = make_sandbox()
    result = plan(repo, box.kubeconfig, tmp_path, "--request-timeout", "5s")
    assert result.exit_code == ExitCode.CHANGES, result.output
