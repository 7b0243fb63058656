"""Where the reports of a project are, and reading them: :func:`find_csynth_report`, :func:`read_report`
(the search order is in the docstring of :mod:`fpga_aware.hls.reports`)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

from fpga_aware.hls.reports.model import ReportError, SynthesisReport
from fpga_aware.hls.reports.text import read_csynth_rpt
from fpga_aware.hls.reports.utilization import VIVADO_REPORT_NAME, read_vivado_utilization
from fpga_aware.hls.reports.xml import read_csynth_xml

__all__ = ["MANIFEST_NAME", "find_csynth_report", "read_report"]

logger = logging.getLogger(__name__)

#: The manifest :meth:`Firmware.write` leaves in a project folder (it names the project).
MANIFEST_NAME = "fpga_aware_project.json"


def _project_names(folder: Path) -> list[str]:
    names: list[str] = []
    manifest = folder / MANIFEST_NAME
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            name = data.get("project_name") if isinstance(data, dict) else None
            if isinstance(name, str) and name:
                names.append(name)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            logger.warning("%s is unreadable; looking for *_prj folders instead", manifest)
    for prj in sorted(folder.glob("*_prj")):
        if prj.is_dir() and prj.name[: -len("_prj")] not in names:
            names.append(prj.name[: -len("_prj")])
    return names


def _candidates(folder: Path) -> list[tuple[Path, list[str]]]:
    """``(report folder, top-name guesses)`` in search order."""
    out: list[tuple[Path, list[str]]] = []
    names = _project_names(folder)
    for name in names:
        prj = folder / f"{name}_prj"
        solutions = [prj / "solution1"] + sorted(p for p in prj.glob("*") if p.is_dir() and p.name != "solution1")
        for sol in solutions:
            out.append((sol / "syn" / "report", [name]))
    if folder.name.endswith("_prj"):
        out.append((folder / "solution1" / "syn" / "report", [folder.name[: -len("_prj")]]))
    out.append((folder / "syn" / "report", names))
    out.append((folder, names))
    return out


def _pick(report_dir: Path, names: list[str], suffix: str) -> Path | None:
    if not report_dir.is_dir():
        return None
    for name in names:
        p = report_dir / f"{name}_csynth.{suffix}"
        if p.is_file():
            return p
    p = report_dir / f"csynth.{suffix}"
    if p.is_file():
        return p
    # Without a known top name: a folder with exactly one *_csynth file (ours: copied reports).
    found = sorted(report_dir.glob(f"*_csynth.{suffix}"))
    if len(found) == 1:
        return found[0]
    return None


def find_csynth_report(project_dir: str | os.PathLike) -> list[Path]:
    """The C-synthesis report files for ``project_dir``, best first (XML before text).

    Raises :class:`ReportError` listing where it looked when there is none.
    """
    folder = Path(project_dir)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise ReportError(f"{folder} does not exist (expected an HLS project folder or a report file)")
    looked: list[str] = []
    for report_dir, names in _candidates(folder):
        looked.append(str(report_dir))
        found = [p for p in (_pick(report_dir, names, "xml"), _pick(report_dir, names, "rpt")) if p is not None]
        if found:
            return found
    raise ReportError(
        f"no C-synthesis report (<top>_csynth.xml or <top>_csynth.rpt) found for {folder}; looked in: "
        + ", ".join(dict.fromkeys(looked))
        + " — run C synthesis first (fpga_aware.hls.synthesis.run_hls(..., synth=True))"
    )


def _parse_csynth(path: Path) -> SynthesisReport:
    if path.suffix.lower() == ".xml":
        return read_csynth_xml(path)
    if path.suffix.lower() == ".rpt":
        return read_csynth_rpt(path)
    raise ReportError(f"{path}: unknown report type (expected a .xml or .rpt C-synthesis report)")


def _looks_like_utilization(path: Path) -> bool:
    if path.suffix.lower() != ".rpt":
        return False
    try:
        with path.open("r", encoding="utf-8", errors="replace") as f:
            head = f.read(4000)
    except OSError:
        return False
    return "report_utilization" in head or "Utilization Design Information" in head


def read_report(project_dir: str | os.PathLike, *, vivado_report: str | os.PathLike | None = None) -> SynthesisReport:
    """Parse the C-synthesis report (and ``vivado_synth.rpt`` if present) of an HLS project.

    ``project_dir`` is the project folder written by :meth:`Firmware.write` (or the
    ``<name>_prj`` folder, a solution folder, a folder holding the report files, or the path
    of a ``*_csynth.xml``/``*_csynth.rpt`` file).  ``vivado_report`` names the Vivado
    utilization report explicitly; otherwise ``vivado_synth.rpt`` is used when it exists in
    the project folder or next to the C-synthesis report.
    """
    target = Path(project_dir)
    if target.is_file() and _looks_like_utilization(target):
        raise ReportError(
            f"{target} is a Vivado utilization report; give the C-synthesis report (or the project "
            "folder) and pass the utilization report as vivado_report="
        )
    candidates = find_csynth_report(target)
    report: SynthesisReport | None = None
    first_error: ReportError | None = None
    for path in candidates:
        try:
            report = _parse_csynth(path)
            break
        except ReportError as err:
            if first_error is None:
                first_error = err
            if len(candidates) > 1:
                logger.warning("%s; trying the next report", err)
    if report is None:
        assert first_error is not None
        if len(candidates) > 1:
            raise ReportError(
                f"{first_error} (the text report {candidates[-1]} could not be read either)"
            ) from first_error
        raise first_error

    vivado: Path | None = None
    if vivado_report is not None:
        vivado = Path(vivado_report)
        if not vivado.is_file():
            raise ReportError(f"the Vivado utilization report {vivado} does not exist")
    else:
        folders = [target] if target.is_dir() else []
        folders.append(report.source.parent)
        for folder in folders:
            if (folder / VIVADO_REPORT_NAME).is_file():
                vivado = folder / VIVADO_REPORT_NAME
                break
    if vivado is not None:
        impl = read_vivado_utilization(vivado)
        report = replace(report, implementation=impl)
    return report
