"""Connecting: a kubeconfig (the user's, or one the environment names), or in-cluster config.

Connect the way kubectl would — `--kubeconfig`/`--context` override the
environment — with two rules of our own (docs/security.md): a kubeconfig the
environment file names never runs a credential plugin the user did not supply
(kubeconfigs.py reads it as data first: the official client runs plugins inside
`load_kube_config`), and the server must answer like Kubernetes before anything
is read from it (`Cluster.verify`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitops_ray import __version__, kubeconfigs
from gitops_ray.cluster.answers import short
from gitops_ray.cluster.client import DEFAULT_REQUEST_TIMEOUT, Cluster
from gitops_ray.environment import ClusterTarget
from gitops_ray.errors import ClusterError


def make_user_agent(commit: str = "") -> str:
    suffix = f" (commit {commit[:12]})" if commit else ""
    return f"gitops-ray/{__version__}{suffix}"


@contextlib.contextmanager
def connect(
    target: ClusterTarget,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    user_agent: str | None = None,
    pool_size: int = 16,
    request_timeout: float | None = None,
    named_by: str = "the environment file",
    verify: bool = True,
) -> Iterator[Cluster]:
    """Connect the way kubectl would: `--kubeconfig`/`--context` override the environment.

    A target naming the embedded sandbox is resolved to the sandbox's kubeconfig by the
    caller (`engine.target`): this module knows kubeconfigs, not the sandbox. The server is
    checked to answer like Kubernetes (`Cluster.verify`) before it is handed out.
    """
    timeout = request_timeout or target.request_timeout_s or DEFAULT_REQUEST_TIMEOUT
    if kubeconfig is None and context is None and target.in_cluster:
        cluster = _in_cluster(user_agent, pool_size, timeout)
    elif kubeconfig is None and context is None and target.is_sandbox:
        raise ClusterError(f"{target.describe()}: a sandbox target needs its kubeconfig (engine.target.open_cluster)")
    else:
        cluster = _from_kubeconfig(kubeconfig, target.kubeconfig if kubeconfig is None else None,
                                   context or target.context, user_agent, pool_size, timeout, named_by)
    if verify:
        cluster.verify()
    yield cluster


def _from_kubeconfig(flag: str | None, named: str | None, context: str | None, user_agent: str | None,
                     pool_size: int, timeout: float, named_by: str) -> Cluster:
    """`flag` is the user's --kubeconfig; `named` a path the environment file names (its
    credential plugins refused unless the user supplied that file too, kubeconfigs.py)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    path = flag or named
    resolved = os.path.expanduser(path) if path else None
    where = f"kubeconfig {resolved}" if resolved else f"kubeconfig {os.environ.get('KUBECONFIG') or '~/.kube/config'}"
    if named is not None and flag is None:
        selected = kubeconfigs.check_named_by_environment(Path(named).expanduser(), context, flag=flag,
                                                          named_by=named_by)
    elif resolved is not None:
        selected = kubeconfigs.select(kubeconfigs.read(Path(resolved), where=where), context, where=where)
    else:
        selected = None  # the client's own default ($KUBECONFIG, merged; ~/.kube/config)
    if selected is not None:
        kubeconfigs.check_server_url(selected.server, where=f"{where}, context {selected.context}")
    cfg = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=resolved, context=context, client_configuration=cfg, persist_config=False)
        _, active = config.list_kube_config_contexts(config_file=resolved)  # type: ignore[no-untyped-call]
    except kubeconfigs.KubeconfigError:
        raise
    except (ConfigException, OSError, TypeError, ValueError, KeyError, AttributeError) as err:
        raise ClusterError(f"{where}: cannot load kubeconfig: {short(err)}") from None
    except Exception as err:  # yaml.YAMLError and the like: never quote the file
        raise ClusterError(f"{where}: cannot load kubeconfig: {type(err).__name__}") from None
    name = context or (active or {}).get("name", "")
    kubeconfigs.check_server_url(str(cfg.host), where=f"{where}, context {name}")
    return _cluster(cfg, name, user_agent, pool_size, timeout)


def _in_cluster(user_agent: str | None, pool_size: int, timeout: float) -> Cluster:
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    cfg = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    except ConfigException as err:
        raise ClusterError(f"in-cluster config: {short(err)}") from None
    return _cluster(cfg, "in-cluster", user_agent, pool_size, timeout)


def _cluster(cfg: Any, context: str, user_agent: str | None, pool_size: int,
             timeout: float = DEFAULT_REQUEST_TIMEOUT) -> Cluster:
    from kubernetes import client

    cfg.retries = False  # we retry ourselves, honouring Retry-After
    cfg.connection_pool_maxsize = pool_size
    api_client = client.ApiClient(configuration=cfg)
    agent = user_agent or make_user_agent()
    api_client.user_agent = agent
    return Cluster(api_client=api_client, server=str(cfg.host), context=context, user_agent=agent, timeout=timeout)
