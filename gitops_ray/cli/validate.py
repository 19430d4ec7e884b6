"""`gitops-ray validate`: the CI check — which line of which manifest is wrong, and why."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gitops_ray.cli.common import source_options, styler, use_colour
from gitops_ray.errors import GitopsRayError, SourceError

if TYPE_CHECKING:
    from gitops_ray.cli.report import Report
    from gitops_ray.source import Snapshot


@click.command()
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--env", "env_name", default=None, metavar="NAME",
              help="Environment under environments/NAME/: its namespaces, KubeRay version, operator config, "
                   "and (without PATHs) its paths.")
@source_options
@click.option("--kuberay-version", default=None, metavar="X.Y.Z",
              help="KubeRay schemas to validate with (default: the environment's kuberayVersion, else the newest).")
@click.option("--kubernetes-version", default=None, metavar="X.Y",
              help="Kubernetes version of the built-in kinds' schemas (default: the environment's "
                   "kubernetesVersion, else the newest bundled).")
@click.option("--ignore-missing-schemas", is_flag=True, help="Skip documents of kinds without a schema.")
@click.option("-o", "--output", type=click.Choice(["text", "json", "junit", "github"]), default="text",
              show_default=True, help="text for people, json for programs, junit / github for CI.")
@click.option("--jobs", type=click.IntRange(min=0), default=0, hidden=True,
              help="Worker processes (0: automatic).")
@click.option("--stage", type=click.Choice(["parse", "schema", "all"]), default="all", hidden=True,
              help="Stop after this stage (for benchmarks).")
def validate(paths: tuple[str, ...], env_name: str | None, repo: str | None, ref: str | None, worktree: bool,
             kuberay_version: str | None, kubernetes_version: str | None, ignore_missing_schemas: bool, output: str,
             jobs: int, stage: str) -> None:
    """Validate manifests: YAML, KubeRay and Kubernetes schemas, the KubeRay operator's own rules,
    and the environment's policy. PATHs are files or directories (recursed for *.yaml, *.yml).

    Inside a Git repository the files are read from the commit (HEAD, or --ref), not from the
    working tree, unless --worktree; outside one, from disk. The output says which it read.

    \b
    Exit codes:
      0  all documents valid (warnings are printed but do not fail)
      1  at least one error
      2  usage or system error (unknown path, ref, environment or KubeRay version)
    """
    try:
        report = run(paths=paths, env_name=env_name, repo=repo, ref=ref, worktree=worktree,
                     kuberay_version=kuberay_version, ignore_missing_schemas=ignore_missing_schemas,
                     jobs=jobs, stage=stage, kubernetes_version=kubernetes_version)
    except GitopsRayError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(2)
    from gitops_ray.cli import report as reports

    if output == "text":
        click.echo(reports.render_text(report, styler(use_colour())))
    else:
        click.echo(reports.RENDERERS[output](report))
    sys.exit(0 if report.valid else 1)


def _in_git_repository(path: Path) -> bool:
    """A cheap look for `.git` upwards, so plain files never pay for importing GitPython."""
    start = path if path.is_dir() else path.parent
    return any((parent / ".git").exists() for parent in (start, *start.parents))


def run(*, paths: tuple[str, ...], env_name: str | None, repo: str | None, ref: str | None, worktree: bool,
        kuberay_version: str | None, ignore_missing_schemas: bool, jobs: int = 0, stage: str = "all",
        kubernetes_version: str | None = None) -> Report:
    """Read, validate and summarise; the command only renders. GitopsRayError for usage problems."""
    from gitops_ray.checks import schemas
    from gitops_ray.checks.validate import SourceBlob, ValidateOptions, validate_blobs
    from gitops_ray.cli.report import Report
    from gitops_ray.source import Snapshot, open_snapshot

    disk_paths = [Path(p) for p in paths]
    plain = repo is None and not _in_git_repository((disk_paths[0] if disk_paths else Path.cwd()).resolve())
    if plain and ref is not None:
        raise SourceError(f"{paths[0] if paths else '.'}: --ref given but not inside a Git repository")
    if plain:
        for path in disk_paths:
            if not path.exists():
                raise SourceError(f"{path}: no such file or directory")
        dirs = [p.resolve() if p.is_dir() else p.resolve().parent for p in disk_paths]
        # with --env, the root is where environments/ is: the current directory
        root = Path(os.path.commonpath(dirs)) if dirs and env_name is None else Path.cwd()
        snapshot = Snapshot.from_directory(root)
    else:
        snapshot = open_snapshot(repo=repo, ref=ref, worktree=worktree, paths=disk_paths)
    environment = None
    if env_name is not None:
        from gitops_ray.environment import load_environment

        environment = load_environment(snapshot, env_name)
    if paths:
        wanted = list(paths) if repo is not None else [snapshot.relpath(p) for p in disk_paths]
    elif environment is not None:
        wanted = list(environment.paths)
    else:
        wanted = [""] if repo is not None else [snapshot.relpath(Path.cwd())]
    if snapshot.commit is not None and repo is None:
        for rel in wanted:
            if not snapshot.exists(rel) and (snapshot.root / rel).exists():
                raise SourceError(f"{rel}: not in {snapshot.description}, only in the working tree: "
                                  "commit it, or pass --worktree to validate uncommitted files")
    from gitops_ray.environment import is_environment_file

    found = snapshot.files(wanted)
    names = [n for n in found if not is_environment_file(n)]  # configuration, checked by --env
    if not names:
        where = ", ".join(w or "." for w in wanted)
        only = " (only environment files, which --env NAME checks)" if found else ""
        raise SourceError(f"no manifest files (*.yaml, *.yml) under {where} in {snapshot.description}{only}")
    version = schemas.select_version(kuberay_version or (environment.kuberay_version if environment else None))
    k8s_version = schemas.select_kubernetes_version(
        kubernetes_version or (environment.kubernetes_version if environment else None))
    show = _display(snapshot, plain)
    blobs = [SourceBlob(show(name), snapshot.read(name)) for name in names]
    options = ValidateOptions.for_environment(environment, version, ignore_missing_schemas=ignore_missing_schemas,
                                              jobs=jobs, stage=stage, kubernetes_version=k8s_version)
    result = validate_blobs(blobs, options)
    return Report(source=snapshot.description, kuberay_version=version,
                  kubernetes_version=k8s_version, files=[b.path for b in blobs],
                  documents=result.documents, findings=result.findings, skipped=result.skipped,
                  environment=environment.name if environment else None)


def _display(snapshot: Snapshot, plain: bool) -> Callable[[str], str]:
    """How files are named in findings: repository-relative in Git (what CI annotations need),
    relative to the current directory for plain files."""
    root = snapshot.root

    def show(name: str) -> str:
        if not plain:
            return name
        absolute = root / name
        relative = os.path.relpath(absolute)
        return str(absolute) if relative.startswith("..") else relative

    return show
