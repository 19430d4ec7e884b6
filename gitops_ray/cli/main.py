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
from gitops_ray.cli.common import EXIT_CODES_HELP
from gitops_ray.errors import ExitCode, GitopsRayError

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
    """Commands imported on first use; one exit-code table however the CLI is entered."""

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

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """click's usage errors exit 64, ours with their own code (errors.ExitCode), each as one
        line on stderr; never a traceback, never a usage error that reads as "changes pending"."""
        try:
            code = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
            code = code if isinstance(code, int) else ExitCode.OK
        except click.UsageError as err:
            err.show()
            code = ExitCode.USAGE
        except click.ClickException as err:
            err.show()
            code = err.exit_code
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            code = ExitCode.INTERRUPTED
        except GitopsRayError as err:
            click.echo(f"error: {err.message}", err=True)
            code = err.exit_code
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            code = ExitCode.INTERRUPTED
        sys.exit(int(code))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES_HELP)
@click.version_option(__version__, prog_name="gitops-ray")
def cli() -> None:
    """GitOps for Ray on Kubernetes: validate, plan, apply and record KubeRay workloads from Git.

    Shell completion (environment names included): see README, "Shell completion".
    """


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the `gitops-ray` script."""
    # A plan holds tens of thousands of long-lived dicts (manifests, live objects); with
    # CPython's default thresholds the cyclic GC rescans them over and over: ~40% of a
    # 10,000-object plan (docs/benchmarks.md). A short-lived CLI can collect rarely.
    gc.set_threshold(200_000, 50, 1000)
    return cli.main(args=argv, prog_name="gitops-ray")
