"""Lookup tables in Verilog: the numbers the ``rom`` and ``table_read`` macros of
``templates/rtl/macros.v.j2`` write one :class:`~fpga_aware.core.ir.LookupTable` read from.

The entries are the IR's own (computed once by :mod:`fpga_aware.core.tables`, the same values
the emulator and the C++ read); only the index arithmetic is written here, as
:meth:`LookupTable.lookup <fpga_aware.core.ir.LookupTable.lookup>` computes it:
``q = (mantissa >> shift) - offset`` (an arithmetic shift), the first table of the chain whose
``q`` lies in ``[0, size - 1]``, else the last one with ``q`` clipped to that range.
"""

from __future__ import annotations

from typing import Any

from fpga_aware.core.fixed import FixedType
from fpga_aware.core.ir import LookupTable
from fpga_aware.hls.cpp import signed_bits

__all__ = ["table_chain"]


def _bits(value: int, width: int) -> int:
    return int(value) & ((1 << width) - 1)


def _table(table: LookupTable, input_type: FixedType, name: str) -> dict[str, Any]:
    """One table of a chain: its ROM (``name``), index width and the widths of ``q``."""
    if table.shift < 0:
        raise ValueError(f"a table shift of {table.shift} (a left shift of the input)")
    xw = input_type.width + 1  # the input sign- or zero-extended: a signed operand
    t_lo, t_hi = input_type.min_mantissa >> table.shift, input_type.max_mantissa >> table.shift
    last = table.size - 1
    kw = max(1, last.bit_length())
    qw = max(xw, signed_bits(t_lo - table.offset), signed_bits(t_hi - table.offset), signed_bits(table.offset) + 1,
             kw + 1, signed_bits(last))
    vw = table.value_type.width
    return {"fn": name, "shift": int(table.shift), "offset": int(table.offset), "size": table.size, "last": last,
            "kw": kw, "qw": qw, "vw": vw, "values": [_bits(v, vw) for v in table.values.tolist()]}


def table_chain(table: LookupTable, input_type: FixedType, name: str) -> dict[str, Any]:
    """The context of reading ``table`` (and its outer tables) at a mantissa of ``input_type``:
    ``{"xw": extended input width, "signed", "vw": value width, "chain": [one dict per table,
    finest first, ROM functions named name0, name1, ...]}``."""
    chain = table.chain
    if any(t.value_type != table.value_type for t in chain):
        raise ValueError("chained tables of different value types")
    return {"xw": input_type.width + 1, "signed": input_type.signed, "vw": table.value_type.width,
            "chain": [_table(t, input_type, f"{name}{j}") for j, t in enumerate(chain)]}
