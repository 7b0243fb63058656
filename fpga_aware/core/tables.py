"""Lookup tables for the table activations (:data:`~fpga_aware.core.activations.TABLE_FUNCTIONS`) and softmax's exp and 1/x.

A table is indexed by the raw bits of a fixed-point input (see :class:`~fpga_aware.core.ir.LookupTable`):
``index = clip((mantissa >> shift) - offset, 0, size - 1)``.  The emulator and the C++ compute
the same integer, so table activations are bit-exact by construction.  Each bin covers
``2**shift`` consecutive input values; when ``shift == 0`` every representable input has its own
entry and the table is the correctly rounded function.  Entries are the function at the bin
centre, rounded to nearest and saturated in the value type.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from fpga_aware.core.activations import activation
from fpga_aware.core.fixed import FixedType, Overflow, Rounding, smallest_type_for
from fpga_aware.core.ir import LookupTable

__all__ = [
    "function_table",
    "activation_table",
    "table_range",
    "softmax_tables",
    "EXP_DOMAIN",
    "EXP_TYPE",
    "INV_TYPE",
]

#: Input range of softmax's exp table (``x - max(x) <= 0``); below it the end entry applies.
EXP_DOMAIN = (-8.0, 0.0)

#: The softmax exp table is this many times finer than ``table_size``: two logits closer than
#: one bin get the same exponential (a tie), so the bins must be narrow (1/512 by default).
EXP_TABLE_SCALE = 4

#: Softmax internals: exp(d) for d <= 0 lies in (0, 1]; 1/s for s >= ~1 lies in (0, 1].
EXP_TYPE = FixedType(18, 1, signed=False)
INV_TYPE = FixedType(18, 1, signed=False)


def function_table(
    func: Callable[[np.ndarray], np.ndarray],
    input_type: FixedType,
    value_type: FixedType,
    domain: tuple[float, float],
    size: int,
) -> LookupTable:
    """Tabulate ``func`` over ``domain`` = [lo, hi] (clipped to the input type's range), ``~size`` bins."""
    lo, hi = _clipped_domain(domain, input_type)  # the whole type range may sit outside the domain
    # Bin width: a power of two, at least one LSB of the input.
    span_exp = math.ceil(math.log2((hi - lo) / size))
    bin_exp = max(-input_type.frac, span_exp)
    shift = bin_exp + input_type.frac
    offset = math.floor(lo / 2.0**bin_exp)
    last = math.floor(hi / 2.0**bin_exp) + 1  # hi is inclusive: exp(0) gets its own bin
    n_bins = max(1, last - offset)
    starts = (offset + np.arange(n_bins, dtype=np.float64)) * 2.0**bin_exp
    centres = starts + (2.0**bin_exp - input_type.lsb) / 2.0 if shift > 0 else starts
    # Saturate like the value type would: an AP_SAT_SYM type never holds its most negative code
    # (the C++ reads an entry as table_t and converts it, which would map that code to -max).
    saturation = Overflow.SAT_SYM if value_type.overflow == Overflow.SAT_SYM else Overflow.SAT
    rounding_type = value_type.with_modes(Rounding.RND, saturation)
    values = rounding_type.from_float(func(centres))
    return LookupTable(shift=shift, offset=offset, values=values, value_type=value_type)


def _clipped_domain(domain: tuple[float, float], input_type: FixedType) -> tuple[float, float]:
    lo, hi = max(domain[0], input_type.min_value), min(domain[1], input_type.max_value)
    return (input_type.min_value, input_type.max_value) if hi < lo else (lo, hi)


def activation_table(function: str, input_type: FixedType, result_type: FixedType, size: int) -> LookupTable:
    """The table of the activation ``function`` (one of :data:`~fpga_aware.core.activations.TABLE_FUNCTIONS`)."""
    f = activation(function)
    if not f.uses_table:
        raise ValueError(f"activation {function!r} is computed exactly, not by a table")
    return function_table(f.reference, input_type, result_type, f.domain, size)


def table_range(function: str, input_type: FixedType) -> tuple[float, float]:
    """The smallest and largest value ``function`` takes over its tabulated inputs (the domain
    clipped to ``input_type``'s range, as :func:`function_table` clips it)."""
    f = activation(function)
    lo, hi = _clipped_domain(f.domain, input_type)
    values = f.reference(np.linspace(lo, hi, 4097))
    return float(values.min()), float(values.max())


def softmax_tables(input_type: FixedType, n: int, size: int):
    """``(diff_type, exp_table, sum_type, inv_table)`` of an argmax-preserving softmax over ``n`` inputs.

    Unlike a table of ``exp(x)`` normalised afterwards (hls4ml's), the table is read at
    ``x - max(x) <= 0``, so the largest input always reads the largest entry, every output is
    that entry times the same ``1/sum``, and a larger input can never get a smaller output:
    the argmax cannot flip; only inputs within one bin (1/512 by default) of each other tie.
    """
    diff_type = FixedType(input_type.width + 1, input_type.integer + 1, signed=True)
    exp_table = function_table(np.exp, diff_type, EXP_TYPE, EXP_DOMAIN, size * EXP_TABLE_SCALE)
    max_e = int(exp_table.values.max())
    sum_type = smallest_type_for(0, max_e * n, EXP_TYPE.frac)
    sum_hi = 2.0 ** math.ceil(math.log2(max(n * EXP_TYPE.to_float(max_e), 1.0) + sum_type.lsb))
    inv_table = function_table(
        lambda s: 1.0 / np.maximum(s, 1e-30), sum_type, INV_TYPE, (0.0, sum_hi), size
    )
    return diff_type, exp_table, sum_type, inv_table
