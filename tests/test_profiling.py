"""Numerical profiling: overflow / underflow against the chosen fixed-point types."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core.fixed import FixedType, parse_precision
from fpga_aware.workflows.profiling import Profile, profile, suggest_integer_bits


# ------------------------------------------------------------------------------ pure statistics
@pytest.mark.parametrize(
    "values, precision, bits",
    [
        ([31.9], "ap_fixed<16,6>", 6),
        ([31.99951171875], "ap_fixed<16,6>", 6),  # max_value of ap_fixed<16,6> itself
        ([32.0], "ap_fixed<16,6>", 7),
        ([-32.0], "ap_fixed<16,6>", 6),  # the most negative value fits
        ([-32.5], "ap_fixed<16,6>", 7),
        ([40.6, -3.0], "ap_fixed<16,6>", 7),
        ([100.0], "ap_fixed<16,6>", 8),
        ([0.3], "ap_fixed<16,6>", 0),  # 1 sign bit, -1 integer bit: [-0.5, 0.5)
        ([5.0], "ap_ufixed<8,4>", 3),
        ([-1.0], "ap_ufixed<8,4>", 1),  # negative values need a sign bit
        ([0.0, 0.0], "ap_fixed<16,6>", None),
    ],
)
def test_suggest_integer_bits(values, precision, bits):
    t = parse_precision(precision)
    assert suggest_integer_bits(values, t) == bits
    if bits is not None:  # the suggestion holds every value, one bit fewer does not
        signed = t.signed or min(values) < 0
        fits = FixedType(bits + t.frac, bits, signed)
        assert all(fits.min_value <= v <= fits.max_value + fits.lsb * 0.999 for v in values)


# ------------------------------------------------------------------------------ models
def _dense_model(tf, activation=None, weight=10.0, n_in=8, n_out=4, name="big"):
    tf.keras.utils.set_random_seed(3)
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(6, input_shape=(n_in,), name="fc1", activation="relu"),
        tf.keras.layers.Dense(n_out, name=name, activation=activation),
    ])
    kernel, bias = model.get_layer(name).get_weights()
    kernel[:] = weight  # every output is weight * sum(fc1 outputs): far beyond 32
    model.get_layer(name).set_weights([kernel, bias])
    return model


@pytest.fixture(scope="module")
def tf():
    import tensorflow

    return tensorflow


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(7).uniform(0.0, 1.0, size=(128, 8))


def test_overflowing_dense_is_caught(tf, x):
    model = _dense_model(tf)
    keras_out = model.predict(x, verbose=0)
    assert np.abs(keras_out).max() > 32  # the premise: ap_fixed<16,6> cannot hold these
    prof = profile(model, x)  # default ap_fixed<16,6>
    assert isinstance(prof, Profile) and prof.n_samples == 128
    big = prof.entry("big")
    assert big.source == "keras" and big.type == parse_precision("ap_fixed<16,6>")
    expected = np.mean((keras_out >= 32) | (keras_out < -32))
    assert big.overflow_fraction == pytest.approx(expected, abs=1e-9)
    assert big.overflow_fraction > 0 and big.overflows
    assert big.suggested_integer_bits >= 7
    top = float(np.abs(keras_out).max())
    assert big.suggested_integer_bits >= int(np.floor(np.log2(top))) + 2  # |max| plus a sign bit
    assert big.max == pytest.approx(float(keras_out.max()), rel=1e-6)
    # the firmware wraps: its values are far from the float ones
    assert big.max_abs_error > 10
    # the weights themselves (10.0) fit ap_fixed<16,6>; the first layer is fine
    assert prof.entry("big", "weight").n_overflow == 0
    assert prof.entry("big", "weight").source == "keras"
    assert not prof.entry("fc1_relu").overflows
    assert [e.layer for e in prof.overflowing()] == ["big"]
    text = str(prof)
    assert "big" in text and "!" in text and "needs" in text


def test_fused_activation_layers_and_bigger_types(tf, x):
    model = _dense_model(tf, activation="relu")
    prof = profile(model, x)
    pre, post = prof.entry("big"), prof.entry("big_relu")
    # the pre-activation sum is in the exact accumulator (never overflows), the relu output in <16,6>
    assert pre.type.width > 16 and not pre.overflows and pre.source == "keras"
    assert pre.max == pytest.approx(post.max, rel=1e-5)  # all sums positive: relu is the identity
    assert pre.max_abs_error < 0.5  # exact sum of the rounded inputs (a wrap would be off by 64)
    assert post.type == parse_precision("ap_fixed<16,6>")
    assert post.overflow_fraction > 0 and post.suggested_integer_bits >= 7
    # a config with enough integer bits: no overflow anywhere
    wide = profile(model, x, {"precision": "ap_fixed<20,10>"})
    assert wide.entry("big_relu").type == parse_precision("ap_fixed<20,10>")
    assert not wide.overflowing()
    assert wide.entry("big_relu").max_abs_error < 0.5  # rounding only, no wrap
    # a Firmware is used as it is (per-layer type from its layer_config)
    firmware = fa.to_firmware(model, layer_config={"big_relu": {"precision": {"result": "ap_fixed<18,8>"}}})
    prof = profile(model, x, firmware)
    assert prof.entry("big_relu").type == parse_precision("ap_fixed<18,8>")
    assert not prof.entry("big_relu").overflows


def test_underflow_of_tiny_weights_and_dict(tf, x):
    model = _dense_model(tf, weight=1e-5)
    prof = profile(model, x)
    w = prof.entry("big", "weight")
    assert w.underflow_fraction == 1.0 and w.n_underflow == w.nonzero == 6 * 4
    assert w.n_overflow == 0
    b = prof.entry("big", "bias")
    assert b.nonzero == 0 and b.suggested_integer_bits is None and b.underflow_fraction == 0.0
    inp = next(e for e in prof.entries if e.what == "input")
    assert inp.count == x.size and inp.source == "input"
    d = prof.to_dict()
    json.dumps(d)
    entry = next(e for e in d["entries"] if e["layer"] == "big" and e["what"] == "weight")
    assert entry["underflow_fraction"] == 1.0 and entry["type"] == "ap_fixed<16,6>"
    assert set(entry["percentiles"]) >= {"p0", "p50", "p100"}


def test_figure(tf, x):
    prof = profile(_dense_model(tf), x)
    fig = prof.figure()
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[1].get_yticklabels()]
    assert "big" in labels and "fc1" in labels
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:4] == b"\x89PNG"
    assert len(prof.figure("activations").axes) == 1
    with pytest.raises(ValueError, match="which="):
        prof.figure("everything")


def test_batch_norm_folded_and_emulator_only(tf, x):
    tf.keras.utils.set_random_seed(5)
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(4, input_shape=(8,), name="d1"),
        tf.keras.layers.BatchNormalization(name="bn"),
        tf.keras.layers.Activation("relu", name="act"),
    ])
    bn = model.get_layer("bn")
    bn.set_weights([np.full(4, 50.0), np.zeros(4), np.zeros(4), np.ones(4)])  # scale x50
    # the folded weights (up to ~38) do not fit ap_fixed<16,6>: an error, not a silent wrap
    with pytest.raises(fa.WeightOverflowError, match=r"'d1': weight \(with BatchNormalization 'bn' folded in\)"):
        profile(model, x)
    wide_weights = {"layer_config": {"d1": {"precision": {"weight": "ap_fixed<18,8>"}}}}
    prof = profile(model, x, wide_weights)
    d1 = prof.entry("d1")
    keras_bn = tf.keras.Model(model.inputs, model.get_layer("bn").output).predict(x, verbose=0)
    assert d1.max == pytest.approx(float(keras_bn.max()), rel=1e-5)  # BN folded into d1
    assert d1.overflows
    w = prof.entry("d1", "weight")
    kernel = model.get_layer("d1").get_weights()[0] * 50.0 / np.sqrt(1.0 + bn.epsilon)
    assert w.max == pytest.approx(float(kernel.max()), rel=1e-6)
    # without the Keras model: emulator values only, which are already quantized
    emu = profile(None, x, fa.to_firmware(model, **wide_weights))
    assert all(e.source in ("emulator", "input") for e in emu.entries)
    assert not emu.entry("d1").overflows
    with pytest.raises(TypeError, match="firmware_or_config"):
        profile(model, x, 42)
    with pytest.raises(TypeError, match="needs a Firmware"):
        profile(None, x)


def test_qkeras_model(tf, x):
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(11)
    model = tf.keras.Sequential([
        QDense(5, input_shape=(8,), name="q1", kernel_quantizer=quantized_bits(6, 0, alpha=1),
               bias_quantizer=quantized_bits(6, 0, alpha=1)),
        QActivation(quantized_relu(8, 3), name="qr"),
    ])
    t = fa.to_firmware(model).ir.input_type
    x = t.to_float(t.from_float(x))  # inputs the firmware represents exactly
    prof = profile(model, x)
    assert prof.entry("q1", "weight").n_overflow == 0  # quantizer outputs fit their own type
    qr = prof.entry("qr")
    assert qr.source == "keras" and qr.max_abs_error == 0.0  # bit-exact with QKeras
    assert not prof.overflowing()
