"""Child processes that cannot outlive their parent, and their orderly stop.

Each child runs in its own session (so a terminal's Ctrl-C reaches only the parent, which then stops
the children in order) and asks the kernel to SIGKILL it when its parent dies (`PR_SET_PDEATHSIG`):
a SIGKILLed pytest or `dev-cluster` supervisor leaves nothing behind. The kernel sends that signal
when the *thread* that started the child ends, so start children from a thread that lives as long
as they should (the main thread, in pytest and in the CLI).
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitops_ray.devcluster.errors import DevClusterError

_PR_SET_PDEATHSIG = 1


def child_setup(parent_pid: int, *, nice: int = 0) -> Callable[[], None]:
    """A `preexec_fn`: die with the parent; exit at once if the parent is already gone."""
    libc = ctypes.CDLL(None, use_errno=True)

    def setup() -> None:
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent_pid:  # the parent died between fork and prctl
            os._exit(125)
        if nice:
            os.nice(nice)

    return setup


@dataclass
class Child:
    """One started component: its process, command line and log file."""

    name: str
    argv: Sequence[str]
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start(name: str, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None) -> Child:
    """Start `argv` in a new session, stdout and stderr to `log`, bound to this process's life."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                start_new_session=True,
                preexec_fn=child_setup(os.getpid()),
            )
        except OSError as err:
            raise DevClusterError(f"cannot start {name} ({argv[0]}): {err}") from err
    return Child(name=name, argv=list(argv), log=log, process=process)


def stop(children: Sequence[Child], *, timeout: float) -> None:
    """SIGTERM the children's process groups together, wait up to `timeout`, then SIGKILL what is left."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.process.wait()
        # the group may hold helpers the child started; they go too
        _signal_group(child, signal.SIGKILL)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)  # the child is its group's leader (start_new_session)


def wait_until(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    watch: Sequence[Child] = (),
    interval: float = 0.1,
) -> None:
    """Poll `check` until it is true; fail early, with the log tail, if a watched child exits."""
    deadline = time.monotonic() + timeout
    while True:
        for child in watch:
            if not child.alive():
                raise DevClusterError(
                    f"{child.name} exited with code {child.process.returncode} while waiting for {what}; "
                    f"log {child.log}:\n{child.log_tail()}"
                )
        try:
            if check():
                return
        except (OSError, ValueError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {c.name} ({c.log}):\n{c.log_tail(10)}" for c in watch)
            raise DevClusterError(f"timed out after {timeout:.0f}s waiting for {what}{tails}")
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """True if `pid` runs and is not a zombie (a dead child nobody reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def rss_mib(pid: int) -> float | None:
    """Resident memory of `pid` in MiB, or None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None
