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

from fpga_aware.core.ir import DenseLayer

__all__ = ["MULTIPLIERS", "DA_INSTALL", "da_available", "da_graph", "dense_da_context", "render_da_operands"]

#: How a constant product is built: ``'dsp'`` a ``*`` the synthesizer maps to DSPs or LUTs,
#: ``'da'`` da4ml's multiplier-free shift-and-add graph.
MULTIPLIERS = ("dsp", "da")
DA_INSTALL = "pip install 'fpga_aware[da]'  (or: pip install 'da4ml==0.6.*')"


def da_available() -> bool:
    try:
        import da4ml.cmvm  # noqa: F401
    except ImportError:
        return False
    return True


def _signed_width(lo: int, hi: int) -> int:
    """Bits of the two's complement integers holding every value in ``[lo, hi]``."""
    w = 1
    while lo < -(1 << (w - 1)) or hi > (1 << (w - 1)) - 1:
        w += 1
    return w


class _Ref:
    """``sign * node.m * 2**(shift - node.f)``: a node read with a shift and a sign."""

    __slots__ = ("node", "shift", "neg")

    def __init__(self, node: int | None, shift: int = 0, neg: bool = False):
        self.node, self.shift, self.neg = node, shift, neg


def da_graph(weights: np.ndarray, lo: int, hi: int, layer_name: str = "?", solver: dict | None = None) -> dict[str, Any]:
    """da4ml's adder graph of ``x @ weights`` for integer inputs in ``[lo, hi]``, as integer nodes.

    Returns ``{'nodes': [...], 'outputs': [...], 'adders': n, 'depth': d, 'seconds': s}``: node
    ``k`` is an input (``{'k', 'input': i}``) or ``m = sa * (m_a << da) + sb * (m_b << db)``
    with ``op`` ``'add'`` / ``'sub'`` (``m_a - m_b`` shifted) in ``w`` bits; its value is
    ``(-1 if neg else 1) * m * 2**-f``.  Output ``j`` is node ``node`` with ``f`` fractional bits
    and sign ``neg`` (``node`` None: the column is zero)."""
    try:
        from da4ml.cmvm import solve
    except ImportError as exc:
        raise ImportError(f"layer {layer_name!r}: multiplier='da' needs da4ml: {DA_INSTALL}") from exc
    import time

    w = np.asarray(weights, dtype=np.int64)
    n_in, n_out = w.shape
    if np.abs(w).max(initial=0) >= 1 << 24:
        raise ValueError(f"layer {layer_name!r}: weight mantissas of 25 bits or more do not pass da4ml's float32 kernel exactly")
    start = time.perf_counter()
    pipeline = solve(w.astype(np.float32), qintervals=[(float(lo), float(hi), 1.0)] * n_in,
                     latencies=[0.0] * n_in, **(solver or {}))
    seconds = time.perf_counter() - start

    nodes: list[dict[str, Any]] = []
    lohi: list[tuple[int, int]] = []
    fracs: list[int] = []
    depth: list[int] = []

    def new_input(i: int) -> int:
        nodes.append({"k": len(nodes), "input": i, "w": _signed_width(lo, hi), "f": 0})
        lohi.append((lo, hi)), fracs.append(0), depth.append(0)
        return len(nodes) - 1

    def combine(a: _Ref, b: _Ref, sub: bool) -> _Ref:
        """``a + b`` (``a - b`` when ``sub``) as a new node, the signs folded into add/sub."""
        sb = b.neg != sub  # the sign of b's term
        fa, fb = fracs[a.node] - a.shift, fracs[b.node] - b.shift  # fractional exponents of the terms
        f = max(fa, fb)
        da, db = f - fa, f - fb
        (la, ha), (lb, hb) = lohi[a.node], lohi[b.node]
        la, ha, lb, hb = la << da, ha << da, lb << db, hb << db
        # result mantissa r, the node's value sign * r:  a.neg, sb -> r, op, sign
        if not a.neg and not sb:
            op, neg, lo_r, hi_r, x, y = "add", False, la + lb, ha + hb, (a, da), (b, db)
        elif not a.neg and sb:
            op, neg, lo_r, hi_r, x, y = "sub", False, la - hb, ha - lb, (a, da), (b, db)
        elif a.neg and not sb:
            op, neg, lo_r, hi_r, x, y = "sub", False, lb - ha, hb - la, (b, db), (a, da)
        else:
            op, neg, lo_r, hi_r, x, y = "add", True, la + lb, ha + hb, (a, da), (b, db)
        k = len(nodes)
        nodes.append({"k": k, "op": op, "a": x[0].node, "sa": x[1], "b": y[0].node, "sb": y[1],
                      "w": _signed_width(lo_r, hi_r), "f": f})
        lohi.append((lo_r, hi_r)), fracs.append(f), depth.append(1 + max(depth[a.node], depth[b.node]))
        return _Ref(k, 0, neg)

    stage_in = [_Ref(new_input(i)) for i in range(n_in)]
    for sol in pipeline.solutions:
        refs: list[_Ref | None] = []
        for op in sol.ops:
            if op.opcode == -1:
                src = stage_in[op.id0]
                refs.append(None if src.node is None else
                            _Ref(src.node, src.shift + int(sol.inp_shifts[op.id0]), src.neg))
            elif op.opcode in (0, 1):
                a, b = refs[op.id0], refs[op.id1]
                b = None if b is None else _Ref(b.node, b.shift + int(op.data), b.neg)
                if a is None or b is None:  # an input that is constant zero
                    keep = a if b is None else b
                    neg = keep is not None and (keep.neg != (op.opcode == 1 and a is None))
                    refs.append(None if keep is None else _Ref(keep.node, keep.shift, neg))
                else:
                    refs.append(combine(a, b, op.opcode == 1))
            elif op.opcode == 5 and op.data == 0:
                refs.append(None)
            else:
                raise ValueError(f"layer {layer_name!r}: da4ml returned an op the 'da' rendering does not write "
                                 f"(opcode {op.opcode}: {op})")
        outs = []
        for idx, shift, neg in zip(sol.out_idxs, sol.out_shifts, sol.out_negs):
            r = refs[idx] if idx >= 0 else None
            outs.append(_Ref(None) if r is None else _Ref(r.node, r.shift + int(shift), r.neg != bool(neg)))
        stage_in = [_Ref(None) if r is None else r for r in outs]

    outputs = []
    for r in stage_in:
        if r.node is None:
            outputs.append({"node": None, "f": 0, "neg": False})
        else:  # the value sign * m * 2**(shift - f): an integer, read as m >> (f - shift)
            outputs.append({"node": r.node, "f": fracs[r.node] - r.shift, "neg": r.neg})
    graph = {"nodes": nodes, "outputs": outputs, "adders": sum(1 for n in nodes if "op" in n),
             "depth": max((depth[o["node"]] for o in outputs if o["node"] is not None), default=0),
             "seconds": seconds}
    _check(graph, w, layer_name)
    return graph


def _evaluate(graph: dict[str, Any], x: list[int]) -> list[int]:
    """The graph on one integer input vector, exactly (Python ints)."""
    m: list[int] = []
    for n in graph["nodes"]:
        if "input" in n:
            m.append(int(x[n["input"]]))
        else:
            a, b = m[n["a"]] << n["sa"], m[n["b"]] << n["sb"]
            m.append(a + b if n["op"] == "add" else a - b)
    out = []
    for o in graph["outputs"]:
        if o["node"] is None:
            out.append(0)
            continue
        v, f = m[o["node"]], o["f"]
        if f >= 0:
            assert v & ((1 << f) - 1) == 0, "an output with fractional bits"
            v >>= f
        else:
            v <<= -f
        out.append(-v if o["neg"] else v)
    return out


def _check(graph: dict[str, Any], w: np.ndarray, layer_name: str) -> None:
    n_in = w.shape[0]
    for i in range(n_in):
        unit = [0] * n_in
        unit[i] = 1
        if _evaluate(graph, unit) != [int(v) for v in w[i]]:
            raise ValueError(f"layer {layer_name!r}: da4ml's adder graph does not reproduce row {i} of the weights")


def dense_da_context(layer: DenseLayer, ctx: dict[str, Any], solver: dict | None = None) -> dict[str, Any]:
    """The ``dense_da.v.j2`` additions to a one-cycle dense context ``ctx`` (from
    :func:`fpga_aware.rtl.layers._dense_arithmetic`): the adder graph and each output's read."""
    from fpga_aware.rtl.layers import UnsupportedRTLError
    from fpga_aware.sim.emulator import accumulator_is_lossless

    x, w, acc = layer.input_type, layer.weight_type, layer.accum_type
    if layer.schedule.n_terms and layer.schedule.n_cycles > 1:
        raise UnsupportedRTLError(
            f"layer {layer.name!r}: multiplier='da' writes fully parallel dense layers (reuse factor 1); this one "
            f"takes {layer.schedule.n_cycles} cycles (reuse factor {layer.reuse_factor}); use multiplier='dsp' for it")
    if not accumulator_is_lossless(layer):
        raise UnsupportedRTLError(
            f"layer {layer.name!r}: multiplier='da' computes the exact sum x.W, and accum_t {acc.cpp()} does not hold "
            f"it the emulator's way: it needs at least the products' {x.frac + w.frac} and the bias's "
            f"{layer.bias_type.frac} fractional bits, and to wrap (AP_WRAP) or hold every sum; "
            f"use multiplier='dsp' for this layer")
    lo = x.lowest_mantissa if x.signed else 0
    hi = x.max_mantissa
    weights = np.asarray(layer.weights, dtype=np.int64).reshape(layer.n_in, layer.n_out)
    try:
        graph = da_graph(weights, int(lo), int(hi), layer.name, solver)
    except ImportError as exc:
        raise UnsupportedRTLError(str(exc)) from exc
    wa, ls = acc.width, acc.frac - (x.frac + w.frac)
    nodes = graph["nodes"]
    # only the low bits of each node that reach an output's wa - ls integer bits are kept
    # (sums and differences are exact modulo any power of two; an operand cut to its needed
    # bits is never sign-extended: its consumer needs no bit above them)
    need = [0] * len(nodes)
    for out in graph["outputs"]:
        if out["node"] is not None:
            need[out["node"]] = max(need[out["node"]], out["f"] + acc.width - ls)
    for n in reversed(nodes):
        if "input" in n:
            continue
        n["w"] = max(1, min(n["w"], need[n["k"]]))
        need[n["a"]] = max(need[n["a"]], n["w"] - n["sa"])
        need[n["b"]] = max(need[n["b"]], n["w"] - n["sb"])
    for n in nodes:
        if "input" not in n:
            # the low bits where one operand is zero need no adder: a + b below max(sa, sb) is the
            # other operand, a - b below sb is a (fa_add instances are shared modules, so Yosys
            # would not drop them)
            n["low"] = min(n["w"], max(n["sa"], n["sb"]) if n["op"] == "add" else n["sb"])
            n["low_src"] = "a" if n["op"] == "sub" or n["sa"] <= n["sb"] else "b"
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
        reads.append({"o": o, "expr": expr, "neg": neg, "e": f"e{o}", "s": f"s{o}"})
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
