#!/usr/bin/env python
"""Run every benchmark of this folder (``make bench``); extra arguments go to each of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_export.py", "bench_emulator_speed.py", "bench_estimate.py", "bench_training.py"]


def main() -> int:
    status = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / name), *sys.argv[1:]])
        status = status or rc
    return status


if __name__ == "__main__":
    sys.exit(main())
