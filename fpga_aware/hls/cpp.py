"""C++ text of numbers and types: ap_fixed/ap_int type names, integer storage of mantissas,
array initialisers, and the printable layer labels of comments (used by the HLS writer and the
per-kind contexts in :mod:`fpga_aware.hls.layers`)."""

from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np

from fpga_aware.core.fixed import FixedType
from fpga_aware.core.ir import Layer
from fpga_aware.hls.errors import ProjectDefinitionError

NUMBERS_PER_LINE = 16


# ------------------------------------------------------------------------------ C++ naming
def ap_type(width: int, integer: int, signed: bool) -> str:
    """An ap_fixed type name for widths beyond FixedType's limit (internal wide types)."""
    return f"{'ap_fixed' if signed else 'ap_ufixed'}<{width},{integer}>"


def int_type(width: int, signed: bool) -> str:
    return f"{'ap_int' if signed else 'ap_uint'}<{width}>"


def c_int_type(width: int, signed: bool) -> str:
    for bits in (8, 16, 32, 64):
        if width <= bits:
            return f"{'' if signed else 'u'}int{bits}_t"
    raise ProjectDefinitionError(f"no C integer type holds {width} bits")  # pragma: no cover (wide_bits beyond 64)


#: Mantissas of types wider than this are stored as several 64-bit words (fa::wide_bits).
WORD_BITS = 64


def words(width: int) -> int:
    return -(-width // WORD_BITS)


def mantissa_storage(t: FixedType) -> tuple[str, str]:
    """(plain C, HLS) types holding the raw bits of ``t``."""
    if t.width > WORD_BITS:
        wide = f"fa::wide_bits<{words(t.width)}>"
        return wide, wide
    return c_int_type(t.width, t.signed), int_type(t.width, t.signed)


def mantissa_literals(values: np.ndarray, t: FixedType | None) -> list[str]:
    """C initialisers of mantissas stored as :func:`_mantissa_storage` of ``t`` says."""
    items = np.asarray(values).ravel().tolist()
    if t is None or t.width <= 62:
        return [str(int(v)) for v in items]
    if t.width <= WORD_BITS:  # int64_t / uint64_t: suffixed, and INT64_MIN has no literal
        if t.signed:
            return ["(-9223372036854775807LL - 1)" if int(v) == -(1 << 63) else f"{int(v)}LL" for v in items]
        return [f"{int(v)}ULL" for v in items]
    mask = (1 << WORD_BITS) - 1
    out = []
    for v in items:
        bits = int(v) & ((1 << t.width) - 1)  # two's complement
        literal = ", ".join(f"0x{(bits >> (WORD_BITS * k)) & mask:016x}ULL" for k in range(words(t.width)))
        out.append(f"{{{{{literal}}}}}")
    return out


def index_storage(max_value: int) -> tuple[str, str]:
    bits = max(1, int(max_value).bit_length())
    return c_int_type(bits, False), int_type(bits, False)


def signed_bits(value: int) -> int:
    value = int(value)
    return (value if value >= 0 else ~value).bit_length() + 1


def label(layer: Layer) -> str:
    """The layer name for C++ comments: printable ASCII without comment or line-splice characters."""
    text = re.sub(r"[^A-Za-z0-9_.:+\-]", "_", str(layer.name))[:80]
    if text != layer.name:
        text = f"{layer.cname} (Keras name sanitized: {text})"
    return text


def format_numbers(values: Iterable[Any]) -> str:
    items = [str(v) for v in values]
    lines = [
        "    " + ", ".join(items[i : i + NUMBERS_PER_LINE]) + ","
        for i in range(0, len(items), NUMBERS_PER_LINE)
    ]
    if lines:
        lines[-1] = lines[-1][:-1]
    return "\n".join(lines)


def int_array(name: str, ctype: str, values: np.ndarray, comment: str, t: FixedType | None = None) -> dict[str, Any]:
    """An array of integers; ``t``: the fixed-point type whose mantissas they are (wide storage)."""
    values = np.asarray(values)
    if values.dtype != object:
        values = values.astype(np.int64)
    return {
        "name": name,
        "ctype": ctype,
        "size": int(values.size),
        "body": format_numbers(mantissa_literals(values, t)),
        "comment": comment,
    }


def bool_array(name: str, values: np.ndarray, comment: str) -> dict[str, Any]:
    values = np.asarray(values, dtype=bool).ravel()
    return {
        "name": name,
        "ctype": "bool",
        "size": int(values.size),
        "body": format_numbers("true" if v else "false" for v in values.tolist()),
        "comment": comment,
    }


def check_mantissas(values: np.ndarray, t: FixedType, what: str, layer: Layer) -> None:
    v = np.asarray(values)
    if v.size and (int(v.min()) < t.min_mantissa or int(v.max()) > t.max_mantissa):
        raise ProjectDefinitionError(
            f"layer {layer.name!r}: {what} mantissas span [{int(v.min())}, {int(v.max())}], "
            f"outside {t.cpp()} ([{t.min_mantissa}, {t.max_mantissa}])"
        )
