"""The HLS cost model against published C-synthesis reports, per tool, fit and validation sets.

Reads ``benchmarks/data/published_reports.json`` (every published report of a dense hls4ml
design we found, with its source; each design is in the ``fit`` or the ``validation`` set,
decided once, by design), rebuilds each design's IR (:func:`fpga_aware.cost.designs.design_ir`),
estimates it with its tool's profile (:data:`fpga_aware.cost.tools.TOOL_PROFILES`) and writes
``benchmarks/data/hls_calibration.json``: per design and quantity the published value, the
estimate and the error, and per tool and set the median and worst absolute errors.  The tables
of ``docs/cost_model.md`` ("Per-tool calibration") are printed with ``--markdown``.

Each design is also in or outside its tool profile's calibrated domain: the part series
(:attr:`fpga_aware.core.parts.Part.series`) of :attr:`ToolProfile.calibrated_series`
(UltraScale/UltraScale+, the operator delays the model has).  The per-tool fit and validation
errors are over the calibrated domain; designs on other series (the Zynq-7000 Vitis HLS 2024.2
reports) are scored in a table of their own, "outside the calibrated domain", and never fitted.

``--fit`` fits each tool's per-item constants on its calibrated-domain fit set only (non-negative least squares
on the relative errors: LUT and FF are linear in them) and the operator delays on a grid
(:data:`TIMING_GRID`: the least latency error, ties within a cycle per design broken by how well
the pipeline registers explain the FF), and prints the fitted profile fields; the constants in fpga_aware/cost/tools.py are
copied from that output.

    .venv/bin/python benchmarks/hls_calibration.py [--fit] [--markdown] [--json PATH]
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fpga_aware.core.config import FirmwareConfig  # noqa: E402
from fpga_aware.core.parts import get_part  # noqa: E402
from fpga_aware.cost.designs import design_ir  # noqa: E402
from fpga_aware.cost.model import estimate_ir  # noqa: E402
from fpga_aware.cost.tools import TOOL_PROFILES, OutOfCalibratedDomainWarning, ToolProfile  # noqa: E402

DATA = HERE / "data" / "published_reports.json"
#: rule4ml 0.2.0's predictions of the same designs (benchmarks/rule4ml_peer.py, its own venv)
PEER = HERE / "data" / "rule4ml_peer.json"
OUT = HERE / "data" / "hls_calibration.json"
MODELS = HERE.parent.parent / "shared" / "models"
QUANTITIES = ("dsp", "lut", "ff", "latency", "bram_18k")
#: The per-item constants fitted per tool (LUT and FF are linear in each of them); fewer for a
#: tool with few fit designs (Vitis: three, all RF 1: no multiplexer or slot register to fit).
FIELDS = {
    "vivado": {"lut": ("lut_per_neuron", "lut_per_dsp_product", "lut_per_adder_bit", "lut_per_mux_bit_level"),
               "ff": ("ff_per_neuron", "ff_per_dsp_product", "ff_per_register_bit", "ff_per_slot_bit")},
    "vitis": {"lut": ("lut_per_neuron", "lut_per_lut_product", "lut_per_dsp_product", "lut_per_adder_bit"),
              "ff": ("ff_per_neuron", "ff_per_dsp_product", "ff_per_register_bit")},
}
#: Bounds of the fitted constants: the physical ones stay near their physical value (an adder
#: bit is about one LUT, a register bit about one FF), the overheads are free but non-negative.
BOUNDS = {"lut_per_adder_bit": (0.2, 1.2), "ff_per_register_bit": (0.4, 1.2), "lut_per_mux_bit_level": (0.3, 1.5)}
#: Timing grid of the latency fit (operator delays in ns at speed grade -2;
#: ``dsp_mult_cycles=0``: the tool chains a DSP multiply combinationally with the fabric).
TIMING_GRID = {"adder_ns": (0.35, 0.5, 0.6, 0.75, 0.9, 1.05), "adder_ns_per_bit": (0.01, 0.02, 0.03),
               "dsp_input_ns": (0.6, 1.2, 1.8), "dsp_mult_cycles": (0, 1), "dsp_output_ns": (0.3, 0.6, 1.0),
               "activation_ns": (0.2, 0.4)}
#: Timings whose summed latency error on the fit set is at most this many cycles per design
#: above the best are tied; among them the fit takes the one whose pipeline registers explain the fit set's FF
#: best (median relative residual of the FF fit): where the registers go decides their bits.
LATENCY_SLACK = 1


def tool_of(report_tool: str) -> str:
    """The profile name of a report's tool string ('Vitis HLS 2024.1' -> 'vitis')."""
    t = report_tool.lower()
    if t.startswith("vitis"):
        return "vitis"
    if t.startswith("vivado"):
        return "vivado"
    raise ValueError(f"no cost profile for tool {report_tool!r}")


#: The ``domain`` of a design in the calibrated series of its tool's profile.
CALIBRATED = "calibrated"


def domain_of(design: dict) -> str:
    """:data:`CALIBRATED`, or the part series outside the tool profile's calibrated domain
    (``'7 series'``)."""
    series = get_part(design["part"]).series
    return CALIBRATED if series in TOOL_PROFILES[tool_of(design["tool"])].calibrated_series else series


JET = [16, 64, 32, 32, 5]
#: QKeras quantized_bits(6, 0, alpha=1) kernels as each tool's hls4ml run typed them
#: (published_reports.json, ``precision.per_layer``); ReLU results likewise.
QKERAS6 = {"vivado": {"weight_precision": "ap_fixed<7,1>", "relu_precision": "ap_fixed<7,1>"},
           "vitis": {"weight_precision": "ap_fixed<6,1>", "relu_precision": "ap_ufixed<6,0>"}}


def build_of(design: dict) -> "tuple[dict | None, str]":
    """The :func:`~fpga_aware.cost.designs.design_ir` description of a published design, or
    ``None`` and why it is not rebuilt."""
    if design["split"] == "reference":
        return None, "reference only: " + design.get("split_reason", "")
    if design.get("io_type") != "io_parallel":
        return None, f"{design.get('io_type')}: fpga_aware writes io_parallel firmware (io_stream is issue 14)"
    group, rf = design["group"], design["reuse_factor"]
    if group.startswith("jet_"):
        build = {"sizes": JET, "weights": "jet", "reuse_factor": rf, "sparsity": design["model"].get("pruned") or 0.0}
        if "qkeras6" in group:
            build.update(QKERAS6[tool_of(design["tool"])], quantized_frac=5)
        return build, "the jet tagger's shared weights stand in for the notebook's own training"
    if group == "mnist_mlp":
        return ({"sizes": [784, 128, 128, 128, 10], "weights": "random", "strategy": "resource",
                 "reuse_factor": [112, 128, 128, 128], "seed": 0}, "random nonzero ap_fixed<16,6> weights")
    return None, f"group {group!r}: no builder (its output activation is not rebuilt)"


def load_designs(path: Path = DATA) -> list[dict]:
    """The published designs that are rebuilt (with their ``build``), in file order."""
    designs = []
    for d in json.loads(path.read_text())["designs"]:
        build, why = build_of(d)
        if build is not None:
            published = {k: d.get(k) for k in ("dsp", "lut", "ff", "bram_18k", "latency_min", "latency_max")}
            designs.append(dict(d, build=build, build_note=why, published=published,
                                tool=f"{d['tool']} {d.get('tool_version') or '(version not printed)'}",
                                clock_period=d.get("clock_period_ns") or 5.0))
            designs[-1]["domain"] = domain_of(designs[-1])
    return designs


def _config(design: dict) -> FirmwareConfig:
    return FirmwareConfig(part=design["part"], clock_period=float(design["clock_period"]))


def estimate(design: dict, profile: ToolProfile, ir=None):
    """The estimate of a design (out-of-domain ones are scored on purpose: no warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfCalibratedDomainWarning)
        return _estimate(design, profile, ir)


def _estimate(design: dict, profile: ToolProfile, ir=None):
    return estimate_ir(ir if ir is not None else design_ir(design["build"], MODELS), _config(design), tool=profile)


def _published(design: dict, quantity: str):
    pub = design["published"]
    if quantity == "latency":
        lo, hi = pub.get("latency_min"), pub.get("latency_max")
        return None if lo is None and hi is None else ((lo if lo is not None else hi), (hi if hi is not None else lo))
    return pub.get(quantity)


def _ours(report, quantity: str):
    return report.latency_cycles if quantity == "latency" else getattr(report, quantity)


def error(quantity: str, ours: float, published) -> float:
    """Relative error (latency and BRAM: absolute, in cycles / blocks)."""
    if quantity == "latency":
        lo, hi = published
        return 0.0 if lo <= ours <= hi else float(ours - (lo if ours < lo else hi))
    if quantity == "bram_18k":
        return float(ours - published)
    return (ours - published) / published if published else (0.0 if ours == 0 else float("inf"))


def evaluate(designs: list[dict], profiles: dict[str, ToolProfile]) -> list[dict]:
    rows = []
    for d in designs:
        profile = profiles[tool_of(d["tool"])]
        report = estimate(d, profile)
        for q in QUANTITIES:
            pub = _published(d, q)
            if pub is None:
                continue
            ours = _ours(report, q)
            rows.append({"design": d["id"], "tool": d["tool"], "profile": profile.name, "split": d["split"],
                         "domain": d["domain"], "part": d["part"], "quantity": q, "published": pub, "ours": ours, "error": error(q, ours, pub)})
    return rows


def peer_rows(designs: list[dict], path: Path = PEER) -> list[dict]:
    """rule4ml's errors on the same designs and quantities (``profile`` ``'rule4ml'``)."""
    if not path.exists():
        return []
    predicted = {p["design"]: p for p in json.loads(path.read_text())["predictions"]}
    rows = []
    for d in designs:
        p = predicted.get(d["id"])
        if p is None:
            continue
        for q in QUANTITIES:
            pub, ours = _published(d, q), p.get(q)
            if pub is None or ours is None:
                continue
            rows.append({"design": d["id"], "tool": d["tool"], "profile": f"rule4ml ({tool_of(d['tool'])})",
                         "split": d["split"], "domain": d["domain"], "part": d["part"], "quantity": q, "published": pub, "ours": ours,
                         "error": error(q, ours, pub)})
    return rows


def _ratio(q: str, row: dict) -> "float | None":
    """published / ours (latency: the published minimum), or ``None`` when ours is 0."""
    pub = row["published"][0] if q == "latency" else row["published"]
    return round(pub / row["ours"], 2) if row["ours"] else None


def summary(rows: list[dict]) -> list[dict]:
    """Per profile, domain, set and quantity: the median and worst absolute errors (and, outside
    the calibrated domain, the range of published / ours)."""
    out = []
    keys = sorted({(r["profile"], r["domain"], r["split"], r["quantity"]) for r in rows})
    for key in keys:
        mine = [r for r in rows if (r["profile"], r["domain"], r["split"], r["quantity"]) == key]
        errs = [abs(r["error"]) for r in mine]
        s = {"profile": key[0], "domain": key[1], "split": key[2], "quantity": key[3], "designs": len(errs),
             "median_abs_error": statistics.median(errs), "worst_abs_error": max(errs)}
        if key[1] != CALIBRATED:
            ratios = [x for x in (_ratio(key[3], r) for r in mine) if x is not None]
            s["published_over_ours"] = [min(ratios), max(ratios)] if ratios else None
        out.append(s)
    return out


# ---------------------------------------------------------------------- fitting
def _linear_parts(designs: list[dict], profile: ToolProfile, fields: tuple, quantity: str):
    """``(base, unit)``: per design the estimate with every field of ``fields`` at 0, and its
    increase per unit of each field (the estimate is linear in them)."""
    irs = [design_ir(d["build"], MODELS) for d in designs]
    zero = profile.with_(**{f: 0.0 for f in fields})
    base = np.array([getattr(estimate(d, zero, ir), quantity) for d, ir in zip(designs, irs)], float)
    unit = np.empty((len(designs), len(fields)))
    for j, f in enumerate(fields):
        one = zero.with_(**{f: 1.0})
        unit[:, j] = [getattr(estimate(d, one, ir), quantity) for d, ir in zip(designs, irs)] - base
    return base, unit


def fit_linear(designs: list[dict], profile: ToolProfile, fields: tuple, quantity: str) -> dict[str, float]:
    """Bounded least squares (:data:`BOUNDS`, else non-negative) on the relative errors of
    ``quantity`` over ``designs``; fields no design depends on keep their value."""
    from scipy.optimize import lsq_linear

    pub = np.array([d["published"][quantity] for d in designs], float)
    base, unit = _linear_parts(designs, profile, fields, quantity)
    a = unit / pub[:, None]
    b = 1.0 - base / pub
    used = [j for j in range(len(fields)) if np.abs(a[:, j]).sum() > 0]
    if not used:
        return {}
    lo = [BOUNDS.get(fields[j], (0.0, np.inf))[0] for j in used]
    hi = [BOUNDS.get(fields[j], (0.0, np.inf))[1] for j in used]
    theta = lsq_linear(a[:, used], b, bounds=(lo, hi)).x
    return {fields[j]: round(float(t), 3) for j, t in zip(used, theta)}


def _ff_residual(designs: list[dict], profile: ToolProfile, fields: tuple, irs: list) -> float:
    """Median relative residual of the bounded least-squares FF fit of ``fields`` (fit set)."""
    from scipy.optimize import lsq_linear

    have = [(d, ir) for d, ir in zip(designs, irs) if d["published"].get("ff")]
    pub = np.array([d["published"]["ff"] for d, _ in have], float)
    zero = profile.with_(**{f: 0.0 for f in fields})
    base = np.array([estimate(d, zero, ir).ff for d, ir in have], float)
    unit = np.stack([np.array([estimate(d, zero.with_(**{f: 1.0}), ir).ff for d, ir in have], float) - base
                     for f in fields], axis=1)
    a, b = unit / pub[:, None], 1.0 - base / pub
    lo = [BOUNDS.get(f, (0.0, np.inf))[0] for f in fields]
    hi = [BOUNDS.get(f, (0.0, np.inf))[1] for f in fields]
    theta = lsq_linear(a, b, bounds=(lo, hi)).x
    return float(np.median(np.abs(a @ theta - b)))


def fit_timing(designs: list[dict], profile: ToolProfile, ff_fields: tuple = ()) -> dict:
    """The :data:`TIMING_GRID` point with the least summed latency error on ``designs`` (ties
    within :data:`LATENCY_SLACK` cycles per design: the one whose registers best explain the FF)."""
    irs = [design_ir(d["build"], MODELS) for d in designs]
    scored = []
    for values in itertools.product(*TIMING_GRID.values()):
        changes = dict(zip(TIMING_GRID, values))
        p = profile.with_(**changes)
        errs = [abs(error("latency", estimate(d, p, ir).latency_cycles, _published(d, "latency")))
                for d, ir in zip(designs, irs) if _published(d, "latency") is not None]
        scored.append(((sum(errs), max(errs, default=0)), changes))
    if not scored:
        return {}
    best = min(s for s, _ in scored)[0]
    tied = [(s, c) for s, c in scored if s[0] <= best + LATENCY_SLACK * len(designs)]
    if not ff_fields or not any(d["published"].get("ff") for d in designs):
        return min(tied, key=lambda sc: sc[0])[1]
    return min(tied, key=lambda sc: (round(_ff_residual(designs, profile.with_(**sc[1]), ff_fields, irs), 4),
                                     sc[0]))[1]


def fit_set(designs: list[dict], tool: str) -> list[dict]:
    """The designs a tool's profile is fitted on: its fit set, in its calibrated domain only."""
    return [d for d in designs if tool_of(d["tool"]) == tool and d["split"] == "fit" and d["domain"] == CALIBRATED]


def out_of_domain_text(rows: list[dict], tool: str, series: str) -> str:
    """What the estimate measured on ``tool``'s published reports of part ``series``, in the
    words of :data:`fpga_aware.cost.tools.OUT_OF_DOMAIN_ERRORS` (published / ours per quantity)."""
    mine = [r for r in rows if r["profile"] == tool and r["domain"] == series]
    designs = sorted({r["design"] for r in mine})
    tools = sorted({r["tool"] for r in mine})
    parts = sorted({r["part"] for r in mine})
    parts_of = []
    for q in ("latency", "ff", "lut", "dsp"):
        ratios = [x for x in (_ratio(q, r) for r in mine if r["quantity"] == q) if x is not None]
        if ratios:
            lo, hi = min(ratios), max(ratios)
            parts_of.append(f"{q} {lo:g}x" if lo == hi else f"{q} {lo:g}-{hi:g}x")
    return (f"{len(designs)} {'/'.join(tools)} reports on {'/'.join(parts)}: published/estimate "
            + ", ".join(parts_of) + " (docs/cost_model.md, outside the calibrated domain)")


def fit(designs: list[dict]) -> dict[str, dict]:
    fitted = {}
    for name, profile in TOOL_PROFILES.items():
        fit_set_ = fit_set(designs, name)
        if not fit_set_:
            continue
        changes = fit_timing(fit_set_, profile, FIELDS[name]["ff"])
        p = profile.with_(**changes)
        for q, fields in FIELDS[name].items():
            have = [d for d in fit_set_ if d["published"].get(q)]
            if have:
                changes.update(fit_linear(have, p, fields, q))
                p = profile.with_(**changes)
        fitted[name] = changes
    return fitted


# ---------------------------------------------------------------------- output
def _fmt(q: str, v) -> str:
    if q == "latency" and isinstance(v, (list, tuple)):
        return f"{v[0]}" if v[0] == v[1] else f"{v[0]}–{v[1]}"
    return f"{v:,}" if isinstance(v, int) else f"{v}"


def _fmt_err(q: str, e: float) -> str:
    return f"{e:+.0f}" if q in ("latency", "bram_18k") else f"{100 * e:+.1f} %"


def _stat_fmt(q: str):
    return (lambda e: f"{e:g}") if q in ("latency", "bram_18k") else (lambda e: f"{100 * e:.1f} %")


def _unit(q: str) -> str:
    return " (cycles)" if q == "latency" else (" (blocks)" if q == "bram_18k" else "")


def markdown(rows: list[dict], summ: list[dict]) -> str:
    """The calibrated-domain summary (the headline), the summary outside the calibrated domain,
    and every design's row."""
    lines = ["Calibrated domain (UltraScale / UltraScale+ parts):", "",
             "| tool | set | quantity | designs | median abs. error | worst abs. error |", "|---|---|---|---:|---:|---:|"]
    for s in summ:
        if s["domain"] != CALIBRATED:
            continue
        q, fmt = s["quantity"], _stat_fmt(s["quantity"])
        lines.append(f"| {s['profile']} | {s['split']} | {q}{_unit(q)} | {s['designs']} | {fmt(s['median_abs_error'])} | "
                     f"{fmt(s['worst_abs_error'])} |")
    outside = [s for s in summ if s["domain"] != CALIBRATED]
    if outside:
        lines += ["", "Outside the calibrated domain (scored, never fitted; not in the validation figures above):", "",
                  "| tool | series | set | quantity | designs | median abs. error | worst abs. error | published / ours |",
                  "|---|---|---|---|---:|---:|---:|---:|"]
        for s in outside:
            q, fmt = s["quantity"], _stat_fmt(s["quantity"])
            r = s.get("published_over_ours")
            ratio = "—" if not r else (f"{r[0]:g}x" if r[0] == r[1] else f"{r[0]:g}–{r[1]:g}x")
            lines.append(f"| {s['profile']} | {s['domain']} | {s['split']} | {q}{_unit(q)} | {s['designs']} | "
                         f"{fmt(s['median_abs_error'])} | {fmt(s['worst_abs_error'])} | {ratio} |")
    lines += ["", "| design | tool | part | domain | set | quantity | published | ours | error |",
              "|---|---|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        q = r["quantity"]
        lines.append(f"| {r['design']} | {r['tool']} | {r['part']} | {r['domain']} | {r['split']} | {q} | "
                     f"{_fmt(q, r['published'])} | {_fmt(q, r['ours'])} | {_fmt_err(q, r['error'])} |")
    return "\n".join(lines)


def comparison(ours: list[dict], peer: list[dict]) -> str:
    """Validation errors of fpga_aware and rule4ml side by side, per tool and quantity."""
    theirs = {(s["profile"].split("(")[1].rstrip(")"), s["split"], s["quantity"]): s for s in peer
              if s["domain"] == CALIBRATED}
    lines = ["| tool | quantity | designs | fpga_aware median / worst | rule4ml 0.2.0 median / worst (designs) |",
             "|---|---|---:|---:|---:|"]
    for s in ours:
        if s["split"] != "validation" or s["domain"] != CALIBRATED:
            continue
        q = s["quantity"]
        t = theirs.get((s["profile"], "validation", q))
        fmt = (lambda e: f"{e:g}") if q in ("latency", "bram_18k") else (lambda e: f"{100 * e:.1f} %")
        peer_cell = f"{fmt(t['median_abs_error'])} / {fmt(t['worst_abs_error'])} ({t['designs']})" if t else "—"
        lines.append(f"| {s['profile']} | {q} | {s['designs']} | {fmt(s['median_abs_error'])} / "
                     f"{fmt(s['worst_abs_error'])} | {peer_cell} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit", action="store_true", help="fit each tool's constants on its fit set and print them")
    ap.add_argument("--markdown", action="store_true", help="print the docs/cost_model.md tables")
    ap.add_argument("--json", type=Path, default=OUT, help=f"where to write the results (default {OUT})")
    args = ap.parse_args(argv)
    designs = load_designs()
    profiles = dict(TOOL_PROFILES.items())
    if args.fit:
        fitted = fit(designs)
        print(json.dumps(fitted, indent=2))
        profiles = {name: p.with_(**fitted.get(name, {})) for name, p in profiles.items()}
    rows = evaluate(designs, profiles)
    summ = summary(rows)
    peer = peer_rows(designs)
    peer_summ = summary(peer) if peer else []
    args.json.write_text(json.dumps({"designs": len(designs), "summary": summ, "rows": rows,
                                     "rule4ml_summary": peer_summ, "rule4ml_rows": peer}, indent=1) + "\n")
    if args.markdown:
        print(markdown(rows, summ))
        if peer:
            print("\n" + comparison(summ, peer_summ))
    else:
        for s in summ:
            print(f"{s['profile']:7s} {s['domain']:10s} {s['split']:10s} {s['quantity']:9s} n={s['designs']:2d} "
                  f"median {s['median_abs_error']:.3f} worst {s['worst_abs_error']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
