"""The `gitops-ray` command line: a thin layer over the stages.

Subcommands live beside the stage they drive and are imported only when
invoked, so `gitops-ray validate` never pays for importing the Kubernetes client.
Exit codes are documented in the README and in each command's --help.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

import click

from gitops_ray import __version__
from gitops_ray.errors import GitopsRayError

# name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "validate": "gitops_ray.cli.validate:validate",
    "schemas": "gitops_ray.cli.schemas:schemas",
    "sandbox": "gitops_ray.cli.sandbox:sandbox",
    "plan": "gitops_ray.cli.plan:plan",
    "apply": "gitops_ray.cli.apply:apply",
    "reconcile": "gitops_ray.cli.reconcile:reconcile",
    "history": "gitops_ray.cli.history:history",
    "audit": "gitops_ray.cli.audit:audit",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitops-ray")
def cli() -> None:
    """GitOps for Ray on Kubernetes: validate, plan, apply and record KubeRay workloads from Git.

    \b
    Exit codes:
      0  success / valid / in sync
      1  invalid manifests, failed apply, broken record
      2  usage or system error; for plan and reconcile: changes pending
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point: user errors become one line on stderr and their exit code."""
    # A plan holds tens of thousands of long-lived dicts (manifests, live objects); with
    # CPython's default thresholds the cyclic GC rescans them over and over: ~40% of a
    # 10,000-object plan (docs/benchmarks.md). A short-lived CLI can collect rarely.
    gc.set_threshold(200_000, 50, 1000)
    try:
        return cli.main(args=argv, prog_name="gitops-ray", standalone_mode=False)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(130)
    except GitopsRayError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
