"""Map QKeras quantizers to the fixed-point types that reproduce them bit for bit.

* ``quantized_bits(bits, integer, symmetric, keep_negative, alpha=1|None)``: QKeras computes
  ``clip(round_half_even(x * 2**(bits-keep_negative-integer)), lo, hi)`` — exactly
  ``ap_fixed<bits, integer+keep_negative, AP_RND_CONV, AP_SAT>`` (``AP_SAT_SYM`` when symmetric,
  ``ap_ufixed<bits, integer, ...>`` without ``keep_negative``).
* ``quantized_relu(bits, integer)``: ``ap_ufixed<bits, integer, AP_RND_CONV, AP_SAT>`` applied
  after a ReLU.
* ``quantized_relu(bits, integer, negative_slope=2**-k)`` (``k >= 0``): QKeras computes, with
  ``F = bits - 1 - integer``, ``clip(round_half_even(x * 2**F), 0, 2**(bits-1) - 1)`` for
  ``x >= 0`` and ``clip(round_half_even(x * 2**-k * 2**F), -2**(bits-1-k), 0)`` below, times
  ``2**-F`` — exactly a parametric ReLU (:func:`leaky_relu_quantizer_types`) with result type
  ``ap_fixed<bits, integer+1, AP_RND_CONV, AP_SAT>`` and the negative branch clipped by
  ``ap_fixed<bits-k, integer+1-k, AP_RND_CONV, AP_SAT>``.
* Weight quantizers (``quantized_po2``, ``binary``, ``ternary``, ``quantized_bits`` with an
  ``auto_po2`` scale) are evaluated by QKeras itself on the kernel; the weights are then stored
  in the narrowest type that holds every quantized value exactly — checked, never approximated.

* Step quantizers as activations (``binary``, ``ternary``, ``quantized_tanh``,
  ``quantized_sigmoid`` and the function ``binary_tanh``): each is a monotone staircase of its
  input, so for a given fixed-point input type it *is* its thresholds (the smallest input
  mantissa of each step) and its levels; :func:`staircase` finds them by bisection on QKeras'
  own float32 evaluation of the quantizer, so the firmware's comparisons reproduce QKeras
  bit for bit on every input value the type holds (and a sample of inputs is re-checked).
  ``binary``/``ternary`` with ``alpha='auto'`` scale by statistics of the batch and stochastic
  rounding is random: both are refused as activations.
* ``binary``/``ternary`` kernels accept ``alpha='auto'`` too (a per-output float32 scale
  computed from the kernel alone, hence deterministic): the weights are stored exactly, in the
  narrowest type that holds every scaled value.

Anything else raises :class:`UnsupportedQuantizerError` naming the layer and the quantizer.
"""

from __future__ import annotations

import bisect
import inspect

import numpy as np

from fpga_aware.core.fixed import FixedType, Overflow, Rounding, exact_type_for_values

__all__ = [
    "UnsupportedQuantizerError",
    "activation_quantizer_type",
    "has_negative_slope",
    "leaky_relu_quantizer_types",
    "quantized_weights",
    "step_quantizer",
    "staircase",
    "STEP_QUANTIZERS",
]

SUPPORTED_WEIGHT_QUANTIZERS = ("quantized_bits", "quantized_po2", "binary", "ternary", "binary_tanh")
#: Activation quantizers that are a monotone staircase of their input (an IR ``step`` layer).
STEP_QUANTIZERS = ("binary", "ternary", "quantized_tanh", "quantized_sigmoid", "binary_tanh")
SUPPORTED_ACTIVATION_QUANTIZERS = ("quantized_bits", "quantized_relu", *STEP_QUANTIZERS)


class UnsupportedQuantizerError(ValueError):
    """A QKeras quantizer (or one of its options) has no bit-exact fixed-point equivalent here."""


def _quantizer_name(quantizer) -> str:
    if inspect.isfunction(quantizer):  # QKeras' binary_tanh is a function, not a class
        return quantizer.__name__
    return type(quantizer).__name__


def _alpha_is_unit(alpha) -> bool:
    if alpha is None:
        return True
    if isinstance(alpha, str):
        return False
    return bool(np.all(np.asarray(alpha, dtype=np.float64) == 1.0))


def _check_common(quantizer, where: str) -> None:
    if getattr(quantizer, "use_stochastic_rounding", False):
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} uses stochastic rounding, which has no deterministic firmware equivalent"
        )


def quantized_bits_type(quantizer, where: str) -> FixedType:
    """The exact type of a ``quantized_bits`` quantizer with unit scale."""
    _check_common(quantizer, where)
    if not _alpha_is_unit(quantizer.alpha):
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} has alpha={quantizer.alpha!r}; as an activation quantizer only "
            "alpha=1 or alpha=None is supported (weights accept alpha='auto_po2')"
        )
    bits = int(quantizer.bits)
    integer = int(np.asarray(quantizer.integer))
    keep_negative = bool(quantizer.keep_negative)
    if bits - keep_negative <= 0:
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} is a sign-only quantizer; use binary() for 1-bit values"
        )
    overflow = Overflow.SAT_SYM if (quantizer.symmetric and keep_negative) else Overflow.SAT
    return FixedType(bits, integer + keep_negative, keep_negative, Rounding.RND_CONV, overflow)


def activation_quantizer_type(quantizer, where: str) -> tuple[str, FixedType]:
    """``(function, result_type)`` of a QActivation quantizer: function is 'relu' or 'linear'."""
    name = _quantizer_name(quantizer)
    if name == "quantized_relu":
        _check_common(quantizer, where)
        if quantizer.negative_slope != 0.0 or quantizer.use_sigmoid or quantizer.relu_upper_bound is not None:
            raise UnsupportedQuantizerError(
                f"{where}: {quantizer} uses negative_slope/use_sigmoid/relu_upper_bound, which are not supported"
            )
        bits = int(quantizer.bits)
        integer = int(np.asarray(quantizer.integer))
        return "relu", FixedType(bits, integer, False, Rounding.RND_CONV, Overflow.SAT)
    if name == "quantized_bits":
        return "linear", quantized_bits_type(quantizer, where)
    raise UnsupportedQuantizerError(
        f"{where}: activation quantizer {name} is not supported; supported: "
        f"{', '.join(SUPPORTED_ACTIVATION_QUANTIZERS)}"
    )


def has_negative_slope(quantizer) -> bool:
    """A ``quantized_relu`` with a nonzero ``negative_slope`` (a parametric ReLU, not a ReLU)."""
    return _quantizer_name(quantizer) == "quantized_relu" and float(getattr(quantizer, "negative_slope", 0.0)) != 0.0


def leaky_relu_quantizer_types(quantizer, where: str) -> tuple[float, FixedType, FixedType, FixedType | None]:
    """``(slope, result_type, alpha_type, negative_type)`` of ``quantized_relu(..., negative_slope=s)``.

    Bit-exact for ``s = 2**-k``, ``0 <= k <= bits - 1`` (see the module notes); ``negative_type``
    is ``None`` when ``s == 1`` (the result type's own clip is QKeras' then).
    """
    _check_common(quantizer, where)
    if quantizer.use_sigmoid or quantizer.relu_upper_bound is not None:
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} uses use_sigmoid/relu_upper_bound, which are not supported"
        )
    if float(getattr(quantizer, "qnoise_factor", 1.0)) != 1.0:
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} has qnoise_factor={quantizer.qnoise_factor!r}; only 1.0 (fully quantized) "
            "has a fixed-point equivalent"
        )
    slope = float(quantizer.negative_slope)
    bits = int(quantizer.bits)
    integer = int(np.asarray(quantizer.integer))
    mant, exp = np.frexp(slope)
    k = 1 - int(exp)  # slope = 2**-k when mant == 0.5
    if mant != 0.5 or k < 0 or k > bits - 1:
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} has negative_slope={slope!r}; supported: a power of two 2**-k with "
            f"0 <= k <= bits - 1 = {bits - 1} (1, 0.5, 0.25, ...)"
        )
    result_type = FixedType(bits, integer + 1, True, Rounding.RND_CONV, Overflow.SAT)
    alpha_type = FixedType(1, 1 - k, False)  # mantissa 1: exactly 2**-k
    negative_type = None if k == 0 else FixedType(bits - k, integer + 1 - k, True, Rounding.RND_CONV, Overflow.SAT)
    return slope, result_type, alpha_type, negative_type


def quantized_weights(quantizer, values: np.ndarray, where: str) -> tuple[np.ndarray, FixedType]:
    """Apply a QKeras weight quantizer to ``values``; return (quantized floats, exact type)."""
    name = _quantizer_name(quantizer)
    if name not in SUPPORTED_WEIGHT_QUANTIZERS:
        raise UnsupportedQuantizerError(
            f"{where}: weight quantizer {name} is not supported; supported: {', '.join(SUPPORTED_WEIGHT_QUANTIZERS)}"
        )
    _check_common(quantizer, where)
    if name == "quantized_bits" and isinstance(quantizer.alpha, str) and quantizer.alpha != "auto_po2":
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} uses alpha={quantizer.alpha!r} (a non-power-of-two scale); "
            "only alpha=1, None or 'auto_po2' can be represented exactly in fixed point"
        )
    if name in ("binary", "ternary") and not _alpha_is_unit(getattr(quantizer, "alpha", None)):
        alpha = quantizer.alpha
        if alpha not in ("auto_po2", "auto"):
            raise UnsupportedQuantizerError(
                f"{where}: {quantizer} uses alpha={alpha!r}; only alpha=1, None, 'auto' or 'auto_po2' are supported"
            )
    quantized = np.asarray(quantizer(np.asarray(values, dtype=np.float32)), dtype=np.float64)
    if not np.all(np.isfinite(quantized)):
        raise UnsupportedQuantizerError(f"{where}: {quantizer} produced NaN or infinite weights")
    if name == "quantized_bits" and _alpha_is_unit(quantizer.alpha) and int(quantizer.bits) - quantizer.keep_negative > 0:
        nominal = quantized_bits_type(quantizer, where)
        if np.all(nominal.represents(quantized)):
            return quantized, nominal.with_modes(Rounding.TRN, Overflow.WRAP)
    return quantized, exact_type_for_values(quantized)


# ---------------------------------------------------------------------------- step quantizers
def step_quantizer(quantizer, where: str) -> str | None:
    """The description of a step quantizer (``"ternary(threshold=0.2)"``), ``None`` for others.

    Raises :class:`UnsupportedQuantizerError` for a step quantizer with no deterministic
    per-value equivalent (stochastic rounding; ``alpha='auto'``, a scale from the batch).
    """
    name = _quantizer_name(quantizer)
    if name not in STEP_QUANTIZERS:
        return None
    if inspect.isfunction(quantizer):
        return name
    _check_common(quantizer, where)
    if name in ("binary", "ternary") and isinstance(getattr(quantizer, "alpha", None), str):
        raise UnsupportedQuantizerError(
            f"{where}: {quantizer} as an activation scales by alpha={quantizer.alpha!r}, computed from "
            "each batch; only a fixed alpha (or None) has a firmware equivalent"
        )
    if name == "ternary" and isinstance(quantizer.threshold, str):
        raise UnsupportedQuantizerError(f"{where}: {quantizer} uses threshold={quantizer.threshold!r}")
    return str(quantizer)


def _evaluator(quantizer, frac: int):
    def values_at(mantissas) -> np.ndarray:
        x = np.ldexp(np.array([float(m) for m in mantissas], dtype=np.float64), -frac)
        out = np.asarray(quantizer(x.astype(np.float32)), dtype=np.float64).ravel()
        if not np.all(np.isfinite(out)):
            raise UnsupportedQuantizerError(f"{quantizer} produced NaN or infinite values")
        return out

    return values_at


def staircase(quantizer, in_type: FixedType, where: str) -> tuple[list[int], np.ndarray]:
    """``(thresholds, levels)`` of a monotone step quantizer on the values of ``in_type``.

    ``thresholds`` are ascending input mantissas (Python ints), ``levels`` the float outputs
    (one more): the quantizer's output at an input of mantissa ``m`` is ``levels[k]``, ``k`` the
    number of thresholds ``<= m``.  Found by bisection on QKeras' float32 evaluation of the
    quantizer over ``[min_mantissa, max_mantissa]``, then checked on a sample of inputs.
    """
    values_at = _evaluator(quantizer, in_type.frac)
    lo, hi = int(in_type.min_mantissa), int(in_type.max_mantissa)
    f_lo, f_hi = values_at([lo, hi])
    pending = [(lo, hi, f_lo, f_hi)] if f_lo != f_hi else []
    changes: list[tuple[int, float]] = []
    while pending:  # intervals whose ends differ: split until the change is between neighbours
        mids = [(a + b) // 2 for a, b, _, _ in pending if b - a > 1]
        mid_values = iter(values_at(mids)) if mids else iter(())
        split = []
        for a, b, fa, fb in pending:
            if b - a == 1:
                changes.append((b, fb))
                continue
            m, fm = (a + b) // 2, next(mid_values)
            if fm != fa:
                split.append((a, m, fa, fm))
            if fm != fb:
                split.append((m, b, fm, fb))
        pending = split
    changes.sort()
    thresholds = [m for m, _ in changes]
    levels = np.array([f_lo, *(v for _, v in changes)], dtype=np.float64)
    if np.any(np.diff(levels) <= 0):
        raise UnsupportedQuantizerError(f"{where}: {quantizer} is not monotone on {in_type.cpp()} inputs")
    # Re-check on a sample (the bisection assumes monotonicity): evenly spaced and every step edge.
    span = hi - lo
    sample = sorted({lo + span * i // 4096 for i in range(4097)} | {t for t in thresholds}
                    | {t - 1 for t in thresholds})
    expected = levels[[bisect.bisect_right(thresholds, m) for m in sample]]
    if not np.array_equal(values_at(sample), expected):
        raise UnsupportedQuantizerError(f"{where}: {quantizer} is not a monotone staircase on {in_type.cpp()} inputs")
    return thresholds, levels
