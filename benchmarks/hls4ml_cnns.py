#!/usr/bin/env python
"""The four shared CNNs (issue 14 section 4): fpga_aware against hls4ml 1.3.0, same models,
same config, same machine, in one run.

Per model (``../shared/models``: KERAS_conv1d_small, KERAS_conv2d_model,
jetTagger_Conv2D_Small_NoBatchNorm, qkeras_mnist_cnn), both tools at bench_export's config
(``ap_fixed<16,6>``, reuse 1, Latency, io_parallel, xcu250; hls4ml: Vivado backend,
model-granularity config, so QKeras layers take their types from the quantizers in both):

* compile time from scratch: our ``Firmware.compile()`` (writes the project, g++, empty csim
  cache) against hls4ml's ``ModelGraph.compile()`` (its conversion is not timed), wall and the
  compilers' CPU seconds;
* throughput on the same N rows (images: uniform [0, 1); the 1-D model: standard normal), their
  timed calls interleaved (bench_export.interleaved_throughput): our numpy emulator, our C
  simulation, hls4ml's ``predict`` (its C simulation);
* stored weights: Keras parameters, the kernel values and the nonzero ones, what our IR stores
  (``nonzero_weights`` of its product layers: kernel values that are nonzero after quantization
  to the weight type; zeros are neither stored nor multiplied) and the weight arrays hls4ml
  writes (every value, zeros included; biases counted apart);
* our emulator against our C simulation, bit for bit, and the argmax agreement of our firmware
  with hls4ml's and of both with float Keras/QKeras.

Each model runs in its own child process bounded by ``--timeout`` (a model hls4ml cannot compile
in time is reported as such, and the others are still measured). Writes
``benchmarks/data/hls4ml_cnns.json``.

    nice .venv/bin/python benchmarks/hls4ml_cnns.py                # the four models
    nice .venv/bin/python benchmarks/hls4ml_cnns.py --samples 500 --timeout 900
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
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

MODELS = ("KERAS_conv1d_small", "KERAS_conv2d_model", "jetTagger_Conv2D_Small_NoBatchNorm", "qkeras_mnist_cnn")
OUT = HERE / "data" / "hls4ml_cnns.json"
RESULT_PREFIX = "CNN-RESULT "


def _inputs(model, n: int, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = model.input_shape[1:]
    x = rng.uniform(0.0, 1.0, (n, *shape)) if len(shape) == 3 else rng.standard_normal((n, *shape))
    return x.reshape(n, -1)


def _hls4ml_stored(hls_model) -> dict:
    """Every value of the weight and bias arrays hls4ml writes (``firmware/weights/*``), zeros included."""
    total = {"weight": 0, "bias": 0}
    for layer in hls_model.get_layers():
        for key, var in getattr(layer, "weights", {}).items():
            if key in total:
                total[key] += int(var.data.size)
    return total


def measure(name: str, samples: int, repeats: int, seed: int) -> dict:
    import numpy as np

    from bench_export import (_models_dir, compile_hls4ml, compile_ours, interleaved_throughput, load_model,
                              n_weights, our_firmware)

    model = load_model(name, _models_dir())
    kernels = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
    res: dict = {"model": name, "input_shape": list(model.input_shape[1:]), "n_weights": n_weights(model),
                 "kernel_weights": int(sum(np.size(layer.kernel.numpy()) for layer in kernels)),
                 "nonzero_kernel_weights": int(sum(np.count_nonzero(layer.kernel.numpy()) for layer in kernels)),
                 "samples": samples, "seed": seed}
    fw = our_firmware(model)
    # the kernel values our IR stores and multiplies: the nonzero ones after quantization to the weight type
    res["ours_stored_weights"] = int(sum(getattr(layer, "nonzero_weights", 0) or 0 for layer in fw.ir.layers))
    res["ours_kinds"] = [layer.kind for layer in fw.ir.layers]

    t, cpu, fw_c = compile_ours(model)
    res["ours_compile_s"], res["ours_compile_cpu_s"] = t, cpu
    with tempfile.TemporaryDirectory(prefix=f"hls4ml_{name}_") as work:
        t, cpu, hls_model, cfg = compile_hls4ml(model, Path(work) / "prj")
        res["hls4ml_compile_s"], res["hls4ml_compile_cpu_s"] = t, cpu
        res["hls4ml_config"] = cfg
        stored = _hls4ml_stored(hls_model)
        res["hls4ml_stored_weights"], res["hls4ml_stored_biases"] = stored["weight"], stored["bias"]
        x = _inputs(model, samples, seed)
        shape = model.input_shape[1:]

        def hls_predict(a):
            return np.asarray(hls_model.predict(np.ascontiguousarray(a.reshape(len(a), *shape))))

        engines = {"ours_emulator": fw.predict, "ours_csim": lambda a: fw_c.predict(a, engine="csim"),
                   "hls4ml_predict": hls_predict}
        res.update(interleaved_throughput(engines, x, repeats))
        emu, csim = fw.predict(x), fw_c.predict(x, engine="csim")
        hls = hls_predict(x).reshape(len(x), -1).astype(np.float64)
    keras_out = model.predict(x.reshape(len(x), *shape), batch_size=1024, verbose=0).reshape(len(x), -1)
    res["emulator_csim_mismatching_rows"] = int(np.count_nonzero(np.any(emu != csim, axis=1)))
    res["argmax_agreement_vs_hls4ml"] = float(np.mean(emu.argmax(1) == hls.argmax(1)))
    res["max_abs_diff_vs_hls4ml"] = float(np.max(np.abs(emu - hls)))
    res["ours_argmax_agreement_vs_keras"] = float(np.mean(emu.argmax(1) == keras_out.argmax(1)))
    res["hls4ml_argmax_agreement_vs_keras"] = float(np.mean(hls.argmax(1) == keras_out.argmax(1)))
    theirs = res["hls4ml_predict"]["samples_per_s"]
    res["emulator_vs_hls4ml_ratio"] = res["ours_emulator"]["samples_per_s"] / theirs
    res["csim_vs_hls4ml_ratio"] = res["ours_csim"]["samples_per_s"] / theirs
    res["compile_ratio_ours_over_hls4ml"] = res["ours_compile_s"] / res["hls4ml_compile_s"]
    return res


def _child(args) -> int:
    try:
        res = measure(args.model, args.samples, args.repeats, args.seed)
    except Exception as exc:  # reported by the parent, with the traceback
        res = {"model": args.model, "error": f"{type(exc).__name__}: {exc}"[:2000],
               "traceback": traceback.format_exc()[-4000:]}
    print(RESULT_PREFIX + json.dumps(res, default=float), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240611)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per model (child process)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--model", help=argparse.SUPPRESS)  # the child process's model
    args = parser.parse_args()
    if args.model:
        return _child(args)
    import hls4ml

    from bench_export import cpu_name, git_commit

    results = []
    for name in args.models:
        command = [sys.executable, __file__, "--model", name, "--samples", str(args.samples),
                   "--repeats", str(args.repeats), "--seed", str(args.seed)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
            res = json.loads(lines[-1][len(RESULT_PREFIX):]) if lines else {
                "model": name, "error": f"child exited {proc.returncode} without a result",
                "stderr_tail": proc.stderr[-3000:]}
        except subprocess.TimeoutExpired:
            res = {"model": name, "error": f"not finished within --timeout {args.timeout:.0f} s on this machine"}
        res["child_wall_s"] = round(time.perf_counter() - t0, 1)
        results.append(res)
        _print_row(res)
    load = os.getloadavg()
    data = {"benchmark": "hls4ml_cnns", "git_commit": git_commit(), "hls4ml": hls4ml.__version__,
            "cpu": cpu_name(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_at_end": [round(v, 2) for v in load], "samples": args.samples, "repeats": args.repeats,
            "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, default=float) + "\n")
    print(f"wrote {args.out}")
    return 0 if all("error" not in r and r["emulator_csim_mismatching_rows"] == 0 for r in results) else 1


def _print_row(r: dict) -> None:
    if "error" in r:
        print(f"{r['model']}: {r['error']}")
        return
    print(f"{r['model']}: emulator {r['ours_emulator']['samples_per_s']:,.0f}/s, our csim "
          f"{r['ours_csim']['samples_per_s']:,.0f}/s, hls4ml predict {r['hls4ml_predict']['samples_per_s']:,.0f}/s "
          f"(emulator/hls4ml {r['emulator_vs_hls4ml_ratio']:.1f}x); compile ours {r['ours_compile_s']:.1f} s, "
          f"hls4ml {r['hls4ml_compile_s']:.1f} s; kernel weights {r['kernel_weights']} (nonzero "
          f"{r['nonzero_kernel_weights']}), "
          f"stored ours {r['ours_stored_weights']}, hls4ml {r['hls4ml_stored_weights']}; emulator vs csim "
          f"{r['emulator_csim_mismatching_rows']} of {r['samples']} rows differ; argmax vs hls4ml "
          f"{r['argmax_agreement_vs_hls4ml']:.4f}")


if __name__ == "__main__":
    sys.exit(main())
