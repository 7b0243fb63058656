"""Verilator simulation of the Verilog backend against the emulator on every shared MLP, in both
multiplier modes (issue 12, "Tests"): the suite checks three of these configurations
(tests/test_rtl.py, tests/test_rtl_da.py); this runs the whole list, minutes per model, and
commits its counts as data (``benchmarks/data/rtl_shared_mlps.json``).

Each model is converted with the defaults (``ap_fixed<16,6>``, Latency strategy, reuse factor 1;
the QKeras models at their quantizers), its output softmax kept, written with
``RTLOptions(multiplier=mode)`` (and the default pipeline for the clock), built by Verilator and
simulated on the same rows as the emulator: standard-normal rows, a tenth of them times 40
(saturation).  The outputs are fixed-point values, compared exactly.

    .venv/bin/python benchmarks/rtl_shared_mlps.py [--rows 500] [--modes dsp da] [--models NAME ...] [--cache-dir DIR]

A row records the write (for 'da': da4ml's optimisation), the Verilator build and the simulation
separately (``write_s``, ``build_s``, ``simulate_s``; ``built`` false when the build came from the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: (label, architecture, weights file or None for ``<name>_weights``): the MLPs issue 12 lists.
MODELS = [  # the quicker builds first
    ("KERAS_3layer 95 % pruned", "KERAS_3layer", "KERAS_3layer_95pruned_retrained_weights"),
    ("KERAS_1layer", "KERAS_1layer", None),
    ("qkeras_3layer", "qkeras_3layer", None),
    ("KERAS_3layer 70 % pruned", "KERAS_3layer", "KERAS_3layer_70pruned_retrained_weights"),
    ("KERAS_3layer_batch_norm", "KERAS_3layer_batch_norm", None),
    ("KERAS_3layer", "KERAS_3layer", None),
    ("qkeras_mnist_dense", "qkeras_mnist_dense", None),
]


def load(models_dir: Path, name: str, weights: str | None):
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    custom: dict = {}
    _add_supported_quantized_objects(custom)
    model = tf.keras.models.model_from_json((models_dir / f"{name}.json").read_text(), custom_objects=custom)
    model.load_weights(str(models_dir / f"{weights or name + '_weights'}.h5"))
    return model


def run_one(model, mode: str, rows: int) -> dict:
    import fpga_aware as fa
    from fpga_aware.rtl.layers import RTLOptions

    firmware = fa.to_firmware(model)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((rows, firmware.ir.n_inputs))
    x[: rows // 10] *= 40
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        firmware.write_verilog(Path(tmp) / "p", options=RTLOptions(multiplier=mode))
        written = time.perf_counter() - start
        start = time.perf_counter()
        firmware.predict(x[:1], engine="rtl")  # builds (or finds in the cache) the simulation
        build = time.perf_counter() - start
        built = firmware._rtl_simulator.built
        start = time.perf_counter()
        rtl = firmware.predict(x, engine="rtl")
        simulated = time.perf_counter() - start
    expected = firmware.predict(x)
    differ = int(np.count_nonzero(np.any(rtl != expected, axis=1)))
    return {"rows": rows, "rows_differ": differ, "write_s": round(written, 1),
            "build_and_simulate_s": round(build + simulated, 1), "build_s": round(build, 1),
            "built": built, "simulate_s": round(simulated, 1),
            "nonzero_weights": int(sum(layer.nonzero_weights for layer in firmware.ir.dense_layers()))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--modes", nargs="+", default=["dsp", "da"], choices=["dsp", "da"])
    parser.add_argument("--models", nargs="+", default=[label for label, _, _ in MODELS])
    parser.add_argument("--models-dir", type=Path, default=Path(os.environ.get("FPGA_AWARE_SHARED", ROOT.parent / "shared")) / "models")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "data" / "rtl_shared_mlps.json")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="Verilator build cache ($FPGA_AWARE_RTL_CACHE): a build of the same sources and flags "
                             "is reused (the row says built: false and build_s is the look-up)")
    args = parser.parse_args(argv)
    if args.cache_dir is not None:
        os.environ["FPGA_AWARE_RTL_CACHE"] = str(args.cache_dir)
    import subprocess

    from fpga_aware.rtl.layers import UnsupportedRTLError

    verilator = subprocess.run(["verilator", "--version"], capture_output=True, text=True).stdout.strip()
    results = json.loads(args.json.read_text())["runs"] if args.json.exists() else []
    for label, name, weights in MODELS:
        if label not in args.models:
            continue
        model = load(args.models_dir, name, weights)
        for mode in args.modes:
            try:
                outcome = run_one(model, mode, args.rows)
            except UnsupportedRTLError as err:  # e.g. an accumulator da4ml's graph cannot reproduce
                outcome = {"refused": str(err)}
            row = {"model": label, "multiplier": mode, **outcome, "verilator": verilator}
            results = [r for r in results if (r["model"], r["multiplier"]) != (label, mode)] + [row]
            if "refused" in row:
                print(f"{label:<28} {mode:>4}: refused: {row['refused']}", flush=True)
            else:
                print(f"{label:<28} {mode:>4}: {row['rows_differ']} of {row['rows']} rows differ "
                      f"({row['nonzero_weights']:,} nonzero weights; build + simulation {row['build_and_simulate_s']} s)", flush=True)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                                             "runs": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
