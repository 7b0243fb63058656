"""Constant products two ways in the Verilog backend, measured with Yosys: ``multiplier='dsp'``
(a ``*`` per nonzero weight, zero weights skipped) and ``multiplier='da'`` (da4ml's
multiplier-free shift-and-add graph, :mod:`fpga_aware.rtl.da`).

Designs: the jet tagger's first layer (16 x 64, ap_fixed<16,6>, the weights of
../shared/models/KERAS_3layer*.h5, dense and 70 % pruned) and four smaller random layers; each
fully parallel, synthesized alone (``fpga_aware.rtl.yosys.synthesize``, synth_xilinx for the
default part's family).  Prints LUT, FF, DSP, CARRY and seconds per mode and the ratios
LUT(da) / LUT(dsp) and LUT gained per DSP saved; ``--json`` writes the rows
(benchmarks/data/multiplier_modes.json).

    .venv/bin/python benchmarks/multiplier_modes.py --json benchmarks/data/multiplier_modes.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fpga_aware.core.config import FirmwareConfig  # noqa: E402
from fpga_aware.core.fixed import parse_precision as P  # noqa: E402
from fpga_aware.core.ir import DenseLayer, InputLayer, ModelIR, Strategy  # noqa: E402
from fpga_aware.rtl.da import MULTIPLIERS  # noqa: E402
from fpga_aware.rtl.layers import RTLOptions  # noqa: E402
from fpga_aware.rtl.writer import write_verilog  # noqa: E402
from fpga_aware.rtl.yosys import synthesize, yosys_version  # noqa: E402

SHARED = Path(os.environ.get("FPGA_AWARE_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "models"
#: (n_in, n_out, sparsity): random layers, ap_fixed<8,3> inputs, ap_fixed<8,1> weights, ap_fixed<24,10> sums
SMALL = [(16, 16, 0.0), (32, 16, 0.5), (64, 8, 0.0), (32, 32, 0.7)]


def alone(layer: DenseLayer) -> ModelIR:
    t = layer.input_type
    return ModelIR("layer", [InputLayer(name="input", cname="input", n_in=layer.n_in, n_out=layer.n_in, input_type=t,
                                        result_type=t, shape=(layer.n_in,)), layer])


def jet_fc1(weights: str) -> DenseLayer:
    import tensorflow as tf

    import fpga_aware as fa

    model = tf.keras.models.model_from_json((SHARED / "KERAS_3layer.json").read_text())
    model.load_weights(str(SHARED / f"{weights}.h5"))
    firmware = fa.to_firmware(model, strategy="latency", reuse_factor=1)
    return firmware.ir.dense_layers()[0]


def small_layer(n_in: int, n_out: int, sparsity: float, seed: int = 0) -> DenseLayer:
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<8,3>")
    w = rng.integers(-127, 128, (n_in, n_out))
    w = np.where(w == 0, 1, w) * (rng.random((n_in, n_out)) >= sparsity)
    return DenseLayer(name="fc", cname="fc", n_in=n_in, n_out=n_out, input_type=t, result_type=t,
                      weight_type=P("ap_fixed<8,1>"), bias_type=t, accum_type=P("ap_fixed<24,10>"),
                      weights=w.astype(np.int64), bias=rng.integers(-127, 128, n_out).astype(np.int64),
                      reuse_factor=1, strategy=Strategy.LATENCY)


def measure(name: str, layer: DenseLayer) -> dict:
    row = {"design": name, "n_in": layer.n_in, "n_out": layer.n_out, "nnz": int(layer.nonzero_weights),
           "input_type": layer.input_type.cpp(), "weight_type": layer.weight_type.cpp(),
           "accum_type": layer.accum_type.cpp(), "yosys": {}}
    for mode in MULTIPLIERS:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            path = write_verilog(alone(layer), FirmwareConfig(project_name="layer"), Path(tmp) / "p",
                                 options=RTLOptions(multiplier=mode, pipeline="layer"))
            render = time.perf_counter() - start
            report = synthesize(path)
            adders = None
            if mode == "da":
                text = next((path / "rtl").glob("fa_*.v")).read_text()  # the layer's module
                adders = int(text.split("adder graph (")[1].split(" adders")[0])
        row["family"] = report.family
        row["yosys"][mode] = {"lut": report.lut, "ff": report.ff, "dsp": report.dsp, "carry": report.carry,
                              "muxf": report.muxf, "synth_seconds": round(report.seconds, 1),
                              "render_seconds": round(render, 1), **({"adders": adders} if adders else {})}
    d, a = row["yosys"]["dsp"], row["yosys"]["da"]
    row["lut_ratio_da_over_dsp"] = round(a["lut"] / max(1, d["lut"]), 3)
    row["extra_lut_per_dsp_saved"] = round((a["lut"] - d["lut"]) / d["dsp"], 1) if d["dsp"] else None
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    parser.add_argument("--small-only", action="store_true", help="skip the jet tagger (no TensorFlow)")
    args = parser.parse_args(argv)
    designs = []
    if not args.small_only:
        for weights, label in (("KERAS_3layer_weights", "jet fc1 dense"),
                               ("KERAS_3layer_70pruned_retrained_weights", "jet fc1 70% pruned")):
            designs.append((label, jet_fc1(weights)))
    for n_in, n_out, sparsity in SMALL:
        designs.append((f"{n_in}x{n_out} s{sparsity:.1f} 8-bit", small_layer(n_in, n_out, sparsity)))
    print(f"{'design':<22} {'nnz':>5} | {'dsp: LUT':>9} {'FF':>5} {'DSP':>4} {'CARRY':>6} {'s':>5} | "
          f"{'da: LUT':>8} {'FF':>5} {'DSP':>4} {'CARRY':>6} {'s':>5} | {'LUT da/dsp':>10} {'+LUT/DSP':>8}")
    rows = []
    for name, layer in designs:
        row = measure(name, layer)
        rows.append(row)
        d, a = row["yosys"]["dsp"], row["yosys"]["da"]
        per = row["extra_lut_per_dsp_saved"]
        print(f"{name:<22} {row['nnz']:>5} | {d['lut']:>9,} {d['ff']:>5} {d['dsp']:>4} {d['carry']:>6} "
              f"{d['synth_seconds']:>5} | {a['lut']:>8,} {a['ff']:>5} {a['dsp']:>4} {a['carry']:>6} "
              f"{a['synth_seconds']:>5} | {row['lut_ratio_da_over_dsp']:>10} {per if per is not None else '-':>8}",
              flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"yosys_version": yosys_version(), "designs": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
