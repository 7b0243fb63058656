"""Verilator simulation of the Verilog backend's convolutional kinds against the emulator on the
shared CNNs (the suite checks tiny seeded CNNs: tests/test_rtl_conv.py); minutes per model, its
counts committed as data (``benchmarks/data/rtl_shared_cnns.json``).

Each model is converted with the defaults (``ap_fixed<16,6>``, Latency strategy, reuse factor 1),
its output softmax kept, written with ``RTLOptions(multiplier=mode)`` (io_parallel: the
per-pixel product instantiated per output pixel), built by Verilator and simulated on the same
rows as the emulator: standard-normal rows, a tenth of them times 40 (saturation).  The outputs
are fixed-point values, compared exactly.

    .venv/bin/python benchmarks/rtl_shared_cnns.py [--rows 500] [--modes dsp da] [--models NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

from rtl_shared_mlps import load  # noqa: E402

#: The shared CNNs small enough for a fully parallel Verilator build (products per inference:
#: KERAS_conv1d_small 875, KERAS_conv2d_model 2,429; jetTagger_Conv2D_Small_NoBatchNorm 10,420 and
#: qkeras_mnist_cnn 359,023 are not run).
MODELS = ["KERAS_conv1d_small", "KERAS_conv2d_model"]


def products(firmware) -> int:
    """Constant products of one inference: nonzero weights, a conv's once per output pixel."""
    total = 0
    for layer in firmware.ir.layers[1:]:
        if layer.kind == "conv":
            total += layer.n_pixels * int(np.count_nonzero(layer.product.weights))
        elif layer.kind == "dense":
            total += int(np.count_nonzero(layer.weights))
    return total


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
        rtl = firmware.predict(x, engine="rtl")
        simulated = time.perf_counter() - start
    expected = firmware.predict(x)
    differ = int(np.count_nonzero(np.any(rtl != expected, axis=1)))
    return {"rows": rows, "rows_differ": differ, "distinct_outputs": int(np.unique(expected).size),
            "write_s": round(written, 1), "build_and_simulate_s": round(simulated, 1),
            "kinds": [layer.kind for layer in firmware.ir.layers[1:]], "products": products(firmware)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--modes", nargs="+", default=["dsp"], choices=["dsp", "da"])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--models-dir", type=Path, default=Path(os.environ.get("FPGA_AWARE_SHARED", ROOT.parent / "shared")) / "models")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "data" / "rtl_shared_cnns.json")
    args = parser.parse_args(argv)
    from fpga_aware.rtl.layers import UnsupportedRTLError

    verilator = subprocess.run(["verilator", "--version"], capture_output=True, text=True).stdout.strip()
    results = json.loads(args.json.read_text())["runs"] if args.json.exists() else []
    for name in args.models:
        model = load(args.models_dir, name, None)
        for mode in args.modes:
            try:
                outcome = run_one(model, mode, args.rows)
            except UnsupportedRTLError as err:
                outcome = {"refused": str(err)}
            row = {"model": name, "multiplier": mode, **outcome, "verilator": verilator,
                   "load_average": round(os.getloadavg()[0], 1)}
            results = [r for r in results if (r["model"], r["multiplier"]) != (name, mode)] + [row]
            if "refused" in row:
                print(f"{name:<36} {mode:>4}: refused: {row['refused']}", flush=True)
            else:
                print(f"{name:<36} {mode:>4}: {row['rows_differ']} of {row['rows']} rows differ ({row['products']:,} "
                      f"products; build + simulation {row['build_and_simulate_s']} s)", flush=True)
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"machine": platform.machine(), "cpus": os.cpu_count(),
                                             "runs": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
