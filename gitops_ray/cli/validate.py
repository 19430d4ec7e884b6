"""`gitops-ray validate`: the CI check — which line of which manifest is wrong, and why."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import click

from gitops_ray.cli.common import EXIT_CODES_HELP, emit, env_option, output_option, source_options, styler, use_colour
from gitops_ray.environment import ENVIRONMENT_FILE, ENVIRONMENTS_DIR
from gitops_ray.errors import ExitCode, SourceError, UsageError

if TYPE_CHECKING:
    from gitops_ray.cli.report import Report
    from gitops_ray.source import Snapshot


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@env_option(required=False, help="Environment under environments/NAME/: its namespaces, KubeRay version, operator "
                                 "config, and (without PATHs) its paths.")
@source_options
@click.option("--kuberay-version", default=None, metavar="X.Y.Z",
              help="KubeRay schemas to validate with (default: the environment's kuberayVersion, else the newest).")
@click.option("--kubernetes-version", default=None, metavar="X.Y",
              help="Kubernetes version of the built-in kinds' schemas (default: the environment's "
                   "kubernetesVersion, else the newest bundled).")
@click.option("--ignore-missing-schemas", is_flag=True, help="Skip documents of kinds without a schema.")
@output_option("text", "json", "junit", "github")
@click.option("--jobs", type=click.IntRange(min=0), default=0, hidden=True,
              help="Worker processes (0: automatic).")
@click.option("--stage", type=click.Choice(["parse", "schema", "all"]), default="all", hidden=True,
              help="Stop after this stage (for benchmarks).")
def validate(paths: tuple[str, ...], env_name: str | None, repo: str | None, ref: str | None, worktree: bool,
             kuberay_version: str | None, kubernetes_version: str | None, ignore_missing_schemas: bool, output: str,
             jobs: int, stage: str) -> None:
    """Validate manifests: YAML, KubeRay and Kubernetes schemas, the KubeRay operator's own rules,
    and the environment's policy. PATHs are files or directories (recursed for *.yaml, *.yml);
    a PATH that is an environment's directory is validated as that environment (its KubeRay
    version, namespaces and operator configuration), as with --env.

    Inside a Git repository the files are read from the commit (HEAD, or --ref), not from the
    working tree, unless --worktree; outside one, from disk. The output says which it read,
    and which files it skipped.
    """
    report = run(paths=paths, env_name=env_name, repo=repo, ref=ref, worktree=worktree,
                 kuberay_version=kuberay_version, ignore_missing_schemas=ignore_missing_schemas,
                 jobs=jobs, stage=stage, kubernetes_version=kubernetes_version)
    from gitops_ray.cli import report as reports

    if output == "text":
        emit(reports.render_text(report, styler(use_colour())))
    else:
        emit(reports.RENDERERS[output](report))
    sys.exit(ExitCode.OK if report.valid else ExitCode.FAILED)


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
    from gitops_ray.environment import is_environment_file, load_environment
    from gitops_ray.findings import Finding
    from gitops_ray.source import NotAFile, Snapshot, open_snapshot

    disk_paths = [Path(p) for p in paths]
    plain = repo is None and not _in_git_repository((disk_paths[0] if disk_paths else Path.cwd()).resolve())
    if plain and ref is not None:
        raise SourceError(f"{paths[0] if paths else '.'}: --ref given but not inside a Git repository",
                          exit_code=ExitCode.USAGE)
    if plain:
        for path in disk_paths:
            if not path.exists():
                raise SourceError(f"{path}: no such file or directory", exit_code=ExitCode.USAGE)
        snapshot = Snapshot.from_directory(_plain_root(disk_paths, env_name))
    else:
        snapshot = open_snapshot(repo=repo, ref=ref, worktree=worktree, paths=disk_paths)
    wanted = [] if not paths else list(paths) if repo is not None else [snapshot.relpath(p) for p in disk_paths]
    env_name = env_name or _environment_of(snapshot, wanted)
    environment = load_environment(snapshot, env_name) if env_name is not None else None
    if not wanted:
        if environment is not None:
            wanted = list(environment.paths)
        else:
            wanted = [""] if repo is not None else [snapshot.relpath(Path.cwd())]
    if snapshot.commit is not None and repo is None:
        for rel in wanted:
            if not snapshot.exists(rel) and (snapshot.root / rel).exists():
                raise SourceError(f"{rel}: not in {snapshot.description}, only in the working tree: "
                                  "commit it, or pass --worktree to validate uncommitted files",
                                  exit_code=ExitCode.USAGE)
    found = snapshot.files(wanted)
    names = [n for n in found if not is_environment_file(n)]  # configuration, checked by --env
    if not names:
        where = ", ".join(w or "." for w in wanted)
        only = " (only environment files, which --env NAME checks)" if found else ""
        raise SourceError(f"no manifest files (*.yaml, *.yml) under {where} in {snapshot.description}{only}",
                          exit_code=ExitCode.USAGE)
    show = _display(snapshot, plain)
    skipped = [(show(n), "environment configuration" + (f" (checked as environment {environment.name})"
                                                      if environment is not None else " (checked by --env NAME)"))
               for n in found if is_environment_file(n)]
    yaml = set(found)
    skipped += [(show(n), "not a YAML file") for n in snapshot.files(wanted, suffixes=("",)) if n not in yaml]
    version = schemas.select_version(kuberay_version or (environment.kuberay_version if environment else None))
    k8s_version = schemas.select_kubernetes_version(
        kubernetes_version or (environment.kubernetes_version if environment else None))
    blobs: list[SourceBlob] = []
    not_files: list[Finding] = []  # links, submodules, LFS pointers: named as what they are
    for name in names:
        try:
            blobs.append(SourceBlob(show(name), snapshot.read(name)))
        except NotAFile as err:
            not_files.append(Finding(file=show(name), line=1, column=1, rule=err.rule, message=err.what))
    options = ValidateOptions.for_environment(environment, version, ignore_missing_schemas=ignore_missing_schemas,
                                              jobs=jobs, stage=stage, kubernetes_version=k8s_version)
    result = validate_blobs(blobs, options)
    return Report(source=snapshot.description, kuberay_version=version,
                  kubernetes_version=k8s_version, files=[b.path for b in blobs] + [f.file for f in not_files],
                  documents=result.documents, findings=not_files + result.findings, skipped=result.skipped,
                  skipped_files=sorted(skipped), environment=environment.name if environment else None)


def _plain_root(paths: list[Path], env_name: str | None) -> Path:
    """The directory plain files are read relative to: where `environments/` is when an
    environment is involved (--env, or a PATH that is an environment's directory)."""
    if env_name is not None:
        return Path.cwd()
    dirs = [p.resolve() if p.is_dir() else p.resolve().parent for p in paths]
    for directory in dirs:
        if (directory / ENVIRONMENT_FILE).is_file() and directory.parent.name == ENVIRONMENTS_DIR:
            return directory.parent.parent
    return Path(os.path.commonpath(dirs)) if dirs else Path.cwd()


def _environment_of(snapshot: Snapshot, wanted: list[str]) -> str | None:
    """The environment whose directory a PATH names (`environments/dev`), if any: validating it
    means validating it as that environment, with its KubeRay version and namespaces."""
    names = set()
    for rel in wanted:
        parts = PurePosixPath(rel).parts
        if len(parts) == 2 and parts[0] == ENVIRONMENTS_DIR and snapshot.exists("/".join((*parts, ENVIRONMENT_FILE))):
            names.add(parts[1])
    if len(names) > 1:
        raise UsageError(f"PATHs name several environments ({', '.join(sorted(names))}): validate one at a time, "
                         "or name one with --env")
    return names.pop() if names else None


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
