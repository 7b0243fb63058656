"""Values that are 0 for every input, and the stored weights that only ever multiply them.

A filter (or a neuron) whose weights and bias are all zero -- ``Prune(structure='filter')``
zeroes both -- outputs exactly 0 at every pixel, for every input.  ReLU, a linear activation,
pooling and the reorders (padding, cropping, upsampling, flatten) keep such a channel at 0, so
every weight downstream that reads only that channel multiplies 0: :func:`drop_always_zero_inputs`
sets those weights to zero in the IR, which removes their multipliers (and the HLS writer's, the
Verilog writer's and the cost model's terms) at every pixel.  Exact: a product ``w * 0`` adds
nothing to any accumulator, in any order, so no output of the firmware changes.

Which outputs of a layer are always 0, given which of its inputs are, is one rule per layer kind
(:data:`ZERO_RULES`, checked by the conformance test); a kind that cannot promise a 0 (a softmax,
a table activation, a scale and shift with an offset...) says so by returning no zeros.
"""

from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from fpga_aware.core.ir import ConvLayer, DenseLayer, Layer, ModelIR
from fpga_aware.core.registry import Registry

__all__ = ["ZERO_RULES", "drop_always_zero_inputs"]

log = logging.getLogger(__name__)

#: ``kind -> rule(layer, zero_in) -> zero_out``: booleans over the layer's flat inputs
#: (``n_in``) and outputs (``n_out``), True where the value is 0 for every model input.
ZERO_RULES: Registry[Callable[[Layer, np.ndarray], np.ndarray]] = Registry("always-zero rule")


def _none(layer: Layer, zero_in: np.ndarray) -> np.ndarray:
    return np.zeros(layer.n_out, dtype=bool)


# kinds that promise no zero: the input (any value), softmax (never 0 for all inputs), and the
# element-wise kinds whose value at 0 is not checked here (a scale and shift adds its offset, a
# step has its own levels, a parametric ReLU its threshold)
for _kind in ("input", "softmax", "scale_shift", "step", "parametric_relu"):
    ZERO_RULES.register(_kind)(_none)


@ZERO_RULES.register("dense")
def _dense(layer: DenseLayer, zero_in: np.ndarray) -> np.ndarray:
    live = ((layer.weights != 0) & ~zero_in[:, None]).any(axis=0)
    return (layer.bias == 0) & ~live


@ZERO_RULES.register("conv")
def _conv(layer: ConvLayer, zero_in: np.ndarray) -> np.ndarray:
    # patch index n_in is a padding cell: 0
    reads_live = ~np.append(zero_in, True)[layer.patch]  # (n_pixels, n_patch)
    live = (reads_live.astype(np.int64) @ (layer.weights != 0).astype(np.int64)) > 0  # (n_pixels, C_out)
    return ((layer.bias == 0)[None, :] & ~live).reshape(-1)


@ZERO_RULES.register("activation")
def _activation(layer, zero_in: np.ndarray) -> np.ndarray:
    # linear and relu requantize their input (relu after max(x, 0)): 0 stays 0 in every rounding
    # and overflow mode; table functions read their table, which need not hold 0 at 0
    if layer.function in ("linear", "relu") and layer.table is None:
        return zero_in.copy()
    return _none(layer, zero_in)


@ZERO_RULES.register("pooling")
def _pooling(layer, zero_in: np.ndarray) -> np.ndarray:
    c = layer.channels
    grid = zero_in.reshape(-1, c)  # (input positions, channels)
    cells = np.append(grid, np.ones((1, c), dtype=bool), axis=0)[layer.windows]  # -1 (padding): ignored, as 0
    return cells.all(axis=1).reshape(-1)  # max or mean of zeros is 0


@ZERO_RULES.register("reorder")
def _reorder(layer, zero_in: np.ndarray) -> np.ndarray:
    return np.append(zero_in, True)[layer.source]  # source n_in: a padding cell, 0


def _product(layer: Layer) -> "DenseLayer | None":
    if layer.kind == "dense":
        return layer
    if layer.kind == "conv":
        return layer.product
    return None


def _dead_rows(layer: Layer, zero_in: np.ndarray) -> np.ndarray:
    """Rows of the layer's product that read an always-zero value at every pixel."""
    if layer.kind == "conv":
        return np.append(zero_in, True)[layer.patch].all(axis=0)
    return zero_in


def drop_always_zero_inputs(ir: ModelIR) -> dict[str, int]:
    """Zero, in ``ir``, every stored weight that multiplies a value that is always 0.

    Returns ``{layer name: weights dropped}`` (layers with none are left out); each layer's
    ``weights`` array is replaced, not edited, so its cached schedule and adder graph follow.
    The accumulator types are left as built (still exact: they held the larger sums too).
    """
    dropped: dict[str, int] = {}
    zero = np.zeros(ir.layers[0].n_out, dtype=bool)
    for layer in ir.layers[1:]:
        product = _product(layer)
        if product is not None and zero.any():
            kill = _dead_rows(layer, zero)[:, None] & (product.weights != 0)
            if kill.any():
                weights = product.weights.copy()
                weights[kill] = 0
                product.weights = weights
                dropped[layer.name] = int(kill.sum())
                log.info("layer %r: %d stored weights only ever multiply 0 (inputs that are always zero, "
                         "e.g. a pruned filter's channel) and are not stored", layer.name, dropped[layer.name])
        zero = ZERO_RULES[layer.kind](layer, zero)
        if zero.shape != (layer.n_out,):  # pragma: no cover - a rule's contract
            raise AssertionError(f"always-zero rule of kind {layer.kind!r} gave {zero.shape}, expected ({layer.n_out},)")
    return dropped
