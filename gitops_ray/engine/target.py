"""Which cluster a command talks to: the environment's target, or what the user's flags say.

`cluster` knows kubeconfigs and in-cluster configuration, never the embedded
sandbox's internals; this is where an environment that targets the sandbox is
turned into a kubeconfig (the sandbox already serving its state directory, or
one started for the length of the command).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gitops_ray.cluster import Cluster, connect
from gitops_ray.environment import ClusterTarget, resolve_state_dir
from gitops_ray.errors import ClusterError


@contextlib.contextmanager
def open_cluster(
    target: ClusterTarget,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    kuberay_version: str | None = None,
    user_agent: str | None = None,
    start_sandbox: bool = True,
    request_timeout: float | None = None,
    named_by: str = "the environment file",
) -> Iterator[Cluster]:
    """`--kubeconfig`/`--context` override the environment, as they do for kubectl.

    With `start_sandbox=False` a sandbox target that no server is serving is an
    error rather than a new server (a verifier must not conjure the cluster it checks).
    """
    if kubeconfig is None and context is None and target.is_sandbox:
        from gitops_ray.sandbox.runtime import connect as sandbox_connect
        from gitops_ray.sandbox.runtime import running_server

        state = resolve_state_dir(target)
        if not start_sandbox and running_server(state) is None:
            raise ClusterError(f"no sandbox is serving {state}")
        with sandbox_connect(state, kuberay_version=kuberay_version, operator=target.sandbox_operator) as path, \
                connect(target, kubeconfig=str(path), user_agent=user_agent,
                        request_timeout=request_timeout) as cluster:
            yield cluster
        return
    with connect(target, kubeconfig=kubeconfig, context=context, user_agent=user_agent,
                 request_timeout=request_timeout, named_by=named_by) as cluster:
        yield cluster
