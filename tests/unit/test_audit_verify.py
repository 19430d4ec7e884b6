"""Tamper tests: every way of changing the log after the fact is named by verify."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from record_world import CM, JOB, NS, World

from gitops_ray.record import anchors, audit, entries, evidence
from gitops_ray.source import Repository


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path / "records")
    w.run(NS, CM)
    w.run(NS, CM.replace("'1'", "'2'"), JOB)
    return w


def verify(world, *, configmap=True, notes=True):
    cm = anchors.ConfigMapAnchor(client=world.cluster, namespace="ray-dev", environment="dev") if configmap else None
    return anchors.verify(world.store.scan(), "dev", configmap=cm, notes=world.notes if notes else None)


def lines(world) -> list[bytes]:
    return world.store.path.read_bytes().split(b"\n")[:-1]


def write(world, new_lines: list[bytes]) -> None:
    world.store.path.write_bytes(b"\n".join(new_lines) + b"\n")


def entry_id(line: bytes) -> str:
    return str(json.loads(line)["predicate"]["entry"]["id"])


def test_untouched_log_verifies(world):
    result = verify(world)
    assert result.ok, result.problems
    assert result.entries == len(lines(world))
    assert [a.split(":")[0] for a in result.anchors_checked] == ["ConfigMap ray-dev/gitops-ray-record-dev",
                                                                 "git note on aaaaaaaaaaaa"]


def test_editing_one_byte_names_the_edited_entry(world):
    original = lines(world)
    target = 3
    edited = original[target - 1].replace(b'"outcome":"applied"', b'"outcome":"applieD"', 1)
    assert edited != original[target - 1]
    write(world, [*original[:target - 1], edited, *original[target:]])
    result = verify(world)
    assert not result.ok
    assert result.first is not None
    assert result.first.line == target and result.first.entry_id == entry_id(original[target - 1])
    assert "does not match the hash" in result.first.message


def test_a_byte_edit_that_breaks_the_json_is_not_excused_as_a_torn_write(world):
    original = lines(world)
    broken = b"X" + original[1][1:]
    write(world, [original[0], broken, *original[2:]])
    result = verify(world)
    assert result.first is not None and result.first.line == 2
    assert "no later entry declares as torn" in result.first.message


def test_deleting_an_entry_names_where_it_is_missing(world):
    original = lines(world)
    write(world, [*original[:4], *original[5:]])
    result = verify(world)
    assert result.first is not None
    assert result.first.line == 5 and result.first.entry_id == entry_id(original[5])
    assert result.first.message.startswith("entry 5 missing before this entry (seq 6)")


def test_swapping_two_entries_is_reordering(world):
    original = lines(world)
    write(world, [*original[:2], original[3], original[2], *original[4:]])
    result = verify(world)
    assert result.first is not None
    assert result.first.line == 3 and result.first.entry_id == entry_id(original[3])
    assert "out of order" in result.first.message


def test_truncating_the_tail_is_caught_against_the_anchors(world):
    original = lines(world)
    write(world, original[:-3])
    assert anchors.verify_chain(world.store.scan(), "dev").ok  # the chain alone cannot see it
    result = verify(world)
    assert not result.ok
    messages = [str(p) for p in result.problems]
    assert any(m.startswith("ConfigMap ray-dev/gitops-ray-record-dev: anchors") and "truncated" in m
               for m in messages), messages
    assert any(m.startswith("git note on aaaaaaaaaaaa:") and "truncated" in m for m in messages), messages


def test_truncating_the_tail_is_caught_by_the_git_note_alone(world):
    write(world, lines(world)[:-2])
    result = verify(world, configmap=False)
    assert not result.ok and "truncated" in result.problems[0].message
    assert "cluster anchor not checked: no cluster reachable" in result.notices


def test_deleting_the_anchor_configmap_is_named(world):
    world.cluster.objects.pop(("ConfigMap", "ray-dev", "gitops-ray-record-dev"))
    result = verify(world)
    assert not result.ok
    assert result.first is not None and result.first.anchor == "ConfigMap ray-dev/gitops-ray-record-dev"
    assert result.first.message.startswith("missing, but the checkpoint at entry")


def test_editing_the_last_line_is_caught_by_the_anchored_head(world):
    original = lines(world)
    last = json.loads(original[-1])
    last["predicate"]["environment"] = "prod"
    write(world, [*original[:-1], entries.canonical_json(last)])
    result = verify(world)
    assert result.first is not None and result.first.line == len(original)
    assert "differs from the anchored head" in result.first.message


def test_a_consistent_rewrite_of_the_whole_log_is_caught_by_the_anchors(world):
    prev = entries.GENESIS
    rewritten = []
    for line in lines(world):
        statement = json.loads(line)
        statement["predicate"]["entry"]["prev"] = prev
        if statement["predicate"]["entry"]["kind"] == "intent":
            statement["predicate"]["source"]["author"]["name"] = "Mallory"
        raw = entries.canonical_json(statement)
        rewritten.append(raw)
        prev = hashlib.sha256(raw).hexdigest()
    write(world, rewritten)
    assert anchors.verify_chain(world.store.scan(), "dev").ok
    result = verify(world)
    assert not result.ok and "differs from the anchored head" in result.problems[0].message


def test_a_rolled_back_configmap_is_named(world):
    entries = list(world.store.entries())
    first_checkpoint = next(e for e in entries if e.kind == "checkpoint")
    anchor = anchors.ConfigMapAnchor(client=world.cluster, namespace="ray-dev", environment="dev")
    anchor.publish(anchors.Checkpoint.of("dev", first_checkpoint.seq, first_checkpoint.hash), "t")
    result = verify(world)
    assert [p.message for p in result.problems if p.anchor] == [
        f"holds size {first_checkpoint.seq} but the checkpoint at entry {entries[-1].seq} was published there "
        "later (rolled back?)"]


def test_missing_note_on_an_anchored_commit_is_named_but_absent_notes_ref_is_a_notice(world):
    world.notes.notes.clear()
    result = verify(world, configmap=False)
    assert result.ok  # no notes ref at all here: cannot tell, says so
    assert any("not present in this repository" in n for n in result.notices)
    world.notes.notes["b" * 40] = "gitops-ray/prod\n1\n" + "0" * 64 + "\n"
    result = verify(world, configmap=False)
    assert not result.ok and result.problems[0].anchor == "git note on aaaaaaaaaaaa"


def test_checkpoint_text_format_and_note_merging():
    cp = anchors.Checkpoint.of("dev", 12, "ab" * 32)
    assert cp.text == "gitops-ray/dev\n12\n" + "ab" * 32 + "\n"
    other = anchors.Checkpoint.of("prod", 3, "cd" * 32)
    merged = anchors.merge_note(anchors.merge_note(None, cp), other)
    assert anchors.parse_checkpoints(merged) == [cp, other]
    newer = anchors.Checkpoint.of("dev", 20, "ef" * 32)
    assert anchors.parse_checkpoints(anchors.merge_note(merged, newer)) == [newer, other]
    assert anchors.parse_checkpoints("gitops-ray/dev\nnot-a-number\nxyz\n") == []


def test_real_git_notes_anchor_round_trip(git_repo, tmp_path):
    repo = git_repo({"a.yaml": "a: 1\n"})
    sha = repo.git("rev-parse", "HEAD")
    notes = audit.RepositoryNotes(Repository.open(repo.path))
    assert notes.noted_commits() is None
    anchor = anchors.GitNoteAnchor(notes=notes, commit=sha, environment="dev")
    anchor.publish(anchors.Checkpoint.of("dev", 3, "ab" * 32), "t")
    anchors.GitNoteAnchor(notes=notes, commit=sha, environment="prod").publish(
        anchors.Checkpoint.of("prod", 5, "cd" * 32), "t")
    assert notes.noted_commits() == [sha]
    assert repo.git("notes", "--ref", "refs/notes/gitops-ray", "show", sha) == (
        "gitops-ray/dev\n3\n" + "ab" * 32 + "\n\ngitops-ray/prod\n5\n" + "cd" * 32)
    assert notes.has_commit(sha) and not notes.has_commit("f" * 40)


# --------------------------------------------------------------------------- crash consistency


def _killed_mid_run(record_dir: str) -> None:
    world = World(Path(record_dir))
    recorder = world.recorder()
    plan = world.plan(NS, CM, JOB)
    recorder.intent(plan, "run-killed")
    from gitops_ray.changes import ChangeResult, Outcome

    first = plan.changes[0]
    recorder.outcome(ChangeResult(change=first, outcome=Outcome.APPLIED, http_status=200,
                                  live_after={**(first.desired or {}), "metadata": {
                                      **(first.desired or {})["metadata"], "uid": "uid-ns"}}))
    os.kill(os.getpid(), signal.SIGKILL)  # dies between writes: no more outcomes, no checkpoint


def test_a_run_killed_between_writes_is_recovered_by_the_next_run(tmp_path):
    record_dir = tmp_path / "records"
    world = World(record_dir)
    world.run(NS)  # an earlier, complete run
    before = world.store.path.read_bytes()
    proc = multiprocessing.get_context("fork").Process(target=_killed_mid_run, args=(str(record_dir),))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == -signal.SIGKILL
    assert world.store.path.read_bytes().startswith(before)  # nothing earlier lost

    index = evidence.RecordIndex.build(world.store.entries())
    [unfinished] = evidence.unfinished_intents(index)
    assert unfinished.run_id == "run-killed"
    assert [a["ref"] for a in unfinished.missing] == ["ConfigMap/ray-dev/cfg", "RayJob/ray-dev/job"]

    # The cluster shows the ConfigMap was written by the killed run; the RayJob never was.
    written = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "cfg", "namespace": "ray-dev", "uid": "uid-cfg", "resourceVersion": "9",
                            "annotations": {"gitops-ray.io/run": "run-killed"}}}
    recorder = world.recorder()
    recovered = recorder.recover(lambda ref: written if ref.kind == "ConfigMap" else None)
    states = {e.predicate["action"]["ref"]: e.predicate["result"]["state"] for e in recovered}
    assert states == {"ConfigMap/ray-dev/cfg": "applied", "RayJob/ray-dev/job": "not-applied (absent)"}
    assert all(e.meta["intentId"] == unfinished.intent.id and e.meta["recovery"] for e in recovered)
    assert evidence.unfinished_intents(recorder.index) == []
    assert recorder.recover(lambda ref: None) == []  # recovered once
    assert anchors.verify_chain(world.store.scan(), "dev").ok


def test_store_level_helpers_for_the_engine(tmp_path):
    world = World(tmp_path / "records")
    world.run(NS, CM)
    assert audit.unfinished_intents(world.store) == []
    recorder = world.recorder()
    recorder.intent(world.plan(NS, CM.replace("'1'", "'9'")), "run-open")
    [open_run] = audit.unfinished_intents(world.store)
    assert open_run.run_id == "run-open" and [a["op"] for a in open_run.missing] == ["update"]
    from gitops_ray.refs import ObjectRef

    assert audit.completed_job(world.store, ObjectRef("ray.io", "RayJob", "ray-dev", "job"), "sha256:x") is None
