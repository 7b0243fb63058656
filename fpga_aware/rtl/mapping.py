"""How Yosys 0.23's ``synth_xilinx`` maps what the Verilog backend writes (measured rules, read
by the writer's pipeline placement, :mod:`fpga_aware.rtl.pipeline`, and by the Yosys estimate,
:mod:`fpga_aware.cost.yosys`)."""

from __future__ import annotations

__all__ = ["DSP_MIN_PRODUCT_BITS", "constant_product_on_dsp", "naf_digits", "odd_part", "signed_width"]

#: Products narrower than this after ``wreduce`` are built from LUTs (``DSP_Y_MINWIDTH``).
DSP_MIN_PRODUCT_BITS = 9


def signed_width(value: int) -> int:
    """Bits of ``value`` as a signed number (its sign bit included)."""
    value = int(value)
    return (value if value >= 0 else ~value).bit_length() + 1


def odd_part(value: int) -> tuple[int, int]:
    """``value = odd * 2**shift``: ``(odd, shift)``."""
    shift = (value & -value).bit_length() - 1
    return value >> shift, shift


def constant_product_on_dsp(mantissa: int, x_width: int, x_signed: bool) -> bool:
    """Whether Yosys 0.23 maps ``x * mantissa`` (an ``x_width``-bit input) to a DSP48.

    ``mul2dsp`` sees the product after ``wreduce``: the constant loses its trailing zeros (a
    shift of the result) and its redundant sign bits; an unsigned input times a positive
    constant is an unsigned product.  Measured on every constant in -70..70 for 2..8-bit
    inputs, both signednesses (powers of two are shifts; the rest is a DSP exactly when the
    reduced product has at least :data:`DSP_MIN_PRODUCT_BITS` bits)."""
    m = int(mantissa)
    if m == 0:
        return False
    odd, _ = odd_part(m)
    if abs(odd) == 1:
        return False
    if not x_signed and odd > 0:
        return x_width + odd.bit_length() >= DSP_MIN_PRODUCT_BITS
    a = x_width if x_signed else x_width + 1
    return a + signed_width(odd) >= DSP_MIN_PRODUCT_BITS


def naf_digits(value: int) -> int:
    """Nonzero digits of ``value``'s canonical signed-digit (non-adjacent) form."""
    v, digits = abs(int(value)), 0
    while v:
        if v & 1:
            digits += 1
            v = v - 1 if (v & 3) == 1 else v + 1
        v >>= 1
    return digits
