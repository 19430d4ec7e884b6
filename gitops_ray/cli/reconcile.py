"""`gitops-ray reconcile`: the scheduled drift check, healing where the environment allows."""

from __future__ import annotations

import sys

import click

from gitops_ray.cli.common import Progress, cluster_options, env_option, styler, use_colour
from gitops_ray.environment import parse_duration
from gitops_ray.errors import GitopsRayError


@click.command()
@env_option
@click.option("--repo", default=None, metavar="PATH|URL", help="Repository to read (default: current directory's).")
@click.option("--ref", default=None, metavar="REF", help="Branch, tag or SHA (default HEAD).")
@cluster_options
@click.option("--timeout", default=None, metavar="DURATION", help="Give up waiting after this long when healing.")
@click.option("--record-dir", default=None, metavar="DIR", help="Where the record lives (default from environment).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
def reconcile(env_name: str, repo: str | None, ref: str | None, kubeconfig: str | None, context: str | None,
              timeout: str | None, record_dir: str | None, output: str) -> None:
    """Compare the cluster with the commit, record any drift, and heal it if the
    environment sets sync.selfHeal: true.

    \b
    Exit codes:
      0  in sync, or drift healed
      2  drift found and not healed (selfHeal is off)
      1  error, or healing failed
    """
    from gitops_ray.cli import render
    from gitops_ray.engine.run import reconcile as run

    progress = Progress(enabled=output == "text", lines=True)
    try:
        result = run(env=env_name, repo=repo, ref=ref, kubeconfig=kubeconfig, context=context, record_dir=record_dir,
                     timeout_s=parse_duration(timeout) if timeout else None, progress=progress)
    except GitopsRayError as err:
        progress.done()
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    progress.done()
    if output == "json":
        click.echo(render.dumps({"drift": result.drift, "healed": result.applied is not None and result.ok,
                                 "plan": render.plan_json(result.plan),
                                 "apply": render.apply_json(result.applied) if result.applied else None}))
    else:
        style = styler(use_colour())
        click.echo(render.plan_text(result.plan, style=style))
        if result.applied is not None:
            click.echo(render.apply_text(result.applied, style=style))
        elif result.drift:
            click.echo("drift left in place: sync.selfHeal is false for this environment")
    if not result.ok:
        sys.exit(1)
    sys.exit(2 if result.drift and result.applied is None else 0)
