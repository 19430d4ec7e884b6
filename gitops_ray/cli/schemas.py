"""`gitops-ray schemas`: what validation can check against, and adding KubeRay versions to it."""

from __future__ import annotations

from pathlib import Path

import click

from gitops_ray.cli.common import EXIT_CODES_HELP, output_option


@click.group()
def schemas() -> None:
    """The schema catalogue: bundled KubeRay versions, imported ones, and the pinned Kubernetes kinds."""


@schemas.command("list", epilog=EXIT_CODES_HELP)
@output_option("text", "json")
def list_(output: str) -> None:
    """Show every KubeRay version available (bundled or imported), its kinds, and where it comes from."""
    import json

    from gitops_ray.checks import schemas as catalogue

    versions = catalogue.catalogue()
    newest = catalogue.newest_version()
    core = catalogue.SchemaSet(newest).entries() if versions else []
    core = [e for e in core if not e.crd]
    if output == "json":
        click.echo(json.dumps({
            "newest": newest,
            "userDirectory": str(catalogue.user_dir()),
            "kuberay": [{
                "version": v.version, "origin": v.origin, "directory": str(v.directory),
                "kinds": [{"apiVersion": e.api_version, "kind": e.kind, "deprecated": e.deprecated,
                           "source": e.source} for e in v.entries],
            } for v in versions.values()],
            "kubernetes": {"version": catalogue.KUBERNETES_VERSION, "source": core[0].source if core else "",
                           "kinds": [{"apiVersion": e.api_version, "kind": e.kind} for e in core]},
        }, indent=2))
        return
    click.echo("KubeRay (custom resources):")
    for info in versions.values():
        kinds: dict[str, list[str]] = {}
        for entry in info.entries:
            version = entry.api_version.rpartition("/")[2] + (" (deprecated)" if entry.deprecated else "")
            kinds.setdefault(entry.kind, []).append(version)
        listed = ", ".join(f"{kind} {'/'.join(sorted(v))}" for kind, v in sorted(kinds.items()))
        marker = "  (the default)" if info.version == newest else ""
        click.echo(f"  {info.version:8} {info.origin:9} {listed}{marker}")
        click.echo(f"  {'':8} {'':9} from {info.directory}")
    click.echo(f"Kubernetes {catalogue.KUBERNETES_VERSION} (core kinds), {core[0].source if core else 'missing'}:")
    click.echo("  " + ", ".join(sorted(f"{e.kind} {e.api_version}" for e in core)))
    click.echo(f"Imported versions are read from {catalogue.user_dir()} (GITOPS_RAY_SCHEMA_DIR).")


@schemas.command("import", epilog=EXIT_CODES_HELP)
@click.option("--crd", "crds", multiple=True, required=True, type=click.Path(exists=True, dir_okay=False,
              path_type=Path), help="A KubeRay CRD YAML file (may hold several CRDs; .gz is fine). Repeatable.")
@click.option("--version", "version", default=None, metavar="X.Y.Z",
              help="The KubeRay version these CRDs belong to (default: guessed from a vX.Y.Z path component).")
@click.option("--into", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR",
              help="Catalogue root to write into, e.g. the repository's schemas/ (default: the user catalogue).")
@output_option("text", "json")
def import_(crds: tuple[Path, ...], version: str | None, into: Path | None, output: str) -> None:
    """Convert KubeRay CRDs to JSON Schemas and add them as a KubeRay version.
    """
    from gitops_ray.checks import schemas as catalogue

    result = catalogue.import_crds(list(crds), version=version, into=into)
    if output == "json":
        import json

        click.echo(json.dumps({"version": result.version, "directory": str(result.directory),
                               "kinds": [{"apiVersion": e.api_version, "kind": e.kind} for e in result.written],
                               "skipped": list(result.skipped)}, indent=2))
        return
    for note in result.skipped:
        click.echo(f"skipped: {note}", err=True)
    kinds = ", ".join(f"{e.kind} {e.api_version}" for e in result.written)
    click.echo(f"imported KubeRay {result.version} into {result.directory}: {kinds}")
