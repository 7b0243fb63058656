"""How should the lanes of a multi-cycle dense layer get their inputs?  Measured with Yosys.

Issue 11 asks for a static per-cycle input choice, "an R:1 mux of constant-indexed wires, or
shared input buses in the style of hls4ml's regular pattern -- pick by measured cost".  The
Verilog backend renders three (``fpga_aware.rtl.layers.RTLOptions.input_select``):

- ``lane``: one multiplexer per lane over the inputs it multiplies, indexed by the cycle;
- ``bus``: one multiplexer per distinct input sequence (``DenseSchedule.input_buses``), shared by
  the lanes with that sequence (in a dense lane-major layer, lanes starting at the same input);
- ``rotate``: a copy of the input that rotates by one element per cycle, so that a dense lane
  reads one fixed position (no multiplexer), at the price of a shifting register of the input.

For each design (one dense layer, random weights, ``ap_fixed<8,3>`` data, 8-bit weights) every
rendering is synthesized with ``synth_xilinx -family xcup`` and the LUT/FF/MUXF/CARRY/DSP counts
are written to ``benchmarks/data/input_select.json`` with the Yosys version.  Every rendering
computes the same (tests/test_rtl.py::test_every_input_selection_is_bit_exact).

    .venv/bin/python benchmarks/input_select.py [--json benchmarks/data/input_select.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import parse_precision as P
from fpga_aware.core.ir import DenseLayer, InputLayer, ModelIR, Strategy
from fpga_aware.rtl.layers import INPUT_SELECTS, RTLOptions
from fpga_aware.rtl.writer import write_verilog
from fpga_aware.rtl.yosys import synthesize, yosys_version

#: (n_in, n_out, sparsity, reuse factor)
DESIGNS = [
    (16, 16, 0.0, 2), (16, 16, 0.0, 4), (16, 16, 0.7, 4), (16, 32, 0.0, 3), (16, 32, 0.9, 3),
    (32, 16, 0.0, 8), (32, 16, 0.7, 8), (64, 8, 0.0, 16), (64, 8, 0.5, 16), (64, 16, 0.7, 32),
    (128, 4, 0.0, 32), (128, 8, 0.8, 64),
]


def layer_ir(n_in: int, n_out: int, sparsity: float, reuse: int, seed: int = 0) -> ModelIR:
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<8,3>")
    w = rng.integers(-127, 128, (n_in, n_out))
    w = np.where(w == 0, 1, w) * (rng.random((n_in, n_out)) >= sparsity)
    return ModelIR("layer", [
        InputLayer(name="input", cname="input", n_in=n_in, n_out=n_in, input_type=t, result_type=t, shape=(n_in,)),
        DenseLayer(name="fc", cname="fc", n_in=n_in, n_out=n_out, input_type=t, result_type=t,
                   weight_type=P("ap_fixed<8,1>"), bias_type=t, accum_type=P("ap_fixed<24,10>"),
                   weights=w.astype(np.int64), bias=np.zeros(n_out, np.int64), reuse_factor=reuse,
                   strategy=Strategy.RESOURCE),
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'design':<22} {'lanes':>5} {'buses':>5} " + " ".join(f"{s + ' LUT/FF':>16}" for s in INPUT_SELECTS))
    for n_in, n_out, sparsity, reuse in DESIGNS:
        ir = layer_ir(n_in, n_out, sparsity, reuse)
        sched = ir.dense_layers()[0].schedule
        name = f"{n_in}x{n_out} s{sparsity:.1f} RF{reuse}"
        row = {"design": name, "n_in": n_in, "n_out": n_out, "sparsity": sparsity, "reuse_factor": reuse,
               "lanes": sched.n_lanes, "buses": len(sched.input_buses()[1]), "cycles": sched.n_cycles,
               "nnz": sched.n_terms, "mean_lane_mux_inputs": float(sched.mux_inputs().mean()), "yosys": {}}
        for select in INPUT_SELECTS:
            with tempfile.TemporaryDirectory() as tmp:
                path = write_verilog(ir, FirmwareConfig(project_name="layer"), Path(tmp) / "p",
                                     options=RTLOptions(input_select=select, pipeline="layer"))
                report = synthesize(path)
            row["yosys"][select] = {"lut": report.lut, "ff": report.ff, "muxf": report.muxf, "carry": report.carry,
                                    "dsp": report.dsp, "seconds": round(report.seconds, 1)}
        rows.append(row)
        cells = " ".join(f"{row['yosys'][s]['lut']:>8,}/{row['yosys'][s]['ff']:<7,}" for s in INPUT_SELECTS)
        print(f"{name:<22} {row['lanes']:>5} {row['buses']:>5} {cells}", flush=True)
    def cost(row, select):
        return row["yosys"][select]["lut"] + row["yosys"][select]["ff"]

    totals = {s: sum(r["yosys"][s]["lut"] for r in rows) for s in INPUT_SELECTS}
    cheapest = {s: sum(1 for r in rows if cost(r, s) == min(cost(r, t) for t in INPUT_SELECTS)) for s in INPUT_SELECTS}
    print("LUT over all designs:", {s: f"{v:,}" for s, v in totals.items()})
    print("designs where each is cheapest in LUT + FF (ties count for each):", cheapest)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"yosys_version": yosys_version(), "family": "xcup",
                                         "designs": rows, "lut_total": totals,
                                         "cheapest_count": cheapest}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
