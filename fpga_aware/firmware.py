"""The public export API: :func:`to_firmware`, :func:`export` and :class:`Firmware`."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fpga_aware.core.config import DEFAULT_PART, DEFAULT_PRECISION, FirmwareConfig
from fpga_aware.sim.emulator import Emulator
from fpga_aware.sim.inputs import as_batch
from fpga_aware.core.ir import IOType, ModelIR
from fpga_aware.core.streams import stream_plan
from fpga_aware.frontend.keras import build_ir
from fpga_aware.cost import DEFAULT_TOOL, estimate_for_tool

__all__ = ["Firmware", "to_firmware", "export", "estimate"]

logger = logging.getLogger(__name__)

ENGINES = ("emulator", "csim", "rtl", "netlist")
BACKENDS = ("hls", "verilog")
SYNTH_TOOLS = ("yosys",)


class Firmware:
    """A converted model: its IR and config, writable as an HLS project, runnable two ways.

    ``predict(x, engine='emulator')`` is the bit-exact numpy emulator; ``engine='csim'`` runs the
    generated C++ compiled with g++ against the ``ap_types`` headers (compiled on first use);
    ``engine='rtl'`` simulates the Verilog backend's RTL with Verilator (built on first use);
    ``engine='netlist'`` synthesizes it with Yosys (xc7) and simulates the gate-level netlist with
    Icarus Verilog (:mod:`fpga_aware.rtl.netlist`; tens of seconds per call).
    """

    def __init__(self, ir: ModelIR, config: FirmwareConfig):
        self.ir = ir
        self.config = config
        self._emulator = Emulator(ir)
        self._project_dir: Path | None = None
        self._content_sha256: str | None = None  # what write() put there (the manifest's digest)
        self._tempdir: tempfile.TemporaryDirectory | None = None
        self._library = None
        self._rtl_dir: Path | None = None
        self._rtl_tempdir: tempfile.TemporaryDirectory | None = None
        self._rtl_simulator = None

    # ------------------------------------------------------------------ properties
    @property
    def project_dir(self) -> Path | None:
        """Where the project was last written (``None`` before :meth:`write`/:meth:`compile`)."""
        return self._project_dir

    @property
    def part(self) -> str:
        return self.config.part

    @property
    def stream(self):
        """io_stream: the :class:`~fpga_aware.core.streams.StreamPlan` the HLS writer follows (tokens,
        line buffer and FIFO depths, ``summary()`` as in the manifest's ``"stream"``).  Raises
        :class:`~fpga_aware.core.config.ConfigError` for an io_parallel firmware (it has no streams)."""
        from fpga_aware.core.config import ConfigError

        if IOType(self.config.io_type) != IOType.STREAM:
            raise ConfigError("this firmware is io_type 'io_parallel': it has no streams; "
                              "convert with io_type='io_stream' for FIFO depths and line buffers")
        return stream_plan(self.ir)

    def __repr__(self) -> str:
        layers = ", ".join(f"{layer.name}:{layer.kind}" for layer in self.ir.layers)
        return f"Firmware({self.ir.project_name!r}, part={self.part!r}, layers=[{layers}])"

    # ------------------------------------------------------------------ project
    def write(self, output_dir: str | Path, overwrite: bool = False) -> Path:
        """Write the HLS project; an existing project needs ``overwrite=True``; other folders are never touched."""
        from fpga_aware.hls.writer import read_manifest, write_project

        path = write_project(self.ir, self.config, Path(output_dir), overwrite=overwrite)
        self._project_dir = path
        self._content_sha256 = read_manifest(path)["content_sha256"]
        self._library = None
        logger.info("wrote HLS project %s to %s", self.ir.project_name, path)
        return path

    def compile(self) -> "Firmware":
        """Build the C simulation library with g++ (writes to a temporary folder if never written).

        Raises :class:`~fpga_aware.hls.writer.ProjectChangedError` when the project folder no longer
        holds what this firmware wrote (another export replaced it, or its files were edited).
        """
        from fpga_aware.sim.csim import compile_project
        from fpga_aware.hls.writer import check_project_unchanged

        if self._project_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="fpga_aware_")
            self.write(Path(self._tempdir.name) / self.ir.project_name)
        check_project_unchanged(self._project_dir, self._content_sha256)
        self._library = compile_project(self._project_dir)
        return self

    def write_verilog(self, output_dir: str | Path, overwrite: bool = False, options=None) -> Path:
        """Write the Verilog project (:mod:`fpga_aware.rtl.writer`); the same overwrite rules as :meth:`write`.

        ``options``: a :class:`~fpga_aware.rtl.layers.RTLOptions` (rendering choices that do not
        change what is computed; the default is the measured cheapest).  ``predict(engine='rtl')``
        and :meth:`synthesize` then use this project.

        Raises :class:`~fpga_aware.rtl.layers.UnsupportedRTLError` naming the first layer the
        Verilog backend cannot write yet.
        """
        from fpga_aware.rtl.layers import RTLOptions
        from fpga_aware.rtl.writer import write_verilog

        if options is not None and not isinstance(options, RTLOptions):
            raise TypeError(f"write_verilog: options must be an RTLOptions, got {type(options).__name__}")
        path = write_verilog(self.ir, self.config, Path(output_dir), overwrite=overwrite,
                             options=options or RTLOptions())
        self._rtl_dir, self._rtl_simulator = path, None
        logger.info("wrote Verilog project %s to %s", self.ir.project_name, path)
        return path

    def _verilog_dir(self) -> Path:
        if self._rtl_dir is None:
            self._rtl_tempdir = tempfile.TemporaryDirectory(prefix="fpga_aware_rtl_")
            self.write_verilog(Path(self._rtl_tempdir.name) / self.ir.project_name)
        return self._rtl_dir

    def synthesize(self, tool: str = "yosys", timeout: float | None = None, family: str | None = None):
        """Synthesize the Verilog project (written to a temporary folder if never written) with
        ``tool`` (``'yosys'``: ``synth_xilinx`` for ``family``, ``'xc7'``, ``'xcu'`` or ``'xcup'``,
        default the part's family); returns a :class:`~fpga_aware.rtl.yosys.YosysReport`."""
        if tool not in SYNTH_TOOLS:
            raise ValueError(f"synthesize: tool {tool!r} is not one of {SYNTH_TOOLS}")
        from fpga_aware.rtl.yosys import check_family, synthesize

        if family is not None:
            check_family(family)  # before anything is written
        return synthesize(self._verilog_dir(), timeout=timeout, family=family)

    # ------------------------------------------------------------------ running
    def predict(self, x: Any, engine: str = "emulator") -> np.ndarray:
        """Outputs of the firmware for a batch ``x`` (float64, shape ``(batch, n_outputs)``)."""
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r} is not one of {ENGINES}")
        if engine == "emulator":
            return self._emulator.predict(x)
        batch = as_batch(self.ir, x)
        if engine == "rtl":
            if self._rtl_simulator is None:
                from fpga_aware.rtl.verilator import compile_rtl

                self._rtl_simulator = compile_rtl(self._verilog_dir())
            mantissas = self.ir.input_type.from_float(batch)
            out = self._rtl_simulator.predict_mantissas(mantissas)
            return self.ir.output_type.to_float(out)
        if engine == "netlist":  # Yosys' xc7 netlist in Icarus Verilog: slow, a proof, not a simulator
            from fpga_aware.rtl.netlist import simulate_netlist

            out = simulate_netlist(self._verilog_dir(), self.ir.input_type.from_float(batch))
            return self.ir.output_type.to_float(out)
        if self._library is None:
            self.compile()
        return self._library.predict(batch)

    def trace(self, x: Any) -> dict[str, np.ndarray]:
        """Real values of every layer's output, from the emulator."""
        return self._emulator.trace_values(x)

    def build(self, csim: bool = False, synth: bool = True, cosim: bool = False, export: bool = False,
              *, tool: str | None = None, timeout: float | None = None):
        """Run Vitis HLS (or Vivado HLS) on the written project; returns its :class:`BuildResult`.

        Raises :class:`~fpga_aware.hls.synthesis.ToolNotFoundError` when no HLS tool is on PATH and
        :class:`~fpga_aware.hls.synthesis.SynthesisError` (with the tail of the log) when it fails.
        """
        from fpga_aware.hls.synthesis import run_hls

        if self._project_dir is None:
            raise RuntimeError("write the project first: firmware.write(output_dir) (build runs the HLS tool on it)")
        return run_hls(self._project_dir, csim=csim, synth=synth, cosim=cosim, export=export, tool=tool,
                       timeout=timeout)

    def estimate(self, tool: str = DEFAULT_TOOL, rtl_options=None):
        """The FPGA cost of this firmware for ``tool`` (:data:`~fpga_aware.cost.tools.ESTIMATE_TOOLS`):
        ``'vitis'`` (the default) or ``'vivado'`` the HLS project in Vitis HLS / Vivado HLS
        (:mod:`fpga_aware.cost.model` with the tool's :mod:`profile <fpga_aware.cost.tools>`),
        ``'yosys'`` the Verilog project in Yosys (:mod:`fpga_aware.cost.yosys`) as
        :meth:`write_verilog` writes it with ``rtl_options`` (e.g.
        ``RTLOptions(multiplier='da')``).  The report names the tool."""
        return estimate_for_tool(self.ir, self.config, tool, rtl_options)


def to_firmware(
    model: Any,
    part: str = DEFAULT_PART,
    *,
    precision: Any = DEFAULT_PRECISION,
    reuse_factor: int = 1,
    strategy: str = "latency",
    io_type: str = "io_parallel",
    clock_period: float = 5.0,
    layer_config: Mapping[str, Any] | None = None,
    project_name: str = "myproject",
) -> Firmware:
    """Convert a tf-keras / QKeras model into an in-memory :class:`Firmware`."""
    config = FirmwareConfig.from_options(
        part,
        precision=precision,
        reuse_factor=reuse_factor,
        strategy=strategy,
        io_type=io_type,
        clock_period=clock_period,
        layer_config=layer_config,
        project_name=project_name,
    )
    ir = build_ir(model, config)
    if IOType(config.io_type) == IOType.STREAM:
        stream_plan(ir)  # refuses, by name, a layer io_stream does not run (UnsupportedStreamError)
    return Firmware(ir, config)


def export(
    model: Any,
    part: str = DEFAULT_PART,
    output_dir: str | Path = "fpga_prj",
    *,
    overwrite: bool = False,
    backend: str = "hls",
    rtl_options=None,
    **options: Any,
) -> Firmware:
    """Convert ``model`` and write its project to ``output_dir``: the HLS C++ project
    (``backend='hls'``) or the Verilog project (``backend='verilog'``, written with
    ``rtl_options``, a :class:`~fpga_aware.rtl.layers.RTLOptions`: multiplier mode, pipeline)."""
    if backend not in BACKENDS:
        raise ValueError(f"export: backend {backend!r} is not one of {BACKENDS}")
    if rtl_options is not None and backend != "verilog":
        raise ValueError(f"export: rtl_options apply to backend='verilog', not backend={backend!r}")
    firmware = to_firmware(model, part, **options)
    if backend == "verilog":
        firmware.write_verilog(output_dir, overwrite=overwrite, options=rtl_options)
    else:
        firmware.write(output_dir, overwrite=overwrite)
    return firmware


def estimate(model: Any, part: str = DEFAULT_PART, *, tool: str = DEFAULT_TOOL, rtl_options=None, **options: Any):
    """Estimated FPGA cost of ``model`` for ``tool`` (and, for ``'yosys'``, ``rtl_options``): the
    options of :func:`to_firmware`, the same answer as
    ``to_firmware(model, part, **options).estimate(tool, rtl_options)``."""
    return to_firmware(model, part, **options).estimate(tool, rtl_options)
