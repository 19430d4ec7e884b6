"""`gitops-ray schemas`: what validation can check against, and adding custom resources to it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from gitops_ray.cli.common import EXIT_CODES_HELP, cluster_options, env_option, output_option
from gitops_ray.errors import UsageError

if TYPE_CHECKING:
    from gitops_ray.checks.schemas import FileImport


@click.group()
def schemas() -> None:
    """The schema catalogue: KubeRay versions, Kubernetes versions, and other custom resources."""


def _catalogue_json() -> dict[str, Any]:
    from gitops_ray.checks import builtin_schemas, crd_catalogue
    from gitops_ray.checks import schemas as catalogue

    versions = catalogue.catalogue()
    builtin = builtin_schemas.catalogue(catalogue.kubernetes_root())
    imported = crd_catalogue.imported_set(catalogue.user_dir())
    other = [*crd_catalogue.bundled_sets(catalogue.bundled_root()), *([imported] if imported else [])]
    return {
        "newest": catalogue.newest_version(),
        "userDirectory": str(catalogue.user_dir()),
        "kuberay": [{
            "version": v.version, "origin": v.origin, "directory": str(v.directory),
            "kinds": [{"apiVersion": e.api_version, "kind": e.kind, "deprecated": e.deprecated,
                       "source": e.source} for e in v.entries],
        } for v in versions.values()],
        "kubernetes": {
            "default": builtin.default, "source": builtin.package,
            "versions": [{"version": v.version, "source": v.source,
                          "kinds": [{"apiVersion": k.api_version, "kind": k.kind} for k in v.kinds]}
                         for v in builtin.versions.values()],
        },
        "customResources": [{
            "project": s.name, "version": s.version, "origin": s.origin, "directory": str(s.directory),
            "source": s.source,
            "kinds": [{"apiVersion": e.api_version, "kind": e.kind, "deprecated": e.deprecated} for e in s.entries],
        } for s in other],
    }


@schemas.command("list", epilog=EXIT_CODES_HELP)
@output_option("text", "json")
def list_(output: str) -> None:
    """Show every schema validation can use: KubeRay versions (bundled or imported), the built-in
    kinds of each bundled Kubernetes version, and the other custom resources (bundled or imported)."""
    import json

    data = _catalogue_json()
    if output == "json":
        click.echo(json.dumps(data, indent=2))
        return
    click.echo("KubeRay (custom resources):")
    for info in data["kuberay"]:
        kinds: dict[str, list[str]] = {}
        for entry in info["kinds"]:
            version = entry["apiVersion"].rpartition("/")[2] + (" (deprecated)" if entry["deprecated"] else "")
            kinds.setdefault(entry["kind"], []).append(version)
        listed = ", ".join(f"{kind} {'/'.join(sorted(v))}" for kind, v in sorted(kinds.items()))
        marker = "  (the default)" if info["version"] == data["newest"] else ""
        click.echo(f"  {info['version']:8} {info['origin']:9} {listed}{marker}")
        click.echo(f"  {'':8} {'':9} from {info['directory']}")
    k8s = data["kubernetes"]
    click.echo(f"Kubernetes (built-in kinds), {k8s['source'] or 'missing'}:")
    for info in k8s["versions"]:
        marker = "  (the default)" if info["version"] == k8s["default"] else ""
        groups: dict[str, list[str]] = {}
        for kind in info["kinds"]:
            groups.setdefault(kind["apiVersion"], []).append(kind["kind"])
        click.echo(f"  {info['version']:8} {len(info['kinds'])} kinds in {len(groups)} group versions{marker}")
        for api_version, names in sorted(groups.items()):
            click.echo(f"    {api_version}: {', '.join(sorted(names))}")
    click.echo("Other custom resources:")
    for crd_set in data["customResources"]:
        name = f"{crd_set['project']} {crd_set['version']}".strip()
        click.echo(f"  {name} ({crd_set['origin']}, from {crd_set['source']}):")
        by_version: dict[str, list[str]] = {}
        for entry in crd_set["kinds"]:
            by_version.setdefault(entry["apiVersion"], []).append(
                entry["kind"] + (" (deprecated)" if entry["deprecated"] else ""))
        for api_version, names in sorted(by_version.items()):
            click.echo(f"    {api_version}: {', '.join(sorted(names))}")
    if not data["customResources"]:
        click.echo("  none")
    click.echo(f"Imported schemas are read from {data['userDirectory']} (GITOPS_RAY_SCHEMA_DIR).")


@schemas.command("import", epilog=EXIT_CODES_HELP)
@click.option("--crd", "crds", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A CRD YAML file (may hold several CRDs, or a List; .gz is fine). Repeatable.")
@click.option("--from-cluster", is_flag=True,
              help="Import every CustomResourceDefinition the cluster serves (--kubeconfig/--context, or --env's).")
@env_option(required=False, help="With --from-cluster: the environment whose cluster to read.")
@cluster_options
@click.option("--version", "version", default=None, metavar="X.Y.Z",
              help="The KubeRay version ray.io CRDs belong to (default: guessed from a vX.Y.Z path component; "
                   "with --from-cluster, ray.io CRDs are imported only when given).")
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="Catalogue root to write into, e.g. the repository's schemas/ (default: the user catalogue).")
@output_option("text", "json")
def import_(crds: tuple[Path, ...], from_cluster: bool, env_name: str | None, kubeconfig: str | None,
            context: str | None, request_timeout: float | None, version: str | None, into: Path | None,
            output: str) -> None:
    """Convert CRDs to JSON Schemas: ray.io CRDs become a KubeRay version, every other CRD joins the
    imported custom resources (validated in every run, whatever the KubeRay version).
    """
    from gitops_ray.checks import schemas as catalogue

    if bool(crds) == from_cluster:
        raise UsageError("give --crd FILE (repeatable) or --from-cluster")
    if crds:
        result = catalogue.import_files(list(crds), version=version, into=into)
    else:
        result = _from_cluster(env_name, kubeconfig, context, request_timeout, version, into)
    if output == "json":
        import json

        parts = {"kuberay": result.kuberay, "customResources": result.other}
        click.echo(json.dumps({key: None if part is None else {
            "version": getattr(part, "version", None), "directory": str(part.directory),
            "kinds": [{"apiVersion": e.api_version, "kind": e.kind} for e in part.written],
            "skipped": list(part.skipped)} for key, part in parts.items()}, indent=2))
        return
    _report(result)


def _from_cluster(env_name: str | None, kubeconfig: str | None, context: str | None, request_timeout: float | None,
                  version: str | None, into: Path | None) -> FileImport:
    from gitops_ray.engine.schema_import import import_from_cluster

    environment = None
    if env_name is not None:
        from gitops_ray.engine.pipeline import open_environment

        _, environment = open_environment(env=env_name, repo=None, ref=None, worktree=True)
    return import_from_cluster(kubeconfig=kubeconfig, context=context, environment=environment, version=version,
                               into=into, request_timeout=request_timeout)


def _report(result: FileImport) -> None:
    for part in (result.kuberay, result.other):
        for note in part.skipped if part is not None else ():
            click.echo(f"skipped: {note}", err=True)
    if result.kuberay is not None:
        kinds = ", ".join(f"{e.kind} {e.api_version}" for e in result.kuberay.written)
        click.echo(f"imported KubeRay {result.kuberay.version} into {result.kuberay.directory}: {kinds}")
    if result.other is not None and result.other.written:
        kinds = ", ".join(f"{e.kind} {e.api_version}" for e in result.other.written)
        click.echo(f"imported {len(result.other.written)} custom resource schemas into {result.other.directory}: "
                   f"{kinds}")
    elif result.kuberay is None:
        click.echo("no CustomResourceDefinition imported")
