"""hls4ml 1.3.0 ``test/pytest/test_softmax.py``: an ``Activation('softmax')`` alone.

Same model, data (5000 rows of ``normal(0, 2)``, clipped to [-32, 31]) and criterion (argmax
agreement with Keras >= 0.98), input precision ``fixed<16,6>`` or ``fixed<9,6>``.  Dropped:
the backend, io_type and ``strategy`` axes (fpga_aware has one argmax-preserving softmax,
io_parallel only) and hls4ml's table types ``exp_table_t``/``inv_table_t``/``accum_t``/
``inv_inp_t`` (fpga_aware chooses its tables' types itself: :func:`fpga_aware.core.tables.softmax_tables`),
so the ``table_bits`` and ``custom_accum`` axes collapse.  The ``(8, 8, 3)`` case is
io_stream-only in hls4ml (a softmax over the last axis of a 3-D tensor): fpga_aware refuses
it, which is tested.  ``test_softmax_skipped`` relies on hls4ml's ``skip`` option, which has
no fpga_aware equivalent: not ported.  The data are seeded here (hls4ml's are not).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from hls4ml_port import check_csim


def generate_data(input_shape, seed=0):
    np.random.seed(seed)
    shape = (5000, *input_shape)
    d = np.random.normal(0, 2, shape)
    modify_entries = np.random.randint(0, 1, shape) < 0.05
    d[modify_entries] = d[modify_entries] * 5 + 10
    return np.clip(d, -32, 31)


def _model(input_shape):
    model = tf.keras.models.Sequential()
    model.add(tf.keras.layers.Activation(input_shape=input_shape, activation="softmax", name="softmax"))
    model.compile()
    return model


def _accuracy(y_keras, y_fw):
    return float(np.mean(np.argmax(y_keras, axis=-1).ravel() == np.argmax(y_fw, axis=-1).ravel()))


@pytest.mark.parametrize("input_bits", ["16,6", "9,6"])
def test_softmax(input_bits):
    X = generate_data((8,))
    model = _model((8,))
    firmware = fa.to_firmware(model, layer_config={f"{model.name}_input": {"precision": {"result": f"ap_fixed<{input_bits}>"}}})
    assert [layer.kind for layer in firmware.ir.layers] == ["input", "softmax"]
    y_keras = model.predict(X, verbose=0)
    y_fw = firmware.predict(X).reshape(y_keras.shape)
    acc = _accuracy(y_keras, y_fw)
    print(f"Accuracy fpga_aware relative to keras: {acc}")
    assert acc >= 0.98


def test_softmax_csim(tmp_path):
    X = generate_data((8,))[:200]
    model = _model((8,))
    firmware = fa.to_firmware(model, layer_config={f"{model.name}_input": {"precision": {"result": "ap_fixed<16,6>"}}})
    y_fw = check_csim(firmware, X, tmp_path)
    assert _accuracy(model.predict(X, verbose=0), y_fw) >= 0.98


def test_softmax_over_a_3d_tensor_is_refused():
    with pytest.raises(fa.UnsupportedLayerError, match="softmax over the last axis of a multi-dimensional tensor"):
        fa.to_firmware(_model((8, 8, 3)))
