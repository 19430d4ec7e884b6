"""Running a sandbox: `Sandbox` (in-process, on a free loopback port), the state
directory's `server.json` that lets other processes find a running server, and
`connect`, which reuses such a server or starts one for the length of a block.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from gitops_ray.errors import GitopsRayError
from gitops_ray.sandbox.api import Api
from gitops_ray.sandbox.faults import Faults
from gitops_ray.sandbox.handlers import Handler
from gitops_ray.sandbox.internal import InternalClient
from gitops_ray.sandbox.meta import Clock, utc_now
from gitops_ray.sandbox.server import RequestLog, SandboxHTTPServer
from gitops_ray.sandbox.store import Store
from gitops_ray.trust import is_loopback_url

SERVER_FILE = "server.json"
DB_FILE = "state.db"
CONTEXT = "gitops-ray-sandbox"


def kubeconfig_text(url: str) -> str:
    return (
        "apiVersion: v1\nkind: Config\npreferences: {}\n"
        f"clusters:\n- name: {CONTEXT}\n  cluster:\n    server: {url}\n"
        f"users:\n- name: {CONTEXT}\n  user:\n    token: sandbox\n"
        f"contexts:\n- name: {CONTEXT}\n  context:\n    cluster: {CONTEXT}\n    user: {CONTEXT}\n"
        f"    namespace: default\ncurrent-context: {CONTEXT}\n"
    )


class Sandbox:
    """`with Sandbox(state_dir) as sb:` serves the Kubernetes API on `sb.url`; `sb.kubeconfig` points at it."""

    def __init__(self, state_dir: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 0,
                 kuberay_version: str | None = None, operator: bool = True, operator_timings: Any = None,
                 faults: Faults | str | os.PathLike[str] | None = None,
                 kubeconfig: str | os.PathLike[str] | None = None,
                 clock: Clock = utc_now, watch_history: int = 10000, install_crds: bool = True) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.host = host
        self._port = port
        self.kuberay_version = kuberay_version
        self._want_operator = operator
        self._operator_timings = operator_timings
        self._kubeconfig_override = Path(kubeconfig).resolve() if kubeconfig else None
        self._clock = clock
        self._history = watch_history
        self._install_crds = install_crds
        if isinstance(faults, Faults):
            self.faults = faults
        else:
            self.faults = Faults()
            if faults is not None:
                self.faults.load(Path(faults))
        self.operator: Any = None
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._store: Store | None = None
        self._log: RequestLog | None = None
        self.api: Api | None = None
        self.client: InternalClient | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> Sandbox:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._store = Store(self.state_dir / DB_FILE, history=self._history)
        self.api = Api(self._store, clock=self._clock)
        self.kuberay_version = self.api.bootstrap(self.kuberay_version, install_crds=self._install_crds)
        self._log = RequestLog(self.request_log)
        handler = Handler(self.api, "", self._stop)
        self._server = SandboxHTTPServer((self.host, self._port), handler, self._log, self.faults)
        handler.address = f"{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"sandbox-{self.port}", daemon=True)
        self._thread.start()
        self._write_kubeconfig()
        self.client = InternalClient(self.api)
        if self._want_operator:
            self.operator = _start_operator(self.client, self._operator_timings)
        self._write_server_file()
        return self

    def stop(self) -> None:
        if self.operator is not None:
            self.operator.stop()
            self.operator = None
        self._stop.set()
        self._remove_server_file()
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._store is not None:
            self._store.close()
            self._store = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # -- where things are ------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self._kubeconfig_override or self.state_dir / "kubeconfig"

    @property
    def request_log(self) -> Path:
        return self.state_dir / "requests.log"

    @property
    def store(self) -> Store:
        assert self._store is not None, "sandbox not started"
        return self._store

    def _write_kubeconfig(self) -> None:
        text = kubeconfig_text(self.url)
        for path in {self.state_dir / "kubeconfig", self.kubeconfig}:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)

    def _write_server_file(self) -> None:
        info = {"pid": os.getpid(), "host": self.host, "port": self.port, "url": self.url,
                "kubeconfig": str(self.kubeconfig), "kuberayVersion": self.kuberay_version}
        tmp = self.state_dir / (SERVER_FILE + ".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(self.state_dir / SERVER_FILE)

    def _remove_server_file(self) -> None:
        info = read_server_file(self.state_dir)
        if info is not None and info.get("pid") == os.getpid() and info.get("port") == self.port:
            with contextlib.suppress(OSError):
                (self.state_dir / SERVER_FILE).unlink()


def _start_operator(client: InternalClient, timings: Any) -> Any:
    """Engineer C's simulated KubeRay operator, if present (imported lazily; absent: no operator)."""
    try:
        from gitops_ray.sandbox import operator as simulated  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    kwargs: dict[str, Any] = {}
    if timings is not None:
        kwargs["timings"] = simulated.OperatorTimings(**timings) if isinstance(timings, dict) else timings
    instance = simulated.SimulatedOperator(client, **kwargs)
    instance.start()
    return instance


def read_server_file(state_dir: Path) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = json.loads((state_dir / SERVER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return info


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


class UntrustedState(GitopsRayError):
    """A state directory whose server.json or kubeconfig the sandbox did not write: it points
    somewhere else than a sandbox on this machine (docs/security.md)."""


def running_server(state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The server.json of a live server serving `state_dir`, else None.

    A server.json is data, not configuration: its URL must be a loopback http address and
    the state directory's kubeconfig exactly what the sandbox writes for that URL, else
    UntrustedState (nothing is contacted, no kubeconfig is read)."""
    state = Path(state_dir).resolve()
    info = read_server_file(state)
    if info is None:
        return None
    url = str(info.get("url", ""))
    if not is_loopback_url(url):
        raise UntrustedState(f"{state / SERVER_FILE}: url {url[:80]!r} is not a loopback http address; "
                             "a sandbox serves this machine only")
    try:
        pid = int(info.get("pid", 0))
    except (TypeError, ValueError):
        raise UntrustedState(f"{state / SERVER_FILE}: pid is not a number") from None
    if not _pid_alive(pid) or not healthy(url):
        return None
    if not _written_by_sandbox(state / "kubeconfig", url):
        raise UntrustedState(f"{state / 'kubeconfig'}: not the kubeconfig the sandbox writes for {url}")
    return {**info, "url": url, "kubeconfig": str(state / "kubeconfig")}


def _written_by_sandbox(kubeconfig: Path, url: str) -> bool:
    """The file holds exactly the sandbox's own kubeconfig for `url`: no exec plugin, no other
    user or server can ride along."""
    try:
        return kubeconfig.read_text() == kubeconfig_text(url)
    except (OSError, UnicodeDecodeError):
        return False


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def connect(state_dir: str | os.PathLike[str], *, kuberay_version: str | None = None,
            operator: bool = True) -> Iterator[Path]:
    """A kubeconfig for the sandbox serving `state_dir`: the running one, or one started for this block."""
    info = running_server(state_dir)
    if info is not None:
        yield Path(str(info["kubeconfig"]))  # the state directory's own, checked by running_server
        return
    with Sandbox(state_dir, kuberay_version=kuberay_version, operator=operator) as sandbox:
        yield sandbox.kubeconfig


__all__ = ["Sandbox", "UntrustedState", "connect", "healthy", "kubeconfig_text", "read_server_file",
           "running_server"]
