"""A typed catalogue of FPGA parts and their resources.

Resource counts are the device totals Vivado reports as "Available" (the same numbers as
the Xilinx/AMD product tables): DSP slices, CLB LUTs, CLB flip-flops, 18 Kb block RAMs
(a 36 Kb block counts as two) and UltraRAM blocks.  ``dsp_family`` decides how many DSP
slices a wide product needs: a ``DSP48E1`` (7 series) multiplies 25x18 bits, a
``DSP48E2`` (UltraScale, UltraScale+) 27x18 bits.

:func:`get_part` accepts a full part name (case-insensitive), an unambiguous prefix such
as ``"xcu50"``, or another package/speed grade of a catalogued device (e.g.
``"xcvu9p-flgb2104-2-i"`` gets the resources of ``xcvu9p``); anything else raises
:class:`UnknownPartError` listing the closest catalogued names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

__all__ = ["Part", "PARTS", "SERIES", "DEFAULT_PART", "YOSYS_FAMILIES", "UnknownPartError", "get_part", "part_names"]

#: Yosys ``synth_xilinx -family`` values the Verilog backend synthesizes for: 7-series, UltraScale, UltraScale+.
YOSYS_FAMILIES = ("xc7", "xcu", "xcup")

#: DSP slice families and the (wide, narrow) signed operand widths of their multiplier.
DSP_MULTIPLIER_WIDTHS = {"DSP48E1": (25, 18), "DSP48E2": (27, 18)}


class UnknownPartError(ValueError):
    """The FPGA part is not in the catalogue (or a prefix matches several parts)."""


#: Architecture generations and the family names of each (the first that matches wins:
#: 'UltraScale+' before 'UltraScale').
SERIES: dict[str, tuple[str, ...]] = {
    "UltraScale+": ("UltraScale+",),
    "UltraScale": ("UltraScale",),
    "7 series": ("Virtex-7", "Kintex-7", "Artix-7", "Spartan-7", "Zynq-7000"),
}


@dataclass(frozen=True)
class Part:
    """One FPGA device (a specific package and speed grade) and its resources."""

    name: str
    family: str
    dsp: int
    lut: int
    ff: int
    bram_18k: int
    uram: int
    dsp_family: str  #: 'DSP48E1' (25x18 multiplier) or 'DSP48E2' (27x18)
    board: str = ""  #: the usual board/card, for messages only

    def __post_init__(self) -> None:
        self.series  # an unknown family raises here, naming the known series
        if self.dsp_family not in DSP_MULTIPLIER_WIDTHS:
            raise ValueError(
                f"part {self.name}: dsp_family {self.dsp_family!r} is not one of {sorted(DSP_MULTIPLIER_WIDTHS)}"
            )

    @property
    def series(self) -> str:
        """The architecture generation of the part's family (:data:`SERIES`): ``'UltraScale+'``,
        ``'UltraScale'`` or ``'7 series'`` -- what decides the operator delays, and so which
        published reports the cost model's calibration covers
        (:attr:`fpga_aware.cost.tools.ToolProfile.calibrated_series`)."""
        for series, marks in SERIES.items():
            if any(m in self.family for m in marks):
                return series
        raise ValueError(f"part {self.name}: family {self.family!r} is of none of the series {list(SERIES)}")

    @property
    def device(self) -> str:
        """The die name without package and speed grade, e.g. ``xcvu9p``."""
        return self.name.split("-", 1)[0].lower()

    @property
    def dsp_multiplier_widths(self) -> tuple[int, int]:
        """``(wide, narrow)`` signed operand widths one DSP slice multiplies."""
        return DSP_MULTIPLIER_WIDTHS[self.dsp_family]

    def resources(self) -> dict[str, int]:
        return {"dsp": self.dsp, "lut": self.lut, "ff": self.ff, "bram_18k": self.bram_18k, "uram": self.uram}


def _p(name, family, *, lut, ff, dsp, bram_18k, uram, dsp_family, board=""):
    return Part(name=name, family=family, dsp=dsp, lut=lut, ff=ff, bram_18k=bram_18k, uram=uram,
                dsp_family=dsp_family, board=board)


_E2 = "DSP48E2"
_E1 = "DSP48E1"

#: The catalogue, by full part name.
PARTS: dict[str, Part] = {
    p.name: p
    for p in (
        # Alveo data-centre cards (Virtex UltraScale+ dies)
        _p("xcu250-figd2104-2L-e", "Virtex UltraScale+ (Alveo)", lut=1_728_000, ff=3_456_000, dsp=12_288,
           bram_18k=5_376, uram=1_280, dsp_family=_E2, board="Alveo U250"),
        _p("xcu200-fsgd2104-2-e", "Virtex UltraScale+ (Alveo)", lut=1_182_240, ff=2_364_480, dsp=6_840,
           bram_18k=4_320, uram=960, dsp_family=_E2, board="Alveo U200"),
        _p("xcu50-fsvh2104-2-e", "Virtex UltraScale+ HBM (Alveo)", lut=871_680, ff=1_743_360, dsp=5_952,
           bram_18k=2_688, uram=640, dsp_family=_E2, board="Alveo U50"),
        _p("xcu280-fsvh2892-2L-e", "Virtex UltraScale+ HBM (Alveo)", lut=1_303_680, ff=2_607_360, dsp=9_024,
           bram_18k=4_032, uram=960, dsp_family=_E2, board="Alveo U280"),
        _p("xcu55c-fsvh2892-2L-e", "Virtex UltraScale+ HBM (Alveo)", lut=1_303_680, ff=2_607_360, dsp=9_024,
           bram_18k=4_032, uram=960, dsp_family=_E2, board="Alveo U55C"),
        # Virtex UltraScale+
        _p("xcvu9p-flga2104-2L-e", "Virtex UltraScale+", lut=1_182_240, ff=2_364_480, dsp=6_840,
           bram_18k=4_320, uram=960, dsp_family=_E2, board="VCU118"),
        _p("xcvu13p-flga2577-2-e", "Virtex UltraScale+", lut=1_728_000, ff=3_456_000, dsp=12_288,
           bram_18k=5_376, uram=1_280, dsp_family=_E2),
        # Kintex UltraScale
        _p("xcku115-flvb2104-2-i", "Kintex UltraScale", lut=663_360, ff=1_326_720, dsp=5_520,
           bram_18k=4_320, uram=0, dsp_family=_E2),
        # Zynq UltraScale+ MPSoC
        _p("xczu9eg-ffvb1156-2-e", "Zynq UltraScale+", lut=274_080, ff=548_160, dsp=2_520,
           bram_18k=1_824, uram=0, dsp_family=_E2, board="ZCU102"),
        _p("xczu7ev-ffvc1156-2-e", "Zynq UltraScale+", lut=230_400, ff=460_800, dsp=1_728,
           bram_18k=624, uram=96, dsp_family=_E2, board="ZCU104"),
        _p("xczu3eg-sbva484-1-e", "Zynq UltraScale+", lut=70_560, ff=141_120, dsp=360,
           bram_18k=432, uram=0, dsp_family=_E2, board="Ultra96"),
        # 7 series
        _p("xc7vx690t-ffg1927-2", "Virtex-7", lut=433_200, ff=866_400, dsp=3_600,
           bram_18k=2_940, uram=0, dsp_family=_E1),
        _p("xc7z020-clg400-1", "Zynq-7000", lut=53_200, ff=106_400, dsp=220,
           bram_18k=280, uram=0, dsp_family=_E1, board="PYNQ-Z2"),
        _p("xc7a100t-csg324-1", "Artix-7", lut=63_400, ff=126_800, dsp=240,
           bram_18k=270, uram=0, dsp_family=_E1, board="Arty A7-100T / Nexys A7-100T"),
    )
}

#: The part every export, estimate, callback, recipe and command uses when none is named (the
#: hls4ml tutorial's Alveo U250).
DEFAULT_PART = "xcu250-figd2104-2L-e"


def part_names() -> list[str]:
    return list(PARTS)


def _closest(name: str, n: int = 5) -> list[str]:
    lowered = {p.lower(): p for p in PARTS}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.45)
    if not close:  # compare device names too ("xcvu9" vs "xcvu9p")
        devices = {p.device: p.name for p in PARTS.values()}
        close = [devices[d] for d in difflib.get_close_matches(name.lower().split("-")[0], list(devices), n=n, cutoff=0.45)]
    return [lowered.get(c, c) for c in close]


def get_part(name: "str | Part") -> Part:
    """The :class:`Part` named ``name``: a full name, an unambiguous prefix, or another
    package / speed grade of a catalogued device.

    Raises :class:`UnknownPartError` (a ``ValueError``) naming the closest parts.
    """
    if isinstance(name, Part):
        return name
    if not isinstance(name, str) or not name.strip():
        raise UnknownPartError(f"part must be a non-empty FPGA part name, got {name!r}; known parts: {part_names()}")
    key = name.strip().lower()
    by_lower = {p.lower(): part for p, part in PARTS.items()}
    if key in by_lower:
        return by_lower[key]
    prefixed = [part for p, part in by_lower.items() if p.startswith(key)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise UnknownPartError(
            f"FPGA part {name!r} is ambiguous; it is a prefix of {[p.name for p in prefixed]}; give more of the name"
        )
    device = key.split("-", 1)[0]
    same_device = [part for part in PARTS.values() if part.device == device]
    if "-" in key and len(same_device) == 1:
        # Another package or speed grade of a catalogued die: same resources.
        return replace(same_device[0], name=name.strip())
    close = _closest(name)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else f"known parts: {part_names()}"
    raise UnknownPartError(f"unknown FPGA part {name!r}; {hint}")
