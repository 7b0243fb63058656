"""The offline demo (``make demo`` / ``fpga-aware demo``).

Trains the tutorial's MLP shape (hidden layers 64-32-32, as the jet tagger) on scikit-learn's
bundled digits: first in float, then quantized with QKeras (``quantize``) and pruned to 75 %
(``Prune``) while ``FPGACost`` logs the estimated cost every epoch (three phases: float
training, pruning, quantization-aware fine-tuning).  It then exports the firmware,
compiles the generated C++ with g++, proves emulator = C simulation bit for bit and writes a
summary (``summary.md``, ``summary.json``), the cost-per-epoch plot and ROC curves as PNG files.

With ``cnn_epochs`` (``fpga-aware demo --cnn``) it also runs the CNN step, the shipped recipe
``part5_cnn`` (a QKeras CNN on the same digits pruned to 75 % with the cost logged every epoch,
emulator = C simulation on the test rows) into ``output_dir/cnn``; it is off by default, so
the default demo stays fast.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fpga_aware._stack import keras, tensorflow
from fpga_aware.core.config import DEFAULT_PART
from fpga_aware.training.callbacks import FPGACost
from fpga_aware.training.classifier import accuracy, compile_classifier
from fpga_aware.workflows.plots import MICRO, roc_aucs
from fpga_aware.training.progress import EpochProgress
from fpga_aware.firmware import Firmware, to_firmware
from fpga_aware.training.pruning import Prune
from fpga_aware.training.quantization import quantize

__all__ = ["DemoResult", "run_demo", "run_cnn_step", "load_digits_split", "build_mlp"]

logger = logging.getLogger(__name__)

HIDDEN = (64, 32, 32)
PART = DEFAULT_PART
#: The three training phases, as the progress lines and the cost plot name them.
PHASES = ("float", "pruning", "quantized fine-tune")
HISTORY_KEYS = ("fpga_dsp", "fpga_lut", "sparsity", "accuracy", "val_accuracy")


@dataclass
class DemoResult:
    float_accuracy: float
    pruned_accuracy: float
    quantized_pruned_accuracy: float
    firmware_accuracy: float
    sparsity: float
    emulator_csim_mismatches: int
    n_verified: int
    dsp_per_epoch: list
    lut_per_epoch: list
    sparsity_per_epoch: list
    estimate: dict
    roc_auc: dict  #: {model: {"micro": auc, "0": auc, ...}}: one-vs-rest AUC per digit
    output_dir: str
    seconds: float
    #: the CNN step's figures (``run_cnn_step``), or None when it was not run
    cnn: dict | None = None


def load_digits_split(seed: int = 0):
    """scikit-learn's bundled 8x8 digits (offline), scaled to [0, 1], 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x.astype(np.float32) / 16.0
    return train_test_split(x, y, test_size=0.25, random_state=seed, stratify=y)


def build_mlp(n_in: int, n_classes: int, hidden=HIDDEN):
    k = keras()
    layers = [k.layers.InputLayer(input_shape=(n_in,), name="input")]
    for i, width in enumerate(hidden, start=1):
        layers.append(k.layers.Dense(width, activation="relu", name=f"fc{i}"))
    layers.append(k.layers.Dense(n_classes, activation="softmax", name="output"))
    return k.Sequential(layers)


def _plots(out: Path, history: dict, scores: dict, labels: np.ndarray, n_classes: int,
           phases: list[tuple[str, int]]) -> list[str]:
    """Write ``cost_per_epoch.png`` and ``roc.png`` into ``out``; returns their names."""
    from fpga_aware.workflows.plots import cost_figure, roc_figure  # matplotlib: imported only when drawing

    figures = {
        "cost_per_epoch.png": cost_figure(history, phases=phases,
                                          title=f"Estimated cost ({PART}) and accuracy per epoch"),
        "roc.png": roc_figure(scores, labels, class_names=[f"digit {c}" for c in range(n_classes)],
                              title=f"ROC of each digit against the rest ({len(labels)} test samples)"),
    }
    for name, fig in figures.items():
        fig.savefig(out / name, dpi=100)
    return list(figures)


def _fit(model, data, epochs: int, callbacks: list, phase: str) -> dict:
    """``fit`` quietly (no Keras progress bar); ``EpochProgress`` logs one line per epoch instead."""
    x_train, y_train = data
    return model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0, validation_split=0.1,
                     callbacks=callbacks + [EpochProgress(phase)]).history


def _concat(histories: list[dict], keys) -> dict:
    """The per-epoch values of ``keys`` over the phases; a phase without a key (no Prune: no
    ``sparsity``) contributes zeros."""
    return {key: [v for h in histories for v in h.get(key, [0.0] * len(h["loss"]))] for key in keys}


CNN_RECIPE = "part5_cnn"


def run_cnn_step(output_dir: str | Path, epochs: int | None = None, overwrite: bool = True) -> dict:
    """The demo's optional CNN step: the shipped recipe ``part5_cnn`` run into ``output_dir``
    (``epochs``: those of its train step, None: the recipe's 30); returns its figures."""
    from fpga_aware.workflows.recipes import run_recipe

    result = run_recipe(CNN_RECIPE, output_dir, epochs=epochs, overwrite=overwrite)
    fw = result.firmware_result("firmware")
    return {"recipe": CNN_RECIPE, "output_dir": str(output_dir), "keras_accuracy": result.keras_accuracy,
            "firmware_accuracy": fw.emulator_accuracy, "sparsity": result.sparsity,
            "emulator_csim_mismatches": fw.emulator_csim_mismatches, "n_verified": fw.n_verified,
            "dsp_per_epoch": result.dsp_per_epoch, "lut_per_epoch": result.lut_per_epoch,
            "estimate": fw.estimate}


def run_demo(output_dir: str | Path = "demo_output", *, epochs: int = 20, prune_epochs: int = 15,
             finetune_epochs: int = 10, seed: int = 0, overwrite: bool = True,
             cnn_epochs: int | None = None) -> DemoResult:
    """Run the whole demo; returns the figures it wrote into ``output_dir/summary.json``.

    Three phases, the cost logged every epoch: float training; magnitude pruning to 75 %;
    6-bit quantization-aware fine-tuning at 75 % sparsity.  ``cnn_epochs`` (an integer >= 0)
    adds the CNN step (:func:`run_cnn_step`, into ``output_dir/cnn``) with that many epochs.
    """
    if cnn_epochs is not None and (isinstance(cnn_epochs, bool) or not isinstance(cnn_epochs, int)
                                   or cnn_epochs < 0):
        raise ValueError(f"run_demo: cnn_epochs must be None (no CNN step) or an integer >= 0, got {cnn_epochs!r}")
    start = time.perf_counter()
    tf = tensorflow()
    tf.keras.utils.set_random_seed(seed)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    x_train, x_test, y_train, y_test = load_digits_split(seed)
    n_classes = int(y_train.max()) + 1
    data = (x_train, y_train)

    logger.info("1/3 training the float MLP %s on digits", HIDDEN)
    model = compile_classifier(build_mlp(x_train.shape[1], n_classes), 3e-3)
    h_float = _fit(model, data, epochs, [FPGACost(part=PART)], PHASES[0])
    float_probs = model.predict(x_test, verbose=0)

    logger.info("2/3 pruning to 75% (polynomial decay), cost logged every epoch")
    compile_classifier(model, 1e-3)
    h_prune = _fit(model, data, prune_epochs, [Prune(target_sparsity=0.75), FPGACost(part=PART)], PHASES[1])
    pruned_probs = model.predict(x_test, verbose=0)

    logger.info("3/3 quantizing to 6 bits and fine-tuning at 75% sparsity")
    qmodel = compile_classifier(quantize(model, bits=6, integer=0, activation_bits=6), 1e-3)
    hold = Prune(target_sparsity=0.75, begin_step=0, end_step=1, frequency=1)  # keep the 75% mask
    h_quant = _fit(qmodel, data, finetune_epochs, [hold, FPGACost(part=PART)], PHASES[2])
    q_probs = qmodel.predict(x_test, verbose=0)

    history = _concat([h_float, h_prune, h_quant], HISTORY_KEYS)
    firmware: Firmware = to_firmware(qmodel, part=PART, project_name="digits")
    firmware.write(out / "firmware", overwrite=overwrite)
    fw_probs = firmware.predict(x_test)
    verify = np.concatenate([x_test, np.random.default_rng(seed).uniform(0, 1, (2000, x_test.shape[1]))])
    mismatches = int(np.count_nonzero(np.any(firmware.predict(verify) != firmware.predict(verify, engine="csim"), axis=1)))
    report = firmware.estimate()
    cnn = None
    if cnn_epochs is not None:
        logger.info("CNN step: recipe %s, %d epochs, into %s", CNN_RECIPE, cnn_epochs, out / "cnn")
        cnn = run_cnn_step(out / "cnn", epochs=cnn_epochs, overwrite=overwrite)

    scores = {"float": float_probs, "pruned": pruned_probs, "quantized+pruned": q_probs, "firmware": fw_probs}
    plots = _plots(out, history, scores, y_test, n_classes,
                   phases=list(zip(PHASES, (epochs, prune_epochs, finetune_epochs))))
    result = DemoResult(
        float_accuracy=accuracy(float_probs, y_test),
        pruned_accuracy=accuracy(pruned_probs, y_test),
        quantized_pruned_accuracy=accuracy(q_probs, y_test),
        firmware_accuracy=accuracy(fw_probs, y_test),
        sparsity=float(history["sparsity"][-1]),
        emulator_csim_mismatches=mismatches,
        n_verified=int(len(verify)),
        dsp_per_epoch=[int(v) for v in history["fpga_dsp"]],
        lut_per_epoch=[int(v) for v in history["fpga_lut"]],
        sparsity_per_epoch=[round(float(v), 4) for v in history["sparsity"]],
        estimate=report.to_dict(),
        roc_auc={model: {c: round(a, 6) for c, a in aucs.items()} for model, aucs in roc_aucs(scores, y_test).items()},
        output_dir=str(out),
        seconds=time.perf_counter() - start,
        cnn=cnn,
    )
    (out / "summary.json").write_text(json.dumps(asdict(result), indent=2))
    (out / "summary.md").write_text(_summary_markdown(result, str(report), plots))
    return result


def _summary_markdown(result: DemoResult, table: str, plots: list[str]) -> str:
    lines = [
        "# fpga_aware demo: digits MLP 64-64-32-32-10",
        "",
        f"- float Keras accuracy: {result.float_accuracy:.2%}",
        f"- pruned ({result.sparsity:.0%}) float accuracy: {result.pruned_accuracy:.2%}",
        f"- quantized (6 bits) + pruned Keras accuracy: {result.quantized_pruned_accuracy:.2%}",
        f"- firmware (emulator) accuracy: {result.firmware_accuracy:.2%}",
        f"- emulator vs C simulation: {result.emulator_csim_mismatches} mismatching samples of {result.n_verified}",
        f"- estimated DSP per epoch (float, pruning, quantized): {result.dsp_per_epoch}",
        f"- estimated LUT per epoch: {result.lut_per_epoch}",
        f"- sparsity per epoch: {result.sparsity_per_epoch}",
        "",
        "```",
        table,
        "```",
        "",
    ] + _auc_table(result.roc_auc) + [f"![{p}]({p})" for p in plots] + _cnn_lines(result.cnn)
    return "\n".join(lines) + "\n"


def _cnn_lines(cnn: dict | None) -> list[str]:
    if cnn is None:
        return []
    return ["", f"## CNN step (recipe {cnn['recipe']}, {cnn['output_dir']})", "",
            f"- Keras accuracy: {cnn['keras_accuracy']:.2%}, firmware (emulator) accuracy: "
            f"{cnn['firmware_accuracy']:.2%}, sparsity {cnn['sparsity']:.0%}",
            f"- emulator vs C simulation: {cnn['emulator_csim_mismatches']} mismatching samples of "
            f"{cnn['n_verified']}",
            f"- estimated DSP per epoch: {cnn['dsp_per_epoch']}",
            f"- estimated LUT per epoch: {cnn['lut_per_epoch']}"]


def _auc_table(roc_auc: dict) -> list[str]:
    """The ROC AUC of each digit (one-vs-rest) and the micro-average, one column per model."""
    models = list(roc_auc)
    rows = list(next(iter(roc_auc.values()), {}))
    lines = ["ROC AUC, each digit against the rest (test set):", "",
             "| digit | " + " | ".join(models) + " |", "|---" * (len(models) + 1) + "|"]
    for row in rows:
        name = "micro-average" if row == MICRO else row
        lines.append(f"| {name} | " + " | ".join(f"{roc_auc[m].get(row, float('nan')):.4f}" for m in models) + " |")
    return lines + [""]
