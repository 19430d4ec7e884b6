"""`gitops-ray sandbox serve|kubeconfig|stop`: run the embedded API server.

`serve` runs in the foreground until interrupted, or with `--detach` starts
itself as a background process and returns once the server answers /healthz.
Either way the state directory's server.json tells other commands (and
environments with `cluster: {sandbox: {}}`) where it listens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

from gitops_ray.cli.common import EXIT_CODES_HELP, output_option
from gitops_ray.errors import ExitCode, GitopsRayError
from gitops_ray.sandbox.runtime import SERVER_FILE, Sandbox, read_server_file, running_server

DEFAULT_STATE = ".gitops-ray/sandbox"
_state_option = click.option("--state", "state", default=DEFAULT_STATE, show_default=True, metavar="DIR",
                             type=click.Path(file_okay=False, path_type=Path), help="State directory.")


@click.group()
def sandbox() -> None:
    """The embedded Kubernetes API server (a local stand-in for a cluster; the KubeRay operator is simulated)."""


@sandbox.command(epilog=EXIT_CODES_HELP)
@_state_option
@click.option("--host", default="127.0.0.1", show_default=True, metavar="ADDRESS",
              help="Address to listen on (loopback by default).")
@click.option("--port", default=0, type=int, metavar="PORT", help="Port (default: a free one).")
@click.option("--write-kubeconfig", "kubeconfig", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Also write the kubeconfig here (default: STATE/kubeconfig).")
@click.option("--kuberay-version", default=None, metavar="X.Y.Z",
              help="KubeRay CRDs to install (default: newest bundled).")
@click.option("--no-operator", is_flag=True, help="Do not run the simulated KubeRay operator.")
@click.option("--detach", is_flag=True, help="Run in the background; stop it with `gitops-ray sandbox stop`.")
@click.option("--faults", "faults", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="YAML/JSON file of fault-injection rules.")
@output_option("text", "json")
def serve(state: Path, host: str, port: int, kubeconfig: Path | None, kuberay_version: str | None,
          no_operator: bool, detach: bool, faults: Path | None, output: str) -> None:
    """Serve the Kubernetes API from STATE until interrupted (or in the background with --detach)."""
    state = state.resolve()
    existing = running_server(state)
    if existing is not None:
        raise GitopsRayError(f"a sandbox already serves {state} at {existing['url']} (pid {existing['pid']})")
    if detach:
        _detach(state, host, port, kubeconfig, kuberay_version, no_operator, faults, output)
        return
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    try:
        box = Sandbox(state, host=host, port=port, kuberay_version=kuberay_version, operator=not no_operator,
                      faults=faults, kubeconfig=kubeconfig).start()
    except (OSError, ValueError) as err:
        raise GitopsRayError(f"cannot start the sandbox: {err}") from None
    try:
        _say(output, f"sandbox serving {box.url} (KubeRay {box.kuberay_version}, "
                     f"operator {'on' if box.operator else 'off'})\nkubeconfig: {box.kubeconfig}",
             url=box.url, kubeconfig=str(box.kubeconfig), pid=os.getpid(), kuberayVersion=box.kuberay_version)
        sys.stdout.flush()
        while not stopping.wait(0.5):
            pass
    finally:
        box.stop()


def _say(output: str, text: str, **data: object) -> None:
    click.echo(json.dumps(data) if output == "json" else text)


def _detach(state: Path, host: str, port: int, kubeconfig: Path | None, kuberay_version: str | None,
            no_operator: bool, faults: Path | None, output: str) -> None:
    args = [sys.executable, "-m", "gitops_ray", "sandbox", "serve", "--state", str(state), "--host", host,
            "--port", str(port)]
    if kubeconfig:
        args += ["--write-kubeconfig", str(kubeconfig.resolve())]
    if kuberay_version:
        args += ["--kuberay-version", kuberay_version]
    if no_operator:
        args.append("--no-operator")
    if faults:
        args += ["--faults", str(faults.resolve())]
    state.mkdir(parents=True, exist_ok=True)
    with (state / "serve.log").open("ab") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = running_server(state)
        if info is not None and info.get("pid") == proc.pid:
            _say(output, f"sandbox serving {info['url']} (pid {proc.pid})\nkubeconfig: {info['kubeconfig']}",
                 url=info["url"], kubeconfig=str(info["kubeconfig"]), pid=proc.pid)
            return
        if proc.poll() is not None:
            raise GitopsRayError(f"the sandbox exited with code {proc.returncode}; see {state / 'serve.log'}")
        time.sleep(0.1)
    proc.terminate()
    raise GitopsRayError(f"the sandbox did not come up within 60s; see {state / 'serve.log'}")


@sandbox.command("kubeconfig", epilog=EXIT_CODES_HELP)
@_state_option
@output_option("text", "json")
def kubeconfig_cmd(state: Path, output: str) -> None:
    """Print the path of the kubeconfig of the sandbox serving STATE."""
    info = running_server(state.resolve())
    if info is None:
        path = state.resolve() / "kubeconfig"
        if not path.exists():
            raise GitopsRayError(f"no sandbox has run in {state.resolve()}; start one with `gitops-ray sandbox serve`",
                                 exit_code=ExitCode.FAILED)
        _say(output, str(path), kubeconfig=str(path), running=False)
        return
    _say(output, str(info["kubeconfig"]), kubeconfig=str(info["kubeconfig"]), running=True, url=info["url"])


@sandbox.command(epilog=EXIT_CODES_HELP)
@_state_option
@output_option("text", "json")
def stop(state: Path, output: str) -> None:
    """Stop the background sandbox serving STATE."""
    state = state.resolve()
    info = read_server_file(state)
    if info is None or running_server(state) is None:
        raise GitopsRayError(f"no sandbox is running in {state}", exit_code=ExitCode.FAILED)
    pid = int(info["pid"])
    if pid == os.getpid():
        raise GitopsRayError("the sandbox runs inside this process; stop it there", exit_code=ExitCode.FAILED)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise GitopsRayError(f"sandbox (pid {pid}) did not stop within 15s", exit_code=ExitCode.FAILED)
    (state / SERVER_FILE).unlink(missing_ok=True)
    _say(output, f"stopped sandbox (pid {pid})", stopped=True, pid=pid)


__all__ = ["sandbox"]
