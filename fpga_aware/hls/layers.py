"""Per-kind HLS contexts: what the templates need to write one layer of each IR kind.

:data:`HLS_CONTEXTS` holds one entry per IR layer kind (the model input is the top
function's argument, written by the project templates).  An entry fills a
:class:`LayerContext`: typedefs, integer storage types, arrays of mantissas, the widest
intermediate value its C++ computes (for ``AP_INT_MAX_W``) and the manifest fields of the
layer.  Each kind's C++ call and configuration struct are the templates
``templates/firmware/layers/<kind>.call.j2`` and ``<kind>.config.j2``.  Exactly computed
activation functions name their C++ function in :data:`HLS_ACTIVATIONS`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from fpga_aware.core.activations import activation
from fpga_aware.core.fixed import FixedType
from fpga_aware.core.hardware import in_block_ram
from fpga_aware.core.ir import (
    ActivationLayer,
    ConvLayer,
    PoolingLayer,
    ReorderLayer,
    DenseLayer,
    Layer,
    LookupTable,
    ParametricReLULayer,
    ScaleShiftLayer,
    SoftmaxLayer,
    Strategy,
)
from fpga_aware.core.registry import Registry
from fpga_aware.core.schedule import distinct_rows
from fpga_aware.hls.cpp import (
    ap_type,
    bool_array,
    check_mantissas,
    index_storage,
    int_array,
    int_type,
    label,
    mantissa_storage,
    signed_bits,
)
from fpga_aware.hls.errors import ProjectDefinitionError

__all__ = ["HLS_CONTEXTS", "HLS_ACTIVATIONS", "LayerContext", "layer_context", "converted_width"]

#: One context builder per IR layer kind: ``builder(layer, ctx: LayerContext)``.
HLS_CONTEXTS: Registry[Callable[[Layer, "LayerContext"], None]] = Registry("HLS context")
#: The ``fa_layers.h`` function of each exactly computed activation (table functions share
#: ``fa::table_activation``).
HLS_ACTIVATIONS: Registry[str] = Registry("HLS activation function", key="activation function")
HLS_ACTIVATIONS.register("linear")("linear")
HLS_ACTIVATIONS.register("relu")("relu")


#: Most tables ``fa::table_read`` chains (a table and its coarser outer tables).
MAX_TABLE_CHAIN = 4

#: ap_fixed's default width limit (AP_INT_MAX_W) and the largest it may be raised to.
AP_DEFAULT_MAX_W = 1024
AP_LARGEST_MAX_W = 4096


def converted_width(width: int, integer: int, to: FixedType) -> int:
    """Width of a value of ``ap_fixed<width, integer>`` after fa::convert widens it for ``to``."""
    needed = max(1 - to.frac, 1)
    return width + max(0, needed - integer)


class LayerContext(dict):
    """The template context of one layer (a dict), with the helpers an HLS context entry uses.

    Every C++ name it defines is registered with ``names`` (so two layers cannot collide).
    ``widths`` collects the widths of the intermediate values the layer's C++ computes
    (products and sums of wide operands, the exact widenings of ``fa::convert``): the writer
    raises ``AP_INT_MAX_W`` when one exceeds ap_fixed's default of 1024 bits.  ``manifest``
    holds the layer's extra fields in ``fpga_aware_project.json``.
    """

    def __init__(self, layer: Layer, index: int, names):
        c = layer.cname
        self._names, self._owner, self._cname = names, f"layer {layer.name!r}", c
        super().__init__(
            index=index, cname=c, label=label(layer), kind=layer.kind, n_in=layer.n_in, n_out=layer.n_out,
            config=names.add(f"{c}_config", self._owner), types=[], storage=[], arrays=[], summary=[],
            schedule=None,  # a static multiplier schedule (dense layers with shared multipliers)
            graph=None,  # an adder graph (strategy='distributed_arithmetic'; graphs/<layer>.h)
            da=False,
        )
        x = layer.input_type
        self.widths: list[int] = [converted_width(x.width, x.integer, layer.result_type)]
        self.manifest: dict[str, Any] = {}
        self.add_typedef("input_t", layer.input_type.cpp())
        self.add_typedef("result_t", layer.result_type.cpp())

    def add_typedef(self, suffix: str, cpp: str) -> None:
        self["types"].append((self._names.add(f"{self._cname}_{suffix}", self._owner), cpp))

    def add_storage(self, suffix: str, types: tuple[str, str]) -> None:
        self["storage"].append((self._names.add(f"{self._cname}_{suffix}", self._owner), *types))

    def add_name(self, suffix: str) -> str:
        """A C++ name ``<cname>_<suffix>`` of this layer (a local variable of its call), registered."""
        return self._names.add(f"{self._cname}_{suffix}", self._owner)

    def add_array(self, item: dict[str, Any]) -> None:
        self._names.add(item["name"], self._owner)
        self["arrays"].append(item)


def layer_context(layer: Layer, index: int, names) -> LayerContext:
    """The template context of ``layer`` (the ``index``-th of the chain); ``names`` registers
    every C++ name (``names.add(name, owner)``)."""
    ctx = LayerContext(layer, index, names)
    HLS_CONTEXTS[layer.kind](layer, ctx)
    need = max(ctx.widths)
    if need > AP_LARGEST_MAX_W:
        raise ProjectDefinitionError(
            f"layer {layer.name!r}: its arithmetic needs {need}-bit intermediate values, more than "
            f"the {AP_LARGEST_MAX_W} bits ap_fixed allows (AP_INT_MAX_W); use narrower types"
        )
    return ctx


def _accumulator_widths(x: FixedType, w: FixedType, acc: FixedType, result: FixedType) -> list[int]:
    """Product ``x * w`` (``ap_fixed<Wx + Ww, Ix + Iw>``), sum and result conversions of a
    multiply-accumulate into ``acc``."""
    return [
        converted_width(x.width + w.width, x.integer + w.integer, acc),
        converted_width(acc.width + 1, acc.integer + 1, acc),
        converted_width(acc.width, acc.integer, result),
    ]


@HLS_CONTEXTS.register("dense")
def _dense_context(layer: DenseLayer, ctx: LayerContext) -> None:
    c = layer.cname
    for what, t in (("weight", layer.weight_type), ("bias", layer.bias_type), ("accum", layer.accum_type)):
        if not isinstance(t, FixedType):
            raise ProjectDefinitionError(f"layer {layer.name!r}: {what}_type is missing")
    weights = np.asarray(layer.weights)
    bias = np.asarray(layer.bias)
    if weights.shape != (layer.n_in, layer.n_out) or bias.shape != (layer.n_out,):
        raise ProjectDefinitionError(
            f"layer {layer.name!r}: weights {weights.shape} / bias {bias.shape} do not match "
            f"{layer.n_in} -> {layer.n_out}"
        )
    check_mantissas(weights, layer.weight_type, "weight", layer)
    check_mantissas(bias, layer.bias_type, "bias", layer)
    reuse = int(layer.reuse_factor)
    if reuse < 1:
        raise ProjectDefinitionError(f"layer {layer.name!r}: reuse_factor {reuse} must be >= 1")
    strategy = Strategy(layer.strategy)

    outs, ins, mantissas = layer.terms()
    nnz = int(len(mantissas))
    if strategy == Strategy.DISTRIBUTED_ARITHMETIC and nnz:
        return _dense_da_context(layer, ctx)
    shifts = nnz > 0 and layer.uses_shifts
    sched = layer.schedule
    lanes = nnz > 0 and not layer.fully_parallel  # the lane kernel (fa::dense_lanes_*)
    if not lanes:
        memory = "registers"
    elif strategy == Strategy.LATENCY:
        memory = "registers"  # weights are constants: an n_cycles:1 choice of constants per lane
    else:  # where the Resource strategy's weight memory lives: the cost model's rule
        memory = "bram" if in_block_ram(sched.n_cycles) else "lutram"
    ctx.update(
        nnz=nnz,
        n_weights=layer.n_in * layer.n_out,
        reuse=reuse,
        strategy=strategy.value,
        shifts=shifts,
        lanes=lanes,
        weight_memory=memory,
        n_lanes=sched.n_lanes,
        n_cycles=sched.n_cycles,
        n_registers=sched.n_registers,
    )
    ctx.manifest.update(
        nonzero_weights=layer.nonzero_weights,
        n_weights=layer.n_weights,
        reuse_factor=reuse,
        strategy=strategy.value,
        uses_shifts=bool(shifts),
        multipliers_per_cycle=layer.multipliers_per_cycle,
        schedule={key: value for key, value in sched.summary().items()} if lanes else None,
    )
    x, w, acc = layer.input_type, layer.weight_type, layer.accum_type
    ctx.widths += _accumulator_widths(x, w, acc, layer.result_type)
    if shifts:
        ctx.widths.append(converted_width(x.width + w.width + 2, x.integer + w.width + 2, acc))
    ctx.add_typedef("weight_t", layer.weight_type.cpp())
    ctx.add_typedef("bias_t", layer.bias_type.cpp())
    ctx.add_typedef("accum_t", layer.accum_type.cpp())
    ctx.add_storage("bias_bits_t", mantissa_storage(layer.bias_type))
    what = "shifts" if shifts else "multipliers"
    ctx["summary"] = [
        f"Dense {layer.n_in} -> {layer.n_out}: {nnz} nonzero weights of {layer.n_in * layer.n_out} stored "
        f"(sparsity {100.0 * (1 - nnz / (layer.n_in * layer.n_out)):.1f}%).",
        (f"Strategy {strategy.value}, reuse factor {reuse}: {sched.n_lanes} {what} lanes x {sched.n_cycles} cycles, "
         f"{sched.n_registers} accumulator registers (schedules/{c}.h)." if lanes else
         f"Strategy {strategy.value}, reuse factor 1: {nnz} {what}, every weight a constant."),
        f"weight_t {layer.weight_type.cpp()}, bias_t {layer.bias_type.cpp()}, accum_t {layer.accum_type.cpp()}.",
    ]
    if nnz:
        if lanes:
            ctx["schedule"] = _schedule_context(sched)
            slot = sched.slot()

            def stored(values: np.ndarray, fill: Any = 0) -> np.ndarray:
                out = np.full(sched.n_slots, fill, dtype=np.asarray(values).dtype)
                out[slot] = values
                return out
            order = f"{sched.n_cycles} words of {sched.n_lanes} (cycle * {sched.n_lanes} + lane; unused slots 0)"
        else:
            def stored(values: np.ndarray, fill: Any = 0) -> np.ndarray:
                return np.asarray(values)
            order = "by output then input"
            ctx.add_storage("in_index_t", index_storage(layer.n_in - 1))
            ctx.add_storage("out_index_t", index_storage(layer.n_out - 1))
        if shifts:
            _shift_terms(layer, mantissas, ctx, stored, order)
        else:
            ctx.add_storage("weight_bits_t", mantissa_storage(layer.weight_type))
            ctx.add_array(int_array(f"{c}_w", f"{c}_weight_bits_t", stored(mantissas),
                             f"{nnz} nonzero weights ({layer.weight_type.cpp()} mantissas), {order}",
                             layer.weight_type))
        if not lanes:
            ctx.add_array(int_array(f"{c}_w_in", f"{c}_in_index_t", ins, "input index of each stored weight"))
            ctx.add_array(int_array(f"{c}_w_out", f"{c}_out_index_t", outs, "output index of each stored weight"))
    ctx.add_array(int_array(f"{c}_b", f"{c}_bias_bits_t", bias, f"{layer.n_out} biases ({layer.bias_type.cpp()} mantissas)",
                     layer.bias_type))


def _dense_da_context(layer: DenseLayer, ctx: LayerContext) -> None:
    """``strategy='distributed_arithmetic'``: the layer's adder graph (:attr:`DenseLayer.adder_graph`,
    the one the Verilog writer's ``multiplier='da'`` renders too) for ``graphs/<layer>.h``, every
    node an ``ap_int`` of its width; only the biases are stored."""
    from fpga_aware.core.adder_graph import AdderGraphError, check_da_strategy

    try:
        check_da_strategy(layer)
        graph = layer.adder_graph
    except AdderGraphError as exc:
        raise ProjectDefinitionError(str(exc)) from exc
    nodes = graph["nodes"]
    read = {n["a"] for n in nodes if "op" in n} | {n["b"] for n in nodes if "op" in n}
    read |= {o["node"] for o in graph["outputs"] if o["node"] is not None}
    g = {
        "adders": graph["adders"], "depth": graph["depth"], "adder_bits": graph["adder_bits"], "ls": graph["ls"],
        "wa": graph["wa"],
        # the template's nodes: inputs no output depends on are not read
        "nodes": [{k: n[k] for k in ("k", "w", "input", "op", "a", "sa", "b", "sb") if k in n}
                  for n in nodes if "op" in n or n["k"] in read],
        "outputs": [{"node": o["node"], "shift": o["shift"], "neg": bool(o["neg"])} for o in graph["outputs"]],
        "part_size": SCHEDULE_PART,
    }
    g["parts"] = _parts([n for n in g["nodes"] if "op" in n], SCHEDULE_PART)
    acc, w = layer.accum_type, layer.weight_type
    nnz = layer.nonzero_weights
    ctx.update(nnz=nnz, n_weights=layer.n_in * layer.n_out, reuse=1, strategy=Strategy.DISTRIBUTED_ARITHMETIC.value,
               shifts=False, lanes=False, da=True, graph=g, weight_memory="registers", n_lanes=nnz, n_cycles=1,
               n_registers=layer.n_out)
    ctx.manifest.update(
        nonzero_weights=nnz, n_weights=layer.n_weights, reuse_factor=1, strategy=Strategy.DISTRIBUTED_ARITHMETIC.value,
        uses_shifts=False, multipliers_per_cycle=0, schedule=None,
        adder_graph={"adders": graph["adders"], "depth": graph["depth"], "adder_bits": graph["adder_bits"],
                     "da4ml_seconds": round(graph["seconds"], 3), "header": f"firmware/graphs/{layer.cname}.h"},
    )
    ctx.widths += [max(n["w"] for n in nodes) + 1, acc.width + 1,
                   converted_width(acc.width, acc.integer, layer.result_type),
                   converted_width(layer.bias_type.width, layer.bias_type.integer, acc)]
    ctx.add_typedef("weight_t", w.cpp())
    ctx.add_typedef("bias_t", layer.bias_type.cpp())
    ctx.add_typedef("accum_t", acc.cpp())
    ctx.add_storage("bias_bits_t", mantissa_storage(layer.bias_type))
    ctx["summary"] = [
        f"Dense {layer.n_in} -> {layer.n_out}: {nnz} nonzero weights of {layer.n_weights} "
        f"(sparsity {100.0 * (1 - nnz / layer.n_weights):.1f}%), in no memory: they are the adder graph.",
        f"Strategy distributed_arithmetic, reuse factor 1: da4ml's adder graph of {graph['adders']} adders "
        f"({graph['adder_bits']} bits), {graph['depth']} deep, no multipliers (graphs/{layer.cname}.h).",
        f"weight_t {w.cpp()}, bias_t {layer.bias_type.cpp()}, accum_t {acc.cpp()}.",
    ]
    ctx.add_array(int_array(f"{layer.cname}_b", f"{layer.cname}_bias_bits_t", np.asarray(layer.bias),
                            f"{layer.n_out} biases ({layer.bias_type.cpp()} mantissas)", layer.bias_type))


#: Most assignments in one generated function of a schedule header (g++'s optimiser is
#: quadratic in a function's memory operations; HLS inlines the parts).
SCHEDULE_PART = 64


def _parts(items: list, size: int) -> list[list]:
    return [items[i : i + size] for i in range(0, len(items), size)]


#: Lanes whose inputs form at most this many runs ``x[cycle + k]`` are wired by comparisons on
#: the cycle counter; the others by a switch over the cycles.
MAX_INPUT_RUNS = 4


def _input_runs(grid: np.ndarray) -> tuple[list[tuple[int, list[tuple[int, int, bool]]]], list[int]]:
    """Split each lane's inputs over the cycles (``grid[lane, cycle]``) into runs of consecutive
    inputs, ``x[cycle + k]``.  Returns ``(runs, switch_lanes)``: ``runs`` holds
    ``(lane, [(end_cycle, k_or_index, is_run), ...])`` for the lanes of at most
    :data:`MAX_INPUT_RUNS` runs (a run of one cycle is the constant index itself), and
    ``switch_lanes`` the others.  Either way the hardware is the same ``C``:1 choice per lane;
    runs keep the generated source (and g++'s time) proportional to lanes, not terms."""
    P, C = grid.shape
    offset = grid - np.arange(C)[None, :]
    breaks = np.ones((P, C), dtype=bool)
    breaks[:, 1:] = offset[:, 1:] != offset[:, :-1]
    n_runs = breaks.sum(axis=1)
    runs: list[tuple[int, list[tuple[int, int, bool]]]] = []
    switch_lanes: list[int] = []
    for lane in range(P):
        if n_runs[lane] > MAX_INPUT_RUNS:
            switch_lanes.append(lane)
            continue
        starts = np.flatnonzero(breaks[lane]).tolist()
        ends = starts[1:] + [C]
        pieces = [(end, int(offset[lane, start]), True) if end - start > 1 else (end, int(grid[lane, start]), False)
                  for start, end in zip(starts, ends)]
        runs.append((lane, pieces))
    return runs, switch_lanes


def _schedule_context(sched) -> dict[str, Any]:
    """What ``templates/firmware/schedule.h.j2`` writes for a lane schedule, as plain integers.

    Lanes that multiply the same input in every cycle share an input *bus* (``lane_bus[l]``);
    ``runs`` and ``select`` choose the buses' inputs: ``select[c]`` is ``(bus, input)`` for the
    switch-chosen buses in cycle ``c``, in parts of at most :data:`SCHEDULE_PART` (a lane past
    its last term repeats its last input: no new multiplexer input, and its product is not added).
    ``segments[l]``: ``(register, end_cycle)`` of lane ``l``'s output segments, in cycle order.
    ``lane_end[l]``: the cycle after lane ``l``'s last term.  ``levels``: the adder tree,
    ``(dst_is_output, dst, src_register)`` per addition, level by level.
    """
    P, C = sched.n_lanes, sched.n_cycles
    grid = np.full((P, C), -1, dtype=np.int64)
    grid[sched.lane, sched.cycle] = sched.ins
    lane_end = sched.lane_terms()
    for lane in np.flatnonzero(lane_end < C):  # repeat the last input (only the last lane)
        grid[lane, lane_end[lane]:] = grid[lane, lane_end[lane] - 1]
    # Lanes with the same inputs in every cycle share one choice (an input bus; benchmarks/input_select.py)
    lane_bus, buses = distinct_rows(grid)
    runs, in_switch = _input_runs(buses)
    select = [_parts([(bus, int(buses[bus, c])) for bus in in_switch], SCHEDULE_PART) for c in range(C)] if in_switch else []
    segments: list[list[tuple[int, int]]] = [[] for _ in range(P)]
    for r, (lane, end) in enumerate(zip(sched.register_lane.tolist(), sched.register_end.tolist())):
        segments[lane].append((r, end))
    n_out = sched.n_out
    levels = [
        [(d < n_out, d if d < n_out else d - n_out, s - n_out) for d, s in zip(dst.tolist(), src.tolist())]
        for dst, src in sched.combine_levels
    ]
    return {"runs": runs, "select": select, "lane_bus": lane_bus.tolist(), "n_buses": len(buses),
            "segments": segments, "lane_end": lane_end.tolist(), "levels": levels,
            "n_cycles": C, "n_lanes": P, "n_registers": sched.n_registers, "n_in": sched.n_in, "n_out": n_out}


def _shift_terms(layer: DenseLayer, mantissas: np.ndarray, ctx: LayerContext,
                 stored: Callable[..., np.ndarray], order: str) -> None:
    """Weights +-2**e: store e - e_min and the sign; define the exact product types."""
    c = layer.cname
    x = layer.input_type
    powers = np.array([abs(int(m)).bit_length() - 1 for m in mantissas], dtype=np.int64)
    exponents = powers - layer.weight_type.frac  # weight = +-2**exponent
    e_min, e_max = int(exponents.min()), int(exponents.max())
    span = e_max - e_min
    # x * 2**e for every e in [e_min, e_max], negated: frac = x.frac - e_min, one sign bit more.
    prod_width = x.width + span + 1
    prod_frac = x.frac - e_min
    ctx.add_typedef("shift_base_t", ap_type(x.width, x.width - prod_frac, x.signed))
    ctx.add_typedef("shift_prod_t", ap_type(prod_width, prod_width - prod_frac, True))
    ctx.add_storage("shift_bits_t", index_storage(span))
    ctx.add_array(int_array(f"{c}_w_shift", f"{c}_shift_bits_t", stored(exponents - e_min),
                     f"{len(mantissas)} nonzero weights +-2^e as e - ({e_min}), {order}"))
    ctx.add_array(bool_array(f"{c}_w_neg", stored(mantissas < 0, False), f"sign of each stored weight (true: negative), {order}"))
    ctx["summary"].append(f"All nonzero weights are +-2^e, e in [{e_min}, {e_max}]: shifts, no multipliers.")


def _table_context(table: LookupTable, indexed: FixedType, layer: Layer, what: str) -> dict[str, Any]:
    if not isinstance(table, LookupTable):
        raise ProjectDefinitionError(f"layer {layer.name!r}: {what} table is missing")
    shift, offset, size = int(table.shift), int(table.offset), table.size
    if shift < 0:
        raise ProjectDefinitionError(f"layer {layer.name!r}: {what} table shift {shift} must be >= 0")
    if size < 1:
        raise ProjectDefinitionError(f"layer {layer.name!r}: {what} table is empty")
    check_mantissas(table.values, table.value_type, f"{what} table", layer)
    lo, hi = indexed.min_mantissa, indexed.max_mantissa
    extremes = [lo, hi, (lo >> shift) - offset, (hi >> shift) - offset, offset, size - 1, 0]
    return {
        "raw_t": int_type(indexed.width, indexed.signed),
        "calc_t": int_type(max(signed_bits(v) for v in extremes), True),
        "shift": shift,
        "offset": offset,
        "size": size,
    }


@HLS_CONTEXTS.register("activation")
def _activation_context(layer: ActivationLayer, ctx: LayerContext) -> None:
    function = layer.function
    try:
        uses_table = activation(function).uses_table
    except KeyError as err:
        raise ProjectDefinitionError(f"layer {layer.name!r}: {err.args[0]}") from None
    if layer.n_in != layer.n_out:
        raise ProjectDefinitionError(f"layer {layer.name!r}: an activation keeps its size")
    ctx["table"] = ctx["linear"] = None
    if not uses_table:
        ctx["function"] = HLS_ACTIVATIONS[function]
        return
    ctx["function"] = function
    table = layer.table
    if not isinstance(table, LookupTable):
        raise ProjectDefinitionError(f"layer {layer.name!r}: {function} table is missing")
    chain = table.chain
    if len(chain) > MAX_TABLE_CHAIN:
        raise ProjectDefinitionError(f"layer {layer.name!r}: {len(chain)} chained tables, fa::table_read reads "
                                     f"at most {MAX_TABLE_CHAIN}")
    if any(t.value_type != table.value_type for t in chain):
        raise ProjectDefinitionError(f"layer {layer.name!r}: chained tables of different value types")
    levels, base = [], 0
    for t in chain:  # one array: the tables one after another, finest first
        levels.append({**_table_context(t, layer.input_type, layer, function), "base": base})
        base += t.size
    ctx["table"] = levels[0]
    ctx["tables"] = levels + [levels[-1]] * (MAX_TABLE_CHAIN - len(levels))  # unused: the last again
    ctx["n_tables"] = len(levels)
    ctx.add_typedef("table_t", table.value_type.cpp())
    ctx.add_storage("table_bits_t", mantissa_storage(table.value_type))
    values = np.concatenate([np.asarray(t.values) for t in chain])
    ctx["table_entries"] = int(len(values))
    reads = "; ".join(f"entries {lv['base']}..{lv['base'] + lv['size'] - 1}: index (raw >> {lv['shift']}) - "
                      f"({lv['offset']})" for lv in levels)
    ctx.add_array(int_array(f"{layer.cname}_table", f"{layer.cname}_table_bits_t", values,
                     f"{function} table: {len(values)} entries ({table.value_type.cpp()} mantissas); {reads}; "
                     f"the first table whose index is in range, else the last one clipped", table.value_type))
    ctx["summary"] = [f"{function} by table lookup, {len(values)} entries in {len(levels)} table(s)."]
    tail = layer.linear
    if tail is not None:
        x = layer.input_type
        if not x.min_mantissa <= tail.threshold <= x.max_mantissa or signed_bits(tail.threshold) > 64:
            raise ProjectDefinitionError(f"layer {layer.name!r}: linear threshold {tail.threshold} is not a "
                                         f"64-bit mantissa of {x.cpp()}")
        check_mantissas(np.array([tail.slope], dtype=object), tail.slope_type, "slope", layer)
        s = tail.slope_type
        ctx["linear"] = {"threshold": int(tail.threshold)}
        ctx.widths.append(converted_width(x.width + s.width, x.integer + s.integer, layer.result_type))
        ctx.add_typedef("slope_t", s.cpp())
        ctx.add_storage("slope_bits_t", mantissa_storage(s))
        ctx.add_array(int_array(f"{layer.cname}_slope", f"{layer.cname}_slope_bits_t", np.array([tail.slope], dtype=object),
                                f"slope of the linear part ({s.cpp()} mantissa, {tail.slope_value!r})", s))
        ctx["summary"].append(f"Linear for raw input >= {tail.threshold}: y = result_t(x * {tail.slope_value!r}).")
    if tail is not None or len(levels) > 1 or layer.parameters:  # sigmoid/tanh manifests stay as they were
        ctx.manifest.update(table_entries=int(len(values)), tables=len(levels),
                            linear_threshold=None if tail is None else int(tail.threshold),
                            parameters=dict(layer.parameters))


@HLS_CONTEXTS.register("softmax")
def _softmax_context(layer: SoftmaxLayer, ctx: LayerContext) -> None:
    c = layer.cname
    ctx["exp_table"] = _table_context(layer.exp_table, layer.diff_type, layer, "exp")
    ctx["inv_table"] = _table_context(layer.inv_table, layer.sum_type, layer, "1/x")
    ctx.add_typedef("diff_t", layer.diff_type.cpp())
    ctx.add_typedef("exp_t", layer.exp_type.cpp())
    ctx.add_typedef("sum_t", layer.sum_type.cpp())
    ctx.add_typedef("inv_t", layer.inv_type.cpp())
    ctx.add_storage("exp_bits_t", mantissa_storage(layer.exp_type))
    ctx.add_storage("inv_bits_t", mantissa_storage(layer.inv_type))
    for name, table, ctype in (("exp", layer.exp_table, "exp_bits_t"), ("inv", layer.inv_table, "inv_bits_t")):
        ctx.add_array(int_array(f"{c}_{name}_table", f"{c}_{ctype}", table.values,
                         f"{'exp(d)' if name == 'exp' else '1/s'} table: {table.size} entries "
                         f"({table.value_type.cpp()} mantissas), index clip((raw >> {table.shift}) - "
                         f"({table.offset}), 0, {table.size - 1})", table.value_type))
    ctx["summary"] = [f"Argmax-preserving softmax over {layer.n_out} values."]


@HLS_CONTEXTS.register("scale_shift")
def _scale_shift_context(layer: ScaleShiftLayer, ctx: LayerContext) -> None:
    c = layer.cname
    scale, shift = np.asarray(layer.scale), np.asarray(layer.shift)
    if scale.shape != (layer.n_out,) or shift.shape != (layer.n_out,) or layer.n_in != layer.n_out:
        raise ProjectDefinitionError(f"layer {layer.name!r}: scale/shift must have {layer.n_out} entries")
    check_mantissas(scale, layer.scale_type, "scale", layer)
    check_mantissas(shift, layer.shift_type, "shift", layer)
    ctx.widths += _accumulator_widths(layer.input_type, layer.scale_type, layer.accum_type, layer.result_type)
    ctx.add_typedef("scale_t", layer.scale_type.cpp())
    ctx.add_typedef("shift_t", layer.shift_type.cpp())
    ctx.add_typedef("accum_t", layer.accum_type.cpp())
    ctx.add_storage("scale_bits_t", mantissa_storage(layer.scale_type))
    ctx.add_storage("shift_bits_t", mantissa_storage(layer.shift_type))
    ctx.add_array(int_array(f"{c}_scale", f"{c}_scale_bits_t", scale, f"scale ({layer.scale_type.cpp()} mantissas)",
                     layer.scale_type))
    ctx.add_array(int_array(f"{c}_shift", f"{c}_shift_bits_t", shift, f"shift ({layer.shift_type.cpp()} mantissas)",
                     layer.shift_type))
    ctx["summary"] = [f"Per-channel scale and shift over {layer.n_out} channels."]


@HLS_CONTEXTS.register("step")
def _step_context(layer, ctx: LayerContext) -> None:
    c = layer.cname
    thresholds, levels = np.asarray(layer.thresholds), np.asarray(layer.levels)
    if thresholds.ndim != 1 or thresholds.size < 1 or levels.shape != (thresholds.size + 1,):
        raise ProjectDefinitionError(f"layer {layer.name!r}: a step needs thresholds and one level more")
    if layer.n_in != layer.n_out:
        raise ProjectDefinitionError(f"layer {layer.name!r}: a step keeps its size")
    check_mantissas(thresholds, layer.input_type, "threshold", layer)
    check_mantissas(levels, layer.result_type, "level", layer)
    ctx["n_thresholds"] = int(thresholds.size)
    ctx.add_storage("threshold_bits_t", mantissa_storage(layer.input_type))
    ctx.add_storage("level_bits_t", mantissa_storage(layer.result_type))
    ctx.add_array(int_array(f"{c}_thresholds", f"{c}_threshold_bits_t", thresholds,
                            f"{thresholds.size} ascending thresholds ({layer.input_type.cpp()} mantissas)",
                            layer.input_type))
    ctx.add_array(int_array(f"{c}_levels", f"{c}_level_bits_t", levels,
                            f"{levels.size} levels ({layer.result_type.cpp()} mantissas)", layer.result_type))
    ctx.manifest.update(function=layer.function, n_thresholds=int(thresholds.size))
    ctx["summary"] = [f"{layer.function}: {thresholds.size} threshold(s), {levels.size} levels."]


@HLS_CONTEXTS.register("parametric_relu")
def _parametric_relu_context(layer: ParametricReLULayer, ctx: LayerContext) -> None:
    """``alpha_t``, ``negative_t`` (the exact product type when the IR has none: the conversion is then
    the identity) and ``threshold_t`` (the input's LSB, one bit wider: holds ``[min - 1, max]``)."""
    c = layer.cname
    x, a, result = layer.input_type, layer.alpha_type, layer.result_type
    if not isinstance(a, FixedType):
        raise ProjectDefinitionError(f"layer {layer.name!r}: alpha_type is missing")
    alpha = np.asarray(layer.alpha)
    if alpha.shape != (layer.n_out,) or layer.n_in != layer.n_out:
        raise ProjectDefinitionError(f"layer {layer.name!r}: alpha must have {layer.n_out} entries")
    check_mantissas(alpha, a, "alpha", layer)
    threshold = int(layer.threshold)
    if not x.min_mantissa - 1 <= threshold <= x.max_mantissa:
        raise ProjectDefinitionError(
            f"layer {layer.name!r}: threshold {threshold} lies outside [{x.min_mantissa - 1}, {x.max_mantissa}]")
    if x.width + 1 > 1024:
        raise ProjectDefinitionError(f"layer {layer.name!r}: a {x.width}-bit input leaves no room for its threshold")
    threshold_t = FixedType(x.width + 1, x.integer + 1, True)
    prod_w, prod_i, prod_s = x.width + a.width, x.integer + a.integer, x.signed or a.signed
    negative = layer.negative_type
    negative_cpp = negative.cpp() if negative is not None else ap_type(prod_w, prod_i, prod_s)
    neg_w, neg_i = (negative.width, negative.integer) if negative is not None else (prod_w, prod_i)
    neg_frac = neg_w - neg_i
    ctx.widths += [prod_w, prod_w + max(0, max(1 - neg_frac, 1) - prod_i),  # the product and fa::convert's widening
                   converted_width(neg_w, neg_i, result), threshold_t.width]
    ctx.add_typedef("alpha_t", a.cpp())
    ctx.add_typedef("negative_t", negative_cpp)
    ctx.add_typedef("threshold_t", threshold_t.cpp())
    ctx.add_storage("alpha_bits_t", mantissa_storage(a))
    ctx.add_storage("threshold_bits_t", mantissa_storage(threshold_t))
    ctx.add_array(int_array(f"{c}_alpha", f"{c}_alpha_bits_t", alpha,
                            f"{layer.n_out} slopes ({a.cpp()} mantissas), one per channel", a))
    ctx.add_array(int_array(f"{c}_threshold", f"{c}_threshold_bits_t", np.array([threshold], dtype=object),
                            f"threshold ({threshold_t.cpp()} mantissa): x > threshold takes y = x", threshold_t))
    n_slopes = len({int(v) for v in alpha.tolist()})
    ctx.manifest.update(threshold=threshold, distinct_slopes=n_slopes)
    ctx["summary"] = [
        f"Parametric ReLU over {layer.n_out} values: y = x > {layer.threshold_value!r} ? x : alpha * x "
        f"({n_slopes} distinct slope{'s' if n_slopes != 1 else ''}, alpha_t {a.cpp()}, negative_t {negative_cpp}).",
    ]


# ---------------------------------------------------------------------------- windowed kinds
@HLS_CONTEXTS.register("conv")
def _conv_context(layer: ConvLayer, ctx: LayerContext) -> None:
    """The per-pixel product's dense context (the same typedefs, arrays and schedule under the
    layer's name) plus the patch index table of :mod:`fpga_aware.core.windows`."""
    product = layer.product
    patch = np.asarray(layer.patch)
    if not isinstance(product, DenseLayer) or patch.ndim != 2 or patch.shape[1] != product.n_in:
        raise ProjectDefinitionError(f"layer {layer.name!r}: patch {patch.shape} does not match its product")
    if layer.n_out != patch.shape[0] * product.n_out:
        raise ProjectDefinitionError(f"layer {layer.name!r}: {patch.shape[0]} pixels x {product.n_out} filters "
                                     f"!= {layer.n_out} outputs")
    if patch.size and (patch.min() < 0 or patch.max() > layer.n_in):
        raise ProjectDefinitionError(f"layer {layer.name!r}: patch indices outside [0, {layer.n_in}]")
    if product.cname != layer.cname or product.input_type != layer.input_type \
            or product.result_type != layer.result_type:
        raise ProjectDefinitionError(f"layer {layer.name!r}: its product must share its name and types")
    _dense_context(product, ctx)
    c = layer.cname
    n_pixels, n_patch = patch.shape
    ctx.update(n_pixels=n_pixels, n_patch=n_patch, filters=product.n_out,
               patch_x=ctx.add_name("patch_x"), pixel_y=ctx.add_name("pixel_y"))
    ctx.add_storage("patch_index_t", index_storage(layer.n_in))
    ctx.add_array(int_array(f"{c}_patch", f"{c}_patch_index_t", patch.ravel(),
                            f"{n_pixels} output pixels x {n_patch} receptive-field inputs (tap * C_in + c): the "
                            f"input index of each, {layer.n_in} for a padding cell (the value 0)"))
    dense_summary = ctx["summary"]
    ctx["summary"] = [
        f"{layer.keras_class} {layer.in_shape} -> {layer.out_shape}: kernel {layer.kernel_size}, strides "
        f"{layer.strides}, dilation {layer.dilation}, padding {layer.padding!r}; the dense product below per "
        f"output pixel ({n_pixels} pixels).", *dense_summary]
    ctx.manifest.update(n_pixels=n_pixels, patch_size=n_patch, filters=product.n_out,
                        kernel_size=list(layer.kernel_size), strides=list(layer.strides),
                        dilation=list(layer.dilation), padding=layer.padding,
                        in_shape=list(layer.in_shape), out_shape=list(layer.out_shape))


@HLS_CONTEXTS.register("pooling")
def _pooling_context(layer: PoolingLayer, ctx: LayerContext) -> None:
    c = layer.cname
    windows, counts = np.asarray(layer.windows), np.asarray(layer.counts)
    channels = int(layer.channels)
    n_spatial = layer.n_in // channels if channels else 0
    if channels < 1 or n_spatial * channels != layer.n_in or windows.ndim != 2 \
            or layer.n_out != windows.shape[0] * channels or counts.shape != (windows.shape[0],):
        raise ProjectDefinitionError(f"layer {layer.name!r}: windows {windows.shape} / counts {counts.shape} do "
                                     f"not match {layer.n_in} -> {layer.n_out} over {channels} channels")
    if windows.size and (windows.min() < -1 or windows.max() >= n_spatial) or np.any(counts < 1):
        raise ProjectDefinitionError(f"layer {layer.name!r}: window positions outside the input, or an empty window")
    if layer.operation not in ("max", "average"):
        raise ProjectDefinitionError(f"layer {layer.name!r}: pooling operation {layer.operation!r}")
    n_pixels, n_window = windows.shape
    ctx.update(operation=layer.operation, n_pixels=n_pixels, n_window=n_window, channels=channels,
               n_spatial=n_spatial)
    ctx.add_storage("window_index_t", index_storage(n_spatial))
    ctx.add_array(int_array(f"{c}_windows", f"{c}_window_index_t", np.where(windows >= 0, windows, n_spatial).ravel(),
                            f"{n_pixels} output pixels x {n_window} window cells: the input position of each "
                            f"({n_spatial} for a padding cell, ignored)"))
    x = layer.input_type
    if layer.operation == "average":
        t = layer.sum_type
        if not isinstance(t, FixedType) or t.frac != x.frac:
            raise ProjectDefinitionError(f"layer {layer.name!r}: average pooling needs a sum type with the input's LSB")
        ctx.add_typedef("sum_t", t.cpp())
        ctx.add_storage("count_t", index_storage(int(counts.max())))
        ctx.add_array(int_array(f"{c}_counts", f"{c}_count_t", counts,
                                "cells of each window that are not padding (the divisor)"))
        ctx.widths += [t.width + 33, converted_width(t.width, t.integer, layer.result_type)]
    else:
        ctx.widths.append(converted_width(x.width, x.integer, layer.result_type))
    ctx.manifest.update(operation=layer.operation, n_pixels=n_pixels, window=n_window, channels=channels,
                        pool_size=list(layer.pool_size), strides=list(layer.strides), padding=layer.padding)
    ctx["summary"] = [f"{layer.keras_class} {layer.in_shape} -> {layer.out_shape}: {layer.operation} over "
                      f"windows of {n_window} cells, {n_pixels} output pixels x {channels} channels."]


@HLS_CONTEXTS.register("reorder")
def _reorder_context(layer: ReorderLayer, ctx: LayerContext) -> None:
    source = np.asarray(layer.source)
    if source.shape != (layer.n_out,) or (source.size and (source.min() < 0 or source.max() > layer.n_in)):
        raise ProjectDefinitionError(f"layer {layer.name!r}: source must hold {layer.n_out} indices in [0, {layer.n_in}]")
    if layer.result_type != layer.input_type:
        raise ProjectDefinitionError(f"layer {layer.name!r}: a reorder keeps its type")
    c = layer.cname
    ctx.add_storage("source_index_t", index_storage(layer.n_in))
    ctx.add_array(int_array(f"{c}_source", f"{c}_source_index_t", source,
                            f"input index of each of the {layer.n_out} outputs ({layer.n_in}: a padding zero)"))
    ctx.manifest.update(in_shape=list(layer.in_shape), out_shape=list(layer.out_shape))
    ctx["summary"] = [f"{layer.keras_class} {layer.in_shape} -> {layer.out_shape}: a reorder (wiring)."]
