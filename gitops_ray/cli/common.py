"""Options and helpers every command shares: same flag, same name, same meaning everywhere.

The contract (tests/unit/test_cli_contract.py walks every command's --help):

* a command that reads Git takes `--repo`, `--ref`, `--worktree`;
* a command that talks to a cluster takes `--kubeconfig`, `--context`;
* a command that reads or writes the record takes `--record-dir`;
* every command takes `-o/--output` with the formats that make sense for it;
* exit codes come from one table, `errors.ExitCode`.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CODES_HELP = """\b
Exit codes (the same table for every command):
  0   success: valid, in sync, applied, intact
  1   the answer is no: invalid, failed, blocked, broken
  2   changes pending, or drift left in place
  3   the environment is locked by another run
  4   error: Git, the cluster, the API, the disk, a timeout
  64  usage error: unknown option, environment, ref or path"""


def _git_root(start: Path) -> Path | None:
    for parent in (start, *start.parents):
        if (parent / ".git").exists():
            return parent
    return None


def complete_environment(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Environment names for shell completion: `environments/*/environment.yaml` of the
    repository given by --repo (a local path) or the one around the current directory.

    Read from disk, not from Git, so completion is instant; nothing is executed.
    """
    repo = (ctx.params.get("repo") or "") if ctx is not None else ""
    root = Path(repo) if repo and "://" not in repo and Path(repo).is_dir() else _git_root(Path.cwd())
    if root is None:
        return []
    names = sorted(p.parent.name for p in (root / "environments").glob("*/environment.yaml"))
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _environment_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from gitops_ray.environment import check_name
    from gitops_ray.errors import GitopsRayError

    if value is None:
        return None
    try:
        return check_name(value)
    except GitopsRayError as err:
        raise click.BadParameter(err.message) from None


def env_option(*, required: bool = True, help: str | None = None) -> Callable[[F], F]:
    text = help or "Environment: environments/NAME/environment.yaml (a name, never a path)."
    return click.option("--env", "env_name", required=required, metavar="NAME", help=text,
                        callback=_environment_name, shell_complete=complete_environment)


def source_options(func: F) -> F:
    func = click.option("--worktree", is_flag=True,
                        help="Read uncommitted files from the working tree instead of the commit.")(func)
    func = click.option("--ref", default=None, metavar="REF",
                        help="Branch, tag, SHA or HEAD to read (default HEAD).")(func)
    func = click.option("--repo", default=None, metavar="PATH|URL",
                        help="Repository to read (default: the one containing the current directory).")(func)
    return func


def cluster_options(func: F) -> F:
    func = click.option("--context", default=None, metavar="NAME",
                        help="kubeconfig context; overrides the environment's target.")(func)
    func = click.option("--kubeconfig", default=None, metavar="PATH",
                        help="kubeconfig file; overrides the environment's target.")(func)
    return func


def record_option(func: F) -> F:
    return click.option("--record-dir", default=None, metavar="DIR",
                        help="Where the record lives (default: the environment's record.dir, "
                             "else .gitops-ray/records).")(func)


def output_option(*formats: str, default: str = "text") -> Callable[[F], F]:
    return click.option("-o", "--output", type=click.Choice(list(formats)), default=default, show_default=True,
                        metavar="FORMAT", help=f"Output format: {', '.join(formats)}.")


class Progress:
    """A progress line on a terminal (rewritten in place); plain lines when asked, else silent."""

    def __init__(self, *, enabled: bool = True, lines: bool = False) -> None:
        self.tty = enabled and sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
        self.lines = enabled and lines and not self.tty
        self.started = time.monotonic()
        self._shown = False

    def __call__(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        text = f"[{elapsed:5.1f}s] {message}"
        if self.tty:
            width = max(20, shutil.get_terminal_size().columns - 1)
            sys.stderr.write("\r\033[K" + text[:width])
            sys.stderr.flush()
            self._shown = True
        elif self.lines:
            sys.stderr.write(text + "\n")

    def done(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._shown = False

    @contextmanager
    def shown(self) -> Iterator[Progress]:
        """Clear the progress line however the block ends, so an error prints on a clean line."""
        try:
            yield self
        finally:
            self.done()


def styler(enabled: bool) -> Callable[..., str]:
    if not enabled:
        return lambda text, **_: text
    return lambda text, **kw: click.style(text, **kw)


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ
