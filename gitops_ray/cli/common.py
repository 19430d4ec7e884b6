"""Options and helpers every cluster command shares: same flag, same meaning everywhere."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


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


def env_option(func: F) -> F:
    return click.option("--env", "env_name", required=True, metavar="NAME",
                        help="Environment under environments/NAME/.")(func)


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


def styler(enabled: bool) -> Callable[..., str]:
    if not enabled:
        return lambda text, **_: text
    return lambda text, **kw: click.style(text, **kw)


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ
