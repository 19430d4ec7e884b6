"""`gitops-ray history`: the record, one row per action, filtered; or a review report."""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import click

from gitops_ray.cli.common import EXIT_CODES_HELP, env_option, output_option, record_option, source_options
from gitops_ray.environment import Environment
from gitops_ray.errors import ExitCode
from gitops_ray.record.store import RecordStore


def record_stores(env_name: str | None, record_dir: str | None, *, repo: str | None = None, ref: str | None = None,
                  worktree: bool = False) -> list[RecordStore]:
    """The logs to read: one environment's (its `record.dir` unless --record-dir), or every
    `*.jsonl` in the record directory when no --env is given."""
    from gitops_ray.record import audit

    if env_name is None:
        directory = Path(record_dir or audit.DEFAULT_RECORD_DIR).expanduser()
        return [RecordStore(p, environment=p.stem) for p in sorted(directory.glob("*.jsonl"))]
    if record_dir is not None:
        return [audit.open_store(env_name, record_dir)]
    return [audit.open_store(load_environment_or_name(env_name, repo=repo, ref=ref, worktree=worktree))]


def load_environment_or_name(env_name: str, *, repo: str | None = None, ref: str | None = None,
                             worktree: bool = False, notice: bool = True) -> Environment | str:
    """The environment from --repo (default: the repository at the current directory), for
    record.dir and the anchors; or just its name when there is none to read, with a notice
    unless told not to (when --record-dir names the record, the default is not what is used)."""
    from gitops_ray.engine.pipeline import open_environment
    from gitops_ray.errors import ExitCode, GitopsRayError

    try:
        _, environment = open_environment(env=env_name, repo=repo, ref=ref, worktree=worktree)
    except GitopsRayError as err:
        if repo is not None and err.exit_code == ExitCode.USAGE:
            raise  # the user named the repository: a wrong ref or environment there is their error
        if notice:
            click.echo(f"notice: {err.message}; using the default record location", err=True)
        return env_name
    return environment


@click.command(epilog=EXIT_CODES_HELP)
@env_option(required=False, help="Environment (default: every log in the record directory).")
@source_options
@record_option
@click.option("--commit", default=None, metavar="SHA", help="Only actions of runs that applied this commit (prefix).")
@click.option("--resource", default=None, metavar="KIND/NS/NAME",
              help="Only this object (and what it owned: its cluster's disappearance).")
@click.option("--since", default=None, metavar="DATE", help="Only entries at or after DATE (2026-01-31, ISO "
              "date-time, or an age: 7d, 12h).")
@click.option("--check", is_flag=True, help="Exit 1 if any unexplained disappearance is shown.")
@output_option("text", "json", "markdown")
def history(env_name: str | None, repo: str | None, ref: str | None, worktree: bool, record_dir: str | None,
            commit: str | None, resource: str | None, since: str | None, check: bool, output: str) -> None:
    """Show what gitops-ray did: one row per action (with who allowed it), plus final statuses
    and disappearances. The environment (from --repo, default the current directory's
    repository) says where its record lives unless --record-dir does.

    `-o markdown` with `--commit` is a review report for that change: who requested,
    approved and applied it, what it touched with its governance facts, and what
    disappeared since, with the cause. With --check, exits 1 if an unexplained
    disappearance is among the rows.
    """
    from gitops_ray.errors import GitopsRayError
    from gitops_ray.record import history as hist

    try:
        since_at = hist.parse_since(since) if since else None
    except GitopsRayError as err:
        raise click.BadParameter(err.message, param_hint="--since") from None
    stores = record_stores(env_name, record_dir, repo=repo, ref=ref, worktree=worktree)
    with _gc_paused():
        _show(stores, commit=commit, resource=resource, since_at=since_at, check=check, output=output,
              record_dir=record_dir)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Reading builds millions of small acyclic objects (index fields, rows); the cyclic
    collector would rescan them over and over (half the time of a 100,000-entry history)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _show(stores: list[RecordStore], *, commit: str | None, resource: str | None, since_at: datetime | None,
          check: bool, output: str, record_dir: str | None) -> None:
    from gitops_ray.cli import render
    from gitops_ray.record import history as hist
    from gitops_ray.record import index
    from gitops_ray.record.review import render_markdown

    rows: list[hist.Row] = []
    for store in stores:
        rows.extend(hist.rows_from_index(index.load(store), store.environment, load=index.reader(store),
                                         resource=resource, since=since_at))
    rows.sort(key=lambda r: r.time)
    selected = hist.select(rows, commit=commit)
    if output == "json":
        click.echo(render.dumps(hist.render_json(selected)))
    elif output == "markdown":
        click.echo(render_markdown(selected, commit=commit), nl=False)
    else:
        if not any(store.exists() for store in stores):
            where = ", ".join(str(s.path) for s in stores) or f"{Path(record_dir or '.gitops-ray/records')}/*.jsonl"
            click.echo(f"notice: no record found ({where})", err=True)
        click.echo(hist.render_text(selected))
    if check and any(r.unexplained for r in selected):
        sys.exit(ExitCode.FAILED)
