from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import threading
from pathlib import Path

from gitops_ray.record import anchors, entries
from gitops_ray.record.entries import GENESIS, Draft, EntryKind
from gitops_ray.record.store import RecordStore


def draft(n: int, run: str = "run-1", kind: EntryKind = EntryKind.OBSERVATION) -> Draft:
    return Draft(kind=kind, run_id=run, predicate={"observation": {"type": "test", "n": n}},
                 subjects=[entries.subject(f"v1/ConfigMap/ns/cm-{n}", None)])


def test_lines_are_in_toto_statements_chained_by_the_previous_line_hash(tmp_path):
    store = RecordStore(tmp_path / "dev.jsonl", environment="dev")
    first = store.append(draft(1))
    second, third = store.append_all([draft(2), draft(3)])
    lines = (tmp_path / "dev.jsonl").read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 4
    statements = [json.loads(line) for line in lines[:3]]
    assert all(s["_type"] == "https://in-toto.io/Statement/v1" for s in statements)
    assert all(s["predicateType"] == "https://gitops-ray.io/record/v1" for s in statements)
    assert [s["predicate"]["entry"]["seq"] for s in statements] == [1, 2, 3]
    assert statements[0]["predicate"]["entry"]["prev"] == GENESIS
    assert statements[1]["predicate"]["entry"]["prev"] == hashlib.sha256(lines[0]).hexdigest()
    assert statements[2]["predicate"]["entry"]["prev"] == hashlib.sha256(lines[1]).hexdigest()
    assert [first.id, second.id, third.id] == [s["predicate"]["entry"]["id"] for s in statements]
    assert lines[0] == entries.canonical_json(statements[0])  # stored bytes are canonical
    assert anchors.verify_chain(store.scan(), "dev").ok


def test_uuid7_is_time_ordered_and_versioned():
    ids = [entries.uuid7() for _ in range(200)]
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i) for i in ids)
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)
    assert len(set(ids)) == 200
    assert entries.audit_id(ids[0], 3) == f"{ids[0]}-3"


def test_object_digest_ignores_server_fields_and_secret_values():
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "n"}, "data": {"k": "v"}}
    live = {**body, "metadata": {**body["metadata"], "uid": "u", "resourceVersion": "7", "generation": 2,
                                  "creationTimestamp": "t", "managedFields": [{}]}, "status": {"x": 1}}
    assert entries.object_digest(body) == entries.object_digest(live)
    assert entries.object_digest(body) != entries.object_digest({**body, "data": {"k": "w"}})
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"pw": "c2VjcmV0"}}
    other = {**secret, "data": {"pw": "b3RoZXI="}}
    assert entries.object_digest(secret) == entries.object_digest(other)
    assert entries.object_digest(secret) != entries.object_digest({**secret, "data": {"pw2": "c2VjcmV0"}})


def test_torn_last_line_is_kept_declared_by_the_next_append_and_chain_stays_valid(tmp_path):
    path = tmp_path / "dev.jsonl"
    store = RecordStore(path, environment="dev")
    store.append_all([draft(1), draft(2)])
    before = path.read_bytes()
    torn = b'{"_type":"https://in-toto.io/Statement/v1","subject":[{"na'
    with path.open("ab") as fh:
        fh.write(torn)
    result = anchors.verify_chain(store.scan(), "dev")
    assert result.ok and result.entries == 2
    assert result.torn_tail and result.torn_tail[0].raw == torn
    assert any("torn tail" in n for n in result.notices)

    third = store.append(draft(3))
    data = path.read_bytes()
    assert data.startswith(before + torn + b"\n")  # nothing earlier lost, torn bytes kept
    assert third.meta["torn"] == [{"offset": len(before), "length": len(torn),
                                   "sha256": hashlib.sha256(torn).hexdigest()}]
    assert third.meta["prev"] == hashlib.sha256(before.split(b"\n")[1]).hexdigest()
    assert third.seq == 3
    result = anchors.verify_chain(store.scan(), "dev")
    assert result.ok and result.entries == 3 and not result.torn_tail
    store.append(draft(4))
    assert anchors.verify_chain(store.scan(), "dev").entries == 4


def test_two_torn_writes_in_a_row_are_both_declared(tmp_path):
    path = tmp_path / "dev.jsonl"
    store = RecordStore(path, environment="dev")
    store.append(draft(1))
    with path.open("ab") as fh:
        fh.write(b"garbage-1\n{\"partial")  # a crash after terminating one torn line, mid-way in the next
    entry = store.append(draft(2))
    assert [t["length"] for t in entry.meta["torn"]] == [9, 9]
    assert anchors.verify_chain(store.scan(), "dev").ok


def test_torn_first_line_does_not_block_the_first_entry(tmp_path):
    path = tmp_path / "dev.jsonl"
    path.write_bytes(b'{"_type":')
    store = RecordStore(path, environment="dev")
    entry = store.append(draft(1))
    assert entry.seq == 1 and entry.meta["prev"] == GENESIS and entry.meta["torn"][0]["offset"] == 0
    assert anchors.verify_chain(store.scan(), "dev").ok


def test_an_inserted_line_is_not_mistaken_for_a_torn_write(tmp_path):
    path = tmp_path / "dev.jsonl"
    store = RecordStore(path, environment="dev")
    store.append_all([draft(1), draft(2), draft(3)])
    lines = path.read_bytes().split(b"\n")
    lines.insert(1, b"not an entry")
    path.write_bytes(b"\n".join(lines))
    result = anchors.verify_chain(store.scan(), "dev")
    assert not result.ok
    assert result.first is not None and result.first.line == 2
    assert "no later entry declares as torn" in result.first.message


def test_large_entries_are_read_back_across_chunk_boundaries(tmp_path):
    store = RecordStore(tmp_path / "dev.jsonl", environment="dev")
    big = Draft(kind=EntryKind.INTENT, run_id="r", predicate={"blob": "x" * 200_000})
    store.append(big)
    after = store.append(draft(2))
    assert after.seq == 2
    assert anchors.verify_chain(store.scan(), "dev").ok


def _append_many(path: str, worker: int, count: int) -> None:
    store = RecordStore(Path(path), environment="dev")
    for n in range(count):
        store.append(Draft(kind=EntryKind.OBSERVATION, run_id=f"worker-{worker}",
                           predicate={"observation": {"type": "test", "worker": worker, "n": n}}))


def test_two_processes_appending_1000_each_never_interleave_or_lose(tmp_path):
    path = tmp_path / "dev.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 1000)) for w in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    scan = RecordStore(path, environment="dev").scan()
    assert not scan.segments
    entries = scan.entries
    assert len(entries) == 2000
    result = anchors.verify_chain(scan, "dev")
    assert result.ok, result.problems[:3]
    for worker in (1, 2):
        mine = [e.predicate["observation"]["n"] for e in entries if e.run_id == f"worker-{worker}"]
        assert mine == list(range(1000))  # each writer's entries in its own order, none lost
    assert len({e.id for e in entries}) == 2000
    from gitops_ray.record import index

    indexed = index.load(RecordStore(path, environment="dev"))  # the derived index kept up too
    assert [int(i[index.SEQ]) for i in indexed] == list(range(1, 2001))


def test_threads_appending_concurrently_are_serialised(tmp_path):
    path = tmp_path / "dev.jsonl"
    threads = [threading.Thread(target=_append_many, args=(str(path), w, 50)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = anchors.verify_chain(RecordStore(path, environment="dev").scan(), "dev")
    assert result.ok and result.entries == 200


def test_a_store_notices_other_writers_and_a_replaced_file(tmp_path):
    path = tmp_path / "dev.jsonl"
    mine, other = RecordStore(path, environment="dev"), RecordStore(path, environment="dev")
    mine.append(draft(1))
    other.append(draft(2))  # mine's remembered head is stale now
    assert mine.append(draft(3)).seq == 3
    assert anchors.verify_chain(mine.scan(), "dev").ok
    path.rename(tmp_path / "old.jsonl")  # rotated away under an open descriptor
    fresh = mine.append(draft(4))
    assert fresh.seq == 1 and fresh.meta["prev"] == GENESIS
    assert path.exists() and anchors.verify_chain(mine.scan(), "dev").entries == 1
