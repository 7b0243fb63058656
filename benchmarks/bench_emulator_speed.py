"""The bit-exact emulator against float inference of the same model, side by side.

For the jet tagger (KERAS_3layer) and KERAS_dense_16x200x200x200x200x200x5 at ap_fixed<16,6>:
``Firmware.predict(x)`` (the emulator, default threads) against the float tf-keras model's
direct call ``model(x)`` and ``model.predict(x)`` on the same rows, interleaved rounds, medians.
Target (issue "bit-exact on every input"): emulator >= 0.8x the direct call on both models.
hls4ml's C-simulation ratio is measured by bench_export.py.

    .venv/bin/python benchmarks/bench_emulator_speed.py [--samples 20000] [--repeats 7]

Writes benchmarks/results/emulator_speed.json (git-ignored) and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import fpga_aware as fa  # noqa: E402  (tf-keras before TensorFlow)
from fpga_aware.core.cpus import available_cpus
from fpga_aware.frontend.model_io import load_model

HERE = Path(__file__).resolve().parent
MODELS = ("KERAS_3layer", "KERAS_dense_16x200x200x200x200x200x5")
TARGET = 0.8


def _models_dir() -> Path:
    shared = os.environ.get("FPGA_AWARE_SHARED")
    return Path(shared) / "models" if shared else HERE.parent.parent / "shared" / "models"


def measure(name: str, samples: int, repeats: int) -> dict:
    import tensorflow as tf

    folder = _models_dir()
    model = load_model(folder / f"{name}.json", folder / f"{name}_weights.h5")
    firmware = fa.to_firmware(model, "xcu250-figd2104-2L-e", precision="ap_fixed<16,6>")
    x = np.random.default_rng(0).standard_normal((samples, model.input_shape[-1]))
    x32 = tf.constant(x.astype(np.float32))
    engines = {
        "emulator": lambda: firmware.predict(x),
        "emulator_1_thread": lambda: firmware._emulator.predict(x, threads=1),
        "keras_call": lambda: model(x32, training=False).numpy(),
        "keras_predict": lambda: model.predict(x32, batch_size=4096, verbose=0),
    }
    for run in engines.values():  # warm-up (graph tracing, page faults)
        run()
    times: dict[str, list[float]] = {key: [] for key in engines}
    for _ in range(repeats):
        for key, run in engines.items():
            start = time.perf_counter()
            run()
            times[key].append(time.perf_counter() - start)
    median = {key: statistics.median(v) for key, v in times.items()}
    return {
        "model": name,
        "samples": samples,
        "samples_per_s": {key: samples / t for key, t in median.items()},
        "ratio_vs_call": median["keras_call"] / median["emulator"],
        "ratio_vs_predict": median["keras_predict"] / median["emulator"],
        "ratio_1_thread_vs_call": median["keras_call"] / median["emulator_1_thread"],
        "times_s": times,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "emulator_speed.json")
    args = parser.parse_args(argv)
    results = [measure(name, args.samples, args.repeats) for name in MODELS]
    print(f"{'model':40s} {'emulator/s':>12s} {'1 thread/s':>12s} {'model(x)/s':>12s} {'predict/s':>12s}"
          f" {'vs call':>8s} {'vs predict':>10s}")
    for r in results:
        rate = r["samples_per_s"]
        print(f"{r['model']:40s} {rate['emulator']:12,.0f} {rate['emulator_1_thread']:12,.0f} "
              f"{rate['keras_call']:12,.0f} {rate['keras_predict']:12,.0f} {r['ratio_vs_call']:8.2f} "
              f"{r['ratio_vs_predict']:10.2f}")
    met = all(r["ratio_vs_call"] >= TARGET for r in results)
    print(f"target emulator >= {TARGET}x model(x) on both models: {'met' if met else 'NOT met'} "
          f"({available_cpus()} CPUs, load average {os.getloadavg()[0]:.2f})")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"machine": platform.machine(), "cpus": available_cpus(),
                                       "load_average": os.getloadavg(), "python": sys.version,
                                       "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
