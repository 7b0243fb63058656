"""Bit-exact numpy emulation of the generated firmware, vectorised over the batch.

It reads the same :class:`~fpga_aware.core.ir.ModelIR` as the HLS writer and performs the arithmetic
the IR documents, on integer mantissas (all rounding and overflow through
:mod:`fpga_aware.core.fixed`).  Dense layers use a float64 BLAS product while every partial sum is
provably below 2**53 (so it is exact), a float32 one where every partial sum is provably below
2**24 LSBs, and an integer product otherwise.  Accumulators whose
products would be rounded, or that saturate and might overflow, are emulated term by term in the
firmware's accumulation order.

Between layers a value is either a float64 real value (only while its type is at most 53 bits
wide, so the float is exact) or an integer mantissa array: ``int64`` up to
:data:`~fpga_aware.core.fixed.INT64_WIDTH` bits, Python ints (object arrays) beyond, so types up to
ap_fixed's 1024 bits stay exact end to end.  Only the model's outputs are rounded to doubles,
as ``ap_fixed::to_double`` rounds them (nearest, ties to even).
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from fpga_aware.core.activations import activation
from fpga_aware.core.cpus import available_cpus, run_on_threads
from fpga_aware.core.fixed import INT64_WIDTH, FixedType, Overflow, round_float
from fpga_aware.sim import fused as _fused
from fpga_aware.sim.inputs import InputShapeError, InputValueError, as_batch, check_finite
from fpga_aware.core.ir import (
    ActivationLayer,
    DenseLayer,
    Layer,
    LookupTable,
    ModelIR,
    ParametricReLULayer,
    ScaleShiftLayer,
    SoftmaxLayer,
    StepLayer,
)
from fpga_aware.core.registry import Registry
from fpga_aware.sim import windowed as _windowed

__all__ = ["Emulator", "emulate", "accumulator_is_modular", "accumulator_is_lossless", "EmulatorRule", "EMULATOR_RULES", "ACTIVATION_RULES", "InputShapeError",
           "InputValueError"]

_FLOAT_EXACT_LIMIT = 2**53
_INT64_SUM_LIMIT = 2**62  # int64 sums below this (in magnitude) cannot overflow
#: float32 sums of integer multiples of one LSB are exact below this many LSBs, in any order.
_FLOAT32_EXACT_LIMIT = 2**24
_FLOAT32_MAX_FRAC = 30
#: Scale exponents kept well inside float32's normal range (2**-126 .. 2**127).
_FLOAT32_MAX_EXP = 100
#: Fused dense + ReLU plans scale the weights by powers of two: only at moderate scales.
_FUSE_MAX_FRAC = 300
#: Rows evaluated at a time: a chunk's temporaries stay in the caches.
_CHUNK_ROWS = 1024
#: Multiply-adds per call (rows times the model's dense multiply-adds per row) from which
#: ``predict`` runs the buffered program on every CPU by default.  Below it, waking the other
#: threads (and their CPUs, after a pause) costs more than they save.  Measured on a 2-CPU VM,
#: each call after a 50 ms pause, one thread against two: jet tagger (4,389 per row) 10 k rows
#: 4.2 / 5.2 ms, 40 k 15.5 / 18.0, 100 k 37 / 34; 16x200x200x200x200x200x5 (164,200 per row)
#: 5 k rows 10.9 / 16.0 ms, 20 k 40 / 32.
_PARALLEL_MIN_MACS = 2_000_000_000
#: Chunks per thread when the buffered program runs on several threads (they balance the load).
_CHUNKS_PER_THREAD = 2
#: Dense multiply-adds per row from which ``predict`` runs its chunks on every CPU by default.
_PARALLEL_MACS_PER_ROW = 32_768


class _SingleBlasThread:
    """Limits BLAS to one thread while chunks run on several Python threads (a reentrant context
    manager, shared by concurrent ``predict`` calls: the first in sets the limit, the last out
    restores the libraries' thread counts).  Each chunk's products then take one core, not all
    of them each.  It sets the libraries' counts through threadpoolctl's controllers, found once
    per process, directly: about 60 us per use where ``threadpoolctl.threadpool_limits`` costs
    about 300 us (measured, OpenBLAS 0.3.31)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._users = 0
        self._libs = None
        self._saved: list = []

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                if self._libs is None:  # inspecting the loaded libraries is slow: once per process
                    from threadpoolctl import ThreadpoolController

                    self._libs = [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]
                self._saved = [(lib, lib.get_num_threads()) for lib in self._libs]
                for lib, n in self._saved:
                    if n != 1:
                        lib.set_num_threads(1)
            self._users += 1
        return self

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                for lib, n in self._saved:
                    if n != 1:
                        lib.set_num_threads(n)
        return False


_SINGLE_BLAS_THREAD = _SingleBlasThread()
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """A thread pool of ``workers`` threads kept for the process (starting threads on every
    ``predict`` costs about 0.1 ms); its tasks never wait for each other."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fpga_aware-emulator")
        return pool


_Plan = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EmulatorRule:
    """How the emulator evaluates one layer kind.

    ``integer(layer, mantissas)`` is the general rule on integer mantissas (int64, or Python
    ints beyond :data:`~fpga_aware.core.fixed.INT64_WIDTH` bits).  ``plan(layer)`` may return a
    faster float64 evaluator of real values when that is provably exact for this layer (every
    type at most 53 bits wide, every sum below 2**53 LSBs), else ``None``.
    """

    integer: Callable[[Layer, np.ndarray], np.ndarray]
    plan: Callable[[Layer], "_Plan | None"] = lambda layer: None


#: One rule per IR layer kind (the model's input is converted by the emulator itself).
EMULATOR_RULES: Registry[EmulatorRule] = Registry("emulator rule")
#: One rule per exactly computed activation function
#: (:data:`~fpga_aware.core.activations.EXACT_FUNCTIONS`); table functions share one rule.
ACTIVATION_RULES: Registry[EmulatorRule] = Registry("emulator activation rule", key="activation function")


class Emulator:
    """Evaluates a :class:`ModelIR` exactly; ``predict`` returns float64 outputs.

    Fast path: values travel as float64 *real values* (exact: every type is at most 53 bits
    wide and every sum is bounded below 2**53 LSBs), each cast is
    :meth:`FixedType.round_values` and a dense layer is one BLAS product.  A layer that does not
    qualify (wider types, rounding or saturating inside the accumulator) runs on int64
    mantissas, term by term where needed.
    """

    def __init__(self, ir: ModelIR):
        self.ir = ir
        self._rules = [EMULATOR_RULES[layer.kind] for layer in ir.layers[1:]]
        self._plans = [_plan(layer, rule) for layer, rule in zip(ir.layers[1:], self._rules)]
        self._chain = _fast_chain(ir.layers, [None, *self._plans])
        # the buffered form of the chain's dense + ReLU prefix (fpga_aware.sim.fused), if any
        self._program = _buffered_program(ir.layers, [None, *self._plans]) if self._chain is not None else None
        # Threads pay off only when a chunk's work outweighs its Python overhead: the layer by
        # layer plans (many numpy calls per 1024 rows) take them from _PARALLEL_MACS_PER_ROW
        # multiply-adds per row; the buffered program (a few dozen calls per chunk of thousands of
        # rows) for every batch of at least _PARALLEL_MIN_MACS multiply-adds (see predict)
        macs = sum(layer.n_weights * getattr(layer, "n_pixels", 1) for layer in ir.layers
                   if layer.kind in ("dense", "conv"))  # a convolution: its product once per output pixel
        self._macs_per_row = macs
        self._default_threads = available_cpus() if macs >= _PARALLEL_MACS_PER_ROW or self._program is not None else 1

    # ------------------------------------------------------------------ public
    def predict(self, x, threads: int | None = None) -> np.ndarray:
        """Outputs for the batch ``x``; its chunks run on ``threads`` threads (numpy releases the
        GIL in its kernels; BLAS is limited to one thread meanwhile).  Default: every CPU this
        process may use for a model with the buffered program (:mod:`fpga_aware.sim.fused`) and
        at least :data:`_PARALLEL_MIN_MACS` multiply-adds in the batch (on one thread the program takes the whole batch,
        up to :data:`fpga_aware.sim.fused.CHUNK_ROWS` rows, as one chunk; on ``k`` threads
        :data:`_CHUNKS_PER_THREAD` ``* k`` chunks), else every CPU when the model has at least
        :data:`_PARALLEL_MACS_PER_ROW` dense multiply-adds per row (chunks of :data:`_CHUNK_ROWS`
        rows), else one.

        Every row's result is independent of the others, so the split changes nothing.
        """
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        program = self._program
        batch = as_batch(self.ir, x, check=program is None)  # the program finds NaN and infinity itself
        n = batch.shape[0]
        out = np.empty((n, self.ir.n_outputs), dtype=np.float64)
        workers = threads or self._default_threads
        if program is not None and threads is None and n * self._macs_per_row < _PARALLEL_MIN_MACS:
            workers = 1
        chunk = _CHUNK_ROWS
        if program is not None:  # whole batch on one thread, else a few chunks per thread (balance)
            chunk = min(_fused.CHUNK_ROWS, max(_CHUNK_ROWS, -(-n // (1 if workers <= 1 else _CHUNKS_PER_THREAD * workers))))
        starts = range(0, n, chunk)
        workers = min(workers, len(starts))

        def run(start: int) -> None:
            rows = slice(start, start + chunk)
            if program is not None:
                program(batch[rows], out[rows])
            else:
                out[rows] = self._predict_chunk(batch[rows])

        try:
            if workers <= 1:  # BLAS keeps its own threads
                run_on_threads(run, starts, workers)
            else:
                with _SINGLE_BLAS_THREAD:  # one BLAS thread per chunk; the chunks run in parallel instead
                    list(_pool(workers).map(run, starts))
        except _fused.NonFiniteInput:
            check_finite(batch)  # raises InputValueError naming the rows
            raise  # pragma: no cover - the program saw a NaN or an infinity
        return out

    def _predict_chunk(self, values: np.ndarray) -> np.ndarray:
        # Chunks keep the temporaries in cache and avoid fresh page mappings per call.
        if self._chain is not None:
            for step in self._chain:
                values = step(values)
            return values
        values, is_float = self._convert_input(values)
        for layer, rule, plan in zip(self.ir.layers[1:], self._rules, self._plans):
            values, is_float = self._step(layer, rule, plan, values, is_float)
        return values if is_float else self.ir.output_type.to_float(values)

    def trace(self, x, keep: bool = True) -> dict[str, np.ndarray]:
        """Mantissas of every layer's output (``keep=False`` keeps only the last).

        ``int64`` arrays, or object arrays of Python ints for types wider than
        :data:`~fpga_aware.core.fixed.INT64_WIDTH` bits.
        """
        return {
            name: self._mantissas(self.ir.layer(name).result_type, v, is_float)
            for name, (v, is_float) in self._trace(x, keep).items()
        }

    def trace_values(self, x, keep: bool = True) -> dict[str, np.ndarray]:
        """Real values of every layer's output (float64: the nearest doubles beyond 53 bits)."""
        return {
            name: v if is_float else self.ir.layer(name).result_type.to_float(v)
            for name, (v, is_float) in self._trace(x, keep).items()
        }

    def _trace(self, x, keep: bool) -> dict[str, tuple[np.ndarray, bool]]:
        batch = as_batch(self.ir, x)
        values, is_float = self._convert_input(batch)
        results: dict[str, tuple[np.ndarray, bool]] = {self.ir.input.name: (values, is_float)} if keep else {}
        for layer, rule, plan in zip(self.ir.layers[1:], self._rules, self._plans):
            values, is_float = self._step(layer, rule, plan, values, is_float)
            if keep:
                results[layer.name] = (values, is_float)
        results[self.ir.output.name] = (values, is_float)
        return results

    @staticmethod
    def _mantissas(t: FixedType, values: np.ndarray, is_float: bool) -> np.ndarray:
        """Integer mantissas of values of type ``t`` (exact: float values are <= 53 bits)."""
        if not is_float:
            return values
        m = np.ldexp(values, t.frac).astype(np.int64)
        return m if t.uses_int64 else m.astype(object)

    # ------------------------------------------------------------------ layers
    def _convert_input(self, values: np.ndarray) -> tuple[np.ndarray, bool]:
        """The doubles of the batch converted to the input type, as ``input_t(x)`` does."""
        t = self.ir.input_type
        if t.float_exact:
            return t.round_values(values), True
        return t.from_float(values), False

    def _step(self, layer: Layer, rule: EmulatorRule, plan: "_Plan | None", values: np.ndarray,
              is_float: bool) -> tuple[np.ndarray, bool]:
        """One layer: ``(values, is_float)`` in and out (real float64 values or integer mantissas)."""
        if plan is not None:  # every type of the layer is float-exact: so is its input
            return plan(values if is_float else layer.input_type.to_float(values)), True
        mantissas = self._mantissas(layer.input_type, values, is_float)
        return rule.integer(layer, mantissas), False


def _fast_chain(layers: list[Layer], plans: list["_Plan | None"]) -> "list[_Plan] | None":
    """``predict``'s steps when every layer has a float plan (a fusion pass across layers).

    A dense layer and the ReLU after it are fused into one step; a step feeding a dense layer
    passes on integer mantissas (float64, or float32 where that product is a float32 one) and
    the dense layer's weights absorb the power-of-two scale.  Exact: the same values, scaled.
    """
    if not layers or layers[0].kind != "input" or not layers[0].result_type.float_exact:
        return None
    if any(plan is None for plan in plans[1:]):
        return None
    groups: list[tuple[int, ...]] = []
    i = 1
    while i < len(layers):
        layer = layers[i]
        if (layer.kind == "dense" and i + 1 < len(layers) and layers[i + 1].kind == "activation"
                and _dense_relu_plan(layer, layers[i + 1]) is not None):
            groups.append((i, i + 1))
            i += 2
        else:
            groups.append((i,))
            i += 1

    def build(k: int, in_exp: int, out: str):
        group = groups[k]
        if len(group) == 2:
            return _dense_relu_plan(layers[group[0]], layers[group[1]], in_exp, out)
        if layers[group[0]].kind == "dense" and out == "real":
            return _dense_plan(layers[group[0]], in_exp)
        return plans[group[0]] if in_exp == 0 and out == "real" else None

    def emits(k: int) -> tuple[str, int]:
        """What group ``k`` should return for the next group: (out mode, its scale exponent)."""
        if k + 1 >= len(groups) or layers[groups[k + 1][0]].kind != "dense":
            return "real", 0
        t = layers[groups[k][-1]].result_type if k >= 0 else layers[0].result_type
        probe = build(k + 1, t.frac, "real")
        if probe is None:
            return "real", 0
        return ("mantissas32" if probe.float32_in and _float32_exact(t) else "mantissas"), t.frac

    out, in_exp = emits(-1)
    input_t = layers[0].result_type
    steps: list[_Plan] = [input_t.round_values if out == "real" else _mantissas_step(input_t, out == "mantissas32")]
    for k in range(len(groups)):
        nxt, nxt_exp = emits(k)
        step = build(k, in_exp, nxt)
        if step is None:  # pragma: no cover - emits() probed the same plans
            return None
        steps.append(step)
        in_exp = nxt_exp
    return steps


def _buffered_program(layers: list[Layer], plans: list["_Plan | None"]):
    from fpga_aware.sim import emulator, fused  # fused uses this module's proofs

    return fused.fused_program(layers, plans, emulator)


def _mantissas_step(t: FixedType, float32: bool) -> _Plan:
    def mantissas(x: np.ndarray) -> np.ndarray:
        m = t.mantissas_float(np.asarray(x, dtype=np.float64))  # the rounded, overflow-handled mantissas
        return m.astype(np.float32) if float32 else m

    return mantissas


def emulate(ir: ModelIR, x) -> np.ndarray:
    return Emulator(ir).predict(x)


# ---------------------------------------------------------------------- fast float path

def _layer_types(layer: Layer) -> list[FixedType]:
    types = [layer.input_type, layer.result_type]
    for attr in ("weight_type", "bias_type", "accum_type", "scale_type", "shift_type", "diff_type", "sum_type",
                 "alpha_type", "negative_type"):
        if getattr(layer, attr, None) is not None:
            types.append(getattr(layer, attr))
    for attr in ("table", "exp_table", "inv_table"):
        table = getattr(layer, attr, None)
        if table is not None:
            types.append(table.value_type)
    if getattr(layer, "linear", None) is not None:
        types.append(layer.linear.slope_type)
    return types


def _plan(layer: Layer, rule: EmulatorRule) -> "_Plan | None":
    """A float64 evaluator of ``layer`` when it is provably exact, else ``None``."""
    if not all(t.float_exact for t in _layer_types(layer)):
        return None
    return rule.plan(layer)


class _DenseOperands:
    """A dense layer's float operands, decided once: weights scaled by ``2**w_exp``, the bias by
    ``2**b_exp`` (powers of two: exact; the callers pick them to absorb the scale of the inputs
    and of the wanted outputs).

    Every partial sum is an integer count of product LSBs below 2**53 (float64: exact in any
    order).  ``float32`` when, besides, every partial sum stays below 2**24 product LSBs and the
    inputs and weights have at most 24 significant bits at a moderate scale: the product is then
    a float32 BLAS product, exact in any order too (its sums are added to the bias in float64).
    """

    def __init__(self, layer: DenseLayer, needed: FixedType, bound: int, prod_bound: int, w_exp: int, b_exp: int):
        acc_t = layer.accum_type
        self.needed = needed
        self.bound = bound  # |accumulator| in accumulator LSBs, bias included
        self.wraps = not acc_t.contains(needed)
        self.float32 = (
            prod_bound < _FLOAT32_EXACT_LIMIT
            and _float32_exact(layer.input_type)
            and _float32_exact(layer.weight_type)
            and abs(w_exp) <= _FLOAT32_MAX_FRAC
        )
        # The whole sum, bias included, in float32 (the buffered program's products): below
        # 2**24 LSBs, and neither the sum's LSB nor the weights' leave float32's normal range.
        units = (b_exp - acc_t.frac, w_exp - layer.weight_type.frac)
        self.sum_float32 = (
            bound < _FLOAT32_EXACT_LIMIT
            and _float32_exact(layer.input_type)
            and layer.weight_type.width <= 24
            and all(-_FLOAT32_MAX_EXP <= e and e + 24 <= _FLOAT32_MAX_EXP for e in units)
        )
        weights = np.ldexp(layer.weight_type.to_float(layer.weights), w_exp)  # exact: a power of two
        self.weights = weights.astype(np.float32) if self.float32 else weights
        self.bias = np.ldexp(acc_t.to_float(acc_t.requantize(layer.bias, layer.bias_type.frac)), b_exp)

    def accumulate(self, x: np.ndarray) -> np.ndarray:
        """``x @ weights + bias`` as a fresh float64 array (exact)."""
        if self.float32:
            acc = (x if x.dtype == np.float32 else x.astype(np.float32)) @ self.weights
            return np.add(acc, self.bias)  # float64: exact (acc and bias are exact, the sum < 2**53)
        acc = x @ self.weights
        acc += self.bias
        return acc


def _dense_operands(layer: DenseLayer, w_exp: int = 0, b_exp: int = 0) -> "_DenseOperands | None":
    """The float operands of ``layer`` when its float evaluation is provably exact, else ``None``."""
    needed = layer.lossless_accumulator()
    if not _accum_is_lossless(layer, needed):
        return None
    acc_t = layer.accum_type
    x_max = max(abs(layer.input_type.min_mantissa), abs(layer.input_type.max_mantissa))
    shift = acc_t.frac - layer.input_type.frac - layer.weight_type.frac
    prod_bound = x_max * int(np.abs(layer.weights).sum(axis=0).max(initial=0))  # in product LSBs
    bound = (prod_bound << shift) + int(np.abs(acc_t.requantize(layer.bias, layer.bias_type.frac)).max(initial=0))
    if bound >= _FLOAT_EXACT_LIMIT:
        return None
    return _DenseOperands(layer, needed, bound, prod_bound, w_exp, b_exp)


def _float32_exact(t: FixedType) -> bool:
    """Every value of ``t`` is a float32, far from float32's subnormals and overflow once scaled."""
    return t.width <= 24 and abs(t.frac) <= _FLOAT32_MAX_FRAC


def _dense_finish(layer: DenseLayer, ops: _DenseOperands) -> _Plan:
    """The dense layer's exact sums (real values) to its result type."""
    acc_t, result_t, needed = layer.accum_type, layer.result_type, ops.needed
    if ops.wraps:
        return lambda acc: result_t.round_values(acc_t.round_values(acc))
    return lambda acc: result_t.cast_values(acc, needed)


def _dense_plan(layer: DenseLayer, in_exp: int = 0) -> "_Plan | None":
    """``in_exp``: the inputs come as real values times ``2**in_exp`` (mantissas: the input frac)."""
    if abs(in_exp) > _FUSE_MAX_FRAC or abs(layer.weight_type.frac) > _FUSE_MAX_FRAC:
        return None
    ops = _dense_operands(layer, w_exp=-in_exp)
    if ops is None:
        return None
    finish = _dense_finish(layer, ops)

    def dense(x: np.ndarray) -> np.ndarray:
        return finish(ops.accumulate(x))

    dense.float32_in = ops.float32
    return dense


def _channelwise_plan(layer: DenseLayer, channels: int) -> "_Plan | None":
    """The float plan of a product whose row ``t * C + c`` feeds only the columns
    ``c * m .. c * m + m - 1`` (a depthwise kernel's per-pixel product: ``C`` input channels,
    ``m`` outputs each), or ``None`` when the weights are not of that form (or not provably
    exact).  ``taps * C * m`` products per row instead of the dense plan's ``taps * C * C * m``;
    exact as :func:`_dense_plan` (the same scaled operands: every term and partial sum is an
    integer number of LSBs below 2**53, so the order of the sums does not matter)."""
    n_in, n_out = layer.n_in, layer.n_out
    if channels < 2 or n_in % channels or n_out % channels:
        return None
    taps, m = n_in // channels, n_out // channels
    rows, cols = np.arange(n_in), np.arange(n_out)
    if np.any(layer.weights[(rows[:, None] % channels) != (cols[None, :] // m)] != 0):
        return None
    ops = _dense_operands(layer)
    if ops is None or abs(layer.weight_type.frac) > _FUSE_MAX_FRAC:
        return None
    finish = _dense_finish(layer, ops)
    w = ops.weights.astype(np.float64).reshape(taps, channels, n_out)  # exact: float32 to float64
    diagonal = np.stack([w[:, c, c * m:(c + 1) * m] for c in range(channels)], axis=1)  # (taps, C, m)
    bias = ops.bias

    def channelwise(patches: np.ndarray) -> np.ndarray:
        g = patches.reshape(-1, taps, channels)
        acc = np.einsum("ntc,tcm->ncm", g, diagonal).reshape(-1, n_out)
        acc += bias
        return finish(acc)

    # the operands, for a caller that sums the taps itself (windowed.conv_plan: strided views)
    channelwise.diagonal, channelwise.bias, channelwise.finish = diagonal, bias, finish
    return channelwise


@dataclass(frozen=True)
class _DenseReluSpec:
    """A fused dense + ReLU: the operands scaled so that the sums are the ReLU result's
    unrounded mantissas; ``may_overflow``: the accumulator bound exceeds the result type."""

    ops: _DenseOperands
    result_t: FixedType
    may_overflow: bool

    @property
    def rounding(self):
        return self.result_t.rounding

    @property
    def sum_float32(self) -> bool:
        return self.ops.sum_float32


def _dense_relu_spec(dense: DenseLayer, relu: ActivationLayer, in_exp: int = 0) -> "_DenseReluSpec | None":
    """The fused form of ``dense`` and the ``relu`` after it, when the dense's output is its exact
    sum (inputs scaled by ``2**in_exp``), else ``None``."""
    if relu.function != "relu" or _activation_plan(relu) is None:
        return None
    result_t = relu.result_type
    fr = result_t.frac
    fracs = (fr, in_exp, dense.input_type.frac, dense.weight_type.frac, dense.accum_type.frac)
    if max(abs(f) for f in fracs) > _FUSE_MAX_FRAC:
        return None
    ops = _dense_operands(dense, w_exp=fr - in_exp, b_exp=fr)
    if ops is None or ops.wraps or not dense.result_type.contains(ops.needed):
        return None
    shift = fr - dense.accum_type.frac  # accumulator LSBs -> result LSBs
    hi = ops.bound << shift if shift >= 0 else -((-ops.bound) >> -shift)  # ceil
    if hi >= 2**52:
        return None
    return _DenseReluSpec(ops, result_t, hi > result_t.max_mantissa)


def _dense_relu_plan(dense: DenseLayer, relu: ActivationLayer, in_exp: int = 0, out: str = "real") -> "_Plan | None":
    """``Dense`` and the ``relu`` after it in one pass, when the dense's output is its exact sum.

    The weights (for inputs scaled by ``2**in_exp``) and the bias are scaled so that the sums
    come out as the ReLU result type's (unrounded) mantissas: round in place, clamp at 0, handle
    overflow only when the bound says it can happen.  Same arithmetic as the two plans in a row.
    ``out``: ``"real"`` values (float64), or the result's integer ``"mantissas"`` as float64
    or as ``"mantissas32"`` (float32, exact: at most 24 bits) for a product next.
    """
    spec = _dense_relu_spec(dense, relu, in_exp)
    if spec is None:
        return None
    ops, result_t, may_overflow = spec.ops, spec.result_t, spec.may_overflow
    if out == "mantissas32" and not _float32_exact(result_t):
        return None
    top_mantissa, rounding, down = float(result_t.max_mantissa), result_t.rounding, math.ldexp(1.0, -result_t.frac)

    def dense_relu(x: np.ndarray) -> np.ndarray:
        acc = round_float(ops.accumulate(x), rounding, in_place=True)
        np.maximum(acc, 0.0, out=acc)
        if may_overflow and acc.size:
            top = acc.max()
            if top > top_mantissa:
                acc = result_t._overflow_float(acc, 0.0, top)
        if out == "mantissas32":
            return acc.astype(np.float32)  # integers below 2**24: exact
        if out == "real":
            acc *= down
        return acc

    dense_relu.float32_in = ops.float32
    return dense_relu


def _table_reader(table: LookupTable, input_type: FixedType) -> Callable[[np.ndarray], np.ndarray]:
    values = table.value_type.to_float(table.values)
    scale = math.ldexp(1.0, input_type.frac - table.shift)
    last = table.size - 1

    def read(x: np.ndarray, in_place: bool = False) -> np.ndarray:
        """The table's values at ``x``; ``in_place=True`` may overwrite ``x`` (a temporary)."""
        index = np.multiply(x, scale, out=x if in_place else None)
        np.floor(index, out=index)
        if table.offset:
            index -= table.offset
        np.clip(index, 0, last, out=index)
        return values.take(index.astype(np.intp))

    return read


def _activation_plan(layer: ActivationLayer) -> "_Plan | None":
    if activation(layer.function).uses_table:
        if layer.linear is None and layer.table.outer is None:
            return _table_reader(layer.table, layer.input_type)
        return _through_mantissas(layer)
    return ACTIVATION_RULES[layer.function].plan(layer)


def _through_mantissas(layer: ActivationLayer) -> _Plan:
    """The integer rule on the exact mantissas of float-exact values (tails and table chains)."""
    input_t, result_t = layer.input_type, layer.result_type

    def read(x: np.ndarray) -> np.ndarray:
        return result_t.to_float(_activation(layer, np.ldexp(x, input_t.frac).astype(np.int64)))

    return read


def _softmax_plan(layer: SoftmaxLayer) -> "_Plan | None":
    exp_of = _table_reader(layer.exp_table, layer.diff_type)
    inv_of = _table_reader(layer.inv_table, layer.sum_type)
    result_t = layer.result_type
    diff_t, input_t = layer.diff_type, layer.input_type
    if not (diff_t.signed and diff_t.frac == input_t.frac and diff_t.width > input_t.width):
        return None  # x - max(x) might not be exact in diff_t: take the integer path

    exp_t, inv_t = layer.exp_table.value_type, layer.inv_table.value_type
    # e * r lies in [0, max_e * max_r]: when the result type holds that range, rounding is all
    # its cast does (no overflow to look for); the product is exact (two <= 26-bit mantissas)
    plain = (not exp_t.signed and not inv_t.signed and result_t.width <= 53 and exp_t.width + inv_t.width <= 53
             and exp_t.max_value * inv_t.max_value <= result_t.max_value)
    up, down = math.ldexp(1.0, result_t.frac), math.ldexp(1.0, -result_t.frac)

    def softmax(x: np.ndarray) -> np.ndarray:
        e = exp_of(x - _row_max(x)[:, None], in_place=True)  # diff_t is one bit wider: exact
        s = _row_sum(e)  # exact in any order: sum_t holds every sum (built so by the parser)
        e *= inv_of(s)[:, None]
        if not plain:
            return result_t.round_values(e)
        e *= up  # exact: a power of two
        e = round_float(e, result_t.rounding, in_place=True)
        e *= down
        return e

    return softmax


#: Up to this many columns, a row reduction runs column by column (numpy's reductions along a
#: short last axis are several times slower than a few whole-column operations).
_COLUMNWISE_MAX = 32


def _row_max(x: np.ndarray) -> np.ndarray:
    if x.ndim != 2 or x.shape[1] > _COLUMNWISE_MAX or x.shape[1] == 0:
        return x.max(axis=1)
    out = x[:, 0].copy()
    for j in range(1, x.shape[1]):
        np.maximum(out, x[:, j], out=out)
    return out


def _row_sum(x: np.ndarray) -> np.ndarray:
    """Row sums of float64 values whose every partial sum is exact (the order does not matter)."""
    if x.ndim != 2 or x.shape[1] > _COLUMNWISE_MAX or x.shape[1] == 0:
        return x.sum(axis=1)
    out = x[:, 0].copy()
    for j in range(1, x.shape[1]):
        out += x[:, j]
    return out


# ---------------------------------------------------------------------- dense
def _matmul_exact(x: np.ndarray, w: np.ndarray, x_type: FixedType, modular: bool = False) -> np.ndarray:
    """Exact integer ``x @ w`` for integer mantissas (int64 or Python ints).

    ``modular``: only the sums modulo 2**64 matter (a wrapping accumulator of at most
    :data:`~fpga_aware.core.fixed.INT64_WIDTH` bits), so an int64 product may overflow.
    """
    if w.size == 0 or x.shape[0] == 0:
        return np.zeros((x.shape[0], w.shape[1]), dtype=np.int64)
    x_max = max(abs(x_type.min_mantissa), abs(x_type.max_mantissa))
    bound = x_max * int(np.abs(w).sum(axis=0).max(initial=0))
    narrow = x.dtype != object and w.dtype != object
    if bound < _FLOAT_EXACT_LIMIT:
        return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    if narrow and (bound < _INT64_SUM_LIMIT or modular):
        return x @ w  # int64 matmul (no BLAS): exact, or exact modulo 2**64
    return x.astype(object) @ w.astype(object)  # Python ints: exact for any width


def _accum_is_lossless(layer: DenseLayer, needed: FixedType | None = None) -> bool:
    """Products enter the accumulator unrounded and wrapping (modular) or provably no overflow.

    ``needed`` is ``layer.lossless_accumulator()`` when the caller has it already.
    """
    a = layer.accum_type
    if a.frac < layer.input_type.frac + layer.weight_type.frac or a.frac < layer.bias_type.frac:
        return False
    if a.overflow == Overflow.WRAP:
        return True
    return a.contains(needed if needed is not None else layer.lossless_accumulator())


def accumulator_is_lossless(layer: DenseLayer) -> bool:
    """Public form of the emulator's check that the layer's products enter the accumulator
    unrounded and its sums are exact (wrapping, or provably never overflowing): then the exact
    integer sum modulo ``2**accum_t.width`` is the layer's accumulator, in any order."""
    return _accum_is_lossless(layer)


def accumulator_is_modular(layer: DenseLayer) -> bool:
    """Every sum of the layer is exact modulo ``2**accum_t.width`` whatever the order: the
    accumulator wraps, or (rounding nothing) it holds every partial sum.  Otherwise the
    schedule's order of saturating additions decides the result."""
    return layer.accum_type.overflow == Overflow.WRAP or _accum_is_lossless(layer)


def _dense(layer: DenseLayer, x: np.ndarray) -> np.ndarray:
    acc_t = layer.accum_type
    bias = acc_t.requantize(layer.bias, layer.bias_type.frac)
    prod_frac = layer.input_type.frac + layer.weight_type.frac
    if _accum_is_lossless(layer):
        wraps = acc_t.overflow == Overflow.WRAP
        sums = _matmul_exact(x, layer.weights, layer.input_type, modular=wraps and acc_t.uses_int64)
        if wraps:
            acc = acc_t.requantize(sums, prod_frac)
        else:  # lossless: the accumulator holds every sum, no overflow
            acc = sums if acc_t.uses_int64 or sums.dtype == object else sums.astype(object)
            acc = acc << (acc_t.frac - prod_frac)
        acc = acc_t.requantize(acc + bias[None, :], acc_t.frac)
    else:
        acc = _dense_in_schedule_order(layer, x, bias, prod_frac)
    return layer.result_type.requantize(acc, acc_t.frac)


def _dense_in_schedule_order(layer: DenseLayer, x: np.ndarray, bias: np.ndarray, prod_frac: int) -> np.ndarray:
    """The firmware's accumulation in the order of the layer's schedule (exact, slower).

    Cycle by cycle every lane adds ``accum_t(x[i] * w)`` to the register of its output segment
    (no two lanes of one cycle share a register, so a cycle is one vectorised step); then the
    schedule's adder levels add the registers to the biases (:mod:`fpga_aware.core.schedule`).
    """
    acc_t = layer.accum_type
    sched = layer.schedule
    _, _, w = layer.terms()
    xs = _wide_operands(x, layer.input_type, layer.weight_type)
    batch = x.shape[0]
    nodes = np.zeros((batch, layer.n_out + sched.n_registers), dtype=np.int64 if acc_t.uses_int64 else object)
    nodes[:, : layer.n_out] = bias[None, :]
    regs = nodes[:, layer.n_out :]  # a view: the registers
    for c in range(sched.n_cycles):
        terms = np.arange(c, sched.n_terms, sched.n_cycles)  # lane-major: the terms of cycle c
        products = acc_t.requantize(xs[:, sched.ins[terms]] * w[terms][None, :], prod_frac)
        r = sched.register[terms]
        regs[:, r] = acc_t.requantize(regs[:, r] + products, acc_t.frac)
    for dst, src in sched.combine_levels:
        nodes[:, dst] = acc_t.requantize(nodes[:, dst] + nodes[:, src], acc_t.frac)
    return nodes[:, : layer.n_out]


def _wide_operands(x: np.ndarray, x_type: FixedType, w_type: FixedType) -> np.ndarray:
    """``x`` as Python ints when a product with a ``w_type`` value may not fit in int64."""
    return x.astype(object) if x_type.width + w_type.width > INT64_WIDTH else x


# ---------------------------------------------------------------------- activations
def _activation(layer: ActivationLayer, x: np.ndarray) -> np.ndarray:
    if activation(layer.function).uses_table:
        y = layer.table.lookup(x)
        tail = layer.linear
        if tail is not None:  # y = result_t(x * slope) where m >= threshold (the product is exact)
            above = x >= tail.threshold
            if above.any():
                xs = _wide_operands(x[above], layer.input_type, tail.slope_type)
                y[above] = layer.result_type.requantize(xs * int(tail.slope),
                                                        layer.input_type.frac + tail.slope_type.frac)
        return y
    return ACTIVATION_RULES[layer.function].integer(layer, x)


def _linear_plan(layer: ActivationLayer) -> _Plan:
    result_t, input_t = layer.result_type, layer.input_type
    return lambda x: result_t.cast_values(x, input_t)


ACTIVATION_RULES.register("linear")(EmulatorRule(
    integer=lambda layer, x: layer.result_type.requantize(x, layer.input_type.frac), plan=_linear_plan))
ACTIVATION_RULES.register("relu")(EmulatorRule(
    integer=lambda layer, x: layer.result_type.requantize(np.maximum(x, 0), layer.input_type.frac),
    plan=lambda layer: layer.result_type.relu_values))


def _softmax(layer: SoftmaxLayer, x: np.ndarray) -> np.ndarray:
    f_in = layer.input_type.frac
    diff = layer.diff_type.requantize(x - x.max(axis=1, keepdims=True), f_in)
    e = layer.exp_table.lookup(diff)
    s = np.zeros(x.shape[0], dtype=np.int64 if layer.sum_type.uses_int64 else object)
    for j in range(e.shape[1]):  # sequential, as the firmware accumulates
        s = layer.sum_type.requantize(s + e[:, j], layer.exp_type.frac)
    r = layer.inv_table.lookup(s)
    return layer.result_type.requantize(e * r[:, None], layer.exp_type.frac + layer.inv_type.frac)


def _scale_shift(layer: ScaleShiftLayer, x: np.ndarray) -> np.ndarray:
    acc_t = layer.accum_type
    xs = _wide_operands(x, layer.input_type, layer.scale_type)
    product = acc_t.requantize(xs * layer.scale[None, :], layer.input_type.frac + layer.scale_type.frac)
    shift = acc_t.requantize(layer.shift, layer.shift_type.frac)
    acc = acc_t.requantize(product + shift[None, :], acc_t.frac)
    return layer.result_type.requantize(acc, acc_t.frac)


# ---------------------------------------------------------------------- parametric ReLU
def _parametric_relu(layer: ParametricReLULayer, x: np.ndarray) -> np.ndarray:
    """``x > threshold ? result_t(x) : result_t(negative_t(x * alpha))`` on mantissas (any width)."""
    in_t, alpha_t, result_t, neg_t = layer.input_type, layer.alpha_type, layer.result_type, layer.negative_type
    xs = _wide_operands(x, in_t, alpha_t)
    alpha = layer.alpha if xs.dtype != object else np.asarray(layer.alpha).astype(object)
    product = xs * alpha[None, :]  # exact: int64 below 2**62, else Python ints
    product_frac = in_t.frac + alpha_t.frac
    if neg_t is not None:
        product = neg_t.requantize(product, product_frac)
        product_frac = neg_t.frac
    negative = result_t.requantize(product, product_frac)
    positive = result_t.requantize(x, in_t.frac)
    return np.where(x > layer.threshold, positive, negative)


def _parametric_relu_plan(layer: ParametricReLULayer) -> "_Plan | None":
    """Float64 when the product has at most 53 significant bits (exact); every cast by ``round_values``."""
    in_t, alpha_t, result_t, neg_t = layer.input_type, layer.alpha_type, layer.result_type, layer.negative_type
    if in_t.width + alpha_t.width > 53 or max(abs(in_t.frac), abs(alpha_t.frac)) > _FUSE_MAX_FRAC:
        return None
    alpha = alpha_t.to_float(layer.alpha)[None, :]
    threshold = layer.threshold_value  # an integer count of input LSBs: exact

    def parametric_relu(x: np.ndarray) -> np.ndarray:
        product = x * alpha  # exact: at most 53 significant bits
        if neg_t is not None:
            product = neg_t.round_values(product)
        return np.where(x > threshold, result_t.cast_values(x, in_t), result_t.round_values(product))

    return parametric_relu


# ---------------------------------------------------------------------- the rules of each kind
EMULATOR_RULES.register("dense")(EmulatorRule(integer=_dense, plan=_dense_plan))
EMULATOR_RULES.register("activation")(EmulatorRule(integer=_activation, plan=_activation_plan))
EMULATOR_RULES.register("softmax")(EmulatorRule(integer=_softmax, plan=_softmax_plan))
EMULATOR_RULES.register("scale_shift")(EmulatorRule(integer=_scale_shift))  # rare: the integer path


# ---------------------------------------------------------------------- step (QKeras step quantizers)
def _step(layer: StepLayer, x: np.ndarray) -> np.ndarray:
    """``levels[#{t in thresholds: x >= t}]``, on mantissas (exact for any width)."""
    thresholds = layer.thresholds
    if x.dtype != object and thresholds.dtype != object:
        k = np.searchsorted(thresholds, x, side="right")
    else:
        k = np.zeros(x.shape, dtype=np.int64)
        for t in thresholds:
            k += (x >= t).astype(np.int64)
    return layer.levels[k]


def _step_plan(layer: StepLayer) -> _Plan:
    thresholds = layer.input_type.to_float(layer.thresholds)  # float-exact types only (see _plan)
    levels = layer.result_type.to_float(layer.levels)
    return lambda x: levels[np.searchsorted(thresholds, x, side="right")]


EMULATOR_RULES.register("step")(EmulatorRule(integer=_step, plan=_step_plan))
EMULATOR_RULES.register("parametric_relu")(EmulatorRule(integer=_parametric_relu, plan=_parametric_relu_plan))


# ---------------------------------------------------------------------- windowed kinds (sim/windowed.py)
EMULATOR_RULES.register("conv")(EmulatorRule(integer=lambda layer, x: _windowed.conv_integer(layer, x, _dense),
                                             plan=lambda layer: _windowed.conv_plan(layer, _dense_plan, _channelwise_plan)))
EMULATOR_RULES.register("pooling")(EmulatorRule(integer=_windowed.pooling_integer, plan=_windowed.pooling_plan))
EMULATOR_RULES.register("reorder")(EmulatorRule(integer=_windowed.reorder_integer, plan=_windowed.reorder_plan))
