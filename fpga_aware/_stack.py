"""Guarantee the tf-keras (Keras 2) stack before TensorFlow is first imported.

QKeras 0.9.0 and tensorflow-model-optimization 0.8.1 only work with Keras 2,
which TensorFlow 2.16+ serves as ``tf.keras`` only when ``TF_USE_LEGACY_KERAS=1``
is set *before* TensorFlow is imported.  Every module of fpga_aware imports
TensorFlow through :func:`tensorflow` here, so the variable is always set first.
"""

from __future__ import annotations

import os
import sys

__all__ = ["KerasStackError", "ensure_legacy_keras", "tensorflow", "keras"]


class KerasStackError(ImportError):
    """Keras 3 is active in this process, but fpga_aware needs tf-keras (Keras 2)."""


_HOW_TO_FIX = (
    "fpga_aware needs tf-keras (Keras 2) because QKeras and "
    "tensorflow-model-optimization do not work with Keras 3. Either import "
    "fpga_aware before TensorFlow, or set the environment variable "
    "TF_USE_LEGACY_KERAS=1 before Python starts (e.g. `export TF_USE_LEGACY_KERAS=1`)."
)


def ensure_legacy_keras() -> None:
    """Set ``TF_USE_LEGACY_KERAS=1`` if TensorFlow is not loaded yet; verify tf.keras is Keras 2."""
    requested = os.environ.get("TF_USE_LEGACY_KERAS")
    if "tensorflow" not in sys.modules:
        if requested not in (None, "1", "true", "True"):
            raise KerasStackError(
                f"TF_USE_LEGACY_KERAS={requested!r} asks TensorFlow for Keras 3. " + _HOW_TO_FIX
            )
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    dense_module = tf.keras.layers.Dense.__module__
    if not dense_module.startswith("tf_keras"):
        raise KerasStackError(
            "TensorFlow was imported before fpga_aware without TF_USE_LEGACY_KERAS=1, so "
            f"tf.keras is Keras 3 ({dense_module}). " + _HOW_TO_FIX
        )


def tensorflow():
    """Return the ``tensorflow`` module with tf-keras guaranteed."""
    ensure_legacy_keras()
    import tensorflow as tf

    return tf


def keras():
    """Return the tf-keras (Keras 2) module."""
    ensure_legacy_keras()
    import tf_keras

    return tf_keras
