"""Multiplier-free dense layers: ``RTLOptions(multiplier='da')``.

A fully parallel dense layer's constant matrix-vector product ``x . W`` (integer mantissas) is
computed by the shift-and-add graph of da4ml's constant matrix-vector optimizer
(:func:`da4ml.cmvm.solve`, distributed arithmetic; LGPL-3, an optional dependency:
``pip install 'fpga_aware[da]'``), called here, never copied.  Its ops are rendered as
``fa_add`` / ``fa_sub`` instances (``templates/rtl/layers/dense_da.v.j2``), then each output gets
its bias and the same two conversions as ``dense.v.j2`` (to accum_t, to result_t).

Bit-exact with the emulator by construction:

* the graph is exact integer arithmetic: each node holds its value's mantissa at its own
  fractional exponent (da4ml's negative shifts make fractions), in as many bits as its value
  interval needs, computed here from the input ranges (not read from da4ml); the graph is
  evaluated on every unit vector and must reproduce ``W`` exactly, else the layer is refused;
* the emulator (:func:`fpga_aware.sim.emulator._dense`) sums products unrounded when the
  accumulator is lossless (its fractional bits hold every product's and the bias's, and it wraps
  or provably never overflows); the sum of the layer is then ``(x . W) << shift`` modulo
  ``2**accum_t.width`` plus the bias, whatever the order.  Other accumulators (products rounded
  into accum_t, or saturating sums whose order matters) are refused by name.

The graph is pipelined for the clock by node depth (:func:`fpga_aware.rtl.pipeline.da_pipeline`,
the rule every other layer's registers are placed by) rather than by da4ml's own op latencies,
so that one delay model places every register of the design.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fpga_aware.core.adder_graph import (  # noqa: F401  (the graph is the IR's: fpga_aware.core.adder_graph)
    DA_INSTALL,
    AdderGraphError,
    check_da_layer,
    copied,
    da_available,
    da_graph,
    layer_adder_graph,
)
from fpga_aware.core.ir import DenseLayer

__all__ = ["MULTIPLIERS", "DA_INSTALL", "da_available", "da_graph", "dense_da_context", "render_da_operands"]

#: How a constant product is built: ``'dsp'`` a ``*`` the synthesizer maps to DSPs or LUTs,
#: ``'da'`` da4ml's multiplier-free shift-and-add graph.
MULTIPLIERS = ("dsp", "da")


def dense_da_context(layer: DenseLayer, ctx: dict[str, Any], solver: dict | None = None) -> dict[str, Any]:
    """The ``dense_da.v.j2`` additions to a one-cycle dense context ``ctx`` (from
    :func:`fpga_aware.rtl.layers._dense_arithmetic`): the adder graph and each output's read."""
    from fpga_aware.rtl.layers import UnsupportedRTLError

    try:  # the layer's graph (built once, shared with the HLS writer and the cost model), or a fresh one
        check_da_layer(layer, "multiplier='da'", "multiplier='dsp'")
        graph = copied(layer.adder_graph) if solver is None else layer_adder_graph(layer, solver)
    except (ImportError, AdderGraphError) as exc:
        raise UnsupportedRTLError(str(exc)) from exc
    nodes = graph["nodes"]
    lo, hi = graph["x_lo"], graph["x_hi"]
    outputs = [{"node": out["node"], "f": out["f"], "neg": out["neg"]} for out in graph["outputs"]]
    ctx.update(multiplier="da", da_nodes=nodes, da_outputs=outputs, da_adders=graph["adders"], da_depth=graph["depth"],
               da_seconds=round(graph["seconds"], 3), x_lo=int(lo), x_hi=int(hi), pipelinable=True)
    render_da_operands(ctx)
    return ctx


def render_da_operands(ctx: dict[str, Any], source=lambda k, node_k: f"n{k}") -> None:
    """Write each node's operand expressions (``ea``, ``eb``) and each output's read (``da_reads``)
    into ``ctx``; ``source(k, consumer)`` names node ``k`` as read by node ``consumer`` (``None``:
    by an output), e.g. a pipeline register of it (:func:`fpga_aware.rtl.pipeline.da_pipeline`)."""
    nodes, wa, ls = ctx["da_nodes"], ctx["wa"], ctx["product"]["ls"]
    for n in nodes:
        if "input" in n:
            n["expr"] = f"x{n['input']}[{n['w'] - 1}:0]"
        else:
            a, b = nodes[n["a"]], nodes[n["b"]]
            n["ea"] = operand(source(a["k"], n["k"]), a["w"], n["sa"], n["w"])
            n["eb"] = operand(source(b["k"], n["k"]), b["w"], n["sb"], n["w"])
    reads = []
    for o, out in enumerate(ctx["da_outputs"]):
        # (x.W << ls) mod 2**wa: the node's mantissa m, whose value is m * 2**-f, shifted by ls - f
        expr, neg = f"{wa}'d0", False
        if out["node"] is not None:
            node, shift = nodes[out["node"]], ls - out["f"]
            neg = out["neg"]
            name = source(node["k"], None)
            if shift >= 0:
                expr = operand(name, node["w"], shift, wa)
            elif node["w"] > -shift:  # drop -shift low bits (zero: the sum is an integer)
                expr = operand(f"{name}[{node['w'] - 1}:{-shift}]", node["w"] + shift, 0, wa,
                               msb=f"{name}[{node['w'] - 1}]")
        # zero: no term (the sum is the bias, a constant); the template then writes no adder,
        # nor one for a zero bias, so that Yosys sees constants (fa_add keeps its hierarchy)
        reads.append({"o": o, "expr": expr, "neg": neg, "e": f"e{o}", "s": f"s{o}", "zero": expr == f"{wa}'d0"})
    ctx["da_reads"] = reads


def operand(name: str, width: int, shift: int, target: int, msb: str | None = None) -> str:
    """``name`` (``width`` bits, signed) shifted left by ``shift``, as ``target`` bits (sign-extended
    or cut to the low bits: every sum is exact modulo ``2**target``)."""
    msb = msb or f"{name}[{width - 1}]"
    total = width + shift
    zeros = f", {shift}'d0" if shift else ""
    if total >= target:
        keep = target - shift
        if keep <= 0:
            return f"{target}'d0"
        if name.endswith("]"):  # a slice [hi:lo] of a node: its low keep bits
            base, rng = name[: name.rindex("[")], name[name.rindex("[") + 1 : -1]
            low = int(rng.split(":")[1])
            return f"{{{base}[{low + keep - 1}:{low}]{zeros}}}"
        return f"{{{name}[{keep - 1}:0]{zeros}}}"
    ext = target - total
    return f"{{{{{ext}{{{msb}}}}}, {name}{zeros}}}"
