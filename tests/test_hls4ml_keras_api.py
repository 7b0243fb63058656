"""hls4ml 1.3.0 ``test/pytest/test_keras_api.py``: ``test_dense`` and ``test_activations``
(the Dense-only parts; convolutions and pooling are not converted by fpga_aware).

Same models, inputs (``rand(100, 1)``, seeded here) and tolerance (``rtol=1e-2, atol=0.01``);
hls4ml's layer-attribute checks become checks of the IR; the backend, io_type and synthesis
parts are dropped (one backend, io_parallel, no synthesis in the suite).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.keras.layers import ELU, Activation, Dense, LeakyReLU, PReLU

import fpga_aware as fa
from hls4ml_port import check_csim


def _inputs():
    return np.random.default_rng(0).random((100, 1))


def test_dense():
    model = tf.keras.models.Sequential()
    model.add(Dense(2, input_shape=(1,), name="Dense", use_bias=True,
                    kernel_initializer=tf.keras.initializers.RandomUniform(minval=1, maxval=10),
                    bias_initializer="zeros"))
    model.add(Activation(activation="elu", name="Activation"))
    model.compile(optimizer="adam", loss="mse")
    X_input = _inputs()
    keras_prediction = model.predict(X_input, verbose=0)
    firmware = fa.to_firmware(model)
    np.testing.assert_allclose(firmware.predict(X_input), keras_prediction, rtol=1e-2, atol=0.01)
    layers = firmware.ir.layers
    assert len(model.layers) + 1 == len(layers)
    assert layers[0].kind == "input" and layers[0].shape == tuple(model.layers[0].input_shape[1:])
    assert layers[1].kind == "dense" and layers[1].n_in == 1 and layers[1].n_out == 2
    assert layers[2].function == "elu"


ACTIVATIONS = {
    "relu": lambda: Activation(activation="relu", name="relu"),
    "leaky_relu": lambda: LeakyReLU(alpha=1.0),
    "elu": lambda: ELU(alpha=1.0),
    "prelu": lambda: PReLU(alpha_initializer="zeros"),
    "sigmoid": lambda: Activation(activation="sigmoid", name="sigmoid"),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activations(name, tmp_path):
    activation_function = ACTIVATIONS[name]()
    cls = type(activation_function).__name__
    model = tf.keras.models.Sequential()
    model.add(Dense(64, input_shape=(1,), name="Dense", kernel_initializer="lecun_uniform"))
    model.add(activation_function)
    model.compile(optimizer="adam", loss="mse")
    X_input = _inputs()
    keras_prediction = model.predict(X_input, verbose=0)
    firmware = fa.to_firmware(model)
    hls_prediction = check_csim(firmware, X_input, tmp_path) if name == "sigmoid" else firmware.predict(X_input)
    np.testing.assert_allclose(hls_prediction, keras_prediction, rtol=1e-2, atol=0.01)
    assert len(model.layers) + 1 == len(firmware.ir.layers)
    assert firmware.ir.layers[2].keras_class == cls
