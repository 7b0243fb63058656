"""Stored numbers never overflow silently: weights, biases, scales, shifts and table entries are
checked against their types, and an error names the layer, the value and a type that holds it."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from fpga_aware.core.fixed import MAX_WIDTH, FixedType, Overflow, PrecisionError, Rounding, smallest_type_for
from fpga_aware.core.tables import activation_table, table_range
from fpga_aware.frontend.errors import LayerPrecisionError, WeightOverflowError

__all__ = ["check_overflow", "quantize_checked", "checked_table"]


def _round_exact(value: float, t: FixedType) -> int:
    """The mantissa ``value`` rounds to in ``t`` before overflow handling (exact, any magnitude)."""
    q = Fraction(value) * (Fraction(2) ** t.frac)
    low = math.floor(q)
    rem = q - low
    mode = t.rounding
    if mode == Rounding.TRN or rem == 0:
        return low
    if mode == Rounding.TRN_ZERO:
        return low if q > 0 else low + 1
    if rem != Fraction(1, 2):
        return low + 1 if rem > Fraction(1, 2) else low
    if mode == Rounding.RND:
        return low + 1
    if mode == Rounding.RND_MIN_INF:
        return low
    if mode == Rounding.RND_INF:
        return low + 1 if q > 0 else low
    if mode == Rounding.RND_ZERO:
        return low if q > 0 else low + 1
    return low if low % 2 == 0 else low + 1  # RND_CONV


def _fitting_type(lo: int, hi: int, t: FixedType) -> str:
    """A type with ``t``'s fractional bits and modes holding ``t``'s range and the mantissas [lo, hi], as C++."""
    lo, hi = min(lo, t.min_mantissa), max(hi, t.max_mantissa)  # never narrower than asked for
    try:
        wide = smallest_type_for(min(lo, -1) if (t.signed or lo < 0) else 0, hi, t.frac)
    except PrecisionError:
        return f"no type of at most {MAX_WIDTH} bits with {t.frac} fractional bits holds it"
    return wide.with_modes(t.rounding, t.overflow).cpp()


def check_overflow(values: np.ndarray, t: FixedType, layer: str, what: str, key: str) -> None:
    """Raise :class:`WeightOverflowError` when a value of ``values`` rounds outside ``t``'s range.

    ``key`` is the ``layer_config`` precision key of ``t`` (for the suggested fix).  Rounding is
    monotone, so the smallest and the largest value decide.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return
    lo_value, hi_value = float(v.min()), float(v.max())
    lo, hi = _round_exact(lo_value, t), _round_exact(hi_value, t)
    if lo >= t.min_mantissa and hi <= t.max_mantissa:
        return
    worst = hi_value if hi > t.max_mantissa and (lo >= t.min_mantissa or abs(hi_value) >= abs(lo_value)) else lo_value
    becomes = float(t.to_float(t.from_float(np.array([worst])))[0])
    n_bad = int(np.count_nonzero((v > t.max_value) | (v < t.min_value))) or 1
    fits = _fitting_type(lo, hi, t)
    explicit = t.with_modes(overflow=Overflow.SAT).cpp()
    raise WeightOverflowError(
        f"layer {layer!r}: {what} {worst!r} lies outside {t.cpp()} (range [{t.min_value!r}, {t.max_value!r}]; "
        f"{n_bad} of {v.size} values outside); converting it would {'wrap' if t.overflow == Overflow.WRAP else 'saturate'} "
        f"it to {becomes!r}. A type that holds every value: {fits} "
        f"(layer_config={{{layer!r}: {{'precision': {{{key!r}: {fits!r}}}}}}}); to saturate or wrap on purpose, "
        f"name the overflow mode in that layer's own precision (a model-wide default does not count), e.g. "
        f"layer_config={{{layer!r}: {{'precision': {{{key!r}: {explicit!r}}}}}}}"
    )


def quantize_checked(values: np.ndarray, t: FixedType, where: str, *, layer: str, what: str, key: str,
                     allow_overflow: bool) -> np.ndarray:
    """``values`` as mantissas of ``t``, after :func:`check_overflow` unless ``allow_overflow``."""
    if not allow_overflow:
        check_overflow(values, t, layer, what, key)
    try:
        return t.from_float(values)
    except PrecisionError as err:
        raise LayerPrecisionError(f"{where}: {err}") from None


def checked_table(function: str, x_type: FixedType, result: FixedType, size: int, saturate: bool, name: str,
                  config_name: str, params: dict | None = None):
    """A table function's table; entries more than one LSB outside ``result`` raise unless its
    overflow mode was named (a rounding step past the top is saturated: an error below one LSB)."""
    table = activation_table(function, x_type, result, size, params)
    if not saturate:
        lo, hi = table_range(function, x_type, params)
        if hi > result.max_value + result.lsb or lo < result.min_value - result.lsb:
            worst = hi if hi > result.max_value + result.lsb else lo
            fits = _fitting_type(_round_exact(lo, result), _round_exact(hi, result), result)
            raise WeightOverflowError(
                f"layer {name!r}: {function} table entries reach {worst:.6g}, outside {result.cpp()} "
                f"(range [{result.min_value!r}, {result.max_value!r}]); the table would saturate them. "
                f"A result type that holds them: {fits} (layer_config={{{config_name!r}: "
                f"{{'precision': {{'result': {fits!r}}}}}}}); to saturate on purpose, name the overflow "
                f"mode in that layer's own precision, e.g. layer_config={{{config_name!r}: "
                f"{{'precision': {{'result': {result.with_modes(overflow=Overflow.SAT).cpp()!r}}}}}}}"
            )
    return table
