"""The hls4ml tutorial designs in the Verilog backend: Yosys' counts beside our Yosys estimate
and beside the published Vivado HLS and Vitis HLS reports of hls4ml's firmware for the same
architecture, precision, sparsity, reuse factor and strategy
(``benchmarks/data/published_reports.json``, ids in :data:`PUBLISHED_IDS`).

The designs are rebuilt by :func:`fpga_aware.cost.designs.design_ir` (hls4ml's types of the
time, ap_fixed<16,6> accumulators, the shared jet weights), their softmax given the tables the frontend
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
from fpga_aware.rtl.layers import RTLOptions  # noqa: E402
from fpga_aware.rtl.writer import write_verilog  # noqa: E402

#: The committed runs are of the Verilog as written before pipelining inside layers.
RTL_OPTIONS = RTLOptions(pipeline="layer")
from fpga_aware.rtl.yosys import synthesize  # noqa: E402
from fpga_aware.cost.designs import design_ir  # noqa: E402

JET = [16, 64, 32, 32, 5]
#: The rebuilt designs (QKeras: quantized_bits(6, 0) kernels as ap_fixed<6,1>, ReLUs ap_ufixed<6,0>).
BUILDS = {
    "rf1": {"sizes": JET, "weights": "jet"},
    "rf2": {"sizes": JET, "weights": "jet", "reuse_factor": 2},
    "pruned": {"sizes": JET, "weights": "jet", "sparsity": 0.75},
    "qkeras": {"sizes": JET, "weights": "jet", "sparsity": 0.75, "weight_precision": "ap_fixed<6,1>",
               "relu_precision": "ap_ufixed<6,0>", "quantized_frac": 5},
    "mnist": {"sizes": [784, 128, 128, 128, 10], "weights": "random", "strategy": "resource",
              "reuse_factor": [112, 128, 128, 128], "seed": 0},
}
#: The published reports of the same configurations (Vivado HLS, Vitis HLS 2024.1).
PUBLISHED_IDS = {
    "rf1": ("tut20_u250_v192_rf1", "tut24_u250_vitis241_rf1"),
    "rf2": ("tut20_u250_v192_rf2", "tut24_u250_vitis241_rf2"),
    "pruned": ("tut21_zu3eg_v192_pruned75", "tut24_u250_vitis241_pruned75"),
    "qkeras": ("tut21_zu3eg_v192_qkeras6_pruned75", "tut24_u250_vitis241_qkeras6_pruned75"),
    "mnist": ("slides_mnist_ku115_resource",),
}
MODELS = ROOT.parent / "shared" / "models"


def published(point: str) -> dict:
    """``{id: {tool, dsp, lut, ff, latency}}`` of the point's published reports."""
    reports = {d["id"]: d for d in json.loads((ROOT / "benchmarks" / "data" / "published_reports.json")
                                               .read_text())["designs"]}
    return {i: {"tool": f"{reports[i]['tool']} {reports[i]['tool_version'] or ''}".strip(),
                **{k: reports[i][k] for k in ("dsp", "lut", "ff", "latency_min", "latency_max")}}
            for i in PUBLISHED_IDS[point]}


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


def estimate_row(point: str) -> dict:
    """The Yosys estimate of a point as the committed rows hold it."""
    ir = with_softmax_tables(design_ir(BUILDS[point], MODELS))
    estimate = estimate_yosys(ir, FirmwareConfig(project_name="jet" if point != "mnist" else "mnist"), options=RTL_OPTIONS)
    return {"dsp": estimate.dsp, "lut": estimate.lut, "ff": estimate.ff,
            "latency_cycles": estimate.latency_cycles, "ii": estimate.ii}


def refresh_estimates(path: Path) -> int:
    """Recompute the estimates of the committed Yosys rows in ``path`` (the Yosys runs stay)."""
    data = json.loads(path.read_text())
    for row in data["rows"]:
        row["estimate"] = estimate_row(row["point"])
        y, e = row["yosys"], row["estimate"]
        print(f"{row['design']:<40} Yosys {y['dsp']:>6,} {y['lut']:>8,} {y['ff']:>7,}   estimate {e['dsp']:>6,} "
              f"{e['lut']:>8,} {e['ff']:>7,}   LUT {100 * (e['lut'] - y['lut']) / y['lut']:+.1f} %")
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", nargs="+", default=["rf1", "rf2", "pruned", "qkeras"], choices=list(NAMES))
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "data" / "yosys_published.json")
    parser.add_argument("--estimate-only", action="store_true",
                        help="do not synthesize: recompute the estimates of the committed rows (after a change of the model)")
    args = parser.parse_args(argv)
    if args.estimate_only:
        return refresh_estimates(args.json)
    rows = []
    print(f"{'design':<40} {'':>10} {'DSP':>7} {'LUT':>9} {'FF':>8} {'latency':>8}")
    for point in args.points:
        ir = with_softmax_tables(design_ir(BUILDS[point], MODELS))
        config = FirmwareConfig(project_name="jet" if point != "mnist" else "mnist")
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            report = synthesize(write_verilog(ir, config, Path(tmp) / "p", options=RTL_OPTIONS), timeout=args.timeout)
        pubs = published(point)
        row = {"point": point, "design": NAMES[point], "yosys": report.to_dict(),
               "estimate": estimate_row(point),
               "published": pubs, "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(f"{NAMES[point]:<40} {'Yosys':>10} {report.dsp:>7,} {report.lut:>9,} {report.ff:>8,} "
              f"{row['estimate']['latency_cycles']:>8} ({row['seconds']} s)")
        e = row["estimate"]
        print(f"{'':<40} {'estimate':>10} {e['dsp']:>7,} {e['lut']:>9,} {e['ff']:>8,}")
        for pid, pub in pubs.items():
            print(f"{'':<40} {pub['tool']:>10} {pub['dsp']:>7,} {pub['lut']:>9,} {pub['ff']:>8,} "
                  f"{pub['latency_max']:>8}  ({pid})", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"rows": rows}, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
