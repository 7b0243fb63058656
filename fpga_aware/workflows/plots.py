"""The figures of the demo: ROC curves of several models, and the cost and accuracy per epoch.

Each ``*_figure`` function returns a matplotlib :class:`~matplotlib.figure.Figure` (no pyplot
state, no display needed) that the caller saves with ``fig.savefig(path)``; tests inspect it.

* :func:`roc_figure`: one panel per model, every class one-vs-rest and the micro-average, each
  with its AUC in the legend; the false-positive rate on a log scale and the true-positive
  rate from the lowest rate any curve shows (good classifiers differ at small rates).  :func:`roc_aucs` gives the same AUCs as numbers.
* :func:`cost_figure`: the estimated DSP and LUT per epoch (top) and the accuracy and sparsity
  per epoch in percent (bottom), the training phases shaded and named.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

__all__ = ["roc_aucs", "roc_figure", "cost_figure", "MICRO"]

#: The key of the micro-average in :func:`roc_aucs`.
MICRO = "micro"


# --------------------------------------------------------------------------- ROC
def _check_scores(scores: Mapping[str, np.ndarray], labels: np.ndarray) -> tuple[dict, np.ndarray, int]:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integer classes, got shape {labels.shape}, dtype {labels.dtype}")
    if not scores:
        raise ValueError("scores is empty: give at least one model's class probabilities")
    checked, n_classes = {}, None
    for name, probs in scores.items():
        probs = np.asarray(probs, dtype=float)
        if probs.ndim != 2 or probs.shape[0] != len(labels):
            raise ValueError(f"scores[{name!r}] must have shape ({len(labels)}, n_classes), got {probs.shape}")
        if n_classes is not None and probs.shape[1] != n_classes:
            raise ValueError(f"scores[{name!r}] has {probs.shape[1]} classes, the others {n_classes}")
        n_classes = probs.shape[1]
        checked[name] = probs
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must be in 0..{n_classes - 1} (the score columns), got {labels.min()}..{labels.max()}")
    return checked, labels, n_classes


def _roc_curves(probs: np.ndarray, labels: np.ndarray) -> list[tuple[object, np.ndarray, np.ndarray, float]]:
    """``(class or MICRO, fpr, tpr, auc)``: the micro-average first, then every class that has
    both positive and negative test samples."""
    from sklearn.metrics import auc, roc_curve

    onehot = labels[:, None] == np.arange(probs.shape[1])[None, :]
    fpr, tpr, _ = roc_curve(onehot.ravel(), probs.ravel())
    curves = [(MICRO, fpr, tpr, float(auc(fpr, tpr)))]
    for c in range(probs.shape[1]):
        if onehot[:, c].all() or not onehot[:, c].any():
            continue
        fpr, tpr, _ = roc_curve(onehot[:, c], probs[:, c])
        curves.append((c, fpr, tpr, float(auc(fpr, tpr))))
    return curves


def roc_aucs(scores: Mapping[str, np.ndarray], labels: np.ndarray) -> dict[str, dict[str, float]]:
    """``{model: {'micro': auc, '0': auc, '1': auc, ...}}``: one-vs-rest AUC of every class and the micro-average.

    ``scores`` maps a model name to its ``(n_samples, n_classes)`` class probabilities; a class
    without positive (or negative) samples in ``labels`` has no AUC and is left out.
    """
    scores, labels, _ = _check_scores(scores, labels)
    return {name: {str(c): a for c, _, _, a in _roc_curves(probs, labels)} for name, probs in scores.items()}


def _tpr_floor(curves) -> float:
    """The lower y limit that shows every curve: on a log x axis a curve enters at the true-positive
    rate it reaches without any false positive; rounded down to a tenth (good models: zoomed in)."""
    entry = min(float(tpr[fpr == 0].max()) for _, fpr, tpr, _ in curves)
    return max(0.0, math.floor(10.0 * entry) / 10.0)


def roc_figure(scores: Mapping[str, np.ndarray], labels: np.ndarray, *, class_names: Sequence[str] | None = None,
               title: str | None = None):
    """One ROC panel per model: every class one-vs-rest and the micro-average, AUCs in the legend."""
    from matplotlib.figure import Figure

    scores, labels, n_classes = _check_scores(scores, labels)
    names = list(class_names) if class_names is not None else [f"class {c}" for c in range(n_classes)]
    if len(names) != n_classes:
        raise ValueError(f"class_names has {len(names)} names for {n_classes} classes")
    ncols = min(2, len(scores))
    nrows = math.ceil(len(scores) / ncols)
    fig = Figure(figsize=(6.0 * ncols, 4.8 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    n_neg = max(1, len(labels) - int(np.bincount(labels, minlength=n_classes).min()))
    lowest = 10 ** math.floor(math.log10(0.5 / n_neg))  # below the smallest non-zero rate
    colours = [f"C{c % 10}" for c in range(n_classes)]
    curves_of = {model: _roc_curves(probs, labels) for model, probs in scores.items()}
    bottom = _tpr_floor([curve for curves in curves_of.values() for curve in curves])
    for ax, (model, curves) in zip(axes, curves_of.items()):
        for c, fpr, tpr, value in curves:
            if c == MICRO:
                ax.plot(fpr, tpr, color="black", lw=2.2, label=f"micro-average: AUC {value:.4f}", zorder=3)
            else:
                ax.plot(fpr, tpr, color=colours[c], lw=1.0, alpha=0.85, label=f"{names[c]}: AUC {value:.4f}")
        ax.set_xscale("log")
        ax.set_xlim(lowest, 1.0)
        ax.set_ylim(bottom, 1.0 + 0.02 * (1.0 - bottom))
        ax.set_xlabel("false positive rate (log scale)")
        ax.set_ylabel("true positive rate")
        ax.set_title(f"{model}: micro-average AUC {curves[0][3]:.4f}", fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="lower right", fontsize=7, ncol=2 if n_classes > 6 else 1, title="one-vs-rest",
                  title_fontsize=7)
    for ax in axes[len(scores):]:
        ax.set_visible(False)
    fig.suptitle(title or f"ROC of every class against the rest ({len(labels)} test samples)", fontsize=11)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- cost per epoch
def _series(history: Mapping[str, Sequence[float]], key: str, n: int) -> np.ndarray | None:
    values = history.get(key)
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"history[{key!r}] has {values.size} values, history['fpga_dsp'] {n}")
    return values


def _phase_spans(phases: Sequence[tuple[str, int]] | None, n: int) -> list[tuple[str, float, float]]:
    """``(name, first, last)`` x-ranges of the phases, each epoch covering ``[e - 0.5, e + 0.5]``."""
    if not phases:
        return []
    lengths = [int(length) for _, length in phases]
    if any(length < 0 for length in lengths) or sum(lengths) != n:
        raise ValueError(f"the phase lengths {lengths} must be >= 0 and add up to the {n} epochs of the history")
    spans, start = [], 0
    for (name, _), length in zip(phases, lengths):
        if length:
            spans.append((str(name), start + 0.5, start + length + 0.5))
        start += length
    return spans


def cost_figure(history: Mapping[str, Sequence[float]], *, phases: Sequence[tuple[str, int]] | None = None,
                title: str | None = None):
    """Estimated DSP and LUT per epoch (top) over accuracy and sparsity in percent (bottom).

    ``history`` holds one value per epoch under FPGACost's ``fpga_dsp`` (required) and
    ``fpga_lut`` keys and Keras' ``accuracy``/``val_accuracy`` and Prune's ``sparsity`` (0..1;
    each optional).  ``phases`` lists ``(name, epochs)`` in order (they must add up to the
    history's epochs); each is shaded and named.
    """
    from matplotlib.figure import Figure

    if "fpga_dsp" not in history:
        raise ValueError(f"history needs FPGACost's 'fpga_dsp' per epoch; it has {sorted(history)}")
    n = len(history["fpga_dsp"])
    if n == 0:
        raise ValueError("history has no epoch")
    epochs = np.arange(1, n + 1)
    spans = _phase_spans(phases, n)
    fig = Figure(figsize=(8.0, 6.4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1.2, 1.0]})

    top.plot(epochs, _series(history, "fpga_dsp", n), "o-", color="tab:blue", label="DSP")
    top.set_ylabel("estimated DSP (DSP48 blocks)", color="tab:blue")
    top.set_ylim(bottom=0)
    handles, labels = top.get_legend_handles_labels()
    lut = _series(history, "fpga_lut", n)
    if lut is not None:
        right = top.twinx()
        right.plot(epochs, lut / 1000.0, "s--", color="tab:orange", label="LUT")
        right.set_ylabel("estimated LUT (thousands)", color="tab:orange")
        right.set_ylim(bottom=0)
        more = right.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    top.legend(handles, labels, loc="lower left", fontsize=8)
    top.grid(alpha=0.3)

    styles = {"accuracy": ("o-", "tab:green", "accuracy (train)"),
              "val_accuracy": ("D-", "tab:purple", "accuracy (validation)"),
              "sparsity": ("^:", "tab:gray", "sparsity (zero weights)")}
    for key, (fmt, colour, label) in styles.items():
        values = _series(history, key, n)
        if values is not None:
            bottom.plot(epochs, 100.0 * values, fmt, color=colour, label=label)
    bottom.set_ylabel("accuracy, sparsity (%)")
    bottom.set_ylim(0, 105)
    bottom.set_xlabel("epoch")
    bottom.legend(loc="lower right", fontsize=8)
    bottom.grid(alpha=0.3)

    for i, (name, first, last) in enumerate(spans):
        for ax in (top, bottom):
            if i % 2:
                ax.axvspan(first, last, color="0.92", zorder=0)
            if i:
                ax.axvline(first, color="0.4", lw=0.8, ls="--")
        top.text((first + last) / 2, 1.02, name, transform=top.get_xaxis_transform(), ha="center", va="bottom",
                 fontsize=9)
    top.set_xlim(0.5, n + 0.5)
    fig.suptitle(title or "Estimated cost and accuracy per epoch", fontsize=11, y=0.99)
    fig.tight_layout()
    return fig
