#!/usr/bin/env python
"""Differential fuzz: emulator vs g++ C simulation on random small CNNs (issue 14 section 4).

The longer run of ``tests/test_conv.py::test_random_small_cnns_emulator_equals_csim`` (the suite
runs seeds 0 and 1): ``random_csim_cnn(seed)`` draws 1-D or 2-D models with one or two
convolutions (kernel sizes, strides, dilation, valid/same padding), optional max/average
pooling, global pooling or Flatten, a Dense layer, random sparsity and pruned filters, random
widths with every rounding mode and wrap/saturate, and inputs beyond the type's range.  Each
model's outputs on its 24 rows are compared exactly (fixed-point values).

    nice .venv/bin/python benchmarks/fuzz_cnn_csim.py --models 40 [--start 100] [--minutes 20] \
        [--json benchmarks/data/fuzz_cnn_csim.json]

Prints one line per model with a mismatch or an error and a summary; exits with status 1 when
any output differs.  A model whose export is refused (a clear error) counts as rejected.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import fpga_aware as fa  # noqa: E402  (before TensorFlow)
import numpy as np  # noqa: E402

from test_conv import random_csim_cnn  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=40)
    parser.add_argument("--start", type=int, default=100, help="first seed (the suite uses 0 and 1)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--json", type=Path, default=None, help="write the summary as JSON here")
    args = parser.parse_args(argv)
    stats = {"models": 0, "outputs": 0, "rows": 0, "mismatching_outputs": 0, "mismatching_models": 0,
             "rejected": 0, "errors": 0, "first_seed": args.start, "mismatching_seeds": [], "conv_layers": 0,
             "pooling_layers": 0, "rank_1": 0, "rank_2": 0, "saturating": 0}
    t0 = time.perf_counter()
    for seed in range(args.start, args.start + args.models):
        if args.minutes is not None and time.perf_counter() - t0 > 60 * args.minutes:
            break
        model, options, x = random_csim_cnn(seed)
        try:
            firmware = fa.to_firmware(model, **options)
        except (ValueError, TypeError) as exc:  # a refusal names the layer: not a mismatch
            stats["rejected"] += 1
            print(f"seed {seed}: rejected: {exc}")
            continue
        try:
            emulated = firmware.predict(x)
            with tempfile.TemporaryDirectory(prefix="fa_cnn_fuzz_") as out:
                firmware.write(Path(out) / "prj")
                simulated = firmware.predict(x, engine="csim")
        except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
            stats["errors"] += 1
            print(f"seed {seed}: error: {type(exc).__name__}: {exc}")
            continue
        kinds = [layer.kind for layer in firmware.ir.layers]
        stats["models"] += 1
        stats["rows"] += len(x)
        stats["outputs"] += int(emulated.size)
        stats["conv_layers"] += kinds.count("conv")
        stats["pooling_layers"] += kinds.count("pooling")
        stats[f"rank_{len(model.input_shape) - 2}"] += 1
        stats["saturating"] += "AP_SAT" in options["precision"]
        bad = int(np.count_nonzero(emulated != simulated))
        if bad:
            stats["mismatching_outputs"] += bad
            stats["mismatching_models"] += 1
            stats["mismatching_seeds"].append(seed)
            print(f"seed {seed}: {bad} of {emulated.size} outputs differ ({options['precision']}, {kinds})")
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    try:
        stats["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                                         capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        stats["commit"] = None
    print(json.dumps(stats, indent=2))
    if args.json:
        args.json.write_text(json.dumps(stats, indent=2) + "\n")
    return 1 if stats["mismatching_outputs"] or stats["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
