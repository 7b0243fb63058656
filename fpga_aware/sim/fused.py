"""The emulator's buffered program for the common stacks ``input -> (Dense -> ReLU)* -> Dense -> ...``.

:func:`fused_program` compiles, once per :class:`~fpga_aware.sim.emulator.Emulator`, the prefix
of a model made of fused dense + ReLU layers (and the dense layer after them) into stages that
work on preallocated per-chunk buffers, so that a chunk costs one BLAS product and three
elementwise passes per layer, without fresh temporaries (each of those costs page faults):

* every buffer that feeds a product has one extra column of ones, and every weight matrix one
  extra row, the bias: the product adds the bias itself (one pass less);
* every fused layer's product writes the first columns of its buffer (a view BLAS writes
  directly); the last column holds ones, set once, and stays 1 through rounding and ReLU, so the
  buffer is the next product's input as it is (an output column of ones computed by the product
  cost 10-30 % of these small products);
* a softmax after the last dense layer reads that product's sums directly (:class:`_SoftmaxTail`);
* the input conversion, the last product's finish and the layers after the products run on the
  whole chunk (thousands of rows: a few numpy calls per chunk), the products block by block.

Why it is exact: the same proofs as the float plans of :mod:`fpga_aware.sim.emulator`.  Every
term of a product (input mantissa times scaled weight, or 1 times the scaled bias) is an
integer multiple of the sum's LSB, and the sum of the magnitudes of a column's terms (the
accumulator bound, bias included) stays below 2**53 LSBs (2**24 for a float32 product), so every
partial sum is exact, in any order BLAS chooses.  The layers after the prefix run the emulator's
float plans unchanged.
"""

from __future__ import annotations

import math
import queue
from dataclasses import dataclass
from typing import Callable

import numpy as np

from fpga_aware.core.fixed import FixedType, Rounding, round_float
from fpga_aware.core.ir import ActivationLayer, DenseLayer, Layer

__all__ = ["CHUNK_ROWS", "FusedProgram", "NonFiniteInput", "fused_program"]

#: Rounding modes that are one numpy ufunc without arithmetic: exact on float32 too, and able to
#: write into a float64 buffer straight from a float32 product.
_PLAIN_ROUNDING = {Rounding.TRN: np.floor, Rounding.TRN_ZERO: np.trunc, Rounding.RND_CONV: np.rint}


@dataclass
class _Buffers:
    """One chunk's buffers of one stage: the product (rounded and ReLU'd in place) and the next
    product's input (the product itself when their dtypes match)."""

    product: np.ndarray
    next_in: np.ndarray
    zeros: np.ndarray  # the product's shape: numpy's maximum with a full array is ~1.6x faster than with 0.0


class _DenseReluStage:
    """``relu(dense(x))`` as the next product's input: the result type's mantissas plus a ones column.

    ``weights``: ``(n_in + 1, n_out)``, the bias in the last row.  The sums come out as the
    ReLU result's unrounded mantissas (see ``_dense_relu_spec``).  The product writes the first
    ``n_out`` columns of a ``(rows, n_out + 1)`` buffer whose last column holds ones (set once:
    rounding and ReLU keep a 1), so the buffer is the next product's input as it is; BLAS writes
    such a view directly (its leading dimension is ``n_out + 1``), and the rounding and the ReLU
    work on the whole contiguous buffer (numpy is several times slower on a strided view).  They
    work in place in the product's dtype: a float32 product has plain rounding only
    (:data:`_PLAIN_ROUNDING`, exact on float32), so one buffer serves all steps.
    """

    def __init__(self, weights: np.ndarray, result_t: FixedType, may_overflow: bool, next_dtype: np.dtype):
        self.weights = weights
        self.result_t = result_t
        self.may_overflow = may_overflow
        self.next_dtype = np.dtype(next_dtype)
        self.top = float(result_t.max_mantissa)
        self._round = _PLAIN_ROUNDING.get(result_t.rounding)
        if self._round is None and weights.dtype != np.float64:
            raise ValueError("a float32 product needs a plain rounding mode (fused_program decides the dtypes)")

    @property
    def n_cols(self) -> int:
        """Columns of the output buffer: the layer's outputs and the ones column."""
        return self.weights.shape[1] + 1

    def buffers(self, rows: int) -> _Buffers:
        product = np.empty((rows, self.n_cols), dtype=self.weights.dtype)
        product[:, -1] = 1.0
        next_in = product if self.next_dtype == product.dtype else np.empty(product.shape, dtype=self.next_dtype)
        return _Buffers(product, next_in, np.zeros(product.shape, dtype=product.dtype))

    def __call__(self, x: np.ndarray, buf: _Buffers) -> np.ndarray:
        rows = x.shape[0]
        product, next_in = buf.product[:rows], buf.next_in[:rows]
        np.matmul(x, self.weights, out=product[:, :-1])
        if self._round is not None:
            self._round(product, out=product)
        else:  # float64 only
            product[...] = round_float(product, self.result_t.rounding, in_place=True)
        # Rounding is monotone and maps 0 to 0: the ReLU may come after it (as in _dense_relu_plan)
        zeros = buf.zeros[:rows]
        if self.may_overflow and rows and product.max() > self.top:
            self._relu_overflow(product, zeros)
            if next_in is not product:
                np.copyto(next_in, product)  # a float32 next_in: mantissas of at most 24 bits, exact
        else:
            np.maximum(product, zeros, out=next_in)  # a float32 next_in: integers below 2**24, exact
        return next_in

    def _relu_overflow(self, values: np.ndarray, zeros: np.ndarray) -> None:
        """The rare case: some sums overflow the result type.  Every overflow mode keeps the values
        in range, so only the others go through it (a few per chunk, typically), in float64
        (exact: integral sums below 2**53; the results are in range, exact in ``values``' dtype)."""
        np.maximum(values, zeros, out=values)
        flat = values.reshape(-1)  # a view: the buffer is C-contiguous
        over = np.flatnonzero(flat > self.top)
        picked = flat[over].astype(np.float64)
        flat[over] = self.result_t._overflow_float(picked, 0.0, float(picked.max()))
        values[:, -1] = 1.0  # the ones column is no value of the layer (it overflows only if top < 1)


class _DenseStage:
    """The dense layer after the fused ones: its exact sums as real values, then its result type."""

    def __init__(self, weights: np.ndarray, finish: Callable[[np.ndarray], np.ndarray]):
        self.weights = weights
        self.finish = finish

    def __call__(self, x: np.ndarray, out: np.ndarray) -> None:
        np.matmul(x, self.weights, out=out)


#: Rows per product.  Measured on the jet tagger with OpenBLAS, 10 k rows, 2 cores, BLAS not
#: limited: 256 -> 4.0 ms, 512 -> 3.3 ms, 1024 (one block per chunk) -> 3.1 ms (with every stage
#: rounding in place, a chunk's buffers fit the caches at 1024 rows too).
_BLOCK_ROWS = 1024

#: Most rows per chunk (its workspace: the input buffer, the final sums and the softmax's
#: indices, about 200 bytes per row for the jet tagger).  ``Emulator.predict`` gives the program
#: the whole batch up to this size when it runs on one thread: the input conversion and the
#: layers after the products then cost a few numpy calls per batch, not per 1024 rows.
CHUNK_ROWS = 16384


class NonFiniteInput(ValueError):
    """The chunk holds NaN or infinity (the caller names the rows: :func:`~fpga_aware.sim.inputs.check_finite`)."""


class _Workspace:
    """One chunk's buffers, reused across calls (and threads, one chunk at a time)."""

    def __init__(self, program: "FusedProgram", rows: int):
        self.rows = rows
        self.x = np.empty((rows, program.n_in + 1), dtype=program.in_dtype)
        self.x[:, -1] = 1.0
        # the input conversion works here (contiguous: numpy is several times slower on the
        # strided view self.x[:, :-1]), then one copy into self.x
        self.x_in = np.empty((rows, program.n_in)) if program._convert_in_place else None
        self.blocks = [stage.buffers(min(rows, _BLOCK_ROWS)) for stage in program.stages]
        if program.final is not None:
            self.sums = np.empty((rows, program.final.weights.shape[1]), dtype=program.final.weights.dtype)
        else:
            last = program.stages[-1]
            self.sums = np.empty((rows, last.n_cols), dtype=last.next_dtype)
        self.tail = program.softmax.buffers(rows) if program.softmax is not None else None


class FusedProgram:
    """Input conversion, buffered dense stages, then the remaining float plans (real values).

    A chunk's input conversion and the layers after the prefix run on the whole chunk (fewer
    calls); its products run block by block (:data:`_BLOCK_ROWS` rows, cache-sized).  A softmax
    right after the last dense layer is :class:`_SoftmaxTail` (``softmax``), which reads the
    products' sums as they are and writes the outputs.

    NaN and infinity: the input conversion sees them (its min and max are not finite) and raises
    :class:`NonFiniteInput`, so ``predict`` need not scan the batch for them beforehand.
    """

    def __init__(self, input_t: FixedType, in_dtype: np.dtype, stages: list, final: "_DenseStage | None",
                 tail: list[Callable], softmax: "_SoftmaxTail | None" = None):
        self.input_t = input_t
        self.in_dtype = np.dtype(in_dtype)
        self.n_in = (stages[0] if stages else final).weights.shape[0] - 1
        self.stages = stages
        self.final = final
        self.tail = tail
        self.softmax = softmax
        # the input conversion straight into the input buffer: mantissas_float's own steps where it
        # takes none of its exact per-value paths (0 <= frac <= 1000), on a float64 buffer
        self._convert_in_place = self.in_dtype == np.float64 and 0 <= input_t.frac <= 1000 and input_t.width <= 53
        self._scale_up = math.ldexp(1.0, input_t.frac)
        self._pool: queue.SimpleQueue = queue.SimpleQueue()  # workspaces, reused across calls and threads

    def _workspace(self, rows: int) -> _Workspace:
        try:
            ws = self._pool.get_nowait()
            if ws.rows >= rows:
                return ws
        except queue.Empty:
            pass
        return _Workspace(self, rows)

    def _convert_input(self, x: np.ndarray, dst: np.ndarray, scratch: "np.ndarray | None") -> None:
        """``dst[...] = input_t.mantissas_float(x)``, through ``scratch`` (a float64 buffer of
        ``x``'s shape) where that is the same arithmetic.

        ``x * 2**frac`` (frac >= 0) is exact unless it overflows; rounding is exact below 2**52;
        a NaN or an infinity makes the min or max non-finite.  Outside that range (huge finite
        doubles), ``mantissas_float`` converts the values exactly.
        """
        t = self.input_t
        if scratch is not None and x.size:
            with np.errstate(over="ignore", invalid="ignore"):
                np.multiply(x, self._scale_up, out=scratch)
            rounded = round_float(scratch, t.rounding, in_place=True)
            lo, hi = np.minimum.reduce(rounded, axis=None), np.maximum.reduce(rounded, axis=None)
            if -_FLOAT_SAFE < lo and hi < _FLOAT_SAFE:  # False for NaN
                np.copyto(dst, t._overflow_float(rounded, lo, hi))
                return
            if not (math.isfinite(lo) and math.isfinite(hi)) and not np.isfinite(x).all():
                raise NonFiniteInput
        elif not np.isfinite(x).all():
            raise NonFiniteInput
        dst[...] = t.mantissas_float(x)  # exact in float32 where used (<= 24 bits)

    def __call__(self, x: np.ndarray, out: np.ndarray) -> None:
        """Writes the real float64 outputs of a chunk of doubles ``x`` into ``out``."""
        rows = x.shape[0]
        ws = self._workspace(rows)
        try:
            x_buf, sums = ws.x[:rows], ws.sums[:rows]
            self._convert_input(x, x_buf[:, :-1], None if ws.x_in is None else ws.x_in[:rows])
            block = -(-rows // -(-rows // _BLOCK_ROWS)) if rows else 1  # equal blocks of at most _BLOCK_ROWS
            for start in range(0, rows, block):
                values = x_buf[start:start + block]
                for stage, buf in zip(self.stages, ws.blocks):
                    values = stage(values, buf)
                if self.final is not None:
                    self.final(values, sums[start:start + block])
                else:
                    sums[start:start + block] = values
            if self.softmax is not None:
                self.softmax(sums, out, ws.tail)
                return
            if self.final is not None:
                values = self.final.finish(sums.astype(np.float64, copy=False))
            else:  # the last fused layer's mantissas (no ones column) as real values
                values = np.ldexp(sums[:, :-1].astype(np.float64), -self.stages[-1].result_t.frac)
            for step in self.tail:
                values = step(values)
            out[...] = values  # before the workspace goes back: values may be one of its buffers
        finally:
            self._pool.put(ws)


_FLOAT_SAFE = 2.0**52  # as in fpga_aware.core.fixed: below it, rounding float mantissas is exact


class _SoftmaxTail:
    """The model's last two layers, ``Dense`` then ``softmax``, from the dense's exact sums.

    The final product's weights are scaled so that its sums ``S`` are the dense outputs in units
    of the exp table's bins (``x * 2**(frac - shift)``; the dense's result type holds its sum,
    so these are the softmax inputs exactly).  Then, on the whole chunk:

    * ``S - (max(S) + offset)``: exact (multiples of ``2**-shift`` below 2**52 of them, checked
      when built); its integer part, clipped to the table, is the table index.  Converting to
      integers truncates toward zero instead of rounding down, which differs only below 0, where
      both clip to 0;
    * the row sums of the exp values as one matrix-vector product with the inverse table's scale
      as the vector (exact in any order: every partial sum is a value of ``sum_t``, a power-of-two
      scale), then the inverse table's index the same way;
    * ``e * (r * 2**frac)`` (exact: at most 53 bits), rounded, times ``2**-frac`` into ``out``;
      no overflow (built only where the result type holds ``max(e) * max(r)``).

    The same values as the float plans ``_dense_plan`` and ``_softmax_plan`` (and the integer rule).
    """

    def __init__(self, layer, n_out: int):
        exp_t, inv_t = layer.exp_table, layer.inv_table
        self.exp_offset = float(exp_t.offset)
        self.exp_values = exp_t.value_type.to_float(exp_t.values)
        self.inv_offset = float(inv_t.offset)
        result_t = layer.result_type
        self.inv_values = np.ldexp(inv_t.value_type.to_float(inv_t.values), result_t.frac)  # exact: a power of two
        self.sum_scale = np.full(n_out, math.ldexp(1.0, layer.sum_type.frac - inv_t.shift))
        self.down = math.ldexp(1.0, -result_t.frac)
        self.rounding = result_t.rounding
        self._round = _PLAIN_ROUNDING.get(result_t.rounding)

    @staticmethod
    def sum_exponent(layer) -> int:
        """The power of two the final product's sums are scaled by: the softmax input's frac minus the exp table's shift."""
        return layer.input_type.frac - layer.exp_table.shift

    @staticmethod
    def applies(layer, dense: DenseLayer, ops) -> bool:
        """Whether the tail is exact for this softmax after this dense layer (``ops``: its operands)."""
        if layer.kind != "softmax" or ops.wraps or not dense.result_type.contains(ops.needed):
            return False
        if layer.input_type != dense.result_type:
            return False
        in_t, diff_t, sum_t, result_t = layer.input_type, layer.diff_type, layer.sum_type, layer.result_type
        exp_tab, inv_tab = layer.exp_table, layer.inv_table
        exp_t, inv_t = exp_tab.value_type, inv_tab.value_type
        if exp_tab.outer is not None or inv_tab.outer is not None:
            return False
        if not (diff_t.signed and diff_t.frac == in_t.frac and diff_t.width > in_t.width and diff_t.width <= 53):
            return False
        if not (0 <= exp_tab.shift <= 60 and 0 <= inv_tab.shift <= 60 and abs(in_t.frac) <= 300
                and abs(sum_t.frac) <= 300 and abs(result_t.frac) <= 300):
            return False
        # S - (max + offset) in units of 2**-shift, and the sums' index, well below 2**52
        if (1 << diff_t.width) + (abs(exp_tab.offset) << exp_tab.shift) >= 2**52:
            return False
        if sum_t.width > 53 or (1 << sum_t.width) + (abs(inv_tab.offset) << inv_tab.shift) >= 2**52:
            return False
        # "plain": the product is exact and the result type holds it (no overflow scan)
        return (not exp_t.signed and not inv_t.signed and result_t.width <= 53 and exp_t.width + inv_t.width <= 53
                and exp_t.max_value * inv_t.max_value <= result_t.max_value)

    def buffers(self, rows: int) -> tuple:
        n = self.sum_scale.shape[0]
        return (np.empty(rows), np.empty((rows, n), dtype=np.intp), np.empty(rows), np.empty(rows, dtype=np.intp),
                np.empty(rows), np.empty((rows, n)))

    def __call__(self, sums: np.ndarray, out: np.ndarray, buffers: tuple) -> None:
        rows = sums.shape[0]
        m, idx, s, sidx, r, e = (b[:rows] for b in buffers)
        if sums.dtype != np.float64:
            sums = sums.astype(np.float64)  # float32 sums: exact in float64
        np.copyto(m, sums[:, 0])
        for j in range(1, sums.shape[1]):
            np.maximum(m, sums[:, j], out=m)
        if self.exp_offset:
            m += self.exp_offset  # exact: see the class doc
        np.subtract(sums, m[:, None], out=sums)
        np.copyto(idx, sums, casting="unsafe")  # truncates: see the class doc
        self.exp_values.take(idx, mode="clip", out=e)
        np.matmul(e, self.sum_scale, out=s)
        if self.inv_offset:
            s -= self.inv_offset
        np.copyto(sidx, s, casting="unsafe")  # s >= 0 less the offset: truncation as above
        self.inv_values.take(sidx, mode="clip", out=r)
        np.multiply(e, r[:, None], out=e)
        if self._round is not None:
            self._round(e, out=e)
        else:
            e = round_float(e, self.rounding, in_place=True)
        np.multiply(e, self.down, out=out)


# ---------------------------------------------------------------------- compilation
def _augmented(weights: np.ndarray, bias: np.ndarray, ones_out: bool, dtype) -> np.ndarray:
    """``[[weights, 0], [bias, 1]]`` (without the last column unless ``ones_out``), in ``dtype``."""
    n_in, n_out = weights.shape
    w = np.zeros((n_in + 1, n_out + int(ones_out)), dtype=np.float64)
    w[:n_in, :n_out] = weights
    w[n_in, :n_out] = bias
    if ones_out:
        w[n_in, n_out] = 1.0
    return np.ascontiguousarray(w.astype(dtype))  # exact: the operands decided the dtype


def fused_program(layers: list[Layer], plans: list, helpers) -> "FusedProgram | None":
    """The buffered program of ``layers`` (``plans``: the emulator's float plans, one per layer, the
    input's ``None``), or ``None`` when the model does not start with fused dense + ReLU layers or
    a dense layer.  ``helpers``: the emulator module (its proofs: ``_dense_relu_spec``,
    ``_dense_operands``, ``_float32_exact``, ``_dense_finish``)."""
    input_t = layers[0].result_type
    i, in_exp = 1, input_t.frac
    in_float32 = None  # decided by the first product
    specs = []
    while i + 1 < len(layers) and layers[i].kind == "dense" and layers[i + 1].kind == "activation":
        spec = helpers._dense_relu_spec(layers[i], layers[i + 1], in_exp)
        if spec is None:
            break
        specs.append(spec)
        in_exp = layers[i + 1].result_type.frac
        i += 2
    final = None
    if i < len(layers) and layers[i].kind == "dense":
        final = helpers._dense_operands(layers[i], w_exp=-in_exp)
        if final is not None and abs(in_exp) <= helpers._FUSE_MAX_FRAC:
            i += 1
        else:
            final = None
    if not specs and final is None:
        return None
    if any(plan is None for plan in plans[i:]):
        return None

    # dtypes: a float32 product needs its whole sum, bias included, below 2**24 LSBs, and its
    # input of at most 24 bits; plain rounding only (see _PLAIN_ROUNDING)
    dtypes = [np.float32 if spec.sum_float32 else np.float64 for spec in specs]
    if final is not None:
        dtypes.append(np.float32 if final.sum_float32 else np.float64)
    in_types = [input_t] + [layers[2 * k + 2].result_type for k in range(len(specs))]
    for k, t in enumerate(in_types[: len(dtypes)]):
        if dtypes[k] == np.float32 and not helpers._float32_exact(t):
            dtypes[k] = np.float64
    for k, spec in enumerate(specs):
        if dtypes[k] == np.float32 and spec.rounding not in _PLAIN_ROUNDING:
            dtypes[k] = np.float64

    stages: list = []
    for k, spec in enumerate(specs):
        next_dtype = dtypes[k + 1] if k + 1 < len(dtypes) else np.float64
        w = _augmented(spec.ops.weights, spec.ops.bias, False, dtypes[k])
        stages.append(_DenseReluStage(w, spec.result_t, spec.may_overflow, next_dtype))
    last, softmax = None, None
    if final is not None:
        dense = layers[i - 1]
        if i + 1 == len(layers) and _SoftmaxTail.applies(layers[i], dense, final):
            # the softmax's tail reads sums in units of its exp table's bins
            e1 = _SoftmaxTail.sum_exponent(layers[i])
            scaled = helpers._dense_operands(dense, w_exp=e1 - in_exp, b_exp=e1)
            if scaled is not None and (dtypes[-1] == np.float64 or scaled.sum_float32):
                final = scaled
                softmax = _SoftmaxTail(layers[i], dense.n_out)
                i += 1
        w = _augmented(final.weights, final.bias, False, dtypes[-1])
        last = _DenseStage(w, helpers._dense_finish(dense, final))
    return FusedProgram(input_t, dtypes[0], stages, last, [plans[j] for j in range(i, len(layers))], softmax)
