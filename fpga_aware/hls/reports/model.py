"""What a synthesis report says: :class:`Resources`, :class:`SynthesisReport` (HLS C synthesis)
and :class:`ImplementationReport` (Vivado logic synthesis), and :class:`ReportError`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["ReportError", "Resources", "ImplementationReport", "SynthesisReport", "RESOURCE_KEYS"]

#: The resource counts of a report, in the order reports print them.
RESOURCE_KEYS = ("bram_18k", "dsp", "ff", "lut", "uram")


class ReportError(Exception):
    """A synthesis report is missing, unreadable or lacks a field (the message names the file)."""


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


def _utilization(used: Resources, avail: Resources) -> dict[str, float | None]:
    """Percent of ``avail`` that ``used`` takes, per resource (``None`` where either is unknown)."""
    pct = {}
    for key in RESOURCE_KEYS:
        u, a = getattr(used, key), getattr(avail, key)
        pct[key] = None if u is None or not a else 100.0 * u / a
    return pct


class _UsedCount:
    """A report attribute that reads one count (its own name) of the report's used resources."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, report: Any, owner: type | None = None) -> Any:
        if report is None:
            return self
        return getattr(report._counts(), self.name)


class _ResourceTotals:
    """``dsp``, ``lut``, ``ff``, ``bram_18k`` and ``uram`` read from the report's used resources."""

    dsp = _UsedCount()
    lut = _UsedCount()
    ff = _UsedCount()
    bram_18k = _UsedCount()
    uram = _UsedCount()

    def _counts(self) -> Resources:
        raise NotImplementedError


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
        for key, label in zip(RESOURCE_KEYS, ("BRAM_18K", "DSP", "FF", "LUT", "URAM")):
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
