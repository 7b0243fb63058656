"""The pruning schedule of :class:`~fpga_aware.training.pruning.Prune`: tfmot's polynomial decay
of the sparsity and its rule for the steps at which masks are recomputed (numpy only; the exact
semantics are in the docstring of :mod:`fpga_aware.training.pruning`)."""

from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_RAMP_FRACTION", "should_prune", "polynomial_decay"]

#: Fraction of the first fit over which the sparsity ramps up when ``end_step=None``.
DEFAULT_RAMP_FRACTION = 0.8


def should_prune(step: int, begin_step: int, end_step: int, frequency: int) -> bool:
    """tfmot's ``PruningSchedule._should_prune_in_step`` (``end_step = -1``: no end)."""
    in_range = step >= begin_step and (step <= end_step or end_step < 0)
    return bool(in_range and (step - begin_step) % frequency == 0)


def polynomial_decay(
    step: int,
    target_sparsity: float,
    begin_step: int,
    end_step: int,
    power: float = 3,
    initial_sparsity: float = 0.0,
) -> float:
    """Sparsity of tfmot's ``PolynomialDecay`` at ``step``, with tfmot's float32 arithmetic.

    ``end_step == begin_step`` (one-shot pruning) gives ``target_sparsity`` from
    ``begin_step`` on (tfmot would divide by zero).
    """
    f32 = np.float32
    if end_step == begin_step:
        p = f32(1.0) if step >= begin_step else f32(0.0)
    else:
        p = f32(step - begin_step) / f32(end_step - begin_step)
        p = np.minimum(f32(1.0), np.maximum(f32(0.0), p))
    decay = np.power(f32(1.0) - p, f32(power), dtype=f32)
    return float(f32(initial_sparsity - target_sparsity) * decay + f32(target_sparsity))
