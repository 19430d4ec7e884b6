"""`gitops-ray audit verify|export`: check the record against its anchors; hand it to supply-chain tools."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import click

from gitops_ray.cli.common import (
    EXIT_CODES_HELP,
    cluster_options,
    env_option,
    output_option,
    record_option,
    source_options,
)
from gitops_ray.cli.history import load_environment_or_name, record_stores
from gitops_ray.errors import ExitCode


@contextlib.contextmanager
def anchor_cluster(environment: Any, *, kubeconfig: str | None = None,
                   context: str | None = None) -> Iterator[tuple[Any, str]]:
    """(ConfigMapClient or None, notice) for the environment's cluster.

    Only connecting is guarded here: a cluster that cannot be reached is a notice,
    not a failure, because the log and the git notes can still be verified. The
    reads themselves are guarded in anchors.verify. (Lead: keep this the one place
    that decides how verify reaches a cluster; it must not start a sandbox.)
    """
    from gitops_ray.errors import GitopsRayError

    if isinstance(environment, str):
        yield None, f"cluster anchor not checked: environment {environment}"
        return
    with contextlib.ExitStack() as stack:
        try:
            from gitops_ray.engine.target import open_cluster

            cluster = stack.enter_context(open_cluster(environment.cluster, kubeconfig=kubeconfig, context=context,
                                                       start_sandbox=False))
        except (GitopsRayError, ImportError, OSError) as err:
            yield None, f"cluster anchor not checked: {getattr(err, 'message', None) or err}"
            return
        yield cluster, ""


def _notes(repo: str | None) -> Any:
    """The git notes (refs/notes/gitops-ray) of --repo, else of the repository around the current
    directory: the notes live with the applied commits, wherever the user happens to stand."""
    from pathlib import Path

    from gitops_ray.record.gitnotes import RepositoryNotes
    from gitops_ray.source import Repository

    found = Repository.open(repo) if repo is not None else Repository.discover(Path.cwd())
    return RepositoryNotes(found) if found is not None else None


@click.group()
def audit() -> None:
    """Check the record's integrity and export it."""


@audit.command(epilog=EXIT_CODES_HELP)
@env_option(required=False, help="Environment (default: every log in the record directory; cluster anchors need "
                                 "--env).")
@source_options
@cluster_options
@record_option
@click.option("--no-cluster", is_flag=True, help="Do not contact the cluster (ConfigMap anchor not checked).")
@output_option("text", "json")
def verify(env_name: str | None, repo: str | None, ref: str | None, worktree: bool, kubeconfig: str | None,
           context: str | None, record_dir: str | None, no_cluster: bool, output: str) -> None:
    """Check the hash chain and every anchor within reach: the ConfigMap in the
    environment's cluster and the git notes (refs/notes/gitops-ray) of --repo (default:
    the repository around the current directory). Anchors that cannot be reached are
    listed as notices; exits 1 naming the first bad entry or anchor.
    """
    from gitops_ray.record import anchors

    environment: Any = None
    if env_name is not None:
        # Read even with --record-dir: the environment names the cluster and namespace of its anchor.
        environment = load_environment_or_name(env_name, repo=repo, ref=ref, worktree=worktree,
                                               notice=record_dir is None)
    stores = record_stores(env_name, record_dir, repo=repo, ref=ref, worktree=worktree)
    if not stores or not any(s.exists() for s in stores):
        click.echo("error: no record found" + (f" for {env_name}" if env_name else ""), err=True)
        sys.exit(ExitCode.FAILED)
    notes = _notes(repo)
    results = []
    for store in stores:
        target = environment if store.environment == env_name and not no_cluster else "not loaded"
        with anchor_cluster(target, kubeconfig=kubeconfig, context=context) as (client, why):
            cm_anchor = None
            if client is not None and not isinstance(target, str):
                namespace = target.namespaces[0] if target.namespaces else "default"
                cm_anchor = anchors.ConfigMapAnchor(client=client, namespace=namespace, environment=store.environment)
            result = anchors.verify(store.scan(), store.environment, configmap=cm_anchor, notes=notes)
        if no_cluster:
            why = "cluster anchor not checked: --no-cluster"
        if why:
            result.notices = [why if n.startswith("cluster anchor not checked") else n for n in result.notices]
        results.append(result)
    if output == "json":
        click.echo(json.dumps({"ok": all(r.ok for r in results), "environments": [r.to_json() for r in results]},
                              indent=2))
    else:
        for result in results:
            click.echo(_verify_text(result))
    sys.exit(ExitCode.OK if all(r.ok for r in results) else ExitCode.FAILED)


def _verify_text(result: Any) -> str:
    lines = []
    if result.ok:
        lines.append(f"{result.environment}: intact — {result.entries} entries, head {result.head[:16]}")
    else:
        lines.append(f"{result.environment}: BROKEN — {result.first}")
        lines += [f"  also: {p}" for p in result.problems[1:10]]
        if len(result.problems) > 10:
            lines.append(f"  ... and {len(result.problems) - 10} more")
    lines += [f"  anchor checked: {a}" for a in result.anchors_checked]
    lines += [f"  notice: {n}" for n in result.notices]
    return "\n".join(lines)


@audit.command(epilog=EXIT_CODES_HELP)
@env_option(help="Environment whose record to export.")
@source_options
@record_option
@output_option("in-toto", default="in-toto")
@click.option("--in-toto", "in_toto", is_flag=True, hidden=True, help="Same as -o in-toto (kept for scripts).")
def export(env_name: str, repo: str | None, ref: str | None, worktree: bool, record_dir: str | None,
           output: str, in_toto: bool) -> None:
    """Write the record's statements to stdout, one in-toto Statement v1 per line (JSON Lines),
    byte for byte as stored (so their hashes still chain); torn bytes from crashes are left out.
    Exits 1 when there is no record.
    """
    [store] = record_stores(env_name, record_dir, repo=repo, ref=ref, worktree=worktree)
    if not store.exists():
        click.echo(f"error: no record for {env_name} at {store.path}", err=True)
        sys.exit(ExitCode.FAILED)
    out = sys.stdout.buffer
    for entry in store.entries():
        out.write(entry.raw + b"\n")
    out.flush()
