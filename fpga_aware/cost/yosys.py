"""``estimate(..., tool='yosys')``: what Yosys' ``synth_xilinx`` reports for the Verilog backend.

The estimate reads the same per-layer Verilog contexts the writer renders
(:func:`fpga_aware.rtl.layers.layer_context`: products, adder program, lanes, buses), so it
counts the hardware that is written, not a model of it:

* **DSP** -- exact rules of Yosys 0.23's ``mul2dsp``: a constant product ``x * c`` is a DSP48
  unless ``c = +-2**k`` (a shift; a negative one a negation) or the product, after ``wreduce``
  drops ``c``'s trailing zeros and redundant sign bits, is narrower than 9 bits
  (:func:`constant_product_on_dsp`); a lane's product (input and weight both chosen by the
  cycle) is a DSP when its operands make at least 9 bits.
* **FF** -- the registers the RTL declares: every layer's output register and valid bit (the
  top), and for a lane layer its captured input, cycle counter, control bits and accumulator
  registers; less the bits Yosys removes: those the next layer does not read
  (:data:`BITS_READ`) and an exact activation's constant bits.
* **LUT** -- a linear combination of bit counts per structure (adder bits of the ``fa_add``
  instances, LUT-built constant products by their nonzero signed digits, negations, ReLU bits,
  the lanes' bus multiplexers and weight choices, accumulators).  The coefficients
  (:data:`LUT_PER`) are fitted by non-negative least squares on the fit split of
  ``benchmarks/data/yosys_calibration.json`` (``benchmarks/yosys_calibration.py``; every fourth
  design is held out) and validated on the rest (``tests/test_cost_yosys.py``,
  ``docs/cost_model.md``).
* **Convolutions** -- the dense rules above once per output pixel on the per-pixel product
  (:func:`_conv_features`: a padding cell is a constant input, so its products are removed),
  which is how the writer instantiates it; **pooling** (comparison trees, or adder trees and a
  constant-reciprocal division) and **reorders** (wiring: output registers only) by the
  uncalibrated rules below.
* **Tables and comparisons** (table activations, softmax, scale/shift, step, parametric ReLU)
  -- an uncalibrated physical estimate (:data:`UNCALIBRATED_LUT_PER`): a ROM's entries times
  its varying bits at 32 per LUT (a LUT6 holds one output bit of 64 entries, and about as many
  LUTs again join them), a comparison or a 2:1 choice at half a LUT per bit; their adders and
  constant products count as the dense layers' do.  Checked on two designs only (a dense,
  sigmoid and softmax with 64-entry tables: 1,900 LUT estimated, 2,032 measured, DSP 32 both;
  the jet tagger's softmax at table size 1,024: 12,473 estimated, 10,245 measured; a smooth
  table alone, sigmoid, is about half its estimate); not fitted.

Figures hold for the Yosys version named in :data:`YOSYS_VERSION` (Debian bookworm's 0.23);
other versions differ by ~20 % in LUTs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fpga_aware.core.config import DEFAULT_CLOCK_PERIOD, FirmwareConfig
from fpga_aware.core.fixed import Overflow, Rounding
from fpga_aware.core.ir import ActivationLayer, ConvLayer, DenseLayer, InputLayer, Layer, ModelIR, PoolingLayer, ReorderLayer
from fpga_aware.core.parts import get_part
from fpga_aware.core.registry import Registry
from fpga_aware.cost.model import CostReport, LayerCost
from fpga_aware.rtl.layers import RTLOptions, UnsupportedRTLError, layer_context
from fpga_aware.rtl.writer import layer_latency
from fpga_aware.rtl.mapping import DSP_MIN_PRODUCT_BITS, constant_product_on_dsp, naf_digits as _naf_digits, odd_part as _odd_part

__all__ = ["YOSYS_VERSION", "YOSYS_FEATURES", "BITS_READ", "bits_read_by", "LUT_PER", "UNCALIBRATED_LUT_PER", "constant_product_on_dsp", "layer_features", "estimate_yosys"]

#: The Yosys the coefficients were fitted with (``synth_xilinx -family xcup -flatten -noiopad``).
YOSYS_VERSION = "Yosys 0.23 (Debian bookworm)"

#: LUTs per unit of each feature (:func:`layer_features`), fitted by
#: ``benchmarks/yosys_calibration.py --fit`` on the fit split (see the module docstring).
LUT_PER: dict[str, float] = {
    "adder_bits": 0.988,  # an fa_add of W bits is W LUT2 (and W/4 CARRY4)
    "soft_product_bits": 0.967,
    "negation_bits": 0.0,
    "relu_bits": 0.117,
    "bus_mux_bits": 0.435,
    "weight_choice_bits": 0.271,
    "accumulator_bits": 0.986,
    "lane_soft_product_bits": 0.0,
}

#: LUTs per unit of the features of table and comparison layers: physical estimates, not fitted
#: (``benchmarks/yosys_calibration.py`` has no such designs).
UNCALIBRATED_LUT_PER: dict[str, float] = {
    # a LUT6 holds one output bit of 64 entries, and about as many LUTs again join them
    # (Yosys 0.23 xcup, whole softmax layers: 5 x 256-entry exp ROMs 15 % under, 5 x 4,096 22 % over)
    "rom_bits": 1 / 32,
    "compare_bits": 0.5,  # a magnitude comparison on the carry chain
    "choice_bits": 0.5,  # a 2:1 multiplexer per bit (two per dual-output LUT6)
}

#: Per layer kind: ``features(layer, ctx) -> (dsp, ff, {feature: amount})``.
YOSYS_FEATURES: Registry[Callable[[Layer, dict], tuple[int, int, dict[str, float]]]] = Registry("Yosys cost")


def _signed_bits(value: int) -> int:
    """Bits of ``value`` as a signed number (its sign bit included)."""
    return (value.bit_length() if value >= 0 else (-value - 1).bit_length()) + 1


def _adds(program) -> int:
    return sum(len(step) for step in program)


def _da_features(layer: DenseLayer, ctx: dict, used_out: np.ndarray,
                 add_width: int) -> tuple[int, int, dict[str, float], np.ndarray]:
    """multiplier='da' (:mod:`fpga_aware.rtl.da`): no DSP; da4ml's adder graph as written (each
    node's adder over the bits above its free low part), a negation per negated output, a bias
    adder per nonzero bias; one register per kept output."""
    graph_bits = sum(n["w"] - n["low"] for n in ctx["da_nodes"] if "input" not in n)
    constant_out = np.array([r["zero"] for r in ctx["da_reads"]], dtype=bool)  # the bias alone: a constant
    kept = ~constant_out & used_out
    negations = sum(ctx["wa"] for r in ctx["da_reads"] if r["neg"] and kept[r["o"]])
    biases = int(np.count_nonzero(np.asarray(ctx["bias_bits"], dtype=object)[kept] != 0))
    features = {"adder_bits": float(graph_bits + negations + biases * add_width)}
    ff = int(np.count_nonzero(kept)) * _output_register_bits(ctx) + 1
    ff += sum(g["w"] for g in ctx["da_registers"] if kept[g["outs"]].any()) + ctx["stages"]  # the pipeline
    return 0, ff, features, constant_out


@YOSYS_FEATURES.register("dense")
def _dense_features(layer: DenseLayer, ctx: dict, constant_in: np.ndarray,
                    used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    wx, x_signed, wa = ctx["wx"], ctx["x_signed"], ctx["wa"]
    add_width = wa if ctx["modular"] else wa + 1
    dsp = 0
    if ctx.get("multiplier") == "da":
        return _da_features(layer, ctx, used_out, add_width)
    if not ctx["sequential"]:
        # Yosys merges equal products: one per (input, odd part of the constant); a product of a
        # constant input is a constant; an output nothing reads is removed with its logic
        live = [t for t in ctx["terms"] if not constant_in[t["i"]]]
        constant_out = np.ones(layer.n_out, dtype=bool)
        constant_out[[t["o"] for t in live]] = False
        kept = ~constant_out & used_out
        live = [t for t in live if kept[t["o"]]]
        terms_per_output = np.bincount([t["o"] for t in ctx["terms"]], minlength=layer.n_out)
        features = {"adder_bits": float(terms_per_output[kept].sum() * add_width)}
        on_dsp, soft, negated = set(), {}, {}
        for term in _built_products(ctx, live):
            m = term["w"]
            odd, shift = _odd_part(m)
            if constant_product_on_dsp(m, wx, x_signed):
                on_dsp.add((term["i"], m))
            elif abs(odd) == 1:
                if m < 0:
                    negated[term["i"]] = wx + 1
            else:
                soft[(term["i"], odd)] = (_naf_digits(odd) - 1) * (wx + (0 if x_signed else 1) + _signed_bits(odd))
        dsp = len(on_dsp)
        features.update(soft_product_bits=float(sum(soft.values())), negation_bits=float(sum(negated.values())))
        ff = int(np.count_nonzero(kept)) * _output_register_bits(ctx) + 1  # the top's output register (constants, unread removed)
        ff += _pipeline_ff(ctx, {t["k"] for t in live})
        return dsp, ff, features, constant_out
    # lanes: one product per lane, inputs from buses, weights chosen by the cycle counter.
    # Yosys removes what only unread outputs need: their registers (and the adders into them),
    # their final adds, the lanes that feed nothing else, and those lanes' input multiplexers
    sched = layer.schedule
    kept_out = used_out.copy()
    kept_out[np.setdiff1d(np.arange(layer.n_out), sched.register_out)] = False
    kept_registers = kept_out[sched.register_out]
    # the final adder tree adds each output's registers to its bias: one add per register
    final_adds = int(sched.output_registers()[kept_out].sum())
    features = {"adder_bits": float(final_adds * add_width)}
    a = wx + 1
    live_lanes = [lane for lane in ctx["lanes"] if any(kept_registers[r] for r, _ in lane["segments"])]
    live_sources = {lane["source"] for lane in live_lanes}
    bus_mux = sum((len({i for _, i in src["cases"]}) - 1) * a for src in ctx["sources"] if src["source"] in live_sources)
    choice_scale = max(1.0, 2.0 ** (ctx["counter_width"] - 6))  # a LUT6 per weight bit up to 64 cycles
    weight_choice = lane_soft = 0.0
    for lane in live_lanes:
        weights = [w for _, w in lane["weights"]]
        b = max(_signed_bits(w) for w in weights)
        if a + b >= DSP_MIN_PRODUCT_BITS:
            dsp += 1
        else:
            lane_soft += a * b
        if len(set(weights)) > 1:
            weight_choice += b * choice_scale
    n_registers = int(np.count_nonzero(kept_registers))
    accumulators = n_registers * wa
    features.update(bus_mux_bits=float(bus_mux), weight_choice_bits=weight_choice,
                    accumulator_bits=float(accumulators), lane_soft_product_bits=lane_soft)
    constant_out = ~np.isin(np.arange(layer.n_out), sched.register_out)
    ff = int(np.count_nonzero(kept_out)) * _output_register_bits(ctx) + 1
    # the captured input (the inputs a live lane reads; all of them where the copy rotates),
    # the live accumulators, the cycle counter, busy and done
    if ctx["input_select"] == "rotate":
        read = layer.n_in
    else:
        read = len({i for src in ctx["sources"] if src["source"] in live_sources for _, i in src["cases"]})
    ff += read * wx + accumulators + ctx["counter_width"] + 2
    return dsp, ff, features, constant_out


def _built_products(ctx: dict, live: list[dict]) -> list[dict]:
    """The products Yosys builds: every live term's, or where the products are registered
    (:mod:`fpga_aware.rtl.pipeline`), the one each store is loaded from (values with equal stored
    bits share a store, and the products only they read are removed)."""
    if 0 not in ctx.get("cuts", {}):
        return live
    live_k = {t["k"] for t in live}
    by_k = {t["k"]: t for t in ctx["terms"]}
    return [by_k[int(s["source"][1:])] for s in ctx["cuts"][0]["stores"] if live_k.intersection(s["terms"])]


def _pipeline_ff(ctx: dict, live_terms: set[int]) -> int:
    """The pipeline registers inside a fully parallel layer (:mod:`fpga_aware.rtl.pipeline`):
    the stored bits of every store that a live term feeds, and the valid bit of each stage."""
    stored = sum(store["sw"] for cut in ctx.get("cuts", {}).values() for store in cut["stores"]
                 if live_terms.intersection(store["terms"]))
    return stored + ctx.get("stages", 0)


def _constant_product(m: int, x_width: int, x_signed: bool) -> tuple[int, dict[str, float]]:
    """``(dsp, features)`` of one constant product ``x * m`` (the dense rule's, one product)."""
    odd, _ = _odd_part(int(m)) if m else (0, 0)
    if m == 0:
        return 0, {}
    if constant_product_on_dsp(m, x_width, x_signed):
        return 1, {}
    if abs(odd) == 1:
        return 0, {"negation_bits": float(x_width + 1) if m < 0 else 0.0}
    return 0, {"soft_product_bits": float((_naf_digits(odd) - 1) * (x_width + (0 if x_signed else 1) + _signed_bits(odd)))}


def _dsp_tiles(a: int, b: int) -> int:
    """DSP48E2s of a product of two variable signed operands of ``a`` and ``b`` bits: mul2dsp
    splits it into 27 x 18 tiles (softmax's 19 x 19-bit e * r: two, as measured)."""
    wide, narrow = max(a, b), min(a, b)
    return -(-wide // 27) * -(-narrow // 18)


def _add_features(total: dict[str, float], more: dict[str, float], times: float = 1.0) -> dict[str, float]:
    for key, value in more.items():
        total[key] = total.get(key, 0.0) + value * times
    return total


def _table_read_features(read: dict) -> dict[str, float]:
    """One read of a table chain (fpga_aware.rtl.tables): its ROMs (entries times the bits that
    vary), the index clip of each table (two comparisons) and the choice among the tables."""
    bits = sum(t["size"] * _varying_bits(t["values"]) for t in read["chain"])
    compare = sum(2 * t["qw"] for t in read["chain"])
    return {"rom_bits": float(bits), "compare_bits": float(compare),
            "choice_bits": float((len(read["chain"]) - 1) * read["vw"])}


def _elementwise(layer: Layer, ctx: dict, constant_in: np.ndarray, used_out: np.ndarray, dsp: int,
                 per_value: dict[str, float], ff_bits: int | None = None) -> tuple[int, int, dict[str, float], np.ndarray]:
    """An element-wise layer: ``per_value`` features for each live value, the output register
    (``ff_bits`` of each value, default all: Yosys removes the bits that are constant)."""
    live = int(np.count_nonzero(~constant_in & used_out))
    features = {key: value * live for key, value in per_value.items()}
    bits = _output_register_bits(ctx) if ff_bits is None else min(ff_bits, _output_register_bits(ctx))
    return dsp, live * bits + 1, features, constant_in.copy()


def _varying_bits(values: list[int]) -> int:
    """Bits that differ between the entries of a table (the others are constants to Yosys)."""
    varying = 0
    for v in values:
        varying |= v ^ values[0]
    return bin(varying).count("1")


def _live(constant_in: np.ndarray, used_out: np.ndarray) -> np.ndarray:
    return ~constant_in & used_out


@YOSYS_FEATURES.register("activation")
def _activation_features(layer: ActivationLayer, ctx: dict, constant_in: np.ndarray,
                         used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    if ctx["table"] is None:
        return _elementwise(layer, ctx, constant_in, used_out, 0,
                            {"relu_bits": float(ctx["wy"]) if ctx["function"] == "relu" else 0.0},
                            _activation_bits_varying(layer))
    per_value = _table_read_features(ctx["table"])
    tail = ctx["linear"]
    dsp = 0
    if tail is not None:  # the product, the threshold comparison, the choice
        dsp, product = _constant_product(tail["slope"], ctx["wx"], ctx["x_signed"])
        dsp *= int(np.count_nonzero(_live(constant_in, used_out)))
        _add_features(per_value, {**product, "compare_bits": float(tail["cw"]), "choice_bits": float(ctx["wy"])})
    ff_bits = ctx["wy"] if tail is not None else _varying_bits([v for t in ctx["table"]["chain"] for v in t["values"]])
    return _elementwise(layer, ctx, constant_in, used_out, dsp, per_value, ff_bits)


@YOSYS_FEATURES.register("softmax")
def _softmax_features(layer: Layer, ctx: dict, constant_in: np.ndarray,
                      used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    """The max tree, n subtractions, n exp ROMs, n additions, one 1/x ROM, n products (every
    output reads every input: nothing is removed unless every input is constant)."""
    n, xw = layer.n_in, ctx["xw"]
    features = {"compare_bits": float((n - 1) * xw), "choice_bits": float((n - 1) * xw),
                "adder_bits": float(n * (xw + 1) + n * ctx["sw"])}
    _add_features(features, _table_read_features(ctx["exp"]), n)
    _add_features(features, _table_read_features(ctx["inv"]))
    a, b = ctx["we"] + 1, ctx["wr"] + 1  # e_i * r: two variable (signed-extended) operands
    if a + b >= DSP_MIN_PRODUCT_BITS:
        dsp = n * _dsp_tiles(a, b)
    else:
        dsp, features["soft_product_bits"] = 0, float(n * a * b)
    constant = np.full(layer.n_out, bool(constant_in.all()))
    live = int(np.count_nonzero(~constant & used_out))
    y = layer.result_type  # outputs in [0, 1]: the bits above 1.0 are constants
    ff_bits = min(ctx["wy"], (1 << max(y.frac, 0)).bit_length() + (1 if y.signed else 0))
    return dsp, live * ff_bits + 1, features, constant


@YOSYS_FEATURES.register("scale_shift")
def _scale_shift_features(layer: Layer, ctx: dict, constant_in: np.ndarray,
                          used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    live = _live(constant_in, used_out)
    dsp, features = 0, {"adder_bits": float(np.count_nonzero(live) * (ctx["wa"] + 1))}
    for c in np.flatnonzero(live):
        d, product = _constant_product(ctx["scale"][c], ctx["wx"], ctx["x_signed"])
        dsp += d
        _add_features(features, product)
    return dsp, int(np.count_nonzero(live)) * ctx["wy"] + 1, features, constant_in.copy()


@YOSYS_FEATURES.register("step")
def _step_features(layer: Layer, ctx: dict, constant_in: np.ndarray,
                   used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    k = len(ctx["thresholds"])
    return _elementwise(layer, ctx, constant_in, used_out, 0,
                        {"compare_bits": float(k * ctx["cw"]), "choice_bits": float(k * ctx["wy"])})


@YOSYS_FEATURES.register("parametric_relu")
def _parametric_relu_features(layer: Layer, ctx: dict, constant_in: np.ndarray,
                              used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    live = _live(constant_in, used_out)
    dsp, features = 0, {}
    for c in np.flatnonzero(live):
        d, product = _constant_product(ctx["alpha"][c], ctx["wx"], ctx["x_signed"])
        dsp += d
        _add_features(features, {**product, "compare_bits": float(ctx["cw"]), "choice_bits": float(ctx["wy"])})
    return dsp, int(np.count_nonzero(live)) * ctx["wy"] + 1, features, constant_in.copy()


def _dense_reads(layer: DenseLayer, used: np.ndarray) -> np.ndarray:
    outs, ins, _ = layer.terms()
    reads = np.zeros(layer.n_in, dtype=bool)
    reads[ins[used[outs]]] = True
    return reads


def _conv_reads(layer: ConvLayer, used: np.ndarray) -> np.ndarray:
    """The inputs of the nonzero taps of every pixel with a read output."""
    reads = np.zeros(layer.n_in + 1, dtype=bool)
    per_pixel = used.reshape(layer.n_pixels, layer.filters)
    for p in np.flatnonzero(per_pixel.any(axis=1)):
        reads[layer.patch[p][_dense_reads(layer.product, per_pixel[p])]] = True
    return reads[:-1]


def _pooling_reads(layer: PoolingLayer, used: np.ndarray) -> np.ndarray:
    reads = np.zeros(layer.n_in, dtype=bool)
    c = layer.channels
    for j in np.flatnonzero(used):
        cells = layer.windows[j // c]
        reads[cells[cells >= 0] * c + j % c] = True
    return reads


def _reorder_reads(layer: ReorderLayer, used: np.ndarray) -> np.ndarray:
    reads = np.zeros(layer.n_in + 1, dtype=bool)
    reads[np.asarray(layer.source)[used]] = True
    return reads[:-1]


#: Which inputs a layer reads of the outputs read of it, per kind that is not element-wise.
READS: dict[str, Callable[[Layer, np.ndarray], np.ndarray]] = {
    "dense": _dense_reads, "conv": _conv_reads, "pooling": _pooling_reads, "reorder": _reorder_reads}


def used_outputs(layers: list[Layer]) -> list[np.ndarray]:
    """Per layer, which outputs a later layer (or the model's output) reads: a dense layer reads
    the inputs of its nonzero weights (a conv those of each pixel, pooling its windows, a
    reorder its sources: :data:`READS`), an element-wise layer what is read of it."""
    used = [np.ones(layers[-1].n_out, dtype=bool)] if layers else []
    for layer in reversed(layers[1:]):
        rule = READS.get(layer.kind)
        used.insert(0, rule(layer, used[0]) if rule else used[0].copy())
    return used


def _positions(t) -> tuple[int, int]:
    """The lowest and highest bit position of a fixed-point type (the LSB weighs ``2**-frac``)."""
    return -t.frac, t.width - t.frac - 1


def _activation_bits_read(layer: ActivationLayer) -> "int | None":
    """Bits of each input value an exact activation (``relu``, ``linear``) reads: the input bits
    in the result's range, the sign for a ReLU of a signed input, the bits rounding looks at
    (the next lower one for ``AP_RND``, all lower ones for the other rounding modes that are not
    a floor of the kept value) and every higher bit when the result saturates (the overflow
    test).  Yosys removes the producer's register bits that nothing reads.  ``None``: all."""
    if layer.table is not None or layer.function not in ("relu", "linear"):
        return None
    x, y = layer.input_type, layer.result_type
    (x_lo, x_hi), (y_lo, y_hi) = _positions(x), _positions(y)
    lo, hi = max(x_lo, y_lo), min(x_hi, y_hi)
    if x_lo < y_lo:  # bits below the result's LSB
        floor_like = y.rounding == Rounding.TRN or (y.rounding == Rounding.TRN_ZERO and layer.function == "relu")
        if y.rounding == Rounding.RND:
            lo = y_lo - 1
        elif not floor_like:
            lo = x_lo
    if x_hi > y_hi and y.overflow != Overflow.WRAP:
        hi = x_hi
    bits = max(0, hi - lo + 1)
    sign_rounding = y.rounding in (Rounding.TRN_ZERO, Rounding.RND_ZERO, Rounding.RND_INF) and x_lo < y_lo
    if x.signed and hi < x_hi and (layer.function == "relu" or sign_rounding):
        bits += 1  # the sign decides the ReLU, or the direction of rounding
    return min(bits, x.width)


def _activation_bits_varying(layer: ActivationLayer) -> "int | None":
    """Bits of each output value of an exact activation that Yosys keeps in its register: none
    below the input's LSB (constant), none above the input's range (a ReLU's output is below
    ``2**msb`` of a signed input; sign-extension copies are merged), one more where rounding
    carries.  Yosys may keep fewer where the producer's values span less than its type (a
    saturating ReLU after a dense layer whose sums never reach the top bits, measured: 7 bits
    kept of the 11 counted here).
    ``None``: all (table activations)."""
    if layer.table is not None or layer.function not in ("relu", "linear"):
        return None
    x, y = layer.input_type, layer.result_type
    (x_lo, x_hi), (y_lo, y_hi) = _positions(x), _positions(y)
    top = x_hi - 1 if (layer.function == "relu" and x.signed) else x_hi
    if x_lo < y_lo and y.rounding != Rounding.TRN:
        top += 1  # rounding up may carry past the input's top bit
    # (a sign-extended linear output's upper bits are copies of one bit: Yosys merges their flip-flops)
    return max(0, min(y_hi, top) - max(x_lo, y_lo) + 1)


#: Bits of each input value a layer reads, per kind that can read fewer than all (the others: all).
BITS_READ: dict[str, Callable[[Layer], "int | None"]] = {"activation": _activation_bits_read}


def bits_read_by(layer: "Layer | None") -> "int | None":
    """Bits of each input value ``layer`` reads (:data:`BITS_READ`); ``None`` (all) for kinds
    without a rule and for the model output (``layer`` None)."""
    rule = BITS_READ.get(layer.kind) if layer is not None else None
    return rule(layer) if rule is not None else None


def _output_register_bits(ctx: dict) -> int:
    """Bits of each output register Yosys keeps: the value's width, or fewer where the next layer
    reads fewer (:data:`BITS_READ`)."""
    return ctx["wy"] if ctx.get("wy_read") is None else ctx["wy_read"]


@YOSYS_FEATURES.register("conv")
def _conv_features(layer: ConvLayer, ctx: dict, constant_in: np.ndarray,
                   used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    """The dense rule of the per-pixel product once per output pixel, each with its own constant
    inputs (padding cells and constant inputs: their products removed) and read outputs; the
    top's valid bit and the pipeline's valid chain once (products equal across pixels are not
    merged: a tap reads a different input in each)."""
    pixel = ctx["pixel"]
    padded = np.append(constant_in, True)
    per_pixel = used_out.reshape(layer.n_pixels, layer.filters)
    dsp = ff = 0
    features: dict[str, float] = {}
    constant_out = np.zeros(layer.n_out, dtype=bool)
    for p in range(layer.n_pixels):
        d, f, more, const = _dense_features(layer.product, pixel, padded[layer.patch[p]], per_pixel[p])
        dsp += d
        ff += f - 1 - pixel.get("stages", 0)
        _add_features(features, more)
        constant_out[p * layer.filters:(p + 1) * layer.filters] = const
    return dsp, ff + 1 + pixel.get("stages", 0), features, constant_out


@YOSYS_FEATURES.register("pooling")
def _pooling_features(layer: PoolingLayer, ctx: dict, constant_in: np.ndarray,
                      used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    """Uncalibrated: max, per live output, n - 1 comparisons and 2:1 choices of the widened
    input; average, n - 1 adders of the sum's width, two negations and the constant-reciprocal
    product (by its nonzero signed digits, as a LUT-built product)."""
    features = {"compare_bits": 0.0, "choice_bits": 0.0, "adder_bits": 0.0, "soft_product_bits": 0.0}
    constant_out = np.zeros(layer.n_out, dtype=bool)
    dsp = live = 0
    for out in ctx["outputs"]:
        j, n = out["j"], out["n"]
        constant_out[j] = bool(constant_in[out["inputs"]].all())
        if constant_out[j] or not used_out[j]:
            continue
        live += 1
        if ctx["operation"] == "max":
            features["compare_bits"] += (n - 1) * ctx["xw"]
            features["choice_bits"] += (n - 1) * ctx["xw"]
            continue
        features["adder_bits"] += (n - 1) * ctx["sw"] + (2 * ctx["sw"] if n > 1 else 0)
        if n > 1:  # |s| * m: a DSP by mul2dsp's rule, else built of LUTs
            m = ctx["divisions"][n]["m"]
            if constant_product_on_dsp(m, ctx["sw"], False):
                dsp += 1
            else:
                features["soft_product_bits"] += (_naf_digits(_odd_part(m)[0]) - 1) * (ctx["sw"] + m.bit_length())
    return dsp, live * ctx["wy"] + 1, features, constant_out


@YOSYS_FEATURES.register("reorder")
def _reorder_features(layer: ReorderLayer, ctx: dict, constant_in: np.ndarray,
                      used_out: np.ndarray) -> tuple[int, int, dict[str, float], np.ndarray]:
    """Wiring: no logic; the top's register of each distinct live input that is not a padding
    zero (Yosys merges the registers of copies, as an upsampling makes)."""
    padded = np.append(constant_in, True)
    source = np.asarray(layer.source)
    constant_out = padded[source]
    alias = ctx.get("alias_in")  # which outputs of earlier reorders are copies of one value
    values = source if alias is None else np.append(alias, -1)[source]
    live = int(np.unique(values[~constant_out & used_out]).size)
    return 0, live * ctx["wy"] + 1, {}, constant_out


def _reorder_alias(layer: ReorderLayer, alias_in: np.ndarray) -> np.ndarray:
    return np.append(alias_in, -1)[np.asarray(layer.source)]


#: Per kind whose outputs are copies of its inputs: the value id of each output (Yosys merges
#: the registers of equal values); any other layer's outputs are new values.
ALIASES: dict[str, Callable[[Layer, np.ndarray], np.ndarray]] = {"reorder": _reorder_alias}


def layer_features(layer: Layer, index: int, constant_in: np.ndarray | None = None,
                   used_out: np.ndarray | None = None, options: RTLOptions = RTLOptions(),
                   clock_period: float = DEFAULT_CLOCK_PERIOD, alias_in: np.ndarray | None = None,
                   bits_read: int | None = None):
    """``(dsp, ff, LUT features, constant outputs, Verilog context)`` of one layer as the Verilog
    backend writes it; ``constant_in`` marks inputs that are constants (outputs of a previous
    layer with no live term) and ``used_out`` the outputs something reads (:func:`used_outputs`):
    Yosys removes the logic of the others.  ``options``: the Verilog backend's (the multiplier
    mode of each dense layer, the pipeline) and ``clock_period`` the pipeline's clock;
    ``alias_in``: a value id per input (equal ids: copies of one value, see :data:`ALIASES`);
    ``bits_read``: the bits of each output the next layer reads (:data:`BITS_READ`; default all)."""
    ctx = layer_context(layer, index, options, clock_period)
    ctx["alias_in"] = alias_in
    ctx["wy_read"] = min(bits_read, ctx["wy"]) if bits_read is not None and "wy" in ctx else None
    if layer.kind not in YOSYS_FEATURES:
        raise UnsupportedRTLError(f"layer {layer.name!r} ({layer.kind}): no Yosys cost rule; it has "
                                  f"{sorted(YOSYS_FEATURES)}")
    if constant_in is None:
        constant_in = np.zeros(layer.n_in, dtype=bool)
    if used_out is None:
        used_out = np.ones(layer.n_out, dtype=bool)
    return (*YOSYS_FEATURES[layer.kind](layer, ctx, constant_in, used_out), ctx)


def lut_of(features: dict[str, float], coefficients: dict[str, float] | None = None) -> int:
    """LUTs of the features: ``coefficients`` (default :data:`LUT_PER`), the uncalibrated
    :data:`UNCALIBRATED_LUT_PER` for the features they lack."""
    coefficients = {**UNCALIBRATED_LUT_PER, **(LUT_PER if coefficients is None else coefficients)}
    return int(round(sum(coefficients[key] * value for key, value in features.items())))


def estimate_yosys(ir: ModelIR, config: FirmwareConfig | None = None, *, part=None,
                   options: RTLOptions = RTLOptions()) -> CostReport:
    """The cost of ``ir`` as Yosys synthesizes the Verilog backend's RTL written with ``options``
    (see the module docstring)."""
    config = config if config is not None else FirmwareConfig()
    the_part = get_part(part if part is not None else config.part)
    costs: list[LayerCost] = []
    latency, ii = 0, 1
    body = [layer for layer in ir.layers if not isinstance(layer, InputLayer)]
    options.check_layers(body)
    constant = None
    alias = np.arange(ir.n_inputs)
    for index, (layer, used) in enumerate(zip(body, used_outputs(body)), start=1):
        read = bits_read_by(body[index] if index < len(body) else None)
        dsp, ff, features, constant, ctx = layer_features(layer, index, constant, used, options, config.clock_period,
                                                          alias, read)
        rule = ALIASES.get(layer.kind)
        alias = rule(layer, alias) if rule else np.arange(layer.n_out) + index * (1 << 40)
        cost = LayerCost(name=layer.name, kind=layer.kind, dsp=dsp, ff=ff, lut=lut_of(features),
                         lut_breakdown={k: lut_of({k: v}) for k, v in features.items() if v})
        if isinstance(layer, DenseLayer):
            cost.n_weights, cost.nonzero_weights = layer.n_in * layer.n_out, layer.nonzero_weights
            cost.reuse_factor, cost.strategy = layer.reuse_factor, layer.strategy.value
            cost.n_mult = len(ctx["lanes"]) if ctx["sequential"] else len(ctx["terms"])
        # as the writer's top: a lane layer takes cycles + 2 and a new input every cycles + 1
        cycles = layer_latency(ctx)
        if ctx["sequential"]:
            ii = max(ii, ctx["cycles"] + 1)
        cost.latency_cycles = cycles
        latency += cycles
        costs.append(cost)
    return CostReport(part=the_part, clock_period=float(config.clock_period), dsp=sum(c.dsp for c in costs),
                      lut=sum(c.lut for c in costs), ff=sum(c.ff for c in costs), bram_18k=0,
                      latency_cycles=latency, ii=ii, latency_ns=latency * float(config.clock_period), layers=costs,
                      tool=f"yosys: {YOSYS_VERSION}, synth_xilinx, fpga_aware's Verilog backend")
