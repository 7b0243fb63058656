"""Fixed-point arithmetic with the exact semantics of Xilinx ``ap_fixed`` / ``ap_ufixed`` / ``ap_int``.

This is the only module that knows about widths, rounding and overflow.  A value of a
:class:`FixedType` is held as its integer *mantissa* ``m`` (an ``int64`` numpy array):
the real value is ``m * 2**-frac``.  Everything the emulator computes goes through
:meth:`FixedType.from_float` (e.g. inputs) and :meth:`FixedType.requantize` (a value of
another fixed-point type assigned to this one), which follow ``ap_fixed``'s order:
first quantisation of the dropped fractional bits (rounding mode), then overflow handling
of the integer part (overflow mode).

Rounding modes (ties only matter for the ``AP_RND*`` family):

============== ============================================================
AP_TRN          truncate toward minus infinity (floor) — the default
AP_TRN_ZERO     truncate toward zero
AP_RND          round to nearest, ties toward plus infinity
AP_RND_ZERO     round to nearest, ties toward zero
AP_RND_MIN_INF  round to nearest, ties toward minus infinity
AP_RND_INF      round to nearest, ties away from zero
AP_RND_CONV     round to nearest, ties to even (convergent)
============== ============================================================

Overflow modes: ``AP_WRAP`` (two's complement wrap, the default), ``AP_SAT`` (clamp to
the range), ``AP_SAT_ZERO`` (an overflowing value becomes 0) and ``AP_SAT_SYM`` (clamp
to the symmetric range ``[-max, max]`` for signed types: like Xilinx's, a signed result never
takes the most negative code).  ``AP_WRAP_SM`` and saturation
bits ``N > 0`` are rejected with a clear error.

Widths go up to :data:`MAX_WIDTH` (1024, ``ap_fixed``'s ``AP_INT_MAX_W``).  Mantissas of types
up to :data:`INT64_WIDTH` bits are ``int64`` arrays; wider types use numpy object arrays of
Python ints, so every value stays exact end to end (no float64 in between).

Conversions from ``double`` are exact for every finite double: a double is ``M * 2**E`` with an
integer ``M`` of at most 53 bits, and whenever the float64 fast path could round (huge values,
values scaled below the smallest normal double, types wider than 53 bits) the element is
converted from ``(M, E)`` with integer arithmetic instead.  Like ``ap_fixed``'s constructor,
a subnormal double is read with the implicit leading one (as ``(2**52 + raw) * 2**-1075``);
that only matters for types with more than 1021 fractional bits.

``AP_SAT_SYM`` on a signed type of at least two bits: ``ap_fixed`` maps the most negative code
to ``-max`` on every conversion that could produce it, so such a type never holds it (its
values span ``[-max, max]``).  A 1-bit signed ``AP_SAT_SYM`` type behaves as ``AP_SAT``
(``-max`` would be 0; ``ap_fixed`` keeps the code ``-1``).  Every decision is taken per value:
no result depends on the other values of the batch.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, replace

import numpy as np

__all__ = [
    "INT64_WIDTH",
    "MAX_WIDTH",
    "FixedType",
    "Overflow",
    "PrecisionError",
    "Rounding",
    "parse_precision",
]

#: Largest width supported: ap_fixed's default ``AP_INT_MAX_W``.
MAX_WIDTH = 1024
#: Types up to this width hold their mantissas in ``int64`` arrays (sums and products of two
#: such values are checked before they are formed in int64); wider types use object arrays of
#: Python ints.
INT64_WIDTH = 62
#: Fast float64 paths are taken only for types with at most this many fractional (or integer)
#: bits, so that no scaling of an internal value can underflow below the normal doubles.
FLOAT_MAX_FRAC = 500


class PrecisionError(ValueError):
    """A precision string or fixed-point type is invalid or unsupported."""


class Rounding(str, enum.Enum):
    """Quantisation (rounding) modes of ``ap_fixed``."""

    TRN = "AP_TRN"
    TRN_ZERO = "AP_TRN_ZERO"
    RND = "AP_RND"
    RND_ZERO = "AP_RND_ZERO"
    RND_MIN_INF = "AP_RND_MIN_INF"
    RND_INF = "AP_RND_INF"
    RND_CONV = "AP_RND_CONV"


class Overflow(str, enum.Enum):
    """Overflow (saturation) modes of ``ap_fixed``."""

    WRAP = "AP_WRAP"
    SAT = "AP_SAT"
    SAT_ZERO = "AP_SAT_ZERO"
    SAT_SYM = "AP_SAT_SYM"


_ROUNDING_NAMES = ", ".join(r.value for r in Rounding)
_OVERFLOW_NAMES = ", ".join(o.value for o in Overflow)

_PRECISION_RE = re.compile(
    r"^\s*(?P<kind>ap_fixed|ap_ufixed|ap_int|ap_uint)\s*<\s*(?P<args>[^<>]*)>\s*$"
)


@dataclass(frozen=True)
class FixedType:
    """An ``ap_fixed<width, integer, rounding, overflow>`` (or unsigned / integer) type.

    ``integer`` counts the integer bits *including* the sign bit for signed types, as in
    ``ap_fixed``; it may be negative or larger than ``width``.
    """

    width: int
    integer: int
    signed: bool = True
    rounding: Rounding = Rounding.TRN
    overflow: Overflow = Overflow.WRAP

    def __post_init__(self) -> None:
        if not isinstance(self.width, (int, np.integer)) or isinstance(self.width, bool):
            raise PrecisionError(f"fixed-point width must be an integer, got {self.width!r}")
        if not isinstance(self.integer, (int, np.integer)) or isinstance(self.integer, bool):
            raise PrecisionError(f"fixed-point integer bits must be an integer, got {self.integer!r}")
        if not 1 <= self.width <= MAX_WIDTH:
            raise PrecisionError(
                f"fixed-point width {self.width} is outside the supported range 1..{MAX_WIDTH}"
            )
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "integer", int(self.integer))
        object.__setattr__(self, "rounding", Rounding(self.rounding))
        object.__setattr__(self, "overflow", Overflow(self.overflow))

    # ------------------------------------------------------------------ properties
    @property
    def frac(self) -> int:
        """Number of fractional bits (may be negative)."""
        return self.width - self.integer

    @property
    def lsb(self) -> float:
        return math.ldexp(1.0, -self.frac)

    @property
    def min_mantissa(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_mantissa(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def min_value(self) -> float:
        return _ldexp_int(self.min_mantissa, -self.frac)

    @property
    def max_value(self) -> float:
        return _ldexp_int(self.max_mantissa, -self.frac)

    @property
    def is_integer(self) -> bool:
        return self.frac == 0

    @property
    def uses_int64(self) -> bool:
        """Mantissas of this type are ``int64`` arrays (else object arrays of Python ints)."""
        return self.width <= INT64_WIDTH

    @property
    def float_exact(self) -> bool:
        """Every value is a float64 and the fast float paths may carry it (<= 53 bits, moderate scale)."""
        return self.width <= 53 and abs(self.frac) <= FLOAT_MAX_FRAC

    @property
    def lowest_mantissa(self) -> int:
        """The most negative mantissa a conversion to this type can give (``-max`` for ``AP_SAT_SYM``)."""
        if self.overflow == Overflow.SAT_SYM and self.signed and self.width > 1:
            return -self.max_mantissa
        return self.min_mantissa

    # ------------------------------------------------------------------ text forms
    def cpp(self) -> str:
        """The C++ type, e.g. ``ap_fixed<16,6>`` or ``ap_ufixed<8,0,AP_RND_CONV,AP_SAT>``."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        args = [str(self.width), str(self.integer)]
        if self.rounding != Rounding.TRN or self.overflow != Overflow.WRAP:
            args.append(self.rounding.value)
        if self.overflow != Overflow.WRAP:
            args.append(self.overflow.value)
        return f"{base}<{','.join(args)}>"

    def __str__(self) -> str:
        return self.cpp()

    # ------------------------------------------------------------------ derived types
    def with_modes(self, rounding: Rounding | str | None = None, overflow: Overflow | str | None = None) -> "FixedType":
        return replace(
            self,
            rounding=Rounding(rounding) if rounding is not None else self.rounding,
            overflow=Overflow(overflow) if overflow is not None else self.overflow,
        )

    def contains(self, other: "FixedType") -> bool:
        """True when assigning any value of ``other`` to this type keeps it unchanged.

        Every value of ``other`` is exactly representable here (and, for an ``AP_SAT_SYM``
        type, is not its most negative code, which ``ap_fixed`` maps to ``-max``).
        """
        if other.frac > self.frac:
            return False
        shift = self.frac - other.frac
        return (
            other.min_mantissa << shift >= self.lowest_mantissa
            and other.max_mantissa << shift <= self.max_mantissa
        )

    # ------------------------------------------------------------------ conversions
    def from_float(self, values) -> np.ndarray:
        """Convert real numbers to mantissas as ``ap_fixed``'s constructor from ``double`` does.

        Exact for every finite double and every width (see the module notes); NaN and infinity
        raise.  Returns ``int64`` mantissas for types up to :data:`INT64_WIDTH` bits, else an
        object array of Python ints.
        """
        x = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(x)):
            raise PrecisionError(f"cannot convert NaN or infinity to {self.cpp()}")
        if self.width <= 53:
            return self.mantissas_float(x).astype(np.int64)
        return self._narrowed(self._from_double_exact(x))

    def round_values(self, values: np.ndarray) -> np.ndarray:
        """The real values this type holds after assigning ``values`` (float64 in, float64 out).

        Same semantics as :meth:`from_float`, exact for every finite double while the type is
        at most 53 bits wide (wider types: the nearest doubles of the exact results).  The
        emulator's fast path is built on it.
        """
        x = np.asarray(values, dtype=np.float64)
        if self.width > 53:
            return self.to_float(self._from_double_exact(x))
        mantissas = self.mantissas_float(x)
        mantissas *= self._scale_down  # in place: a fresh array already
        return mantissas

    def relu_values(self, values: np.ndarray) -> np.ndarray:
        """``round_values(max(values, 0))`` with a single temporary.

        Every rounding mode is monotone and maps 0 to 0, so rounding first and clamping at 0
        afterwards gives the same values; only the upper bound can then overflow.
        """
        rounded = round_float(values * self._scale_up, self.rounding, in_place=True)
        np.maximum(rounded, 0.0, out=rounded)
        if rounded.size:
            top = rounded.max()
            if not top < _FLOAT_SAFE:  # huge (or inf): those elements exactly, per value
                rounded = self._exact_where_unsafe(rounded, np.maximum(values, 0.0))
            elif top > self.max_mantissa:
                rounded = self._overflow_float(rounded, 0.0, top)
        rounded *= self._scale_down
        return rounded

    def cast_values(self, values: np.ndarray, source: "FixedType") -> np.ndarray:
        """:meth:`round_values` for values known to be of type ``source``, skipping what cannot happen.

        Identity when ``source`` fits in this type; no overflow handling when only the
        fractional bits shrink.
        """
        if self.contains(source):
            return values
        if self._range_contains(source) and self.frac <= source.frac and source.width <= 53:
            # |values * 2**frac| < 2**53: rounding is exact and nothing can overflow
            rounded = round_float(values * self._scale_up, self.rounding, in_place=True)
            rounded *= self._scale_down
            return rounded
        return self.round_values(values)

    def _range_contains(self, other: "FixedType") -> bool:
        """Every value of ``other``, rounded to this type's LSB, lies in this type's range."""
        shift = self.frac - other.frac
        if shift >= 0:
            lo, hi = other.min_mantissa << shift, other.max_mantissa << shift
        else:
            lo, hi = other.min_mantissa >> -shift, -((-other.max_mantissa) >> -shift)  # floor, ceil
        return lo >= self.lowest_mantissa and hi <= self.max_mantissa

    @property
    def _scale_up(self) -> float:
        return math.ldexp(1.0, self.frac)

    @property
    def _scale_down(self) -> float:
        return math.ldexp(1.0, -self.frac)

    def mantissas_float(self, x: np.ndarray) -> np.ndarray:
        """Rounded, overflow-handled mantissas as a fresh float64 array (types up to 53 bits).

        The float64 arithmetic is exact while ``|x * 2**frac| < 2**52`` and the scaling neither
        overflows nor falls below the normal doubles; the elements where that does not hold are
        converted exactly from their integer mantissa and exponent instead (per value).
        """
        with np.errstate(over="ignore"):  # an overflow to inf is caught below, per value
            scaled = x * self._scale_up  # exact: a power-of-two scaling (checked below)
        rounded = round_float(scaled, self.rounding, in_place=True)
        if rounded.size == 0:
            return rounded
        lo, hi = rounded.min(), rounded.max()
        tiny = None
        if self.frac < 0:
            # x * 2**frac may fall below the normal doubles and lose its sign: already at
            # frac = -1, where -2**-1074 / 2 is a tie that rounds to -0.0 (ap_fixed's AP_TRN
            # gives -1 LSB)
            tiny = np.abs(x) < math.ldexp(1.0, -1021 - self.frac)
        elif self.frac > 1000:  # ap_fixed reads subnormal doubles with the implicit one
            tiny = np.abs(x) < _DOUBLE_MIN_NORMAL
        if tiny is not None:
            tiny &= x != 0
            if not tiny.any():
                tiny = None
        if tiny is None and -_FLOAT_SAFE < lo and hi < _FLOAT_SAFE:  # (False for NaN)
            return self._overflow_float(rounded, lo, hi)
        return self._exact_where_unsafe(rounded, x, tiny)

    def _exact_where_unsafe(self, rounded: np.ndarray, x: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """``rounded`` (float mantissas of ``x``) with overflow handled; elements outside the exact
        float range (or marked in ``extra``) recomputed from ``x`` with integer arithmetic."""
        unsafe = ~(np.abs(rounded) < _FLOAT_SAFE)
        if extra is not None:
            unsafe |= extra
        rounded[unsafe] = 0.0
        out = self._overflow_float(rounded, rounded.min(), rounded.max())
        exact = self._from_double_exact(x[unsafe])
        out[unsafe] = exact.astype(np.float64)  # overflow-handled mantissas: <= 53 bits, exact
        return out

    def _from_double_exact(self, x: np.ndarray) -> np.ndarray:
        """Mantissas (object array of Python ints, overflow handled) of finite doubles ``x``.

        ``x = M * 2**E`` exactly (``np.frexp``); the target mantissa is ``M * 2**(E + frac)``
        rounded, computed on integers: a right shift with the rounding mode, or a left shift
        capped at ``width + 1`` bits (which changes no wrap, saturation or sign).
        """
        x = np.asarray(x, dtype=np.float64)
        mant, exp = np.frexp(x)
        m = np.ldexp(mant, 53).astype(np.int64)  # |m| < 2**53, exact
        k = exp.astype(np.int64) - 53 + self.frac
        subnormal = (x != 0) & (np.abs(x) < _DOUBLE_MIN_NORMAL)
        if subnormal.any():  # as ap_fixed reads them: biased exponent 0 -> 2**-1023 * 1.raw
            raw = np.ldexp(np.abs(x[subnormal]), 1074).astype(np.int64)
            m[subnormal] = np.where(x[subnormal] < 0, -1, 1) * ((np.int64(1) << 52) + raw)
            k[subnormal] = -1075 + self.frac
        q = np.empty(x.shape, dtype=object)
        right = k < 0
        if right.any():
            shifts = np.minimum(-k[right], 60)  # beyond 55 bits: |value| < 1/4, same result
            q[right] = _shift_right_rounded(m[right], shifts, self.rounding).astype(object)
        left = ~right
        if left.any():
            shifts = np.minimum(k[left], self.width + 1)
            q[left] = m[left].astype(object) << shifts.astype(object)
        return self.apply_overflow(q)

    def _narrowed(self, q: np.ndarray) -> np.ndarray:
        """Mantissas of this type in its storage: int64 up to :data:`INT64_WIDTH` bits, else object."""
        if self.uses_int64:
            return q.astype(np.int64) if q.dtype != np.int64 else q
        return q if q.dtype == object else q.astype(object)

    def requantize(self, mantissa, frac: int) -> np.ndarray:
        """Assign values held as mantissas with ``frac`` fractional bits to this type.

        ``mantissa`` is an integer array of the *source* values: ``int64`` (any value below
        2**62 in magnitude) or an object array of Python ints (any width).  Returns the
        mantissas of this type (``int64`` or object, see :attr:`uses_int64`).
        """
        m = np.asarray(mantissa)
        if m.dtype != object:
            m = m.astype(np.int64, copy=False)
            if not self.uses_int64:
                m = m.astype(object)
        shift = frac - self.frac
        if shift > 0:
            q = _shift_right_rounded(m, shift, self.rounding)
        elif shift < 0:
            q = _shift_left_checked(m, -shift, self)
        else:
            q = m
        return self._narrowed(self.apply_overflow(q))

    def to_float(self, mantissa) -> np.ndarray:
        """The real values of mantissas of this type as float64.

        Exact up to 53 bits; wider mantissas are rounded to the nearest double, ties to even,
        as ``ap_fixed::to_double`` does.
        """
        m = np.asarray(mantissa)
        if m.dtype == object:
            return np.array([_ldexp_int(int(v), -self.frac) for v in m.ravel()], dtype=np.float64).reshape(m.shape)
        return np.ldexp(m.astype(np.float64), -self.frac)

    def represents(self, values) -> np.ndarray:
        """Boolean mask: which real values are exactly representable in this type."""
        x = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(x)
        probe = self.with_modes(Rounding.TRN, Overflow.SAT)
        q = probe.from_float(np.where(ok, x, 0.0))
        return ok & _equals_exactly(probe, q, x)

    # ------------------------------------------------------------------ overflow
    def apply_overflow(self, q: np.ndarray, lo_seen=None, hi_seen=None) -> np.ndarray:
        """Apply this type's overflow mode to integer mantissas already at this type's scale.

        Per value: mantissas in range are kept (an ``AP_SAT_SYM`` type maps its most negative
        code to ``-max``).  Works on ``int64`` and object arrays; returns the same kind.
        """
        lo, hi = self.lowest_mantissa, self.max_mantissa
        if q.size == 0:
            return q
        if lo_seen is None:
            lo_seen, hi_seen = q.min(), q.max()
        if lo_seen >= lo and hi_seen <= hi:
            return q
        if self.overflow == Overflow.WRAP:
            lo = self.min_mantissa
            return ((q - lo) & ((1 << self.width) - 1)) + lo
        if self.overflow == Overflow.SAT_ZERO:
            zero = np.int64(0) if q.dtype != object else 0
            return np.where((q < lo) | (q > hi), zero, q)
        # SAT and SAT_SYM (lo is -max for a signed SAT_SYM type)
        if q.dtype == object:
            return np.minimum(np.maximum(q, lo), hi)
        return np.clip(q, lo, hi)

    def _overflow_float(self, rounded: np.ndarray, lo_seen: float, hi_seen: float) -> np.ndarray:
        """Overflow handling on integral float64 mantissas below 2**52 in magnitude (exact); float64.

        ``lo_seen`` / ``hi_seen`` are ``rounded.min()`` / ``rounded.max()``.
        """
        lo, hi = float(self.lowest_mantissa), float(self.max_mantissa)
        if lo_seen >= lo and hi_seen <= hi:
            return rounded
        if self.overflow == Overflow.WRAP:
            # rounded - span * floor((rounded - lo) / span), every step exact: integral values
            # below 2**53 and power-of-two scalings (faster than fmod and a select)
            lo = float(self.min_mantissa)
            wraps = rounded - lo
            wraps *= math.ldexp(1.0, -self.width)
            np.floor(wraps, out=wraps)
            wraps *= math.ldexp(1.0, self.width)
            np.subtract(rounded, wraps, out=wraps)
            return wraps
        if self.overflow == Overflow.SAT_ZERO:
            return np.where((rounded > hi) | (rounded < lo), 0.0, rounded)
        return np.clip(rounded, lo, hi)  # SAT, SAT_SYM


_FLOAT_INTEGRAL = 2.0**52  # float64 values at least this large are integers already
_FLOAT_SAFE = 2.0**52  # below this magnitude, rounding and wrapping float mantissas is exact
_DOUBLE_MIN_NORMAL = 2.0**-1022


def _ldexp_int(m: int, exponent: int) -> float:
    """``m * 2**exponent`` rounded to the nearest double, ties to even (``ap_fixed::to_double``)."""
    m = int(m)
    if m == 0:
        return 0.0
    magnitude = abs(m)
    extra = magnitude.bit_length() - 64
    if extra > 0:  # keep 64 bits and a sticky bit: float() then rounds exactly once
        sticky = 1 if magnitude & ((1 << extra) - 1) else 0
        magnitude = (magnitude >> extra) | sticky
        exponent += extra
    value = float(np.ldexp(float(magnitude), exponent))
    return -value if m < 0 else value


def _equals_exactly(t: FixedType, q: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Elementwise: the exact value of mantissa ``q`` of ``t`` equals the finite double ``x``."""
    if t.width <= 53 and abs(t.frac) <= FLOAT_MAX_FRAC:
        return t.to_float(q) == x
    f = t.frac
    out = []
    for v, m in zip(x.ravel().tolist(), q.ravel().tolist()):
        num, den = v.as_integer_ratio() if math.isfinite(v) else (1, 0)
        # v == m * 2**-f  <=>  num * 2**f == m * den
        out.append(den != 0 and (num << f == int(m) * den if f >= 0 else num == (int(m) * den) << -f))
    return np.array(out, dtype=bool).reshape(x.shape)


def round_float(scaled: np.ndarray, rounding: Rounding, in_place: bool = False) -> np.ndarray:
    """Round exactly-scaled float64 values to integers (as floats) with an ap_fixed rounding mode.

    ``in_place=True`` may overwrite ``scaled`` (a temporary of the caller's).
    """
    out = scaled if in_place and isinstance(scaled, np.ndarray) and scaled.ndim else None
    if rounding == Rounding.TRN:
        return np.floor(scaled, out=out)
    if rounding == Rounding.TRN_ZERO:
        return np.trunc(scaled, out=out)
    if rounding == Rounding.RND_CONV:
        return np.rint(scaled, out=out)  # IEEE round-half-even, exact
    small = np.abs(scaled) < _FLOAT_INTEGRAL  # there, +-0.5 is exact
    if rounding == Rounding.RND:
        rounded = np.floor(scaled + 0.5)
    elif rounding == Rounding.RND_MIN_INF:
        rounded = np.ceil(scaled - 0.5)
    elif rounding == Rounding.RND_INF:
        rounded = np.copysign(np.floor(np.abs(scaled) + 0.5), scaled)
    elif rounding == Rounding.RND_ZERO:
        rounded = np.copysign(np.ceil(np.abs(scaled) - 0.5), scaled)
    else:  # pragma: no cover - enum is closed
        raise PrecisionError(f"unknown rounding mode {rounding!r}")
    return np.where(small, rounded, scaled) + 0.0  # + 0.0 turns -0.0 into 0.0



__all__ += ["rounded_mantissas", "round_float"]


def rounded_mantissas(values, t: FixedType) -> np.ndarray:
    """``values`` scaled to ``t``'s mantissa units and rounded with its rounding mode, as float64,
    before any overflow handling (a value outside ``t`` gives a mantissa outside its range)."""
    return round_float(np.ldexp(np.asarray(values, dtype=np.float64), t.frac), t.rounding)

def _shift_right_rounded(m: np.ndarray, shift, rounding: Rounding) -> np.ndarray:
    """``m / 2**shift`` rounded to an integer with an ap_fixed rounding mode (exact integer arithmetic).

    ``m``: int64 (``|m| < 2**62``) or an object array of Python ints.  ``shift``: a positive
    int, or (int64 ``m`` only) an int64 array of shifts between 1 and 60.
    """
    if isinstance(shift, np.ndarray):
        half = np.left_shift(np.int64(1), shift - 1)
    elif m.dtype != object and shift >= 63:  # |m| < 2**62 <= 2**(shift-1): |value| < 1/2
        return np.where(m < 0, np.int64(-1), np.int64(0)) if rounding == Rounding.TRN else np.zeros_like(m)
    else:
        half = 1 << (shift - 1)
    if rounding == Rounding.TRN:
        return m >> shift
    if rounding == Rounding.RND:  # ties toward +inf
        return (m + half) >> shift
    if rounding == Rounding.RND_MIN_INF:  # ties toward -inf
        return (m + (half - 1)) >> shift
    if rounding == Rounding.RND_CONV:  # ties to even
        return (m + (half - 1) + ((m >> shift) & 1)) >> shift
    # The remaining modes are symmetric about zero: round the magnitude, restore the sign.
    magnitude = np.abs(m)
    if rounding == Rounding.TRN_ZERO:
        rounded = magnitude >> shift
    elif rounding == Rounding.RND_INF:  # ties away from zero
        rounded = (magnitude + half) >> shift
    elif rounding == Rounding.RND_ZERO:  # ties toward zero
        rounded = (magnitude + (half - 1)) >> shift
    else:  # pragma: no cover - enum is closed
        raise PrecisionError(f"unknown rounding mode {rounding!r}")
    return np.where(m < 0, -rounded, rounded)


def _shift_left_checked(m: np.ndarray, shift: int, target: FixedType) -> np.ndarray:
    """``m << shift`` with the wrap/saturation of ``target`` applied without int64 overflow.

    Object arrays (Python ints) are shifted as they are: they cannot overflow.
    """
    if m.dtype == object:
        return m << shift
    if shift >= 63:
        # Only zero survives; anything else overflows the target by far.
        limit = np.zeros_like(m)
    else:
        limit = np.int64(1) << max(0, 62 - shift)
    if np.all((m < limit) & (m > -limit)) and shift < 63:
        return m << shift
    if target.overflow == Overflow.WRAP:
        # Bits above the target's width vanish; only the low (width - shift) bits of m survive.
        keep = target.width - shift
        if keep <= 0:
            return np.zeros_like(m)
        low = m & ((np.int64(1) << keep) - 1)
        return low << shift
    # Saturating modes: replace huge values by a value just past the range (same sign).
    sign = np.sign(m)
    big = np.int64(1) << 62
    safe = np.where(np.abs(m) < limit, m << min(shift, 62), sign * big)
    return safe


_DECIMAL = re.compile(r"-?[0-9]+", re.ASCII)


def _parse_int(text: str, what: str, precision: str) -> int:
    # Plain ASCII decimal digits only: int() would also take '1_6' and non-ASCII digits ('１６'),
    # which the C++ compiler does not.
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        raise PrecisionError(
            f"invalid precision {precision!r}: {what} must be an integer written with the digits 0-9, got {text!r}"
        )
    return int(text)


def parse_precision(precision: "str | FixedType") -> FixedType:
    """Parse ``ap_fixed<W,I[,Q[,O[,N]]]>``, ``ap_ufixed<...>``, ``ap_int<W>`` or ``ap_uint<W>``.

    Raises :class:`PrecisionError` with the accepted forms on anything else.
    """
    if isinstance(precision, FixedType):
        return precision
    if not isinstance(precision, str):
        raise PrecisionError(
            f"precision must be a string such as 'ap_fixed<16,6>' or a FixedType, got {precision!r}"
        )
    match = _PRECISION_RE.match(precision)
    if not match:
        raise PrecisionError(
            f"invalid precision {precision!r}: expected ap_fixed<W,I[,Q[,O]]>, "
            "ap_ufixed<W,I[,Q[,O]]>, ap_int<W> or ap_uint<W>"
        )
    kind = match["kind"]
    args = [a.strip() for a in match["args"].split(",")] if match["args"].strip() else []
    signed = kind in ("ap_fixed", "ap_int")
    if kind in ("ap_int", "ap_uint"):
        if len(args) != 1:
            raise PrecisionError(f"invalid precision {precision!r}: {kind} takes exactly one width")
        width = _parse_int(args[0], "the width", precision)
        return FixedType(width, width, signed)
    if not 2 <= len(args) <= 5:
        raise PrecisionError(
            f"invalid precision {precision!r}: {kind} takes 2 to 4 arguments <W,I[,Q[,O]]>"
        )
    width = _parse_int(args[0], "the width", precision)
    integer = _parse_int(args[1], "the integer bits", precision)
    rounding = Rounding.TRN
    overflow = Overflow.WRAP
    if len(args) >= 3:
        try:
            rounding = Rounding(args[2])
        except ValueError:
            raise PrecisionError(
                f"invalid precision {precision!r}: rounding mode {args[2]!r} is not one of {_ROUNDING_NAMES}"
            ) from None
    if len(args) >= 4:
        if args[3] == "AP_WRAP_SM":
            raise PrecisionError(
                f"unsupported precision {precision!r}: AP_WRAP_SM is not supported; use one of {_OVERFLOW_NAMES}"
            )
        try:
            overflow = Overflow(args[3])
        except ValueError:
            raise PrecisionError(
                f"invalid precision {precision!r}: overflow mode {args[3]!r} is not one of {_OVERFLOW_NAMES}"
            ) from None
    if len(args) == 5 and _parse_int(args[4], "the saturation bits", precision) != 0:
        raise PrecisionError(
            f"unsupported precision {precision!r}: saturation bits N > 0 are not supported"
        )
    return FixedType(width, integer, signed, rounding, overflow)


def smallest_type_for(mantissa_min: int, mantissa_max: int, frac: int, **modes) -> FixedType:
    """The narrowest type with ``frac`` fractional bits holding every mantissa in [min, max]."""
    signed = mantissa_min < 0
    if signed:
        magnitude = max(-mantissa_min - 1, mantissa_max, 0)
        width = int(magnitude).bit_length() + 1
    else:
        width = max(int(mantissa_max).bit_length(), 1)
    if width > MAX_WIDTH:
        raise PrecisionError(
            f"a value range needs {width} bits, more than the supported {MAX_WIDTH}"
        )
    return FixedType(width, width - frac, signed, **modes)


def exact_type_for_values(values, **modes) -> FixedType:
    """The narrowest fixed-point type that represents every (finite) value exactly."""
    x = np.asarray(values, dtype=np.float64).ravel()
    if not np.all(np.isfinite(x)):
        raise PrecisionError("cannot find a fixed-point type for NaN or infinite values")
    nonzero = x[x != 0]
    if nonzero.size == 0:
        return FixedType(1, 1, False, **modes)
    # Fractional bits: the largest exponent needed to make every value an integer.
    mant, exp = np.frexp(nonzero)  # x = mant * 2**exp, 0.5 <= |mant| < 1
    frac = 0
    for e, mt in zip(exp, mant):
        # bits after the binary point of mant (53-bit float): find the trailing zeros.
        as_int = int(np.ldexp(mt, 53))
        trailing = (as_int & -as_int).bit_length() - 1
        frac = max(frac, 53 - trailing - int(e))
    mantissas = np.ldexp(x, frac)
    return smallest_type_for(int(mantissas.min()), int(mantissas.max()), frac, **modes)


__all__ += ["smallest_type_for", "exact_type_for_values", "exact_accumulator"]


def _mantissa_bounds(weights: np.ndarray, x_type: FixedType) -> tuple[np.ndarray, np.ndarray]:
    """Per-output min and max of sum_i w[i,o] * x[i] over all x in the input type (in mantissa units)."""
    w = weights.astype(object) if _needs_object(weights, x_type) else weights
    lo, hi = x_type.min_mantissa, x_type.max_mantissa
    a, b = w * lo, w * hi
    upper = np.maximum(a, b).sum(axis=0)
    lower = np.minimum(a, b).sum(axis=0)
    return lower, upper


def _needs_object(weights: np.ndarray, x_type: FixedType) -> bool:
    w_bits = int(np.abs(weights).max(initial=0)).bit_length()
    return w_bits + x_type.width + int(weights.shape[0]).bit_length() >= 62


def exact_accumulator(weights: np.ndarray, w_frac: int, bias: np.ndarray, b_frac: int, x_type: FixedType) -> FixedType:
    """The narrowest accumulator that holds every partial result exactly, for these weights.

    Fractional bits ``max(x.frac + w.frac, b.frac)``; the range covers the extreme sums of the
    nonzero products over the whole input type plus the bias.
    """
    frac = max(x_type.frac + w_frac, b_frac)
    lower, upper = _mantissa_bounds(weights, x_type)
    prod_shift = frac - (x_type.frac + w_frac)
    bias_shift = frac - b_frac
    b = bias.astype(object)
    lower = [int(v) << prod_shift for v in np.atleast_1d(lower)]
    upper = [int(v) << prod_shift for v in np.atleast_1d(upper)]
    low = min(min(lo + (int(bb) << bias_shift), int(bb) << bias_shift, 0) for lo, bb in zip(lower, b))
    high = max(max(hi + (int(bb) << bias_shift), int(bb) << bias_shift, 0) for hi, bb in zip(upper, b))
    return smallest_type_for(low, high, frac)
