"""Shared test fixtures: the real pre-trained models of ../shared/models (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import fpga_aware  # noqa: F401  (guarantees tf-keras before TensorFlow loads)

SHARED = Path(os.environ.get("FPGA_AWARE_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
MODELS = SHARED / "models"


def load_shared_model(name: str, weights: str | None = None):
    """Load ``<name>.json`` + weights from ../shared/models, or skip the test if missing."""
    arch = MODELS / f"{name}.json"
    weight_file = MODELS / f"{weights or name + '_weights'}.h5"
    if not arch.exists() or not weight_file.exists():
        pytest.skip(f"shared model {name} not found under {MODELS}")
    import tensorflow as tf
    from qkeras.utils import _add_supported_quantized_objects

    custom: dict = {}
    _add_supported_quantized_objects(custom)
    model = tf.keras.models.model_from_json(arch.read_text(), custom_objects=custom)
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
