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

Anything else raises :class:`UnsupportedQuantizerError` naming the layer and the quantizer.
"""

from __future__ import annotations

import numpy as np

from fpga_aware.core.fixed import FixedType, Overflow, Rounding, exact_type_for_values

__all__ = [
    "UnsupportedQuantizerError",
    "activation_quantizer_type",
    "has_negative_slope",
    "leaky_relu_quantizer_types",
    "quantized_weights",
]

SUPPORTED_WEIGHT_QUANTIZERS = ("quantized_bits", "quantized_po2", "binary", "ternary")
SUPPORTED_ACTIVATION_QUANTIZERS = ("quantized_bits", "quantized_relu")


class UnsupportedQuantizerError(ValueError):
    """A QKeras quantizer (or one of its options) has no bit-exact fixed-point equivalent here."""


def _quantizer_name(quantizer) -> str:
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
        if alpha != "auto_po2":
            raise UnsupportedQuantizerError(
                f"{where}: {quantizer} uses alpha={alpha!r}; only alpha=1, None or 'auto_po2' are supported"
            )
    quantized = np.asarray(quantizer(np.asarray(values, dtype=np.float32)), dtype=np.float64)
    if not np.all(np.isfinite(quantized)):
        raise UnsupportedQuantizerError(f"{where}: {quantizer} produced NaN or infinite weights")
    if name == "quantized_bits" and _alpha_is_unit(quantizer.alpha) and int(quantizer.bits) - quantizer.keep_negative > 0:
        nominal = quantized_bits_type(quantizer, where)
        if np.all(nominal.represents(quantized)):
            return quantized, nominal.with_modes(Rounding.TRN, Overflow.WRAP)
    return quantized, exact_type_for_values(quantized)
