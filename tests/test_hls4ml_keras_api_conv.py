"""hls4ml's convolution and pooling tests, ported for io_parallel (issue 14 section 4).

From ``test/pytest/test_keras_api.py`` (the Keras 3 era file of hls4ml 1.x):
``test_conv1d`` (same/valid), ``test_conv2d`` (same/valid, channels_last), ``test_pooling``
(MaxPooling1D/2D, AveragePooling1D/2D, same/valid), ``test_depthwise2d`` and
``test_depthwise1d`` (rtol 1e-2, atol 0.01).  From ``test/pytest/test_globalpooling.py``: ``test_global_pool1d``
and ``test_global_pool2d`` (max/avg, keepdims true/false).

Same models, input shapes and tolerances as hls4ml (``rtol=0``; ``atol=5e-2`` conv, ``3e-2``
pooling, ``5e-3`` global pooling at ``ap_fixed<32,9>``), inputs ``rand`` seeded here, against
tf-keras.  hls4ml's layer-attribute checks (widths, filters, strides, output sizes) become
checks of the IR; its ``pad_left``/``pad_right`` formula is replaced by the window geometry's
Keras rule (tested against a direct computation in test_conv.py).  The backend and io_stream
parametrizations are dropped (one backend; io_stream is not written yet); the emulator stands
for ``hls_model.predict`` (emulator = C simulation is tested in test_conv.py).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.keras.layers import (Activation, AveragePooling1D, AveragePooling2D, Conv1D, Conv2D, DepthwiseConv1D,
                                     DepthwiseConv2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                                     GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)

import fpga_aware as fa


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape)


def _predict(firmware, x, out_shape):
    return firmware.predict(x.reshape(len(x), -1)).reshape(len(x), *out_shape)


@pytest.mark.parametrize("padds", ["same", "valid"])
def test_conv1d(padds):
    model = tf.keras.models.Sequential()
    model.add(Conv1D(filters=32, kernel_size=3, strides=2, padding=padds, activation="relu", input_shape=(128, 4),
                     kernel_initializer="normal", use_bias=False, data_format="channels_last", name="conv"))
    model.add(Activation(activation="relu"))
    model.compile(optimizer="adam", loss="mse")
    X_input = _rand(10, 128, 4)
    keras_prediction = model.predict(X_input, verbose=0)
    firmware = fa.to_firmware(model)
    hls_prediction = _predict(firmware, X_input, keras_prediction.shape[1:])
    np.testing.assert_allclose(hls_prediction, keras_prediction, rtol=0, atol=5e-2)

    conv = firmware.ir.layer("conv")
    ker_w, ch_in, ch_out = model.layers[0].kernel.shape
    assert conv.kind == "conv" and conv.keras_class == "Conv1D"
    assert conv.in_shape == (128, ch_in) and conv.kernel_size == (ker_w,) and conv.strides == (2,)
    assert conv.out_shape == tuple(model.layers[0].output_shape[1:]) == ((64 if padds == "same" else 63), ch_out)
    assert conv.padding == padds


@pytest.mark.parametrize("padds", ["same", "valid"])
def test_conv2d(padds):
    input_shape = (32, 32, 3)
    model = tf.keras.Sequential([
        tf.keras.layers.InputLayer(input_shape),
        Conv2D(filters=32, kernel_size=(2, 3), strides=(4, 5), padding=padds, kernel_initializer="normal",
               use_bias=False, data_format="channels_last", name="conv"),
    ])
    model.compile(optimizer="adam", loss="mse")
    X_input = _rand(1000, *input_shape)
    keras_prediction = model.predict(X_input, verbose=0)
    firmware = fa.to_firmware(model)
    hls_prediction = _predict(firmware, X_input, keras_prediction.shape[1:])
    # A high tolerance, simply to verify correct functionality (hls4ml's words)
    np.testing.assert_allclose(hls_prediction, keras_prediction, rtol=0, atol=5e-2)

    conv = firmware.ir.layer("conv")
    kh, kw, ch_in, ch_out = model.get_layer("conv").kernel.shape
    assert len(model.layers) + 1 == len(firmware.ir.layers)
    assert conv.keras_class == "Conv2D" and conv.kernel_size == (kh, kw) and conv.strides == (4, 5)
    assert conv.in_shape == input_shape
    assert conv.out_shape == tuple(model.output_shape[1:])
    assert conv.out_shape[-1] == ch_out and conv.in_shape[-1] == ch_in
    # 'normal' (std 0.05) draws no exact zeros, but a few taps round to zero in ap_fixed<16,6>: only the others are stored
    quantized = conv.product.weight_type.to_float(conv.product.weight_type.from_float(model.get_layer("conv").get_weights()[0]))
    assert conv.nonzero_weights == np.count_nonzero(quantized) > 0.9 * kh * kw * ch_in * ch_out


def test_depthwise2d():
    """hls4ml's test_depthwise2d (default_precision fixed<32,12>; inputs exact in ap_fixed<16,6>)."""
    X = _rand(10, 32, 32, 3)
    X = np.round(X * 2**10) * 2**-10
    model = tf.keras.models.Sequential([tf.keras.layers.Input((32, 32, 3)), DepthwiseConv2D(kernel_size=(3, 3),
                                                                                             name="dw")])
    model.compile()
    firmware = fa.to_firmware(model, precision="ap_fixed<32,12>")
    y_qkeras = model.predict(X, verbose=0)
    y_hls4ml = _predict(firmware, X, y_qkeras.shape[1:])
    np.testing.assert_allclose(y_qkeras, y_hls4ml.reshape(y_qkeras.shape), rtol=1e-2, atol=0.01)
    assert firmware.ir.layer("dw").out_shape == (30, 30, 3)


def test_depthwise1d():
    """hls4ml's test_depthwise1d (hls4ml's default precision, ap_fixed<16,6>)."""
    X = _rand(10, 32, 3)
    X = np.round(X * 2**10) * 2**-10
    model = tf.keras.Sequential([DepthwiseConv1D(kernel_size=3, input_shape=(32, 3), name="dw")])
    model.compile()
    firmware = fa.to_firmware(model)
    y_qkeras = model.predict(X, verbose=0)
    y_hls4ml = _predict(firmware, X, y_qkeras.shape[1:])
    np.testing.assert_allclose(y_qkeras, y_hls4ml.reshape(y_qkeras.shape), rtol=1e-2, atol=0.01)
    assert firmware.ir.layer("dw").out_shape == (30, 3)


POOLING = [MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D]


@pytest.mark.parametrize("pooling", POOLING, ids=[p.__name__ for p in POOLING])
@pytest.mark.parametrize("padds", ["same", "valid"])
def test_pooling(pooling, padds):
    input_shape = (18, 15, 3) if "2D" in pooling.__name__ else (121, 3)
    pool_size = (4, 2) if "2D" in pooling.__name__ else 2
    X_input = _rand(100, *input_shape)
    keras_model = tf.keras.Sequential([pooling(pool_size, padding=padds, input_shape=input_shape, name="pool")])
    keras_model.compile()
    firmware = fa.to_firmware(keras_model)
    keras_prediction = keras_model.predict(X_input, verbose=0)
    hls_prediction = _predict(firmware, X_input, keras_prediction.shape[1:])
    np.testing.assert_allclose(hls_prediction, keras_prediction, rtol=0, atol=3e-2)

    pool = firmware.ir.layer("pool")
    assert pool.kind == "pooling" and pool.keras_class == pooling.__name__
    assert pool.operation == ("max" if "Max" in pooling.__name__ else "average")
    assert pool.pool_size == tuple(np.atleast_1d(pool_size)) and pool.strides == pool.pool_size  # strides=None
    assert pool.out_shape == tuple(keras_model.output_shape[1:]) and pool.padding == padds


IN_SHAPE, IN_FILT, GLOBAL_ATOL = 18, 6, 5e-3
GLOBAL = [(kind, keepdims) for kind in ("max", "avg") for keepdims in (True, False)]


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("model_type,keepdims", GLOBAL, ids=[f"{k}-keepdims-{d}" for k, d in GLOBAL])
def test_global_pool(rank, model_type, keepdims):
    """hls4ml's test_global_pool1d / test_global_pool2d (default_precision ap_fixed<32,9>)."""
    shape = (IN_SHAPE, IN_FILT) if rank == 1 else (IN_SHAPE, IN_SHAPE, IN_FILT)
    cls = {(1, "avg"): GlobalAveragePooling1D, (1, "max"): GlobalMaxPooling1D,
           (2, "avg"): GlobalAveragePooling2D, (2, "max"): GlobalMaxPooling2D}[rank, model_type]
    model = tf.keras.Sequential([cls(input_shape=shape, keepdims=keepdims, name="gp")])
    model.compile()
    data = _rand(100, *shape)
    y_keras = model.predict(data, verbose=0)
    firmware = fa.to_firmware(model, precision="ap_fixed<32,9>")
    y_hls = firmware.predict(data.reshape(len(data), -1)).reshape(y_keras.shape)
    np.testing.assert_allclose(y_keras, y_hls, rtol=0, atol=GLOBAL_ATOL)
    assert firmware.ir.layer("gp").kind == "pooling"
