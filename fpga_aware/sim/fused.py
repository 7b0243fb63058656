"""The emulator's buffered program for the common stacks ``input -> (Dense -> ReLU)* -> Dense -> ...``.

:func:`fused_program` compiles, once per :class:`~fpga_aware.sim.emulator.Emulator`, the prefix
of a model made of fused dense + ReLU layers (and the dense layer after them) into stages that
work on preallocated per-chunk buffers, so that a chunk costs one BLAS product and three
elementwise passes per layer, without fresh temporaries (each of those costs page faults):

* every buffer that feeds a product has one extra column of ones, and every weight matrix one
  extra row, the bias: the product adds the bias itself (one pass less);
* every fused layer's weight matrix has one extra output column that yields exactly 1 (weight 1
  on the ones input, 0 elsewhere), which stays 1 through rounding and ReLU: the layer writes the
  next layer's ones column for free, and its buffer is the next product's input as it is.

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

__all__ = ["FusedProgram", "fused_program"]

#: Rounding modes that are one numpy ufunc without arithmetic: exact on float32 too, and able to
#: write into a float64 buffer straight from a float32 product.
_PLAIN_ROUNDING = {Rounding.TRN: np.floor, Rounding.TRN_ZERO: np.trunc, Rounding.RND_CONV: np.rint}


@dataclass
class _Buffers:
    """One chunk's buffers of one stage: the product (rounded and ReLU'd in place) and the next
    product's input (the product itself when their dtypes match)."""

    product: np.ndarray
    next_in: np.ndarray


class _DenseReluStage:
    """``relu(dense(x))`` as the next product's input: the result type's mantissas plus a ones column.

    ``weights``: ``(n_in + 1, n_out + 1)``, the bias in the last row, the ones column last.  The
    sums come out as the ReLU result's unrounded mantissas (see ``_dense_relu_spec``).  The
    rounding and the ReLU work in place in the product's dtype: a float32 product has plain
    rounding only (:data:`_PLAIN_ROUNDING`, exact on float32), so one buffer serves all steps.
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
        return self.weights.shape[1]

    def buffers(self, rows: int) -> _Buffers:
        product = np.empty((rows, self.n_cols), dtype=self.weights.dtype)
        next_in = product if self.next_dtype == product.dtype else np.empty(product.shape, dtype=self.next_dtype)
        return _Buffers(product, next_in)

    def __call__(self, x: np.ndarray, buf: _Buffers) -> np.ndarray:
        rows = x.shape[0]
        product, next_in = buf.product[:rows], buf.next_in[:rows]
        np.matmul(x, self.weights, out=product)
        if self._round is not None:
            self._round(product, out=product)
        else:  # float64 only
            product[...] = round_float(product, self.result_t.rounding, in_place=True)
        # Rounding is monotone and maps 0 to 0: the ReLU may come after it (as in _dense_relu_plan)
        if self.may_overflow and rows and product.max() > self.top:
            self._relu_overflow(product)
            if next_in is not product:
                np.copyto(next_in, product)  # a float32 next_in: mantissas of at most 24 bits, exact
        else:
            np.maximum(product, 0.0, out=next_in)  # a float32 next_in: integers below 2**24, exact
        return next_in

    def _relu_overflow(self, values: np.ndarray) -> None:
        """The rare case: some sums overflow the result type.  Every overflow mode keeps the values
        in range, so only the others go through it (a few per chunk, typically), in float64
        (exact: integral sums below 2**53; the results are in range, exact in ``values``' dtype)."""
        np.maximum(values, 0.0, out=values)
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


class FusedProgram:
    """Input conversion, buffered dense stages, then the remaining float plans (real values).

    A chunk's input conversion and the layers after the prefix run on the whole chunk (fewer
    calls); its products run block by block (:data:`_BLOCK_ROWS` rows, cache-sized).
    """

    def __init__(self, input_t: FixedType, in_dtype: np.dtype, stages: list, final: "_DenseStage | None",
                 tail: list[Callable]):
        self.input_t = input_t
        self.in_dtype = np.dtype(in_dtype)
        self.n_in = (stages[0] if stages else final).weights.shape[0] - 1
        self.stages = stages
        self.final = final
        self.tail = tail
        self._pool: queue.SimpleQueue = queue.SimpleQueue()  # workspaces, reused across calls and threads

    def _workspace(self, rows: int) -> tuple:
        try:
            ws = self._pool.get_nowait()
            if ws[0].shape[0] >= rows:
                return ws
        except queue.Empty:
            pass
        x_buf = np.empty((rows, self.n_in + 1), dtype=self.in_dtype)
        x_buf[:, -1] = 1.0
        blocks = [stage.buffers(_BLOCK_ROWS) for stage in self.stages]
        if self.final is not None:
            sums = np.empty((rows, self.final.weights.shape[1]), dtype=self.final.weights.dtype)
        else:
            last = self.stages[-1]
            sums = np.empty((rows, last.n_cols), dtype=last.next_dtype)
        return x_buf, blocks, sums

    def __call__(self, x: np.ndarray, out: np.ndarray) -> None:
        """Writes the real float64 outputs of a chunk of doubles ``x`` into ``out``."""
        rows = x.shape[0]
        ws = self._workspace(rows)
        try:
            x_buf, blocks, sums = ws[0][:rows], ws[1], ws[2][:rows]
            x_buf[:, :-1] = self.input_t.mantissas_float(x)  # exact in float32 where used (<= 24 bits)
            for start in range(0, rows, _BLOCK_ROWS):
                values = x_buf[start:start + _BLOCK_ROWS]
                for stage, buf in zip(self.stages, blocks):
                    values = stage(values, buf)
                if self.final is not None:
                    self.final(values, sums[start:start + _BLOCK_ROWS])
                else:
                    sums[start:start + _BLOCK_ROWS] = values
            if self.final is not None:
                values = self.final.finish(sums.astype(np.float64, copy=False))
            else:  # the last fused layer's mantissas (no ones column) as real values
                values = np.ldexp(sums[:, :-1].astype(np.float64), -self.stages[-1].result_t.frac)
            for step in self.tail:
                values = step(values)
            out[...] = values  # before the workspace goes back: values may be one of its buffers
        finally:
            self._pool.put(ws)


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
        w = _augmented(spec.ops.weights, spec.ops.bias, True, dtypes[k])
        stages.append(_DenseReluStage(w, spec.result_t, spec.may_overflow, next_dtype))
    last = None
    if final is not None:
        w = _augmented(final.weights, final.bias, False, dtypes[-1])
        last = _DenseStage(w, helpers._dense_finish(layers[i - 1], final))
    return FusedProgram(input_t, dtypes[0], stages, last, [plans[j] for j in range(i, len(layers))])
