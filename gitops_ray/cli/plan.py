"""`gitops-ray plan`: what this commit would do to the cluster, for review before merge."""

from __future__ import annotations

import sys

import click

from gitops_ray.cli.common import Progress, cluster_options, env_option, source_options, styler, use_colour
from gitops_ray.errors import GitopsRayError


@click.command()
@env_option
@source_options
@cluster_options
@click.option("--kuberay-version", default=None, metavar="X.Y.Z", help="KubeRay schema version to validate with.")
@click.option("--kubernetes-version", default=None, metavar="X.Y",
              help="Kubernetes version of the built-in kinds' schemas (default: the environment's "
                   "kubernetesVersion, else the newest bundled).")
@click.option("--allow-replace-running", is_flag=True, help="Plan replacing RayJobs that are still running.")
@click.option("--show-unchanged", is_flag=True, help="List in-sync objects too.")
@click.option("--record-dir", default=None, metavar="DIR", help="Where the record lives (default from environment).")
@click.option("-o", "--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
def plan(env_name: str, repo: str | None, ref: str | None, worktree: bool, kubeconfig: str | None,
         context: str | None, kuberay_version: str | None, kubernetes_version: str | None, allow_replace_running: bool,
         show_unchanged: bool, record_dir: str | None, output: str) -> None:
    """Show what applying the commit would change (create, update, replace, delete, blocked).

    \b
    Exit codes:
      0  in sync: nothing to do
      2  changes pending
      1  error (invalid manifests, unreachable cluster, ...)
    """
    from gitops_ray.cli import render
    from gitops_ray.engine.run import make_plan

    progress = Progress(enabled=output == "text")
    try:
        result = make_plan(env=env_name, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig,
                           context=context, kuberay_version=kuberay_version, kubernetes_version=kubernetes_version,
                           allow_replace_running=allow_replace_running, record_dir=record_dir,
                           progress=progress)
    except GitopsRayError as err:
        progress.done()
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    progress.done()
    for warning in result.warnings:
        click.echo(f"warning: {warning.location()}: {warning.message}", err=True)
    if output == "json":
        click.echo(render.dumps(render.plan_json(result.plan)))
    elif output == "markdown":
        click.echo(render.plan_markdown(result.plan))
    else:
        click.echo(render.plan_text(result.plan, style=styler(use_colour()), show_noop=show_unchanged))
    sys.exit(0 if result.plan.in_sync else 2)
