#!/usr/bin/env python
"""Differential fuzz: emulator vs g++ C simulation on random MLPs at the limits of their types.

The longer run of the property test ``tests/test_bit_exact_csim.py::test_random_mlps_at_the_limits_*``
(issue 9, section 1): random MLPs (1-4 dense layers, relu/sigmoid/tanh/softmax), random types
up to 128 bits with every rounding and overflow mode (``AP_SAT_SYM`` half of the time, every
third model only ``AP_SAT_SYM``), inputs at and beyond the type limits (+-1 LSB around max/min,
half-LSB ties, huge finite doubles, subnormals).  Each model is checked on the whole batch
(emulator == C simulation, bit for bit) and on single rows (one row at a time == the batch).

    .venv/bin/python benchmarks/fuzz_bit_exact.py --models 500 [--start 0] [--minutes 10]

Prints one line per model with a mismatch or an error and a summary; exits with status 1 when
any sample differs.  A model whose export is refused (a clear error naming the layer) is counted
as rejected, not as a mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import fpga_aware as fa  # noqa: E402  (before TensorFlow)
import numpy as np  # noqa: E402

from test_bit_exact_csim import assert_limit_case, limit_case  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=500, help="number of random models (default 500)")
    parser.add_argument("--start", type=int, default=1000, help="first seed (the default suite uses 0-5)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--rows", type=int, default=300, help="samples per model")
    parser.add_argument("--json", type=Path, default=None, help="write the summary as JSON here")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    stats = {"models": 0, "samples": 0, "mismatching_samples": 0, "mismatching_models": 0,
             "batch_dependent_models": 0, "rejected": 0, "errors": 0, "wide_types": 0, "sat_sym_types": 0,
             "first_seed": args.start, "mismatching_seeds": []}
    for seed in range(args.start, args.start + args.models):
        if args.minutes is not None and time.perf_counter() - t0 > 60 * args.minutes:
            break
        try:
            firmware, x, rows = limit_case(seed, n_rows=args.rows)
        except (fa.ConfigError, fa.PrecisionError, ValueError) as err:
            stats["rejected"] += 1
            print(f"seed {seed}: rejected: {err}", flush=True)
            continue
        types = [t for layer in firmware.ir.layers for t in (layer.input_type, layer.result_type,
                 getattr(layer, "weight_type", None), getattr(layer, "accum_type", None)) if t is not None]
        stats["wide_types"] += sum(t.width > 64 for t in types)
        stats["sat_sym_types"] += sum(t.overflow.value == "AP_SAT_SYM" for t in types)
        try:
            mismatches = assert_limit_case(firmware, x, rows)
        except AssertionError as err:
            stats["batch_dependent_models"] += 1
            print(f"seed {seed}: one row at a time differs from the batch: {err}", flush=True)
            continue
        except Exception as err:  # noqa: BLE001 - a fuzz run reports and goes on
            stats["errors"] += 1
            print(f"seed {seed}: error: {type(err).__name__}: {err}", flush=True)
            continue
        stats["models"] += 1
        stats["samples"] += len(x)
        stats["mismatching_samples"] += mismatches
        if mismatches:
            stats["mismatching_models"] += 1
            stats["mismatching_seeds"].append(seed)
            print(f"seed {seed}: {mismatches} of {len(x)} samples differ ({firmware!r})", flush=True)
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(stats, indent=2))
    if args.json:
        args.json.write_text(json.dumps(stats, indent=2) + "\n")
    bad = stats["mismatching_samples"] + stats["batch_dependent_models"] + stats["errors"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
