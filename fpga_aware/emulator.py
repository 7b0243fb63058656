"""Bit-exact numpy emulation of the generated firmware, vectorised over the batch.

It reads the same :class:`~fpga_aware.ir.ModelIR` as the HLS writer and performs the arithmetic
the IR documents, on integer mantissas (all rounding and overflow through
:mod:`fpga_aware.fixed`).  Dense layers use a float64 BLAS product while every partial sum is
provably below 2**53 (so it is exact), and an integer product otherwise.  Accumulators whose
products would be rounded, or that saturate and might overflow, are emulated term by term in the
firmware's accumulation order.
"""

from __future__ import annotations

import numpy as np

from .fixed import FixedType, Overflow
from .ir import (
    ActivationLayer,
    DenseLayer,
    InputLayer,
    Layer,
    ModelIR,
    ScaleShiftLayer,
    SoftmaxLayer,
)

__all__ = ["Emulator", "emulate", "InputShapeError"]

_FLOAT_EXACT_LIMIT = 2**53


class InputShapeError(ValueError):
    """The array passed to ``predict`` does not match the model's input shape."""


def _as_batch(ir: ModelIR, x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    shape = ir.input.shape
    n_in = ir.n_inputs
    if arr.ndim >= 1 and arr.shape[1:] == tuple(shape):
        return arr.reshape(arr.shape[0], n_in)
    if arr.ndim == 2 and arr.shape[1] == n_in:
        return arr
    if arr.ndim == 1 and arr.shape[0] == n_in:
        return arr.reshape(1, n_in)
    raise InputShapeError(
        f"input of shape {arr.shape} does not match the model input {(None, *shape)} "
        f"(expected (batch, {', '.join(map(str, shape))}) or (batch, {n_in}))"
    )


class Emulator:
    """Evaluates a :class:`ModelIR` exactly; ``predict`` returns float64 outputs."""

    def __init__(self, ir: ModelIR):
        self.ir = ir

    # ------------------------------------------------------------------ public
    def predict(self, x) -> np.ndarray:
        trace = self.trace(x, keep=False)
        out_layer = self.ir.output
        return out_layer.result_type.to_float(trace[out_layer.name])

    def trace(self, x, keep: bool = True) -> dict[str, np.ndarray]:
        """Mantissas of every layer's output (``keep=False`` keeps only the last)."""
        batch = _as_batch(self.ir, x)
        results: dict[str, np.ndarray] = {}
        values = None
        for layer in self.ir.layers:
            values = self._layer(layer, batch if values is None else values)
            if keep:
                results[layer.name] = values
        results[self.ir.output.name] = values
        return results

    def trace_values(self, x) -> dict[str, np.ndarray]:
        """Real values of every layer's output."""
        return {
            name: self.ir.layer(name).result_type.to_float(m) for name, m in self.trace(x).items()
        }

    # ------------------------------------------------------------------ layers
    def _layer(self, layer: Layer, x: np.ndarray) -> np.ndarray:
        if isinstance(layer, InputLayer):
            return layer.result_type.from_float(x)
        if isinstance(layer, DenseLayer):
            return _dense(layer, x)
        if isinstance(layer, SoftmaxLayer):
            return _softmax(layer, x)
        if isinstance(layer, ActivationLayer):
            return _activation(layer, x)
        if isinstance(layer, ScaleShiftLayer):
            return _scale_shift(layer, x)
        raise TypeError(f"the emulator has no rule for layer {layer.name!r} ({type(layer).__name__})")


def emulate(ir: ModelIR, x) -> np.ndarray:
    return Emulator(ir).predict(x)


# ---------------------------------------------------------------------- dense
def _matmul_exact(x: np.ndarray, w: np.ndarray, x_type: FixedType) -> np.ndarray:
    """Exact integer ``x @ w`` for int64 mantissas."""
    if w.size == 0 or x.shape[0] == 0:
        return np.zeros((x.shape[0], w.shape[1]), dtype=np.int64)
    x_max = max(abs(x_type.min_mantissa), abs(x_type.max_mantissa))
    bound = x_max * int(np.abs(w).sum(axis=0).max(initial=0))
    if bound < _FLOAT_EXACT_LIMIT:
        return (x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return x @ w  # int64 matmul (no BLAS, still exact: the accumulator width bounds it)


def _accum_is_lossless(layer: DenseLayer) -> bool:
    """Products enter the accumulator unrounded and wrapping (modular) or provably no overflow."""
    a = layer.accum_type
    if a.frac < layer.input_type.frac + layer.weight_type.frac or a.frac < layer.bias_type.frac:
        return False
    if a.overflow == Overflow.WRAP:
        return True
    from .parser import exact_accumulator  # local: the bound is the parser's rule

    needed = exact_accumulator(layer.weights, layer.weight_type.frac, layer.bias, layer.bias_type.frac, layer.input_type)
    return a.contains(needed)


def _dense(layer: DenseLayer, x: np.ndarray) -> np.ndarray:
    acc_t = layer.accum_type
    bias = acc_t.requantize(layer.bias, layer.bias_type.frac)
    prod_frac = layer.input_type.frac + layer.weight_type.frac
    if _accum_is_lossless(layer):
        sums = _matmul_exact(x, layer.weights, layer.input_type)
        acc = acc_t.requantize(sums, prod_frac) if acc_t.overflow == Overflow.WRAP else sums << (acc_t.frac - prod_frac)
        acc = acc_t.apply_overflow(acc + bias[None, :])
    else:
        acc = _dense_term_by_term(layer, x, bias, prod_frac)
    return layer.result_type.requantize(acc, acc_t.frac)


def _dense_term_by_term(layer: DenseLayer, x: np.ndarray, bias: np.ndarray, prod_frac: int) -> np.ndarray:
    """``acc += accum_t(x[i] * w)`` in the firmware's order, one term at a time (exact, slower)."""
    acc_t = layer.accum_type
    acc = np.repeat(bias[None, :], x.shape[0], axis=0)
    outs, ins, w = layer.terms()
    for o, i, wv in zip(outs, ins, w):
        product = acc_t.requantize(x[:, i] * int(wv), prod_frac)
        acc[:, o] = acc_t.apply_overflow(acc[:, o] + product)
    return acc


# ---------------------------------------------------------------------- activations
def _activation(layer: ActivationLayer, x: np.ndarray) -> np.ndarray:
    f_in = layer.input_type.frac
    if layer.function == "linear":
        return layer.result_type.requantize(x, f_in)
    if layer.function == "relu":
        return layer.result_type.requantize(np.maximum(x, 0), f_in)
    if layer.function in ("sigmoid", "tanh"):
        return layer.table.lookup(x)
    raise TypeError(f"the emulator has no rule for activation {layer.function!r} of layer {layer.name!r}")


def _softmax(layer: SoftmaxLayer, x: np.ndarray) -> np.ndarray:
    f_in = layer.input_type.frac
    diff = layer.diff_type.requantize(x - x.max(axis=1, keepdims=True), f_in)
    e = layer.exp_table.lookup(diff)
    s = np.zeros(x.shape[0], dtype=np.int64)
    for j in range(e.shape[1]):  # sequential, as the firmware accumulates
        s = layer.sum_type.requantize(s + e[:, j], layer.exp_type.frac)
    r = layer.inv_table.lookup(s)
    return layer.result_type.requantize(e * r[:, None], layer.exp_type.frac + layer.inv_type.frac)


def _scale_shift(layer: ScaleShiftLayer, x: np.ndarray) -> np.ndarray:
    acc_t = layer.accum_type
    product = acc_t.requantize(x * layer.scale[None, :], layer.input_type.frac + layer.scale_type.frac)
    shift = acc_t.requantize(layer.shift, layer.shift_type.frac)
    acc = acc_t.apply_overflow(product + shift[None, :])
    return layer.result_type.requantize(acc, acc_t.frac)
