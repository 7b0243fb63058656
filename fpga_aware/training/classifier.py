"""The classifiers the demo, the recipes and the search's MLP train: how they are compiled, and
how their predictions are scored."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["compile_classifier", "accuracy"]


def compile_classifier(model: Any, learning_rate: float) -> Any:
    """``model.compile`` with Adam at ``learning_rate``, sparse categorical cross-entropy (integer
    labels, softmax outputs) and the ``accuracy`` metric; returns ``model``."""
    from fpga_aware._stack import keras

    k = keras()
    model.compile(k.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of the rows of ``probabilities`` whose largest entry is at the row's label."""
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))
