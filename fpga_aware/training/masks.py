"""Pruning masks: which weights (or blocks of weights) a sparsity keeps, by tfmot's threshold rule,
and the balanced masks that keep a multiple of the reuse factor per output (numpy only; the exact
semantics are in the docstring of :mod:`fpga_aware.training.pruning`)."""

from __future__ import annotations

import numpy as np

__all__ = ["kept_count", "magnitude_mask", "block_mask", "balanced_mask", "check_balanced_shape", "group_mask",
           "filter_mask", "tap_mask"]


def kept_count(size: int, sparsity: float) -> int:
    """How many of ``size`` weights (or groups) a mask at ``sparsity`` keeps.

    tfmot's ``k = max(round(size * (1 - sparsity)), 1)`` in float32, half to even.
    """
    kept = np.round(np.float32(size) * (np.float32(1.0) - np.float32(sparsity)))
    return int(max(kept, np.float32(1.0)))


def _threshold_mask(scores: np.ndarray, sparsity: float) -> np.ndarray:
    """Keep every score ``>=`` the k-th largest (tfmot's threshold rule)."""
    flat = scores.reshape(-1)
    kept = kept_count(flat.size, sparsity)
    threshold = np.partition(flat, flat.size - kept)[flat.size - kept]
    return scores >= threshold


def magnitude_mask(weights: np.ndarray, sparsity: float) -> np.ndarray:
    """Boolean keep-mask of ``weights`` at ``sparsity``, elementwise by magnitude."""
    return _threshold_mask(np.abs(np.asarray(weights, dtype=np.float64)), sparsity)


def block_mask(weights: np.ndarray, sparsity: float, block_size: int) -> np.ndarray:
    """Boolean keep-mask pruning whole groups ``W[i0:i0 + block_size, o]`` by L2 norm.

    ``weights`` must be a 2-D kernel ``(n_in, n_out)``; ``sparsity`` is the fraction of
    groups removed.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"block pruning needs a 2-D kernel, got shape {w.shape}")
    n_in, n_out = w.shape
    n_blocks = -(-n_in // block_size)
    padded = np.zeros((n_blocks * block_size, n_out))
    padded[:n_in] = w
    norms = np.sqrt((padded.reshape(n_blocks, block_size, n_out) ** 2).sum(axis=1))
    keep = _threshold_mask(norms, sparsity)
    return np.repeat(keep, block_size, axis=0)[:n_in]


def group_mask(weights: np.ndarray, sparsity: float, group_axes: tuple[int, ...]) -> np.ndarray:
    """Boolean keep-mask pruning whole groups: a group is one index along ``group_axes`` (all the
    weights that share it), scored by its L2 norm and kept by the same threshold rule as single
    weights (``sparsity`` is the fraction of groups removed; ties keep more)."""
    w = np.asarray(weights, dtype=np.float64)
    axes = {int(a) % w.ndim for a in group_axes}
    reduce = tuple(a for a in range(w.ndim) if a not in axes)
    norms = np.sqrt((w ** 2).sum(axis=reduce, keepdims=True))
    return np.broadcast_to(_threshold_mask(norms, sparsity), w.shape).copy()


def filter_mask(kernel: np.ndarray, sparsity: float, filter_axes: int = 1) -> np.ndarray:
    """Whole-filter pruning: a group is one output channel, indexed by the last ``filter_axes``
    axes of the kernel (1 for Dense ``(n_in, n_out)`` and Conv ``(*kernel_size, C_in, C_out)``:
    a neuron or a filter; 2 for a depthwise kernel ``(*kernel_size, C_in, depth_multiplier)``:
    output channel ``c * depth_multiplier + m``); every weight of a pruned filter is zero, so its
    output is its bias alone and it keeps no multiplier."""
    k = np.asarray(kernel)
    if k.ndim <= filter_axes:
        raise ValueError(f"filter pruning needs a kernel with more than {filter_axes} axes, got shape {k.shape}")
    return group_mask(k, sparsity, tuple(range(k.ndim - filter_axes, k.ndim)))


def tap_mask(kernel: np.ndarray, sparsity: float) -> np.ndarray:
    """Per-tap pruning of a convolution kernel ``(*kernel_size, C_in, C_out)`` (or a depthwise
    ``(*kernel_size, C_in, depth_multiplier)``): a group is one kernel position, across every
    input and output channel; a pruned tap's input is read by no multiplier of any pixel."""
    k = np.asarray(kernel)
    if k.ndim < 3:
        raise ValueError(f"tap pruning needs a convolution kernel (*kernel_size, C_in, C_out), got shape {k.shape}")
    return group_mask(k, sparsity, tuple(range(k.ndim - 2)))


def check_balanced_shape(shape: tuple[int, ...], reuse_factor: int, name: str | None = None) -> None:
    """Raise ``ValueError`` unless a kernel of ``shape`` can be pruned with ``structure='balanced'``:
    a 2-D kernel ``(n_in, n_out)`` with ``1 <= reuse_factor <= n_in``."""
    where = f"layer {name!r}: " if name is not None else ""
    if len(shape) != 2:
        raise ValueError(f"{where}balanced pruning needs a 2-D kernel, got shape {tuple(shape)}")
    n_in = int(shape[0])
    if isinstance(reuse_factor, bool) or not isinstance(reuse_factor, (int, np.integer)) or reuse_factor < 1:
        raise ValueError(f"{where}reuse_factor must be an integer >= 1, got {reuse_factor!r}")
    if reuse_factor > n_in:
        raise ValueError(
            f"{where}structure='balanced' needs reuse_factor <= n_in, got reuse_factor={int(reuse_factor)} "
            f"for n_in={n_in}"
        )


def balanced_mask(weights: np.ndarray, sparsity: float, reuse_factor: int, name: str | None = None) -> np.ndarray:
    """Boolean keep-mask that keeps a multiple of ``reuse_factor`` weights in every output column.

    For a kernel ``(n_in, n_out)`` and ``R = reuse_factor <= n_in``: each column's weights are
    ranked by magnitude (descending; ties by input index), the ranking is cut into
    ``n_in // R`` whole groups of ``R`` consecutive ranks (the last ``n_in % R`` ranks are
    always pruned), a group's score is the smallest magnitude in it, and the top
    ``L = kept_count(total_groups, sparsity)`` groups over all columns are kept
    (``total_groups = n_out * (n_in // R)``; ties by column, then rank, so the choice is
    deterministic).  A column's group scores descend, so every column keeps its ``c * R``
    largest weights for some ``c >= 0`` and the mask keeps exactly ``L * R`` weights.
    ``name`` (the layer's) only labels the error raised when ``R > n_in``.
    """
    w = np.asarray(weights, dtype=np.float64)
    check_balanced_shape(w.shape, reuse_factor, name)
    r = int(reuse_factor)
    n_in, n_out = w.shape
    groups = n_in // r
    magnitude = np.abs(w)
    order = np.argsort(-magnitude, axis=0, kind="stable")  # (n_in, n_out): rows by rank
    ranked = np.take_along_axis(magnitude, order, axis=0)
    scores = ranked[r - 1 : groups * r : r]  # (groups, n_out): the smallest |w| of each group
    kept = kept_count(groups * n_out, sparsity)
    # Stable descending sort over (column, group) order: equal scores keep the earlier column,
    # and within a column the earlier group, so a column's kept groups are always a prefix.
    flat = scores.T.reshape(-1)
    chosen = np.argsort(-flat, kind="stable")[:kept]
    per_column = np.bincount(chosen // groups, minlength=n_out)  # kept groups of each column
    keep_ranked = np.arange(n_in)[:, None] < (per_column * r)[None, :]
    keep = np.zeros((n_in, n_out), dtype=bool)
    np.put_along_axis(keep, order, keep_ranked, axis=0)
    return keep
