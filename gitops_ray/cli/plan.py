"""`gitops-ray plan`: what this commit would do to the cluster, for review before merge."""

from __future__ import annotations

import sys

import click

from gitops_ray.cli.common import (
    EXIT_CODES_HELP,
    Progress,
    cluster_options,
    emit,
    env_option,
    output_option,
    record_option,
    source_options,
    styler,
    use_colour,
)
from gitops_ray.errors import ExitCode


@click.command(epilog=EXIT_CODES_HELP)
@env_option()
@source_options
@cluster_options
@record_option
@click.option("--kuberay-version", default=None, metavar="X.Y.Z", help="KubeRay schema version to validate with.")
@click.option("--kubernetes-version", default=None, metavar="X.Y",
              help="Kubernetes version of the built-in kinds' schemas (default: the environment's "
                   "kubernetesVersion, else the newest bundled).")
@click.option("--allow-replace-running", is_flag=True, help="Plan replacing RayJobs that are still running.")
@click.option("--show-unchanged", is_flag=True, help="List in-sync objects too.")
@output_option("text", "json", "markdown")
def plan(env_name: str, repo: str | None, ref: str | None, worktree: bool, kubeconfig: str | None,
         context: str | None, request_timeout: float | None, record_dir: str | None, kuberay_version: str | None,
         kubernetes_version: str | None, allow_replace_running: bool, show_unchanged: bool, output: str) -> None:
    """Show what applying the commit would change (create, update, replace, delete, blocked).

    Exits 0 when in sync and 2 when changes are pending (the table below).
    """
    from gitops_ray.cli import render
    from gitops_ray.engine.run import make_plan

    with Progress(enabled=output == "text").shown() as progress:
        result = make_plan(env=env_name, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig,
                           context=context, kuberay_version=kuberay_version, kubernetes_version=kubernetes_version,
                           allow_replace_running=allow_replace_running, record_dir=record_dir,
                           progress=progress, request_timeout=request_timeout)
    for warning in result.warnings:
        emit(f"warning: {warning.location()}: {warning.message}", err=True)
    if output == "json":
        emit(render.dumps(render.plan_json(result.plan)))
    elif output == "markdown":
        emit(render.plan_markdown(result.plan))
    else:
        emit(render.plan_text(result.plan, style=styler(use_colour()), show_noop=show_unchanged))
    sys.exit(ExitCode.OK if result.plan.in_sync else ExitCode.CHANGES)
