"""The text C-synthesis report (``<top>_csynth.rpt``, Vivado HLS or Vitis HLS)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fpga_aware.hls.reports.fields import csynth_resources, float_or_none, int_or_none, read_text
from fpga_aware.hls.reports.model import ReportError, Resources, SynthesisReport
from fpga_aware.hls.reports.tables import header_value, is_table_row, report_section, table_cells

__all__ = ["read_csynth_rpt"]


def read_csynth_rpt(path: str | os.PathLike) -> SynthesisReport:
    """Parse a ``*_csynth.rpt`` text C-synthesis report (Vivado HLS or Vitis HLS)."""
    path = Path(path)
    text = read_text(path)
    lines = text.splitlines()
    if not any("Report for" in line for line in lines[:40]) and report_section(lines, "Performance Estimates") is None:
        raise ReportError(f"{path} is not an HLS C-synthesis report (no 'Report for' title, no Performance Estimates)")

    def header(key: str) -> str | None:
        return header_value(lines, key, marker="*", within=60)

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

    perf = report_section(lines, "Performance Estimates")
    if perf is None:
        raise ReportError(f"{path}: the '== Performance Estimates' section is missing")

    # Timing: the row of the clock (ap_clk): Target | Estimated | Uncertainty.
    target = estimated = uncertainty = None
    timing_header: list[str] | None = None
    for line in perf:
        if not is_table_row(line):
            continue
        cells = table_cells(line)
        lowered = [c.lower() for c in cells]
        if "target" in lowered and "estimated" in lowered:
            timing_header = lowered
            continue
        if timing_header is not None and len(cells) == len(timing_header):
            target = float_or_none(cells[timing_header.index("target")], "the target clock period", path)
            estimated = float_or_none(cells[timing_header.index("estimated")], "the estimated clock period", path)
            if "uncertainty" in timing_header:
                uncertainty = float_or_none(cells[timing_header.index("uncertainty")], "the clock uncertainty", path)
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
        if in_latency and is_table_row(line):
            cells = table_cells(line)
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

    util = report_section(lines, "Utilization Estimates")
    if util is None:
        raise ReportError(f"{path}: the '== Utilization Estimates' section is missing")
    columns: list[str] | None = None
    rows: dict[str, list[str]] = {}
    for line in util:
        if not is_table_row(line):
            continue
        cells = table_cells(line)
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
                    return int_or_none(row[columns.index(name)], f"{row_name} {label}", path)
            if optional:
                return None
            raise ReportError(f"{path}: the utilization summary has no {label} column (columns: {columns[1:]})")

        return csynth_resources(get)

    return SynthesisReport(
        source=path,
        format="rpt",
        top=top,
        part=part,
        tool_version=version,
        target_clock_ns=target,
        clock_uncertainty_ns=uncertainty,
        estimated_clock_ns=estimated,
        latency_min=int_or_none(latency_row[0], "latency (min)", path),
        latency_max=int_or_none(latency_row[1], "latency (max)", path),
        interval_min=int_or_none(latency_row[4], "interval (min)", path),
        interval_max=int_or_none(latency_row[5], "interval (max)", path),
        pipeline_type=(latency_row[6] or None) if len(latency_row) > 6 else None,
        resources=resources("Total"),
        available=resources("Available"),
    )
