#!/usr/bin/env python3
"""`make bench`: every benchmark, one after the other, each printing its own figures.

They are measured on whatever machine runs them; docs/benchmarks.md holds the
figures measured on the project's 2-core reference machine and how to read
them. Run on a quiet machine: the benchmarks share two cores with anything else.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS: list[tuple[str, list[str]]] = [
    ("validate_bench.py", ["--repeat", "3"]),
    ("sandbox_bench.py", ["--repeats", "3"]),
    ("sandbox_ssa_micro.py", []),
    ("plan_bench.py", ["--repeat", "3"]),
    ("apply_bench.py", ["--repeat", "2"]),
    ("record_bench.py", []),
]


def main() -> int:
    failed = []
    for script, args in BENCHMARKS:
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        started = time.monotonic()
        code = subprocess.run([sys.executable, str(HERE / script), *args], cwd=HERE.parent).returncode
        print(f"=== {script}: exit {code} after {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
