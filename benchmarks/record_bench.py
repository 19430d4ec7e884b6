"""Record benchmarks: fsynced appends per second, and `history` over 100,000 entries.

    .venv/bin/python benchmarks/record_bench.py [--appends 1000] [--entries 100000]

Peers, measured in the same run on the same disk: SQLite inserts committed one by
one with `synchronous=FULL` (WAL), the usual "small durable log" choice; and for
reading, a bare `json.loads` of every line (the floor any JSONL reader pays).
Targets (issue 5): history over 100,000 entries under 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from gitops_ray.cli.history import history as history_cli
from gitops_ray.record import facts
from gitops_ray.record.entries import Draft, EntryKind, canonical_json, object_digest, subject, uuid7
from gitops_ray.record.store import RecordStore

ROOT = Path(__file__).resolve().parent.parent


def _bodies() -> list[dict[str, Any]]:
    """The example environment's objects with their facts, computed once."""
    out = []
    for path in sorted((ROOT / "environments" / "dev").glob("*.yaml")):
        if path.name == "environment.yaml":
            continue
        for body in yaml.safe_load_all(path.read_text()):
            if body:
                meta = body.get("metadata") or {}
                ref = "/".join(p for p in (body["kind"], meta.get("namespace", ""), meta["name"]) if p)
                out.append({"body": body, "ref": ref, "digest": object_digest(body), "facts": facts.facts_of(body),
                            "impact": facts.impact_of(body).to_json()})
    return out


def _run_drafts(run: int, bodies: list[dict[str, Any]]) -> list[Draft]:
    """One realistic run: an intent with facts for each object, one outcome each, a checkpoint."""
    run_id = f"20260101T000000Z-{run:08x}"
    actions, subjects = [], []
    for n, item in enumerate(bodies):
        body, ref, digest = item["body"], item["ref"], item["digest"]
        actions.append({"n": n, "ref": ref, "apiVersion": body["apiVersion"], "op": "update", "strategy": "ssa",
                        "reason": "changed in Git", "changedPaths": ["/spec/x"], "desiredSha256": digest,
                        "facts": item["facts"], "impact": item["impact"],
                        "diff": [{"path": "/spec/x", "op": "change", "before": run, "after": run + 1}]})
        subjects.append(subject(f"{body['apiVersion']}/{ref}", digest))
    source = {"repository": "git@example.com:org/repo.git", "ref": "refs/heads/main",
              "commit": {"gitCommit": f"{run:040x}"}, "author": {"name": "Ada", "email": "ada@example.com"},
              "change": {"pr": run, "reason": "bench"}}
    drafts = [Draft(kind=EntryKind.INTENT, run_id=run_id, subjects=subjects,
                    predicate={"source": source, "actor": {"id": "os:bench"}, "environment": "bench",
                               "actions": actions})]
    intent_id = uuid7()  # stand-in: outcomes only need a stable reference for the join
    for n, action in enumerate(actions):
        drafts.append(Draft(kind=EntryKind.OUTCOME, run_id=run_id, subjects=[subjects[n]],
                            entry={"intentId": intent_id},
                            predicate={"action": {k: action[k] for k in ("n", "ref", "apiVersion", "op", "strategy")},
                                       "result": {"outcome": "applied", "http": 200, "durationS": 0.012,
                                                  "auditIDs": [f"{intent_id}-{n + 1}"], "uidAfter": f"uid-{n}",
                                                  "rvAfter": str(run), "liveAfterSha256": action["desiredSha256"]}}))
    drafts.append(Draft(kind=EntryKind.CHECKPOINT, run_id=run_id, subjects=[subject("gitops-ray/bench", None)],
                        predicate={"checkpoint": {"origin": "gitops-ray/bench"}}))
    return drafts


def bench_appends(directory: Path, count: int) -> dict[str, float]:
    store = RecordStore(directory / "appends.jsonl", environment="bench")
    template = _run_drafts(0, _bodies())[1]
    latencies = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        store.append(template)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"per_s": count / elapsed, "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "bytes": len(store.path.read_bytes()) / count}


def bench_sqlite(directory: Path, count: int, payload: bytes) -> float:
    conn = sqlite3.connect(directory / "peer.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY, line BLOB)")
    start = time.perf_counter()
    for _ in range(count):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO log (line) VALUES (?)", (payload,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return count / elapsed


def build_log(directory: Path, entries: int) -> Path:
    bodies = _bodies()
    record_dir = directory / "records"
    store = RecordStore(record_dir / "bench.jsonl", environment="bench")
    run, written = 0, 0
    batch: list[Draft] = []
    while written < entries:
        drafts = _run_drafts(run, bodies)[: entries - written]
        batch += drafts
        written += len(drafts)
        run += 1
        if len(batch) >= 2000:
            store.append_all(batch)
            batch = []
    store.append_all(batch)
    return record_dir


def bench_history(record_dir: Path) -> dict[str, float]:
    """The CLI in-process, index warm (kept by the writer), then the index-lost worst case."""
    from gitops_ray.record import index

    runner = CliRunner()
    timings = {}
    cases = (("text", []), ("resource", ["--resource", "RayJob/ray-dev/batch-inference"]), ("json", ["-o", "json"]))
    for label, args in cases:
        start = time.perf_counter()
        result = runner.invoke(history_cli, ["--env", "bench", "--record-dir", str(record_dir), *args])
        timings[label] = time.perf_counter() - start
        assert result.exit_code == 0, result.output[:500]
    path = record_dir / "bench.jsonl"
    index.index_path(path).unlink()
    start = time.perf_counter()
    runner.invoke(history_cli, ["--env", "bench", "--record-dir", str(record_dir), *cases[1][1]])
    timings["cold"] = time.perf_counter() - start
    start = time.perf_counter()
    for line in path.read_bytes().splitlines():
        json.loads(line)
    timings["floor_json_loads"] = time.perf_counter() - start
    timings["mb"] = path.stat().st_size / 1e6
    timings["index_mb"] = index.index_path(path).stat().st_size / 1e6
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR") or ROOT / ".cache") as tmp:
        directory = Path(tmp)
        appends = bench_appends(directory, args.appends)
        payload = canonical_json(_run_drafts(0, _bodies())[1].predicate)
        peer = bench_sqlite(directory, args.appends, payload)
        print(f"record append (fsync each): {appends['per_s']:8.0f}/s  p50 {appends['p50_ms']:.2f} ms  "
              f"p99 {appends['p99_ms']:.2f} ms  {appends['bytes']:.0f} B/entry")
        print(f"peer: SQLite WAL synchronous=FULL, one commit each: {peer:8.0f}/s  "
              f"(record/peer = {appends['per_s'] / peer:.2f})")
        start = time.perf_counter()
        record_dir = build_log(directory, args.entries)
        print(f"built a {args.entries}-entry log in {time.perf_counter() - start:.1f} s")
        timings = bench_history(record_dir)
        print(f"history over {args.entries} entries ({timings['mb']:.0f} MB log, {timings['index_mb']:.0f} MB index): "
              f"all rows (text) {timings['text']:.2f} s, --resource {timings['resource']:.2f} s, "
              f"all rows -o json {timings['json']:.2f} s  (target < 2 s)")
        print(f"index lost (rebuilt from the log) + --resource: {timings['cold']:.2f} s; "
              f"floor, json.loads of every log line: {timings['floor_json_loads']:.2f} s "
              f"(warm text / floor = {timings['text'] / timings['floor_json_loads']:.2f})")

if __name__ == "__main__":
    (ROOT / ".cache").mkdir(exist_ok=True)
    main()
