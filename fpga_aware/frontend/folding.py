"""Batch-norm folding: a BatchNormalization directly after a float, linear Dense (or convolution) is multiplied
into that Dense's kernel and bias (it then has no IR layer, no types and no options of its own)."""

from __future__ import annotations

import numpy as np

from fpga_aware.frontend.pending import PendingConv, PendingDense, PendingScaleShift

__all__ = ["fold_batch_norms"]


def fold_batch_norms(pending: list) -> tuple[list, dict[str, str]]:
    """Fold a BatchNormalization directly after a float, linear Dense into that Dense.

    Returns the new chain and ``{batch norm name: dense name}`` of the folded layers.  The
    folded Dense items are changed in place (kernel, bias, ``folded``, ``folded_keras_layer``).
    """
    out: list = []
    folded: dict[str, str] = {}
    for item in pending:
        prev = out[-1] if out else None
        if (isinstance(item, PendingScaleShift) and isinstance(prev, PendingDense) and not prev.quantized
                and prev.folded is None):
            scale, shift = item.scale, item.shift
            if isinstance(prev, PendingConv):  # the BN's numbers are tiled per pixel: one per filter
                filters = prev.kernel.shape[1]
                scale, shift = scale[:filters], shift[:filters]
                if not (np.array_equal(np.tile(scale, item.scale.size // filters), item.scale)
                        and np.array_equal(np.tile(shift, item.shift.size // filters), item.shift)):
                    out.append(item)  # pragma: no cover - a BN over the last axis is tiled so
                    continue
            prev.kernel = prev.kernel * scale[None, :]
            prev.bias = prev.bias * scale + shift
            prev.folded = item.name  # the Dense keeps its name; the BN's is gone
            prev.folded_keras_layer = item.keras_layer
            folded[item.name] = prev.name
            continue
        out.append(item)
    return out, folded
