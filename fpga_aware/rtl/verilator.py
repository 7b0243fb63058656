"""Build a written Verilog project with Verilator and simulate batches with it, bit for bit.

``compile_rtl(project_dir)`` builds ``sim/verilator_main.cpp`` and the sources of ``files.f``
into an executable, cached under ``<project>/.rtlsim/<digest>/`` (or ``cache_dir``, or
``$FPGA_AWARE_RTL_CACHE``) by the digest of the sources, the harness, the flags and the
Verilator version, so an unchanged project is not rebuilt.  ``RTLSimulator.predict_mantissas``
streams a batch of input mantissas through the pipeline, one sample per clock cycle.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpga_aware.hls.writer import MANIFEST_NAME

__all__ = ["VERILATOR_FLAGS", "RTLToolNotFoundError", "RTLBuildError", "RTLSimulator", "compile_rtl", "verilator_version", "tool_version"]

#: Flags of every Verilator build (the generated code is lint-clean for synthesis, not for
#: Verilator's style warnings, which are not errors).  The C++ is compiled at -O0: g++ -O1 takes
#: ~7x longer on a layer of saturating sums (89 s against 13 s) and a batch simulates in well
#: under a second either way.  Verilator's own optimiser is off (``-O0``): Verilator 5.006 at its
#: default level mis-computes a rounding step of a relu layer (one element of six, 2 LSB low,
#: where iverilog and the emulator agree; tests/test_rtl.py found it).  Module inlining alone is
#: turned back on (``-finline`` after ``-O0``; the rounding test passes with it): otherwise every
#: ``fa_add`` instance of a dense layer becomes a C++ object of its own with its own copies of
#: the operands, and qkeras_mnist_dense's 15,680 products (784 -> 20) gave 143 generated files
#: that g++ had not compiled after 22 min on 2 loaded cores.
VERILATOR_FLAGS = ("--cc", "--exe", "--build", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "0",
                   "--x-initial", "0", "-CFLAGS", "-O0", "-O0", "-finline")
CACHE_ENV = "FPGA_AWARE_RTL_CACHE"


class RTLToolNotFoundError(FileNotFoundError):
    """Verilator (or Yosys) is not installed; the message says how to install it."""


class RTLBuildError(RuntimeError):
    """Verilator could not build the project; the message carries the end of its log."""


def tool_version(exe: str, version_flag: str, needed_for: str, install: str) -> str:
    """The version line of an installed open-source hardware tool; :class:`RTLToolNotFoundError`
    (saying how to install it) when it is not on PATH."""
    path = shutil.which(exe)
    if path is None:
        raise RTLToolNotFoundError(
            f"{exe} is not installed (needed for {needed_for}): as root, {install} "
            "(Debian/Ubuntu; `make test` does it when it can)"
        )
    return subprocess.run([path, version_flag], capture_output=True, text=True, check=True).stdout.strip()


def verilator_version(exe: str = "verilator") -> str:
    return tool_version(exe, "--version", "engine='rtl'", "`apt-get install verilator`")


@dataclass
class RTLSimulator:
    """A built simulation executable of one Verilog project."""

    executable: Path
    n_inputs: int
    n_outputs: int
    input_width: int
    output_width: int
    output_signed: bool
    built: bool  #: True when this call ran Verilator (False: found in the cache)

    def predict_mantissas(self, mantissas: np.ndarray, timeout: float | None = None) -> np.ndarray:
        """Output mantissas (object array of Python ints) for input mantissas ``(batch, n_inputs)``."""
        m = np.asarray(mantissas)
        text = pack_rows(m, self.n_inputs, self.input_width)
        run = subprocess.run([str(self.executable)], input=text, capture_output=True, text=True,
                             timeout=timeout)
        if run.returncode != 0:
            raise RTLBuildError(f"the RTL simulation failed (exit {run.returncode}): {run.stderr[-2000:]}")
        return unpack_rows(run.stdout, len(m), self.n_outputs, self.output_width, self.output_signed)


def pack_rows(mantissas: np.ndarray, n_inputs: int, width: int) -> str:
    """The simulators' input: the row count, then each row's mantissas packed into one hex
    number (element 0 in the low bits), padded to whole 32-bit words."""
    digits = -(-n_inputs * width // 32) * 8
    mask = (1 << width) - 1
    lines = [str(len(mantissas))]
    for row in np.asarray(mantissas).tolist():
        packed = 0
        for k, value in enumerate(row):
            packed |= (int(value) & mask) << (k * width)
        lines.append(f"{packed:0{digits}x}")
    return "\n".join(lines) + "\n"


def unpack_rows(text: str, n_rows: int, n_outputs: int, width: int, signed: bool) -> np.ndarray:
    """The inverse for the outputs: one hex number per row -> ``(n_rows, n_outputs)`` Python ints."""
    rows = text.split()
    if len(rows) != n_rows:
        raise RTLBuildError(f"the RTL simulation returned {len(rows)} rows for {n_rows} samples")
    out = np.empty((n_rows, n_outputs), dtype=object)
    mask, sign = (1 << width) - 1, 1 << (width - 1)
    for r, row in enumerate(rows):
        if any(c in row.lower() for c in "xz"):
            raise RTLBuildError(f"the RTL simulation returned unknown bits in row {r}: {row}")
        packed = int(row, 16)
        for k in range(n_outputs):
            v = (packed >> (k * width)) & mask
            out[r, k] = v - (1 << width) if signed and v & sign else v
    return out


def _cache_root(project_dir: Path, cache_dir) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return project_dir / ".rtlsim"


def compile_rtl(project_dir, cache_dir=None, timeout: float | None = None) -> RTLSimulator:
    """Build (or find in the cache) the Verilator simulation of the project in ``project_dir``."""
    project_dir = Path(project_dir)
    manifest = json.loads((project_dir / MANIFEST_NAME).read_text())
    if manifest.get("backend") != "verilog":
        raise ValueError(f"{project_dir} is not an fpga_aware Verilog project (write it with Firmware.write_verilog)")
    version = verilator_version()
    sources = [project_dir / s for s in manifest["sources"]]
    harness = project_dir / "sim" / "verilator_main.cpp"
    digest = hashlib.sha256()
    for part in [version, *VERILATOR_FLAGS]:
        digest.update(part.encode() + b"\0")
    for path in [*sources, harness]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    build = _cache_root(project_dir, cache_dir) / digest.hexdigest()[:24]
    executable = build / "sim"
    built = False
    if not executable.is_file():
        build.mkdir(parents=True, exist_ok=True)
        top = manifest["project_name"]
        command = ["verilator", *VERILATOR_FLAGS, "--top-module", top, "-Mdir", str(build / "obj"), "-o",
                   str(executable), *map(str, sources), str(harness)]
        jobs = str(max(1, min(4, os.cpu_count() or 1)))
        run = subprocess.run(command + ["-j", jobs], capture_output=True, text=True, timeout=timeout)
        if run.returncode != 0 or not executable.is_file():
            raise RTLBuildError(f"verilator failed (exit {run.returncode}) on {project_dir}:\n{(run.stdout + run.stderr)[-4000:]}")
        shutil.rmtree(build / "obj", ignore_errors=True)
        built = True
    from fpga_aware.core.fixed import parse_precision

    out_t = parse_precision(manifest["output_type"])
    in_t = parse_precision(manifest["input_type"])
    return RTLSimulator(executable=executable, n_inputs=manifest["n_inputs"], n_outputs=manifest["n_outputs"],
                        input_width=in_t.width, output_width=out_t.width, output_signed=out_t.signed, built=built)
