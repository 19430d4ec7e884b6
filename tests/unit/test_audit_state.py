"""The folded record state every run starts from: saved, caught up, rebuilt when stale."""

from __future__ import annotations

import json

import pytest
from record_world import CM, JOB, NS, World
from test_audit_recorder import finish_job, operator_creates_cluster

from gitops_ray.record import state
from gitops_ray.record.state import RecordIndex


def full(world) -> dict:
    return RecordIndex.build(world.store.entries()).to_json()


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "records")
    w.run(NS, CM, JOB)
    operator_creates_cluster(w)
    finish_job(w)
    w.run(NS, CM, JOB)
    return w


def test_state_is_saved_at_close_and_equals_a_full_fold(world):
    path = state.state_path(world.store.path)
    assert path.exists()
    saved = json.loads(path.read_text())["index"]
    assert saved == full(world)
    assert saved["finished"][0]["job_status"] == "SUCCEEDED"
    assert {k["ref"] for k in saved["known"]} >= {"RayJob/ray-dev/job", "RayCluster/ray-dev/job-raycluster-abcde"}
    assert saved["openIntents"] == []  # every run closed


def test_entries_after_the_saved_state_are_folded_on_load(world):
    before = state.state_path(world.store.path).read_bytes()
    world.cluster.objects.pop(("ConfigMap", "ray-dev", "cfg"))
    recorder = world.recorder()
    recorder.observe(world.cluster.owned())  # written, not checkpointed: state file not saved
    assert state.state_path(world.store.path).read_bytes() == before
    loaded = state.load(world.store)
    assert loaded.to_json() == full(world)
    assert "ConfigMap/ray-dev/cfg" not in {k.ref for k in loaded.known.values()}


def test_another_writers_entries_are_caught_up_before_ours(world):
    mine = world.recorder()
    assert mine.index.known  # loaded now, before the other writer appends
    other = world.recorder()
    world.cluster.objects.pop(("ConfigMap", "ray-dev", "cfg"))
    other.observe(world.cluster.owned())  # the other process records the disappearance
    mine.observe(world.cluster.owned())  # must not record it a second time
    gone = [e for e in world.store.entries() if e.predicate.get("observation", {}).get("type") == "disappearance"
            and e.predicate["observation"]["ref"] == "ConfigMap/ray-dev/cfg"]
    assert len(gone) == 1
    assert mine.index.to_json() == full(world)


def test_a_state_that_does_not_match_the_log_is_rebuilt(world):
    lines = world.store.path.read_bytes().split(b"\n")
    world.store.path.write_bytes(b"\n".join(lines[:6]) + b"\n")  # truncated behind the state's back
    loaded = state.load(world.store)
    assert loaded.to_json() == full(world)
    assert loaded.covered == len(b"\n".join(lines[:6])) + 1
    state.state_path(world.store.path).write_text("{not json")
    assert state.load(world.store).to_json() == full(world)
