"""Reads Vivado HLS / Vitis HLS synthesis reports, and compares them with our estimate.

:func:`read_report` parses

* the HLS C-synthesis report of the top function: ``<top>_csynth.xml`` (preferred) or the
  text ``<top>_csynth.rpt`` (fallback; Vitis HLS also writes ``csynth.xml``/``csynth.rpt``):
  latency and initiation interval (min/max, in cycles), target/estimated clock, part, the
  estimated BRAM_18K/DSP/FF/LUT/URAM and the part's available amounts;
* if present, the Vivado utilization report ``vivado_synth.rpt`` (``report_utilization`` after
  logic synthesis) into :attr:`SynthesisReport.implementation`: LUT, FF, DSP and BRAM as
  Vivado counts them, which are usually well below the HLS estimate.

Where :func:`read_report` looks, for a project folder ``P`` (first hit wins)::

    P/<name>_prj/solution1/syn/report/   <name> from P/fpga_aware_project.json, else every *_prj
    P/solution1/syn/report/              P is the HLS project (<name>_prj) itself
    P/syn/report/                        P is a solution folder
    P/                                   the report files copied next to each other

and in each of them ``<name>_csynth.xml``, ``csynth.xml``, ``<name>_csynth.rpt``,
``csynth.rpt`` in that order.  ``vivado_synth.rpt`` is looked for in ``P`` and the folder of
the C-synthesis report.  A file path may be given instead of a folder.

:func:`compare` puts a :class:`~fpga_aware.cost.model.CostReport` beside a report; ``str()`` of the
:class:`Comparison` is a table with the % difference of the estimate.

Everything missing or unreadable raises :class:`ReportError` naming the file and what is
missing; nothing here prints.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from fpga_aware.cost.model import CostReport

__all__ = [
    "ReportError",
    "Resources",
    "ImplementationReport",
    "SynthesisReport",
    "ComparisonRow",
    "Comparison",
    "read_report",
    "read_csynth_xml",
    "read_csynth_rpt",
    "read_vivado_utilization",
    "find_csynth_report",
    "compare",
]

logger = logging.getLogger(__name__)

#: Name of the Vivado utilization report (hls4ml's convention, ``report_utilization -file``).
VIVADO_REPORT_NAME = "vivado_synth.rpt"
MANIFEST_NAME = "fpga_aware_project.json"

#: DSP column/tag names across tool versions and families.
_DSP_NAMES = ("DSP", "DSP48E", "DSP48E1", "DSP48E2", "DSP58", "DSP58E2")


class ReportError(Exception):
    """A synthesis report is missing, unreadable or lacks a field (the message names the file)."""


# ============================================================================ data
@dataclass(frozen=True)
class Resources:
    """Resource counts (``None`` where the report does not give the number)."""

    bram_18k: int | None = None
    dsp: int | None = None
    ff: int | None = None
    lut: int | None = None
    uram: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)


def _pct(used: int | None, avail: int | None) -> float | None:
    if used is None or not avail:
        return None
    return 100.0 * used / avail


def _utilization(used: Resources, avail: Resources) -> dict[str, float | None]:
    return {k: _pct(getattr(used, k), getattr(avail, k)) for k in ("bram_18k", "dsp", "ff", "lut", "uram")}


class _ResourceTotals:
    """``dsp``, ``lut``, ``ff``, ``bram_18k`` and ``uram`` read from the report's used resources."""

    def _counts(self) -> Resources:
        raise NotImplementedError

    @property
    def dsp(self) -> int | None:
        return self._counts().dsp

    @property
    def lut(self) -> int | None:
        return self._counts().lut

    @property
    def ff(self) -> int | None:
        return self._counts().ff

    @property
    def bram_18k(self) -> int | None:
        return self._counts().bram_18k

    @property
    def uram(self) -> int | None:
        return self._counts().uram


@dataclass(frozen=True)
class ImplementationReport(_ResourceTotals):
    """What Vivado logic synthesis used (``report_utilization``), from ``vivado_synth.rpt``.

    ``bram_18k`` counts 18 Kb blocks (a RAMB36 tile counts as two).
    """

    source: Path
    used: Resources
    available: Resources
    device: str | None = None
    design_state: str | None = None
    tool_version: str | None = None

    def _counts(self) -> Resources:
        return self.used

    def utilization(self) -> dict[str, float | None]:
        return _utilization(self.used, self.available)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "device": self.device,
            "design_state": self.design_state,
            "tool_version": self.tool_version,
            "used": self.used.to_dict(),
            "available": self.available.to_dict(),
            "utilization": self.utilization(),
        }


@dataclass(frozen=True)
class SynthesisReport(_ResourceTotals):
    """The HLS C-synthesis results of the top function (plus Vivado's, when available).

    Latencies and intervals are in clock cycles; ``None`` where the tool could not determine
    them (``undef``/``?`` in the report, e.g. loops with variable bounds).
    """

    source: Path
    format: str  #: ``'xml'`` or ``'rpt'``
    top: str | None
    part: str | None
    tool_version: str | None
    target_clock_ns: float | None
    clock_uncertainty_ns: float | None
    estimated_clock_ns: float | None
    latency_min: int | None
    latency_max: int | None
    interval_min: int | None
    interval_max: int | None
    pipeline_type: str | None
    resources: Resources
    available: Resources
    implementation: ImplementationReport | None = None

    # -------------------------------------------------------------- conveniences
    def _counts(self) -> Resources:
        return self.resources

    @property
    def latency_ns(self) -> float | None:
        """Worst-case latency times the target clock period."""
        if self.latency_max is None or self.target_clock_ns is None:
            return None
        return self.latency_max * self.target_clock_ns

    @property
    def fmax_mhz(self) -> float | None:
        """The clock frequency the estimated clock period allows."""
        if not self.estimated_clock_ns:
            return None
        return 1000.0 / self.estimated_clock_ns

    def utilization(self) -> dict[str, float | None]:
        """Percent of the available resources of the part (HLS estimate)."""
        return _utilization(self.resources, self.available)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "format": self.format,
            "top": self.top,
            "part": self.part,
            "tool_version": self.tool_version,
            "target_clock_ns": self.target_clock_ns,
            "clock_uncertainty_ns": self.clock_uncertainty_ns,
            "estimated_clock_ns": self.estimated_clock_ns,
            "latency_min": self.latency_min,
            "latency_max": self.latency_max,
            "latency_ns": self.latency_ns,
            "interval_min": self.interval_min,
            "interval_max": self.interval_max,
            "pipeline_type": self.pipeline_type,
            "resources": self.resources.to_dict(),
            "available": self.available.to_dict(),
            "utilization": self.utilization(),
            "implementation": self.implementation.to_dict() if self.implementation else None,
        }

    def __str__(self) -> str:
        def num(v: Any) -> str:
            return "?" if v is None else f"{v:,}" if isinstance(v, int) else f"{v:g}"

        lines = [
            f"HLS C-synthesis report of {self.top or '?'} on {self.part or '?'} "
            f"({self.tool_version or 'unknown version'}; {self.source.name})",
            f"  clock: target {num(self.target_clock_ns)} ns, estimated {num(self.estimated_clock_ns)} ns",
            f"  latency: {num(self.latency_min)}..{num(self.latency_max)} cycles, "
            f"interval {num(self.interval_min)}..{num(self.interval_max)}"
            + (f" ({self.pipeline_type})" if self.pipeline_type else ""),
        ]
        util = self.utilization()
        for key, label in (("bram_18k", "BRAM_18K"), ("dsp", "DSP"), ("ff", "FF"), ("lut", "LUT"), ("uram", "URAM")):
            pct = util[key]
            lines.append(
                f"  {label:8s} {num(getattr(self.resources, key)):>10} of {num(getattr(self.available, key)):>10}"
                + (f"  ({pct:.1f}%)" if pct is not None else "")
            )
        if self.implementation is not None:
            impl = self.implementation
            lines.append(
                f"  Vivado synthesis ({impl.source.name}): LUT {num(impl.lut)}, FF {num(impl.ff)}, "
                f"DSP {num(impl.dsp)}, BRAM_18K {num(impl.bram_18k)}"
            )
        return "\n".join(lines)


# ============================================================================ helpers
def _int_or_none(text: str | None, what: str, path: Path) -> int | None:
    """An integer field; ``undef``/``?``/``-`` (the tool could not tell) is ``None``."""
    if text is None:
        return None
    t = text.strip().replace(",", "")
    if t.lower() in ("", "undef", "?", "-", "n/a", "na"):
        return None
    try:
        return int(t)
    except ValueError:
        try:
            f = float(t)
        except ValueError:
            raise ReportError(f"{path}: {what} is {text.strip()!r}, not a number") from None
        if not math.isfinite(f) or f != int(f):
            raise ReportError(f"{path}: {what} is {text.strip()!r}, not a whole number")
        return int(f)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _float_or_none(text: str | None, what: str, path: Path) -> float | None:
    if text is None:
        return None
    t = text.strip()
    if t.lower() in ("", "undef", "?", "-", "n/a", "na"):
        return None
    m = _NUMBER.search(t)
    if not m:
        raise ReportError(f"{path}: {what} is {t!r}, not a number")
    return float(m.group(0))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise ReportError(f"cannot read report {path}: {err.strerror or err}") from None


# ============================================================================ XML
def read_csynth_xml(path: str | os.PathLike) -> SynthesisReport:
    """Parse a ``*_csynth.xml`` C-synthesis report (Vivado HLS or Vitis HLS)."""
    path = Path(path)
    text = _read_text(path)
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ReportError(f"{path} is not a valid XML C-synthesis report: {err}") from None

    def section(name: str) -> ET.Element:
        el = root.find(name)
        if el is None:
            el = root.find(f".//{name}")
        if el is None:
            raise ReportError(f"{path}: the C-synthesis report has no <{name}> section")
        return el

    def first_text(parent: ET.Element | None, *names: str) -> str | None:
        if parent is None:
            return None
        for name in names:
            el = parent.find(f".//{name}")
            if el is not None and el.text is not None and el.text.strip() != "":
                return el.text
        return None

    def required(parent: ET.Element, what: str, *names: str) -> str:
        value = first_text(parent, *names)
        if value is None:
            raise ReportError(
                f"{path}: {what} is missing (no <{'> or <'.join(names)}> in <{parent.tag}>)"
            )
        return value

    perf = section("PerformanceEstimates")
    area = section("AreaEstimates")
    user = root.find("UserAssignments")
    if user is None:
        user = root.find(".//UserAssignments")
    version_el = root.find(".//ReportVersion/Version")

    overall = perf.find(".//SummaryOfOverallLatency")
    if overall is None:
        raise ReportError(f"{path}: the latency summary <SummaryOfOverallLatency> is missing")
    latency_min = _int_or_none(required(overall, "the best-case latency", "Best-caseLatency"), "latency (best case)", path)
    latency_max = _int_or_none(required(overall, "the worst-case latency", "Worst-caseLatency"), "latency (worst case)", path)
    interval_min = _int_or_none(required(overall, "the minimum interval", "Interval-min"), "interval (min)", path)
    interval_max = _int_or_none(required(overall, "the maximum interval", "Interval-max"), "interval (max)", path)

    resources_el = area.find("Resources")
    if resources_el is None:
        raise ReportError(f"{path}: the resource estimates <AreaEstimates><Resources> are missing")
    available_el = area.find("AvailableResources")
    if available_el is None:
        raise ReportError(f"{path}: the available resources <AreaEstimates><AvailableResources> are missing")

    def resources(el: ET.Element, what: str) -> Resources:
        def get(label: str, *names: str, optional: bool = False) -> int | None:
            value = first_text(el, *names)
            if value is None:
                if optional:
                    return None
                raise ReportError(f"{path}: {what} {label} is missing (no <{'> or <'.join(names)}>)")
            return _int_or_none(value, f"{what} {label}", path)

        return Resources(
            bram_18k=get("BRAM_18K", "BRAM_18K"),
            dsp=get("DSP", *_DSP_NAMES),
            ff=get("FF", "FF"),
            lut=get("LUT", "LUT"),
            uram=get("URAM", "URAM", optional=True),
        )

    timing = perf.find(".//SummaryOfTimingAnalysis")
    return SynthesisReport(
        source=path,
        format="xml",
        top=(first_text(user, "TopModelName") or "").strip() or None,
        part=(first_text(user, "Part") or "").strip() or None,
        tool_version=version_el.text.strip() if version_el is not None and version_el.text else None,
        target_clock_ns=_float_or_none(first_text(user, "TargetClockPeriod"), "the target clock period", path),
        clock_uncertainty_ns=_float_or_none(first_text(user, "ClockUncertainty"), "the clock uncertainty", path),
        estimated_clock_ns=_float_or_none(first_text(timing, "EstimatedClockPeriod"), "the estimated clock period", path),
        latency_min=latency_min,
        latency_max=latency_max,
        interval_min=interval_min,
        interval_max=interval_max,
        pipeline_type=(first_text(perf, "PipelineType") or "").strip() or None,
        resources=resources(resources_el, "resource estimate"),
        available=resources(available_el, "available"),
    )


# ============================================================================ text tables
def _cells(line: str) -> list[str]:
    """The cells of a ``|a|b|c|`` table row."""
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|"):
        s = s[:-1]
    return [c.strip() for c in s.split("|")]


def _is_row(line: str) -> bool:
    s = line.strip()
    return s.startswith("|") and s.endswith("|") and len(s) > 1


def _section(lines: list[str], title: str) -> list[str] | None:
    """The lines of a ``== <title>`` section of an HLS report (until the next ``==`` banner)."""
    start = None
    for i, line in enumerate(lines):
        if line.startswith("== ") and title.lower() in line.lower():
            start = i + 1
            break
    if start is None:
        return None
    end = len(lines)
    for j in range(start + 1, len(lines)):
        if lines[j].startswith("== "):
            end = j
            break
    return lines[start:end]


# ============================================================================ text csynth
def read_csynth_rpt(path: str | os.PathLike) -> SynthesisReport:
    """Parse a ``*_csynth.rpt`` text C-synthesis report (Vivado HLS or Vitis HLS)."""
    path = Path(path)
    text = _read_text(path)
    lines = text.splitlines()
    if not any("Report for" in line for line in lines[:40]) and _section(lines, "Performance Estimates") is None:
        raise ReportError(f"{path} is not an HLS C-synthesis report (no 'Report for' title, no Performance Estimates)")

    def header(key: str) -> str | None:
        pattern = re.compile(rf"^\*\s*{re.escape(key)}\s*:\s*(.*?)\s*$")
        for line in lines[:60]:
            m = pattern.match(line.strip())
            if m:
                return m.group(1) or None
        return None

    top = None
    for line in lines[:20]:
        m = re.search(r"Report for '([^']+)'", line)
        if m:
            top = m.group(1)
            break
    version = header("Version")
    if version:
        version = version.split()[0]
    part = header("Target device")

    perf = _section(lines, "Performance Estimates")
    if perf is None:
        raise ReportError(f"{path}: the '== Performance Estimates' section is missing")

    # Timing: the row of the clock (ap_clk): Target | Estimated | Uncertainty.
    target = estimated = uncertainty = None
    timing_header: list[str] | None = None
    for line in perf:
        if not _is_row(line):
            continue
        cells = _cells(line)
        lowered = [c.lower() for c in cells]
        if "target" in lowered and "estimated" in lowered:
            timing_header = lowered
            continue
        if timing_header is not None and len(cells) == len(timing_header):
            target = _float_or_none(cells[timing_header.index("target")], "the target clock period", path)
            estimated = _float_or_none(cells[timing_header.index("estimated")], "the estimated clock period", path)
            if "uncertainty" in timing_header:
                uncertainty = _float_or_none(cells[timing_header.index("uncertainty")], "the clock uncertainty", path)
            break

    # Latency summary: the first data row after '+ Latency:' (before '+ Detail:').
    latency_row: list[str] | None = None
    in_latency = False
    for line in perf:
        s = line.strip()
        if s.startswith("+ Latency"):
            in_latency = True
            continue
        if in_latency and s.startswith("+ Detail"):
            break
        if in_latency and _is_row(line):
            cells = _cells(line)
            if cells and re.fullmatch(r"\d+|\?|undef", cells[0].replace(",", "")):
                latency_row = cells
                break
    if latency_row is None:
        raise ReportError(f"{path}: the latency summary table (under '+ Latency:') is missing or has no data row")
    if len(latency_row) < 6:
        raise ReportError(
            f"{path}: the latency summary row has {len(latency_row)} columns, expected latency min/max, "
            f"absolute min/max and interval min/max: {latency_row}"
        )

    util = _section(lines, "Utilization Estimates")
    if util is None:
        raise ReportError(f"{path}: the '== Utilization Estimates' section is missing")
    columns: list[str] | None = None
    rows: dict[str, list[str]] = {}
    for line in util:
        if not _is_row(line):
            continue
        cells = _cells(line)
        if columns is None:
            if any(c.upper() == "BRAM_18K" for c in cells):
                columns = [c.upper() for c in cells]
            continue
        if cells[0] in ("Total", "Available") and cells[0] not in rows:
            rows[cells[0]] = cells
        if "Total" in rows and "Available" in rows:
            break
    if columns is None:
        raise ReportError(f"{path}: the utilization summary table (with a BRAM_18K column) is missing")

    def resources(row_name: str) -> Resources:
        row = rows.get(row_name)
        if row is None:
            raise ReportError(f"{path}: the utilization summary has no '{row_name}' row")

        def get(label: str, *names: str, optional: bool = False) -> int | None:
            for name in names:
                if name in columns and columns.index(name) < len(row):
                    return _int_or_none(row[columns.index(name)], f"{row_name} {label}", path)
            if optional:
                return None
            raise ReportError(f"{path}: the utilization summary has no {label} column (columns: {columns[1:]})")

        return Resources(
            bram_18k=get("BRAM_18K", "BRAM_18K"),
            dsp=get("DSP", *_DSP_NAMES),
            ff=get("FF", "FF"),
            lut=get("LUT", "LUT"),
            uram=get("URAM", "URAM", optional=True),
        )

    return SynthesisReport(
        source=path,
        format="rpt",
        top=top,
        part=part,
        tool_version=version,
        target_clock_ns=target,
        clock_uncertainty_ns=uncertainty,
        estimated_clock_ns=estimated,
        latency_min=_int_or_none(latency_row[0], "latency (min)", path),
        latency_max=_int_or_none(latency_row[1], "latency (max)", path),
        interval_min=_int_or_none(latency_row[4], "interval (min)", path),
        interval_max=_int_or_none(latency_row[5], "interval (max)", path),
        pipeline_type=(latency_row[6] or None) if len(latency_row) > 6 else None,
        resources=resources("Total"),
        available=resources("Available"),
    )


# ============================================================================ Vivado utilization
#: Site types of ``report_utilization`` (7 series "Slice", UltraScale "CLB").
_LUT_SITES = ("Slice LUTs", "CLB LUTs")
_FF_SITES = ("Register as Flip Flop", "Slice Registers", "CLB Registers")


def read_vivado_utilization(path: str | os.PathLike) -> ImplementationReport:
    """Parse a Vivado ``report_utilization`` text report (e.g. ``vivado_synth.rpt``)."""
    path = Path(path)
    text = _read_text(path)
    lines = text.splitlines()
    if not any("Site Type" in line for line in lines):
        raise ReportError(f"{path} is not a Vivado utilization report (no 'Site Type' table)")

    def meta(key: str) -> str | None:
        pattern = re.compile(rf"^\|\s*{re.escape(key)}\s*:\s*(.*?)\s*$")
        for line in lines[:30]:
            m = pattern.match(line.strip())
            if m:
                return m.group(1) or None
        return None

    # Every 'Site Type | Used | ... | Available' table: site -> (used, available).
    sites: dict[str, tuple[str, str | None]] = {}
    columns: list[str] | None = None
    for line in lines:
        s = line.strip()
        if not _is_row(line):
            if not s.startswith("+"):
                columns = None  # a table ended
            continue
        cells = _cells(line)
        if cells and cells[0] == "Site Type":
            columns = cells
            continue
        if columns is None or "Used" not in columns:
            continue
        site = cells[0].rstrip("*").strip()
        if site in sites:
            continue
        used = cells[columns.index("Used")] if columns.index("Used") < len(cells) else ""
        avail = cells[columns.index("Available")] if "Available" in columns and columns.index("Available") < len(cells) else None
        sites[site] = (used, avail)

    def number(site_names: Iterable[str], what: str, *, column: int, scale: float = 1.0,
               optional: bool = False) -> int | None:
        for name in site_names:
            if name in sites:
                raw = sites[name][column]
                value = _float_or_none(raw, f"{what} ({name})", path)
                return None if value is None else int(round(value * scale))
        if optional:
            return None
        raise ReportError(
            f"{path}: the utilization report has no {what} row (looked for {', '.join(repr(n) for n in site_names)})"
        )

    def resources(column: int) -> Resources:
        optional = column == 1
        return Resources(
            lut=number(_LUT_SITES, "LUT", column=column, optional=optional),
            ff=number(_FF_SITES, "FF", column=column, optional=optional),
            dsp=number(("DSPs",), "DSP", column=column, optional=optional),
            # A Block RAM tile is 36 Kb: two 18 Kb blocks (tiles may be counted in halves).
            bram_18k=number(("Block RAM Tile",), "BRAM", column=column, scale=2.0, optional=optional),
            uram=number(("URAM",), "URAM", column=column, optional=True),
        )

    version = meta("Tool Version")
    if version:
        m = re.search(r"v\.?(\d{4}\.\d+)", version)
        version = m.group(1) if m else version
    return ImplementationReport(
        source=path,
        used=resources(0),
        available=resources(1),
        device=meta("Device"),
        design_state=meta("Design State"),
        tool_version=version,
    )


# ============================================================================ finding files
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


# ============================================================================ comparison
def _diff_pct(estimate: float | None, actual: float | None) -> float | None:
    """``100 * (estimate - actual) / actual``; ``None`` when undefined (missing or actual 0 with a nonzero estimate)."""
    if estimate is None or actual is None:
        return None
    if actual == 0:
        return 0.0 if estimate == 0 else None
    return 100.0 * (estimate - actual) / actual


@dataclass(frozen=True)
class ComparisonRow:
    """One quantity: our estimate, the HLS C-synthesis number and Vivado's (if any)."""

    metric: str
    estimate: float | None
    synthesis: float | None
    implementation: float | None = None

    @property
    def diff_pct(self) -> float | None:
        """Estimate vs the HLS C-synthesis number, in percent of the latter."""
        return _diff_pct(self.estimate, self.synthesis)

    @property
    def implementation_diff_pct(self) -> float | None:
        """Estimate vs Vivado logic synthesis, in percent of the latter."""
        return _diff_pct(self.estimate, self.implementation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "estimate": self.estimate,
            "synthesis": self.synthesis,
            "diff_pct": self.diff_pct,
            "implementation": self.implementation,
            "implementation_diff_pct": self.implementation_diff_pct,
        }


def _same_part(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return True

    def norm(s: str) -> str:
        return re.sub(r"[^a-z0-9]", "", s.lower()).removeprefix("xc")

    return norm(a) == norm(b)


@dataclass(frozen=True)
class Comparison:
    """Our :class:`~fpga_aware.cost.model.CostReport` beside a :class:`SynthesisReport`."""

    estimate_part: str
    report_part: str | None
    estimate_clock_ns: float
    report_clock_ns: float | None
    report_source: Path
    rows: list[ComparisonRow] = field(default_factory=list)
    has_implementation: bool = False

    def row(self, metric: str) -> ComparisonRow:
        for r in self.rows:
            if r.metric == metric:
                return r
        raise KeyError(f"no row {metric!r}; rows: {[r.metric for r in self.rows]}")

    @property
    def notes(self) -> list[str]:
        notes = []
        if not _same_part(self.estimate_part, self.report_part):
            notes.append(f"note: the estimate is for {self.estimate_part}, the report for {self.report_part}")
        if self.report_clock_ns is not None and not math.isclose(self.estimate_clock_ns, self.report_clock_ns, rel_tol=1e-6):
            notes.append(
                f"note: the estimate assumes a {self.estimate_clock_ns:g} ns clock, the report targets "
                f"{self.report_clock_ns:g} ns"
            )
        return notes

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate_part": self.estimate_part,
            "report_part": self.report_part,
            "estimate_clock_ns": self.estimate_clock_ns,
            "report_clock_ns": self.report_clock_ns,
            "report_source": str(self.report_source),
            "rows": [r.to_dict() for r in self.rows],
            "notes": self.notes,
        }

    def __str__(self) -> str:
        def num(v: float | None) -> str:
            if v is None:
                return "-"
            return f"{int(v):,}" if float(v).is_integer() else f"{v:,.3f}"

        def pct(v: float | None, est: float | None, actual: float | None) -> str:
            if v is None:
                return "n/a" if est is not None and actual is not None else "-"
            return f"{v:+.1f}%"

        head = ["", "estimate", "HLS synth", "diff"]
        if self.has_implementation:
            head += ["Vivado synth", "diff"]
        table = [head]
        for r in self.rows:
            cells = [r.metric, num(r.estimate), num(r.synthesis), pct(r.diff_pct, r.estimate, r.synthesis)]
            if self.has_implementation:
                cells += [num(r.implementation), pct(r.implementation_diff_pct, r.estimate, r.implementation)]
            table.append(cells)
        widths = [max(len(row[i]) for row in table) for i in range(len(head))]
        lines = [
            f"Estimate vs synthesis ({self.report_source.name}; part {self.report_part or '?'}, "
            f"diff = (estimate - synthesis) / synthesis)"
        ]
        for i, row in enumerate(table):
            text = "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])
            lines.append(text.rstrip())
            if i == 0:
                lines.append("-" * len(lines[-1]))
        lines.extend(self.notes)
        return "\n".join(lines)


def compare(estimate: "CostReport", report: SynthesisReport) -> Comparison:
    """Put our estimate beside the synthesis report: DSP, LUT, FF, BRAM_18K, latency, II."""
    impl = report.implementation
    rows = [
        ComparisonRow("DSP", estimate.dsp, report.resources.dsp, impl.dsp if impl else None),
        ComparisonRow("LUT", estimate.lut, report.resources.lut, impl.lut if impl else None),
        ComparisonRow("FF", estimate.ff, report.resources.ff, impl.ff if impl else None),
        ComparisonRow("BRAM_18K", estimate.bram_18k, report.resources.bram_18k, impl.bram_18k if impl else None),
        ComparisonRow("latency (cycles)", estimate.latency_cycles, report.latency_max),
        ComparisonRow("II (cycles)", estimate.ii, report.interval_max),
        ComparisonRow("latency (ns)", estimate.latency_ns, report.latency_ns),
    ]
    return Comparison(
        estimate_part=estimate.part.name,
        report_part=report.part,
        estimate_clock_ns=float(estimate.clock_period),
        report_clock_ns=report.target_clock_ns,
        report_source=report.source,
        rows=rows,
        has_implementation=impl is not None,
    )
