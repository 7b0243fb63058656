"""Pruning masks: which weights (or blocks of weights) a sparsity keeps, by tfmot's threshold rule
(numpy only; the exact semantics are in the docstring of :mod:`fpga_aware.training.pruning`)."""

from __future__ import annotations

import numpy as np

__all__ = ["kept_count", "magnitude_mask", "block_mask"]


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
