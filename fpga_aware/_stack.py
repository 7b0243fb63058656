"""Guarantee the tf-keras (Keras 2) stack before TensorFlow is first imported.

QKeras 0.9.0 and tensorflow-model-optimization 0.8.1 only work with Keras 2,
which TensorFlow 2.16+ serves as ``tf.keras`` only when ``TF_USE_LEGACY_KERAS=1``
is set *before* TensorFlow is imported.  Every module of fpga_aware imports
TensorFlow through :func:`tensorflow` here, so the variable is always set first.
Importing fpga_aware itself does not import TensorFlow: it only sets the variable (or
checks the stack when TensorFlow is already loaded).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

__all__ = ["KerasStackError", "ensure_legacy_keras", "tensorflow", "keras", "import_tensorflow_quietly"]


class KerasStackError(ImportError):
    """Keras 3 is active in this process, but fpga_aware needs tf-keras (Keras 2)."""


_HOW_TO_FIX = (
    "fpga_aware needs tf-keras (Keras 2) because QKeras and "
    "tensorflow-model-optimization do not work with Keras 3. Either import "
    "fpga_aware before TensorFlow, or set the environment variable "
    "TF_USE_LEGACY_KERAS=1 before Python starts (e.g. `export TF_USE_LEGACY_KERAS=1`)."
)


#: TF_CPP_MIN_LOG_LEVEL set when the user set none; the quiet import raises it to errors-off.
_DEFAULT_LOG_LEVEL = "2"
_QUIET_LOG_LEVEL = "3"


def ensure_legacy_keras() -> None:
    """Set ``TF_USE_LEGACY_KERAS=1`` if TensorFlow is not loaded yet; verify tf.keras is Keras 2 if it is.

    Never imports TensorFlow itself.
    """
    requested = os.environ.get("TF_USE_LEGACY_KERAS")
    if "tensorflow" not in sys.modules:
        if requested not in (None, "1", "true", "True"):
            raise KerasStackError(
                f"TF_USE_LEGACY_KERAS={requested!r} asks TensorFlow for Keras 3. " + _HOW_TO_FIX
            )
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:  # TensorFlow's C++ info and warnings: off
            os.environ["TF_CPP_MIN_LOG_LEVEL"] = _DEFAULT_LOG_LEVEL
        return
    tf = sys.modules["tensorflow"]
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

    ensure_legacy_keras()  # a first import: check what it loaded
    return tf


def keras():
    """Return the tf-keras (Keras 2) module."""
    tensorflow()
    import tf_keras

    return tf_keras


#: What TensorFlow's C++ libraries write to stderr while they load, before absl's logging is
#: initialised (so TF_CPP_MIN_LOG_LEVEL cannot hide it): one block per shared library.
_LOAD_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IWE]\d{4} [\d:.]+\s+\d+ [\w.]+:\d+\] .*"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.)$"
)


@contextlib.contextmanager
def _filtered_stderr(pattern: re.Pattern):
    """Capture file descriptor 2 (C++ writes there too); afterwards re-emit every line not matching ``pattern``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not pattern.match(line.rstrip("\n"))]
            if kept:
                os.write(2, "".join(kept).encode())


def import_tensorflow_quietly():
    """Import TensorFlow (tf-keras guaranteed) without its start-up lines (oneDNN, CUDA drivers, CPU
    features); anything else it writes to stderr still appears.  Also hides TensorFlow's C++ errors
    that follow (e.g. ``failed call to cuInit`` on a machine without a GPU) unless the user set
    ``TF_CPP_MIN_LOG_LEVEL`` to something other than fpga_aware's default."""
    if "tensorflow" in sys.modules:
        return tensorflow()
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", _DEFAULT_LOG_LEVEL) == _DEFAULT_LOG_LEVEL:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = _QUIET_LOG_LEVEL
    with _filtered_stderr(_LOAD_NOISE):
        return tensorflow()
