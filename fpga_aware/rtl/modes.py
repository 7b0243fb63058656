"""Fixed-point assignment in Verilog: the numbers the ``requant`` macro of
``templates/rtl/macros.v.j2`` writes one ``OUT_T(in)`` from (ap_fixed's rounding and overflow,
bit for bit as :meth:`fpga_aware.core.fixed.FixedType.requantize`).

Each instance is specialised at export: only the rounding of the bits it drops and only the
overflow checks its input range can need are written, so the RTL (and Verilator's C++) stays
small.
"""

from __future__ import annotations

from fpga_aware.core.fixed import FixedType, Overflow, Rounding

__all__ = ["requant"]

_ROUNDING = {Rounding.TRN: "trn", Rounding.TRN_ZERO: "trn_zero", Rounding.RND: "rnd", Rounding.RND_ZERO: "rnd_zero",
             Rounding.RND_MIN_INF: "rnd_min_inf", Rounding.RND_INF: "rnd_inf", Rounding.RND_CONV: "rnd_conv"}


def requant(in_width: int, in_signed: bool, in_frac: int, to: FixedType) -> dict[str, object]:
    """Parameters of assigning an ``in_width``-bit mantissa (``in_frac`` fractional bits,
    signed if ``in_signed``) to ``to``: widths, the rounding, and the overflow bounds it needs."""
    iw, shift = int(in_width), int(in_frac - to.frac)
    rs, ls = max(shift, 0), max(-shift, 0)
    ew = max(iw + 1, rs + 2) + ls  # the input sign-extended and shifted left: every bit kept
    qw = max(ew - rs + 1, to.width)  # after dropping rs bits and a possible +1 of the rounding; holds the output
    lo_in = -(1 << (iw - 1)) if in_signed else 0
    hi_in = (1 << (iw - 1)) - 1 if in_signed else (1 << iw) - 1
    rounding = _ROUNDING[to.rounding] if rs else "trn"
    q_lo = (lo_in << ls) >> rs
    q_hi = ((hi_in << ls) >> rs) + (0 if rounding == "trn" else 1)
    lo, hi = to.lowest_mantissa, to.max_mantissa
    wrap = to.overflow == Overflow.WRAP
    return {
        "iw": iw, "signed": bool(in_signed), "rs": rs, "ls": ls, "ew": ew, "qw": qw, "ow": to.width,
        "rounding": rounding, "wrap": wrap, "sat_zero": to.overflow == Overflow.SAT_ZERO,
        "check_hi": not wrap and q_hi > hi, "check_lo": not wrap and q_lo < lo,
        "hi": hi, "lo": lo, "hi_bits": hi & ((1 << to.width) - 1), "lo_bits": lo & ((1 << to.width) - 1),
        "cw": qw + 2,
    }
