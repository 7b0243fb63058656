"""The Vivado utilization report (``report_utilization`` after logic synthesis, ``vivado_synth.rpt``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

from fpga_aware.hls.reports.fields import float_or_none, read_text
from fpga_aware.hls.reports.model import ImplementationReport, ReportError, Resources
from fpga_aware.hls.reports.tables import header_value, is_table_row, table_cells

__all__ = ["VIVADO_REPORT_NAME", "read_vivado_utilization"]

#: Name of the Vivado utilization report (hls4ml's convention, ``report_utilization -file``).
VIVADO_REPORT_NAME = "vivado_synth.rpt"


#: Site types of ``report_utilization`` (7 series "Slice", UltraScale "CLB").
_LUT_SITES = ("Slice LUTs", "CLB LUTs")
_FF_SITES = ("Register as Flip Flop", "Slice Registers", "CLB Registers")


def read_vivado_utilization(path: str | os.PathLike) -> ImplementationReport:
    """Parse a Vivado ``report_utilization`` text report (e.g. ``vivado_synth.rpt``)."""
    path = Path(path)
    text = read_text(path)
    lines = text.splitlines()
    if not any("Site Type" in line for line in lines):
        raise ReportError(f"{path} is not a Vivado utilization report (no 'Site Type' table)")

    def meta(key: str) -> str | None:
        return header_value(lines, key, marker="|", within=30)

    # Every 'Site Type | Used | ... | Available' table: site -> (used, available).
    sites: dict[str, tuple[str, str | None]] = {}
    columns: list[str] | None = None
    for line in lines:
        s = line.strip()
        if not is_table_row(line):
            if not s.startswith("+"):
                columns = None  # a table ended
            continue
        cells = table_cells(line)
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
                value = float_or_none(raw, f"{what} ({name})", path)
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
