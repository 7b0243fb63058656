"""Emulator rules of the windowed kinds: ``conv`` and ``pooling`` (bit-exact, vectorised over the batch).

A convolution gathers every output pixel's receptive field with the layer's index array
(:attr:`ConvLayer.patch <fpga_aware.core.ir.ConvLayer.patch>`, from
:mod:`fpga_aware.core.windows`; a padding cell reads an appended 0) into a
``(batch * pixels, n_taps * C_in)`` matrix and runs the dense rule of its per-pixel product on
it: the same integer rule (or, when provably exact, the same float64 plan) as a Dense layer, so
the arithmetic is the one :class:`~fpga_aware.core.ir.DenseLayer` documents, per pixel.

Pooling gathers the windows of :attr:`PoolingLayer.windows <fpga_aware.core.ir.PoolingLayer.windows>`
per channel and computes what :class:`~fpga_aware.core.ir.PoolingLayer` documents (average:
exact sum, then the quotient by the window's count truncated toward zero, then the result type).
"""

from __future__ import annotations

import numpy as np

from fpga_aware.core.ir import ConvLayer, PoolingLayer, ReorderLayer
from fpga_aware.core.windows import patch_indices

__all__ = ["conv_integer", "conv_plan", "pooling_integer", "pooling_plan", "gather_patches", "reorder_integer",
           "reorder_plan"]


def gather_patches(layer: ConvLayer, x: np.ndarray, fill=0) -> np.ndarray:
    """``(batch * n_pixels, n_patch)``: every pixel's receptive field (padding cells ``fill``)."""
    batch = x.shape[0]
    padded = np.empty((batch, x.shape[1] + 1), dtype=x.dtype)
    padded[:, :-1] = x
    padded[:, -1] = fill
    # take along axis 1 gives a C-ordered result (``padded[:, patch]`` does not, and its reshape copies)
    return np.take(padded, layer.patch.reshape(-1), axis=1).reshape(batch * layer.n_pixels, layer.n_patch)


def _pixels_to_rows(layer: ConvLayer, y: np.ndarray, batch: int) -> np.ndarray:
    return y.reshape(batch, layer.n_pixels * layer.filters)


def conv_integer(layer: ConvLayer, x: np.ndarray, dense_rule) -> np.ndarray:
    """``dense_rule(dense_layer, mantissas)``: the emulator's integer rule of a dense layer."""
    y = dense_rule(layer.product, gather_patches(layer, x))
    return _pixels_to_rows(layer, y, x.shape[0])


def conv_plan(layer: ConvLayer, dense_plan, channelwise_plan=None):
    """``dense_plan(dense_layer)``: the emulator's float64 plan of a dense layer (or None), run on
    the gathered patches; ``channelwise_plan(dense_layer, C_in)``: the same for a channel-diagonal
    product (a depthwise kernel), or None where the product is not of that form."""
    channels = int(layer.in_shape[-1])
    dense = channelwise_plan(layer.product, channels) if channelwise_plan is not None else None
    if dense is not None and np.array_equal(patch_indices(layer.geometry, channels), layer.patch):
        return _channelwise_conv(layer, dense)
    if dense is None:
        dense = dense_plan(layer.product)
    if dense is None:
        return None

    def conv(x: np.ndarray) -> np.ndarray:
        return _pixels_to_rows(layer, dense(gather_patches(layer, x, 0.0)), x.shape[0])

    return conv


def tap_views(layer: ConvLayer, x: np.ndarray):
    """Per kernel cell (C order, the patch's tap order): a ``(batch, *out_spatial, C_in)`` strided
    view of the zero-padded input holding what that cell reads at every output pixel."""
    g = layer.geometry
    batch, spatial = x.shape[0], g.in_spatial
    reach = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(g.out_spatial, g.strides, g.kernel, g.dilation)]
    size = [max(r, p + n) for r, p, n in zip(reach, g.pad_before, spatial)]
    padded = np.zeros((batch, *size, int(layer.in_shape[-1])), dtype=x.dtype)
    inside = tuple(slice(p, p + n) for p, n in zip(g.pad_before, spatial))
    padded[(slice(None), *inside, slice(None))] = x.reshape(batch, *spatial, -1)
    for cell in np.ndindex(*g.kernel):
        rows = tuple(slice(c * d, c * d + (o - 1) * s + 1, s)
                     for c, d, o, s in zip(cell, g.dilation, g.out_spatial, g.strides))
        yield padded[(slice(None), *rows, slice(None))]


def _channelwise_conv(layer: ConvLayer, operands):
    """A depthwise convolution from strided views, no gathered patches: for each kernel cell,
    ``acc += view * w[cell]`` (``taps * C * m`` products per pixel; exact in any order, see
    ``emulator._channelwise_plan``), then the bias and the product's result type."""
    diagonal, bias, finish = operands.diagonal, operands.bias, operands.finish  # (taps, C, m)
    m = diagonal.shape[2]

    def conv(x: np.ndarray) -> np.ndarray:
        batch = x.shape[0]
        acc = None
        term = None
        for view, w in zip(tap_views(layer, x), diagonal):
            if acc is None:
                acc = np.empty((*view.shape, m))
                term = np.empty_like(acc)
                np.multiply(view[..., None], w, out=acc)
            else:
                np.multiply(view[..., None], w, out=term)
                acc += term
        sums = acc.reshape(batch * layer.n_pixels, layer.filters)
        sums += bias
        return finish(sums).reshape(batch, layer.n_out)

    return conv


def _windows(layer: PoolingLayer, x: np.ndarray, fill) -> np.ndarray:
    """``(batch, n_pixels, n_window, channels)`` window values (padding cells ``fill``)."""
    batch = x.shape[0]
    n_spatial = layer.n_in // layer.channels
    padded = np.empty((batch, n_spatial + 1, layer.channels), dtype=x.dtype)
    padded[:, :-1, :] = x.reshape(batch, n_spatial, layer.channels)
    padded[:, -1, :] = fill
    index = np.where(layer.windows >= 0, layer.windows, n_spatial)
    return padded[:, index, :]


def _trunc_div(s: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``s / n`` truncated toward zero (ap_fixed's division), exact on integers of any width."""
    q = np.abs(s) // n
    return np.where(s < 0, -q, q)


def pooling_integer(layer: PoolingLayer, x: np.ndarray) -> np.ndarray:
    batch = x.shape[0]
    in_t, result_t = layer.input_type, layer.result_type
    if layer.operation == "max":
        w = _windows(layer, x, in_t.min_mantissa)  # a padding cell never exceeds a real one
        y = w.max(axis=2)
        return result_t.requantize(y.reshape(batch, layer.n_out), in_t.frac)
    w = _windows(layer, x, 0)
    if not layer.sum_type.uses_int64 and w.dtype != object:
        w = w.astype(object)  # a sum wider than int64: Python ints
    s = w.sum(axis=2)  # exact: sum_t holds every sum
    q = _trunc_div(s, layer.counts[None, :, None])
    return result_t.requantize(q.reshape(batch, layer.n_out), layer.sum_type.frac)


def pooling_plan(layer: PoolingLayer):
    """Max pooling on float-exact values: the max is exact, then one cast.  Average pooling
    takes the integer rule (its truncating quotient)."""
    if layer.operation != "max":
        return None
    in_t, result_t = layer.input_type, layer.result_type

    def max_pool(x: np.ndarray) -> np.ndarray:
        y = _windows(layer, x, -np.inf).max(axis=2)
        return result_t.cast_values(y.reshape(x.shape[0], layer.n_out), in_t)

    return max_pool


def _reorder(layer: ReorderLayer, x: np.ndarray, zero) -> np.ndarray:
    padded = np.empty((x.shape[0], x.shape[1] + 1), dtype=x.dtype)
    padded[:, :-1] = x
    padded[:, -1] = zero
    return padded[:, layer.source]


def reorder_integer(layer: ReorderLayer, x: np.ndarray) -> np.ndarray:
    """``y[j] = x[source[j]]`` (0 where ``source[j] == n_in``): mantissas moved, the type unchanged."""
    return _reorder(layer, x, 0)


def reorder_plan(layer: ReorderLayer):
    return lambda x: _reorder(layer, x, 0.0)
