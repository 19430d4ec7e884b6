"""One CLI contract: shared options with the same names and metavars on every command that
needs them, one exit-code table, and a README usage block that matches --help."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gitops_ray.cli.main import COMMANDS, cli
from gitops_ray.errors import ExitCode

ROOT = Path(__file__).resolve().parents[2]

# What each command does, which decides the options it must take.
READS_GIT = {"validate", "plan", "apply", "reconcile", "history", "audit verify", "audit export"}
TALKS_TO_CLUSTER = {"plan", "apply", "reconcile", "audit verify"}
USES_RECORD = {"plan", "apply", "reconcile", "history", "audit verify", "audit export"}
NEEDS_ENV = {"plan", "apply", "reconcile", "audit export"}

SHARED = {  # option -> metavar (None for flags)
    "--repo": "PATH|URL", "--ref": "REF", "--worktree": None,
    "--kubeconfig": "PATH", "--context": "NAME",
    "--record-dir": "DIR",
    "--env": "NAME",
    "--output": "FORMAT",
}


def _commands() -> dict[str, click.Command]:
    ctx = click.Context(cli)
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: list[str]) -> None:
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name])
        else:
            found[" ".join(path)] = command

    walk(cli, [])
    return found


COMMAND_NAMES = sorted(_commands())


def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in param.opts:
            return param
    return None


def test_every_top_level_command_is_walked() -> None:
    assert {name.split()[0] for name in COMMAND_NAMES} == set(COMMANDS)
    assert {"validate", "plan", "apply", "reconcile", "history", "audit verify", "audit export", "schemas list",
            "schemas import", "sandbox serve", "sandbox kubeconfig", "sandbox stop"} <= set(COMMAND_NAMES)


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_shared_options_have_one_name_and_metavar_everywhere(name: str) -> None:
    command = _commands()[name]
    wanted = {"--output"}
    if name in READS_GIT:
        wanted |= {"--repo", "--ref", "--worktree"}
    if name in TALKS_TO_CLUSTER:
        wanted |= {"--kubeconfig", "--context"}
    if name in USES_RECORD:
        wanted |= {"--record-dir"}
    if name in NEEDS_ENV:
        wanted |= {"--env"}
    for option in sorted(wanted):
        param = _option(command, option)
        assert param is not None, f"{name} lacks {option}"
        assert param.metavar == SHARED[option], (name, option, param.metavar)
        if SHARED[option] is None:
            assert param.is_flag
    output = _option(command, "--output")
    assert output is not None and "-o" in output.opts
    env = _option(command, "--env")
    if env is not None:
        assert env.metavar == "NAME" and env.required == (name in NEEDS_ENV)
    # an option with a shared name never means something else on another command
    for option, metavar in SHARED.items():
        param = _option(command, option)
        if param is not None:
            assert param.metavar == metavar, (name, option)


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_a_usage_error_exits_64_on_every_command(name: str) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--no-such-flag"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "No such option" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("name", sorted(NEEDS_ENV))
def test_a_missing_or_path_like_environment_is_a_usage_error(name: str) -> None:
    missing = CliRunner().invoke(cli, name.split())
    assert missing.exit_code == ExitCode.USAGE and "--env" in missing.output
    path = CliRunner().invoke(cli, [*name.split(), "--env", "../../etc"])
    assert path.exit_code == ExitCode.USAGE and "not a valid environment name" in path.output


def test_an_unknown_command_and_a_bad_choice_are_usage_errors() -> None:
    assert CliRunner().invoke(cli, ["deploy"]).exit_code == ExitCode.USAGE
    bad = CliRunner().invoke(cli, ["validate", "-o", "xml"])
    assert bad.exit_code == ExitCode.USAGE and "Invalid value" in bad.output


def test_the_exit_codes_never_overlap() -> None:
    codes = [c.value for c in ExitCode]
    assert len(codes) == len(set(codes))
    assert ExitCode.USAGE not in (ExitCode.OK, ExitCode.FAILED, ExitCode.CHANGES)
    assert ExitCode.ERROR not in (ExitCode.OK, ExitCode.FAILED, ExitCode.CHANGES)


def test_every_help_prints_the_exit_code_table() -> None:
    for name in COMMAND_NAMES:
        result = CliRunner().invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0
        assert "64  usage error" in result.output and "2   changes pending" in result.output, name


def _readme_usage() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## Usage", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    usage: dict[str, str] = {}
    current = ""
    for line in block.splitlines():
        match = re.match(r"gitops-ray ((?:[a-z]+)(?: (?:verify|export|list|import|serve|kubeconfig|stop))?)\b(.*)",
                         line.strip())
        if match:
            current = match.group(1)
            usage[current] = match.group(2)
        elif current and line.startswith(" "):
            usage[current] += " " + line.strip()
    return usage


def test_the_readme_usage_block_matches_help() -> None:
    usage = _readme_usage()
    assert set(usage) == set(COMMAND_NAMES)
    for name, text in usage.items():
        command = _commands()[name]
        shown = set(re.findall(r"(--[a-z][a-z-]*|-o)\b", text))
        visible = {max(p.opts, key=len) for p in command.params
                   if isinstance(p, click.Option) and not p.hidden}
        assert {"--output" if o == "-o" else o for o in shown} == visible, name
        for param in command.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            if "-o" in param.opts:  # the formats themselves, as `-o text|json|markdown`
                assert isinstance(param.type, click.Choice)
                assert f"-o {'|'.join(param.type.choices)}" in text, (name, param.type.choices)
            elif param.metavar:
                assert f"{max(param.opts, key=len)} {param.metavar}" in text, (name, param.opts)
