"""The hls4ml tutorial designs in the Verilog backend: Yosys' counts beside our Yosys estimate
and beside the published Vivado HLS 2019.2 reports of hls4ml's firmware for the same
architecture, precision, sparsity, reuse factor and strategy.

The designs are the calibration designs of ``tests/test_cost.py`` (``calibration_ir``: hls4ml's
types of the time, ap_fixed<16,6> accumulators), their softmax given the tables the frontend
builds (``fpga_aware.core.tables.softmax_tables``, table size 1024): the calibration IR's
placeholder tables are all zero, which Yosys would reduce, with every layer before, to a
constant output.  Each is written by the Verilog backend and
synthesized with ``synth_xilinx -family xcup``; the rows go to
``benchmarks/data/yosys_published.json``.  Yosys maps a different design (plain RTL, one
register per layer) than Vivado HLS (hls4ml's C++, its pipeline): the columns are side by side,
not an error of one against the other.

    .venv/bin/python benchmarks/yosys_published.py [--points rf1 rf2 pruned qkeras]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fpga_aware.core.config import FirmwareConfig  # noqa: E402
from fpga_aware.core.ir import ModelIR  # noqa: E402
from fpga_aware.core.tables import softmax_tables  # noqa: E402
from fpga_aware.cost.yosys import estimate_yosys  # noqa: E402
from fpga_aware.rtl.writer import write_verilog  # noqa: E402
from fpga_aware.rtl.yosys import synthesize  # noqa: E402
from tests.test_cost import PUBLISHED, calibration_ir  # noqa: E402

NAMES = {"rf1": "jet 16-64-32-32-5, <16,6>, RF 1", "rf2": "jet, <16,6>, RF 2",
         "pruned": "jet, 75% pruned, <16,6>, RF 1", "qkeras": "jet, QKeras 6-bit, 75% pruned, RF 1",
         "mnist": "MNIST 784-128-128-128-10, Resource, RF 112/128"}


def with_softmax_tables(ir: ModelIR, table_size: int = 1024) -> ModelIR:
    """``ir`` with the tables of its softmax (the last layer, if any) as the frontend builds them."""
    layers = list(ir.layers)
    last = layers[-1]
    if last.kind == "softmax":
        diff_t, exp_table, sum_t, inv_table = softmax_tables(last.input_type, last.n_in, table_size)
        layers[-1] = dataclasses.replace(last, diff_type=diff_t, exp_table=exp_table, sum_type=sum_t,
                                         inv_table=inv_table)
    return ModelIR(ir.project_name, layers)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", nargs="+", default=["rf1", "rf2", "pruned", "qkeras"], choices=list(NAMES))
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "data" / "yosys_published.json")
    args = parser.parse_args(argv)
    rows = []
    print(f"{'design':<40} {'':>10} {'DSP':>7} {'LUT':>9} {'FF':>8} {'latency':>8}")
    for point in args.points:
        ir = with_softmax_tables(calibration_ir(point))
        config = FirmwareConfig(project_name="jet" if point != "mnist" else "mnist")
        estimate = estimate_yosys(ir, config)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            report = synthesize(write_verilog(ir, config, Path(tmp) / "p"), timeout=args.timeout)
        pub = PUBLISHED[point]
        row = {"point": point, "design": NAMES[point], "yosys": report.to_dict(),
               "estimate": {"dsp": estimate.dsp, "lut": estimate.lut, "ff": estimate.ff,
                            "latency_cycles": estimate.latency_cycles, "ii": estimate.ii},
               "published_vivado_hls_2019_2": pub, "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(f"{NAMES[point]:<40} {'Yosys':>10} {report.dsp:>7,} {report.lut:>9,} {report.ff:>8,} "
              f"{estimate.latency_cycles:>8} ({row['seconds']} s)")
        print(f"{'':<40} {'estimate':>10} {estimate.dsp:>7,} {estimate.lut:>9,} {estimate.ff:>8,}")
        print(f"{'':<40} {'HLS 2019.2':>10} {pub['dsp']:>7,} {pub['lut']:>9,} {pub['ff']:>8,} {str(pub['latency']):>8}",
              flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows}, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
