"""Runs Vitis HLS / Vivado HLS on a written project: C simulation, synthesis, co-simulation, export.

:func:`run_hls` runs the project's ``build_prj.tcl`` (written by :meth:`Firmware.write`) as::

    <tool> -f build_prj.tcl -tclargs "reset=R csim=C synth=S cosim=O validation=V export=E"

in the project folder; the switches are the ``opt`` array that ``build_prj.tcl`` reads from
``$::argv``.  Every switch is passed explicitly (the script's own defaults run csim and synth).
The tool's output (stdout and stderr) goes to ``<project>/build.log``.  A non-zero exit
status, a timeout, or a synthesis run that leaves no report raises :class:`SynthesisError`
with the tail of the log; no HLS tool raises :class:`ToolNotFoundError`.  After synthesis the
C-synthesis report (and ``vivado_synth.rpt`` if present) is parsed into
:attr:`BuildResult.report`.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from fpga_aware.hls.reports import ReportError, SynthesisReport, read_report

__all__ = [
    "HLS_TOOLS",
    "BUILD_SCRIPT",
    "BUILD_LOG",
    "SynthesisError",
    "ToolNotFoundError",
    "BuildResult",
    "find_hls_tool",
    "run_hls",
]

logger = logging.getLogger(__name__)

#: Tools tried in order when none is given.
HLS_TOOLS = ("vitis_hls", "vivado_hls")
BUILD_SCRIPT = "build_prj.tcl"
BUILD_LOG = "build.log"
#: Lines of the log quoted in a :class:`SynthesisError`.
LOG_TAIL_LINES = 40
#: Steps in the order build_prj.tcl runs them (all are passed, 1 or 0).
STEPS = ("reset", "csim", "synth", "cosim", "validation", "export")


class SynthesisError(RuntimeError):
    """The HLS tool failed (non-zero exit, timeout, or no report); the message quotes its log."""

    def __init__(self, message: str, *, log_path: Path | None = None, returncode: int | None = None,
                 log_tail: str = ""):
        super().__init__(message)
        self.log_path = log_path
        self.returncode = returncode
        self.log_tail = log_tail

    @classmethod
    def with_log(cls, message: str, log_path: Path, returncode: int | None) -> "SynthesisError":
        """``message`` followed by the last lines of the tool's log ``log_path`` (kept as ``log_tail``)."""
        tail = _tail(log_path)
        return cls(f"{message}; last lines of {log_path}:\n{tail}", log_path=log_path, returncode=returncode,
                   log_tail=tail)


class ToolNotFoundError(SynthesisError):
    """No Vitis HLS / Vivado HLS executable was found (or the given tool does not exist)."""


@dataclass
class BuildResult:
    """What one :func:`run_hls` call did."""

    project_dir: Path
    tool: Path
    command: list[str]
    steps: dict[str, bool]
    returncode: int
    log_path: Path
    elapsed_s: float
    report: SynthesisReport | None = None  #: parsed after synthesis; ``None`` when synth was not run
    errors: list[str] = field(default_factory=list)  #: ``ERROR:`` lines of the log (none on success, normally)

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


# ============================================================================ tool
def find_hls_tool(tool: str | os.PathLike | None = None) -> Path:
    """The HLS executable: ``tool`` (a path or a name on PATH), else the first of :data:`HLS_TOOLS` on PATH."""
    if tool is not None:
        text = os.fspath(tool)
        if os.sep in text or (os.altsep and os.altsep in text):
            path = Path(text).expanduser()
            if not path.is_file():
                raise ToolNotFoundError(f"the HLS tool {path} does not exist")
            if not os.access(path, os.X_OK):
                raise ToolNotFoundError(f"the HLS tool {path} is not executable")
            return path.resolve()
        found = shutil.which(text)
        if found is None:
            raise ToolNotFoundError(
                f"the HLS tool {text!r} is not on PATH; give its full path, or source the Xilinx "
                "settings64.sh that puts it on PATH"
            )
        return Path(found)
    for name in HLS_TOOLS:
        found = shutil.which(name)
        if found is not None:
            return Path(found)
    raise ToolNotFoundError(
        f"no HLS tool found: neither {' nor '.join(HLS_TOOLS)} is on PATH. Install Vitis HLS (or Vivado "
        "HLS), source its settings64.sh (e.g. /tools/Xilinx/Vitis_HLS/2023.1/settings64.sh) so the tool "
        "is on PATH, or pass tool='/path/to/vitis_hls'"
    )


# ============================================================================ log
def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _error_lines(path: Path, limit: int = 20) -> list[str]:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            found = [line.rstrip() for line in f if line.lstrip().startswith("ERROR:")]
    except OSError:
        return []
    return found[:limit]


def _kill_group(proc: subprocess.Popen) -> None:
    """End the tool and everything it started (it runs in its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()


# ============================================================================ run
def run_hls(
    project_dir: str | os.PathLike,
    csim: bool = False,
    synth: bool = True,
    cosim: bool = False,
    export: bool = False,
    tool: str | os.PathLike | None = None,
    timeout: float | None = None,
    *,
    validation: bool = False,
    reset: bool | None = None,
) -> BuildResult:
    """Run ``build_prj.tcl`` of ``project_dir`` with Vitis HLS / Vivado HLS.

    ``csim``, ``synth``, ``cosim``, ``export`` (and ``validation``: compare the csim and cosim
    outputs) select the steps.  ``reset`` starts from a fresh ``<name>_prj``; by default it is
    done exactly when ``synth`` runs, so a later ``cosim``/``export``-only call reuses the
    synthesized design.  ``tool`` is a path or a name on PATH (default: ``vitis_hls``, else
    ``vivado_hls``).  ``timeout`` is in seconds (the tool and its children are stopped).

    Returns a :class:`BuildResult`; after synthesis its ``report`` is the parsed C-synthesis
    report.  Raises :class:`ToolNotFoundError`, :class:`SynthesisError` (with the log tail),
    ``FileNotFoundError`` when the folder has no ``build_prj.tcl``, ``ValueError`` for an
    impossible combination of steps.
    """
    project = Path(project_dir).expanduser().resolve()
    script = project / BUILD_SCRIPT
    if not script.is_file():
        raise FileNotFoundError(
            f"{script} does not exist: {project} is not a written HLS project (write it with Firmware.write())"
        )
    if not (csim or synth or cosim or export or validation):
        raise ValueError("run_hls: no step selected; set at least one of csim, synth, cosim, export, validation")
    if reset is None:
        reset = bool(synth)
    if (cosim or export) and not synth and (reset or not _has_synthesis(project)):
        raise ValueError(
            "run_hls: cosim and export need a synthesized design; pass synth=True"
            + (" (reset=True would delete the earlier synthesis)" if reset and _has_synthesis(project) else "")
        )
    if timeout is not None and timeout <= 0:
        raise ValueError(f"run_hls: timeout must be positive, got {timeout!r}")

    exe = find_hls_tool(tool)
    steps = {"reset": bool(reset), "csim": bool(csim), "synth": bool(synth), "cosim": bool(cosim),
             "validation": bool(validation), "export": bool(export)}
    switches = " ".join(f"{name}={int(steps[name])}" for name in STEPS)
    command = [str(exe), "-f", BUILD_SCRIPT, "-tclargs", switches]
    log_path = project / BUILD_LOG
    logger.info("running %s in %s (log: %s)", " ".join(command), project, log_path)

    start = time.monotonic()
    with log_path.open("wb") as log:
        # Own process group: on a timeout the tool and the compilers/simulators it started stop.
        proc = subprocess.Popen(command, cwd=project, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            elapsed = time.monotonic() - start
            raise SynthesisError.with_log(
                f"{exe.name} timed out after {elapsed:.0f} s (timeout={timeout} s) in {project}", log_path, None,
            ) from None
        except BaseException:
            _kill_group(proc)
            raise
    elapsed = time.monotonic() - start
    errors = _error_lines(log_path)
    if returncode != 0:
        first = f" ({errors[0].strip()})" if errors else ""
        raise SynthesisError.with_log(
            f"{exe.name} failed with exit status {returncode}{first} running "
            f"{', '.join(k for k, v in steps.items() if v and k != 'reset')} in {project}",
            log_path, returncode,
        )
    if errors:
        logger.warning("%s exited normally but its log has %d ERROR line(s), e.g. %s", exe.name, len(errors), errors[0])

    report = None
    if synth:
        try:
            report = read_report(project)
        except ReportError as err:
            raise SynthesisError.with_log(
                f"{exe.name} finished but the synthesis report cannot be read: {err}", log_path, returncode,
            ) from err
    logger.info("%s finished in %.1f s", exe.name, elapsed)
    return BuildResult(project_dir=project, tool=exe, command=command, steps=steps, returncode=returncode,
                       log_path=log_path, elapsed_s=elapsed, report=report, errors=errors)


def _solution_dirs(project: Path) -> list[Path]:
    return [p for p in project.glob("*_prj/solution1") if p.is_dir()]


def _has_synthesis(project: Path) -> bool:
    return any((sol / "syn").is_dir() for sol in _solution_dirs(project))
