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

The modules: :mod:`~fpga_aware.hls.reports.model` (the report dataclasses and
:class:`ReportError`), :mod:`~fpga_aware.hls.reports.xml` and :mod:`~fpga_aware.hls.reports.text`
(the two C-synthesis formats), :mod:`~fpga_aware.hls.reports.utilization` (Vivado's),
:mod:`~fpga_aware.hls.reports.locate` (finding and reading a project's reports),
:mod:`~fpga_aware.hls.reports.comparison` (estimate vs report), with the shared readers of fields
(:mod:`~fpga_aware.hls.reports.fields`) and text tables (:mod:`~fpga_aware.hls.reports.tables`).
Every public name is importable from this package.
"""

from __future__ import annotations

from fpga_aware.hls.reports.comparison import Comparison, ComparisonRow, compare
from fpga_aware.hls.reports.locate import MANIFEST_NAME, find_csynth_report, read_report
from fpga_aware.hls.reports.model import ImplementationReport, ReportError, Resources, SynthesisReport
from fpga_aware.hls.reports.text import read_csynth_rpt
from fpga_aware.hls.reports.utilization import VIVADO_REPORT_NAME, read_vivado_utilization
from fpga_aware.hls.reports.xml import read_csynth_xml

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
    "MANIFEST_NAME",
    "VIVADO_REPORT_NAME",
]
