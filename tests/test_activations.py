"""Activation functions of the one list (fpga_aware.core.activations) through every stage."""

from __future__ import annotations

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core.activations import ACTIVATIONS, TABLE_FUNCTIONS


def _model(function: str, n_in: int = 8):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((n_in,), name="x")
    h = tf.keras.layers.Dense(n_in, name="d", kernel_initializer=tf.keras.initializers.Identity())(inputs)
    out = tf.keras.layers.Activation(function, name="act")(h)
    return tf.keras.Model(inputs, out)


@pytest.mark.parametrize("function", ["hard_sigmoid"])
def test_table_activation_matches_keras_and_the_c_simulation(function, rng, tmp_path):
    model = _model(function)
    firmware = fa.to_firmware(model)
    assert firmware.ir.layer("act").function == function
    assert firmware.ir.layer("act").table is not None
    # hls4ml's test_activations inputs (rand - 0.5), plus values far outside the table's domain
    x = np.concatenate([rng.random((1000, 8)) - 0.5, rng.uniform(-20, 20, (1000, 8))])
    emulated = firmware.predict(x)
    np.testing.assert_allclose(emulated, model.predict(x, verbose=0), atol=2e-2, rtol=2e-2)
    firmware.write(tmp_path / "prj")
    np.testing.assert_array_equal(emulated, firmware.predict(x, engine="csim"))  # exact fixed-point values


def test_hard_sigmoid_outside_its_domain_reads_the_end_entries():
    firmware = fa.to_firmware(_model("hard_sigmoid"))
    lsb = firmware.ir.layer("act").result_type.lsb
    x = np.array([[-30.0, -2.6, 2.6, 30.0, -31.0, 31.0, 3.0, -3.0]])
    y = firmware.predict(x)[0]
    # the end bins are tabulated at their centres, just inside [-2.5, 2.5]: within one LSB of 0 and 1
    np.testing.assert_allclose(y, [0, 0, 1, 1, 0, 1, 1, 0], atol=lsb)
    assert len(set(y[[0, 1, 4, 7]])) == 1 and len(set(y[[2, 3, 5, 6]])) == 1


def test_every_table_function_costs_a_table():
    for function in TABLE_FUNCTIONS:
        cost = fa.to_firmware(_model(function)).estimate().layers[-1]
        assert cost.lut > 0 or cost.bram_18k > 0, (function, cost)
    assert "hard_sigmoid" in ACTIVATIONS
