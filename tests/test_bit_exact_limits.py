"""Bit-exact outside the ordinary envelope (issue 9, section 1): huge finite inputs, AP_SAT_SYM's
most negative code, types wider than 53 bits and widths beyond 64 bits.

Every case checks the emulator against the values ``ap_fixed`` gives (written out here) and
against the g++ C simulation of the generated project.
"""

from __future__ import annotations

import fpga_aware as fa  # noqa: F401  (before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf

from fpga_aware.fixed import FixedType, parse_precision

PART = "xcu250-figd2104-2L-e"


def _identity(name: str, precision: str, n: int = 1, weight: float = 1.0, layer_config=None, **options):
    """``Dense(n)`` with the weights ``weight * I`` and no bias: the output is ``result_t(x * w)``."""
    inp = tf.keras.Input((n,), name=f"{name}_in")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(n, name=f"{name}_d")(inp))
    model.layers[1].set_weights([np.eye(n) * weight, np.zeros(n)])
    return fa.to_firmware(model, PART, precision=precision, project_name=name, layer_config=layer_config or {}, **options)


def _check(firmware, x, expected=None):
    x = np.asarray(x, dtype=np.float64).reshape(-1, firmware.ir.n_inputs)
    emulated = firmware.predict(x)
    if expected is not None:
        np.testing.assert_array_equal(emulated, np.asarray(expected, dtype=np.float64).reshape(emulated.shape))
    np.testing.assert_array_equal(emulated, firmware.predict(x, engine="csim"))
    rows = np.concatenate([firmware.predict(row[None, :]) for row in x])
    np.testing.assert_array_equal(rows, emulated)  # no result depends on the rest of the batch
    return emulated


LSB = 2.0**-10  # of ap_fixed<16,6>


def test_huge_finite_inputs_wrap_like_ap_fixed():
    # ap_fixed keeps the low 16 bits of the exact mantissa x * 2**10.
    x = [1e18, -1e18, 2.0**60, 1e300, 1e308, 1.7976931348623157e308,
         2.0**40 + LSB, 2.0**55 + 8, -(2.0**55 + 8), 2.0**52 + 3 * LSB * 2**42, 5e-324, -5e-324]
    expected = [0, 0, 0, 0, 0, 0, LSB, 8.0, -8.0, 0.0, 0.0, -LSB]
    _check(_identity("huge_wrap", "ap_fixed<16,6>"), x, expected)


def test_huge_finite_inputs_saturate_and_round():
    top = 32 - LSB
    x = [1e18, -1e18, 1e300, -1e308, 2.0**-11, -(2.0**-11), 3 * 2.0**-11, -32.0, -(32 - LSB), -(32 - LSB / 2)]
    expected = [top, -top, top, -top, 0.0, 0.0, 2 * LSB, -top, -top, -top]
    _check(_identity("huge_sat", "ap_fixed<16,6,AP_RND_CONV,AP_SAT_SYM>"), x, expected)


def test_tiny_and_subnormal_inputs_with_coarse_types():
    # LSB 2**-11 and 16: the scaled values fall below the normal doubles (or are subnormal).
    fw = _identity("tiny_sat", "ap_fixed<8,-3,AP_TRN,AP_SAT>")
    _check(fw, [5e-324, -5e-324, -1e-300, 1e-300, -(2.0**-1022)], [0, -2.0**-11, -2.0**-11, 0, -2.0**-11])
    fw = _identity("tiny_wrap", "ap_fixed<8,12>", layer_config={"tiny_wrap_d": {"precision": {"weight": "ap_fixed<8,2>"}}})
    _check(fw, [-5e-324, -1e-310, 1e-310, -3.0, 1e20, -2049.0], [-16, -16, 0, -16, 0, 2032])


def test_sat_sym_never_gives_the_most_negative_code():
    # ap_fixed<4,4,AP_TRN,AP_SAT_SYM>(-8) is -7, whatever else is in the batch.
    t = parse_precision("ap_fixed<4,4,AP_TRN,AP_SAT_SYM>")
    np.testing.assert_array_equal(t.from_float([-8.0]), [-7])
    np.testing.assert_array_equal(t.from_float([-8.0, 100.0]), [-7, 7])
    np.testing.assert_array_equal(t.round_values(np.array([-8.0])), [-7.0])
    np.testing.assert_array_equal(t.requantize(np.array([-8]), 0), [-7])
    assert not t.contains(parse_precision("ap_fixed<4,4>"))
    fw = _identity("sym_in", "ap_fixed<4,4,AP_TRN,AP_SAT_SYM>")
    _check(fw, [-8.0, -9.0, 7.0, 8.0, -7.5], [-7, -7, 7, 7, -7])
    # the result of a dense layer reaching the code exactly (no overflow anywhere)
    fw = _identity("sym_res", "ap_fixed<8,8>", layer_config={"sym_res_d": {"precision": {"result": "ap_fixed<4,4,AP_TRN,AP_SAT_SYM>"}}})
    _check(fw, [-8.0, -9.0, -7.0, 7.0, 8.0, -100.0], [-7, -7, -7, 7, 7, -7])
    # one and two bits: ap_fixed keeps the code -1 of a 1-bit type (-max would be 0)
    one = {"sym1_d": {"precision": {"weight": "ap_fixed<8,2>"}}, "sym1_in": {"precision": {"result": "ap_fixed<8,4>"}}}
    _check(_identity("sym1", "ap_fixed<1,1,AP_TRN,AP_SAT_SYM>", layer_config=one), [-1, -0.5, 0, 0.7, -8], [-1, -1, 0, 0, -1])


def test_types_wider_than_53_bits_stay_exact():
    t = parse_precision("ap_fixed<60,10,AP_TRN,AP_SAT>")
    np.testing.assert_array_equal(t.from_float([512.0, -1e300]), [t.max_mantissa, t.min_mantissa])
    config = {
        "wide_in": {"precision": {"result": "ap_fixed<60,10,AP_TRN,AP_SAT>"}},
        "wide_d1": {"precision": {"weight": "ap_fixed<8,2>", "result": "ap_fixed<60,10,AP_TRN,AP_SAT>"}},
        "wide_d2": {"precision": {"weight": "ap_fixed<24,22>", "result": "ap_fixed<60,40>"}},
    }
    inp = tf.keras.Input((1,), name="wide_in")
    hidden = tf.keras.layers.Dense(1, name="wide_d1")(inp)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(1, name="wide_d2")(hidden))
    model.layers[1].set_weights([np.ones((1, 1)), np.zeros(1)])
    model.layers[2].set_weights([np.full((1, 1), 2.0**20), np.zeros(1)])
    fw = fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name="wide", layer_config=config)
    x = np.array([[512.0], [1 / 3], [-np.pi], [1e-9 + 1 / 7]])
    _check(fw, x)
    trace = fw._emulator.trace(x)
    x_m = [min(int(np.floor(v * 2.0**50)), t.max_mantissa) for v in x.ravel()]  # exact: 53-bit doubles
    np.testing.assert_array_equal(trace["wide_d1"].ravel(), x_m)  # 60-bit mantissas, not doubles
    np.testing.assert_array_equal(trace["wide_d2"].ravel(), [m >> 10 for m in x_m])  # all 60 bits count
