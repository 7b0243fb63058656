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
from fpga_aware.core.ir import LinearTail, LookupTable

__all__ = [
    "function_table",
    "activation_table",
    "linear_tail",
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


#: At most this many coarser tables follow a cascading function's table (softsign).
MAX_OUTER_TABLES = 3


def activation_table(function: str, input_type: FixedType, result_type: FixedType, size: int,
                     params: dict | None = None) -> LookupTable:
    """The table of the activation ``function`` (one of :data:`~fpga_aware.core.activations.TABLE_FUNCTIONS`).

    A function with a linear tail (:func:`linear_tail`) is tabulated below its threshold only.
    A cascading one (softsign) gets coarser outer tables (:attr:`LookupTable.outer`), each
    domain the widest power-of-two multiple that keeps the error of its bins (outside the finer
    domain) within one result LSB or the fine table's own worst error, whichever is larger; the
    last of at most :data:`MAX_OUTER_TABLES` covers the whole input range.
    """
    f = activation(function)
    if not f.uses_table:
        raise ValueError(f"activation {function!r} is computed exactly, not by a table")
    p = f.params(params)
    func = lambda x: f.reference(x, **p)  # noqa: E731
    lo, hi = f.domain
    tail = linear_tail(function, input_type, result_type, params)
    if tail is not None:  # inputs >= the threshold never read the table
        hi = min(hi, (tail.threshold - 1) * input_type.lsb)
    table = function_table(func, input_type, result_type, (lo, hi), size)
    if f.cascade:
        table.outer = _outer_tables(func, input_type, result_type, (lo, hi), size)
    return table


def _outer_tables(func, input_type: FixedType, result_type: FixedType, domain: tuple[float, float],
                  size: int) -> LookupTable | None:
    """Coarser tables for inputs beyond ``domain`` out to the type's range (None if none is needed)."""
    lo, hi = domain
    if lo <= input_type.min_value and hi >= input_type.max_value:
        return None
    # Each outer table's bins may be as coarse as keeps them within one result LSB, or within
    # the fine table's own worst error (its bin width times the slope near 0), whichever is larger.
    bound = max(result_type.lsb, _worst_error(func, function_table(func, input_type, result_type, domain, size),
                                              input_type, domain=(math.inf, -math.inf)))
    tables: list[LookupTable] = []
    while True:
        last = len(tables) == MAX_OUTER_TABLES - 1
        wider = (input_type.min_value, input_type.max_value)
        scale = 2.0
        while not last:  # the widest power-of-two domain whose bins stay within one LSB
            cand = (max(lo * scale, input_type.min_value), min(hi * scale, input_type.max_value))
            if _worst_error(func, function_table(func, input_type, result_type, cand, size), input_type,
                            domain=(lo, hi)) > bound:
                break
            wider = cand
            if cand == (input_type.min_value, input_type.max_value):
                break
            scale *= 2.0
        if scale == 2.0 and not last:  # not even twice as wide: take it anyway (progress)
            wider = (max(lo * 2, input_type.min_value), min(hi * 2, input_type.max_value))
        tables.append(function_table(func, input_type, result_type, wider, size))
        lo, hi = wider
        if lo <= input_type.min_value and hi >= input_type.max_value:
            break
    for inner, outer in zip(tables, tables[1:]):
        inner.outer = outer
    return tables[0]


def _worst_error(func, table: LookupTable, input_type: FixedType, domain: tuple[float, float]) -> float:
    """Largest ``|f(x) - entry|`` over the bins of ``table`` outside ``domain`` (``f`` monotone
    over each bin: its ends decide)."""
    bin_width = 2.0 ** table.shift * input_type.lsb
    starts = (table.offset + np.arange(table.size)) * bin_width
    ends = starts + bin_width - input_type.lsb
    keep = (ends > domain[1]) | (starts < domain[0])
    values = table.value_type.to_float(table.values)[keep]
    return float(max(np.abs(func(starts[keep]) - values).max(initial=0.0),
                     np.abs(func(ends[keep]) - values).max(initial=0.0)))


def linear_tail(function: str, input_type: FixedType, result_type: FixedType,
                params: dict | None = None) -> LinearTail | None:
    """``function``'s linear part: ``y = result_t(x * slope)`` for ``x >= linear_above``.

    ``None`` when the function has none or no input of ``input_type`` reaches it.  The slope is
    a fixed-point constant exact to within a quarter of a result LSB at the largest input (its
    exact value when it has fewer fractional bits, e.g. 1).
    """
    f = activation(function)
    if f.linear_above is None:
        return None
    threshold = math.ceil(f.linear_above * 2.0**input_type.frac)
    if threshold > input_type.max_mantissa:
        return None
    slope = float(f.slope(**f.params(params)))
    x_max = max(abs(input_type.min_value), abs(input_type.max_value), input_type.lsb)
    frac = max(0, result_type.frac + math.ceil(math.log2(x_max)) + 2)
    m = int(round(slope * 2.0**frac))
    while frac > 0 and m % 2 == 0:
        m //= 2
        frac -= 1
    return LinearTail(threshold=max(threshold, input_type.min_mantissa), slope=m,
                      slope_type=smallest_type_for(min(m, -1), max(m, 0), frac))


def table_range(function: str, input_type: FixedType, params: dict | None = None) -> tuple[float, float]:
    """The smallest and largest value ``function`` takes over its tabulated inputs (the domain
    clipped to ``input_type``'s range, as :func:`function_table` clips it; a cascading
    function's whole range; the linear tail excluded, its casts handle overflow as any cast)."""
    f = activation(function)
    p = f.params(params)
    lo, hi = ((input_type.min_value, input_type.max_value) if f.cascade else _clipped_domain(f.domain, input_type))
    if f.linear_above is not None:
        hi = min(hi, max(lo, f.linear_above))
    values = f.reference(np.linspace(lo, hi, 4097), **p)
    return float(values.min()), float(values.max())


def _exp_domain(diff_type: FixedType, n_bins: int) -> tuple[float, float]:
    """:data:`EXP_DOMAIN` (clipped to ``diff_type``) with its low end raised by one bin when that
    makes the exp table a power of two long.  The table gives ``d = 0`` (the largest input) a
    bin of its own (``function_table``'s ``hi`` is inclusive), so the full domain takes
    ``2**k + 1`` entries: 4,097 for 4,096 bins, one more BRAM18 per copy (65 for 64: block RAM
    instead of LUT ROM).  Inputs below the raised end read the first entry, as inputs below
    :data:`EXP_DOMAIN` always did; the entries themselves are unchanged."""
    lo, hi = _clipped_domain(EXP_DOMAIN, diff_type)
    bin_width = 2.0 ** max(-diff_type.frac, math.ceil(math.log2((hi - lo) / n_bins)))
    last = math.floor(hi / bin_width) + 1
    count = last - math.floor(lo / bin_width)
    if count > 2 and (count - 1) & (count - 2) == 0:
        return (last - (count - 1)) * bin_width, hi
    return lo, hi


def softmax_tables(input_type: FixedType, n: int, size: int):
    """``(diff_type, exp_table, sum_type, inv_table)`` of an argmax-preserving softmax over ``n`` inputs.

    Unlike a table of ``exp(x)`` normalised afterwards (hls4ml's), the table is read at
    ``x - max(x) <= 0``, so the largest input always reads the largest entry, every output is
    that entry times the same ``1/sum``, and a larger input can never get a smaller output:
    the argmax cannot flip; only inputs within one bin (1/512 by default) of each other tie.
    """
    diff_type = FixedType(input_type.width + 1, input_type.integer + 1, signed=True)
    exp_table = function_table(np.exp, diff_type, EXP_TYPE, _exp_domain(diff_type, size * EXP_TABLE_SCALE),
                               size * EXP_TABLE_SCALE)
    max_e = int(exp_table.values.max())
    sum_type = smallest_type_for(0, max_e * n, EXP_TYPE.frac)
    sum_hi = 2.0 ** math.ceil(math.log2(max(n * EXP_TYPE.to_float(max_e), 1.0) + sum_type.lsb))
    inv_table = function_table(
        lambda s: 1.0 / np.maximum(s, 1e-30), sum_type, INV_TYPE, (0.0, sum_hi), size
    )
    return diff_type, exp_table, sum_type, inv_table
