from __future__ import annotations

from pathlib import Path

import pytest

from gitops_ray.environment import load_environment, parse_duration, parse_environment
from gitops_ray.errors import ConfigError
from gitops_ray.source import Repository, Snapshot

REPO_ROOT = Path(__file__).resolve().parents[2]

BASE = """apiVersion: gitops-ray.io/v1alpha1
kind: Environment
metadata:
  name: dev
spec:
  cluster:
    sandbox: {}
  namespaces: [ray-dev]
"""


def parse(text: str):
    return parse_environment("environments/dev/environment.yaml", text.encode())


def test_shipped_environments_load():
    snap = Snapshot.from_directory(REPO_ROOT)
    for name in ("dev", "staging", "prod"):
        env = load_environment(snap, name)
        assert env.namespaces == (f"ray-{name}",)
        assert env.paths == (f"environments/{name}",)
        assert env.cluster.is_sandbox
        assert env.kuberay_version == "1.5.1"


def test_defaults_and_paths_relative_to_environment_directory():
    env = parse(BASE + "  paths: [apps, ../shared]\n")
    assert env.paths == ("environments/dev/apps", "environments/shared")
    assert env.sync.prune is True and env.sync.self_heal is False and env.sync.force is False
    assert env.operator.gate("RayCronJob", False) is None  # not declared


@pytest.mark.parametrize(
    ("extra", "where", "what"),
    [
        ("  sync: {prun: true}\n", ":9:", "unknown field 'prun'"),
        ("  sync:\n    prune: maybe\n", ":10:", "is not of type 'boolean'"),
        ("  bogus: 1\n", ":9:", "unknown field 'bogus'"),
        ("  kuberayVersion: latest\n", ":9:", "spec.kuberayVersion"),
        ("  paths: [/abs]\n", "", "must be relative"),
        ("  paths: [../../..]\n", "", "leaves the repository"),
    ],
)
def test_invalid_environment_names_file_line_and_field(extra, where, what):
    with pytest.raises(ConfigError) as err:
        parse(BASE + extra)
    assert str(err.value).startswith("environments/dev/environment.yaml")
    assert where in str(err.value)
    assert what in str(err.value)


def test_cluster_needs_exactly_one_target():
    text = BASE.replace("    sandbox: {}\n", "    sandbox: {}\n    inCluster: true\n")
    with pytest.raises(ConfigError, match="exactly one of"):
        parse(text)


def test_name_must_match_directory():
    with pytest.raises(ConfigError, match="does not match the directory"):
        parse_environment("environments/prod/environment.yaml", BASE.encode())


def test_unknown_environment_lists_known_ones(git_repo):
    repo = git_repo({"environments/dev/environment.yaml": BASE})
    snap = Repository.open(repo.path).snapshot()
    assert load_environment(snap, "dev").name == "dev"
    with pytest.raises(ConfigError, match=r"environments: dev\)"):
        load_environment(snap, "prod")


def test_environment_paths_must_exist_in_the_commit(git_repo):
    repo = git_repo({"environments/dev/environment.yaml": BASE + "  paths: [apps]\n"})
    with pytest.raises(ConfigError, match="'environments/dev/apps' not found"):
        load_environment(Repository.open(repo.path).snapshot(), "dev")


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("10m", 600), ("1h30m", 5400), ("500ms", 0.5), ("12", 12)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration():
    with pytest.raises(ConfigError):
        parse_duration("ten minutes")
