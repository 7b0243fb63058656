"""What the HLS cost model assumes about each HLS tool: one :class:`ToolProfile` per tool.

:func:`fpga_aware.cost.model.estimate_ir` is one set of physical rules (adders, registers,
memories, operator delays chained into clock cycles); the tools differ in a few decisions and
in their per-item overheads, and those are the fields of a profile:

* which constant products become DSP multipliers (:attr:`ToolProfile.constant_dsp_rule`):
  Vivado HLS 2019/2020 by the operand widths, Vitis HLS by the constant's significant bits
  (it builds every product by a constant of fewer bits from LUT shift-and-adds);
* the fitted per-item LUT/FF constants (fabric glue of a DSP product, fixed cost of an output
  neuron, pipeline registers per multiplier slot) and the operator delays.

:data:`TOOL_PROFILES` is keyed by the ``tool=`` name users pass (``'vitis'``, the default,
and ``'vivado'``); ``'yosys'`` is the Verilog backend's own model (:mod:`fpga_aware.cost.yosys`).
The fit of each profile and its validation on designs it was not fitted to are in
``docs/cost_model.md`` (``benchmarks/hls_calibration.py`` regenerates them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from fpga_aware.core.registry import Registry

__all__ = ["ToolProfile", "OutOfCalibratedDomainWarning", "OUT_OF_DOMAIN_ERRORS",
           "TOOL_PROFILES", "VIVADO_HLS", "VITIS_HLS", "DEFAULT_TOOL", "ESTIMATE_TOOLS", "tool_profile",
           "SPEED_GRADE_DELAY", "speed_grade", "speed_grade_delay"]

#: How a tool decides that a product by a synthesis-time constant is a DSP multiplier.
CONSTANT_DSP_RULES = ("operand_widths", "constant_bits")


#: Logic delays of a speed grade relative to speed grade -2, the grade the profiles' operator
#: delays are for (every calibration design but the Ultra96's is a -2 part).  From the
#: UltraScale+ data sheets' DSP48E2 maximum frequency with all registers (DS922/DS925: 891,
#: 775 and 645 MHz at -3, -2 and -1, VCCINT 0.85 V): a -1 part's operators are 775/645 = 1.2x
#: slower, so the HLS scheduler fits fewer of them into a cycle and inserts more pipeline
#: registers (the Ultra96's xczu3eg-1 runs of the jet tagger: 13-15 cycles and ~50 k FF where
#: the -2 U250 and ZCU106 runs of the same firmware take 9 cycles and ~27 k FF).  A low-power
#: ``L`` grade (``-2L-e``: the Alveo cards run it at 0.85 V) counts as its number.
SPEED_GRADE_DELAY = {"1": 775 / 645, "2": 1.0, "3": 775 / 891}
_SPEED_GRADE = re.compile(r"-([123])[lLeE]?(?:-[a-zA-Z]+)?$")


def speed_grade(part_name: str) -> "str | None":
    """The speed grade digit of a Xilinx part name (``'xczu3eg-sbva484-1-e'`` -> ``'1'``,
    ``'xcu250-figd2104-2L-e'`` -> ``'2'``, ``'xc7z020-clg400-1'`` -> ``'1'``), or ``None``."""
    m = _SPEED_GRADE.search(str(part_name).strip())
    return m.group(1) if m else None


def speed_grade_delay(part_name: str) -> float:
    """:data:`SPEED_GRADE_DELAY` of a part (1.0 when its name gives no speed grade)."""
    return SPEED_GRADE_DELAY.get(speed_grade(part_name) or "2", 1.0)


@dataclass(frozen=True)
class ToolProfile:
    """The tool-dependent constants of the HLS cost model (every other rule is physical)."""

    #: the ``tool=`` name
    name: str
    #: the tool and version range, and what the constants were fitted to (printed with every table)
    description: str
    #: the part series (:attr:`fpga_aware.core.parts.Part.series`) whose operator delays the
    #: constants were fitted to; an estimate for a part of another series carries a
    #: :class:`OutOfCalibratedDomainWarning` and a note in its table
    calibrated_series: tuple = ("UltraScale", "UltraScale+")
    #: ``'operand_widths'``: a constant product is a DSP when both operand widths exceed
    #: :attr:`lut_mult_max_narrow_width` and their sum exceeds :attr:`lut_mult_max_width_sum`
    #: (the constant's width is ``bit_length(|m|)`` plus a sign bit); ``'constant_bits'``: when
    #: the constant's odd part (``|m|`` without its trailing zero bits, which are wiring) has at
    #: least :attr:`dsp_min_constant_bits` bits and the operand widths add up to more than
    #: :attr:`lut_mult_max_width_sum`.  Shared (variable) products use the width rule always.
    constant_dsp_rule: str = "operand_widths"
    lut_mult_max_narrow_width: int = 4
    lut_mult_max_width_sum: int = 20
    dsp_min_constant_bits: int = 8
    # --- timing (ns) and pipeline structure
    adder_ns: float = 0.35
    adder_ns_per_bit: float = 0.01
    dsp_input_ns: float = 0.6
    dsp_mult_cycles: int = 1
    dsp_output_ns: float = 0.3
    bram_read_cycles: int = 2
    resource_loop_overhead_cycles: int = 3
    mux_level_ns: float = 0.45
    activation_ns: float = 0.4
    lutrom_ns: float = 0.8
    # --- memories
    #: reads one block-RAM copy of a lookup table serves per cycle: 2 (Vivado HLS: dual-port
    #: ROMs), 1 (Vitis HLS: one ROM_1P copy per read)
    rom_ports: int = 2
    # --- LUTs
    lut_per_adder_bit: float = 1.0
    dsp_absorbed_adds: int = 1
    lut_per_partial_product: float = 0.6
    lut_per_dsp_product: float = 6.0
    lut_per_lut_product: float = 0.0
    lut_per_mux_bit_level: float = 0.6
    lut_per_activation_bit: float = 1.0
    lut_per_neuron: float = 360.0
    # --- flip-flops
    ff_per_register_bit: float = 1.0
    ff_per_dsp_product: float = 7.0
    ff_per_slot_bit: float = 0.08
    ff_per_slot_bit_resource: float = 2.7
    ff_per_neuron: float = 14.0

    def __post_init__(self) -> None:
        if self.constant_dsp_rule not in CONSTANT_DSP_RULES:
            raise ValueError(f"ToolProfile {self.name!r}: constant_dsp_rule must be one of "
                             f"{list(CONSTANT_DSP_RULES)}, got {self.constant_dsp_rule!r}")

    def adder_delay(self, width: int) -> float:
        """Delay of a carry-chain adder of ``width`` bits."""
        return self.adder_ns + self.adder_ns_per_bit * width

    def needs_dsp(self, wx, ww) -> np.ndarray:
        """Whether a ``wx``-bit by ``ww``-bit product of two variables is a DSP (vectorised)."""
        wx, ww = np.asarray(wx), np.asarray(ww)
        return (np.minimum(wx, ww) > self.lut_mult_max_narrow_width) & (wx + ww > self.lut_mult_max_width_sum)

    def constant_on_dsp(self, wx: int, a: np.ndarray, ww: np.ndarray) -> np.ndarray:
        """Whether products ``x * m`` (``wx``-bit ``x``; ``a = |m|`` nonzero, not powers of two;
        ``ww`` the constants' widths with sign) are DSPs (vectorised)."""
        if self.constant_dsp_rule == "operand_widths":
            return self.needs_dsp(wx, ww)
        a = np.asarray(a, dtype=np.int64)
        odd = a // (a & -a)  # drop the trailing zero bits: a shift of the product
        odd_bits = np.frexp(odd.astype(np.float64))[1]
        return (odd_bits >= self.dsp_min_constant_bits) & (wx + np.asarray(ww) > self.lut_mult_max_width_sum)

    def domain_note(self, part) -> str:
        """``''`` when ``part`` (a :class:`~fpga_aware.core.parts.Part`) is of a series the
        profile was calibrated on, else what the estimate was checked against there."""
        if part.series in self.calibrated_series:
            return ""
        measured = OUT_OF_DOMAIN_ERRORS.get((self.name, part.series))
        return (f"{part.name} is a {part.family} part ({part.series}), outside the calibrated domain: "
                f"{self.name} was calibrated on {' and '.join(self.calibrated_series)} parts only; "
                + (f"checked on {measured}" if measured
                   else f"no published {part.series} report of this tool was checked"))

    def with_(self, **changes) -> "ToolProfile":
        """A copy with some constants changed (for fits and what-ifs)."""
        return replace(self, **changes)


class OutOfCalibratedDomainWarning(UserWarning):
    """An HLS estimate for a part whose series the tool profile was not calibrated on (e.g. a
    7-series part: the operator delays, and so the schedule and its registers, are UltraScale+'s)."""


#: What the estimate measured on published reports of a series outside a profile's calibrated
#: domain, ``(tool, series) -> summary`` (benchmarks/hls_calibration.py, the "outside the
#: calibrated domain" table of docs/cost_model.md; tests/test_cost_calibration.py checks it
#: against the committed table).
OUT_OF_DOMAIN_ERRORS: dict[tuple[str, str], str] = {
    ("vitis", "7 series"): "4 Vitis HLS 2024.2 reports on xc7z020-clg400-1: published/estimate latency 2.09-4.73x, "
                           "ff 8.84-27.27x, lut 0.98-1.95x, dsp 0.94-7.6x (docs/cost_model.md, outside the calibrated "
                           "domain)",
}


#: Vivado HLS 2018.2-2020.1, fitted (benchmarks/hls_calibration.py --fit) to the 12 fit-set
#: Vivado HLS designs of benchmarks/data/published_reports.json (hls4ml tutorial and slides).
#: Its scheduler chains a DSP multiply combinationally with the fabric at 5 ns
#: (``dsp_mult_cycles=0``): the 9-cycle jet tagger of the -2 parts.
VIVADO_HLS = ToolProfile(
    name="vivado",
    description="vivado: Vivado HLS 2018.2-2020.1, fitted to 12 published hls4ml reports on UltraScale(+), "
                "validated on 9 others",
    adder_ns=0.35,
    adder_ns_per_bit=0.02,
    dsp_input_ns=0.6,
    dsp_mult_cycles=0,
    dsp_output_ns=1.0,
    activation_ns=0.2,
    lut_per_neuron=626.092,
    lut_per_dsp_product=0.0,
    lut_per_adder_bit=0.2,
    lut_per_mux_bit_level=1.291,
    ff_per_neuron=159.586,
    ff_per_dsp_product=0.019,
    ff_per_register_bit=0.455,
    ff_per_slot_bit=0.223,
)

#: Vitis HLS 2020.1-2024.1 on UltraScale/UltraScale+ parts: maps products by constants of fewer
#: than 8 significant bits to LUTs, one ROM copy per table read; fitted to its 3 fit-set designs
#: of the calibrated series (all RF 1: the shared multipliers' slot FFs keep the default).  Its
#: FFs are its pipeline registers and DSP glue: the fit leaves no fixed per-neuron FFs.  The
#: fork enlupi/hls4ml-tutorial's Vitis HLS 2023.2/2024.2 reports (U250, U200) came after the fit:
#: 5 are validation designs, and a refit with its 6 fit designs is worse on the validation set,
#: so it is not adopted (docs/cost_model.md).  The
#: Vitis HLS 2024.2 reports on a Zynq-7000 (xc7z020-1) are outside its domain: scored apart, never
#: fitted (:data:`OUT_OF_DOMAIN_ERRORS`).
VITIS_HLS = ToolProfile(
    name="vitis",
    description="vitis: Vitis HLS 2020.1-2024.2, fitted to 3 published hls4ml reports on UltraScale+, "
                "validated on 8 others",
    constant_dsp_rule="constant_bits",
    rom_ports=1,
    adder_ns=0.5,
    adder_ns_per_bit=0.02,
    dsp_input_ns=1.8,
    dsp_mult_cycles=1,
    dsp_output_ns=0.3,
    activation_ns=0.2,
    lut_per_neuron=160.599,
    lut_per_lut_product=15.821,
    lut_per_dsp_product=7.418,
    lut_per_adder_bit=0.2,
    ff_per_neuron=0.0,
    ff_per_dsp_product=4.92,
    ff_per_register_bit=0.4,
)

TOOL_PROFILES: Registry[ToolProfile] = Registry("HLS tool profile", key="tool")
TOOL_PROFILES.register("vitis")(VITIS_HLS)
TOOL_PROFILES.register("vivado")(VIVADO_HLS)

#: The tool an estimate is for unless one is named: what users synthesize with today.
DEFAULT_TOOL = "vitis"
#: Every ``tool=`` an estimate accepts: the HLS profiles and the Verilog backend's Yosys model.
ESTIMATE_TOOLS = ("vitis", "vivado", "yosys")


def tool_profile(tool: "str | ToolProfile") -> ToolProfile:
    """The profile of an HLS tool name (or the profile itself); unknown names raise, listing them."""
    if isinstance(tool, ToolProfile):
        return tool
    if not isinstance(tool, str) or tool not in TOOL_PROFILES:
        raise ValueError(f"tool must be one of {list(ESTIMATE_TOOLS)}, got {tool!r}")
    return TOOL_PROFILES[tool]
