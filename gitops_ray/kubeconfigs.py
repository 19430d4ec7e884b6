"""Reading a kubeconfig as data before the Kubernetes client loads it.

The official client runs a user's `exec` credential plugin (and refreshes an
`auth-provider`) inside `load_kube_config` itself, so whether a plugin may run
has to be decided before that call, from the YAML. The rule (docs/security.md):
plugins run only from a kubeconfig the user supplied — `--kubeconfig`, a file
on `$KUBECONFIG`, `~/.kube/config`. A kubeconfig the environment file names
(which a pull request can change) may hold tokens and certificates, never a
command to run.

Errors never quote the file's content: an environment file could name any file
on the runner, and a YAML error message would print a line of it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gitops_ray.errors import ConfigError, ExitCode, GitopsRayError

PLUGIN_KEYS = ("exec", "auth-provider")


@dataclass(frozen=True, kw_only=True)
class Selected:
    """The context a kubeconfig resolves to and what its user would do to authenticate."""

    context: str
    cluster: str
    user: str
    server: str
    plugin: str | None  # "exec: aws" / "auth-provider: oidc", or None


class KubeconfigError(GitopsRayError):
    """A kubeconfig that cannot be read or makes no sense: one line, no content quoted."""


def user_supplied(flag: str | None) -> set[Path]:
    """The kubeconfig files the user chose: the flag, each file on $KUBECONFIG, ~/.kube/config."""
    files = {Path("~/.kube/config").expanduser().resolve()}
    if flag:
        files.add(Path(flag).expanduser().resolve())
    for entry in (os.environ.get("KUBECONFIG") or "").split(os.pathsep):
        if entry:
            files.add(Path(entry).expanduser().resolve())
    return files


def read(path: Path, *, where: str) -> Mapping[str, Any]:
    """The kubeconfig's YAML as data (safe loader: tags are never constructed)."""
    import yaml

    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise KubeconfigError(f"{where}: no such kubeconfig file", exit_code=ExitCode.USAGE) from None
    except OSError as err:
        raise KubeconfigError(f"{where}: cannot read the kubeconfig: {err.strerror}") from None
    try:
        doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise KubeconfigError(f"{where}: not a valid kubeconfig: invalid YAML{at}") from None
    except (yaml.YAMLError, ValueError, RecursionError):
        raise KubeconfigError(f"{where}: not a valid kubeconfig: invalid YAML") from None
    if not isinstance(doc, Mapping):
        raise KubeconfigError(f"{where}: not a valid kubeconfig: expected a mapping with clusters, contexts "
                              "and users")
    return doc


def _named(doc: Mapping[str, Any], section: str, name: str, *, where: str) -> Mapping[str, Any]:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"{where}: not a valid kubeconfig: {section} is not a list")
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("name") == name:
            inner = entry.get(section[:-1])  # clusters -> cluster, users -> user, contexts -> context
            return inner if isinstance(inner, Mapping) else {}
    raise KubeconfigError(f"{where}: no {section[:-1]} named {name!r} in the kubeconfig")


def select(doc: Mapping[str, Any], context: str | None, *, where: str) -> Selected:
    name = context or doc.get("current-context")
    if not isinstance(name, str) or not name:
        raise KubeconfigError(f"{where}: the kubeconfig has no current-context; name one with --context")
    ctx = _named(doc, "contexts", name, where=where)
    cluster_name, user_name = str(ctx.get("cluster") or ""), str(ctx.get("user") or "")
    cluster = _named(doc, "clusters", cluster_name, where=where) if cluster_name else {}
    user = _named(doc, "users", user_name, where=where) if user_name else {}
    plugin = None
    for key in PLUGIN_KEYS:
        spec = user.get(key)
        if spec:
            detail = spec.get("command") if key == "exec" and isinstance(spec, Mapping) else (
                spec.get("name") if isinstance(spec, Mapping) else None)
            plugin = f"{key}: {detail}" if detail else key
    return Selected(context=name, cluster=cluster_name, user=user_name, server=str(cluster.get("server") or ""),
                    plugin=plugin)


def check_server_url(server: str, *, where: str) -> None:
    """One line for a server URL the client would choke on (or silently misread)."""
    try:
        parts = urlsplit(server)
        port = parts.port
    except ValueError:
        raise KubeconfigError(f"{where}: the server URL is malformed (a bad port or address)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = server if len(server) < 80 and "@" not in server else "(not shown)"
        raise KubeconfigError(f"{where}: the server URL {shown!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise KubeconfigError(f"{where}: the server URL carries credentials; put them in the user entry")
    del port


def check_named_by_environment(path: Path, context: str | None, *, flag: str | None, named_by: str) -> Selected:
    """A kubeconfig the environment file names: refused if its selected user runs a plugin,
    unless the user supplied that same file themselves."""
    where = f"kubeconfig {path}"
    doc = read(path, where=where)
    selected = select(doc, context, where=where)
    if selected.plugin and path.resolve() not in user_supplied(flag):
        raise ConfigError(
            f"{named_by}: spec.cluster.kubeconfig names {path}, whose user {selected.user!r} (context "
            f"{selected.context!r}) runs a credential plugin ({selected.plugin}): gitops-ray runs plugins only "
            "from a kubeconfig you supply (--kubeconfig, $KUBECONFIG, ~/.kube/config), never from one a "
            "commit names")
    return selected
