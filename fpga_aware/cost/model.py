"""Analytic FPGA cost model: DSP, LUT, FF, BRAM and latency of a :class:`~fpga_aware.core.ir.ModelIR`.

:func:`estimate_ir` reads the IR once (numpy over the weight mantissas, no Python loop over
weights) and returns a :class:`CostReport`.  It estimates what HLS C-synthesis would
report for the io_parallel firmware, so it can be shown while training.  The rules are below;
the constants that differ between tools (the DSP mapping of constant products, operator delays,
the fitted overheads: names in lower case below) are the fields of a
:class:`~fpga_aware.cost.tools.ToolProfile`, one per tool (``tool='vitis'``, the default, or
``'vivado'``); ``docs/cost_model.md`` has the calibration against published Vivado HLS
reports and the accuracy to expect.

Multiplications (the rules that decide DSPs)
--------------------------------------------
* A zero weight is neither stored nor multiplied; a weight ``±2**k`` is a shift (no
  multiplier, no LUTs: the shift is wiring and the sign folds into the accumulation).
  ``n_mult`` counts what is left (:attr:`DenseLayer.n_mult`).
* Vitis HLS (``constant_dsp_rule='constant_bits'``): a product by a constant is a DSP when the
  constant's odd part (``|m|`` without trailing zero bits) has at least ``dsp_min_constant_bits``
  bits and the operand widths add up to more than ``lut_mult_max_width_sum``; LUTs otherwise.
* Vivado HLS (``'operand_widths'``), and every shared multiplier: a product maps to a DSP slice
  when *both* operands are wide enough:
  ``min(w_x, w_w) > lut_mult_max_narrow_width`` **and** ``w_x + w_w > lut_mult_max_width_sum``;
  otherwise Vivado builds it from LUTs (shift-and-add).  ``w_x`` is the input type width.
  With ``reuse_factor == 1`` and the Latency strategy every weight is a synthesis-time
  constant and ``w_w`` is the constant's own width (``bit_length(|m|)`` plus a sign bit), so
  small-magnitude weights land in LUTs — this is why the unpruned jet tagger uses 3953 DSPs for
  4256 products.  With ``reuse_factor > 1`` (or the Resource strategy) a multiplier is shared
  by several weights and ``w_w`` is the weight type's width.
* A product wider than one DSP multiplier (25x18 for DSP48E1, 27x18 for DSP48E2, signed) is
  tiled: ``ceil`` chunks of each operand (top chunk signed, lower chunks one bit narrower), in
  the cheaper orientation.
* With reuse factor ``R`` (or the Resource strategy) the cost is read from the layer's static
  schedule (:attr:`DenseLayer.schedule`): ``P = ceil(nnz / R)`` lanes, each one shared
  multiplier (DSP or LUT by the width rule; none for shifts) over ``C = min(R, nnz)`` cycles.

* ``strategy='distributed_arithmetic'`` (:attr:`DenseLayer.adder_graph`, da4ml's shift-and-add
  graph): no multiplier and no DSP; ``adder_bits * lut_per_adder_bit`` LUTs for the graph, an
  ``accum``-width adder per nonzero bias and per negated output, the graph's levels chained with
  the tool's adder delays.  Assumed, not validated against a vendor report.

Latency and initiation interval
-------------------------------
Operations are chained into clock cycles of ``clock_period * (1 - CLOCK_UNCERTAINTY)`` ns
(12.5 %, Vivado HLS's default, which build_prj.tcl sets explicitly) with the delays below; a register is inserted when
the next operation would not fit.  The profile's delays are those of speed grade -2; the
part's speed grade scales them (:func:`~fpga_aware.cost.tools.speed_grade_delay`: -1 is 1.2x
slower), so a slower part gets more stages and more pipeline registers.  A BRAM read and a
BRAM/LUT ROM read are registered; a DSP multiplier ``dsp_mult_cycles`` times (0: the tool
chains it combinationally, as Vivado HLS does at 5 ns); a register cut at a DSP's input is the
DSP's operand register (no flip-flops).  Per dense layer this is the hls4ml formula
``L = L_mult + (C - 1) * II_mult + L_activ`` with ``II_mult = 1`` plus the adder tree
(``ceil(log2(terms))`` levels per output when fully parallel; with a schedule, the register's
accumulation and the schedule's ``combine_levels``).  Layers run one after another; ``II`` is
the largest schedule's cycle count (1 for a fully parallel design).

LUT and FF
----------
Physical terms (one LUT per adder bit, one FF per register bit) plus four per-item constants
fitted to the published reports (``docs/cost_model.md``; marked *fitted* below):

* adders: one per accumulated term (``terms - 1`` per output, a nonzero bias is a term) when
  fully parallel; with a schedule, one accumulating adder per register (a lane's output
  segment) plus one adder of the final tree per register; ``accum`` width LUTs each.  Each DSP product absorbs ``dsp_absorbed_adds`` of them into the
  DSP's post-adder (``P = A*B + C``/``PCIN`` cascades).
* LUT multipliers: a constant weight costs ``NAF(m) - 1`` adders of ``w_x + w_w`` bits
  (canonical signed-digit shift-and-add); a shared one ``w_x * w_w * lut_per_partial_product``.
* every constant product built from LUTs: ``lut_per_lut_product`` LUTs besides its adders (0 for
  Vivado HLS; Vitis HLS's estimate charges its LUT multipliers more than their adders);
* every DSP product: ``lut_per_dsp_product`` LUTs and ``ff_per_dsp_product`` FFs of fabric
  glue (sign extension, truncation, pipeline registers Vivado HLS counts outside the DSP).
* shared multipliers: each input bus (the lanes that multiply the same input in every cycle,
  ``DenseSchedule.input_buses``) is an ``m``:1 choice of the ``m`` distinct inputs it carries
  (``DenseSchedule.bus_inputs``), ``ceil(log2 m) * lut_per_mux_bit_level`` LUTs per bit; the weight too, ``ceil(log2 C)`` levels, when it is a constant (the Latency strategy);
  a constant comparison of the cycle counter per segment boundary; operand and accumulator
  bits registered ``ff_per_slot_bit`` times (Latency) or ``ff_per_slot_bit_resource`` times
  (Resource), one accumulator per lane among them; an ``accum``-width register for every
  further segment register of a lane and for every output's sum; no index
  memory (the schedule's indices are wiring).  Resource weights: ``C`` words of ``P``
  weights, LUT RAM or block RAM by :func:`~fpga_aware.core.hardware.in_block_ram`.
* every output neuron of a dense layer: ``lut_per_neuron`` LUTs and ``ff_per_neuron`` FFs of
  fixed overhead (bias, cast, control and the part of Vivado's estimate that does not scale
  with the number of weights: it is most of a small pruned design).
* ReLU and saturating casts: ``lut_per_activation_bit`` per output bit; tables: LUT ROM or BRAM
  (each table of a chain, plus a multiplexer among them); a linear tail (ELU, SELU, softplus):
  the constant product ``x * slope`` (none for a power of two), a comparison and a multiplexer.
* parametric ReLUs (leaky, PReLU, thresholded): one constant product ``x * alpha[c]`` per channel
  (the dense rule's constant products: zero and ``±2**k`` slopes cost nothing, the others LUT
  shift-and-add or DSPs), a comparison of ``w_x`` bits (one LUT per bit, a carry chain) and a
  select plus cast of the output, ``lut_per_activation_bit`` per output bit.
* pipeline registers: wherever the schedule inserts a register, the bits of the values alive
  there (the layer inputs, the partial sums at that adder-tree level, the outputs), times
  ``ff_per_register_bit``.

BRAM
----
Resource-strategy weights are a memory ``ceil(nnz / ceil(nnz / R))`` (at most ``R``) words
deep, each word holding the ``ceil(nnz / R)`` weights used in one cycle; whole weights are packed into the widest 18 Kb
block aspect ratio that is deep enough (512x36, 1Kx18, 2Kx9, 4Kx4, 8Kx2, 16Kx1).  Memories
at most ``LUTRAM_MAX_DEPTH`` deep are LUT RAM (``ceil(depth/64)`` LUTs per bit).  Lookup
tables (sigmoid, tanh, softmax's exp and 1/x) are ROMs with two reads per BRAM copy.
Latency-strategy weights are constants in the logic (no memory).
"""

from __future__ import annotations

import dataclasses

import math
import os
import sys
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from fpga_aware.core.activations import activation
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.hardware import in_block_ram
from fpga_aware.core.pipeline import ClockChain
from fpga_aware.core.ir import (
    ActivationLayer,
    DenseLayer,
    InputLayer,
    IOType,
    Layer,
    LookupTable,
    ModelIR,
    ParametricReLULayer,
    ScaleShiftLayer,
    SoftmaxLayer,
    Strategy,
)
from fpga_aware.core.parts import Part, get_part
from fpga_aware.core.registry import Registry
from fpga_aware.core.streams import stream_plan
from fpga_aware.cost.tools import (DEFAULT_TOOL, OutOfCalibratedDomainWarning, ToolProfile, speed_grade_delay,
                                   tool_profile)

__all__ = ["CostReport", "LayerCost", "estimate_ir", "COST_RULES", "ACTIVATION_COSTS"]

#: One cost rule per IR layer kind: ``rule(layer, part, schedule) -> LayerCost``.
COST_RULES: Registry = Registry("cost rule")
#: One cost rule per exactly computed activation function (table functions share one):
#: ``rule(layer, schedule, lut_breakdown)``.
ACTIVATION_COSTS: Registry = Registry("cost rule", key="activation function")

# ============================================================================ constants
# The tool-dependent constants (DSP mapping, operator delays, fitted LUT/FF overheads) are the
# fields of a ToolProfile (fpga_aware.cost.tools); the physical ones follow.
#: LUT6 as a 64x1 distributed ROM/RAM.
LUTRAM_BITS_PER_LUT = 64

# --- memories
#: Memories at most ``LUTRAM_MAX_DEPTH`` deep are LUT RAM / LUT ROM, deeper ones block RAM:
#: :func:`fpga_aware.core.hardware.in_block_ram`, the rule the HLS writer binds storage by.
#: 18 Kb block RAM aspect ratios: (depth, width).
BRAM18_SHAPES = ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))


# ============================================================================ report
@dataclass
class LayerCost:
    """Cost of one IR layer; ``latency_cycles`` is the layer's share of the model latency."""

    name: str
    kind: str
    n_weights: int = 0
    nonzero_weights: int = 0
    n_mult: int = 0  #: multiplications left after zeros and power-of-two weights
    dsp: int = 0
    lut: int = 0
    ff: int = 0
    bram_18k: int = 0
    latency_cycles: int = 0
    reuse_factor: int = 1
    strategy: str = ""
    n_dsp_mult: int = 0  #: products (or shared multipliers) that are DSP multipliers
    n_lut_mult: int = 0  #: products (or shared multipliers) built from LUTs
    n_shift: int = 0  #: power-of-two weights (shifts)
    lut_breakdown: dict[str, int] = field(default_factory=dict)
    ff_breakdown: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CostReport:
    """Estimated resources and timing of a whole model on one part."""

    part: Part
    clock_period: float
    dsp: int
    lut: int
    ff: int
    bram_18k: int
    latency_cycles: int
    ii: int
    latency_ns: float
    layers: list[LayerCost]
    #: what the estimate models and was checked against (printed with every table)
    tool: str = "vivado: Vivado HLS 2019.2, fitted to five hls4ml tutorial reports"
    #: ``''`` when the part is of a series the tool's profile was calibrated on; else what the
    #: estimate was checked against there (:meth:`~fpga_aware.cost.tools.ToolProfile.domain_note`;
    #: printed under the tool line)
    domain_note: str = ""

    @property
    def in_calibrated_domain(self) -> bool:
        """Whether the part is of a series the tool's profile was calibrated on."""
        return not self.domain_note

    def utilization(self) -> dict[str, float]:
        """Percent of the part's DSP, LUT, FF and BRAM_18K used."""
        part = self.part

        def pct(used: int, avail: int) -> float:
            return 100.0 * used / avail if avail else (0.0 if used == 0 else math.inf)

        return {
            "dsp": pct(self.dsp, part.dsp),
            "lut": pct(self.lut, part.lut),
            "ff": pct(self.ff, part.ff),
            "bram_18k": pct(self.bram_18k, part.bram_18k),
        }

    def fits(self) -> bool:
        """Whether every resource is at most 100 % of the part."""
        return all(v <= 100.0 for v in self.utilization().values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "part": self.part.name,
            "family": self.part.family,
            "clock_period": self.clock_period,
            "tool": self.tool,
            "series": self.part.series,
            "in_calibrated_domain": self.in_calibrated_domain,
            "domain_note": self.domain_note,
            "dsp": self.dsp,
            "lut": self.lut,
            "ff": self.ff,
            "bram_18k": self.bram_18k,
            "latency_cycles": self.latency_cycles,
            "latency_ns": self.latency_ns,
            "ii": self.ii,
            "available": {k: v for k, v in self.part.resources().items() if k != "uram"},
            "utilization": self.utilization(),
            "layers": [layer.to_dict() for layer in self.layers],
        }

    def __str__(self) -> str:
        head = ("layer", "kind", "weights", "nonzero", "mults", "RF", "strategy", "DSP", "LUT", "FF", "BRAM18", "cycles")
        rows = [head]
        for c in self.layers:
            dense = c.kind in ("dense", "conv")
            rows.append((
                c.name, c.kind,
                f"{c.n_weights:,}" if dense else "", f"{c.nonzero_weights:,}" if dense else "",
                f"{c.n_mult:,}" if c.n_mult or dense else "",
                str(c.reuse_factor) if dense else "", c.strategy,
                f"{c.dsp:,}", f"{c.lut:,}", f"{c.ff:,}", f"{c.bram_18k:,}", str(c.latency_cycles),
            ))
        util = self.utilization()
        rows.append(("total", "", "", "", "", "", "", f"{self.dsp:,}", f"{self.lut:,}", f"{self.ff:,}",
                     f"{self.bram_18k:,}", str(self.latency_cycles)))
        rows.append(("available", "", "", "", "", "", "", f"{self.part.dsp:,}", f"{self.part.lut:,}",
                     f"{self.part.ff:,}", f"{self.part.bram_18k:,}", ""))
        rows.append(("utilization", "", "", "", "", "", "", f"{util['dsp']:.1f}%", f"{util['lut']:.1f}%",
                     f"{util['ff']:.1f}%", f"{util['bram_18k']:.1f}%", ""))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [
            f"Estimated cost on {self.part.name} ({self.part.family}), {self.clock_period:g} ns clock",
            f"tool: {self.tool}",
        ]
        if self.domain_note:
            lines.append(f"WARNING: {self.domain_note}")
        for i, r in enumerate(rows):
            cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])] + [r[j].rjust(widths[j]) for j in range(2, len(r))]
            lines.append("  ".join(cells).rstrip())
            if i == 0 or i == len(rows) - 4:
                lines.append("-" * len(lines[-1]))
        lines.append(
            f"latency {self.latency_cycles} cycles ({self.latency_ns:g} ns), II {self.ii} "
            f"({'fits' if self.fits() else 'does NOT fit'} the part)"
        )
        return "\n".join(lines)


# ============================================================================ helpers
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _caller_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside the fpga_aware package (seen from the
    function that calls :func:`warnings.warn`), so that a warning shows once per user call site
    whichever entry point (``estimate``, ``Firmware.estimate``, ``FPGACost``) led here."""
    frame, level = sys._getframe(2), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def _int64_mantissas(values) -> np.ndarray:
    """Mantissas as int64 for the estimates; wider ones (Python ints of types beyond 62 bits) keep
    their top 62 bits (nonzero and power-of-two weights stay so; their width is underestimated)."""
    v = np.asarray(values)
    if v.dtype != object:
        return v.astype(np.int64)
    return np.array([int(m) >> max(0, abs(int(m)).bit_length() - 62) for m in v.ravel()], dtype=np.int64).reshape(v.shape)


def _bit_length(a: np.ndarray) -> np.ndarray:
    """``int.bit_length`` of non-negative int64 values (exact below 2**53)."""
    return np.frexp(a.astype(np.float64))[1].astype(np.int64)


def _naf_digits(a: np.ndarray) -> np.ndarray:
    """Nonzero digits of the canonical signed-digit (NAF) form of non-negative integers."""
    u = a.astype(np.uint64)
    return np.bitwise_count(((u * np.uint64(3)) ^ u) >> np.uint64(1)).astype(np.int64)


def _chunks(width, port):
    """DSP operand chunks for a signed ``width``-bit operand on a signed ``port``-bit input."""
    width = np.asarray(width)
    return np.where(width <= port, 1, 1 + -(-(width - port) // (port - 1)))


def _dsp_tiles(wx, ww, part: Part):
    """DSP slices for one signed ``wx`` x ``ww`` product (the cheaper orientation)."""
    wide, narrow = part.dsp_multiplier_widths
    return np.minimum(_chunks(wx, wide) * _chunks(ww, narrow), _chunks(wx, narrow) * _chunks(ww, wide))


def _log2_ceil(n: int) -> int:
    return int(math.ceil(math.log2(n))) if n > 1 else 0


def _memory_blocks(depth: int, words: int, width: int) -> int:
    """18 Kb block RAMs for ``words`` parallel values of ``width`` bits, ``depth`` deep."""
    if depth <= 0 or words <= 0 or width <= 0:
        return 0
    best = None
    for shape_depth, port in BRAM18_SHAPES:
        stacked = -(-depth // shape_depth)
        if width <= port:
            per_block = port // width
            blocks = -(-words // per_block) * stacked
        else:
            blocks = words * -(-width // port) * stacked
        best = blocks if best is None else min(best, blocks)
    return int(best)


def _memory(depth: int, words: int, width: int) -> tuple[int, int]:
    """``(bram_18k, lut)`` of a memory: LUT RAM when shallow, block RAM otherwise."""
    if depth <= 0 or words <= 0:
        return 0, 0
    if not in_block_ram(depth):
        return 0, words * width * -(-depth // LUTRAM_BITS_PER_LUT)
    return _memory_blocks(depth, words, width), 0


def _rom(table: LookupTable, reads: int, p: ToolProfile) -> tuple[int, int, bool]:
    """``(bram_18k, lut, registered)`` of a lookup table read ``reads`` times per cycle (each
    block RAM copy serves ``p.rom_ports`` reads)."""
    width = table.value_type.width
    if not in_block_ram(table.size):
        return 0, reads * width * -(-table.size // LUTRAM_BITS_PER_LUT), False
    copies = -(-reads // p.rom_ports)
    return copies * _memory_blocks(table.size, 1, width), 0, True


class _Schedule(ClockChain):
    """The HLS tool's scheduler as the cost model sees it: the design's operations chained into
    clock cycles by :class:`fpga_aware.core.pipeline.ClockChain` (registers where they do not
    fit; ``ff`` counts their bits; registers inside DSP slices and block RAMs are not
    flip-flops), with the tool's constants in :attr:`profile`."""

    def __init__(self, clock_period: float, profile: ToolProfile, delay_scale: float = 1.0):
        super().__init__(clock_period)
        self.profile = profile  #: the tool's constants, read by every cost rule
        #: the part's speed grade: its operators are this much slower than the profile's
        #: (speed grade -2) delays (:func:`fpga_aware.cost.tools.speed_grade_delay`)
        self.delay_scale = float(delay_scale)

        self._live = 0.0

    def chain(self, ns: float, live_bits: float = 0.0) -> int:
        self._live = live_bits
        return super().chain(ns * self.delay_scale, live_bits)

    def register(self, stages: int, out_ns: float = 0.0) -> None:
        """A registered primitive ``stages`` deep; with 0 stages (a DSP multiply the tool
        chains combinationally with the fabric around it) its output delay continues the chain."""
        if stages <= 0:
            self.chain(out_ns, self._live)
            return
        super().register(stages, out_ns * self.delay_scale)


def _tree_live(terms: np.ndarray, level: int) -> int:
    """Values alive before level ``level`` of balanced adder trees with ``terms`` leaves each."""
    return int((-(-terms // (1 << level))).sum())


# ============================================================================ layers
def _ints(d: dict[str, float]) -> dict[str, int]:
    return {k: int(round(v)) for k, v in d.items() if round(v)}


def _finish_layer(layer: Layer, sched: _Schedule, cycles0: int, ff0: float, lut: dict, ff: dict,
                  **fields) -> LayerCost:
    p = sched.profile
    ff["pipeline"] = ff.get("pipeline", 0.0) + (sched.ff - ff0) * p.ff_per_register_bit
    lut_i, ff_i = _ints(lut), _ints(ff)
    return LayerCost(name=layer.name, kind=layer.kind, lut=sum(lut_i.values()), ff=sum(ff_i.values()),
                     latency_cycles=sched.cycles - cycles0, lut_breakdown=lut_i, ff_breakdown=ff_i, **fields)


def _constant_products(a: np.ndarray, wx: int, signed_weights: bool, part: Part, p: ToolProfile):
    """Classify constant products ``x * m`` (``a = |m|``, nonzero, not powers of two).

    Returns ``(n_dsp_products, dsp_slices, lut_adder_bits, lut_depth_ns)``: LUT products are
    canonical-signed-digit shift-and-add chains of ``NAF(m) - 1`` adders of ``wx + w_m`` bits.
    """
    ww = _bit_length(a) + (1 if signed_weights else 0)
    on_dsp = p.constant_on_dsp(wx, a, ww)
    n_dsp = int(np.count_nonzero(on_dsp))
    slices = 0
    if n_dsp:  # tiles depend on the width only: count the widths, then tile each once
        per_width = np.bincount(ww[on_dsp])
        widths = np.nonzero(per_width)[0]
        slices = int((per_width[widths] * _dsp_tiles(wx, widths, part)).sum())
    lut_w = ww[~on_dsp]
    naf = _naf_digits(a[~on_dsp])
    adder_bits = float(((naf - 1) * (wx + lut_w)).sum())
    depth_ns = _log2_ceil(int(naf.max())) * p.adder_delay(wx + int(lut_w.max())) if naf.size else 0.0
    return n_dsp, slices, adder_bits, depth_ns


@COST_RULES.register("input")
def _input_cost(layer: InputLayer, part: Part, sched: _Schedule) -> LayerCost:
    return LayerCost(name=layer.name, kind=layer.kind)  # the top function's argument: no logic


@COST_RULES.register("dense")
def _dense_cost(layer: DenseLayer, part: Part, sched: _Schedule) -> LayerCost:
    p = sched.profile
    w = _int64_mantissas(layer.weights)
    a = np.abs(w)
    nz = a != 0
    nnz = int(np.count_nonzero(nz))
    pow2 = nz & ((a & (a - 1)) == 0)
    n_shift = int(np.count_nonzero(pow2))
    n_mult = nnz - n_shift
    R = max(1, int(layer.reuse_factor))
    strategy = Strategy(layer.strategy)
    wx = layer.input_type.width
    wa = layer.accum_type.width
    n_in, n_out = layer.n_in, layer.n_out

    bias = _int64_mantissas(layer.bias) if layer.bias is not None else np.zeros(n_out, np.int64)
    terms = (np.count_nonzero(nz, axis=0) + (bias != 0)).astype(np.int64)
    n_adds = int(np.maximum(terms - 1, 0).sum())
    max_terms = int(terms.max(initial=0))

    lut: dict[str, float] = {"neurons": n_out * p.lut_per_neuron}
    ff: dict[str, float] = {"neurons": n_out * p.ff_per_neuron}
    dsp = bram = n_dsp_mult = n_lut_mult = 0
    cycles0, ff0 = sched.cycles, sched.ff
    in_bits = n_in * wx

    if strategy == Strategy.DISTRIBUTED_ARITHMETIC and nnz:
        # da4ml's adder graph (DenseLayer.adder_graph, the one the HLS writer writes): no
        # multiplier, no DSP; one LUT per adder bit, the graph's depth in adder levels.
        lut.update(_adder_graph_cost(layer, sched, bias))
        n_mult = 0
    elif R == 1 and strategy in (Strategy.LATENCY, Strategy.DISTRIBUTED_ARITHMETIC):
        # Every weight is a synthesis-time constant of its own width (a DA layer here has none).
        n_dsp_mult, dsp, lut_bits, lut_ns = _constant_products(a[nz & ~pow2], wx, layer.weight_type.signed, part, p)
        n_lut_mult = n_mult - n_dsp_mult
        lut["lut_multipliers"] = lut_bits * p.lut_per_adder_bit + n_lut_mult * p.lut_per_lut_product
        lut["dsp_glue"] = n_dsp_mult * p.lut_per_dsp_product
        fabric_adds = max(0, n_adds - p.dsp_absorbed_adds * n_dsp_mult)
        lut["adders"] = fabric_adds * wa * p.lut_per_adder_bit
        ff["dsp"] = n_dsp_mult * p.ff_per_dsp_product
        if n_dsp_mult:  # the DSP path is the slowest
            sched.chain(p.dsp_input_ns, in_bits)
            sched.register(p.dsp_mult_cycles, p.dsp_output_ns)
        else:
            sched.chain(lut_ns, in_bits)
        for level in range(_log2_ceil(max_terms)):
            sched.chain(p.adder_delay(wa), _tree_live(terms, level) * wa)
    else:
        # Shared multipliers: the layer's static schedule (fpga_aware.core.schedule), read as
        # the firmware renders it: P lanes x C cycles, each lane a multiplier (a shift when every
        # weight is +-2**k) fed by an n:1 choice of its distinct inputs, one accumulator register
        # per (lane, output segment), a static adder tree per output after the loop.
        plan = layer.schedule
        P, C, S = plan.n_lanes, plan.n_cycles, plan.n_registers
        ww = layer.weight_type.width
        slots = 0 if layer.uses_shifts else P
        on_dsp = bool(p.needs_dsp(wx, ww))
        if slots and on_dsp:
            n_dsp_mult = slots
            dsp = slots * int(_dsp_tiles(wx, ww, part))
            lut["dsp_glue"] = slots * p.lut_per_dsp_product
            ff["dsp"] = slots * p.ff_per_dsp_product
        elif slots:
            n_lut_mult = slots
            lut["lut_multipliers"] = slots * wx * ww * p.lut_per_partial_product
        # one accumulating adder per register of several terms (a DSP's post-adder takes its
        # lane's), one adder of the final tree per register
        # (a register of one term is its product: no accumulating adder)
        accumulating = int(np.count_nonzero(plan.register_end - plan.register_first > 1))
        fabric_adds = max(0, accumulating - p.dsp_absorbed_adds * n_dsp_mult) + S
        lut["adders"] = fabric_adds * wa * p.lut_per_adder_bit
        # one input choice per bus: lanes with the same input in every cycle share it
        mux_levels = np.array([_log2_ceil(int(m)) for m in plan.bus_inputs()], dtype=np.int64)
        cycle_levels = _log2_ceil(C)
        weight_mux = ww * cycle_levels if strategy == Strategy.LATENCY else 0  # constants chosen by the cycle
        lut["operand_select"] = (wx * int(mux_levels.sum()) + P * weight_mux) * p.lut_per_mux_bit_level
        boundaries = plan.segment_boundaries
        if boundaries:  # a constant comparison of the cycle counter per segment boundary
            lut["segment_select"] = boundaries * max(1, cycle_levels)
        if strategy == Strategy.RESOURCE:
            ff["loop_registers"] = P * (wx + ww + wa) * p.ff_per_slot_bit_resource
        else:
            ff["multiplier_slots"] = P * (wx + ww + wa) * p.ff_per_slot_bit
        # the slot bits above include one accumulator per lane; a lane's further output segments
        # and the outputs' sums are registers of their own
        ff["accumulators"] = (S - P + n_out) * wa * p.ff_per_register_bit
        if strategy == Strategy.RESOURCE:  # one word of P weights per cycle, C words deep
            bram, lut["weight_memory"] = _memory(C, P, ww)
            sched.register(p.bram_read_cycles + p.resource_loop_overhead_cycles)
        # L = input choice + multiplier + (C - 1) cycles + accumulation + adder tree
        slot_bits = P * (wx + ww)
        sched.chain(math.ceil(max(int(mux_levels.max(initial=0)), cycle_levels if weight_mux else 0) / 2) * p.mux_level_ns,
                    in_bits)
        if slots and on_dsp:
            # a register cut here is the DSP's own operand registers (AREG/BREG): no flip-flops
            sched.chain(p.dsp_input_ns, 0.0)
            sched.register(p.dsp_mult_cycles, p.dsp_output_ns)
        elif slots:
            sched.chain(_log2_ceil(ww) * p.adder_delay(wx + ww), slot_bits)
        if accumulating:
            sched.chain(p.adder_delay(wa), P * wa)  # reg += p (the products live if it is cut)
        # the lane registers (the accumulators, counted above) close each cycle of the loop:
        # the adder tree after the loop starts from registers
        sched.register(1)
        sched.wait(C - 1)
        for level, (dst, _src) in enumerate(plan.combine_levels):
            sched.chain(p.adder_delay(wa), (S + n_out - sum(d.size for d, _ in plan.combine_levels[:level])) * wa)
    return _finish_layer(
        layer, sched, cycles0, ff0, lut, ff, n_weights=layer.n_weights, nonzero_weights=nnz, n_mult=n_mult,
        dsp=dsp, bram_18k=bram, reuse_factor=R, strategy=strategy.value, n_dsp_mult=n_dsp_mult,
        n_lut_mult=n_lut_mult, n_shift=n_shift,
    )


def _adder_graph_cost(layer: DenseLayer, sched: _Schedule, bias: np.ndarray) -> dict[str, float]:
    """``strategy='distributed_arithmetic'``: the LUTs of da4ml's adder graph (``templates/firmware/adder_graph.h.j2``)
    and its latency, chained level by level.

    Assumed, not validated against a Vivado/Vitis HLS report (none was run here): each node is
    one carry-chain adder of its width less the low bits where an operand is zero
    (``adder_bits``, the sum the Yosys estimate of ``multiplier='da'`` counts too), one LUT per
    bit (``lut_per_adder_bit``); each negated output and each nonzero bias one ``accum``-width
    adder; the shifts are wiring.  The graph's levels are chained with the tool's adder delay
    (:meth:`ToolProfile.adder_delay` of the level's widest adder), then the bias addition."""
    from fpga_aware.core.adder_graph import check_da_strategy, levels

    p = sched.profile
    check_da_strategy(layer)
    graph = layer.adder_graph
    wa = layer.accum_type.width
    read = [o["node"] is not None for o in graph["outputs"]]
    negated = sum(1 for o, r in zip(graph["outputs"], read) if r and o["neg"])
    biased = int(np.count_nonzero(bias != 0))
    for width, live in levels(graph):
        sched.chain(p.adder_delay(width), live)
    if negated:
        sched.chain(p.adder_delay(wa), sum(read) * wa)
    if biased:
        sched.chain(p.adder_delay(wa), layer.n_out * wa)
    return {"adder_graph": graph["adder_bits"] * p.lut_per_adder_bit,
            "adders": (negated + biased) * wa * p.lut_per_adder_bit}


@COST_RULES.register("activation")
def _activation_cost(layer: ActivationLayer, part: Part, sched: _Schedule) -> LayerCost:
    cycles0, ff0 = sched.cycles, sched.ff
    lut: dict[str, float] = {}
    bram = dsp = 0
    ff: dict[str, float] = {}
    fields: dict[str, int] = {}
    if activation(layer.function).uses_table:
        bram = _table_activation_cost(layer, sched, lut)
        if layer.linear is not None:
            dsp, fields = _linear_tail_cost(layer, part, sched, lut, ff)
    else:
        ACTIVATION_COSTS[layer.function](layer, sched, lut)
    return _finish_layer(layer, sched, cycles0, ff0, lut, ff, bram_18k=bram, dsp=dsp, **fields)


def _table_activation_cost(layer: ActivationLayer, sched: _Schedule, lut: dict[str, float]) -> int:
    """Index arithmetic and the ROM of a table activation (each table of a chain: its own index,
    range test and ROM, one result multiplexer); returns its BRAM_18K."""
    p = sched.profile
    n = layer.n_out
    chain = layer.table.chain
    bram = 0
    registered = False
    lut["index"] = lut["table"] = 0.0
    for table in chain:
        index_bits = max(1, _log2_ceil(table.size))
        lut["index"] += n * index_bits * 2 * p.lut_per_adder_bit  # subtract offset, clip / range test
        b, rom_lut, reg = _rom(table, n, p)
        bram += b
        lut["table"] += rom_lut
        registered = registered or reg
    index_bits = max(1, _log2_ceil(layer.table.size))
    sched.chain(p.adder_delay(index_bits), n * layer.input_type.width)
    if registered:
        sched.register(1)
    else:
        sched.chain(p.lutrom_ns, n * index_bits)
    if len(chain) > 1:  # choose among the tables' entries
        width = layer.table.value_type.width
        lut["table_mux"] = n * width * _log2_ceil(len(chain)) * p.lut_per_mux_bit_level
        sched.chain(p.mux_level_ns * _log2_ceil(len(chain)), n * width * len(chain))
    return bram


def _linear_tail_cost(layer: ActivationLayer, part: Part, sched: _Schedule, lut: dict[str, float],
                      ff: dict[str, float]) -> tuple[int, dict[str, int]]:
    """``x >= threshold ? result_t(x * slope) : table``: a constant product per value (none when
    the slope is a power of two), the comparison and the result multiplexer."""
    p = sched.profile
    n = layer.n_out
    tail = layer.linear
    wx, wr = layer.input_type.width, layer.result_type.width
    m = abs(int(tail.slope))
    if m.bit_length() > 62:  # an estimate: keep the top bits (the width decides the DSP tiling)
        m = (m >> (m.bit_length() - 62)) | 1
    a = np.array([m], dtype=np.int64)
    lut["compare"] = n * wx * p.lut_per_adder_bit
    lut["linear_mux"] = n * wr * p.lut_per_activation_bit
    dsp = n_dsp = 0
    if a[0] and a[0] & (a[0] - 1):
        n_dsp, slices, adder_bits, depth_ns = _constant_products(a, wx, tail.slope_type.signed, part, p)
        dsp = n * slices
        lut["linear_product"] = n * (adder_bits * p.lut_per_adder_bit + n_dsp * p.lut_per_dsp_product)
        ff["dsp"] = n * n_dsp * p.ff_per_dsp_product
        if n_dsp:
            sched.chain(p.dsp_input_ns, n * wx)
            sched.register(p.dsp_mult_cycles, p.dsp_output_ns)
        else:
            sched.chain(depth_ns, n * wx)
    sched.chain(p.activation_ns, n * (wx + wr))
    return dsp, {"n_mult": n if dsp or "linear_product" in lut else 0,
                 "n_dsp_mult": n * n_dsp, "n_lut_mult": n * (1 - n_dsp) if "linear_product" in lut else 0}


def _cast_cost(layer: ActivationLayer, sched: _Schedule, lut: dict[str, float], key: str) -> None:
    p = sched.profile
    n = layer.n_out
    lut[key] = n * min(layer.input_type.width, layer.result_type.width) * p.lut_per_activation_bit
    sched.chain(p.activation_ns, n * layer.input_type.width)


@ACTIVATION_COSTS.register("linear")
def _linear_cost(layer: ActivationLayer, sched: _Schedule, lut: dict[str, float]) -> None:
    if layer.input_type != layer.result_type:  # the same type: wires only
        _cast_cost(layer, sched, lut, "cast")


@ACTIVATION_COSTS.register("relu")
def _relu_cost(layer: ActivationLayer, sched: _Schedule, lut: dict[str, float]) -> None:
    _cast_cost(layer, sched, lut, "relu")


@COST_RULES.register("softmax")
def _softmax_cost(layer: SoftmaxLayer, part: Part, sched: _Schedule) -> LayerCost:
    p = sched.profile
    n = layer.n_in
    w_in, w_diff, w_sum = layer.input_type.width, layer.diff_type.width, layer.sum_type.width
    w_exp, w_inv = layer.exp_type.width, layer.inv_type.width
    cycles0, ff0 = sched.cycles, sched.ff
    levels = _log2_ceil(n)
    lut: dict[str, float] = {
        "max_tree": (n - 1) * w_in * (p.lut_per_adder_bit + p.lut_per_mux_bit_level),
        "differences": n * w_diff * p.lut_per_adder_bit,
        "sum": (n - 1) * w_sum * p.lut_per_adder_bit,
    }
    ff: dict[str, float] = {}
    exp_bram, exp_lut, exp_reg = _rom(layer.exp_table, n, p)
    inv_bram, inv_lut, inv_reg = _rom(layer.inv_table, 1, p)
    lut["tables"] = exp_lut + inv_lut
    on_dsp = bool(p.needs_dsp(w_exp, w_inv))
    dsp = 0
    if on_dsp:
        dsp = n * int(_dsp_tiles(w_exp, w_inv, part))
        lut["dsp_glue"] = n * p.lut_per_dsp_product
        ff["dsp"] = n * p.ff_per_dsp_product
    else:
        lut["lut_multipliers"] = n * w_exp * w_inv * p.lut_per_partial_product
    # max tree, differences, exp ROM, sum tree, 1/x ROM, products
    for level in range(levels):
        sched.chain(p.adder_delay(w_in) + p.mux_level_ns, (n + (1 << level) - 1) // (1 << level) * w_in + n * w_in)
    sched.chain(p.adder_delay(w_diff), n * w_in)
    if exp_reg:
        sched.register(1)
    else:
        sched.chain(p.lutrom_ns, n * w_diff)
    for level in range(levels):
        sched.chain(p.adder_delay(w_sum), ((n + (1 << level) - 1) // (1 << level) + n) * w_exp)
    if inv_reg:
        sched.register(1)
    else:
        sched.chain(p.lutrom_ns, w_sum + n * w_exp)
    if on_dsp:
        sched.chain(p.dsp_input_ns, (n + 1) * w_exp)
        sched.register(p.dsp_mult_cycles, p.dsp_output_ns)
    else:
        sched.chain(_log2_ceil(w_inv) * p.adder_delay(w_exp + w_inv), (n + 1) * w_exp)
    return _finish_layer(layer, sched, cycles0, ff0, lut, ff, n_mult=n, dsp=dsp, bram_18k=exp_bram + inv_bram,
                         n_dsp_mult=n if on_dsp else 0, n_lut_mult=0 if on_dsp else n)


@dataclass(frozen=True)
class _ChannelProducts:
    """One constant product ``x * c[i]`` per channel (scale-shift's scales, a PReLU's slopes)."""

    n_dsp: int
    lut_ns: float
    lut: dict  #: LUT breakdown of the products
    ff: dict  #: FF breakdown of the products
    counts: dict  #: the LayerCost counts: nonzero_weights, n_mult, dsp, n_dsp_mult, n_lut_mult, n_shift


def _per_channel_products(constants, wx: int, signed: bool, part: Part, p: ToolProfile) -> _ChannelProducts:
    """Zero and ``+-2**k`` constants cost nothing; the others are LUT shift-and-adds or DSPs."""
    a = np.abs(_int64_mantissas(constants))
    nz = a != 0
    pow2 = nz & ((a & (a - 1)) == 0)
    n_mult = int(np.count_nonzero(nz & ~pow2))
    n_dsp, dsp, lut_bits, lut_ns = _constant_products(a[nz & ~pow2], wx, signed, part, p)
    return _ChannelProducts(
        n_dsp=n_dsp, lut_ns=lut_ns,
        lut={"lut_multipliers": lut_bits * p.lut_per_adder_bit + (n_mult - n_dsp) * p.lut_per_lut_product,
             "dsp_glue": n_dsp * p.lut_per_dsp_product},
        ff={"dsp": n_dsp * p.ff_per_dsp_product},
        counts=dict(nonzero_weights=int(nz.sum()), n_mult=n_mult, dsp=dsp, n_dsp_mult=n_dsp,
                    n_lut_mult=n_mult - n_dsp, n_shift=int(pow2.sum())),
    )


@COST_RULES.register("scale_shift")
def _scale_shift_cost(layer: ScaleShiftLayer, part: Part, sched: _Schedule) -> LayerCost:
    wx = layer.input_type.width
    wa = layer.accum_type.width
    n = layer.n_out
    p = sched.profile
    prods = _per_channel_products(layer.scale, wx, layer.scale_type.signed, part, p)
    n_dsp, lut_ns = prods.n_dsp, prods.lut_ns
    cycles0, ff0 = sched.cycles, sched.ff
    lut = {**prods.lut, "adders": n * wa * p.lut_per_adder_bit}
    ff = dict(prods.ff)
    if n_dsp:
        sched.chain(p.dsp_input_ns, n * wx)
        sched.register(p.dsp_mult_cycles, p.dsp_output_ns)
    else:
        sched.chain(lut_ns, n * wx)
    sched.chain(p.adder_delay(wa), n * wa)
    return _finish_layer(layer, sched, cycles0, ff0, lut, ff, n_weights=n, **prods.counts)


@COST_RULES.register("parametric_relu")
def _parametric_relu_cost(layer: ParametricReLULayer, part: Part, sched: _Schedule) -> LayerCost:
    n = layer.n_out
    wx, wr = layer.input_type.width, layer.result_type.width
    p = sched.profile
    prods = _per_channel_products(layer.alpha, wx, layer.alpha_type.signed, part, p)
    n_dsp, lut_ns = prods.n_dsp, prods.lut_ns
    cycles0, ff0 = sched.cycles, sched.ff
    lut = {**prods.lut, "compare": n * wx * p.lut_per_adder_bit, "select": n * wr * p.lut_per_activation_bit}
    ff = dict(prods.ff)
    if n_dsp:  # the product is the slowest path; the comparison runs beside it
        sched.chain(p.dsp_input_ns, n * wx)
        sched.register(p.dsp_mult_cycles, p.dsp_output_ns)
    else:
        sched.chain(max(lut_ns, p.adder_delay(wx)), n * wx)
    sched.chain(p.activation_ns, n * (wx + wr))
    return _finish_layer(layer, sched, cycles0, ff0, lut, ff, n_weights=n, **prods.counts)


# ============================================================================ entry point
def estimate_ir(ir: ModelIR, config: FirmwareConfig | None = None, *, part: "str | Part | None" = None,
                tool: "str | ToolProfile" = DEFAULT_TOOL) -> CostReport:
    """Estimate DSP, LUT, FF, BRAM_18K, latency and II of ``ir`` on ``config.part`` as the HLS
    ``tool`` would report them (:data:`~fpga_aware.cost.tools.TOOL_PROFILES`: ``'vitis'``,
    ``'vivado'``, or a :class:`~fpga_aware.cost.tools.ToolProfile`).

    ``part`` overrides ``config.part``; an unknown part raises
    :class:`~fpga_aware.core.parts.UnknownPartError` naming the closest ones.
    """
    p = tool_profile(tool)
    config = config if config is not None else FirmwareConfig()
    the_part = get_part(part if part is not None else config.part)
    sched = _Schedule(config.clock_period, p, speed_grade_delay(the_part.name))
    costs: list[LayerCost] = []
    ii = 1
    plan = stream_plan(ir) if IOType(config.io_type) == IOType.STREAM else None
    stages = {s.name: s for s in plan.stages} if plan is not None else {}
    for layer in ir.layers:
        sched.stream_stage = stages.get(layer.name)
        cost = COST_RULES[layer.kind](_stream_copy(layer, sched.stream_stage), the_part, sched)
        if sched.stream_stage is not None:
            _stream_memory(cost, layer, sched.stream_stage)
            ii = max(ii, sched.stream_stage.busy_cycles)  # the token schedule's (core/streams.py)
        else:
            ii = max(ii, int(layer.ii))
        costs.append(cost)
    sched.stream_stage = None
    if plan is not None:
        ii = max(ii, plan.ii_tokens)
    if ir.layers:
        # the output register belongs to the last layer
        ff0, cycles0 = sched.ff, sched.cycles
        out = ir.layers[-1]
        total = sched.finish(out.n_out * out.result_type.width)
        if costs:
            extra_ff = int(round((sched.ff - ff0) * p.ff_per_register_bit))
            costs[-1].latency_cycles += sched.cycles - cycles0
            costs[-1].ff += extra_ff
            if extra_ff:
                costs[-1].ff_breakdown["pipeline"] = costs[-1].ff_breakdown.get("pipeline", 0) + extra_ff
    else:
        total = 0
    if plan is not None:  # the token schedule: pixels arrive and leave one per cycle
        total += plan.latency_tokens
    note = p.domain_note(the_part)
    if note:
        warnings.warn(note, OutOfCalibratedDomainWarning, stacklevel=_caller_stacklevel())
    return CostReport(
        domain_note=note,
        part=the_part,
        clock_period=float(config.clock_period),
        dsp=sum(c.dsp for c in costs),
        lut=sum(c.lut for c in costs),
        ff=sum(c.ff for c in costs),
        bram_18k=sum(c.bram_18k for c in costs),
        latency_cycles=total,
        ii=ii,
        latency_ns=total * float(config.clock_period),
        layers=costs,
        tool=p.description,
    )


def _stream_copy(layer: Layer, stage) -> Layer:
    """The logic io_stream builds for ``layer``: a per-pixel (element-wise) process computes one
    token of ``stage.in_width`` values per iteration (templates/firmware/stream_layers.j2, the
    ``pixel_config`` with ``n = in_width``), so it is costed as a layer of that many values, not
    of the whole tensor; every other layer as it is."""
    if stage is None or stage.mode != "pixel" or stage.in_width == layer.n_out:
        return layer
    return dataclasses.replace(layer, n_in=stage.in_width, n_out=stage.in_width)


def _stream_memory(cost: LayerCost, layer: Layer, stage) -> None:
    """io_stream: a window layer's line buffer (``buffer_depth`` pixels of ``in_width`` values) and
    the FIFO to the next layer (``fifo_depth`` tokens of ``out_width`` values), each block RAM or
    LUT RAM by :func:`~fpga_aware.core.hardware.in_block_ram` (the depth decides)."""
    if stage.mode == "window":
        bram, lut = _memory(stage.buffer_depth, stage.in_width, layer.input_type.width)
        cost.bram_18k += bram
        cost.lut += int(round(lut))
        cost.lut_breakdown["line_buffer"] = int(round(lut))
    if stage.fifo_depth:
        bram, lut = _memory(stage.fifo_depth, 1, stage.out_width * layer.result_type.width)
        cost.bram_18k += bram
        cost.lut += int(round(lut))
        cost.lut_breakdown["fifo"] = int(round(lut))


@COST_RULES.register("step")
def _step_cost(layer, part: Part, sched: _Schedule) -> LayerCost:
    """A comparator with a constant per threshold and element, then a choice among the levels."""
    p = sched.profile
    n, w_in, w_out = layer.n_out, layer.input_type.width, layer.result_type.width
    n_thr = len(layer.thresholds)
    mux_levels = _log2_ceil(n_thr + 1)
    cycles0, ff0 = sched.cycles, sched.ff
    lut = {
        "comparators": n * n_thr * w_in * p.lut_per_adder_bit,
        "select": n * w_out * mux_levels * p.lut_per_mux_bit_level,
    }
    sched.chain(p.adder_delay(w_in) + mux_levels * p.mux_level_ns, n * w_in)
    return _finish_layer(layer, sched, cycles0, ff0, lut, {})


# ============================================================================ windowed kinds
#: LayerCost fields that grow with the copies of a convolution's product (one per output pixel).
_PER_COPY = ("dsp", "lut", "ff", "bram_18k", "n_mult", "n_dsp_mult", "n_lut_mult", "n_shift")


@COST_RULES.register("conv")
def _conv_cost(layer, part: Part, sched: _Schedule) -> LayerCost:
    """io_parallel: the top function is pipelined at II 1, so the pixel loop unrolls and every
    output pixel has its own copy of the dense product (docs/cost_model.md): resources are the
    product's times the pixels, the latency is one product's (the copies run side by side; the
    patch gather is wiring).  Stored weights are counted once."""
    cost = _dense_cost(layer.product, part, sched)
    # io_stream: one product computes the pixels one after another (the line buffer is costed by
    # estimate_ir); io_parallel: one copy per output pixel
    n = 1 if getattr(sched, "stream_stage", None) is not None else layer.n_pixels
    for key in _PER_COPY:
        setattr(cost, key, getattr(cost, key) * n)
    cost.lut_breakdown = {k: v * n for k, v in cost.lut_breakdown.items()}
    cost.ff_breakdown = {k: v * n for k, v in cost.ff_breakdown.items()}
    cost.name, cost.kind = layer.name, layer.kind
    return cost


@COST_RULES.register("pooling")
def _pooling_cost(layer, part: Part, sched: _Schedule) -> LayerCost:
    """Per output value: max pooling a tree of ``window - 1`` comparators and choices of the
    input's width; average pooling an adder tree of the sum's width and, where the window's count
    is not a power of two, a division by that constant (counted as a constant multiplier of the
    sum's width in LUTs, ``width**2 / 2`` partial-product bits).  Padding cells cost nothing."""
    p = sched.profile
    n_window, channels = layer.n_window, layer.channels
    counts = np.asarray(layer.counts, dtype=np.int64)
    cycles0, ff0 = sched.cycles, sched.ff
    levels = _log2_ceil(max(n_window, 1))
    stream = getattr(sched, "stream_stage", None) is not None
    if stream:  # io_stream: one pixel's logic, used once per output pixel
        counts = counts[np.argmax(counts)][None]
    n_values = channels * len(counts)
    cells = int(np.maximum(counts - 1, 0).sum()) * channels  # comparisons or additions
    lut: dict[str, float] = {}
    wx = layer.input_type.width
    if layer.operation == "max":
        lut["comparators"] = cells * wx * p.lut_per_adder_bit
        lut["select"] = cells * wx * p.lut_per_mux_bit_level
        for level in range(levels):
            sched.chain(p.adder_delay(wx) + p.mux_level_ns, n_values * wx * max(1, (n_window >> level)))
    else:
        ws = layer.sum_type.width
        lut["adders"] = cells * ws * p.lut_per_adder_bit
        dividing = int(np.count_nonzero(counts & (counts - 1))) * channels
        lut["divide"] = dividing * ws * ws / 2 * p.lut_per_partial_product
        for level in range(levels):
            sched.chain(p.adder_delay(ws), n_values * ws * max(1, (n_window >> level)))
        if dividing:
            sched.chain(_log2_ceil(ws) * p.adder_delay(ws), n_values * ws)
    return _finish_layer(layer, sched, cycles0, ff0, lut, {})


@COST_RULES.register("reorder")
def _reorder_cost(layer, part: Part, sched: _Schedule) -> LayerCost:
    """ZeroPadding / Cropping / UpSampling: wiring (constant zeros and copies), no logic, no cycle."""
    return LayerCost(name=layer.name, kind=layer.kind)
