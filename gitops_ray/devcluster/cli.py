"""`dev-cluster build|up|down|kubeconfig|status`: one real control plane in the background, for working by hand.

`up` starts a detached supervisor process that owns a ControlPlane and records its pids and ports in
the state directory; `down` asks the supervisor to stop it (and kills what is left if it does not).
The components die with the supervisor, so `kill -9` of the supervisor also leaves nothing running.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gitops_ray.devcluster.build import default_kuberay_version, ensure_binaries, kuberay_versions
from gitops_ray.devcluster.controlplane import ControlPlane, ControlPlaneOptions, summary
from gitops_ray.devcluster.errors import DevClusterError
from gitops_ray.devcluster.process import pid_alive, rss_mib

STATE_FILE = "state.json"
PID_FILE = "supervisor.pid"
LOG_FILE = "supervisor.log"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "gitops-ray" / "dev-cluster"


def _read_state(state: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((state / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data


def _supervisor_pid(state: Path) -> int | None:
    try:
        pid = int((state / PID_FILE).read_text())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def cmd_up(args: argparse.Namespace) -> int:
    state: Path = args.state
    if _supervisor_pid(state) is not None and _read_state(state) is not None:
        print(f"dev-cluster: already up; kubeconfig: {(_read_state(state) or {}).get('kubeconfig')}")
        return 0
    _clear(state)
    state.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "gitops_ray.devcluster.cli",
        "--state",
        str(state),
        "_serve",
        "--nodes",
        str(args.nodes),
    ]
    if args.kuberay:
        argv += ["--kuberay", args.kuberay]
    with (state / LOG_FILE).open("wb") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    (state / PID_FILE).write_text(str(proc.pid))
    shown = 0
    deadline = time.monotonic() + args.timeout
    while True:
        lines = (state / LOG_FILE).read_text(errors="replace").splitlines()
        for line in lines[shown:]:
            print(line, file=sys.stderr)
        shown = len(lines)
        data = _read_state(state)
        if data is not None:
            print(f"dev-cluster: up in {data['startSeconds']['total']:.1f}s at {data['server']}")
            print(f"export KUBECONFIG={data['kubeconfig']}")
            return 0
        if proc.poll() is not None:
            print(
                f"dev-cluster: the supervisor exited with code {proc.returncode}; log {state / LOG_FILE}",
                file=sys.stderr,
            )
            return 1
        if time.monotonic() > deadline:
            _stop(state)
            print(f"dev-cluster: not up after {args.timeout:.0f}s; stopped; log {state / LOG_FILE}", file=sys.stderr)
            return 1
        time.sleep(0.3)


def cmd_serve(args: argparse.Namespace) -> int:
    """The supervisor: start, record, wait for SIGTERM/SIGINT/SIGHUP, stop."""
    state: Path = args.state
    stopping = False
    started = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        if not started:  # abort a start (or a first build) in progress; start() stops what it began
            raise SystemExit(1)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, request_stop)
    cp = ControlPlane(ControlPlaneOptions(kuberay_version=args.kuberay, nodes=args.nodes, workdir=state / "cluster"))
    try:
        cp.start()
        started = True
        data = {**summary(cp), "supervisor": os.getpid()}
        tmp = state / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        tmp.replace(state / STATE_FILE)
        print(f"dev-cluster: up: {json.dumps(data['startSeconds'])}", flush=True)
        while not stopping:
            time.sleep(0.5)
    except DevClusterError as err:
        print(f"dev-cluster: {err}", flush=True)
        return 1
    finally:
        cp.stop()
        (state / STATE_FILE).unlink(missing_ok=True)
        shutil.rmtree(state / "cluster", ignore_errors=True)
        print("dev-cluster: stopped", flush=True)
    return 0


def _stop(state: Path, timeout: float = 30.0) -> bool:
    """Stop the supervisor (SIGTERM, then SIGKILL) and anything recorded that still runs; True if it was up."""
    data = _read_state(state) or {}
    pid = _supervisor_pid(state)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    for child in (data.get("pids") or {}).values():
        if pid_alive(child) and str(state) in _cmdline(child):
            os.kill(child, signal.SIGKILL)
    _clear(state)
    return pid is not None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _clear(state: Path) -> None:
    for name in (STATE_FILE, PID_FILE):
        (state / name).unlink(missing_ok=True)
    shutil.rmtree(state / "cluster", ignore_errors=True)


def cmd_build(args: argparse.Namespace) -> int:
    for version in args.kuberay or [default_kuberay_version()]:
        bins = ensure_binaries(version)
        for name, path in vars(bins).items():
            print(f"{name:24} {path}")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    was_up = _stop(args.state)
    print("dev-cluster: stopped" if was_up else "dev-cluster: was not running")
    return 0


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    data = _read_state(args.state)
    if data is None or _supervisor_pid(args.state) is None:
        print("dev-cluster: not running (run `scripts/dev-cluster up`)", file=sys.stderr)
        return 1
    print(data["kubeconfig"])
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    data = _read_state(args.state)
    if data is None or _supervisor_pid(args.state) is None:
        print("dev-cluster: not running")
        return 1
    alive = {name: pid_alive(pid) for name, pid in data["pids"].items()}
    rss = {name: rss_mib(pid) for name, pid in data["pids"].items()}
    if args.output == "json":
        print(json.dumps({**data, "alive": alive, "rssMiB": rss}, indent=1, sort_keys=True))
    else:
        print(f"server      {data['server']}  (KubeRay {data['kuberayVersion']})")
        print(f"kubeconfig  {data['kubeconfig']}")
        for name, pid in data["pids"].items():
            state = f"running, {rss[name]:.0f} MiB" if alive[name] and rss[name] is not None else "DEAD"
            print(f"  {name:24} pid {pid:<8} {state}")
        print(f"  {'total':24} {sum(v for v in rss.values() if v is not None):.0f} MiB resident")
    return 0 if all(alive.values()) else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev-cluster", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--state", type=Path, default=default_state_dir(), help="state directory (default: %(default)s)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the binaries into the cache (a no-op when they are cached)")
    build.add_argument(
        "--kuberay",
        action="append",
        metavar="VERSION",
        help=f"operator release(s) (default: the newest pinned; pinned: {', '.join(kuberay_versions())})",
    )
    up = sub.add_parser("up", help="build if needed, start in the background, print the kubeconfig path")
    up.add_argument("--kuberay", help="KubeRay operator and CRD version (default: the newest pinned)")
    up.add_argument("--nodes", type=int, default=1, help="fake nodes (default: 1)")
    up.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait, including a first build")
    sub.add_parser("down", help="stop everything and remove the state")
    sub.add_parser("kubeconfig", help="print the admin kubeconfig's path")
    status = sub.add_parser("status", help="pids and whether each component runs (exit 1 if any is down)")
    status.add_argument("-o", "--output", choices=["text", "json"], default="text")
    serve = sub.add_parser("_serve")  # the detached supervisor `up` starts
    serve.add_argument("--kuberay")
    serve.add_argument("--nodes", type=int, default=1)
    args = parser.parse_args(argv)
    handlers = {
        "build": cmd_build,
        "up": cmd_up,
        "down": cmd_down,
        "kubeconfig": cmd_kubeconfig,
        "status": cmd_status,
        "_serve": cmd_serve,
    }
    try:
        return handlers[args.command](args)
    except DevClusterError as err:
        print(f"dev-cluster: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
