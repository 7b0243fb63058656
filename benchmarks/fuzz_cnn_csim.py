#!/usr/bin/env python
"""Differential fuzz: emulator vs g++ C simulation on random small CNNs (issue 14 section 4).

The longer run of ``tests/test_conv.py::test_random_small_cnns_emulator_equals_csim`` (the suite
runs seeds 0 and 1): ``random_csim_cnn(seed)`` draws 1-D or 2-D models with one or two
convolutions (kernel sizes, strides, dilation, valid/same padding), optional max/average
pooling, global pooling or Flatten, a Dense layer, random sparsity and pruned filters, random
widths with every rounding mode and wrap/saturate, and inputs beyond the type's range; by
default (``random_csim_cnn(seed, extended=True)``) also DepthwiseConv/SeparableConv layers
(depth_multiplier 1-2), random biases, whole filters zeroed with a zero bias (always-zero
channels, whose downstream weights ``core/zeros.py`` drops) and io_type io_parallel or io_stream.
Each model's outputs on its 24 rows are compared exactly (fixed-point values); a model whose
zero pass dropped weights is also emulated without the pass, which must give the same outputs.

    nice .venv/bin/python benchmarks/fuzz_cnn_csim.py --models 40 [--start 2000] [--minutes 20] \
        [--json benchmarks/data/fuzz_cnn_csim.json] [--plain]

Prints one line per model with a mismatch or an error and a summary; exits with status 1 when
any output differs.  A model whose export is refused (a clear error) counts as rejected.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import fpga_aware as fa  # noqa: E402  (before TensorFlow)
import fpga_aware.frontend.keras as keras_frontend  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from test_conv import random_csim_cnn  # noqa: E402

_DROP = keras_frontend.drop_always_zero_inputs


_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D")
_SEPARABLE = ("SeparableConv1D", "SeparableConv2D")


def _reason(exc: Exception) -> str:
    """The refusal's message with layer names and numbers blanked (one key per kind of reason)."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'", "'*'", f"{type(exc).__name__}: {exc}"))


def _zero_pass(enabled: bool, record: dict):
    """Runs (or skips) the frontend's always-zero pass, recording the weights it drops."""
    def run(ir):
        dropped = _DROP(ir) if enabled else {}
        record["dropped"] = dropped
        return dropped
    return run


def _start_commit() -> "str | None":
    """HEAD's short hash, with ``+dirty`` when tracked files differ from it; ``None`` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE.parent,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=40)
    parser.add_argument("--start", type=int, default=2000, help="first seed (the suite uses 0 and 1)")
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    parser.add_argument("--json", type=Path, default=None,
                        help="write the summary as JSON here (the file's earlier runs are kept under previous_runs)")
    parser.add_argument("--plain", action="store_true",
                        help="the generator without depthwise/separable/zeroed filters/io_stream "
                             "(random_csim_cnn(seed), as the runs before them drew)")
    args = parser.parse_args(argv)
    extended = not args.plain
    stats = {"generator": "random_csim_cnn(seed, extended=True)" if extended else "random_csim_cnn(seed)",
             "models": 0, "outputs": 0, "rows": 0, "mismatching_outputs": 0, "mismatching_models": 0,
             "rejected": 0, "rejected_reasons": {}, "rejected_seeds": [], "errors": 0, "error_seeds": [],
             "first_seed": args.start, "last_seed": None, "mismatching_seeds": [], "conv_layers": 0,
             "pooling_layers": 0, "rank_1": 0, "rank_2": 0, "saturating": 0, "io_parallel": 0, "io_stream": 0,
             "models_with_depthwise": 0, "depthwise_layers": 0, "models_with_separable": 0, "separable_layers": 0,
             "models_with_zero_channels": 0, "weights_dropped_by_zero_pass": 0,
             "zero_pass_mismatching_outputs": 0, "zero_pass_mismatching_seeds": []}
    record: dict = {}
    commit = _start_commit()
    t0 = time.perf_counter()
    for seed in range(args.start, args.start + args.models):
        if args.minutes is not None and time.perf_counter() - t0 > 60 * args.minutes:
            break
        stats["last_seed"] = seed
        tf.keras.backend.clear_session()
        model, options, x = random_csim_cnn(seed, extended=extended)
        classes = [type(layer).__name__ for layer in model.layers]
        try:
            keras_frontend.drop_always_zero_inputs = _zero_pass(True, record)
            firmware = fa.to_firmware(model, **options)
        except (ValueError, TypeError) as exc:  # a refusal names the layer: not a mismatch
            stats["rejected"] += 1
            stats["rejected_seeds"].append(seed)
            reason = _reason(exc)
            stats["rejected_reasons"][reason] = stats["rejected_reasons"].get(reason, 0) + 1
            print(f"seed {seed}: rejected ({options.get('io_type', 'io_parallel')}, {classes}): {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
            stats["errors"] += 1
            stats["error_seeds"].append(seed)
            print(f"seed {seed}: error in to_firmware: {type(exc).__name__}: {exc}")
            continue
        finally:
            keras_frontend.drop_always_zero_inputs = _DROP
        dropped = sum(record.get("dropped", {}).values())
        try:
            emulated = firmware.predict(x)
            if dropped:  # the pass must change no output: the same model without it, emulated
                keras_frontend.drop_always_zero_inputs = _zero_pass(False, {})
                try:
                    unpassed = fa.to_firmware(model, **options).predict(x)
                finally:
                    keras_frontend.drop_always_zero_inputs = _DROP
                bad = int(np.count_nonzero(unpassed != emulated))
                if bad:
                    stats["zero_pass_mismatching_outputs"] += bad
                    stats["zero_pass_mismatching_seeds"].append(seed)
                    print(f"seed {seed}: the always-zero pass changes {bad} of {emulated.size} outputs")
            with tempfile.TemporaryDirectory(prefix="fa_cnn_fuzz_") as out:
                firmware.write(Path(out) / "prj")
                simulated = firmware.predict(x, engine="csim")
        except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
            stats["errors"] += 1
            stats["error_seeds"].append(seed)
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
        stats[options.get("io_type", "io_parallel")] += 1
        n_dw = sum(c in _DEPTHWISE for c in classes)
        n_sep = sum(c in _SEPARABLE for c in classes)
        stats["depthwise_layers"] += n_dw
        stats["models_with_depthwise"] += n_dw > 0
        stats["separable_layers"] += n_sep
        stats["models_with_separable"] += n_sep > 0
        stats["models_with_zero_channels"] += dropped > 0
        stats["weights_dropped_by_zero_pass"] += dropped
        bad = int(np.count_nonzero(emulated != simulated))
        if bad:
            stats["mismatching_outputs"] += bad
            stats["mismatching_models"] += 1
            stats["mismatching_seeds"].append(seed)
            rows = sorted({int(r) for r in np.nonzero(emulated != simulated)[0]})
            print(f"seed {seed}: {bad} of {emulated.size} outputs differ in rows {rows} "
                  f"({options}, {classes}, {kinds})")
        print(f"seed {seed}: ok ({options.get('io_type', 'io_parallel')}, {classes}, dropped {dropped}, "
              f"{time.perf_counter() - t0:.0f} s)", flush=True)
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    stats["commit"] = commit  # the code that ran: HEAD when the run started (the modules are imported by then)
    print(json.dumps(stats, indent=2))
    if args.json:
        previous = []
        if args.json.exists():
            old = json.loads(args.json.read_text())
            previous = old.pop("previous_runs", []) + [old]
        args.json.write_text(json.dumps({**stats, "previous_runs": previous}, indent=2) + "\n")
    bad = stats["mismatching_outputs"] or stats["errors"] or stats["zero_pass_mismatching_outputs"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
