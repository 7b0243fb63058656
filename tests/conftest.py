"""Shared test fixtures: the real pre-trained models of ../shared/models (skipped when absent)."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

import numpy as np
import pytest

import fpga_aware  # noqa: F401  (guarantees tf-keras before TensorFlow loads)

SHARED = Path(os.environ.get("FPGA_AWARE_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
MODELS = SHARED / "models"


def load_shared_model(name: str, weights: str | None = None, edit_json=None):
    """Load ``<name>.json`` + weights from ../shared/models, or skip the test if missing.

    ``edit_json``: a function applied to the architecture's JSON text before it is loaded.
    """
    arch = MODELS / f"{name}.json"
    weight_file = MODELS / f"{weights or name + '_weights'}.h5"
    if not arch.exists() or not weight_file.exists():
        pytest.skip(f"shared model {name} not found under {MODELS}")
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    custom: dict = {}
    _add_supported_quantized_objects(custom)
    text = arch.read_text()
    model = tf.keras.models.model_from_json(edit_json(text) if edit_json else text, custom_objects=custom)
    model.load_weights(str(weight_file))
    return model


@pytest.fixture
def shared_model():
    return load_shared_model


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def representable(firmware, x: np.ndarray) -> np.ndarray:
    """``x`` rounded onto the firmware's input type (so Keras and the firmware see the same input)."""
    t = firmware.ir.input_type
    return t.to_float(t.from_float(x))


class _ListHandler(logging.Handler):
    def __init__(self, messages: list):
        super().__init__(logging.DEBUG)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured_logs(name: str = "fpga_aware", level: int = logging.INFO):
    """The messages logged under ``name`` at ``level`` or above (caplog for module-scoped fixtures)."""
    logger = logging.getLogger(name)
    messages: list[str] = []
    handler = _ListHandler(messages)
    handler.setLevel(level)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
