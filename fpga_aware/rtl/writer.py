"""Write the IR as a Verilog project: one module per layer, a pipelined top, a file list, a Yosys
script, a Vivado synthesis script and the Verilator harness.

Folder layout (``fa.export(..., backend='verilog')``, ``Firmware.write_verilog(dir)``)::

    rtl/primitives.v        modules the layers share (templates/rtl/primitives.v.j2: the adder)
    rtl/fa_<layer>.v        one module per layer (templates/rtl/layers/<kind>.v.j2)
    rtl/<project>.v         the top: every layer's output registered, valid_in -> valid_out
    files.f                 the source list, in dependency order
    synth_yosys.ys          yosys -s synth_yosys.ys (synth_xilinx for the part's family)
    vivado_synth.tcl        vivado -mode batch -source vivado_synth.tcl (out of context)
    sim/verilator_main.cpp  the harness ``Firmware.predict(engine='rtl')`` builds
    sim/netlist_tb.v        the testbench of a Yosys gate-level netlist (:mod:`fpga_aware.rtl.netlist`)
    fpga_aware_project.json the manifest (``backend: verilog``)

The same overwrite rules as the HLS project (:func:`fpga_aware.hls.writer.write_folder`).
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.ir import InputLayer, ModelIR
from fpga_aware.core.parts import get_part
from fpga_aware.hls.writer import (
    MANIFEST_GENERATOR,
    MANIFEST_NAME,
    package_version,
    template_environment,
    write_folder,
)
from fpga_aware.rtl.layers import RTLOptions, UnsupportedRTLError, layer_context

__all__ = ["layer_latency", "render_verilog", "write_verilog", "yosys_family", "UnsupportedRTLError", "WORD_BITS"]

#: Verilator's word size for ports wider than 64 bits (the harness packs ports into such words).
WORD_BITS = 32

def yosys_family(part) -> str:
    """``synth_xilinx -family`` for a part (:class:`~fpga_aware.core.parts.Part`): ``xcup``
    (UltraScale+, Alveo, Zynq MPSoC), ``xcu`` (UltraScale) or ``xc7`` (7-series)."""
    family = part.family
    if "UltraScale+" in family:
        return "xcup"
    if "UltraScale" in family:
        return "xcu"
    if "-7" in family or "7000" in family:
        return "xc7"
    raise UnsupportedRTLError(f"part {part.name!r} ({family}): no Yosys synth_xilinx family known (xc7, xcu, xcup)")


def layer_latency(ctx: dict) -> int:
    """Cycles from a layer's input register to its output register in the top: a lane layer's
    cycles + 2 (start, the cycles, done); a combinational one's pipeline stages + 1."""
    return ctx["cycles"] + 2 if ctx.get("sequential") else ctx.get("stages", 0) + 1


def render_verilog(ir: ModelIR, config: FirmwareConfig, options: RTLOptions = RTLOptions()) -> dict[str, str]:
    """All files of the Verilog project as ``{relative path: text}`` (nothing is written)."""
    body = [layer for layer in ir.layers if not isinstance(layer, InputLayer)]
    if getattr(config.io_type, "value", config.io_type) != "io_parallel":
        raise UnsupportedRTLError(f"the Verilog backend writes io_type 'io_parallel' only, not {config.io_type.value!r}; "
                                  "export with io_type='io_parallel' for the Verilog, or use the HLS writer (firmware.write)")
    if not body:
        raise UnsupportedRTLError("the model has no layer after its input; nothing to write in Verilog")
    options.check_layers(body)
    layers = [layer_context(layer, k + 1, options, config.clock_period) for k, layer in enumerate(body)]
    for ctx in layers:
        timing = ctx.get("timing")
        if timing and not timing["met"]:
            warnings.warn(f"layer {ctx['name']!r}: a pipeline stage of the Verilog needs {max(timing['stage_ns'])} ns, "
                          f"more than the {timing['budget_ns']} ns a {config.clock_period:g} ns clock leaves "
                          f"(fpga_aware.core.pipeline.FABRIC delays); use a longer clock_period", stacklevel=3)
    part = get_part(config.part)
    project = config.project_name
    version = package_version()
    env = template_environment()
    files: dict[str, str] = {}
    files["rtl/primitives.v"] = env.get_template("rtl/primitives.v.j2").render(version=version)
    for ctx in layers:
        files[f"rtl/{ctx['module']}.v"] = env.get_template(f"rtl/layers/{ctx['kind']}.v.j2").render(version=version, layer=ctx)
    wi, wo = ir.input_type.width, ir.output_type.width
    ii = max([ctx["cycles"] + 1 for ctx in layers if ctx.get("sequential")], default=1)
    latency = sum(layer_latency(ctx) for ctx in layers)
    context = {
        "version": version, "project": project, "layers": layers, "n_inputs": ir.n_inputs, "n_outputs": ir.n_outputs,
        "wi": wi, "wo": wo, "input_type": ir.input_type.cpp(), "output_type": ir.output_type.cpp(),
        "in_words": -(-ir.n_inputs * wi // WORD_BITS), "out_words": -(-ir.n_outputs * wo // WORD_BITS),
        "part": part.name, "family": yosys_family(part), "clock_period": float(config.clock_period),
        "ii": ii, "latency": latency,
    }
    files[f"rtl/{project}.v"] = env.get_template("rtl/top.v.j2").render(**context)
    sources = ["rtl/primitives.v"] + [f"rtl/{ctx['module']}.v" for ctx in layers] + [f"rtl/{project}.v"]
    files["files.f"] = "".join(f"{s}\n" for s in sources)
    files["synth_yosys.ys"] = env.get_template("rtl/synth_yosys.ys.j2").render(sources=sources, **context)
    files["vivado_synth.tcl"] = env.get_template("rtl/vivado_synth.tcl.j2").render(sources=sources, **context)
    files["sim/verilator_main.cpp"] = env.get_template("rtl/verilator_main.cpp.j2").render(**context)
    files["sim/netlist_tb.v"] = env.get_template("rtl/netlist_tb.v.j2").render(**context)
    manifest = {
        "generator": MANIFEST_GENERATOR, "backend": "verilog", "fpga_aware_version": version, "project_name": project,
        "part": part.name, "yosys_family": context["family"], "clock_period": float(config.clock_period),
        "n_inputs": ir.n_inputs, "n_outputs": ir.n_outputs, "input_type": ir.input_type.cpp(),
        "output_type": ir.output_type.cpp(), "latency_cycles": latency, "ii": ii, "sources": sources,
        "pipeline": options.pipeline,
        "layers": [{"name": c["name"], "kind": c["kind"], "module": c["module"], "latency_cycles": layer_latency(c),
                    **({"timing": c["timing"]} if "timing" in c else {})} for c in layers],
        "sha256": {rel: hashlib.sha256(text.encode()).hexdigest() for rel, text in sorted(files.items())},
    }
    files[MANIFEST_NAME] = json.dumps(manifest, indent=2) + "\n"
    return files


def write_verilog(ir: ModelIR, config: FirmwareConfig, output_dir, overwrite: bool = False,
                  options: RTLOptions = RTLOptions()) -> Path:
    """Write the Verilog project to ``output_dir`` (see the module docstring); returns its path."""
    files = render_verilog(ir, config, options)
    return write_folder(output_dir, files, overwrite)

