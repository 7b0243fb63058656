"""What a search maximises or minimises: the hard and soft scores, the direction of a logged
metric, and :func:`resolve_objective` (the names are in the docstring of :mod:`fpga_aware.search.tuner`)."""

from __future__ import annotations

from typing import Any, Mapping

from fpga_aware.core.config import ConfigError
from fpga_aware._stack import tensorflow

tensorflow()  # the tf-keras guard, before keras_tuner imports Keras

import keras_tuner as kt  # noqa: E402
from keras_tuner.src.engine.metrics_tracking import infer_metric_direction  # noqa: E402

__all__ = ["HARD_SCORE", "SOFT_SCORE", "metric_direction", "resolve_objective"]

#: Metric = the validation metric when every budget holds, ``-inf`` otherwise.
HARD_SCORE = "fpga_hard_score"
#: FPGACost's soft trade-off ``metric * prod_k min(1, budget_k / cost_k)``.
SOFT_SCORE = "fpga_score"

_MAX_KEYS = {HARD_SCORE, SOFT_SCORE, "fpga_within_budget", "sparsity"}


def metric_direction(name: str) -> str | None:
    """``'max'`` or ``'min'`` for a logged metric (cost keys ``fpga_*`` are minimised, the scores
    maximised, others as keras-tuner infers them); ``None`` when it cannot be told."""
    if name in _MAX_KEYS:
        return "max"
    if name.startswith("fpga_") or name.startswith("val_fpga_"):
        return "min"
    try:
        return infer_metric_direction(name)
    except Exception:  # pragma: no cover - keras-tuner's inference failing is "unknown"
        return None


def resolve_objective(objective: Any, budget: Mapping[str, float] | None, metric: str = "val_accuracy") -> "kt.Objective":
    """The ``keras_tuner.Objective`` of ``objective`` (see the module docstring for the names).

    ``None`` means ``'hard'`` with a budget and ``metric`` without.  Raises :class:`ConfigError`
    for ``'soft'``/``fpga_score`` without a budget, a list (multi-objective: use the Pareto
    front instead) or a name whose direction cannot be inferred (pass a ``keras_tuner.Objective``).
    """
    if objective is None:
        objective = "hard" if budget else metric
    if isinstance(objective, kt.Objective):
        return objective
    if isinstance(objective, (list, tuple)):
        raise ConfigError(
            "objective must be one name or keras_tuner.Objective; for several goals use objective='soft' "
            "(fpga_score) or read the Pareto front (SearchResult.pareto)"
        )
    if not isinstance(objective, str) or not objective:
        raise ConfigError(f"objective must be a metric name, 'hard', 'soft' or a keras_tuner.Objective, got {objective!r}")
    name = {"hard": HARD_SCORE, "soft": SOFT_SCORE}.get(objective, objective)
    if name == SOFT_SCORE and not budget:
        raise ConfigError("objective 'soft' (fpga_score) needs a budget, e.g. budget={'dsp': 1000}")
    direction = metric_direction(name)
    if direction is None:
        raise ConfigError(
            f"cannot tell whether objective {name!r} is to be maximised or minimised; pass "
            f"keras_tuner.Objective({name!r}, 'max') or ('min')"
        )
    return kt.Objective(name, direction)
