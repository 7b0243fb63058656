"""Pipeline registers inside a fully parallel dense layer (``RTLOptions(pipeline='clock')``).

The layer's operations run in levels: the constant products (each assigned to accum_t), the
adder levels of its program, the conversion to result_t.  Their delays
(:data:`fpga_aware.core.pipeline.FABRIC`, the product's by how Yosys maps it:
:func:`fpga_aware.rtl.mapping.constant_product_on_dsp`) are chained into clock cycles by
:func:`fpga_aware.core.pipeline.place_cuts`: the fewest stages that fit the cycle budget (the
number the HLS cost model's greedy :class:`~fpga_aware.core.pipeline.ClockChain` reaches), the
registers placed where the fewest bits are live.  The top registers every layer's output, so
a layer with ``stages`` internal registers takes ``stages + 1`` cycles.

What a register holds is only the bits of the value that can vary, from the value's interval
over every input (computed with :meth:`fpga_aware.core.fixed.FixedType.requantize`, the
emulator's semantics): the low bits that are always zero and the bits that only repeat the sign
are not stored; values that are equal bit for bit (products of one input by constants with the
same odd part) share one register.  The Yosys estimate counts the same registers
(:mod:`fpga_aware.cost.yosys`), so its flip-flops are the writer's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fpga_aware.core.fixed import FixedType, Overflow
from fpga_aware.core.ir import DenseLayer
from fpga_aware.core.pipeline import FABRIC, FabricDelays, cycle_budget, place_cuts
from fpga_aware.rtl.mapping import constant_product_on_dsp, naf_digits, odd_part, signed_width

__all__ = ["PIPELINES", "da_pipeline", "dense_pipeline", "pipeline_layer", "requant_ns"]

#: ``RTLOptions.pipeline``: ``'clock'`` registers where the chained delay exceeds the clock
#: budget; ``'layer'`` only every layer's output (one cycle per combinational layer).
PIPELINES = ("clock", "layer")


def requant_ns(p: dict[str, Any], delays: FabricDelays = FABRIC) -> float:
    """The delay of one assignment (:func:`fpga_aware.rtl.modes.requant`): a rounding increment
    and the overflow comparisons with their choice; wiring when it only drops or shifts bits."""
    ns = delays.adder(p["qw"]) if p["rounding"] != "trn" else 0.0
    if p["check_hi"] or p["check_lo"]:
        ns += delays.adder(p["cw"]) + delays.lut_ns
    return ns


@dataclass
class _Value:
    """What is known of a wa-bit value of the program: its mantissa interval, how many low bits
    are always zero, the terms it depends on and, for a product, the key of its stored bits."""

    lo: int
    hi: int
    tz: int
    terms: frozenset = field(default_factory=frozenset)
    key: Any = None

    @property
    def constant(self) -> bool:
        return self.lo == self.hi


def _assigned(lo: int, hi: int, frac: int, to: FixedType) -> tuple[int, int, bool]:
    """``to``'s mantissa interval of values in ``[lo, hi]`` with ``frac`` fractional bits, and
    whether the assignment may overflow (the rounding is monotone; a saturation clips)."""
    wide = replace(to, width=to.width + 256, integer=to.integer + 256, signed=True, overflow=Overflow.SAT)
    r_lo, r_hi = (int(v) for v in wide.requantize(np.array([lo, hi], dtype=object), frac))
    overflows = r_lo < to.lowest_mantissa or r_hi > to.max_mantissa
    if not overflows:
        return r_lo, r_hi, False
    if to.overflow == Overflow.WRAP:
        return to.lowest_mantissa, to.max_mantissa, True
    lo_out, hi_out = max(r_lo, to.lowest_mantissa), min(r_hi, to.max_mantissa)
    if to.overflow == Overflow.SAT_ZERO:
        lo_out, hi_out = min(lo_out, 0), max(hi_out, 0)
    return lo_out, hi_out, True


def _zeros(value: int, limit: int) -> int:
    return limit if value == 0 else min(limit, (value & -value).bit_length() - 1)


def _stored_width(v: _Value) -> int:
    lo, hi = v.lo >> v.tz, v.hi >> v.tz
    if lo >= 0:
        return max(1, hi.bit_length())
    return max(signed_width(lo), signed_width(hi))


def _product_values(layer: DenseLayer, ctx: dict[str, Any]) -> dict[str, _Value]:
    x, w, acc = layer.input_type, layer.weight_type, layer.accum_type
    frac, p = x.frac + w.frac, ctx["product"]
    exact_shift = p["rs"] == 0 and not (p["check_hi"] or p["check_lo"])
    values = {}
    for t in ctx["terms"]:
        m = t["w"]
        a, b = x.lowest_mantissa * m, x.max_mantissa * m
        lo, hi, overflow = _assigned(min(a, b), max(a, b), frac, acc)
        odd, tz_m = odd_part(m)
        if p["rs"] == 0:
            tz = tz_m + p["ls"] if not overflow or acc.overflow == Overflow.WRAP else 0
        else:
            tz = tz_m - p["rs"] if tz_m >= p["rs"] and not overflow else 0
        tz = min(tz, acc.width)
        key = ("product", t["i"], odd) if exact_shift and not overflow else None
        values[f"a{t['k']}"] = _Value(lo, hi, tz, frozenset([t["k"]]), key)
    return values


def _bias_values(layer: DenseLayer, ctx: dict[str, Any]) -> dict[str, _Value]:
    acc = layer.accum_type
    values = {}
    for o, bits in enumerate(ctx["bias_bits"]):
        v = bits - (1 << acc.width) if acc.signed and bits >> (acc.width - 1) else bits
        values[f"b{o}"] = _Value(v, v, _zeros(v, acc.width))
    return values


def _sum(a: _Value, b: _Value, layer: DenseLayer, ctx: dict[str, Any]) -> _Value:
    acc = layer.accum_type
    lo, hi, tz = a.lo + b.lo, a.hi + b.hi, min(a.tz, b.tz)
    if ctx["modular"]:
        if lo < acc.lowest_mantissa or hi > acc.max_mantissa:
            lo, hi = acc.lowest_mantissa, acc.max_mantissa  # wraps: the low bits stay
    else:
        lo, hi, overflow = _assigned(lo, hi, acc.frac, acc)
        tz = 0 if overflow else tz
    return _Value(lo, hi, tz, a.terms | b.terms)


def _level_delays(layer: DenseLayer, ctx: dict[str, Any], delays: FabricDelays) -> list[float]:
    """ns of each level: products, every adder level, the result's conversion."""
    wx, x_signed = ctx["wx"], ctx["x_signed"]
    product_ns = 0.0
    for m in {t["w"] for t in ctx["terms"]}:
        odd, _ = odd_part(m)
        if constant_product_on_dsp(m, wx, x_signed):
            product_ns = max(product_ns, delays.dsp_multiply_ns)
        elif abs(odd) != 1:
            depth = math.ceil(math.log2(naf_digits(odd)))
            product_ns = max(product_ns, delays.soft_product(depth, wx + 1 + signed_width(odd)))
        elif m < 0:
            product_ns = max(product_ns, delays.adder(wx + 1))  # a negation
    product_ns += requant_ns(ctx["product"], delays) if ctx["terms"] else 0.0
    add_ns = delays.adder(ctx["wa"]) if ctx["modular"] else delays.adder(ctx["wa"] + 1) + requant_ns(ctx["add"], delays)
    return [product_ns] + [add_ns] * len(ctx["program"]) + [requant_ns(ctx["result"], delays)]


def dense_pipeline(layer: DenseLayer, ctx: dict[str, Any], clock_period: float,
                   delays: FabricDelays = FABRIC) -> dict[str, Any]:
    """The pipeline of a fully parallel dense layer's context ``ctx`` (``dense.v.j2``'s):
    ``{'stages', 'cuts', 'program', 'finals', 'timing'}``; ``cuts[j]`` lists the registers after
    level ``j`` (0: the products; ``j``: adder level ``j``), and the program and finals read
    the registered values (``<name>_r<stage>``) after them."""
    level_ns = _level_delays(layer, ctx, delays)
    values = {**_product_values(layer, ctx), **_bias_values(layer, ctx)}
    live_after = [[f"a{t['k']}" for t in ctx["terms"]]]  # the values live after each level
    for step in ctx["program"]:
        for new, left, right in step:
            values[new] = _sum(values[left], values[right], layer, ctx)
        consumed = {n for _, a, b in step for n in (a, b)}
        live_after.append([n for n in live_after[-1] if n not in consumed] + [new for new, _, _ in step])
    cut_bits = [sum(st["sw"] for st in _registers(values, live, 0, ctx["wa"])["stores"]) for live in live_after]
    cut_after = place_cuts(level_ns, cut_bits, clock_period) if ctx["terms"] else []

    program = [list(step) for step in ctx["program"]]
    finals = list(ctx["finals"])
    latest: dict[str, str] = {}  # each value's latest registered name
    cuts: dict[int, dict[str, list]] = {}
    for level in cut_after:
        stage = len(cuts) + 1
        cut = _registers(values, [latest.get(n, n) for n in live_after[level]], stage, ctx["wa"])
        cuts[level] = cut
        renamed = {v["source"]: v["name"] for v in cut["values"]}
        for later in program[level:]:
            later[:] = [(new, renamed.get(a, a), renamed.get(b, b)) for new, a, b in later]
        finals = [renamed.get(n, n) for n in finals]
        for old, new in renamed.items():
            values[new] = values[old]
        for n in live_after[level]:
            latest[n] = renamed.get(latest.get(n, n), latest.get(n, n))
    return {"stages": len(cuts), "cuts": cuts, "program": [[tuple(s) for s in step] for step in program],
            "finals": finals, "timing": _timing(level_ns, cut_after, clock_period)}


def _timing(level_ns: list[float], cut_after: list[int], clock_period: float) -> dict[str, Any]:
    """Each stage's chained delay against the cycle budget."""
    budget, stage_ns, start = cycle_budget(clock_period), [], 0
    for end in [*cut_after, len(level_ns) - 1]:
        stage_ns.append(round(sum(level_ns[start:end + 1]), 3))
        start = end + 1
    return {"budget_ns": round(budget, 3), "stage_ns": stage_ns, "met": all(ns <= budget + 1e-9 for ns in stage_ns)}


def _registers(values: dict[str, _Value], live: list[str], stage: int, wa: int) -> dict[str, list]:
    """The registers of one cut: a store per distinct stored value, a wa-bit value per live name."""
    stores, by_key, out = [], {}, []
    for name in live:
        v = values[name]
        if v.constant:  # nothing to store: the value is written as its constant
            out.append({"source": name, "name": f"{name}_r{stage}", "constant": v.lo & ((1 << wa) - 1)})
            continue
        sw = _stored_width(v)
        assert sw + v.tz <= wa, (name, sw, v.tz, wa)
        key = v.key if v.key is not None else ("value", name)
        if key not in by_key:
            by_key[key] = len(stores)
            stores.append({"store": f"s{stage}_{len(stores)}", "source": name, "tz": v.tz, "sw": sw,
                           "terms": set(v.terms)})
        else:
            stores[by_key[key]]["terms"] |= v.terms
        store = stores[by_key[key]]
        out.append({"source": name, "name": f"{name}_r{stage}", "store": store["store"], "sw": sw, "tz": v.tz,
                    "signed": v.lo < 0, "constant": None})
    for s in stores:
        s["terms"] = sorted(s["terms"])
    return {"stores": stores, "values": out}


def da_pipeline(layer: DenseLayer, ctx: dict[str, Any], clock_period: float,
                delays: FabricDelays = FABRIC) -> dict[str, Any]:
    """The pipeline of a ``multiplier='da'`` layer (``dense_da.v.j2``): da4ml's adder graph by
    node depth, then each output's negation, bias addition and conversion to result_t, chained
    by the clock.  A node read in a later stage than it is computed in is read through a chain
    of registers of its ``w`` bits (``n<k>_p<stage>``); an output's value crossing a cut in the
    tail is registered at accum_t's width.  Returns ``{'stages', 'da_registers', 'timing'}`` and
    rewrites the operands (:func:`fpga_aware.rtl.da.render_da_operands`)."""
    from fpga_aware.rtl.da import render_da_operands

    nodes, wa = ctx["da_nodes"], ctx["wa"]
    depth = [0] * len(nodes)
    for n in nodes:
        if "input" not in n:
            depth[n["k"]] = 1 + max(depth[n["a"]], depth[n["b"]])
    top = max(depth, default=0)
    level_ns = [0.0] * (top + 1)
    for n in nodes:
        if "input" not in n and n["w"] > n["low"]:
            level_ns[depth[n["k"]]] = max(level_ns[depth[n["k"]]], delays.adder(n["w"] - n["low"]))
    negation = top + 1  # then the bias addition (top + 2) and the conversion (top + 3)
    level_ns += [delays.adder(wa) if any(o["neg"] for o in ctx["da_outputs"] if o["node"] is not None) else 0.0,
                 delays.adder(wa), requant_ns(ctx["result"], delays)]
    last_level = [0] * len(nodes)  # the last level that reads each node
    for c in nodes:
        if "input" not in c:
            for k in (c["a"], c["b"]):
                last_level[k] = max(last_level[k], depth[c["k"]])
    read_outputs = [o for o in ctx["da_outputs"] if o["node"] is not None]
    for out in read_outputs:
        last_level[out["node"]] = negation
    cut_bits = [math.inf] + [float(sum(n["w"] for n in nodes if depth[n["k"]] <= j < last_level[n["k"]]))
                             for j in range(1, negation)]
    cut_bits += [float(wa * len(read_outputs))] * 2
    cut_after = place_cuts(level_ns, cut_bits, clock_period) if ctx["terms"] else []
    stage_of = [sum(1 for c in cut_after if c < level) for level in range(len(level_ns))]
    stage = len(cut_after)

    # which outputs each node reaches (a register nothing kept reads is removed by Yosys)
    reaches: list[set] = [set() for _ in nodes]
    for o, out in enumerate(ctx["da_outputs"]):
        if out["node"] is not None:
            reaches[out["node"]].add(o)
    for n in reversed(nodes):
        if "input" not in n:
            reaches[n["a"]] |= reaches[n["k"]]
            reaches[n["b"]] |= reaches[n["k"]]
    registers = []

    def source(k: int, consumer: int | None) -> str:
        at = stage_of[negation] if consumer is None else stage_of[depth[consumer]]
        return f"n{k}" if at == stage_of[depth[k]] else f"n{k}_p{at}"

    last_read = [0] * len(nodes)  # the last stage each node is read in
    for c in nodes:
        if "input" not in c:
            for k in (c["a"], c["b"]):
                last_read[k] = max(last_read[k], stage_of[depth[c["k"]]])
    for out in ctx["da_outputs"]:
        if out["node"] is not None:
            last_read[out["node"]] = max(last_read[out["node"]], stage_of[negation])
    for n in nodes:  # a chain of registers up to the last stage it is read in
        for s in range(stage_of[depth[n["k"]]] + 1, last_read[n["k"]] + 1):
            registers.append({"name": f"n{n['k']}_p{s}", "src": f"n{n['k']}" if s - 1 == stage_of[depth[n["k"]]]
                              else f"n{n['k']}_p{s - 1}", "w": n["w"], "outs": sorted(reaches[n["k"]])})
    render_da_operands(ctx, source)
    for r in ctx["da_reads"]:  # the tail: negation -> bias addition -> conversion
        if r.get("zero"):
            continue  # the bias alone: a constant, nothing to register
        if stage_of[negation + 1] > stage_of[negation]:
            registers.append({"name": f"e{r['o']}_p", "src": f"e{r['o']}", "w": wa, "outs": [r["o"]]})
            r["e"] = f"e{r['o']}_p"
        if stage_of[negation + 2] > stage_of[negation + 1]:
            registers.append({"name": f"s{r['o']}_p", "src": f"s{r['o']}", "w": wa, "outs": [r["o"]]})
            r["s"] = f"s{r['o']}_p"
    return {"stages": stage, "da_registers": registers, "timing": _timing(level_ns, cut_after, clock_period)}


def pipeline_layer(layer: DenseLayer, ctx: dict[str, Any], clock_period: float) -> dict[str, Any]:
    """The pipeline of a fully parallel dense layer's context, by its multiplier mode."""
    if ctx.get("multiplier") == "da":
        return da_pipeline(layer, ctx, clock_period)
    return dense_pipeline(layer, ctx, clock_period)
