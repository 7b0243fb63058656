"""Per-kind Verilog contexts: the numbers ``templates/rtl/layers/<kind>.v.j2`` writes one layer from.

:data:`RTL_CONTEXTS` holds one entry per IR layer kind the Verilog backend writes; a kind
without one is refused by name (:class:`UnsupportedRTLError`), and
:data:`fpga_aware.conformance.RTL_PENDING` lists the kinds still to be written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Union

import numpy as np

from fpga_aware.core.activations import TABLE_FUNCTIONS
from fpga_aware.core.ir import (
    ActivationLayer,
    ConvLayer,
    DenseLayer,
    Layer,
    LookupTable,
    ParametricReLULayer,
    PoolingLayer,
    ReorderLayer,
    ScaleShiftLayer,
    SoftmaxLayer,
    StepLayer,
    Strategy,
)
from fpga_aware.core.config import DEFAULT_CLOCK_PERIOD
from fpga_aware.core.fixed import FixedType
from fpga_aware.core.registry import Registry
from fpga_aware.core.schedule import distinct_rows
from fpga_aware.hls.cpp import signed_bits
from fpga_aware.rtl.modes import requant
from fpga_aware.rtl.pipeline import PIPELINES, pipeline_layer
from fpga_aware.rtl.tables import table_chain
from fpga_aware.sim.emulator import accumulator_is_modular

__all__ = ["RTL_CONTEXTS", "RTL_ACTIVATIONS", "RTL_EXACT_ACTIVATIONS", "RTLOptions", "INPUT_SELECTS", "UnsupportedRTLError", "layer_context"]

#: One context builder per IR layer kind: ``builder(layer) -> dict`` for its template.
RTL_CONTEXTS: Registry[Callable[[Layer, "RTLOptions"], dict[str, Any]]] = Registry("Verilog context")
#: Activation functions the Verilog backend writes: ``linear`` and ``relu`` by arithmetic, every
#: table function (:data:`~fpga_aware.core.activations.TABLE_FUNCTIONS`) as ROMs of the IR's table.
RTL_EXACT_ACTIVATIONS = ("linear", "relu")
RTL_ACTIVATIONS = (*RTL_EXACT_ACTIVATIONS, *TABLE_FUNCTIONS)


class UnsupportedRTLError(ValueError):
    """The Verilog backend cannot write this layer or configuration yet (the message says why)."""


#: How the lanes of a multi-cycle dense layer get their inputs (see :func:`_dense_lanes`).
INPUT_SELECTS = ("bus", "lane", "rotate")
#: The default, chosen by measured cost (benchmarks/input_select.py, docs/firmware.md).
DEFAULT_INPUT_SELECT = "bus"


@dataclass(frozen=True)
class RTLOptions:
    """Rendering choices of the Verilog backend that do not change what is computed."""

    #: ``'bus'``: one multiplexer per distinct input sequence, shared by the lanes that have it;
    #: ``'lane'``: one per lane; ``'rotate'``: the input rotates by one element per cycle and each
    #: lane chooses among the positions its sequence needs (none for a dense lane-major layer).
    input_select: str = DEFAULT_INPUT_SELECT
    #: How fully parallel dense layers build their constant products (:mod:`fpga_aware.rtl.da`):
    #: ``'dsp'``: a ``*`` per nonzero weight (the synthesizer maps it to a DSP or LUTs);
    #: ``'da'``: da4ml's multiplier-free shift-and-add graph.  One mode for every dense layer, or
    #: ``{layer name: mode}`` (layers not named: ``'dsp'``; ``'*'`` names the default), e.g.
    #: ``{'fc1': 'da'}``.  Stored as sorted ``(name, mode)`` pairs.  A layer whose IR strategy is
    #: ``distributed_arithmetic`` is built as da4ml's graph whatever this says (the HLS writer,
    #: the Verilog writer and the cost model build it alike).
    multiplier: Union[str, Mapping[str, str], tuple] = "dsp"
    #: ``'clock'``: registers inside a fully parallel dense layer wherever its chained delay
    #: exceeds the clock budget (:mod:`fpga_aware.rtl.pipeline`); ``'layer'``: only each layer's
    #: output register (one cycle per combinational layer, whatever the clock).
    pipeline: str = "clock"

    def __post_init__(self) -> None:
        from fpga_aware.rtl.da import MULTIPLIERS

        if self.input_select not in INPUT_SELECTS:
            raise ValueError(f"input_select must be one of {list(INPUT_SELECTS)}, got {self.input_select!r}")
        if self.pipeline not in PIPELINES:
            raise ValueError(f"RTLOptions: pipeline must be one of {list(PIPELINES)}, got {self.pipeline!r}")
        m = self.multiplier
        pairs = [("*", m)] if isinstance(m, str) else sorted(dict(m).items())
        for name, mode in pairs:
            if not isinstance(name, str) or mode not in MULTIPLIERS:
                where = "" if isinstance(m, str) else f" for layer {name!r}"
                raise ValueError(f"RTLOptions: multiplier{where} must be one of {list(MULTIPLIERS)}, got {mode!r}")
        object.__setattr__(self, "multiplier", m if isinstance(m, str) else tuple(pairs))

    def multiplier_for(self, layer_name: str) -> str:
        """The multiplier mode of the layer named ``layer_name``."""
        if isinstance(self.multiplier, str):
            return self.multiplier
        table = dict(self.multiplier)
        return table.get(layer_name, table.get("*", "dsp"))

    def check_layers(self, layers) -> None:
        """Refuse per-layer multiplier entries that name no dense layer of the model."""
        if isinstance(self.multiplier, str):
            return
        dense = [layer.name for layer in layers if layer.kind in ("dense", "conv")]
        for name, _ in self.multiplier:
            if name != "*" and name not in dense:
                raise UnsupportedRTLError(f"RTLOptions(multiplier=...): {name!r} is not a dense layer (nor a conv "
                                          f"layer) of the model (dense and conv layers: {dense})")


def layer_context(layer: Layer, index: int, options: RTLOptions = RTLOptions(),
                  clock_period: float = DEFAULT_CLOCK_PERIOD) -> dict[str, Any]:
    """The template context of ``layer`` (the ``index``-th after the input), pipelined for
    ``clock_period`` ns when ``options.pipeline == 'clock'``: ``stages`` registers inside it."""
    if layer.kind not in RTL_CONTEXTS:
        raise UnsupportedRTLError(
            f"layer {layer.name!r} ({layer.kind}): the Verilog backend does not write {layer.kind} layers yet; "
            f"it writes {sorted(RTL_CONTEXTS)} (use the HLS backend for this model)"
        )
    ctx = RTL_CONTEXTS[layer.kind](layer, options)
    inner = ctx.pop("inner", None)
    if inner is not None:  # a layer built of copies of one inner module (conv: the per-pixel product)
        sub = layer_context(inner, index, options, clock_period)
        sub.update(module=f"fa_{layer.cname}_pixel", name=f"{layer.name} (per-pixel product)")
        ctx["pixel"] = sub
        for key in ("stages", "sequential", "cycles", "timing"):
            if key in sub:
                ctx[key] = sub[key]
    ctx.setdefault("stages", 0)  # registers inside a combinational layer (its output's is the top's)
    ctx.setdefault("cuts", {})  # where they are (fpga_aware.rtl.pipeline)
    ctx.setdefault("da_registers", [])
    ctx.setdefault("sequential", False)  # a multi-cycle schedule (clocked module with start/done)
    ctx.setdefault("cycles", 1)
    ctx.update(index=index, kind=layer.kind, cname=layer.cname, name=layer.name, module=f"fa_{layer.cname}",
               n_in=layer.n_in, n_out=layer.n_out, wx=layer.input_type.width, wy=layer.result_type.width,
               x_signed=layer.input_type.signed)
    if options.pipeline == "clock" and ctx.get("pipelinable"):
        ctx.update(pipeline_layer(layer, ctx, clock_period))
    return ctx


def _bits(value: int, width: int) -> int:
    """The two's complement bit pattern of ``value`` in ``width`` bits (a non-negative int)."""
    return int(value) & ((1 << width) - 1)


@RTL_CONTEXTS.register("dense")
def _dense(layer: DenseLayer, options: RTLOptions) -> dict[str, Any]:
    sched = layer.schedule
    da = options.multiplier_for(layer.name) == "da" or layer.strategy == Strategy.DISTRIBUTED_ARITHMETIC
    if sched.n_terms and sched.n_cycles > 1 and not da:
        return _dense_lanes(layer, options.input_select)
    # one cycle: every lane is one term, so register r is term r (a{r} below)
    outs, ins, mantissas = layer.terms()
    terms = [{"k": k, "i": int(i), "o": int(o), "w": int(m)} for k, (o, i, m) in enumerate(zip(outs, ins, mantissas))]
    ctx = _dense_arithmetic(layer, [f"a{k}" for k in range(len(terms))])
    ctx.update(terms=terms, sequential=False, cycles=1, multiplier="dsp", pipelinable=not da)
    if da:  # da4ml's shift-and-add graph instead of the products (fpga_aware/rtl/da.py)
        from fpga_aware.rtl.da import dense_da_context

        return dense_da_context(layer, ctx)
    return ctx


def _dense_lanes(layer: DenseLayer, input_select: str) -> dict[str, Any]:
    """A dense layer on its schedule's lanes: C cycles per input, one multiplier per lane.

    Lane ``l`` multiplies input ``seq[l][c]`` in cycle ``c``; how it gets that input is
    ``input_select`` (:class:`RTLOptions`): a multiplexer per distinct sequence (``bus``), per
    lane (``lane``), or a rotating copy of the input, position ``p`` holding
    ``x[(p + c) % n_in]`` in cycle ``c``, read at the lane's offsets ``(seq[l][c] - c) % n_in``
    (``rotate``)."""
    sched = layer.schedule
    _, _, mantissas = layer.terms()
    lane_end = sched.lane_terms().tolist()
    seq = sched.input_sequences()
    if input_select == "bus":
        lane_source, sources = sched.input_buses()
        source_cases = [[(c, int(i)) for c, i in enumerate(row) if i >= 0] for row in sources]
    elif input_select == "lane":
        lane_source = np.arange(sched.n_lanes)
        source_cases = [[(c, int(i)) for c, i in enumerate(row) if i >= 0] for row in seq]
    else:  # rotate: the same as bus, over positions of the rotating register instead of inputs
        offsets = np.where(seq >= 0, (seq - np.arange(sched.n_cycles)) % max(1, layer.n_in), -1)
        grid = np.where(seq >= 0, offsets, -1)
        lane_source, sources = distinct_rows(grid)
        source_cases = [[(c, int(i)) for c, i in enumerate(row) if i >= 0] for row in sources]
    lanes = []
    for lane in range(sched.n_lanes):
        terms = np.flatnonzero(sched.lane == lane)
        weights = [(int(sched.cycle[k]), int(mantissas[k])) for k in terms]
        segments = [(int(r), int(sched.register_end[r])) for r in np.flatnonzero(sched.register_lane == lane)]
        lanes.append({"lane": lane, "weights": weights, "source": int(lane_source[lane]), "segments": segments,
                      "end": int(lane_end[lane])})
    sources_ctx = []
    for b, cases in enumerate(source_cases):
        fixed = {i for _, i in cases}
        sources_ctx.append({"source": b, "cases": cases, "constant": cases[0][1] if len(fixed) == 1 else None})
    ctx = _dense_arithmetic(layer, [f"g{r}" for r in range(sched.n_registers)])
    ctx.update(sequential=True, cycles=sched.n_cycles, counter_width=max(1, (sched.n_cycles - 1).bit_length()),
               lanes=lanes, sources=sources_ctx, input_select=input_select, n_registers=sched.n_registers)
    return ctx


def _dense_arithmetic(layer: DenseLayer, registers: list[str]) -> dict[str, Any]:
    """What both dense renderings share: widths, the three conversions (product, sum, result),
    the biases, and the adder program that adds the registers (named ``registers``) to them."""
    sched = layer.schedule
    x, w, acc, y = layer.input_type, layer.weight_type, layer.accum_type, layer.result_type
    ww = w.width + (0 if w.signed else 1)  # weights as signed constants
    pw = x.width + 1 + ww  # a signed (x.width + 1)-bit input times a signed ww-bit weight
    bias = acc.requantize(np.asarray(layer.bias), layer.bias_type.frac)
    modular = accumulator_is_modular(layer)
    if modular:  # any order is exact: a balanced tree of two-input adders
        per_output = [[f"b{o}"] + [registers[r] for r in np.flatnonzero(sched.register_out == o)]
                      for o in range(layer.n_out)]
        program, finals = _balanced_program(per_output)
    else:  # the schedule's adder levels, each sum assigned to accum_t (saturation)
        program, finals = _combine_program(sched, registers, layer.n_out)
    return {
        "pw": pw, "ww": ww, "wa": acc.width, "acc_signed": acc.signed,
        "bias_bits": [_bits(b, acc.width) for b in bias.tolist()],
        "product": requant(pw, True, x.frac + w.frac, acc),
        "add": requant(acc.width + 1, acc.signed, acc.frac, acc),  # a sum of two accum_t values
        "result": requant(acc.width, acc.signed, acc.frac, y),
        "modular": modular, "program": program, "finals": finals,
    }


def _balanced_program(operands: list[list[str]]) -> tuple[list, list[str]]:
    """Balanced trees of two-input additions over each output's operands, level by level."""
    program, current = [], [list(ops) for ops in operands]
    level = 0
    while any(len(ops) > 1 for ops in current):
        step, nxt = [], []
        for o, ops in enumerate(current):
            merged = []
            for j in range(0, len(ops), 2):
                if j + 1 < len(ops):
                    new = f"t{level}_{o}_{j // 2}"
                    step.append((new, ops[j], ops[j + 1]))
                    merged.append(new)
                else:
                    merged.append(ops[j])
            nxt.append(merged)
        program.append(step)
        current, level = nxt, level + 1
    return program, [ops[0] for ops in current]


def _combine_program(sched, register_names: list[str], n_out: int) -> tuple[list, list[str]]:
    """The schedule's adder levels as ``(new wire, left, right)`` steps over named nodes."""
    names = [f"b{o}" for o in range(n_out)] + register_names
    program = []
    for level, (dst, src) in enumerate(sched.combine_levels):
        step = []
        for d, s in zip(dst.tolist(), src.tolist()):
            new = f"v{level}_{d}"
            step.append((new, names[d], names[s]))
            names[d] = new
        program.append(step)
    return program, names[:n_out]


@RTL_CONTEXTS.register("activation")
def _activation(layer: ActivationLayer, options: RTLOptions) -> dict[str, Any]:
    function = layer.function
    if function not in RTL_ACTIVATIONS:
        raise UnsupportedRTLError(
            f"layer {layer.name!r}: the Verilog backend computes activations {list(RTL_ACTIVATIONS)}, "
            f"not {function!r}; use the HLS backend for this model"
        )
    x = layer.input_type
    ctx: dict[str, Any] = {"function": function, "table": None, "linear": None}
    if function in RTL_EXACT_ACTIVATIONS:
        ctx["result"] = requant(x.width, x.signed, x.frac, layer.result_type)
        return ctx
    if layer.table is None:
        raise UnsupportedRTLError(f"layer {layer.name!r}: the {function} table is missing")
    if layer.table.value_type.width != layer.result_type.width:
        raise UnsupportedRTLError(f"layer {layer.name!r}: the {function} table's entries must be result_t mantissas")
    ctx["table"] = _table_read(layer, layer.table, x, "rom")
    ctx["linear"] = _linear_tail(layer)
    return ctx


def _linear_tail(layer: ActivationLayer) -> dict[str, Any] | None:
    """``y = result_t(x * slope)`` for input mantissas ``>= threshold`` (ELU, SELU, softplus)."""
    tail, x = layer.linear, layer.input_type
    if tail is None:
        return None
    sw = _constant_width(tail.slope_type)
    pw = x.width + 1 + sw
    return {"threshold": int(tail.threshold), "slope": int(tail.slope), "sw": sw, "pw": pw,
            "cw": max(x.width + 1, signed_bits(tail.threshold)),
            "result": requant(pw, True, x.frac + tail.slope_type.frac, layer.result_type)}


def _table_read(layer: Layer, table: LookupTable, input_type: FixedType, name: str) -> dict[str, Any]:
    """The Verilog context of reading ``table`` at ``input_type`` mantissas (fpga_aware.rtl.tables)."""
    try:
        return table_chain(table, input_type, name)
    except ValueError as err:
        raise UnsupportedRTLError(f"layer {layer.name!r}: the Verilog backend cannot read this table: {err}") from None


@RTL_CONTEXTS.register("softmax")
def _softmax(layer: SoftmaxLayer, options: RTLOptions) -> dict[str, Any]:
    """The emulator's softmax (:class:`~fpga_aware.core.ir.SoftmaxLayer`): a balanced tree of
    maxima, ``d_i = diff_t(x_i - max)``, ``e_i = exp_table[d_i]``, ``s = sum_t(...sum_t(e_0) + e_1 ...)``
    in input order, ``r = inv_table[s]``, ``y_i = result_t(e_i * r)``."""
    x, diff_t, sum_t, exp_t, inv_t = layer.input_type, layer.diff_type, layer.sum_type, layer.exp_type, layer.inv_type
    if sum_t.frac != exp_t.frac:
        raise UnsupportedRTLError(f"layer {layer.name!r}: the Verilog backend adds the exponentials in sum_t, which "
                                  f"must have exp_t's {exp_t.frac} fractional bits (it has {sum_t.frac})")
    program, finals = _balanced_program([[f"xe{i}" for i in range(layer.n_in)]])
    xw, sw = x.width + 1, max(sum_t.width, exp_t.width) + 2
    pw = exp_t.width + 1 + inv_t.width + 1
    return {
        "xw": xw, "max_program": program, "max_final": finals[0],
        "wd": diff_t.width, "diff": requant(xw + 1, True, x.frac, diff_t),
        "exp": _table_read(layer, layer.exp_table, diff_t, "rom_exp"), "we": exp_t.width, "exp_signed": exp_t.signed,
        "ws": sum_t.width, "sum_signed": sum_t.signed, "sw": sw, "sum": requant(sw, True, exp_t.frac, sum_t),
        "inv": _table_read(layer, layer.inv_table, sum_t, "rom_inv"), "wr": inv_t.width, "inv_signed": inv_t.signed,
        "pw": pw, "result": requant(pw, True, exp_t.frac + inv_t.frac, layer.result_type),
    }


def _constant_width(t: FixedType) -> int:
    """Bits of a mantissa of ``t`` as a signed constant (an unsigned one gets a zero sign bit)."""
    return t.width + (0 if t.signed else 1)


def _per_channel(layer: Layer, values, what: str) -> list[int]:
    values = [int(v) for v in list(values)]
    if len(values) != layer.n_out:
        raise UnsupportedRTLError(f"layer {layer.name!r}: {len(values)} {what} values for {layer.n_out} channels")
    return values


@RTL_CONTEXTS.register("scale_shift")
def _scale_shift(layer: ScaleShiftLayer, options: RTLOptions) -> dict[str, Any]:
    """Per channel ``y = result_t(accum_t(accum_t(x * scale) + accum_t(shift)))``, as the emulator."""
    x, s, acc = layer.input_type, layer.scale_type, layer.accum_type
    sw = _constant_width(s)
    pw = x.width + 1 + sw
    shift = acc.requantize(np.asarray(layer.shift), layer.shift_type.frac)
    return {
        "scale": _per_channel(layer, layer.scale, "scale"), "sw": sw, "pw": pw, "wa": acc.width,
        "acc_signed": acc.signed, "modular": False,  # for the adder_step macro: the sum is assigned to accum_t
        "shift_bits": [_bits(b, acc.width) for b in _per_channel(layer, shift.tolist(), "shift")],
        "product": requant(pw, True, x.frac + s.frac, acc),
        "add": requant(acc.width + 1, acc.signed, acc.frac, acc),
        "result": requant(acc.width, acc.signed, acc.frac, layer.result_type),
    }


@RTL_CONTEXTS.register("step")
def _step(layer: StepLayer, options: RTLOptions) -> dict[str, Any]:
    """``y = levels[#{t in thresholds: x >= t}]``: comparisons from the highest threshold down."""
    thresholds = [int(t) for t in list(layer.thresholds)]
    levels = [int(v) for v in list(layer.levels)]
    if not thresholds or len(levels) != len(thresholds) + 1 or thresholds != sorted(thresholds):
        raise UnsupportedRTLError(f"layer {layer.name!r} ({layer.function or 'step'}): needs ascending thresholds "
                                  f"and one level more ({len(thresholds)} thresholds, {len(levels)} levels)")
    wy = layer.result_type.width
    cw = max(layer.input_type.width + 1, *(signed_bits(t) for t in thresholds))
    return {"function": layer.function, "cw": cw, "thresholds": thresholds,
            "level_bits": [_bits(v, wy) for v in levels]}


@RTL_CONTEXTS.register("parametric_relu")
def _parametric_relu(layer: ParametricReLULayer, options: RTLOptions) -> dict[str, Any]:
    """``x > threshold ? result_t(x) : result_t(negative_t(x * alpha))`` per channel, as the emulator."""
    x, a, y, neg = layer.input_type, layer.alpha_type, layer.result_type, layer.negative_type
    aw = _constant_width(a)
    pw = x.width + 1 + aw
    product_frac = x.frac + a.frac
    ctx = {"alpha": _per_channel(layer, layer.alpha, "alpha"), "aw": aw, "pw": pw,
           "threshold": int(layer.threshold), "cw": max(x.width + 1, signed_bits(layer.threshold)),
           "positive": requant(x.width, x.signed, x.frac, y), "negative_t": None}
    if neg is None:
        ctx["negative"] = requant(pw, True, product_frac, y)
    else:  # QKeras' clip of the negative branch first
        ctx["negative_t"] = {"width": neg.width, "clip": requant(pw, True, product_frac, neg),
                             "result": requant(neg.width, neg.signed, neg.frac, y)}
    return ctx


@RTL_CONTEXTS.register("conv")
def _conv(layer: ConvLayer, options: RTLOptions) -> dict[str, Any]:
    """A convolution in io_parallel: its per-pixel product (a dense module, written by the dense
    rules: only nonzero taps multiplied, either multiplier mode, pipelined alike) instantiated
    once per output pixel and wired by the patch index table (:mod:`fpga_aware.core.windows`),
    a padding cell tied to 0 -- the emulator's ``dense_rule(product, gather_patches(x))``."""
    product = layer.product
    patch = np.asarray(layer.patch)
    if not isinstance(product, DenseLayer) or patch.ndim != 2 or patch.shape[1] != product.n_in \
            or layer.n_out != patch.shape[0] * product.n_out:
        raise UnsupportedRTLError(f"layer {layer.name!r}: patch {patch.shape} does not match its product "
                                  f"({product.n_in} -> {product.n_out}) and {layer.n_out} outputs")
    if product.input_type != layer.input_type or product.result_type != layer.result_type:
        raise UnsupportedRTLError(f"layer {layer.name!r}: its per-pixel product must share its input and result types")
    if patch.size and (patch.min() < 0 or patch.max() > layer.n_in):
        raise UnsupportedRTLError(f"layer {layer.name!r}: patch indices outside [0, {layer.n_in}]")
    wx = layer.input_type.width
    pixels = [[None if int(i) == layer.n_in else int(i) for i in row] for row in patch.tolist()]
    used = _used_inputs(product)
    return {"inner": product, "n_pixels": int(patch.shape[0]), "n_patch": int(patch.shape[1]),
            "filters": int(product.n_out), "pixels": pixels, "used": used, "wx_in": wx,
            "keras_class": layer.keras_class, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape)}


def _used_inputs(product: DenseLayer) -> list[bool]:
    """Which inputs of the product feed a nonzero weight (the others are tied to 0 per pixel)."""
    _, ins, _ = product.terms()
    used = [False] * product.n_in
    for i in np.asarray(ins).tolist():
        used[int(i)] = True
    return used


def magic_division(n: int, width: int) -> dict[str, int]:
    """``floor(a / n) == (a * m) >> k`` for every ``0 <= a < 2**width`` (Granlund and Montgomery:
    ``k = width + ceil(log2 n)``, ``m = ceil(2**k / n)``, exact because ``m * n - 2**k < n <= 2**l``)."""
    if n < 1:
        raise ValueError(f"division by {n}")
    l = (n - 1).bit_length()
    k = width + l
    m = -(-(1 << k) // n)
    assert (1 << k) <= m * n <= (1 << k) + (1 << l)
    return {"n": n, "m": m, "k": k, "mw": m.bit_length()}


@RTL_CONTEXTS.register("pooling")
def _pooling(layer: PoolingLayer, options: RTLOptions) -> dict[str, Any]:
    """Max pooling: a balanced tree of signed comparisons per output (padding cells ignored),
    then ``result_t(max)``.  Average: the exact sum (sum_t's width, a balanced tree of adders),
    its quotient by the window's count truncated toward zero (a constant reciprocal product,
    exact for every sum: :func:`magic_division`), then ``result_t``.  As the emulator."""
    windows, counts = np.asarray(layer.windows), np.asarray(layer.counts)
    channels = int(layer.channels)
    n_spatial = layer.n_in // channels if channels else 0
    if channels < 1 or n_spatial * channels != layer.n_in or windows.ndim != 2 \
            or layer.n_out != windows.shape[0] * channels or counts.shape != (windows.shape[0],):
        raise UnsupportedRTLError(f"layer {layer.name!r}: windows {windows.shape} / counts {counts.shape} do not "
                                  f"match {layer.n_in} -> {layer.n_out} over {channels} channels")
    if layer.operation not in ("max", "average"):
        raise UnsupportedRTLError(f"layer {layer.name!r}: pooling operation {layer.operation!r} (max, average)")
    x = layer.input_type
    outputs = []
    for p, row in enumerate(windows.tolist()):
        cells = [int(q) for q in row if q >= 0]
        if len(cells) != int(counts[p]) or not cells:
            raise UnsupportedRTLError(f"layer {layer.name!r}: window {p} has {len(cells)} cells, count {counts[p]}")
        for c in range(channels):
            outputs.append({"j": p * channels + c, "inputs": [q * channels + c for q in cells], "n": int(counts[p])})
    xw = x.width + 1  # every value as a signed operand
    ctx: dict[str, Any] = {"operation": layer.operation, "xw": xw, "outputs": outputs, "channels": channels}
    for out in outputs:
        program, finals = _balanced_program([[f"e{i}" for i in out["inputs"]]])
        out["program"] = [[(f"{new}_{out['j']}", *(_local(o, out["j"]) for o in (a, b))) for new, a, b in step]
                          for step in program]
        out["final"] = _local(finals[0], out["j"])
    if layer.operation == "max":
        ctx["result"] = requant(xw, True, x.frac, layer.result_type)
        return ctx
    t = layer.sum_type
    if not isinstance(t, FixedType) or t.frac != x.frac:
        raise UnsupportedRTLError(f"layer {layer.name!r}: average pooling needs a sum type with the input's LSB")
    sw = max(t.width, xw) + 1  # signed, holds every sum (sum_t does) and its negation
    ctx.update(sw=sw, result=requant(sw, True, t.frac, layer.result_type),
               divisions={n: magic_division(n, sw) for n in sorted({o["n"] for o in outputs}) if n > 1})
    return ctx


def _local(name: str, j: int) -> str:
    """A tree operand of output ``j``: an input (``e<i>``, shared) or one of ``j``'s nodes."""
    return name if name.startswith("e") else f"{name}_{j}"


@RTL_CONTEXTS.register("reorder")
def _reorder(layer: ReorderLayer, options: RTLOptions) -> dict[str, Any]:
    """``y[j] = x[source[j]]`` (0 where ``source[j] == n_in``): wiring only."""
    source = np.asarray(layer.source)
    if source.shape != (layer.n_out,) or (source.size and (source.min() < 0 or source.max() > layer.n_in)):
        raise UnsupportedRTLError(f"layer {layer.name!r}: source must hold {layer.n_out} indices in [0, {layer.n_in}]")
    if layer.result_type != layer.input_type:
        raise UnsupportedRTLError(f"layer {layer.name!r}: a reorder keeps its type")
    return {"source": [None if int(i) == layer.n_in else int(i) for i in source.tolist()],
            "keras_class": layer.keras_class, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape)}
