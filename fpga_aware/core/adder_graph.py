"""Multiplier-free dense layers: da4ml's shift-and-add graph of a constant matrix-vector product.

Part of the IR's hardware structure (like :mod:`fpga_aware.core.schedule`): a fully parallel
dense layer's ``x . W`` (integer mantissas) as the adder graph of da4ml's constant
matrix-vector optimizer (:func:`da4ml.cmvm.solve`, distributed arithmetic; LGPL-3, an optional
dependency: ``pip install 'fpga_aware[da]'``), called here, never copied.  It is built once per
layer (:attr:`fpga_aware.core.ir.DenseLayer.adder_graph`) and read by every stage that builds
the layer without multipliers:

* the Verilog writer, ``RTLOptions(multiplier='da')`` (:mod:`fpga_aware.rtl.da`,
  ``templates/rtl/layers/dense_da.v.j2``);
* the HLS writer, ``strategy='distributed_arithmetic'`` (``templates/firmware/adder_graph.h.j2``,
  each node an ``ap_int`` of its width);
* the cost models (the HLS one counts the adders' bits and the graph's depth).

Bit-exact with the emulator by construction:

* the graph is exact integer arithmetic: each node holds its value's mantissa at its own
  fractional exponent (da4ml's negative shifts make fractions), in as many bits as its value
  interval needs, computed here from the input ranges (not read from da4ml); the graph is
  evaluated on every unit vector and must reproduce ``W`` exactly, else the layer is refused;
* the emulator (:func:`fpga_aware.sim.emulator._dense`) sums products unrounded when the
  accumulator is lossless (its fractional bits hold every product's and the bias's, and it wraps
  or provably never overflows); the sum of the layer is then ``(x . W) << shift`` modulo
  ``2**accum_t.width`` plus the bias, whatever the order.  Other accumulators (products rounded
  into accum_t, or saturating sums whose order matters) are refused by name
  (:func:`da_refusal`);
* every node is then cut to the low bits an output's ``accum_t.width`` bits depend on
  (:func:`layer_adder_graph`): sums and differences are exact modulo any power of two.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

__all__ = ["DA_INSTALL", "DA_STRATEGY", "AdderGraphError", "da_available", "da_graph", "da_refusal", "check_da_layer",
           "check_da_strategy", "layer_adder_graph", "evaluate", "copied", "levels"]

#: How the HLS option is named in messages.
DA_STRATEGY = "strategy='distributed_arithmetic'"

DA_INSTALL = "pip install 'fpga_aware[da]'  (or: pip install 'da4ml==0.6.*')"


class AdderGraphError(ValueError):
    """A dense layer that da4ml's adder graph cannot build exactly; the message names the layer,
    the option that asked for the graph and what to use instead."""


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


def da_graph(weights: np.ndarray, lo: int, hi: int, layer_name: str = "?", solver: dict | None = None,
             option: str = "multiplier='da'") -> dict[str, Any]:
    """da4ml's adder graph of ``x @ weights`` for integer inputs in ``[lo, hi]``, as integer nodes.

    Returns ``{'nodes': [...], 'outputs': [...], 'adders': n, 'depth': d, 'seconds': s}``: node
    ``k`` is an input (``{'k', 'input': i}``) or ``m = sa * (m_a << da) + sb * (m_b << db)``
    with ``op`` ``'add'`` / ``'sub'`` (``m_a - m_b`` shifted) in ``w`` bits; its value is
    ``(-1 if neg else 1) * m * 2**-f``.  Output ``j`` is node ``node`` with ``f`` fractional bits
    and sign ``neg`` (``node`` None: the column is zero)."""
    try:
        from da4ml.cmvm import solve
    except ImportError as exc:
        raise ImportError(f"layer {layer_name!r}: {option} needs da4ml: {DA_INSTALL}") from exc
    import time

    w = np.asarray(weights, dtype=np.int64)
    n_in, n_out = w.shape
    if np.abs(w).max(initial=0) >= 1 << 24:
        raise AdderGraphError(f"layer {layer_name!r}: weight mantissas of 25 bits or more do not pass da4ml's float32 kernel exactly")
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
                raise AdderGraphError(f"layer {layer_name!r}: da4ml returned an op the adder-graph writers do not write "
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
            raise AdderGraphError(f"layer {layer_name!r}: da4ml's adder graph does not reproduce row {i} of the weights")


evaluate = _evaluate


def da_refusal(layer, option: str = "multiplier='da'", alternative: str = "multiplier='dsp'") -> str | None:
    """Why ``layer`` cannot be built as an adder graph (``None``: it can).  The rules: fully parallel
    (reuse factor 1) and a lossless accumulator (the emulator's :func:`~fpga_aware.sim.emulator.accumulator_is_lossless`:
    the graph computes the exact ``x . W``, which equals the emulator's sum only then)."""
    from fpga_aware.sim.emulator import accumulator_is_lossless

    x, w, acc = layer.input_type, layer.weight_type, layer.accum_type
    if layer.schedule.n_terms and layer.schedule.n_cycles > 1:
        return (f"layer {layer.name!r}: {option} writes fully parallel dense layers (reuse factor 1); this one "
                f"takes {layer.schedule.n_cycles} cycles (reuse factor {layer.reuse_factor}); use {alternative} for it")
    if not accumulator_is_lossless(layer):
        return (f"layer {layer.name!r}: {option} computes the exact sum x.W, and accum_t {acc.cpp()} does not hold "
                f"it the emulator's way: it needs at least the products' {x.frac + w.frac} and the bias's "
                f"{layer.bias_type.frac} fractional bits, and to wrap (AP_WRAP) or hold every sum "
                f"(e.g. {layer.lossless_accumulator().cpp()}); use {alternative} for this layer")
    return None


def check_da_layer(layer, option: str = "multiplier='da'", alternative: str = "multiplier='dsp'") -> None:
    """Raise :class:`AdderGraphError` when :func:`da_refusal` refuses ``layer``, ``ImportError``
    (naming :data:`DA_INSTALL`) when da4ml is not installed."""
    reason = da_refusal(layer, option, alternative)
    if reason:
        raise AdderGraphError(reason)
    if not da_available():
        raise ImportError(f"layer {layer.name!r}: {option} needs da4ml: {DA_INSTALL}")


def check_da_strategy(layer) -> None:
    """The checks of ``strategy='distributed_arithmetic'`` on a dense layer: reuse factor 1
    exactly, then :func:`check_da_layer`'s (accumulator, da4ml installed)."""
    if int(layer.reuse_factor) != 1:
        raise AdderGraphError(
            f"layer {layer.name!r}: {DA_STRATEGY} builds the layer fully parallel and needs reuse_factor 1, "
            f"got {layer.reuse_factor}; use strategy='latency' or 'resource' to share multipliers")
    check_da_layer(layer, DA_STRATEGY, "strategy='latency'")


def layer_adder_graph(layer, solver: dict | None = None, option: str = "multiplier='da'",
                      alternative: str = "multiplier='dsp'") -> dict[str, Any]:
    """The adder graph of a fully parallel dense layer, cut to the bits its accumulator keeps.

    :func:`da_graph` of the layer's weight mantissas over its input's mantissa range, then (only
    the low bits of each node that reach an output's ``accum_t.width`` bits are kept; an operand
    cut to its needed bits is never sign-extended: its consumer needs no bit above them):

    * ``nodes[k]['w']``: the bits node ``k`` is computed in (exact modulo ``2**w``);
      ``'low'``: its low bits where one operand is zero (a + b below max(sa, sb) is the other
      operand, a - b below sb is a: no adder there), ``'low_src'`` that operand (``'a'``/``'b'``);
    * ``outputs[o]``: ``{'node', 'f', 'neg', 'shift'}``: the accumulator's
      ``(x . W) << ls`` is ``node << shift`` (``>> -shift``: zero bits) negated when ``neg``;
    * ``adders``, ``depth`` (longest chain of adders), ``adder_bits`` (the bits of every
      adder: sum of ``w - low``), ``ls`` (accum_t's fractional bits above the products'),
      ``wa`` (accum_t's width), ``x_lo``/``x_hi`` (the input mantissa range), ``seconds`` (da4ml's).

    Refused (:class:`AdderGraphError`, ``ImportError`` without da4ml) by :func:`check_da_layer`'s
    rules, with ``option`` and ``alternative`` in the message.  :attr:`DenseLayer.adder_graph`
    caches the result; callers that change it must copy it (:func:`copy.deepcopy`).
    """
    reason = da_refusal(layer, option, alternative)
    if reason:
        raise AdderGraphError(reason)
    x, w, acc = layer.input_type, layer.weight_type, layer.accum_type
    lo = int(x.lowest_mantissa) if x.signed else 0
    hi = int(x.max_mantissa)
    weights = np.asarray(layer.weights).reshape(layer.n_in, layer.n_out)
    if max((abs(int(v)) for v in weights.ravel()), default=0) >= 1 << 24:
        raise AdderGraphError(f"layer {layer.name!r}: weight mantissas of 25 bits or more do not pass da4ml's "
                              f"float32 kernel exactly; use {alternative} for this layer")
    graph = da_graph(weights.astype(np.int64), lo, hi, layer.name, solver, option)
    ls = acc.frac - (x.frac + w.frac)
    nodes = graph["nodes"]
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
            n["low"] = min(n["w"], max(n["sa"], n["sb"]) if n["op"] == "add" else n["sb"])
            n["low_src"] = "a" if n["op"] == "sub" or n["sa"] <= n["sb"] else "b"
    for out in graph["outputs"]:
        out["shift"] = ls - out["f"]
    graph.update(adder_bits=sum(n["w"] - n["low"] for n in nodes if "input" not in n), ls=ls, wa=acc.width,
                 x_lo=lo, x_hi=hi)
    return graph


def levels(graph: dict[str, Any]) -> list[tuple[int, int]]:
    """``(width, live_bits)`` of each level of the graph (adders at depth 1, 2, ...): the widest
    adder of the level (its carry chain: ``w - low`` bits) and the bits of the nodes alive before
    it (computed earlier, read at that level or later; the inputs among them), what a register
    there would store."""
    nodes = graph["nodes"]
    depth = [0] * len(nodes)
    last = [0] * len(nodes)  # the deepest level that reads each node (outputs: after the graph)
    for n in nodes:
        if "op" in n:
            depth[n["k"]] = 1 + max(depth[n["a"]], depth[n["b"]])
            for k in (n["a"], n["b"]):
                last[k] = max(last[k], depth[n["k"]])
    top = max(depth, default=0)
    for o in graph["outputs"]:
        if o["node"] is not None:
            last[o["node"]] = top + 1
    width = [0] * (top + 1)
    for n in nodes:
        if "op" in n:
            width[depth[n["k"]]] = max(width[depth[n["k"]]], n["w"] - n["low"])
    return [(width[d], sum(n["w"] for n in nodes if depth[n["k"]] < d <= last[n["k"]])) for d in range(1, top + 1)]


def copied(graph: dict[str, Any]) -> dict[str, Any]:
    """A copy of a (cached) graph that may be changed."""
    return copy.deepcopy(graph)
