"""`--env` takes an environment's name, never a path, on every command (issue 9, deliverable 7,
part): history and audit included, where the name becomes the record's file name
(`<record dir>/<env>.jsonl`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from gitops_ray.cli.main import cli
from gitops_ray.errors import ExitCode

COMMANDS = [("history",), ("history", "--check"), ("audit", "verify", "--no-cluster"), ("audit", "export"),
            ("plan",), ("apply",), ("reconcile",)]


@pytest.mark.parametrize("name", ["../outside", "/tmp/outside", "dev/../outside", "Dev", "a" * 64, ".", "",
                                  "dev.jsonl"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_env_accepts_names_only_on_every_record_command(tmp_path, monkeypatch, command, name):
    records = tmp_path / "records"
    records.mkdir()
    (tmp_path / "outside.jsonl").write_text("a file a path could reach\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, [*command, "--env", name, "--record-dir", str(records)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "not a valid environment name" in result.output
    assert list(records.iterdir()) == []
    assert (tmp_path / "outside.jsonl").read_text() == "a file a path could reach\n"


def test_validate_env_takes_a_name_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "--env", "../x"])
    assert result.exit_code == ExitCode.USAGE and "not a valid environment name" in result.output
