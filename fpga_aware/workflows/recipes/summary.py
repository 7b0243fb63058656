"""``summary.md``: the human-readable summary of a :class:`RecipeResult`."""

from __future__ import annotations

from typing import Any

from fpga_aware.workflows.recipes.result import RecipeResult

__all__ = ["summary_markdown"]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.4g}"
    return f"{int(v):,}" if isinstance(v, (int, float)) else str(v)


def summary_markdown(result: RecipeResult) -> str:
    """The human-readable summary written to ``summary.md``."""
    lines = [f"# {result.name}", ""]
    if result.description:
        lines += [result.description, ""]
    lines.append(f"- data: {result.data}" + ("" if result.data_available else " (MISSING: see the notes)"))
    if result.keras_accuracy is not None:
        lines.append(f"- final Keras accuracy: {result.keras_accuracy:.2%}")
    lines.append(f"- final kernel sparsity: {result.sparsity:.2%}")
    if result.dsp_per_epoch:
        lines.append(f"- estimated DSP per epoch (FPGACost): {result.dsp_per_epoch}")
        lines.append(f"- sparsity per epoch: {result.sparsity_per_epoch}")
    lines.append(f"- run time: {result.seconds:.1f} s")
    for note in result.notes:
        lines.append(f"- **note**: {note}")
    head = ["stage", "Keras accuracy", "sparsity", "DSP", "LUT", "FF", "BRAM_18K", "latency", "II"]
    lines += ["", f"## Estimated cost after each stage ({result.firmware[0].name} settings)", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in result.stages:
        acc = "-" if s["keras_accuracy"] is None else f"{s['keras_accuracy']:.2%}"
        lines.append("| " + " | ".join([s["stage"], acc, f"{s['sparsity']:.2%}"] + [
            _fmt(s[k]) for k in ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")]) + " |")
    for f in result.firmware:
        e = f.estimate
        lines += ["", f"## Firmware `{f.name}` ({f.part})", ""]
        lines.append(f"- estimate: DSP {e['dsp']:,}, LUT {e['lut']:,}, FF {e['ff']:,}, BRAM_18K {e['bram_18k']:,}, "
                     f"latency {e['latency_cycles']} cycles ({e['latency_ns']:g} ns), II {e['ii']}")
        util = e["utilization"]
        fits = all(v <= 100.0 for v in util.values())
        lines.append(f"- {'fits' if fits else 'does NOT fit'} the part: " + ", ".join(
            f"{k.upper()} {v:.1f}%" for k, v in util.items()))
        if f.reference:
            src = f.reference.get("source", "reference")
            parts = [f"{k} {_fmt(v) if not isinstance(v, list) else '–'.join(map(str, v))} "
                     f"(estimate {_fmt(e[k])}, {f.reference_diff_pct[k]:+.1f}%)"
                     for k, v in f.reference.items() if k != "source" and f.reference_diff_pct.get(k) is not None]
            lines.append(f"- {src}: " + ", ".join(parts))
        if f.path:
            lines.append(f"- HLS project: `{f.path}`")
        if f.emulator_accuracy is not None:
            lines.append(f"- firmware (emulator) accuracy: {f.emulator_accuracy:.2%}; same class as Keras on "
                         f"{f.keras_agreement:.2%} of the test samples")
        if f.emulator_csim_mismatches is not None:
            lines.append(f"- emulator vs C simulation: {f.emulator_csim_mismatches} mismatching samples of {f.n_verified}")
    return "\n".join(lines) + "\n"
