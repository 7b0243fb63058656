"""Unit tests of the fixed-point module (the C-simulation property test checks it against ap_fixed itself)."""

from __future__ import annotations

import numpy as np
import pytest

from fpga_aware.core.fixed import FixedType, Overflow, PrecisionError, Rounding, exact_type_for_values, parse_precision


def test_parse_and_print_round_trip():
    for text in ["ap_fixed<16,6>", "ap_ufixed<8,0,AP_RND_CONV,AP_SAT>", "ap_fixed<5,-2,AP_RND>", "ap_fixed<12,14,AP_TRN,AP_SAT_SYM>"]:
        assert parse_precision(text).cpp() == text
    assert parse_precision("ap_int<8>") == FixedType(8, 8, True)
    assert parse_precision("ap_uint<3>") == FixedType(3, 3, False)
    assert parse_precision("ap_fixed<8,3,AP_RND,AP_SAT,0>").overflow == Overflow.SAT
    with pytest.raises(PrecisionError, match="saturation bits"):
        parse_precision("ap_fixed<8,3,AP_RND,AP_SAT,2>")


# (value, expected real value) for ap_fixed<6,3> (LSB 1/8), signed, per rounding mode
TIES = {
    Rounding.TRN: {0.0625: 0.0, -0.0625: -0.125, 0.1875: 0.125},
    Rounding.TRN_ZERO: {0.0625: 0.0, -0.0625: 0.0, -0.1875: -0.125},
    Rounding.RND: {0.0625: 0.125, -0.0625: 0.0, -0.1875: -0.125},
    Rounding.RND_ZERO: {0.0625: 0.0, -0.0625: 0.0, 0.1875: 0.125, -0.1875: -0.125},
    Rounding.RND_MIN_INF: {0.0625: 0.0, -0.0625: -0.125, 0.1875: 0.125},
    Rounding.RND_INF: {0.0625: 0.125, -0.0625: -0.125, 0.1875: 0.25},
    Rounding.RND_CONV: {0.0625: 0.0, 0.1875: 0.25, -0.0625: 0.0, -0.1875: -0.25},
}


@pytest.mark.parametrize("rounding", list(Rounding))
def test_rounding_modes_on_ties(rounding):
    t = FixedType(6, 3, True, rounding, Overflow.SAT)
    for value, expected in TIES[rounding].items():
        assert t.to_float(t.from_float(value)) == expected, (rounding, value)


def test_overflow_modes():
    values = np.array([5.0, -5.0, 3.875, -4.0])
    wrap = FixedType(6, 3, True)  # range [-4, 3.875]
    np.testing.assert_array_equal(wrap.to_float(wrap.from_float(values)), [-3.0, 3.0, 3.875, -4.0])
    sat = wrap.with_modes(overflow=Overflow.SAT)
    np.testing.assert_array_equal(sat.to_float(sat.from_float(values)), [3.875, -4.0, 3.875, -4.0])
    zero = wrap.with_modes(overflow=Overflow.SAT_ZERO)
    np.testing.assert_array_equal(zero.to_float(zero.from_float(values)), [0.0, 0.0, 3.875, -4.0])
    sym = wrap.with_modes(overflow=Overflow.SAT_SYM)
    np.testing.assert_array_equal(sym.to_float(sym.from_float(values)), [3.875, -3.875, 3.875, -3.875])
    unsigned = FixedType(4, 2, False, overflow=Overflow.SAT)
    np.testing.assert_array_equal(unsigned.to_float(unsigned.from_float([-1.0, 5.0])), [0.0, 3.75])


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("overflow", list(Overflow))
def test_float_and_integer_paths_agree(rounding, overflow):
    rng = np.random.default_rng(7)
    mantissas = rng.integers(-5000, 5000, 20000)
    for t in (FixedType(7, 2, True, rounding, overflow), FixedType(5, 3, False, rounding, overflow)):
        np.testing.assert_array_equal(t.from_float(mantissas / 128.0), t.requantize(mantissas, 7))


def test_nan_is_rejected():
    with pytest.raises(PrecisionError, match="NaN or infinity"):
        FixedType(8, 2).from_float([np.nan])


def test_exact_type_for_values():
    t = exact_type_for_values([0.5, -0.25, 0.125, -1.0])
    assert np.all(t.represents([0.5, -0.25, 0.125, -1.0])) and t.cpp() == "ap_fixed<4,1>"
    assert exact_type_for_values([4.0, 8.0]).signed is False


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("overflow", list(Overflow))
def test_relu_values_equals_rounding_the_clamped_values(rounding, overflow):
    rng = np.random.default_rng(3)
    values = rng.integers(-4000, 4000, 20000) / 256.0
    for t in (FixedType(7, 3, True, rounding, overflow), FixedType(5, 2, False, rounding, overflow)):
        np.testing.assert_array_equal(t.relu_values(values), t.round_values(np.maximum(values, 0.0)))
