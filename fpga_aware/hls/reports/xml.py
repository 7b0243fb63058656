"""The XML C-synthesis report (``<top>_csynth.xml``, Vivado HLS or Vitis HLS)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from fpga_aware.hls.reports.fields import csynth_resources, float_or_none, int_or_none, read_text
from fpga_aware.hls.reports.model import ReportError, Resources, SynthesisReport

__all__ = ["read_csynth_xml"]


def read_csynth_xml(path: str | os.PathLike) -> SynthesisReport:
    """Parse a ``*_csynth.xml`` C-synthesis report (Vivado HLS or Vitis HLS)."""
    path = Path(path)
    text = read_text(path)
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
    latency_min = int_or_none(required(overall, "the best-case latency", "Best-caseLatency"), "latency (best case)", path)
    latency_max = int_or_none(required(overall, "the worst-case latency", "Worst-caseLatency"), "latency (worst case)", path)
    interval_min = int_or_none(required(overall, "the minimum interval", "Interval-min"), "interval (min)", path)
    interval_max = int_or_none(required(overall, "the maximum interval", "Interval-max"), "interval (max)", path)

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
            return int_or_none(value, f"{what} {label}", path)

        return csynth_resources(get)

    timing = perf.find(".//SummaryOfTimingAnalysis")
    return SynthesisReport(
        source=path,
        format="xml",
        top=(first_text(user, "TopModelName") or "").strip() or None,
        part=(first_text(user, "Part") or "").strip() or None,
        tool_version=version_el.text.strip() if version_el is not None and version_el.text else None,
        target_clock_ns=float_or_none(first_text(user, "TargetClockPeriod"), "the target clock period", path),
        clock_uncertainty_ns=float_or_none(first_text(user, "ClockUncertainty"), "the clock uncertainty", path),
        estimated_clock_ns=float_or_none(first_text(timing, "EstimatedClockPeriod"), "the estimated clock period", path),
        latency_min=latency_min,
        latency_max=latency_max,
        interval_min=interval_min,
        interval_max=interval_max,
        pipeline_type=(first_text(perf, "PipelineType") or "").strip() or None,
        resources=resources(resources_el, "resource estimate"),
        available=resources(available_el, "available"),
    )
