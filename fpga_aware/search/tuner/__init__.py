"""Cost-aware hyperparameter searches with keras-tuner, on one machine or distributed.

:func:`search` runs a keras-tuner search (random, Bayesian or Hyperband) over a ``build_model(hp)``
that returns a *compiled tf-keras* model, with :class:`~fpga_aware.FPGACost` attached to every
trial and :class:`~fpga_aware.Prune` whenever the trial's ``sparsity`` hyperparameter is above 0::

    result = search(build_model, x, y, part="xcu250-figd2104-2L-e", budget={"dsp": 1000},
                    max_trials=20, epochs=10, directory="runs/digits")
    result.best_model()          # best val_accuracy among the trials within the budget
    result.pareto                # non-dominated trials: val_accuracy vs DSP and LUT
    result.export(0, "fw_dsp_lowest")   # HLS project of the first front point

keras-tuner 1.4.8 cannot train tf-keras models itself (its ``Tuner.run_trial`` checks for and
calls Keras 3, keras-tuner issue #1039), so the tuners here replace ``run_trial``: build, fit with
the FPGA callbacks, save the model as ``trial_<id>/model.h5`` and return a dict of the trial's
metrics (every logged key: the objective, the metric, every ``fpga_*`` cost key and
``sparsity``) from the *last* epoch (``report_epoch='last'``, the default: the model after the
whole pruning schedule, the one that is saved) or from the best epoch by the objective
(``report_epoch='best'``; that epoch's model is saved).  All values of one trial come from one
epoch, so the reported cost is ``fa.estimate`` of the saved model.

Objectives (``objective=``)
    * any logged metric name (``'val_accuracy'``, ``'val_loss'``, ``'fpga_dsp'``, ...) or a
      ``keras_tuner.Objective``; the direction of ``fpga_*`` cost keys is ``min``.
    * ``'hard'`` -> ``fpga_hard_score`` = the metric when every budget holds, ``-inf``
      otherwise: infeasible trials are never "best".
    * ``'soft'`` -> ``fpga_score`` (logged by FPGACost) = metric * prod_k min(1, budget_k/cost_k).
    * default: ``'hard'`` when a budget is given, else the plain metric (``val_accuracy``).

Hyperparameters the tuner reads (when the hypermodel defines them)
    * ``sparsity``: a trial with ``sparsity > 0`` gets ``Prune(target_sparsity=sparsity)``.
    * ``reuse_factor``, ``strategy``, ``precision``, ``clock_period``: override that export
      option for the trial's FPGACost (and for ``SearchResult.export``/``estimate``).

Distributed search: keras-tuner's chief/worker mode (``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``) runs these tuners unchanged; see
``docs/tuning.md``.

The modules: :mod:`~fpga_aware.search.tuner.objectives` (scores and directions),
:mod:`~fpga_aware.search.tuner.hypermodels` (hyperparameter helpers, :func:`mlp_hypermodel`),
:mod:`~fpga_aware.search.tuner.tuners` (the three tuners and their ``run_trial``),
:mod:`~fpga_aware.search.tuner.trials` (a trial's files, options and row),
:mod:`~fpga_aware.search.tuner.result` (:class:`SearchResult`), :mod:`~fpga_aware.search.tuner.run`
(:func:`make_tuner`, :func:`search`), :mod:`~fpga_aware.search.tuner.distributed` (this process's
role) and :mod:`~fpga_aware.search.tuner.errors`.  Every public name is importable from this package.
"""

from __future__ import annotations

from fpga_aware._stack import tensorflow

tensorflow()  # the tf-keras guard, before any module here imports keras_tuner

from fpga_aware.search.tuner.errors import NoFeasibleTrialError, NoFeasibleTrialWarning, SearchConfigError  # noqa: E402
from fpga_aware.search.tuner.hypermodels import hp_bits, hp_reuse_factor, hp_sparsity, hp_width, mlp_hypermodel  # noqa: E402
from fpga_aware.search.tuner.objectives import HARD_SCORE, SOFT_SCORE, metric_direction, resolve_objective  # noqa: E402
from fpga_aware.search.tuner.result import PARETO_COSTS, SearchResult  # noqa: E402
from fpga_aware.search.tuner.run import make_tuner, search  # noqa: E402
from fpga_aware.search.tuner.trials import CONFIG_FILE, MODEL_FILE, OPTION_HPS, REPORT_FILE  # noqa: E402
from fpga_aware.search.tuner.tuners import (  # noqa: E402
    TRIAL_COSTS,
    FPGABayesianOptimization,
    FPGAHyperband,
    FPGARandomSearch,
    planned_trials,
)

__all__ = [
    "search",
    "make_tuner",
    "SearchResult",
    "FPGARandomSearch",
    "FPGABayesianOptimization",
    "FPGAHyperband",
    "NoFeasibleTrialError",
    "NoFeasibleTrialWarning",
    "SearchConfigError",
    "mlp_hypermodel",
    "hp_bits",
    "hp_sparsity",
    "hp_width",
    "hp_reuse_factor",
    "resolve_objective",
    "HARD_SCORE",
    "SOFT_SCORE",
    "PARETO_COSTS",
    "TRIAL_COSTS",
    "OPTION_HPS",
    "CONFIG_FILE",
    "REPORT_FILE",
    "MODEL_FILE",
    "metric_direction",
    "planned_trials",
]
