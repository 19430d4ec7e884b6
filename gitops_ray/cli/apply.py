"""`gitops-ray apply`: make the cluster match the commit, in order, and record it."""

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
from gitops_ray.environment import parse_duration
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
@click.option("--dry-run", is_flag=True, help="Send every write as a server dry-run; change nothing.")
@click.option("--allow-replace-running", is_flag=True, help="Replace RayJobs even while they run (kills them).")
@click.option("--wait-jobs", "wait", flag_value="jobs", help="Wait until RayJobs finish (Complete or Failed).")
@click.option("--no-wait", "wait", flag_value="none", help="Apply every wave without health gates.")
@click.option("--timeout", default=None, metavar="DURATION", help="Give up waiting after this long (default 10m).")
@output_option("text", "json", "markdown")
def apply(env_name: str, repo: str | None, ref: str | None, worktree: bool, kubeconfig: str | None,
          context: str | None, request_timeout: float | None, record_dir: str | None,
          kuberay_version: str | None, kubernetes_version: str | None, dry_run: bool,
          allow_replace_running: bool, wait: str | None, timeout: str | None, output: str) -> None:
    """Apply the commit to the environment's cluster: waves in order, health-gated, recorded.

    Exits 1 when anything failed, was blocked or was skipped (the output says what);
    `-o markdown` is the merge comment.
    """
    from gitops_ray.cli import render
    from gitops_ray.engine.run import run_apply

    timeout_s = parse_duration(timeout) if timeout else None
    with Progress(enabled=output == "text", lines=True).shown() as progress:
        result = run_apply(
            env=env_name, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig, context=context,
            kuberay_version=kuberay_version, kubernetes_version=kubernetes_version,
            dry_run=dry_run, allow_replace_running=allow_replace_running,
            wait=wait or "health", timeout_s=timeout_s, record_dir=record_dir, progress=progress,
            request_timeout=request_timeout,
        )
    if output == "json":
        emit(render.dumps(render.apply_json(result)))
    elif output == "markdown":
        emit(render.apply_markdown(result))
    else:
        emit(render.apply_text(result, style=styler(use_colour())))
    sys.exit(ExitCode.OK if result.ok else ExitCode.FAILED)
