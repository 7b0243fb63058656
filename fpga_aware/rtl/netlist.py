"""Gate-level simulation: the Yosys netlist of a Verilog project, simulated with Icarus Verilog.

:func:`simulate_netlist` synthesizes the project with ``synth_xilinx`` (by default for 7-series,
``xc7``, whose DSP48E1 Yosys ships a simulation model of), writes the mapped design as
structural Verilog of Xilinx primitives (LUTs, CARRY4, FDRE, DSP48E1, ...), and simulates it
with the project's ``sim/netlist_tb.v`` against Yosys' own models of those primitives
(``xilinx/cells_sim.v``).  It proves that what Yosys builds computes what the emulator
computes, not just the RTL it was given.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

from fpga_aware.core.fixed import parse_precision
from fpga_aware.hls.writer import MANIFEST_NAME, package_version, template_environment
from fpga_aware.rtl.verilator import RTLBuildError, pack_rows, tool_version, unpack_rows
from fpga_aware.rtl.yosys import YosysError, check_family, yosys_version

__all__ = ["simulate_netlist", "yosys_data_dir"]

#: Where a Yosys installation keeps ``xilinx/cells_sim.v`` (``$FPGA_AWARE_YOSYS_SHARE`` first).
SHARE_ENV = "FPGA_AWARE_YOSYS_SHARE"


def yosys_data_dir() -> Path:
    """Yosys' data directory (the one holding ``xilinx/cells_sim.v``)."""
    candidates = [os.environ.get(SHARE_ENV)]
    exe = shutil.which("yosys")
    if exe:
        candidates.append(str(Path(exe).resolve().parent.parent / "share" / "yosys"))
    candidates += ["/usr/share/yosys", "/usr/local/share/yosys"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "xilinx" / "cells_sim.v").is_file():
            return Path(candidate)
    raise YosysError(f"Yosys' xilinx/cells_sim.v was not found (looked in {[c for c in candidates if c]}); "
                     f"set {SHARE_ENV} to Yosys' share directory")


def simulate_netlist(project_dir, mantissas: np.ndarray, family: str = "xc7",
                     timeout: float | None = None) -> np.ndarray:
    """Output mantissas of the Yosys netlist of ``project_dir`` for input mantissas ``(batch, n_inputs)``."""
    project_dir = Path(project_dir)
    manifest = json.loads((project_dir / MANIFEST_NAME).read_text())
    if manifest.get("backend") != "verilog":
        raise ValueError(f"{project_dir} is not an fpga_aware Verilog project (write it with Firmware.write_verilog)")
    check_family(family, "predict(engine='netlist')")
    yosys_version()
    tool_version("iverilog", "-V", "gate-level simulation", "`apt-get install iverilog`")
    top = manifest["project_name"]
    work = project_dir / "sim" / f"netlist_{family}"
    work.mkdir(parents=True, exist_ok=True)
    netlist = work / "netlist.v"
    script = work / "netlist.ys"
    script.write_text(template_environment().get_template("rtl/netlist_yosys.ys.j2").render(
        version=package_version(), project=top, family=family, netlist=netlist,
        sources=[project_dir / s for s in manifest["sources"]]))
    run = subprocess.run(["yosys", "-q", "-l", str(work / "yosys.log"), "-s", str(script)], capture_output=True,
                         text=True, timeout=timeout)
    if run.returncode != 0 or not netlist.is_file():
        raise YosysError(f"yosys failed (exit {run.returncode}) writing the netlist of {project_dir}:\n{run.stderr[-3000:]}")
    cells = yosys_data_dir() / "xilinx" / "cells_sim.v"
    vvp = work / "netlist.vvp"
    run = subprocess.run(["iverilog", "-g2012", "-o", str(vvp), "-s", "fa_netlist_tb", str(netlist), str(cells),
                          str(project_dir / "sim" / "netlist_tb.v")], capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RTLBuildError(f"iverilog failed (exit {run.returncode}) on the netlist of {project_dir}:\n"
                            f"{(run.stdout + run.stderr)[-3000:]}")
    m = np.asarray(mantissas)
    in_t, out_t = parse_precision(manifest["input_type"]), parse_precision(manifest["output_type"])
    (work / "in.txt").write_text(pack_rows(m, manifest["n_inputs"], in_t.width))
    run = subprocess.run(["vvp", "-n", str(vvp), f"+in={work / 'in.txt'}", f"+out={work / 'out.txt'}"],
                         capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0 or not (work / "out.txt").is_file():
        raise RTLBuildError(f"the netlist simulation failed (exit {run.returncode}): {(run.stdout + run.stderr)[-2000:]}")
    return unpack_rows((work / "out.txt").read_text(), len(m), manifest["n_outputs"], out_t.width, out_t.signed)
