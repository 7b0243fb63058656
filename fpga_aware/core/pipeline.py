"""Where pipeline registers go: operation delays chained into clock cycles.

One rule, read by every stage that places registers:

* the HLS cost model (:mod:`fpga_aware.cost.model`) models the HLS tool's scheduler with it,
  chaining each operation's delay (the tool's, :class:`~fpga_aware.cost.tools.ToolProfile`)
  across the whole design;
* the Verilog writer (:mod:`fpga_aware.rtl.pipeline`) places its registers with it, chaining
  the delays of :data:`FABRIC` within each layer (every layer's output is registered by the
  top), and the Yosys estimate counts those registers from the same plan.

A register is inserted before an operation that no longer fits in the cycle's budget,
``clock_period * (1 - CLOCK_UNCERTAINTY)``; an operation longer than a whole cycle takes
several (HLS: a multi-cycle operation; RTL: a stage that misses timing, which the writer
reports).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fpga_aware.core.hardware import CLOCK_UNCERTAINTY

__all__ = ["ClockChain", "FabricDelays", "FABRIC", "cycle_budget", "place_cuts"]


def cycle_budget(clock_period: float) -> float:
    """The ns one cycle gives to logic: the period less the clock uncertainty."""
    return float(clock_period) * (1.0 - CLOCK_UNCERTAINTY)


class ClockChain:
    """Chains operation delays into clock cycles, inserting registers where they do not fit.

    ``ff`` counts the bits of the inserted registers: the values that are live where the
    register cuts the data path (``live_bits`` of the operation that no longer fits).
    """

    def __init__(self, clock_period: float):
        self.budget = cycle_budget(clock_period)
        self.cycles = 0
        self.t = 0.0
        self.ff = 0.0

    def chain(self, ns: float, live_bits: float = 0.0) -> int:
        """An operation of ``ns`` whose inputs are ``live_bits`` wide in total; returns the
        registers inserted before it (0 when it fits in the current cycle)."""
        if ns <= 0:
            return 0
        if self.t + ns <= self.budget + 1e-9:
            self.t += ns
            return 0
        extra = max(0, math.ceil(ns / self.budget) - 1)  # an operation longer than a cycle
        self.cycles += 1 + extra
        self.ff += (1 + extra) * live_bits
        self.t = ns - extra * self.budget
        return 1 + extra

    def register(self, stages: int, out_ns: float = 0.0) -> None:
        """A registered primitive (DSP, BRAM): its result is ready ``stages`` cycles later."""
        self.cycles += stages
        self.t = out_ns

    def wait(self, cycles: int) -> None:
        """Cycles that stream through an already registered pipeline (``(R - 1) * II``)."""
        self.cycles += max(0, cycles)

    def finish(self, live_bits: float) -> int:
        """Total latency; the outputs are registered when logic follows the last register."""
        if self.t > 0:
            self.cycles += 1
            self.ff += live_bits
            self.t = 0.0
        return self.cycles


@dataclass(frozen=True)
class FabricDelays:
    """Combinational delays (ns, logic plus typical routing) the Verilog writer pipelines with.

    Assumed, not measured: no timing tool runs here (Yosys does not time Xilinx netlists).  The
    figures are of the order of UltraScale+ speed grade -1/-2 (a LUT6 and a net ~0.3-0.5 ns; a
    CARRY8 ~0.02 ns per bit; a DSP48E2 multiply with no internal register ~2.5 ns) and are
    deliberately not optimistic; ``vivado_synth.tcl`` reports the real timing where Vivado runs.
    """

    lut_ns: float = 0.45
    carry_ns_per_bit: float = 0.02
    dsp_multiply_ns: float = 2.5

    def adder(self, width: int) -> float:
        """A ``width``-bit carry-chain adder (or a magnitude comparison) and its net."""
        return self.lut_ns + self.carry_ns_per_bit * int(width)

    def soft_product(self, adders_deep: int, width: int) -> float:
        """A constant product built from LUTs: a tree ``adders_deep`` adders deep."""
        return adders_deep * self.adder(width)


#: The delays the Verilog backend places its registers by.
FABRIC = FabricDelays()


def place_cuts(level_ns: list[float], cut_bits: list[float], clock_period: float) -> list[int]:
    """Where to register a chain of levels: the levels after which a register goes.

    ``level_ns[j]`` is the delay of level ``j``; ``cut_bits[j]`` the bits a register after level
    ``j`` stores (``j < len(level_ns) - 1``; after the last level the caller registers anyway).
    Returns the cut set with the fewest stages whose every stage fits the cycle budget (the
    number :class:`ClockChain` reaches greedily; a level longer than a cycle is a stage of its
    own), and among those the one storing the fewest bits (registers where fewer values live).
    """
    budget = cycle_budget(clock_period)
    n = len(level_ns)
    if n == 0:
        return []
    # best[b]: (stages, bits, cuts) of levels 0..b-1 ending a stage after level b - 1
    best: list[tuple[int, float, tuple[int, ...]] | None] = [None] * (n + 1)
    best[0] = (0, 0.0, ())
    for b in range(1, n + 1):
        for a in range(b - 1, -1, -1):  # the stage a..b-1
            ns = sum(level_ns[a:b])
            if ns > budget + 1e-9 and b - a > 1:
                break
            prev = best[a]
            if prev is None:
                continue
            stages, bits, cuts = prev
            candidate = (stages + 1, bits + (cut_bits[a - 1] if a else 0.0), cuts + ((a - 1,) if a else ()))
            if best[b] is None or candidate[:2] < best[b][:2]:
                best[b] = candidate
    return list(best[n][2])
