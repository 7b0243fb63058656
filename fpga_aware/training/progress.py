"""One-line progress messages for long work: an epoch of training, a trial of a search.

:class:`EpochProgress` is a Keras callback that logs (``logging``, INFO by default) one line per
epoch from Keras ``logs``: the loss and metrics (validation ones too when present), the cost
:class:`~fpga_aware.FPGACost` logged (place it *after* FPGACost and Prune in ``callbacks``) and
the sparsity :class:`~fpga_aware.Prune` logged::

    float epoch 3/20: loss 0.4121, accuracy 88.2 %, val_loss 0.3987, val_accuracy 89.6 % |
        DSP 3,456 (28.1 % of the part), LUT 123,456 (7.1 % of the part), FF 12,345, BRAM_18K 0,
        latency 12 cycles, II 1 | sparsity 0.0 %

(one line in the log).  Fractions (accuracies, sparsity) are written as percentages with ``%``.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Mapping, Sequence

from fpga_aware._stack import keras

__all__ = ["EpochProgress", "format_value", "format_metrics", "format_cost", "format_epoch"]

logger = logging.getLogger(__name__)

k = keras()

#: FPGACost's totals and how a progress line names them.
COST_LABELS = {"fpga_dsp": "DSP", "fpga_lut": "LUT", "fpga_ff": "FF", "fpga_bram_18k": "BRAM_18K",
               "fpga_latency_cycles": "latency", "fpga_ii": "II"}
_UNITS = {"fpga_latency_cycles": " cycles"}
_FRACTION_SUFFIXES = ("accuracy", "acc", "sparsity")


def _is_fraction(name: str) -> bool:
    """Whether ``name`` is a fraction in [0, 1] best read as a percentage (accuracies, sparsity)."""
    return name.removeprefix("val_").endswith(_FRACTION_SUFFIXES)


def format_value(name: str, value: Any) -> str:
    """``value`` as people read it: ``96.7 %`` for accuracies and sparsity, ``1,234`` for counts."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(number):
        return str(number)
    if _is_fraction(name):
        return f"{100.0 * number:.1f} %"
    if number.is_integer() and abs(number) >= 1:
        return f"{int(number):,}"
    return f"{number:.4g}"


def format_metrics(logs: Mapping[str, Any]) -> str:
    """``loss 0.4121, accuracy 88.2 %, ...``: every logged value that is neither a cost nor the sparsity."""
    return ", ".join(f"{name} {format_value(name, value)}" for name, value in logs.items()
                     if not name.startswith("fpga_") and name != "sparsity")


def format_cost(logs: Mapping[str, Any], keys: Sequence[str] = tuple(COST_LABELS)) -> str:
    """``DSP 3,456 (28.1 % of the part), LUT ..., II 1``: FPGACost's totals ``keys`` present in ``logs``."""
    unknown = [key for key in keys if key not in COST_LABELS]
    if unknown:
        raise ValueError(f"unknown cost keys {unknown}; use some of {list(COST_LABELS)}")
    parts = []
    for key in keys:
        label = COST_LABELS[key]
        if key not in logs:
            continue
        text = f"{label} {format_value(key, logs[key])}{_UNITS.get(key, '')}"
        util = logs.get(f"{key}_util")
        if util is not None and key in ("fpga_dsp", "fpga_lut"):
            text += f" ({float(util):.1f} % of the part)"
        parts.append(text)
    if "fpga_score" in logs:
        parts.append(f"score {format_value('fpga_score', logs['fpga_score'])}")
    if "fpga_within_budget" in logs:
        parts.append("within budget" if float(logs["fpga_within_budget"]) >= 0.5 else "OVER BUDGET")
    return ", ".join(parts)


def format_epoch(epoch: int, epochs: int | None, logs: Mapping[str, Any], label: str = "") -> str:
    """The progress line of 0-based ``epoch`` of ``epochs``; sections without values are left out."""
    head = f"{label} epoch {epoch + 1}" if label else f"epoch {epoch + 1}"
    if epochs:
        head += f"/{epochs}"
    sections = [format_metrics(logs), format_cost(logs)]
    if logs.get("sparsity") is not None:
        sections.append(f"sparsity {format_value('sparsity', logs['sparsity'])}")
    return f"{head}: " + " | ".join(s for s in sections if s)


class EpochProgress(k.callbacks.Callback):
    """Log one progress line per epoch (see the module docstring) to the ``fpga_aware.training.progress`` logger.

    Args:
        label: put before ``epoch k/N`` (the phase or step, e.g. ``'pruning'``).
        level: the ``logging`` level of the lines (INFO by default).
    """

    def __init__(self, label: str = "", level: int = logging.INFO):
        super().__init__()
        if not isinstance(label, str):
            raise TypeError(f"EpochProgress label must be a string, got {type(label).__name__}")
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(f"EpochProgress level must be a logging level (an int such as logging.INFO), got {level!r}")
        self.label = label
        self.level = level
        #: The lines logged so far.
        self.lines: list[str] = []

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        line = format_epoch(epoch, (self.params or {}).get("epochs"), logs or {}, self.label)
        self.lines.append(line)
        logger.log(self.level, "%s", line)
