"""Cost-aware hyperparameter search on scikit-learn's digits (offline, a couple of minutes on a laptop CPU).

Searches the tutorial-style MLP over width, depth, bit width, sparsity and reuse factor with a DSP
budget, prints the Pareto front (validation accuracy vs DSP and LUT), writes the plot, and exports
the best model within the budget as an HLS project::

    python examples/tuner_digits.py                      # 8 trials x 6 epochs, DSP budget 300
    python examples/tuner_digits.py --trials 20 --epochs 10 --budget-dsp 200 --algorithm random
    python examples/tuner_digits.py --overwrite          # start afresh instead of resuming

A second run with the same settings resumes the search in ``--directory`` (it runs only the
trials still missing); ``--overwrite`` deletes it first.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

import fpga_aware as fa  # noqa: F401  (first: guarantees tf-keras)
from fpga_aware.workflows.demo import load_digits_split
from fpga_aware.search.tuner import mlp_hypermodel, search

PART = "xcu250-figd2104-2L-e"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--budget-dsp", type=float, default=300)
    parser.add_argument("--algorithm", default="bayesian", choices=["bayesian", "random", "hyperband"])
    parser.add_argument("--directory", default="tuner_digits_output")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # one progress line per trial

    x_train, x_test, y_train, y_test = load_digits_split(seed=0)
    build_model = mlp_hypermodel(
        x_train.shape[1], 10,
        layers=(1, 2),
        widths=(8, 16, 32),
        bits=(4, 6, 8),
        sparsity=(0.0, 0.5, 0.75),
        reuse_factor=(1, 2, 4),
        learning_rate=(3e-3,),
    )
    start = time.perf_counter()
    result = search(
        build_model, x_train, y_train,
        part=PART,
        budget={"dsp": args.budget_dsp},       # objective: best val_accuracy within the budget
        max_trials=args.trials,
        epochs=args.epochs,
        algorithm=args.algorithm,
        directory=args.directory,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    print(f"{len(result.trials)} trials in {time.perf_counter() - start:.0f} s, results in {result.directory}")
    print(f"\nPareto front (val_accuracy vs DSP and LUT on {PART}):")
    print(result.summary())
    print(f"\nplot: {result.files['pareto_png']}\nfront: {result.files['pareto_csv']}, {result.files['pareto_json']}")

    if not result.feasible:
        print(f"\nno trial within DSP <= {args.budget_dsp:g}; see the front for the trade-off")
        return
    best = result.best_trial
    model = result.best_model()
    accuracy = float(np.mean(np.argmax(model.predict(x_test, verbose=0), axis=1) == y_test))
    print(f"\nbest within the budget: trial {best['trial_id']} {best['hyperparameters']}")
    print(f"  val_accuracy {best['val_accuracy']:.4f}, test accuracy {accuracy:.4f}, "
          f"DSP {best['fpga_dsp']:.0f}, LUT {best['fpga_lut']:.0f}, latency {best['fpga_latency_cycles']:.0f} cycles")
    out = Path(args.directory) / "best_firmware"
    firmware = result.export_trial(best["trial_id"], out, overwrite=True)
    fw_accuracy = float(np.mean(np.argmax(firmware.predict(x_test), axis=1) == y_test))
    print(f"  HLS project: {out} (firmware emulator test accuracy {fw_accuracy:.4f})")
    print(firmware.estimate())


if __name__ == "__main__":
    main()
