"""`gitops-ray apply`: make the cluster match the commit, in order, and record it."""

from __future__ import annotations

import sys

import click

from gitops_ray.cli.common import Progress, cluster_options, env_option, source_options, styler, use_colour
from gitops_ray.environment import parse_duration
from gitops_ray.errors import GitopsRayError


@click.command()
@env_option
@source_options
@cluster_options
@click.option("--kuberay-version", default=None, metavar="X.Y.Z", help="KubeRay schema version to validate with.")
@click.option("--kubernetes-version", default=None, metavar="X.Y",
              help="Kubernetes version of the built-in kinds' schemas (default: the environment's "
                   "kubernetesVersion, else the newest bundled).")
@click.option("--dry-run", is_flag=True, help="Send every write as a server dry-run; change nothing.")
@click.option("--allow-replace-running", is_flag=True, help="Replace RayJobs even while they run (kills them).")
@click.option("--wait-jobs", "wait", flag_value="jobs", help="Wait until RayJobs finish (Complete or Failed).")
@click.option("--no-wait", "wait", flag_value="none", help="Apply every wave without health gates.")
@click.option("--timeout", default=None, metavar="DURATION", help="Give up waiting after this long (default 10m).")
@click.option("--record-dir", default=None, metavar="DIR", help="Where the record lives (default from environment).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def apply(env_name: str, repo: str | None, ref: str | None, worktree: bool, kubeconfig: str | None,
          context: str | None, kuberay_version: str | None, kubernetes_version: str | None, dry_run: bool,
          allow_replace_running: bool, wait: str | None, timeout: str | None, record_dir: str | None,
          output: str) -> None:
    """Apply the commit to the environment's cluster: waves in order, health-gated.

    \b
    Exit codes:
      0  everything applied (or already in sync)
      1  something failed, was blocked, or was skipped; the output says what
      2  usage error
    """
    from gitops_ray.cli import render
    from gitops_ray.engine.run import run_apply

    progress = Progress(enabled=output == "text", lines=True)
    try:
        result = run_apply(
            env=env_name, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig, context=context,
            kuberay_version=kuberay_version, kubernetes_version=kubernetes_version,
            dry_run=dry_run, allow_replace_running=allow_replace_running,
            wait=wait or "health", timeout_s=parse_duration(timeout) if timeout else None,
            record_dir=record_dir, progress=progress,
        )
    except GitopsRayError as err:
        progress.done()
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    progress.done()
    if output == "json":
        click.echo(render.dumps(render.apply_json(result)))
    else:
        click.echo(render.apply_text(result, style=styler(use_colour())))
    sys.exit(0 if result.ok else 1)
