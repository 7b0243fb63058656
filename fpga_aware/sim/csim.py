"""C simulation: the generated HLS C++ compiled with g++ into a shared library, run via ctypes.

The ``ap_types`` headers come from ``$XILINX_HLS/include`` when set, else from the installed
``hls4ml`` package (located without importing it); they are never copied into a project.
They are passed with ``-isystem`` so that only warnings in the generated code count.

``compile_project(project_dir)`` returns a :class:`CSimLibrary` whose ``predict(x)`` runs a
whole batch in one call of ``{project}_predict_batch``.  Libraries are cached by a hash of
the sources, flags, compiler and headers: an unchanged project is not recompiled.  The
cache is ``<project>/.csim/`` unless ``cache_dir`` or ``$FPGA_AWARE_CSIM_CACHE`` says
otherwise.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fpga_aware.core.cpus import available_cpus, run_on_threads
from fpga_aware.hls.writer import CXXFLAGS, read_manifest

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = [
    "HeadersNotFoundError",
    "CompilationError",
    "CSimLibrary",
    "find_ap_types",
    "compile_project",
    "compile_warnings",
    "run_testbench",
]

CACHE_ENV = "FPGA_AWARE_CSIM_CACHE"
CXX_ENV = "FPGA_AWARE_CXX"
_HLS4ML_AP_TYPES = ("templates", "vivado", "ap_types")


class HeadersNotFoundError(RuntimeError):
    """The Xilinx ``ap_types`` headers (``ap_fixed.h``) were not found."""


class CompilationError(RuntimeError):
    """g++ failed; ``stderr`` holds the compiler's own messages."""

    def __init__(self, message: str, stderr: str, command: list[str] | None = None):
        super().__init__(f"{message}\n{stderr}".rstrip())
        self.stderr = stderr
        self.command = command


# ------------------------------------------------------------------------------ headers
def find_ap_types() -> Path:
    """The folder holding ``ap_fixed.h``: ``$XILINX_HLS/include``, else hls4ml's copy."""
    tried = []
    xilinx = os.environ.get("XILINX_HLS")
    if xilinx:
        candidate = Path(xilinx) / "include"
        if (candidate / "ap_fixed.h").is_file():
            return candidate
        tried.append(f"$XILINX_HLS/include ({candidate}) has no ap_fixed.h")
    else:
        tried.append("$XILINX_HLS is not set")
    try:
        spec = importlib.util.find_spec("hls4ml")  # finds the package without importing it
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location).joinpath(*_HLS4ML_AP_TYPES)
            if (candidate / "ap_fixed.h").is_file():
                return candidate
        tried.append("the installed hls4ml package has no templates/vivado/ap_types/ap_fixed.h")
    else:
        tried.append("hls4ml is not installed")
    raise HeadersNotFoundError(
        "the Xilinx ap_types headers (ap_fixed.h) are needed for the C simulation but were not found ("
        + "; ".join(tried)
        + "). Install them with `pip install hls4ml==1.3.0`, or set XILINX_HLS to a Vitis HLS installation."
    )


def _compiler() -> str:
    cxx = os.environ.get(CXX_ENV, "g++")
    path = shutil.which(cxx)
    if path is None:
        raise CompilationError(f"the C++ compiler {cxx!r} was not found on PATH", "")
    return path


def _compiler_version(cxx: str) -> str:
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):  # pragma: no cover
        return cxx


# ------------------------------------------------------------------------------ library
#: Weight headers with at least this many stored numbers are compiled as their own
#: translation unit, in parallel (g++ spends ~4 us parsing each number; -O level is irrelevant)...
SPLIT_ENTRIES = 20_000
#: ...when at least this many CPUs are available: with fewer, the extra processes cost more
#: than the parallelism gains (measured on 2 shared CPUs: 18 s single unit, 25 s split).
SPLIT_MIN_CPUS = 4


#: Rows below which a batch is not split further over threads (a thread costs more than the rows).
MIN_ROWS_PER_THREAD = 256
#: Rows of one call of the bridge (its row count is a C int).
MAX_ROWS_PER_CALL = 1 << 20


@dataclass
class _Unit:
    """One translation unit: g++ arguments before the source, the source, the object name."""

    flags: list[str]
    source: Path
    object_name: str


@dataclass
class _Build:
    project_dir: Path
    project: str
    n_inputs: int
    n_outputs: int
    units: list[_Unit]
    digest: str
    library: Path
    warnings_log: Path


class CSimLibrary:
    """A compiled C simulation; ``predict`` runs one batch per call."""

    def __init__(self, path: Path, project: str, n_inputs: int, n_outputs: int, warnings: str, compiled: bool):
        self.path = Path(path)
        self.project = project
        self.n_inputs = n_inputs
        self.n_outputs = n_outputs
        #: g++'s warnings (empty when the generated code compiles cleanly)
        self.warnings = warnings
        #: False when the library came from the cache
        self.compiled = compiled
        self._lib = ctypes.CDLL(str(self.path))
        for name in ("predict_batch", "n_inputs", "n_outputs"):
            if not hasattr(self._lib, f"{project}_{name}"):
                raise CompilationError(f"{self.path} does not export {project}_{name}; rebuild it (force=True)", "")
        predict = getattr(self._lib, f"{project}_predict_batch")
        predict.argtypes = [
            np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS"),
            np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS,WRITEABLE"),
            ctypes.c_int,
        ]
        predict.restype = None
        self._predict = predict
        for name, expected in (("n_inputs", n_inputs), ("n_outputs", n_outputs)):
            fn = getattr(self._lib, f"{project}_{name}")
            fn.restype = ctypes.c_int
            actual = fn()
            if actual != expected:
                raise CompilationError(f"{self.path}: {name} is {actual}, the manifest says {expected}", "")

    def __repr__(self) -> str:
        return f"CSimLibrary({self.project!r}, {self.n_inputs} -> {self.n_outputs}, {str(self.path)!r})"

    def predict(self, x, threads: int | None = None) -> np.ndarray:
        """Outputs for a batch ``x`` of shape ``(n, n_inputs)`` (float64), shape ``(n, n_outputs)``.

        Each input goes through ``input_t``'s constructor from ``double``, exactly as in the
        test bench; NaN and infinity are rejected (``ap_fixed`` has no value for them).  The
        batch is split over ``threads`` threads (default: every CPU this process may use; the
        generated function is pure and ctypes releases the GIL), at least
        :data:`MIN_ROWS_PER_THREAD` rows each.
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.ndim == 1 and arr.shape[0] == self.n_inputs:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != self.n_inputs:
            raise ValueError(f"expected inputs of shape (n, {self.n_inputs}), got {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("inputs contain NaN or infinity, which have no fixed-point value")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        arr = np.ascontiguousarray(arr)
        n = arr.shape[0]
        out = np.empty((n, self.n_outputs), dtype=np.float64)
        workers = max(1, min(threads or available_cpus(), n // MIN_ROWS_PER_THREAD))
        pieces = max(workers, -(-n // MAX_ROWS_PER_CALL))
        bounds = [n * k // pieces for k in range(pieces + 1)]
        spans = [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]

        def run(span: tuple[int, int]) -> None:
            a, b = span  # row slices of C-contiguous arrays are C-contiguous: no copies
            self._predict(arr[a:b], out[a:b], b - a)

        run_on_threads(run, spans, workers)
        return out


_LOADED: dict[str, CSimLibrary] = {}
_LOCK = threading.Lock()


# ------------------------------------------------------------------------------ compiling
def _cache_dir(project_dir: Path, cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return project_dir / ".csim"


def _plan(project_dir: Path, cache_dir, extra_flags: tuple[str, ...], ap_types: Path, cxx: str) -> _Build:
    manifest = read_manifest(project_dir)
    project = manifest["project_name"]
    firmware = project_dir / "firmware"
    sources = [firmware / f"{project}.cpp", project_dir / f"{project}_bridge.cpp"]
    for source in sources:
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing from project {project_dir}")
    split = []
    for layer in manifest.get("layers", []) if available_cpus() >= SPLIT_MIN_CPUS else []:
        header = layer.get("weights_header")
        cname = str(layer.get("cname", ""))
        if (
            header
            and _IDENTIFIER.match(cname)
            and int(layer.get("stored_entries", 0)) >= SPLIT_ENTRIES
            and (project_dir / header).is_file()
        ):
            split.append((layer["cname"], project_dir / header))
    units = [
        _Unit([f"-DFA_EXTERN_WEIGHTS_{cname}" for cname, _ in split], sources[0], f"{project}.o"),
        _Unit([], sources[1], f"{project}_bridge.o"),
    ]
    units += [_Unit(["-x", "c++", f"-DFA_DEFINE_WEIGHTS_{cname}"], header, f"weights_{cname}.o") for cname, header in split]
    # The largest units first, so that the parallel build ends as early as possible.
    units.sort(key=lambda unit: unit.source.stat().st_size, reverse=True)
    hashed = sorted(p for p in firmware.rglob("*") if p.is_file()) + [sources[1]]
    digest = hashlib.sha256()
    unit_flags = ";".join(" ".join(unit.flags + [str(unit.source.relative_to(project_dir))]) for unit in units)
    for item in (project, " ".join(CXXFLAGS + extra_flags), unit_flags, str(ap_types.resolve()), _compiler_version(cxx)):
        digest.update(item.encode() + b"\0")
    for header in sorted(ap_types.rglob("*.h")):
        stat = header.stat()
        digest.update(f"{header.relative_to(ap_types)}:{stat.st_size}:{stat.st_mtime_ns}".encode() + b"\0")
    for path in hashed:
        digest.update(str(path.relative_to(project_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    key = digest.hexdigest()[:20]
    cache = _cache_dir(project_dir, cache_dir)
    return _Build(
        project_dir=project_dir,
        project=project,
        n_inputs=int(manifest["n_inputs"]),
        n_outputs=int(manifest["n_outputs"]),
        units=units,
        digest=key,
        library=cache / f"lib{project}-{key}.so",
        warnings_log=cache / f"lib{project}-{key}.warnings.txt",
    )


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=str(cwd), capture_output=True, text=True)


def _build(plan: _Build, extra_flags: tuple[str, ...], ap_types: Path, cxx: str) -> str:
    """Compile the translation units in parallel and link them; returns g++'s warnings."""
    plan.library.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".build-{plan.digest}-", dir=plan.library.parent) as tmp:
        tmp_dir = Path(tmp)
        base = [cxx, *CXXFLAGS, *extra_flags, "-isystem", str(ap_types)]
        commands = [
            [*base, *unit.flags, str(unit.source), "-o", str(tmp_dir / unit.object_name), "-c"]
            for unit in plan.units
        ]
        workers = max(1, min(len(commands), available_cpus()))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda cmd: _run(cmd, plan.project_dir), commands))
        for unit, command, result in zip(plan.units, commands, results):
            if result.returncode != 0:
                raise CompilationError(
                    f"g++ failed to compile {unit.source} (exit status {result.returncode}):",
                    result.stderr,
                    command,
                )
        linked = tmp_dir / plan.library.name
        objects = [str(tmp_dir / unit.object_name) for unit in plan.units]
        link = [cxx, "-shared", *extra_flags, *objects, "-o", str(linked)]
        result = _run(link, plan.project_dir)
        if result.returncode != 0:
            raise CompilationError(
                f"linking {plan.library.name} failed (exit status {result.returncode}):", result.stderr, link
            )
        warnings = "".join(r.stderr for r in results) + result.stderr
        plan.warnings_log.write_text(warnings, encoding="utf-8")
        os.replace(linked, plan.library)  # atomic: a concurrent reader sees all or nothing
    return warnings


def compile_project(
    project_dir: str | os.PathLike,
    *,
    cache_dir: str | os.PathLike | None = None,
    extra_flags: tuple[str, ...] | list[str] = (),
    force: bool = False,
) -> CSimLibrary:
    """Compile (or reuse) the C simulation library of the project in ``project_dir``.

    Flags: ``-std=c++11 -O2 -fPIC -fvisibility=hidden -Wall -Wextra`` and ``-isystem <ap_types>``
    (only the bridge's three ``extern "C"`` functions are exported).  The translation units
    compile in parallel and link with ``-shared``: the firmware, the bridge, and (with at least
    :data:`SPLIT_MIN_CPUS` CPUs) every weights header with at least :data:`SPLIT_ENTRIES` numbers
    on its own (parsing the numbers is what takes g++ time; a weights header needs no ap_types
    headers).
    ``extra_flags`` are appended (e.g. ``("-DFA_TYPED_ROMS",)`` to compile the HLS ROM form).
    Raises :class:`HeadersNotFoundError` or :class:`CompilationError` (with g++'s stderr).
    """
    project_path = Path(project_dir).resolve()
    extra = tuple(extra_flags)
    ap_types = find_ap_types()
    cxx = _compiler()
    plan = _plan(project_path, cache_dir, extra, ap_types, cxx)
    with _LOCK:
        key = str(plan.library)
        if not force and key in _LOADED and plan.library.is_file():
            return _LOADED[key]
        compiled = False
        if force or not plan.library.is_file() or not plan.warnings_log.is_file():
            warnings = _build(plan, extra, ap_types, cxx)
            compiled = True
        else:
            warnings = plan.warnings_log.read_text(encoding="utf-8")
        library = CSimLibrary(plan.library, plan.project, plan.n_inputs, plan.n_outputs, warnings, compiled)
        _LOADED[key] = library
        return library


def compile_warnings(project_dir: str | os.PathLike, **kwargs) -> str:
    """g++'s warnings for the generated firmware and bridge (empty string: compiles cleanly).

    The test bench is checked as well (``-fsyntax-only`` would miss the warnings of the
    optimiser, so it is compiled to an object file)."""
    library = compile_project(project_dir, **kwargs)
    project_path = Path(project_dir).resolve()
    tb = project_path / "tb" / f"{library.project}_test.cpp"
    ap_types = find_ap_types()
    with tempfile.TemporaryDirectory(prefix="fa_tb_") as tmp:
        command = [_compiler(), *CXXFLAGS, "-isystem", str(ap_types), "-c", str(tb), "-o", str(Path(tmp) / "tb.o")]
        result = _run(command, project_path)
    if result.returncode != 0:
        raise CompilationError(f"g++ failed to compile {tb}:", result.stderr, command)
    return library.warnings + result.stderr


def run_testbench(project_dir: str | os.PathLike, x: np.ndarray, *, timeout: float | None = 600) -> np.ndarray:
    """Build ``tb/{project}_test.cpp`` with the firmware into an executable, run it on ``x``
    (written as tb_data/tb_input_features.dat in a scratch folder) and return its outputs."""
    project_path = Path(project_dir).resolve()
    project = read_manifest(project_path)["project_name"]
    ap_types = find_ap_types()
    cxx = _compiler()
    arr = np.asarray(x, dtype=np.float64)
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(1, -1)
    with tempfile.TemporaryDirectory(prefix="fa_tb_") as tmp:
        work = Path(tmp)
        exe = work / "tb"
        command = [
            cxx, *CXXFLAGS, "-isystem", str(ap_types),
            str(project_path / "tb" / f"{project}_test.cpp"),
            str(project_path / "firmware" / f"{project}.cpp"),
            "-o", str(exe),
        ]
        result = _run(command, project_path)
        if result.returncode != 0:
            raise CompilationError("g++ failed to build the test bench:", result.stderr, command)
        (work / "tb_data").mkdir()
        np.savetxt(work / "tb_data" / "tb_input_features.dat", arr, fmt="%.17g")
        run = subprocess.run([str(exe)], cwd=str(work), capture_output=True, text=True, timeout=timeout)
        if run.returncode != 0:
            raise RuntimeError(f"the test bench failed (exit status {run.returncode}):\n{run.stderr}")
        return np.loadtxt(work / "tb_data" / "csim_results.log", dtype=np.float64, ndmin=2)
