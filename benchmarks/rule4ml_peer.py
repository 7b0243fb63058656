"""rule4ml 0.2.0 (a peer surrogate cost estimator) on the published designs we evaluate on.

Predicts DSP, LUT, FF, BRAM_18K, latency (cycles) and interval with rule4ml's default GNN
estimators for every published design that ``benchmarks/hls_calibration.py`` rebuilds (the same
selection as ``hls_calibration.build_of``, re-implemented below from
``benchmarks/data/published_reports.json``) and writes ``benchmarks/data/rule4ml_peer.json``.

Run it in rule4ml's own virtual environment (it does not import fpga_aware)::

    python3 -m venv .venv-rule4ml && .venv-rule4ml/bin/pip install rule4ml==0.2.0
    .venv-rule4ml/bin/python benchmarks/rule4ml_peer.py

The install pulls TensorFlow 2.21, Keras 3, torch 2.14 (with its CUDA wheels) and
torch-geometric: about 7.8 GB, about two minutes with a warm pip cache (the environment we ran
in, ``/work/rule4ml_venv``, Python 3.11.7). A run takes well under a minute on two CPU cores,
most of it imports and loading the six estimators.

Known quirk: torch, torch._dynamo and torch_geometric must be imported *before* keras /
tensorflow, else the process segfaults (rule4ml imports both).

What rule4ml sees (read from its source, rule4ml/parsers/network_parser.py and data_parser.py):

* the layer shapes, parameter counts (zeros included) and per-layer reuse factors
  (``hls_config["layer_name"][name]["reuse_factor"]``, snapped to a valid hls4ml RF), the
  strategy, the board, the hls4ml and Vivado/Vitis versions, and of the precision only the
  model-level total bit width (``bit_width``; no per-layer precision, no integer bits);
* not the weights: a pruned model predicts exactly what its unpruned twin does, and QKeras
  quantizers are invisible (a QKeras 6-bit design at model precision ap_fixed<16,6> predicts
  what the 16-bit float-trained one does);
* not the clock period (not a feature of the v2 estimators) nor the part: it predicts a
  percentage of one of four boards and multiplies by that board's resources.

The public API (``MultiModelWrapper.predict``) batches only over the Cartesian product of models
x configurations x versions; our designs each have their own board/RF/version, so each is
predicted in its own call (which also gives a per-design wall time).
"""

from __future__ import annotations

import os

# Keep CPU use modest (shared machine); must be set before torch/TF are imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import time  # noqa: E402
from importlib.metadata import version as _pkg_version  # noqa: E402
from pathlib import Path  # noqa: E402

T_START = time.time()

# Order matters: torch (+ _dynamo, torch_geometric) before keras/tensorflow, else segfault.
import torch  # noqa: E402
import torch._dynamo  # noqa: E402,F401
import torch_geometric  # noqa: E402,F401

torch.set_num_threads(1)

import keras  # noqa: E402
from keras.layers import Dense, Input  # noqa: E402

from rule4ml.models.wrappers import MultiModelWrapper  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "published_reports.json"
OUT = HERE / "data" / "rule4ml_peer.json"

JET = [16, 64, 32, 32, 5]
MNIST = [784, 128, 128, 128, 10]
#: MNIST (slides_mnist_ku115_resource): dense1 ReuseFactor 112, the other layers 128, as
#: hls_calibration.build_of builds it.
MNIST_RF = [112, 128, 128, 128]

#: rule4ml's training space (v2 default estimators' categorical maps).
R4_BOARDS = ("pynq-z2", "zcu102", "alveo-u200", "alveo-u250")
R4_VIVADO = ("2019.1", "2019.2", "2020.1", "2020.2", "2021.1", "2021.2", "2022.1", "2022.2",
             "2023.1", "2023.2", "2024.1", "2024.2")

#: Part -> nearest rule4ml board.
BOARD_RULES = [
    ("xcu250", "alveo-u250", "same part (Alveo U250, xcu250-figd2104-2L-e)"),
    ("xcu200", "alveo-u200", "same part (Alveo U200)"),
    ("xc7z020", "pynq-z2", "same part (PYNQ-Z2, xc7z020-clg400-1)"),
    ("xczu", "zcu102", "Zynq UltraScale+ MPSoC (xczu3eg Ultra96, xczu7ev ZCU106) -> ZCU102 (xczu9eg), "
                       "the only Zynq US+ board rule4ml knows"),
    ("xcku115", "alveo-u200",
     "Kintex UltraScale KU115 (5,520 DSP, 663k LUT, 1.33M FF, 4,320 BRAM_18K) -> Alveo U200 "
     "(6,840 DSP, 1.18M LUT, 2.36M FF, 4,320 BRAM_18K): same BRAM_18K count and the nearest DSP "
     "count; ZCU102 (2,520 DSP, 274k LUT, 1,824 BRAM_18K) is 2-2.4x smaller, and the only KU115 "
     "design (MNIST: 1,162 DSP, 222k LUT, 1,962 BRAM_18K) would exceed its BRAM. rule4ml predicts a "
     "percentage of the board, so the board's size matters. See 'sensitivity' for zcu102"),
]


def selected(design: dict) -> bool:
    """Mirrors benchmarks/hls_calibration.build_of: a design is rebuilt (and so evaluated)
    iff it is not a reference-only design, is io_parallel, and is a jet tagger (group jet_*)
    or the MNIST MLP (group mnist_mlp)."""
    if design["split"] == "reference":
        return False
    if design.get("io_type") != "io_parallel":
        return False
    return design["group"].startswith("jet_") or design["group"] == "mnist_mlp"


def board_of(part: str) -> str:
    for prefix, board, _ in BOARD_RULES:
        if part.lower().startswith(prefix):
            return board
    raise ValueError(f"no rule4ml board for part {part!r}")


def vivado_version_of(design: dict) -> str:
    """Tool version clamped into rule4ml's range; 'not printed' -> 2019.1 (the DSE scan's
    probable version, published_reports.md)."""
    v = design.get("tool_version")
    if v is None:
        return R4_VIVADO[0]
    key = tuple(int(x) for x in v.split("."))
    lo, hi = (tuple(int(x) for x in s.split(".")) for s in (R4_VIVADO[0], R4_VIVADO[-1]))
    if key < lo:
        return R4_VIVADO[0]
    if key > hi:
        return R4_VIVADO[-1]
    if v not in R4_VIVADO:
        raise ValueError(f"tool version {v!r} not in rule4ml's range {R4_VIVADO}")
    return v


def hls4ml_version_of(design: dict) -> str:
    """0.8.1 for the Vivado-HLS-era designs, 1.1.0 for the Vitis HLS (2024) ones."""
    return "1.1.0" if design["tool"].lower().startswith("vitis") else "0.8.1"


def precision_of(design: dict) -> str:
    """Model-level precision as 'ap_fixed<W, I>' (the Vitis runs print 'fixed<16,6>')."""
    p = design["precision"]["default"].replace(" ", "")
    if not p.startswith("ap_"):
        p = "ap_" + p
    w, i = p[p.index("<") + 1:p.index(">")].split(",")
    return f"ap_fixed<{w}, {i}>"


def keras_model(sizes: list[int], name: str) -> keras.Model:
    inp = Input(shape=(sizes[0],))
    x = inp
    for k, n in enumerate(sizes[1:], start=1):
        last = k == len(sizes) - 1
        x = Dense(n, activation="softmax" if last else "relu", name=f"fc{k}")(x)
    m = keras.Model(inp, x, name=name)
    m.build((None, sizes[0]))
    return m


def hls_config_of(design: dict, board: str, precision: str | None = None) -> tuple[str, dict]:
    """(architecture key, rule4ml hls_config) for a selected design."""
    cfg = {"board": board,
           "model": {"strategy": design["strategy"].lower(),
                     "precision": precision or precision_of(design),
                     "reuse_factor": int(design["reuse_factor"])}}
    if design["group"] == "mnist_mlp":
        cfg["layer_name"] = {f"fc{k}": {"reuse_factor": rf} for k, rf in enumerate(MNIST_RF, start=1)}
        return "mnist", cfg
    return "jet", cfg


def row_values(df) -> dict:
    r = df.iloc[0]

    def num(col):
        v = float(r[col])
        return round(v, 2)

    return {"dsp": num("DSP"), "lut": num("LUT"), "ff": num("FF"), "bram_18k": num("BRAM"),
            "latency": num("CYCLES"), "interval": num("INTERVAL")}


def predict_one(est, models, design, board, hls4ml_v, vivado_v, precision=None):
    arch, cfg = hls_config_of(design, board, precision)
    t0 = time.perf_counter()
    df = est.predict(models[arch], hls_configs=cfg, hls4ml_versions=hls4ml_v, vivado_versions=vivado_v)
    dt = time.perf_counter() - t0
    assert len(df) == 1, df
    return cfg, row_values(df), dt


def main() -> None:
    t_imports = time.time() - T_START
    designs = [d for d in json.loads(DATA.read_text())["designs"] if selected(d)]

    t0 = time.perf_counter()
    est = MultiModelWrapper()
    est.load_default_models()
    t_load = time.perf_counter() - t0
    models = {"jet": keras_model(JET, "jet_tagger"), "mnist": keras_model(MNIST, "mnist_mlp")}

    predictions = []
    for d in designs:
        board, hv, vv = board_of(d["part"]), hls4ml_version_of(d), vivado_version_of(d)
        cfg, vals, dt = predict_one(est, models, d, board, hv, vv)
        predictions.append({
            "design": d["id"], "board": board, "hls4ml_version": hv, "vivado_version": vv,
            **vals, "seconds": round(dt, 3), "hls_config": cfg,
            "published": {"tool": f"{d['tool']} {d.get('tool_version') or '(version not printed)'}",
                          "part": d["part"], **{k: d.get(k) for k in
                                                ("dsp", "lut", "ff", "bram_18k", "latency_min",
                                                 "latency_max", "ii_min", "ii_max")}},
        })
        print(f"{d['id']:38s} {board:10s} {hv} {vv}  DSP {vals['dsp']:9.1f}  LUT {vals['lut']:10.1f}  "
              f"FF {vals['ff']:10.1f}  BRAM {vals['bram_18k']:7.1f}  lat {vals['latency']:7.1f}  "
              f"II {vals['interval']:6.1f}  ({dt:.2f} s)", flush=True)

    # Sensitivity (not part of the benchmark): the KU115 board choice, hls4ml 1.1.0 instead of
    # 0.8.1 for the Vivado HLS designs (rule4ml's latency depends mostly on it), and what a
    # model-wide 7-bit precision would do for the QKeras designs (no per-layer types in rule4ml).
    sensitivity = []
    for d in designs:
        board, hv, vv = board_of(d["part"]), hls4ml_version_of(d), vivado_version_of(d)
        alts = []
        if d["part"].lower().startswith("xcku115"):
            alts.append(("board zcu102 instead of alveo-u200", "zcu102", hv, None))
        if hv == "0.8.1":
            alts.append(("hls4ml 1.1.0 instead of 0.8.1", board, "1.1.0", None))
        if "qkeras" in d["group"]:
            alts.append(("model-wide ap_fixed<7, 1> (QKeras weight type) instead of <16, 6>",
                         board, hv, "ap_fixed<7, 1>"))
        for what, b, h, prec in alts:
            cfg, vals, dt = predict_one(est, models, d, b, h, vv, prec)
            sensitivity.append({"design": d["id"], "variant": what, "board": b, "hls4ml_version": h,
                                "vivado_version": vv, **vals, "seconds": round(dt, 3), "hls_config": cfg})

    total = time.time() - T_START
    out = {
        "rule4ml_version": _pkg_version("rule4ml"),
        "environment": {k: _pkg_version(k) for k in ("keras", "tensorflow", "torch", "torch-geometric")},
        "estimators": "MultiModelWrapper.load_default_models(): rule4ml/models/weights/v2/gnn "
                      "(TorchGNN: BRAM, DSP, FF, LUT, CYCLES, INTERVAL)",
        "settings": {
            "selection": "mirrors benchmarks/hls_calibration.build_of: split != 'reference', "
                         "io_type == 'io_parallel', group startswith 'jet_' or == 'mnist_mlp' "
                         f"({len(designs)} designs)",
            "models": {"jet": "Keras 3 functional 16-64-32-32-5, Dense+ReLU x3, Dense(5)+softmax "
                              "(every jet_* design: unpruned, 75 % pruned and QKeras 6-bit alike)",
                       "mnist": "784-128-128-128-10, Dense+ReLU x3, Dense(10)+softmax, per-layer RF "
                                "112/128/128/128 (layer_name overrides), strategy resource"},
            "board": {prefix + "*": {"board": board, "why": why} for prefix, board, why in BOARD_RULES},
            "vivado_version": "tool_version clamped into 2019.1..2024.2: Vivado HLS 2018.2 -> 2019.1, "
                              "'version not printed' (ZCU106 DSE scan, MNIST slide) -> 2019.1, "
                              "2019.1/2019.2 as is, Vitis HLS 2024.1 -> 2024.1",
            "hls4ml_version": "0.8.1 for Vivado HLS designs (the oldest rule4ml knows; the designs used "
                              "hls4ml 0.4-era firmware), 1.1.0 for Vitis HLS 2024.1 designs",
            "strategy": "published strategy lower-cased (latency / resource)",
            "precision": "model-level default precision as 'ap_fixed<W, I>' (all designs <16, 6>); "
                         "rule4ml uses only its total bit width; per-layer types (QKeras <7,1> / <6,1>) "
                         "cannot be passed",
            "reuse_factor": "published model-level RF; rule4ml snaps each layer to the closest valid "
                            "hls4ml RF (e.g. RF 256 -> 160 for the 32x5 output layer)",
            "not_seen": "weights (pruning: pruned == unpruned prediction), QKeras quantizers, clock "
                        "period, exact part (percent of the mapped board)",
            "latency": "rule4ml 'CYCLES' estimator (cycles); 'interval' is its 'INTERVAL' estimator",
            "rounding": "values as returned (floats, round_digits=2), not rounded to integers",
        },
        "timing_s": {"imports": round(t_imports, 2), "load_default_models": round(t_load, 2),
                     "predictions": round(sum(p["seconds"] for p in predictions), 2),
                     "total": round(total, 2)},
        "predictions": predictions,
        "sensitivity": sensitivity,
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT} ({len(predictions)} designs; imports {t_imports:.1f} s, load {t_load:.1f} s, "
          f"total {total:.1f} s)")


if __name__ == "__main__":
    main()
