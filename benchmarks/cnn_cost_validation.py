#!/usr/bin/env python
"""The io_stream CNN cost estimate against published hls4ml C-synthesis reports (issue 14
section 2; issue 13's rules: data with its source, errors as they are, validation only).

Reads ``benchmarks/data/published_cnn_reports.json``: the hls4ml-tutorial's SVHN CNN of
part6_cnns.ipynb (50 % pruned, float ``ap_fixed<16,6>`` and QKeras 6-bit, Vivado HLS 2020.1 on
xcu250, io_stream, reuse factor 1, Latency: the reports committed in that repository) and a
QKeras Conv1D encoder committed as an hls4ml 1.0.0 project in Berk-Bilgin/ML-fpga (Vivado HLS
2020.1, xcvu13p, 10 ns), each with commit and path.  It rebuilds each design's architecture in
tf-keras, estimates it with ``fa.estimate(..., tool='vivado', io_type='io_stream')`` at the
report's part and clock, and writes ``benchmarks/data/cnn_cost_validation.json``: per design and
quantity the published value, the estimate and the error, per quantity the median and worst
absolute error, and per layer the published instance against the estimate's layer.
``--markdown`` prints the tables of docs/cost_model.md ("Convolutional models in io_stream
against published reports").

Weights: the trained weights are not published here (the encoder's are a third-party binary not
copied), so every Conv2D and Dense but the SVHN CNN's output layer gets seeded random
``lecun_uniform`` kernels (and biases) with exactly the published sparsity (50 % zeros, tfmot's
final_sparsity; the encoder: none) and the output layer dense random kernels; the
BatchNormalization layers keep Keras' initial statistics (gamma 1, beta 0, mean 0, variance 1).
A trained, L1-regularised model has more small weights than a uniform one, which Vivado HLS
builds from LUTs at reuse factor 1 (docs/cost_model.md, "DSP or LUTs"), so the random rebuild
is expected to over-count DSPs.  Nothing here is fitted: the Vivado HLS profile is the one
calibrated on dense io_parallel designs (benchmarks/hls_calibration.py).

Errors: relative, ``(ours - published) / published``, for every quantity (BRAM_18K, latency
and II too: the CNN's are hundreds of blocks and cycles, not the dense designs' few).

    nice .venv/bin/python benchmarks/cnn_cost_validation.py [--markdown] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

DATA = HERE / "data" / "published_cnn_reports.json"
OUT = HERE / "data" / "cnn_cost_validation.json"
QUANTITIES = ("dsp", "lut", "ff", "bram_18k", "latency", "ii")
SEED = 0
TOOL = "vivado"
#: Per-layer types of a design's hls4ml config that the model-wide precision does not give
#: (the encoder's input is ``ap_int<16>``: its hls4ml_config.yml).
LAYER_CONFIG = {"encoder_qconv1d_28_16": {"input_time_series": {"precision": "ap_int<16>"}}}


def _tool_profile(design: dict) -> str:
    if not design["tool"].lower().startswith("vivado"):
        raise ValueError(f"design {design['id']!r}: tool {design['tool']!r} has no rebuild here (Vivado HLS only)")
    return TOOL


def build_model(design: dict, seed: int = SEED):
    """The design's architecture (its ``model`` fields) in tf-keras with seeded random kernels at
    its sparsity: the tutorial's SVHN CNN (every Conv2D / Dense but ``output_dense`` pruned) or
    the QConv1D encoder (dense kernels, as its trained ones: 1,607 of 1,608 nonzero)."""
    import tensorflow as tf

    model = (_encoder if design["group"].startswith("encoder_") else _svhn)(design, tf.keras.layers)
    _random_kernels(model, float(design["model"].get("pruned") or 0.0), seed)
    return model


def _encoder(design: dict, L):
    """The 1-D QKeras encoder of Berk-Bilgin/ML-fpga's model_1 (its keras_model.h5's layers)."""
    import tensorflow as tf
    from qkeras import QActivation, QConv1D, QDense

    m, q = design["model"], design["model"]["quantization"]
    x = inputs = tf.keras.Input(tuple(m["input_shape"]), name="input_time_series")
    for i, (filters, kernel, stride) in enumerate(m["conv1d"]):
        x = QConv1D(filters, kernel, strides=stride, padding=m["padding"], kernel_quantizer=q["kernel"],
                    bias_quantizer=q["bias"], name=f"q_conv1d_{16 + i}")(x)
        x = QActivation(q["activation"], name=f"q_activation_{20 + i}")(x)
    x = L.Flatten(name="flatten_4")(x)
    x = QDense(m["dense"][0], kernel_quantizer=q["kernel"], bias_quantizer=q["bias"], name="q_dense_4")(x)
    return tf.keras.Model(inputs, QActivation(q["output_activation"], name="q_activation_24")(x), name=design["id"])


def _svhn(design: dict, L):
    """The tutorial's SVHN CNN (part6_cnns.ipynb), float or QKeras."""
    import tensorflow as tf

    m = design["model"]
    quantized = m.get("quantization") is not None
    x = inputs = tf.keras.Input(tuple(m["input_shape"]))
    if quantized:
        from qkeras import QActivation, QConv2DBatchnorm, QDense

        q = m["quantization"]
    for i, f in enumerate(m["filters"]):
        if quantized:
            x = QConv2DBatchnorm(f, tuple(m["kernel_size"]), kernel_quantizer=q["kernel"], bias_quantizer=q["bias"],
                                 use_bias=True, name=f"fused_convbn_{i}")(x)
            x = QActivation(q["activation"], name=f"conv_act_{i}")(x)
        else:
            x = L.Conv2D(f, tuple(m["kernel_size"]), use_bias=False, name=f"conv_{i}")(x)
            x = L.BatchNormalization(name=f"bn_conv_{i}")(x)
            x = L.Activation("relu", name=f"conv_act_{i}")(x)
        x = L.MaxPooling2D((2, 2), name=f"pool_{i}")(x)
    x = L.Flatten()(x)
    for i, n in enumerate(m["dense"]):
        if quantized:
            x = QDense(n, kernel_quantizer=q["kernel"], use_bias=False, name=f"dense_{i}")(x)
        else:
            x = L.Dense(n, use_bias=False, name=f"dense_{i}")(x)
        x = L.BatchNormalization(name=f"bn_dense_{i}")(x)
        x = (QActivation(q["activation"], name=f"dense_act_{i}") if quantized else L.Activation("relu", name=f"dense_act_{i}"))(x)
    x = L.Dense(m["n_classes"], name="output_dense")(x)
    return tf.keras.Model(inputs, L.Activation("softmax", name="output_softmax")(x), name=design["id"])


def _random_kernels(model, sparsity: float, seed: int) -> None:
    """Seeded ``lecun_uniform`` kernels (biases random too, as trained ones are nonzero), exactly
    ``sparsity`` of each kernel zero but the output layer's."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if not layer.weights or "kernel" not in layer.weights[0].name:
            continue
        weights = layer.get_weights()
        kernel = weights[0]
        fan_in = int(np.prod(kernel.shape[:-1]))
        k = rng.uniform(-1.0, 1.0, kernel.shape) * np.sqrt(3.0 / fan_in)  # lecun_uniform
        if layer.name != "output_dense" and sparsity:
            flat = k.reshape(-1)
            zero = rng.permutation(flat.size)[: int(round(sparsity * flat.size))]  # exactly the sparsity
            flat[zero] = 0.0
        weights[0] = k.astype(kernel.dtype)
        if len(weights) > 1 and "bias" in layer.weights[1].name:
            weights[1] = (rng.uniform(-1.0, 1.0, weights[1].shape) * np.sqrt(3.0 / fan_in)).astype(weights[1].dtype)
        layer.set_weights(weights)


def estimate(design: dict, model=None):
    import fpga_aware as fa

    model = model if model is not None else build_model(design)
    return fa.estimate(model, design["part"], tool=_tool_profile(design), io_type=design["io_type"],
                       precision=design["precision"]["default"], reuse_factor=design["reuse_factor"],
                       strategy=design["strategy"].lower(), clock_period=float(design["clock_period_ns"]),
                       layer_config=LAYER_CONFIG.get(design["group"]))


def _ours(report, q: str) -> int:
    return {"latency": report.latency_cycles, "ii": report.ii}.get(q, getattr(report, q, None))


def _published(design: dict, q: str):
    if q == "latency":
        return design["latency_min"]
    if q == "ii":
        return design["ii_min"]
    return design.get(q)


def error(ours: float, published: float) -> float:
    return (ours - published) / published


def evaluate(designs: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    """Rows per design and quantity, per layer (the published Instance table's DSP/LUT/FF
    against the estimate's layer of the same name), and the designs fpga_aware refuses (with
    its message: e.g. a layer kind its io_stream has no process for)."""
    from fpga_aware.core.streams import UnsupportedStreamError

    rows, layers, refused = [], [], []
    for d in designs:
        try:
            report = estimate(d)
        except UnsupportedStreamError as e:
            refused.append({"design": d["id"], "error": type(e).__name__, "message": str(e)})
            continue
        for q in QUANTITIES:
            pub = _published(d, q)
            if pub is None:
                continue
            ours = int(_ours(report, q))
            rows.append({"design": d["id"], "tool": f"{d['tool']} {d['tool_version']}", "part": d["part"], "quantity": q,
                         "published": pub, "ours": ours, "error": error(ours, pub)})
        ours_by_name = {c.name: c for c in report.layers}
        order = {c.name: i for i, c in enumerate(report.layers)}
        for name, pub in sorted(d.get("per_layer", {}).items(), key=lambda kv: order.get(kv[0], len(order))):
            c = ours_by_name.get(name)
            layers.append({"design": d["id"], "layer": name, "instance": pub["instance"], "kind": c.kind if c else None,
                           "published": {k: pub[k] for k in ("dsp", "lut", "ff", "bram_18k")},
                           "ours": ({"dsp": c.dsp, "lut": c.lut, "ff": c.ff, "bram_18k": c.bram_18k,
                                     "nonzero_weights": c.nonzero_weights, "n_mult": c.n_mult} if c else None)})
        layers.append({"design": d["id"], "layer": "(stream FIFOs)", "instance": "FIFO row", "kind": "fifo",
                       "published": dict(d["fifo"], dsp=0),
                       "ours": {"lut": sum(c.lut_breakdown.get("fifo", 0) for c in report.layers),
                                "line_buffer_lut": sum(c.lut_breakdown.get("line_buffer", 0) for c in report.layers)}})
    return rows, layers, refused


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for q in QUANTITIES:
        errs = [abs(r["error"]) for r in rows if r["quantity"] == q]
        if errs:
            signed = [r["error"] for r in rows if r["quantity"] == q]
            out.append({"quantity": q, "designs": len(errs), "median_abs_error": statistics.median(errs),
                        "worst_abs_error": max(errs), "signed_range": [min(signed), max(signed)]})
    return out


def load_designs(path: Path = DATA) -> list[dict]:
    return json.loads(path.read_text())["designs"]


def run(path: Path = DATA) -> dict:
    designs = load_designs(path)
    rows, layers, refused = evaluate(designs)
    return {"seed": SEED, "tool_profile": TOOL, "designs": [d["id"] for d in designs],
            "groups": {d["id"]: d["group"] for d in designs}, "rows": rows,
            "summary": summary(rows), "layers": layers, "not_estimated": refused}


# ---------------------------------------------------------------------- output
def _pct(e: float) -> str:
    return f"{100 * e:+.1f} %"


def markdown(result: dict) -> str:
    lines = ["| design | quantity | published | fpga_aware | error |", "|---|---|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['design']} | {r['quantity']} | {r['published']:,} | {r['ours']:,} | {_pct(r['error'])} |")
    lines += ["", "| quantity | designs | median abs. error | worst abs. error | signed range |", "|---|---:|---:|---:|---:|"]
    for s in result["summary"]:
        lo, hi = s["signed_range"]
        lines.append(f"| {s['quantity']} | {s['designs']} | {100 * s['median_abs_error']:.1f} % | "
                     f"{100 * s['worst_abs_error']:.1f} % | {_pct(lo)} … {_pct(hi)} |")
    shown, groups = [], {}
    for r in result["rows"]:  # per layer: the first estimated design of each group
        g = result["groups"][r["design"]]
        if g not in groups:
            groups[g] = r["design"]
            shown.append(r["design"])
    for design in shown:
        lines += ["", f"Per layer, {design} (published: the report's Instance table; fpga_aware: its layer of the same "
                  "name, nonzero weights of a product in brackets):", "",
                  "| layer | kind | DSP published / ours | LUT published / ours | FF published / ours |",
                  "|---|---|---:|---:|---:|"]
        for r in result["layers"]:
            o, pub = r["ours"], r["published"]
            if r["design"] != design or o is None or r["kind"] == "fifo":
                continue
            nz = f" ({o['nonzero_weights']:,})" if o.get("nonzero_weights") else ""
            lines.append(f"| {r['layer']} | {r['kind']} | {pub['dsp']:,} / {o['dsp']:,}{nz} | {pub['lut']:,} / {o['lut']:,} | "
                         f"{pub['ff']:,} / {o['ff']:,} |")
        for r in result["layers"]:
            if r["design"] == design and r["kind"] == "fifo":
                pub, o = r["published"], r["ours"]
                lines.append(f"| stream FIFOs (report's FIFO row) | fifo | — | {pub['lut']:,} / {o['lut']:,} | "
                             f"{pub['ff']:,} / — |")
    if result["not_estimated"]:
        lines += ["", "Not estimated (fpga_aware refuses the model in io_stream):", ""]
        lines += [f"* {r['design']}: `{r['error']}`: {r['message']}" for r in result["not_estimated"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--markdown", action="store_true", help="print the docs/cost_model.md tables")
    ap.add_argument("--json", type=Path, default=OUT, help=f"where to write the results (default {OUT})")
    args = ap.parse_args(argv)
    result = run()
    args.json.write_text(json.dumps(result, indent=1) + "\n")
    if args.markdown:
        sys.stdout.write(markdown(result) + "\n")
    else:
        for s in result["summary"]:
            sys.stdout.write(f"{s['quantity']:9s} n={s['designs']} median {s['median_abs_error']:.3f} "
                             f"worst {s['worst_abs_error']:.3f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
