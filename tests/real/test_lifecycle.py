"""Nothing outlives the process that started the control plane, even when that process is SIGKILLed."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gitops_ray.devcluster import Binaries
from gitops_ray.devcluster.controlplane import remove_stale_workdirs
from gitops_ray.devcluster.process import pid_alive

COMPONENTS = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "ray-operator"}

STARTER = textwrap.dedent(
    """
    import json, sys, time
    from gitops_ray.devcluster import ControlPlane, ControlPlaneOptions
    cp = ControlPlane(ControlPlaneOptions(kuberay_version=sys.argv[1], build=False))
    cp.start()
    print(json.dumps({"pids": cp.pids(), "workdir": str(cp.workdir)}), flush=True)
    time.sleep(3600)
    """
)


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        raise AssertionError(f"the control plane did not come up within {timeout:.0f}s")
    return proc.stdout.readline()


def test_sigkill_of_the_starting_process_leaves_no_component_running(real_binaries: Binaries, tmp_path: Path) -> None:
    log = tmp_path / "starter.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", STARTER, real_binaries.kuberay_version],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        line = _read_line(proc, timeout=240)
        if not line:
            pytest.fail(f"the starter exited ({proc.wait()}) before the control plane was up:\n{log.read_text()}")
        started = json.loads(line)
        pids: dict[str, int] = started["pids"]
        assert set(pids) == COMPONENTS
        assert all(pid_alive(pid) for pid in pids.values())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while (survivors := {n: p for n, p in pids.items() if pid_alive(p)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert survivors == {}, f"still running after the starter was SIGKILLed: {survivors}"
    workdir = Path(started["workdir"])
    assert workdir.is_dir()  # nobody could clean up after a SIGKILL ...
    remove_stale_workdirs()
    assert not workdir.exists()  # ... so the next start removes what the dead owner left
