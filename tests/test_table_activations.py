"""ELU, selu, softplus and softsign: table functions with tails (core/activations.py), through
every stage: close to Keras (hls4ml's tolerance near 0, a derived bound over the whole input
range), emulator == C simulation bit for bit, and a cost that responds."""

from __future__ import annotations

import math

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core.activations import SELU_ALPHA, SELU_SCALE, activation
from fpga_aware.core.fixed import parse_precision
from fpga_aware.core.tables import activation_table, linear_tail


def _layer(spec: str):
    import tensorflow as tf

    if spec == "ELU(1.25)":
        return tf.keras.layers.ELU(alpha=1.25, name="act")
    return tf.keras.layers.Activation(spec, name="act")


def _model(spec: str, n_in: int = 8):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((n_in,), name="x")
    h = tf.keras.layers.Dense(n_in, name="d", kernel_initializer=tf.keras.initializers.Identity())(inputs)
    return tf.keras.Model(inputs, _layer(spec)(h))


#: The largest |f'| of each function over its table (the error of a bin is at most this times
#: half the bin width).
_MAX_SLOPE = {"elu": lambda alpha=1.0: max(1.0, abs(alpha)), "selu": lambda: SELU_SCALE * SELU_ALPHA,
              "softplus": lambda: 1.0, "softsign": lambda: 1.0}


def _tolerance(layer, x_max: float) -> float:
    """Bound on |emulator - Keras| from the table's bin width and the result LSB: half a bin times
    the largest slope, half an LSB for the entry's rounding (one LSB here, also covering the
    outer tables, built within max(LSB, the fine table's error)), the flat tail's error beyond
    the domain, the slope constant's rounding at the largest input, and float32 in Keras."""
    f = activation(layer.function)
    params = layer.parameters
    bin_width = 2.0 ** layer.table.shift * layer.input_type.lsb
    tol = _MAX_SLOPE[layer.function](**params) * bin_width / 2 + layer.result_type.lsb + f.tail_error(**params)
    if layer.linear is not None:
        tol += abs(layer.linear.slope_value - f.slope(**params)) * x_max
    return tol + 1e-6 * x_max


SPECS = ["ELU(1.25)", "elu", "selu", "softplus", "softsign"]


@pytest.mark.parametrize("spec", SPECS)
def test_matches_keras_and_the_c_simulation(spec, tmp_path):
    model = _model(spec)
    firmware = fa.to_firmware(model)
    layer = firmware.ir.layer("act")
    assert layer.function == spec.split("(")[0].lower() and layer.table is not None
    rng = np.random.default_rng(7)
    near = rng.random((1000, 8)) - 0.5  # hls4ml 1.3.0 test_activations: its inputs and tolerance
    wide = np.concatenate([rng.uniform(-20, 20, (1000, 8)), np.linspace(-20, 20, 8 * 250).reshape(250, 8)])
    x = np.concatenate([near, wide])
    emulated = firmware.predict(x)
    keras = model.predict(x, verbose=0)
    np.testing.assert_allclose(emulated[:1000], keras[:1000], rtol=2e-2, atol=2e-2)
    tol = _tolerance(layer, 20.0)
    assert tol < 2e-2  # the derived bound is tighter than hls4ml's, and holds at +-20 too
    np.testing.assert_allclose(emulated, keras, rtol=0, atol=tol)
    firmware.write(tmp_path / "prj")
    np.testing.assert_array_equal(emulated, firmware.predict(x, engine="csim"))  # exact fixed-point values


def test_elu_alpha_comes_from_the_keras_layer():
    layer = fa.to_firmware(_model("ELU(1.25)")).ir.layer("act")
    assert layer.parameters == {"alpha": 1.25} and layer.keras_class == "ELU"
    assert fa.to_firmware(_model("elu")).ir.layer("act").parameters == {"alpha": 1.0}
    # the negative end of the table is -alpha (to within the tail error and an LSB)
    t = layer.table
    assert abs(float(t.value_type.to_float(t.values[:1])[0]) + 1.25) <= 1.25 * math.exp(-8) + t.value_type.lsb


@pytest.mark.parametrize("function", ["elu", "selu", "softplus"])
def test_linear_tails_are_the_exact_cast_of_x_times_the_slope(function):
    firmware = fa.to_firmware(_model(function))
    layer = firmware.ir.layer("act")
    t = layer.input_type
    start = layer.linear.threshold * t.lsb
    x = np.linspace(start, t.max_value, 64).reshape(8, 8)
    y = firmware.predict(x)
    xq = t.to_float(t.from_float(x))
    expected = layer.result_type.to_float(layer.result_type.from_float(xq * layer.linear.slope_value))
    np.testing.assert_array_equal(y, expected)
    if function != "selu":
        np.testing.assert_array_equal(y, xq)  # slope 1: the input itself


def test_softsign_is_accurate_over_a_wide_input_type():
    """The chain of outer tables keeps softsign within the fine table's error out to +-32768."""
    x_t, r_t = parse_precision("ap_fixed<32,16>"), parse_precision("ap_fixed<16,2>")
    table = activation_table("softsign", x_t, r_t, 1024)
    assert 2 <= len(table.chain) <= 4
    m = np.unique(np.concatenate([np.arange(-2**20, 2**20, 37), np.arange(x_t.min_mantissa, x_t.max_mantissa, 2**17 + 3)]))
    x = x_t.to_float(m)
    error = np.abs(r_t.to_float(table.lookup(m)) - x / (1 + np.abs(x))).max()
    bin_width = 2.0 ** table.shift * x_t.lsb
    assert error <= bin_width / 2 + r_t.lsb, error
    assert linear_tail("softsign", x_t, r_t) is None


def test_softplus_tail_needs_inputs_that_reach_it():
    narrow = parse_precision("ap_fixed<8,3>")  # at most 3.97: never linear
    assert linear_tail("softplus", narrow, narrow) is None
    assert linear_tail("elu", narrow, narrow).threshold == 0


def test_cost_rules_respond():
    costs = {spec: fa.to_firmware(_model(spec)).estimate().layers[-1] for spec in ("elu", "selu", "softsign", "sigmoid")}
    for spec, cost in costs.items():
        assert cost.lut > 0 and cost.bram_18k > 0, (spec, cost)  # 1024-entry ROMs: block RAM
    assert costs["elu"].n_mult == 0  # slope 1: a cast, no product
    assert costs["selu"].n_mult == 8  # slope 1.0507: a constant product per value
    assert costs["selu"].lut + 10 * costs["selu"].dsp > costs["elu"].lut
    assert costs["softsign"].bram_18k > costs["sigmoid"].bram_18k  # two chained tables
    small = fa.to_firmware(_model("elu"), layer_config={"act": {"table_size": 64}}).estimate().layers[-1]
    assert small.bram_18k == 0 and small.lut < costs["elu"].lut + 64 * 16  # a 64-entry LUT ROM


@pytest.mark.parametrize("precision", ["ap_fixed<16,6>", "ap_fixed<24,10>", "ap_fixed<8,3>", "ap_fixed<6,1>",
                                       "ap_fixed<4,4>"])
@pytest.mark.parametrize("size", [1024, 1000, 256])
def test_softmax_exp_table_is_a_power_of_two_long(precision, size):
    """4,096 entries, not 4,097 (one BRAM18 more per copy): the exp table's domain starts one bin
    above -8, and still gives d = 0 (the largest input) its own, largest entry."""
    from fpga_aware.core.tables import EXP_TYPE, softmax_tables

    t = parse_precision(precision)
    diff_t, exp_table, _, _ = softmax_tables(t, 10, size)
    n = exp_table.size
    assert n & (n - 1) == 0 and n <= 4 * size
    raw = np.arange(diff_t.min_mantissa, 1, dtype=np.int64)  # every d <= 0
    index = np.clip((raw >> exp_table.shift) - exp_table.offset, 0, n - 1)
    assert index[-1] == n - 1 and (index[:-1] < n - 1).all()  # d = 0 alone in the last bin
    e = exp_table.values[index]
    assert (np.diff(e) >= 0).all() and int(e[-1]) > int(e[-2])  # monotone: the argmax cannot flip
    assert EXP_TYPE.to_float(int(e[-1])) >= 1.0  # exp(0) = 1 is held
