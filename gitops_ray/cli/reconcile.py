"""`gitops-ray reconcile`: the scheduled drift check, healing where the environment allows."""

from __future__ import annotations

import sys

import click

from gitops_ray.cli.common import (
    EXIT_CODES_HELP,
    Progress,
    cluster_options,
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
@click.option("--timeout", default=None, metavar="DURATION", help="Give up waiting after this long when healing.")
@output_option("text", "json", "markdown")
def reconcile(env_name: str, repo: str | None, ref: str | None, worktree: bool, kubeconfig: str | None,
              context: str | None, record_dir: str | None, timeout: str | None, output: str) -> None:
    """Compare the cluster with the commit, record any drift, and heal it if the
    environment sets sync.selfHeal: true.

    Exits 0 when in sync or healed, 2 when drift is left in place (selfHeal off),
    1 when healing failed.
    """
    from gitops_ray.cli import render
    from gitops_ray.engine.run import reconcile as run

    timeout_s = parse_duration(timeout) if timeout else None
    with Progress(enabled=output == "text", lines=True).shown() as progress:
        result = run(env=env_name, repo=repo, ref=ref, worktree=worktree, kubeconfig=kubeconfig, context=context,
                     record_dir=record_dir, timeout_s=timeout_s, progress=progress)
    healed = result.applied is not None and result.ok
    if output == "json":
        click.echo(render.dumps({"drift": result.drift, "healed": healed,
                                 "plan": render.plan_json(result.plan),
                                 "apply": render.apply_json(result.applied) if result.applied else None}))
    elif output == "markdown":
        click.echo(render.reconcile_markdown(result.plan, result.applied))
    else:
        style = styler(use_colour())
        click.echo(render.plan_text(result.plan, style=style))
        if result.applied is not None:
            click.echo(render.apply_text(result.applied, style=style))
        elif result.drift:
            click.echo("drift left in place: sync.selfHeal is false for this environment")
    if not result.ok:
        sys.exit(ExitCode.FAILED)
    sys.exit(ExitCode.CHANGES if result.drift and result.applied is None else ExitCode.OK)
