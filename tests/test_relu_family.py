"""The piecewise-linear ReLU family (IR kind ``parametric_relu``) through every stage.

Keras ``LeakyReLU``, ``Activation('leaky_relu')``, ``PReLU``, ``ThresholdedReLU``,
``ReLU(negative_slope | threshold)`` and QKeras ``quantized_relu(negative_slope=...)``: close to
Keras within hls4ml 1.3.0's ``test_activations`` tolerances, bit-exact against QKeras
(``test_qkeras.py::test_relu_negative_slope``), emulator == C simulation bit for bit.
A Dense layer (identity kernel) sits in front: the frontend needs one today.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from conftest import representable
from fpga_aware.core.config import ConfigError
from fpga_aware.core.fixed import FixedType
from fpga_aware.frontend.errors import UnsupportedLayerError, WeightOverflowError
from fpga_aware.frontend.keras import float_view
from fpga_aware.frontend.quantizers import UnsupportedQuantizerError
from fpga_aware.sim.emulator import EMULATOR_RULES, Emulator


def _model(layer, shape=(8,), flatten=False):
    tf.keras.utils.set_random_seed(3)
    n = int(np.prod(shape))
    inputs = tf.keras.Input(shape, name="x")
    if len(shape) == 1:
        h = tf.keras.layers.Dense(n, name="d", kernel_initializer=tf.keras.initializers.Identity())(inputs)
        return tf.keras.Model(inputs, layer(h))
    h = tf.keras.layers.Flatten(name="f")(layer(inputs))
    return tf.keras.Model(inputs, tf.keras.layers.Dense(n, name="d", kernel_initializer=tf.keras.initializers.Identity())(h))


def _csim_equal(firmware, x, path):
    emulated = firmware.predict(x)
    firmware.write(path)
    np.testing.assert_array_equal(emulated, firmware.predict(x, engine="csim"))
    return emulated


# ----------------------------------------------------------------------------- hls4ml's test_activations
HLS4ML_CASES = {
    "leaky_relu": lambda: tf.keras.layers.LeakyReLU(alpha=1.5, name="act"),
    "leaky_relu_act": lambda: tf.keras.layers.Activation("leaky_relu", name="act"),
    "threshold_relu": lambda: tf.keras.layers.ThresholdedReLU(theta=0.75, name="act"),
    "prelu": lambda: tf.keras.layers.PReLU(alpha_initializer=tf.initializers.constant(0.25), name="act"),
}


@pytest.mark.parametrize("case", sorted(HLS4ML_CASES))
def test_hls4ml_activation_cases_match_keras_and_the_c_simulation(case, tmp_path):
    model = _model(HLS4ML_CASES[case]())
    firmware = fa.to_firmware(model)
    assert firmware.ir.layer("act").kind == "parametric_relu"
    x = np.random.rand(1000, 8) - 0.5  # hls4ml's inputs
    emulated = _csim_equal(firmware, x, tmp_path / "prj")
    np.testing.assert_allclose(emulated, model.predict(x, verbose=0), rtol=2e-2, atol=2e-2)


def test_slopes_and_thresholds_are_keras_float32_values_exactly():
    leaky = fa.to_firmware(_model(tf.keras.layers.Activation("leaky_relu", name="act"))).ir.layer("act")
    assert np.all(leaky.alpha_values() == np.float32(0.2))  # tf.nn.leaky_relu's default alpha
    assert leaky.threshold == 0
    layer = fa.to_firmware(_model(tf.keras.layers.LeakyReLU(alpha=0.3, name="act"))).ir.layer("act")
    assert np.all(layer.alpha_values() == np.float32(0.3))  # exact: the narrowest type holding it
    thr = fa.to_firmware(_model(tf.keras.layers.ThresholdedReLU(theta=0.3, name="act"))).ir.layer("act")
    assert thr.threshold == int(np.floor(np.float64(np.float32(0.3)) * 2**thr.input_type.frac))
    assert np.all(thr.alpha == 0)


def test_keras_relu_options_that_map_onto_the_same_arithmetic(rng, tmp_path):
    x = rng.uniform(-3, 3, (500, 8))
    for layer, function in ((tf.keras.layers.ReLU(negative_slope=0.125, name="act"), "leaky"),
                            (tf.keras.layers.ReLU(threshold=0.5, name="act"), "thresholded")):
        model = _model(layer)
        firmware = fa.to_firmware(model)
        ir_layer = firmware.ir.layer("act")
        assert ir_layer.kind == "parametric_relu", function
        xr = representable(firmware, x)  # Keras sees the firmware's inputs: the comparison is exact
        np.testing.assert_allclose(firmware.predict(xr), model.predict(xr, verbose=0), atol=2e-3)
    _csim_equal(firmware, x, tmp_path / "prj")


@pytest.mark.parametrize("options, why", [
    ({"max_value": 6.0}, "max_value"),
    ({"negative_slope": 0.1, "threshold": 0.5}, "threshold"),
])
def test_relu_options_without_an_implementation_raise_naming_the_layer(options, why):
    with pytest.raises(UnsupportedLayerError, match=rf"'act'.*{why}.*negative_slope or threshold|'act'.*{why}"):
        fa.to_firmware(_model(tf.keras.layers.ReLU(name="act", **options)))


def test_prelu_per_channel_trained_slopes_and_shared_axes(rng, tmp_path):
    alphas = rng.uniform(-1.5, 1.5, 8).astype(np.float32)
    model = _model(tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(alphas), name="act"))
    firmware = fa.to_firmware(model)
    layer = firmware.ir.layer("act")
    np.testing.assert_array_equal(layer.alpha_values(), alphas.astype(np.float64))  # exact, negative ones too
    x = representable(firmware, rng.uniform(-4, 4, (1000, 8)))
    np.testing.assert_allclose(_csim_equal(firmware, x, tmp_path / "a"), model.predict(x, verbose=0), atol=2e-3)
    # a (4, 3) input, one slope per column shared over the rows, flattened in C order
    shared = tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant([0.5, -0.25, 2.0]),
                                   shared_axes=[1], name="act")
    model2 = _model(shared, shape=(4, 3))
    firmware2 = fa.to_firmware(model2)
    np.testing.assert_array_equal(firmware2.ir.layer("act").alpha_values(), np.tile([0.5, -0.25, 2.0], 4))
    x2 = representable(firmware2, rng.uniform(-4, 4, (300, 4, 3)))
    np.testing.assert_allclose(firmware2.predict(x2), model2.predict(x2, verbose=0), atol=2e-3)
    assert np.all(float_view(model).__getitem__("act").alpha == alphas)


def test_dense_with_its_own_leaky_relu(rng):
    tf.keras.utils.set_random_seed(1)
    inputs = tf.keras.Input((6,), name="x")
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(5, activation="leaky_relu", name="d")(inputs))
    firmware = fa.to_firmware(model, layer_config={"d": {"precision": {"result": "ap_fixed<18,8>"}}})
    layer = firmware.ir.layer("d_leaky_relu")
    assert layer.kind == "parametric_relu" and layer.result_type == FixedType(18, 8)
    x = representable(firmware, rng.uniform(-2, 2, (400, 6)))
    # the kernel is rounded to ap_fixed<16,6>: hls4ml's tolerance
    np.testing.assert_allclose(firmware.predict(x), model.predict(x, verbose=0), rtol=2e-2, atol=2e-2)


# ----------------------------------------------------------------------------- QKeras
QKERAS_SLOPES = [(4, 0, 0.5), (8, 4, 1.0), (10, 2, 0.25)]  # hls4ml's test_relu_negative_slope


def _qkeras_model(quantizer):
    from qkeras import QActivation

    inputs = tf.keras.Input((1,), name="x")
    h = tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="ones", name="d")(inputs)
    return tf.keras.Model(inputs, QActivation(quantizer, name="quantizer")(h))


@pytest.mark.parametrize("bits, integer, slope", QKERAS_SLOPES)
def test_quantized_relu_negative_slope_is_bit_exact_against_qkeras(bits, integer, slope, tmp_path):
    from qkeras import quantized_relu

    model = _qkeras_model(quantized_relu(bits, integer, negative_slope=slope))
    firmware = fa.to_firmware(model)
    assert firmware.ir.layer("quantizer").kind == "parametric_relu"
    x = -np.random.rand(1000, 1)  # hls4ml: negative, so that the slope does something
    x = np.round(x * 2**10) * 2**-10  # exact ap_fixed<16,6>
    wide = np.round(np.random.uniform(-32, 32, (3000, 1)) * 2**10) * 2**-10  # beyond both clips
    limits = np.array([[-32.0], [32 - 2**-10], [0.0], [-2**-10], [2**-10]])  # the input type's extremes
    x = np.concatenate([x, wide, limits])
    emulated = _csim_equal(firmware, x, tmp_path / "prj")
    np.testing.assert_array_equal(emulated, model.predict(x, verbose=0))


def test_qdense_with_quantized_leaky_relu_is_bit_exact(rng):
    from qkeras import QDense, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(2)
    inputs = tf.keras.Input((4,), name="x")
    out = QDense(3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
                 activation=quantized_relu(8, 2, negative_slope=0.125), name="qd")(inputs)
    model = tf.keras.Model(inputs, out)
    firmware = fa.to_firmware(model)
    assert firmware.ir.layer("qd_leaky_relu").negative_type == FixedType(5, 0, True, "AP_RND_CONV", "AP_SAT")
    x = representable(firmware, rng.uniform(-8, 8, (2000, 4)))
    np.testing.assert_array_equal(firmware.predict(x), model.predict(x, verbose=0))


def test_unsupported_negative_slopes_raise():
    from qkeras import quantized_relu

    q = quantized_relu(4, 0, negative_slope=0.5)
    q.negative_slope = 0.375  # QKeras asserts powers of two in __init__ only
    with pytest.raises(UnsupportedQuantizerError, match=r"'quantizer'.*negative_slope=0.375.*power of two"):
        fa.to_firmware(_qkeras_model(q))
    with pytest.raises(UnsupportedQuantizerError, match=r"negative_slope=0.0625.*0 <= k <= bits - 1 = 3"):
        fa.to_firmware(_qkeras_model(quantized_relu(4, 0, negative_slope=0.0625)))


# ----------------------------------------------------------------------------- types and limits
def test_input_type_limits_and_wide_types_match_the_c_simulation(tmp_path):
    layer = tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(
        [0.3, -0.7, 1.5, 0.0, 1.0, 0.25, -2.0, 0.1]), name="act")
    model = _model(layer)
    for precision, path in (("ap_fixed<16,6>", "narrow"), ("ap_fixed<70,20>", "wide")):
        firmware = fa.to_firmware(model, precision=precision)
        t = firmware.ir.input_type
        lsb = t.lsb
        edges = np.array([t.min_value, t.max_value, 0.0, -lsb, lsb, t.min_value + lsb, t.max_value - lsb, -1.0])
        x = np.stack([np.roll(edges, k) for k in range(8)])
        _csim_equal(firmware, x, tmp_path / path)
    assert firmware.ir.layer("act").alpha_type.width + firmware.ir.input_type.width > 62  # the Python-int path


def test_the_float_plan_equals_the_integer_rule(rng):
    model = _model(tf.keras.layers.PReLU(alpha_initializer=tf.keras.initializers.Constant(
        rng.uniform(-2, 2, 8).astype(np.float32)), name="act"))
    firmware = fa.to_firmware(model)
    layer = firmware.ir.layer("act")
    rule = EMULATOR_RULES["parametric_relu"]
    plan = rule.plan(layer)
    assert plan is not None
    m = layer.input_type.from_float(rng.uniform(-40, 40, (2000, 8)))
    from_plan = plan(layer.input_type.to_float(m))
    np.testing.assert_array_equal(from_plan, layer.result_type.to_float(rule.integer(layer, m)))
    assert Emulator(firmware.ir).predict(layer.input_type.to_float(m)).shape == (2000, 8)


def test_a_named_alpha_type_rounds_and_an_overflowing_one_raises():
    model = _model(tf.keras.layers.LeakyReLU(alpha=0.3, name="act"))
    layer = fa.to_firmware(model, layer_config={"act": {"precision": {"weight": "ap_ufixed<8,0>"}}}).ir.layer("act")
    assert layer.alpha_type == FixedType(8, 0, False) and np.all(layer.alpha == int(np.float32(0.3) * 256))
    with pytest.raises(WeightOverflowError, match=r"'act'.*slope"):
        fa.to_firmware(_model(tf.keras.layers.LeakyReLU(alpha=1.5, name="act")),
                       layer_config={"act": {"precision": {"weight": "ap_ufixed<4,0>"}}})


@pytest.mark.parametrize("options, match", [
    ({"reuse_factor": 2}, r"reuse_factor does not apply to layer 'act' \(LeakyReLU layer.*accepts precision "
                          r"\(keys 'result', 'weight'\)"),
    ({"precision": {"accum": "ap_fixed<20,8>"}}, r"precision\['accum'\] does not apply to layer 'act'"),
    ({"table_size": 64}, r"table_size does not apply to layer 'act'"),
])
def test_bad_layer_config_raises_naming_the_layer_and_what_it_accepts(options, match):
    with pytest.raises(ConfigError, match=match):
        fa.to_firmware(_model(tf.keras.layers.LeakyReLU(alpha=0.5, name="act")), layer_config={"act": options})


def test_cost_counts_the_slope_products():
    def cost(alpha, n=8, precision="ap_fixed<16,6>"):
        model = _model(tf.keras.layers.LeakyReLU(alpha=alpha, name="act"), shape=(n,))
        return fa.to_firmware(model, precision=precision).estimate().layers[-1]

    shift, narrow, wide = cost(0.5), cost(0.75), cost(0.3)  # a shift, a 2-digit constant, a 24-bit one
    assert shift.n_mult == 0 and shift.n_shift == 8 and shift.dsp == 0
    assert narrow.n_lut_mult == 8 and narrow.lut > shift.lut and narrow.dsp == 0
    assert wide.n_dsp_mult == 8 and wide.dsp >= 8
    assert cost(0.75, n=16).lut == pytest.approx(2 * narrow.lut, rel=0.01)
    thresholded = fa.to_firmware(_model(tf.keras.layers.ThresholdedReLU(theta=0.5, name="act"))).estimate()
    assert thresholded.layers[-1].n_mult == 0 and thresholded.layers[-1].lut > 0


def test_thresholds_compare_exactly_at_the_boundary(tmp_path):
    model = _model(tf.keras.layers.ThresholdedReLU(theta=0.3, name="act"))  # 0.3 is not on the 2**-10 grid
    firmware = fa.to_firmware(model)
    lsb = firmware.ir.input_type.lsb
    below = np.floor(np.float32(0.3) / lsb) * lsb  # the largest input <= theta
    x = np.array([[below, below + lsb, 0.75, 0.75 + lsb, -0.5, 0.0, below - lsb, 31.0]])
    y = _csim_equal(firmware, x, tmp_path / "prj")[0]
    np.testing.assert_array_equal(y, [0.0, below + lsb, 0.75, 0.75 + lsb, 0.0, 0.0, 0.0, 31.0])
    np.testing.assert_array_equal(y, model.predict(x, verbose=0)[0])
