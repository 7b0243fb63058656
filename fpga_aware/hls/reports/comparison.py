"""Our estimate beside a synthesis report: :func:`compare` and its :class:`Comparison`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fpga_aware.hls.reports.model import SynthesisReport

if TYPE_CHECKING:  # pragma: no cover
    from fpga_aware.cost.model import CostReport

__all__ = ["ComparisonRow", "Comparison", "compare"]


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
