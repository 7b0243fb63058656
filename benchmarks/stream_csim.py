"""io_stream: emulator = C simulation on the shared CNNs and on seeded random small CNNs (issue 14,
section 2).  The suite checks the composite CNN and KERAS_conv1d_small (tests/test_stream.py);
this runs the other shared CNNs and more random models (kernel sizes, strides, dilation,
valid/same padding, max/average pooling, global pooling or Flatten + Dense, sparsity) and commits
the counts, compile times and stream plans as data (``benchmarks/data/stream_csim.json``).

Each model is converted at ``precision`` (the QKeras model at its quantizers) with
``io_type='io_stream'``, written, compiled with g++ against hls4ml 1.3.0's ap_types headers
(hls_stream.h included) and simulated on the same rows as the emulator (uniform in [-1, 1],
rounded onto the input type); the outputs are fixed-point values, compared exactly.  The
io_parallel emulator is run on the same rows too: the IO types compute the same bits.

    .venv/bin/python benchmarks/stream_csim.py [--rows 200] [--seeds 12] [--models NAME ...]
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
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402

#: (name, precision): the shared CNNs.
MODELS = [("KERAS_conv1d_small", "ap_fixed<24,12>"), ("KERAS_conv2d_model", "ap_fixed<18,8>"),
          ("jetTagger_Conv2D_Small_NoBatchNorm", "ap_fixed<18,8>"), ("qkeras_mnist_cnn", "ap_fixed<18,8>")]


def load(models_dir: Path, name: str):
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    custom: dict = {}
    _add_supported_quantized_objects(custom)
    model = tf.keras.models.model_from_json((models_dir / f"{name}.json").read_text(), custom_objects=custom)
    model.load_weights(str(models_dir / f"{name}_weights.h5"))
    return model


def run_one(label: str, model, precision: str, rows: int, seed: int) -> dict:
    import fpga_aware as fa
    from fpga_aware.core.streams import stream_plan

    firmware = fa.to_firmware(model, precision=precision, io_type="io_stream")
    parallel = fa.to_firmware(model, precision=precision)
    t = firmware.ir.input_type
    x = t.to_float(t.from_float(np.random.default_rng(seed).uniform(-1, 1, (rows, firmware.ir.n_inputs))))
    emulated = firmware.predict(x)
    with tempfile.TemporaryDirectory() as tmp:
        firmware.write(Path(tmp) / "prj")
        start = time.perf_counter()
        simulated = firmware.predict(x[:1], engine="csim")  # compiles
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        simulated = firmware.predict(x, engine="csim")
        csim_s = time.perf_counter() - start
    plan = stream_plan(firmware.ir)
    cost = firmware.estimate()
    result = {
        "model": label, "precision": precision, "rows": rows,
        "layers": [layer.kind for layer in firmware.ir.layers[1:]],
        "mismatches_emulator_vs_csim": int(np.count_nonzero(emulated != simulated)), "outputs": int(emulated.size),
        "mismatches_io_stream_vs_io_parallel_emulator": int(np.count_nonzero(emulated != parallel.predict(x))),
        "compile_s": round(compile_s, 2), "csim_s": round(csim_s, 3),
        "stream": plan.summary(),
        "line_buffers": {s.name: [s.buffer_depth, s.in_width] for s in plan.stages if s.mode == "window"},
        "cost_io_stream": {"dsp": cost.dsp, "lut": cost.lut, "bram_18k": cost.bram_18k, "ii": cost.ii,
                           "latency_cycles": cost.latency_cycles},
    }
    pc = parallel.estimate()
    result["cost_io_parallel"] = {"dsp": pc.dsp, "lut": pc.lut, "bram_18k": pc.bram_18k, "ii": pc.ii,
                                  "latency_cycles": pc.latency_cycles}
    print(json.dumps({k: result[k] for k in ("model", "mismatches_emulator_vs_csim", "outputs", "compile_s")}),
          flush=True)
    return result


def reshape_model():
    import tensorflow as tf

    L = tf.keras.layers
    inputs = tf.keras.Input((12,))
    h = L.Reshape((6, 2))(L.Dense(12)(inputs))
    h = L.MaxPooling1D(2, strides=1)(L.Conv1D(3, 2, padding="same")(h))
    return tf.keras.Model(inputs, L.Dense(2)(L.Flatten()(h)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--models", nargs="*", default=[name for name, _ in MODELS])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "models")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "data" / "stream_csim.json")
    args = parser.parse_args()
    from test_conv import _random_cnn

    results = []
    for seed in range(args.seeds):
        results.append(run_one(f"random CNN seed {seed}", _random_cnn(seed), "ap_fixed<18,8>", args.rows, seed))
    results.append(run_one("Dense + Reshape + Conv1D + MaxPooling1D", reshape_model(), "ap_fixed<18,8>", args.rows, 99))
    for name, precision in MODELS:
        if name in args.models:
            results.append(run_one(name, load(args.shared, name), precision, args.rows, 7))
    data = {"benchmark": "stream_csim", "python": platform.python_version(), "machine": platform.machine(),
            "load_average": os.getloadavg()[0], "results": results}
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
