"""Hardware rules that the cost model and the HLS writer must agree on.

* :data:`CLOCK_UNCERTAINTY`: the clock uncertainty the cost model schedules with; the written
  ``build_prj.tcl`` sets it explicitly (``set_clock_uncertainty``), since Vitis HLS's default
  (27 %) differs from Vivado HLS's (12.5 %).
* :func:`in_block_ram`: whether a memory (weights of a Resource-strategy layer: one word of
  ``n_lanes`` weights per cycle of its schedule, ``n_cycles`` deep; a lookup table) is deep
  enough to be block RAM; shallower ones are LUT RAM / LUT ROM.  The cost model
  counts BRAM_18K by this rule and the writer binds the storage by it.
"""

from __future__ import annotations

__all__ = ["CLOCK_UNCERTAINTY", "LUTRAM_MAX_DEPTH", "in_block_ram", "clock_uncertainty_tcl"]

#: Clock uncertainty as a fraction of the clock period (Vivado HLS's default, set explicitly).
CLOCK_UNCERTAINTY = 0.125

#: Memories at most this deep are LUT RAM / LUT ROM, deeper ones block RAM.
LUTRAM_MAX_DEPTH = 64


def in_block_ram(depth: int) -> bool:
    """Whether a memory ``depth`` words deep is block RAM (else LUT RAM / LUT ROM)."""
    return depth > LUTRAM_MAX_DEPTH


def clock_uncertainty_tcl() -> str:
    """:data:`CLOCK_UNCERTAINTY` as ``set_clock_uncertainty`` takes it: a percentage, e.g. ``12.5%``."""
    return f"{CLOCK_UNCERTAINTY * 100:g}%"
