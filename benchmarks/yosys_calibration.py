"""Yosys runs of the Verilog backend on many small designs: the data ``estimate(tool='yosys')``
is fitted to and validated on (issue 12, "the cost model learns from it").

Each design is one or two dense layers (with ReLU between and after them) built as a
``ModelIR`` from a seed: layer widths 4-128, sparsity 0-95 %, weight widths 2-16 bits, data
``ap_fixed<W,I>`` of 6-16 bits, reuse factor 1 (fully parallel) or above (lanes), accumulators
exact or narrow.  Every design is written by the Verilog backend and synthesized with
``synth_xilinx -family xcup`` (``fpga_aware.rtl.yosys.synthesize``); the counts are written with
the Yosys version to ``benchmarks/data/yosys_calibration.json``, which ``docs/cost_model.md``'s
Yosys table and ``tests/test_cost_yosys.py`` are made from.  Designs are split once: every
fourth (index % 4 == 3) is held out; the model's constants are fitted on the others only.

    .venv/bin/python benchmarks/yosys_calibration.py [--designs 48] [--json benchmarks/data/yosys_calibration.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import parse_precision as P
from fpga_aware.core.ir import ActivationLayer, DenseLayer, InputLayer, ModelIR, Strategy
from fpga_aware.rtl.layers import RTLOptions

#: designs with index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1 are the validation set
HOLD_OUT_EVERY = 4
#: a design's products are kept below this so that one Yosys run takes seconds, not minutes
MAX_PRODUCTS = 2500


#: The committed runs are of the Verilog as written before pipelining inside layers (one register
#: per layer); the LUT fit is about logic, which the pipeline registers do not change.
RTL_OPTIONS = RTLOptions(pipeline="layer")


def design_parameters(index: int) -> dict:
    """The parameters of design ``index`` (deterministic: a seeded draw per index)."""
    rng = np.random.default_rng(10_000 + index)
    n_layers = int(rng.choice([1, 2], p=[0.6, 0.4]))
    widths = [int(rng.choice([4, 8, 12, 16, 24, 32, 48, 64, 96, 128]))]
    for _ in range(n_layers):
        widths.append(int(rng.choice([4, 8, 16, 32, 64, 128])))
    sparsity = float(rng.choice([0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95]))
    while sum(a * b for a, b in zip(widths, widths[1:])) * (1 - sparsity) > MAX_PRODUCTS:
        k = int(np.argmax(widths))
        widths[k] = max(4, widths[k] // 2)
    data_bits = int(rng.choice([6, 8, 10, 12, 16]))
    weight_bits = int(rng.choice([2, 3, 4, 6, 8, 10, 12, 16]))
    reuse = int(rng.choice([1, 1, 1, 2, 3, 4, 8])) if index % 2 else 1
    accum = str(rng.choice(["exact", "narrow"]))
    return {"index": index, "widths": widths, "sparsity": sparsity, "data_bits": data_bits,
            "weight_bits": weight_bits, "reuse_factor": reuse, "accum": accum}


def design_ir(params: dict) -> ModelIR:
    """The IR of a design (random weights drawn from the design's own seed)."""
    rng = np.random.default_rng(20_000 + params["index"])
    bits, wbits = params["data_bits"], params["weight_bits"]
    t = P(f"ap_fixed<{bits},{max(1, bits // 3)}>")
    relu_t = P(f"ap_ufixed<{bits - 1},{max(1, bits // 3) - 1}>") if bits > 2 else t
    w_t = P(f"ap_fixed<{wbits},1>")
    widths = params["widths"]
    layers: list = [InputLayer(name="input", cname="input", n_in=widths[0], n_out=widths[0], input_type=t,
                               result_type=t, shape=(widths[0],))]
    x_t = t
    for j, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        lo, hi = -(1 << (wbits - 1)), (1 << (wbits - 1)) - 1
        w = rng.integers(lo, hi + 1, (n_in, n_out))
        w = np.where(w == 0, 1, w) * (rng.random((n_in, n_out)) >= params["sparsity"])
        if params["accum"] == "exact":
            grow = int(np.ceil(np.log2(max(2, n_in + 1))))
            acc = P(f"ap_fixed<{x_t.width + wbits + grow + 1},{x_t.width - x_t.frac + 1 + grow + 1}>")
        else:
            acc = P(f"ap_fixed<{bits + 4},{max(1, bits // 3) + 3}>")
        layers.append(DenseLayer(name=f"fc{j}", cname=f"fc{j}", n_in=n_in, n_out=n_out, input_type=x_t,
                                 result_type=t, weight_type=w_t, bias_type=t, accum_type=acc,
                                 weights=w.astype(np.int64), bias=rng.integers(-8, 9, n_out).astype(np.int64),
                                 reuse_factor=params["reuse_factor"],
                                 strategy=Strategy.LATENCY if params["reuse_factor"] == 1 else Strategy.RESOURCE))
        layers.append(ActivationLayer(name=f"relu{j}", cname=f"relu{j}", n_in=n_out, n_out=n_out, input_type=t,
                                      result_type=relu_t, function="relu"))
        x_t = relu_t
    return ModelIR(f"d{params['index']}", layers)


def is_held_out(index: int) -> bool:
    return index % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1


#: ``--multiplier da``: the same designs (those at reuse factor 1: da4ml's graph is fully
#: parallel) in the multiplier-free mode; nothing is fitted to them (every one is a validation design)
DA_OPTIONS = RTLOptions(pipeline="layer", multiplier="da")
DA_JSON = Path(__file__).resolve().parent / "data" / "yosys_calibration_da.json"


def run(n_designs: int, options: RTLOptions = RTL_OPTIONS) -> dict:
    from fpga_aware.rtl.layers import UnsupportedRTLError
    from fpga_aware.rtl.writer import write_verilog
    from fpga_aware.rtl.yosys import synthesize, yosys_version

    rows, skipped = [], []
    for index in range(n_designs):
        params = design_parameters(index)
        if options.multiplier == "da" and params["reuse_factor"] != 1:
            skipped.append({"index": index, "reason": f"reuse factor {params['reuse_factor']}: da is fully parallel"})
            continue
        ir = design_ir(params)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            try:
                path = write_verilog(ir, FirmwareConfig(project_name=ir.project_name), Path(tmp) / "p", options=options)
            except UnsupportedRTLError as exc:  # da: an accumulator that rounds or saturates
                if options.multiplier != "da":
                    raise
                skipped.append({"index": index, "reason": str(exc)})
                print(f"{index:3d} skipped: {exc}", flush=True)
                continue
            write_s = time.perf_counter() - t0
            report = synthesize(path)
        nnz = sum(layer.nonzero_weights for layer in ir.dense_layers())
        row = {**params, "held_out": is_held_out(index) or options.multiplier == "da", "nonzero_weights": nnz,
               "write_seconds": round(write_s, 2), **report.to_dict()}
        rows.append(row)
        print(f"{index:3d} {str(params['widths']):<18} s{params['sparsity']:<4} x{params['data_bits']:<2} "
              f"w{params['weight_bits']:<2} RF{params['reuse_factor']} {params['accum']:<6} nnz {nnz:5d}: "
              f"LUT {report.lut:7,} FF {report.ff:6,} DSP {report.dsp:5,} CARRY {report.carry:5,} "
              f"({report.seconds:.1f} s)", flush=True)
    return {"yosys_version": yosys_version(), "family": "xcup", "rtl_pipeline": options.pipeline,
            "multiplier": options.multiplier, "command": "synth_xilinx -family xcup -flatten -noiopad",
            "hold_out_every": HOLD_OUT_EVERY, "designs": rows, **({"skipped": skipped} if skipped else {})}


def design_features(params: dict, options: RTLOptions = RTL_OPTIONS) -> tuple[int, int, dict[str, float]]:
    """``(dsp, ff, summed LUT features)`` of a design by ``fpga_aware.cost.yosys``."""
    from fpga_aware.cost.yosys import bits_read_by, layer_features, used_outputs

    ir = design_ir(params)
    dsp = ff = 0
    total: dict[str, float] = {}
    body = [layer for layer in ir.layers if not isinstance(layer, InputLayer)]
    constant = None
    for index, (layer, used) in enumerate(zip(body, used_outputs(body)), start=1):
        read = bits_read_by(body[index] if index < len(body) else None)
        d, f, features, constant, _ = layer_features(layer, index, constant, used, options, bits_read=read)
        dsp, ff = dsp + d, ff + f
        for key, value in features.items():
            total[key] = total.get(key, 0.0) + value
    return dsp, ff, total


def fit(data: dict) -> dict[str, float]:
    """Non-negative least squares of LUT on the features, on the fit split only, each design
    weighted by 1 / its LUT count (relative errors)."""
    from scipy.optimize import nnls

    from fpga_aware.cost.yosys import LUT_PER

    keys = list(LUT_PER)
    rows, target = [], []
    for row in data["designs"]:
        if row["held_out"]:
            continue
        _, _, features = design_features(row)
        rows.append([features.get(k, 0.0) / row["lut"] for k in keys])
        target.append(1.0)
    solution, _ = nnls(np.array(rows), np.array(target))
    return {k: round(float(v), 3) for k, v in zip(keys, solution)}


def table(data: dict, coefficients: dict[str, float] | None = None) -> list[dict]:
    """Per design and quantity: Yosys, the estimate and the error."""
    from fpga_aware.cost.yosys import lut_of

    options = DA_OPTIONS if data.get("multiplier") == "da" else RTL_OPTIONS
    out = []
    for row in data["designs"]:
        dsp, ff, features = design_features(row, options)
        estimate = {"dsp": dsp, "ff": ff, "lut": lut_of(features, coefficients)}
        for quantity in ("dsp", "lut", "ff"):
            measured = row[quantity]
            error = (estimate[quantity] - measured) / measured if measured else (0.0 if not estimate[quantity] else float("inf"))
            out.append({"index": row["index"], "held_out": row["held_out"], "quantity": quantity,
                        "yosys": measured, "estimate": estimate[quantity], "error": error,
                        "design": f"{row['widths']} s{row['sparsity']} x{row['data_bits']} w{row['weight_bits']} "
                                  f"RF{row['reuse_factor']} {row['accum']}"})
    return out


def summarize(rows: list[dict]) -> dict:
    summary = {}
    for split in (False, True):
        for quantity in ("dsp", "lut", "ff"):
            errors = [abs(r["error"]) for r in rows if r["held_out"] == split and r["quantity"] == quantity]
            if not errors:
                continue
            summary[("held-out" if split else "fit", quantity)] = (float(np.median(errors)), float(np.max(errors)))
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--designs", type=int, default=48)
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "data" / "yosys_calibration.json")
    parser.add_argument("--fit", action="store_true",
                        help="do not synthesize: fit the LUT coefficients to the committed data and print the table")
    parser.add_argument("--multiplier", choices=("dsp", "da"), default="dsp",
                        help=f"da: synthesize the reuse-factor-1 designs multiplier-free into {DA_JSON.name} "
                             "(validation only; --fit then prints their table with the dsp fit's coefficients)")
    args = parser.parse_args(argv)
    if args.multiplier == "da" and args.json == parser.get_default("json"):
        args.json = DA_JSON
    if args.fit and args.multiplier == "da":
        rows = table(json.loads(args.json.read_text()))
        for r in rows:
            print(f"{r['index']:3d} da {r['design']:<40} {r['quantity']:4} {r['yosys']:8,} {r['estimate']:8,} "
                  f"{100 * r['error']:+7.1f}%")
        for (split, quantity), (median, worst) in summarize(rows).items():
            if split == "held-out":
                print(f"da (all validation) {quantity:4} median {100 * median:5.1f}%  worst {100 * worst:5.1f}%")
        return 0
    if args.fit:
        data = json.loads(args.json.read_text())
        coefficients = fit(data)
        print("LUT_PER =", json.dumps(coefficients, indent=4))
        rows = table(data, coefficients)
        for r in rows:
            print(f"{r['index']:3d} {'held-out' if r['held_out'] else 'fit':8} {r['design']:<40} {r['quantity']:4} "
                  f"{r['yosys']:8,} {r['estimate']:8,} {100 * r['error']:+7.1f}%")
        for (split, quantity), (median, worst) in summarize(rows).items():
            print(f"{split:8} {quantity:4} median {100 * median:5.1f}%  worst {100 * worst:5.1f}%")
        return 0
    start = time.perf_counter()
    data = run(args.designs, DA_OPTIONS if args.multiplier == "da" else RTL_OPTIONS)
    data["total_seconds"] = round(time.perf_counter() - start, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{args.designs} designs in {data['total_seconds']} s; written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
