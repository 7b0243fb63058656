"""Training overhead of the plugin: ``fit`` with ``[FPGACost(), Prune()]`` against tfmot.

Same model (the jet tagger 16-64-32-32-5), same data, same epochs and batch size, same seed:

* rival: ``prune_low_magnitude`` wrappers + ``UpdatePruningStep`` (tensorflow-model-optimization's
  own pruning, what the hls4ml tutorial uses);
* ours: the plain model + ``Prune()`` (exact zeros every batch) + ``FPGACost()`` (the FPGA cost
  estimated every epoch).

Target: ours / tfmot <= 1.05 (wall time of ``fit``, median of interleaved repeats).
Usage: ``python benchmarks/bench_training.py [--samples N] [--epochs E] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

import fpga_aware as fa
from fpga_aware._stack import tensorflow

tf = tensorflow()


def jet_tagger():
    return tf.keras.Sequential(
        [
            tf.keras.layers.Dense(64, activation="relu", input_shape=(16,), name="fc1"),
            tf.keras.layers.Dense(32, activation="relu", name="fc2"),
            tf.keras.layers.Dense(32, activation="relu", name="fc3"),
            tf.keras.layers.Dense(5, activation="softmax", name="output"),
        ]
    )


def make_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 16)).astype(np.float32)
    w = rng.standard_normal((16, 5)).astype(np.float32)
    y = np.argmax(x @ w + 0.5 * rng.standard_normal((n, 5)), axis=1)
    return x, y


def fit_tfmot(x, y, epochs: int, batch: int) -> float:
    import tensorflow_model_optimization as tfmot

    tf.keras.utils.set_random_seed(1)
    steps = epochs * int(np.ceil(len(x) / batch))
    schedule = tfmot.sparsity.keras.PolynomialDecay(0.0, 0.75, 0, int(0.8 * steps), frequency=100)
    model = tfmot.sparsity.keras.prune_low_magnitude(jet_tagger(), pruning_schedule=schedule)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    return time.perf_counter() - start


def fit_ours(x, y, epochs: int, batch: int) -> float:
    tf.keras.utils.set_random_seed(1)
    model = jet_tagger()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x, y, epochs=epochs, batch_size=batch, verbose=0, callbacks=[fa.FPGACost(), fa.Prune()])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    x, y = make_data(args.samples)
    fit_tfmot(x[:2048], y[:2048], 1, args.batch)  # warm-up of both paths (graph tracing, imports)
    fit_ours(x[:2048], y[:2048], 1, args.batch)
    ours, rival = [], []
    for _ in range(args.repeats):  # interleaved, so machine load hits both alike
        rival.append(fit_tfmot(x, y, args.epochs, args.batch))
        ours.append(fit_ours(x, y, args.epochs, args.batch))
    result = {
        "samples": args.samples, "epochs": args.epochs, "batch": args.batch,
        "tfmot_fit_s": rival, "ours_fit_s": ours,
        "ratio_median": statistics.median(ours) / statistics.median(rival),
        "target_ratio_max": 1.05,
    }
    print(f"fit, {args.epochs} epochs x {args.samples} samples, batch {args.batch}")
    print(f"  tfmot prune_low_magnitude + UpdatePruningStep: median {statistics.median(rival):.2f} s  {rival}")
    print(f"  plain model + FPGACost() + Prune():            median {statistics.median(ours):.2f} s  {ours}")
    print(f"  ratio ours/tfmot = {result['ratio_median']:.3f} (target <= 1.05)")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "training.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
