"""hls4ml 1.3.0 ``test/pytest/test_multi_dense.py``: Dense on the last axis of a 2-D/3-D input.

Same model (``Dense(7, relu)`` then ``Dense(2, relu)``), shapes, inputs (``rand`` rounded to
2**-10, exact in ap_fixed<16,6>) and tolerance (``rtol=1e-2, atol=0.01``); the strategy axis
is kept (latency, resource), the backend and io_type axes are dropped (one backend,
io_parallel).  The IR is block-diagonal (see :mod:`fpga_aware.frontend.keras`): outputs come
flattened in C order, reshaped to Keras' shape as hls4ml does.  Inputs seeded here.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.keras.layers import BatchNormalization, Dense, Flatten

import fpga_aware as fa
from hls4ml_port import check_csim


def _model(shape):
    tf.keras.utils.set_random_seed(1)  # hls4ml leaves the weights unseeded; the tolerance is met for these
    model = tf.keras.models.Sequential()
    model.add(Dense(7, input_shape=shape, activation="relu"))
    model.add(Dense(2, activation="relu"))
    model.compile(optimizer="adam", loss="mse")
    return model


def _inputs(shape, seed=0):
    X_input = np.random.default_rng(seed).random((100, *shape))
    return np.round(X_input * 2**10) * 2**-10  # make it an exact ap_fixed<16,6>


@pytest.mark.parametrize("strategy", ["latency", "resource"])
@pytest.mark.parametrize("shape", [(4, 3), (4, 1), (2, 3, 2), (1, 3, 1)])
def test_multi_dense(strategy, shape):
    model = _model(shape)
    X_input = _inputs(shape)
    keras_prediction = model.predict(X_input, verbose=0)
    firmware = fa.to_firmware(model, strategy=strategy)
    hls_prediction = firmware.predict(X_input).reshape(keras_prediction.shape)
    np.testing.assert_allclose(hls_prediction, keras_prediction, rtol=1e-2, atol=0.01)
    # the copies of the kernel (block-diagonal) are the only weights stored (and costed)
    rows, n_in, n_out = int(np.prod(shape[:-1])), shape[-1], 7
    first = firmware.ir.dense_layers()[0]
    block = first.weights[:n_in, :n_out]
    expected = np.kron(np.eye(rows, dtype=np.int64), block.astype(np.int64))
    np.testing.assert_array_equal(first.weights.astype(np.int64), expected)
    assert first.nonzero_weights == rows * int(np.count_nonzero(block))
    assert firmware.estimate().layers[1].nonzero_weights == first.nonzero_weights


def test_multi_dense_csim(tmp_path):
    model = _model((4, 3))
    X_input = _inputs((4, 3))
    check_csim(fa.to_firmware(model), X_input, tmp_path)


def test_batchnorm_and_flatten_on_a_2d_tensor():
    """BatchNormalization per channel of the last axis, then Flatten (a no-op in C order)."""
    model = tf.keras.models.Sequential([Dense(5, input_shape=(4, 3)), BatchNormalization(), Flatten(), Dense(3)])
    rng = np.random.default_rng(2)
    bn = model.layers[1]
    bn.set_weights([rng.uniform(0.5, 1.5, 5), rng.uniform(-0.5, 0.5, 5), rng.uniform(-0.5, 0.5, 5),
                    rng.uniform(0.5, 2.0, 5)])
    X_input = _inputs((4, 3))
    firmware = fa.to_firmware(model)
    np.testing.assert_allclose(firmware.predict(X_input), model.predict(X_input, verbose=0), rtol=1e-2, atol=0.01)
