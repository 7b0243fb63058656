"""A pruned filter removes its channel downstream: the weights that only ever multiply 0 are dropped.

``fpga_aware.core.zeros``: a filter whose kernel and bias are zero outputs 0 everywhere; through
ReLU, pooling and reorders its channel stays 0, so the next convolution's taps on that channel
and the Dense weights after Flatten that read it are not stored.  Exact: the emulator's outputs
are the same integers with and without the pass, and the C simulation equals the emulator.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
import fpga_aware.frontend.keras as frontend
from fpga_aware.core.zeros import ZERO_RULES

L = tf.keras.layers
PRECISION = "ap_fixed<16,6>"


def _cnn(activation="relu"):
    tf.keras.utils.set_random_seed(11)
    return tf.keras.Sequential([
        tf.keras.Input((8, 8, 2)),
        L.Conv2D(4, 3, activation=activation, name="c1"),
        L.MaxPooling2D(2, name="pool"),
        L.ZeroPadding2D(1, name="pad"),
        L.Conv2D(3, 2, name="c2"),
        L.Flatten(name="flat"),
        L.Dense(2, name="d"),
    ])


def _kill_filter(model, layer: str, channel: int, bias: float = 0.0) -> None:
    kernel, b = model.get_layer(layer).get_weights()
    kernel[..., channel] = 0.0
    b[channel] = bias
    model.get_layer(layer).set_weights([kernel, b])


def _without_the_pass(monkeypatch, model):
    with monkeypatch.context() as m:
        m.setattr(frontend, "drop_always_zero_inputs", lambda ir: {})
        return fa.to_firmware(model, precision=PRECISION)


def test_a_pruned_filter_removes_its_channel_downstream(monkeypatch, rng, tmp_path):
    model = _cnn()
    _kill_filter(model, "c1", 1)
    fw = fa.to_firmware(model, precision=PRECISION)
    plain = _without_the_pass(monkeypatch, model)
    c2, c2_plain = fw.ir.layer("c2"), plain.ir.layer("c2")
    # c2's product rows are tap * 4 + channel: every row of channel 1 is gone, nothing else
    rows = np.arange(c2.weights.shape[0])
    assert not c2.weights[rows % 4 == 1].any() and c2_plain.weights[rows % 4 == 1].all()
    np.testing.assert_array_equal(c2.weights[rows % 4 != 1], c2_plain.weights[rows % 4 != 1])
    assert c2.nonzero_weights == c2_plain.nonzero_weights - 4 * 3  # 4 taps x 3 filters
    # nothing of c2 is always zero (its biases are not 0), so the Dense keeps every weight
    assert fw.ir.layer("d").nonzero_weights == plain.ir.layer("d").nonzero_weights
    x = rng.uniform(-2, 2, (200, 8 * 8 * 2))
    np.testing.assert_array_equal(fw.predict(x), plain.predict(x))  # exact: the same outputs
    trace = fw.trace(x)
    assert not trace["c1"].reshape(200, -1, 4)[:, :, 1].any()  # the channel really is 0
    cost, cost_plain = ({c.name: c for c in f.estimate().layers} for f in (fw, plain))
    assert cost["c2"].n_mult < cost_plain["c2"].n_mult  # fewer multipliers
    fw.write(tmp_path / "prj")
    assert np.array_equal(fw.predict(x, engine="csim"), fw.predict(x))


def test_a_dead_channel_reaches_the_dense_after_flatten(monkeypatch, rng):
    model = _cnn()
    _kill_filter(model, "c2", 2)
    fw = fa.to_firmware(model, precision=PRECISION)
    plain = _without_the_pass(monkeypatch, model)
    d, d_plain = fw.ir.layer("d"), plain.ir.layer("d")
    rows = np.arange(d.n_in)  # Flatten of (pixels, 3 channels): input p * 3 + c
    assert not d.weights[rows % 3 == 2].any() and d_plain.weights[rows % 3 == 2].any()
    assert d.nonzero_weights == d_plain.nonzero_weights - np.count_nonzero(d_plain.weights[rows % 3 == 2])
    x = rng.uniform(-2, 2, (100, 8 * 8 * 2))
    np.testing.assert_array_equal(fw.predict(x), plain.predict(x))


@pytest.mark.parametrize("activation,bias", [("relu", 0.25), ("tanh", 0.0), ("sigmoid", 0.0)])
def test_channels_that_are_not_always_zero_keep_their_weights(monkeypatch, activation, bias):
    # a nonzero bias gives relu(0.25) = 0.25; tanh and sigmoid read a table (sigmoid(0) = 0.5)
    model = _cnn(activation)
    _kill_filter(model, "c1", 1, bias)
    fw = fa.to_firmware(model, precision=PRECISION)
    plain = _without_the_pass(monkeypatch, model)
    np.testing.assert_array_equal(fw.ir.layer("c2").weights, plain.ir.layer("c2").weights)


def test_every_layer_kind_has_a_zero_rule():
    from fpga_aware.core.ir import LAYER_KINDS

    assert sorted(ZERO_RULES) == sorted(LAYER_KINDS)


def test_filter_pruning_zeroes_the_biases_and_the_firmware_drops_the_channels():
    model = _cnn()
    plain_d = fa.to_firmware(model, precision=PRECISION).ir.layer("d").nonzero_weights
    model.compile("adam", "mse")
    data = np.random.default_rng(0)
    prune = fa.Prune(0.5, end_step=4, frequency=1, structure="filter", layers=["c2"])
    model.fit(data.normal(size=(32, 8, 8, 2)), data.normal(size=(32, 2)), epochs=2, batch_size=8, verbose=0,
              callbacks=[prune])
    kernel, bias = model.get_layer("c2").get_weights()
    dead = ~np.abs(kernel).sum(axis=(0, 1, 2)).astype(bool)
    assert dead.sum() == 1  # half of 3 filters, rounded down
    assert np.all(bias[dead] == 0) and np.all(bias[~dead] != 0)  # the pruned filter's bias too, only its
    fw = fa.to_firmware(model, precision=PRECISION)
    d = fw.ir.layer("d")
    channel = int(np.flatnonzero(dead)[0])
    assert not d.weights[np.arange(d.n_in) % 3 == channel].any()
    assert d.nonzero_weights == plain_d - d.n_in // 3 * 2  # the Dense was dense: its third of the inputs goes
