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
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
import warnings
import zlib
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from fpga_aware.search import pareto as _pareto
from fpga_aware._stack import keras, tensorflow
from fpga_aware.training.callbacks import FPGACost
from fpga_aware.core.config import DEFAULT_PART, ConfigError
from fpga_aware.training.progress import format_cost, format_metrics, format_value
from fpga_aware.training.pruning import DEFAULT_RAMP_FRACTION, Prune

tf = tensorflow()
k = keras()

import keras_tuner as kt  # noqa: E402  (after the tf-keras guard)
from keras_tuner.src.distribute import utils as _dist_utils  # noqa: E402
from keras_tuner.src.engine import trial as _kt_trial  # noqa: E402
from keras_tuner.src.engine.metrics_tracking import infer_metric_direction  # noqa: E402

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
]

logger = logging.getLogger(__name__)

#: Metric = the validation metric when every budget holds, ``-inf`` otherwise.
HARD_SCORE = "fpga_hard_score"
#: FPGACost's soft trade-off ``metric * prod_k min(1, budget_k / cost_k)``.
SOFT_SCORE = "fpga_score"
#: The cost axes of the Pareto front (the metric is the third axis).
PARETO_COSTS = ("fpga_dsp", "fpga_lut")
#: The cost totals of a trial's progress line.
TRIAL_COSTS = ("fpga_dsp", "fpga_lut", "fpga_latency_cycles", "fpga_ii")
#: Hyperparameters that, when defined, set the export option of the same name for the trial.
OPTION_HPS = ("reuse_factor", "strategy", "precision", "clock_period")
#: Files in a search's project directory.
CONFIG_FILE = "fpga_search.json"
REPORT_FILE = "fpga_report.json"
MODEL_FILE = "model.h5"

_MAX_KEYS = {HARD_SCORE, SOFT_SCORE, "fpga_within_budget", "sparsity"}
_ALGORITHMS = {
    "random": "random",
    "randomsearch": "random",
    "bayesian": "bayesian",
    "bayesianoptimization": "bayesian",
    "hyperband": "hyperband",
}


class NoFeasibleTrialError(RuntimeError):
    """No completed trial of the search is within the budget (or none completed)."""


class NoFeasibleTrialWarning(UserWarning):
    """A search ended without any trial within the budget."""


class SearchConfigError(ConfigError):
    """The search directory holds a search with other settings (part, budget, objective, ...)."""


# --------------------------------------------------------------------------- objectives
def _direction(name: str) -> str | None:
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
    direction = _direction(name)
    if direction is None:
        raise ConfigError(
            f"cannot tell whether objective {name!r} is to be maximised or minimised; pass "
            f"keras_tuner.Objective({name!r}, 'max') or ('min')"
        )
    return kt.Objective(name, direction)


# --------------------------------------------------------------------------- hyperparameter helpers
def _choice(hp: Any, name: str, choices: Sequence[Any]) -> Any:
    choices = list(choices)
    if not choices:
        raise ConfigError(f"hyperparameter {name!r} needs at least one value")
    if len(choices) == 1:
        return hp.Fixed(name, choices[0])
    return hp.Choice(name, choices)


def hp_bits(hp: Any, choices: Sequence[int] = (4, 6, 8), name: str = "bits") -> int:
    """Weight/activation bit width (``quantize(bits=...)``) as a hyperparameter."""
    return int(_choice(hp, name, choices))


def hp_sparsity(hp: Any, choices: Sequence[float] = (0.0, 0.5, 0.75), name: str = "sparsity") -> float:
    """Target sparsity; the tuner attaches ``Prune(target_sparsity=...)`` when it is above 0."""
    for value in choices:
        if not 0.0 <= float(value) < 1.0:
            raise ConfigError(f"sparsity choices must be in [0, 1), got {value!r}")
    return float(_choice(hp, name, [float(v) for v in choices]))


def hp_width(hp: Any, name: str, choices: Sequence[int] = (8, 16, 32, 64)) -> int:
    """Width of one layer as a hyperparameter."""
    return int(_choice(hp, name, choices))


def hp_reuse_factor(hp: Any, choices: Sequence[int] = (1, 2, 4), name: str = "reuse_factor") -> int:
    """Reuse factor of the export; the tuner passes it to the trial's FPGACost."""
    return int(_choice(hp, name, choices))


def mlp_hypermodel(
    n_in: int,
    n_classes: int,
    *,
    layers: Sequence[int] = (1, 2, 3),
    widths: Sequence[int] = (8, 16, 32, 64),
    bits: Sequence[int] | None = (4, 6, 8),
    integer: int = 0,
    activation_bits: int | None = None,
    sparsity: Sequence[float] = (0.0, 0.5, 0.75),
    reuse_factor: Sequence[int] = (1,),
    learning_rate: Sequence[float] = (1e-3, 3e-3),
) -> Callable[[Any], Any]:
    """``build_model(hp)`` for the tutorial-style MLP: Dense+relu layers, softmax output.

    Hyperparameters: ``layers`` (number of hidden layers), ``width_<i>``, ``bits`` (QKeras
    ``quantize`` of the whole model; ``bits=None`` keeps it float), ``sparsity``,
    ``reuse_factor`` and ``learning_rate``.  A value list of length one is fixed.  The model is
    compiled with Adam and sparse categorical cross-entropy, metric ``accuracy``.
    """
    from fpga_aware.training.quantization import quantize

    def build(hp: Any) -> Any:
        n_layers = int(_choice(hp, "layers", layers))
        hidden = [hp_width(hp, f"width_{i}", widths) for i in range(1, n_layers + 1)]
        b = hp_bits(hp, bits) if bits else None
        hp_sparsity(hp, sparsity)
        hp_reuse_factor(hp, reuse_factor)
        lr = float(_choice(hp, "learning_rate", learning_rate))
        model = k.Sequential(
            [k.layers.InputLayer(input_shape=(n_in,), name="input")]
            + [k.layers.Dense(w, activation="relu", name=f"fc{i}") for i, w in enumerate(hidden, start=1)]
            + [k.layers.Dense(n_classes, activation="softmax", name="output")]
        )
        if b is not None:
            model = quantize(model, bits=b, integer=integer, activation_bits=activation_bits)
        model.compile(k.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    return build


# --------------------------------------------------------------------------- per-trial plumbing
def _is_worker() -> bool:
    return _dist_utils.has_chief_oracle() and not _dist_utils.is_chief_oracle()


def _role() -> str:
    if not _dist_utils.has_chief_oracle():
        return "single"
    return "chief" if _dist_utils.is_chief_oracle() else "worker"


def _n_samples(x: Any) -> int | None:
    if isinstance(x, Mapping):
        x = next(iter(x.values()), None)
    elif isinstance(x, (list, tuple)) and x and hasattr(x[0], "shape"):
        x = x[0]
    shape = getattr(x, "shape", None)
    if shape is not None and len(shape) > 0 and shape[0] is not None:
        return int(shape[0])
    return None


def _steps_per_epoch(x: Any, fit_kwargs: Mapping[str, Any]) -> int | None:
    """Training steps per epoch of ``fit(x, **fit_kwargs)``, when they can be known beforehand."""
    if fit_kwargs.get("steps_per_epoch"):
        return int(fit_kwargs["steps_per_epoch"])
    if isinstance(x, tf.data.Dataset):
        cardinality = int(x.cardinality().numpy())
        return cardinality if cardinality > 0 else None
    n = _n_samples(x)
    if n is None:
        return None
    split = fit_kwargs.get("validation_split") or 0.0
    if split and fit_kwargs.get("validation_data") is None:
        n = int(math.ceil(n * (1.0 - split)))  # Keras' own split point
    batch = fit_kwargs.get("batch_size") or 32
    return max(1, int(math.ceil(n / batch)))


def _scalar_logs(logs: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[key] = float(np.asarray(value))
        except (TypeError, ValueError):
            continue
    return out


def _save_h5(model: Any, path: Path) -> None:
    """``model.save(path.h5)`` without the optimizer, quiet about HDF5 being "legacy"."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`.*")
        warnings.filterwarnings("ignore", message=".*constraints.serialize\\(\\)` API.*")
        model.save(str(path), include_optimizer=False)


class _TrialRecorder(k.callbacks.Callback):
    """Adds ``fpga_hard_score`` to the logs, keeps every epoch's row and saves the reported model."""

    def __init__(self, objective: "kt.Objective", metric: str, report_epoch: str, model_path: Path):
        super().__init__()
        self.objective = objective
        self.metric = metric
        self.report_epoch = report_epoch
        self.model_path = model_path
        self.rows: list[dict[str, float]] = []
        self.best: dict[str, float] | None = None

    def _metric_value(self, row: Mapping[str, float]) -> float:
        for name in (self.metric, self.metric.removeprefix("val_")):
            if name in row:
                return row[name]
        raise kt.errors.FatalValueError(
            f"the search metric {self.metric!r} is not among the logged metrics {sorted(row)}; "
            "compile the model with it or pass metric=..."
        )

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        row = _scalar_logs(logs)
        row.setdefault("fpga_within_budget", 1.0)
        row[HARD_SCORE] = self._metric_value(row) if row["fpga_within_budget"] >= 0.5 else -math.inf
        if logs is not None:
            logs[HARD_SCORE] = row[HARD_SCORE]
            logs.setdefault("fpga_within_budget", row["fpga_within_budget"])
        if self.objective.name not in row:
            raise kt.errors.FatalValueError(
                f"the objective {self.objective.name!r} is not among the logged metrics {sorted(row)}"
            )
        row["epoch"] = float(epoch)
        self.rows.append(row)
        if self.report_epoch == "best":
            value = row[self.objective.name]
            if self.best is None or self.objective.better_than(value, self.best[self.objective.name]):
                self.best = row
                _save_h5(self.model, self.model_path)

    def reported(self) -> dict[str, float]:
        if not self.rows:
            raise kt.errors.FailedTrialError("the trial trained no epoch")
        if self.report_epoch == "best":
            return dict(self.best)
        return dict(self.rows[-1])


class _FPGATunerMixin:
    """``run_trial`` for tf-keras models with FPGACost/Prune; shared by the three tuners."""

    def __init__(self, hypermodel: Any, *, part: str = DEFAULT_PART, budget=None, objective=None,
                 metric: str = "val_accuracy", export_options=None, prune_options=None,
                 report_epoch: str = "last", model_seed: int | None = 0, **kwargs: Any):
        objective = self._setup_fpga(part=part, budget=budget, objective=objective, metric=metric,
                                     export_options=export_options, prune_options=prune_options,
                                     report_epoch=report_epoch, model_seed=model_seed)
        _check_executions(kwargs)
        super().__init__(hypermodel, objective=objective, **kwargs)

    def _setup_fpga(
        self,
        *,
        part: str,
        budget: Mapping[str, float] | None,
        objective: Any,
        metric: str,
        export_options: Mapping[str, Any] | None,
        prune_options: Mapping[str, Any] | None,
        report_epoch: str,
        model_seed: int | None,
    ) -> "kt.Objective":
        self.part = part
        self.budget = dict(budget or {})
        self.metric = metric
        self.export_options = dict(export_options or {})
        self.prune_options = dict(prune_options or {})
        if report_epoch not in ("last", "best"):
            raise ConfigError(f"report_epoch must be 'last' or 'best', got {report_epoch!r}")
        self.report_epoch = report_epoch
        self.model_seed = model_seed
        if "target_sparsity" in self.prune_options:
            raise ConfigError("prune_options must not set target_sparsity: it comes from the 'sparsity' hyperparameter")
        # fail now, not in the first trial: unknown part, bad options, bad budget keys
        FPGACost(part, budget=self.budget or None, metric=metric, **self.export_options)
        #: ``(trial_id, hyperparameter values, metrics)`` of the trials this process ran.
        self.reports: list[tuple[str, dict, dict]] = []
        self.fpga_objective = resolve_objective(objective, self.budget, metric)
        return self.fpga_objective

    # ------------------------------------------------------------------ paths
    def model_path(self, trial_id: str) -> Path:
        return Path(self.get_trial_dir(trial_id)) / MODEL_FILE

    def trial_export_options(self, hp_values: Mapping[str, Any]) -> dict[str, Any]:
        """The export options of a trial: the search's, overridden by same-named hyperparameters."""
        return _trial_options(self.export_options, hp_values)

    # ------------------------------------------------------------------ the trial
    def _trial_seed(self, trial_id: str) -> int | None:
        if self.model_seed is None:
            return None
        offset = int(trial_id) if str(trial_id).isdigit() else zlib.crc32(str(trial_id).encode())
        return (int(self.model_seed) * 1_000_003 + offset) % (2**31 - 1)

    def _fpga_callbacks(self, hp_values: Mapping[str, Any], x: Any, fit_kwargs: Mapping[str, Any]) -> list:
        options = self.trial_export_options(hp_values)
        callbacks = []
        sparsity = float(hp_values.get("sparsity", 0.0) or 0.0)
        if sparsity > 0:
            prune_opts = dict(self.prune_options)
            steps = _steps_per_epoch(x, fit_kwargs)
            epochs_run = int(fit_kwargs.get("epochs", 1)) - int(fit_kwargs.get("initial_epoch", 0))
            if steps and "end_step" not in prune_opts:
                ramp = prune_opts.get("ramp_fraction", DEFAULT_RAMP_FRACTION)
                prune_opts["end_step"] = max(1, round(ramp * epochs_run * steps))
            if "frequency" not in prune_opts and prune_opts.get("end_step"):
                prune_opts["frequency"] = max(1, (prune_opts["end_step"] - prune_opts.get("begin_step", 0)) // 8)
            if prune_opts.get("structure") == "block" and "block_size" not in prune_opts:
                prune_opts["block_size"] = int(options.get("reuse_factor", 1))
            callbacks.append(Prune(target_sparsity=sparsity, **prune_opts))
        callbacks.append(FPGACost(self.part, budget=self.budget or None, metric=self.metric, **options))
        return callbacks

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        hp = trial.hyperparameters
        values = dict(hp.values)
        k.backend.clear_session()
        seed = self._trial_seed(trial.trial_id)
        if seed is not None:
            k.utils.set_random_seed(seed)
        strategy = getattr(self, "distribution_strategy", None)
        if strategy is not None:
            with strategy.scope():
                model = self.hypermodel.build(hp)
        else:
            model = self.hypermodel.build(hp)
        values = dict(hp.values)  # build() may have added hyperparameters
        if not isinstance(model, k.Model):
            raise kt.errors.FatalTypeError(
                f"build_model(hp) must return a tf-keras model (tf_keras.Model), got {type(model)!r}; "
                "import fpga_aware before TensorFlow so that tf.keras is tf-keras"
            )
        if getattr(model, "optimizer", None) is None:
            raise kt.errors.FatalValueError("build_model(hp) must return a compiled model (model.compile(...))")

        fit_kwargs = dict(kwargs)
        if "tuner/epochs" in values:  # Hyperband rounds
            fit_kwargs["epochs"] = values["tuner/epochs"]
            fit_kwargs["initial_epoch"] = values["tuner/initial_epoch"]
        if "tuner/trial_id" in values:  # Hyperband: continue from the earlier round's model
            model.load_weights(str(self.model_path(values["tuner/trial_id"])))
        user_callbacks = copy.deepcopy(list(fit_kwargs.pop("callbacks", None) or []))
        x = args[0] if args else fit_kwargs.get("x")
        path = self.model_path(trial.trial_id)
        recorder = _TrialRecorder(self.fpga_objective, self.metric, self.report_epoch, path)
        fit_kwargs["callbacks"] = self._fpga_callbacks(values, x, fit_kwargs) + [recorder] + user_callbacks
        model.fit(*args, **fit_kwargs)

        metrics = recorder.reported()
        epoch = int(metrics.pop("epoch"))
        if self.report_epoch == "last":
            _save_h5(model, path)
        report = {
            "trial_id": trial.trial_id,
            "tuner_id": self.tuner_id,
            "hyperparameters": values,
            "metrics": metrics,
            "epoch": epoch,
            "history": recorder.rows,
            "export_options": self.trial_export_options(values),
            "model": MODEL_FILE,
            "seed": seed,
        }
        _pareto.write_json(_jsonable_options(report), path.parent / REPORT_FILE)
        self.reports.append((trial.trial_id, values, dict(metrics)))
        return metrics

    def load_model(self, trial: Any) -> Any:
        """The saved model of ``trial`` (keras-tuner's ``get_best_models`` uses this)."""
        from fpga_aware.frontend.model_io import load_model

        return load_model(self.model_path(trial.trial_id))

    def on_trial_begin(self, trial: Any) -> None:
        self._trial_started = time.perf_counter()
        super().on_trial_begin(trial)

    def on_trial_end(self, trial: Any) -> None:
        if trial.status not in ("COMPLETED", _kt_trial.TrialStatus.COMPLETED):
            last = (trial.message or "").strip().splitlines()
            logger.warning("trial %s %s: %s", trial.trial_id, trial.status, last[-1] if last else "no message")
        super().on_trial_end(trial)  # the oracle records the score: "best so far" includes this trial
        logger.info("%s", self.progress_line(trial))

    def progress_line(self, trial: Any) -> str:
        """``trial k/N (id, seconds): metric, cost | best so far: ...``, logged after each trial."""
        done = _trials_ended(self.oracle, trial.trial_id)
        planned = _planned_trials(self.oracle)
        head = f"trial {done if done is not None else '?'}/{planned if planned else '?'}"
        seconds = time.perf_counter() - getattr(self, "_trial_started", time.perf_counter())
        head += f" (trial_{trial.trial_id}, {seconds:.1f} s)"
        metrics = next((m for trial_id, _, m in reversed(self.reports) if trial_id == trial.trial_id), None)
        if metrics is None:
            body = str(trial.status)
        else:
            shown = {name: metrics[name] for name in (self.metric, self.metric.removeprefix("val_")) if name in metrics}
            body = " | ".join(part for part in (
                format_metrics(dict(list(shown.items())[:1])),
                format_cost(metrics, TRIAL_COSTS),
                f"sparsity {format_value('sparsity', metrics['sparsity'])}" if "sparsity" in metrics else "",
            ) if part)
        return f"{head}: {body} | {self._best_so_far()}"

    def _best_so_far(self) -> str:
        objective = self.fpga_objective
        try:
            best = self.oracle.get_best_trials(1)
        except Exception as err:  # noqa: BLE001 - a progress line must not stop the search
            return f"best so far: unknown ({type(err).__name__})"
        best = [t for t in best if t.status == "COMPLETED" and t.score is not None and math.isfinite(t.score)]
        if not best:
            return "best so far: none within the budget" if objective.name == HARD_SCORE else "best so far: none"
        trial = best[0]
        if objective.name == HARD_SCORE:  # the score is the metric of a trial within the budget
            return f"best so far (within budget): trial_{trial.trial_id}, {self.metric} {format_value(self.metric, trial.score)}"
        return f"best so far: trial_{trial.trial_id}, {objective.name} {format_value(objective.name, trial.score)}"

    # ------------------------------------------------------------------ results
    def result(self, *, _stacklevel: int = 1) -> "SearchResult":
        """The :class:`SearchResult` of this tuner; on the chief/single process also writes the files.

        On a distributed *worker* it holds only the trials this worker ran, and writes nothing.
        """
        role = _role()
        if role == "worker":
            rows = [
                _row(trial_id, "COMPLETED", metrics.get(self.fpga_objective.name), values, metrics)
                for trial_id, values, metrics in self.reports
            ]
        else:
            rows = [_trial_to_row(t) for t in self.oracle.trials.values()]
        result = SearchResult(
            directory=Path(self.project_dir),
            part=self.part,
            budget=self.budget,
            objective=self.fpga_objective,
            metric=self.metric,
            export_options=self.export_options,
            trials=rows,
            role=role,
        )
        if role != "worker":
            result.write_files()
        result.warn_if_infeasible(stacklevel=_stacklevel + 1)
        return result


_ENDED = ("COMPLETED", "FAILED", "INVALID")


def _trials_ended(oracle: Any, trial_id: str) -> int | None:
    """How many trials of the search have ended (this one included).

    A distributed worker's oracle client cannot list the trials: there the count is read off the
    trial id, which the chief hands out in order.
    """
    trials = getattr(oracle, "trials", None)
    if isinstance(trials, Mapping):
        return sum(1 for t in trials.values() if str(t.status) in _ENDED)
    return int(trial_id) + 1 if str(trial_id).isdigit() else None


def _planned_trials(oracle: Any) -> int | None:
    """The number of trials the search will run at most (``None`` when it cannot be told)."""
    limit = getattr(oracle, "max_trials", None)
    if isinstance(oracle, kt.oracles.HyperbandOracle) and math.isfinite(oracle.hyperband_iterations):
        per_iteration = sum(oracle._get_size(b, r) for b in range(oracle._get_num_brackets()) for r in range(b + 1))
        sweep = int(oracle.hyperband_iterations) * per_iteration
        limit = min(limit, sweep) if limit else sweep
    return int(limit) if limit else None


def _trial_options(export_options: Mapping[str, Any], hp_values: Mapping[str, Any]) -> dict[str, Any]:
    options = dict(export_options)
    for name in OPTION_HPS:
        if name in hp_values and hp_values[name] is not None:
            value = hp_values[name]
            options[name] = int(value) if name == "reuse_factor" else value
    return options


def _jsonable_options(data: Any) -> Any:
    """``data`` made JSON-safe; objects such as FixedType become their ``str``."""
    return json.loads(json.dumps(_pareto.jsonable(data), default=str))


class FPGARandomSearch(_FPGATunerMixin, kt.RandomSearch):
    """keras-tuner ``RandomSearch`` that trains tf-keras models with FPGACost/Prune per trial.

    Keyword arguments: ``part``, ``budget``, ``objective`` (see :func:`resolve_objective`),
    ``metric``, ``export_options``, ``prune_options``, ``report_epoch``, ``model_seed``; the rest
    go to keras-tuner (``max_trials``, ``seed``, ``directory``, ``project_name``, ``overwrite``,
    ``distribution_strategy``, ...).
    """


class FPGABayesianOptimization(_FPGATunerMixin, kt.BayesianOptimization):
    """keras-tuner ``BayesianOptimization`` with FPGACost/Prune per trial (arguments as :class:`FPGARandomSearch`).

    With the hard objective an infeasible trial's ``-inf`` enters the Gaussian process as 0
    (keras-tuner maps non-finite scores to 0), i.e. as the worst accuracy.
    """


class FPGAHyperband(_FPGATunerMixin, kt.Hyperband):
    """keras-tuner ``Hyperband`` with FPGACost/Prune per trial (arguments as :class:`FPGARandomSearch`,
    plus ``max_epochs``, ``factor``, ``hyperband_iterations`` and an optional ``max_trials`` cap).

    A later round continues from the earlier round's saved model; its Prune ramp restarts over
    the round's epochs.
    """

    def __init__(self, hypermodel: Any, *, max_trials: int | None = None, **kwargs: Any):
        super().__init__(hypermodel, **kwargs)
        if max_trials:
            self.oracle.max_trials = int(max_trials)


def _check_executions(kwargs: Mapping[str, Any]) -> None:
    if kwargs.get("executions_per_trial", 1) != 1:
        raise ConfigError("executions_per_trial must be 1: each trial saves and reports one trained model")


# --------------------------------------------------------------------------- results
def _row(trial_id: str, status: str, score: Any, hp_values: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict:
    row: dict[str, Any] = {"trial_id": str(trial_id), "status": str(status)}
    row["score"] = None if score is None else float(score)
    completed = row["status"] == "COMPLETED" and bool(metrics)
    row["feasible"] = bool(float(metrics.get("fpga_within_budget", 1.0)) >= 0.5) if completed else None
    row["hyperparameters"] = dict(hp_values)
    row.update({name: float(value) for name, value in metrics.items()})
    return row


def _trial_to_row(trial: Any) -> dict:
    metrics = {}
    for name in trial.metrics.metrics:
        value = trial.metrics.get_last_value(name)
        if value is not None:
            metrics[name] = value
    status = trial.status
    return _row(trial.trial_id, status, trial.score, trial.hyperparameters.values, metrics)


def _trial_key(trial_id: str) -> tuple:
    return (0, int(trial_id), "") if str(trial_id).isdigit() else (1, 0, str(trial_id))


class SearchResult:
    """The outcome of :func:`search`: every trial, the best feasible one and the Pareto front.

    Attributes:
        trials: one flat dict per trial, by trial id: ``trial_id``, ``status``, ``score`` (the
            objective), ``feasible``, ``hyperparameters`` and every reported metric (``val_accuracy``,
            ``fpga_dsp``, ``fpga_lut``, ..., ``sparsity``).
        pareto: the completed trials no other trial dominates in (``metric`` max, ``fpga_dsp`` min,
            ``fpga_lut`` min), sorted by DSP then LUT, each with its ``front_index``.
        best_trial: the completed trial with the best finite objective, ``None`` when there is
            none (under the hard objective: no trial within the budget).
        files: the CSV/JSON/PNG files written (``pareto_csv``, ``pareto_json``, ``pareto_png``,
            ``trials_csv``, ``trials_json``).
        role: ``'single'``, ``'chief'`` or ``'worker'`` (a worker's result has only its own trials).
    """

    def __init__(self, *, directory: Path, part: str, budget: Mapping[str, float], objective: "kt.Objective",
                 metric: str, export_options: Mapping[str, Any], trials: Sequence[dict], role: str = "single"):
        self.directory = Path(directory)
        self.part = part
        self.budget = dict(budget or {})
        self.objective = objective
        self.export_options = dict(export_options or {})
        self.role = role
        self.trials = sorted((dict(t) for t in trials), key=lambda t: _trial_key(t["trial_id"]))
        completed = [t for t in self.trials if t["status"] == "COMPLETED"]
        self.metric = self._metric_key(metric, completed)
        self.axes = [(self.metric, _direction(self.metric) or "max")] + [(c, "min") for c in PARETO_COSTS]
        front = [completed[i] for i in _pareto.pareto_indices(completed, self.axes)]
        front.sort(key=lambda t: (t.get("fpga_dsp", 0.0), t.get("fpga_lut", 0.0), -t.get(self.metric, 0.0)))
        self.pareto = [dict(t, front_index=i) for i, t in enumerate(front)]
        scored = [t for t in completed if t["score"] is not None and math.isfinite(t["score"])]
        best = None
        for t in scored:  # first of equals (lowest trial id) wins
            if best is None or objective.better_than(t["score"], best["score"]):
                best = t
        self.best_trial = best
        self.files: dict[str, Path] = {}

    @staticmethod
    def _metric_key(metric: str, completed: Sequence[Mapping[str, Any]]) -> str:
        if completed and all(metric not in t for t in completed):
            fallback = metric.removeprefix("val_")
            if all(fallback in t for t in completed):
                return fallback
        return metric

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_directory(cls, directory: str | Path, project_name: str = "search") -> "SearchResult":
        """Read a finished search from disk (e.g. after a distributed search on a shared directory)."""
        project = Path(directory) / project_name
        config_path = project / CONFIG_FILE
        if not config_path.exists():
            raise FileNotFoundError(f"{config_path} does not exist: not an fpga_aware search directory")
        config = json.loads(config_path.read_text())
        rows = []
        for path in sorted(project.glob("trial_*/trial.json")):
            rows.append(_trial_to_row(_kt_trial.Trial.load(str(path))))
        objective = kt.Objective(config["objective"]["name"], config["objective"]["direction"])
        return cls(directory=project, part=config["part"], budget=config["budget"], objective=objective,
                   metric=config["metric"], export_options=config["export_options"], trials=rows, role="single")

    # ------------------------------------------------------------------ queries
    @property
    def feasible(self) -> bool:
        """Whether the search found a best trial (under a hard budget: one within the budget)."""
        return self.best_trial is not None

    @property
    def best_hyperparameters(self) -> "kt.HyperParameters | None":
        if self.best_trial is None:
            return None
        hp = kt.HyperParameters()
        hp.values = dict(self.best_trial["hyperparameters"])
        return hp

    def trial(self, trial_id: str) -> dict:
        for t in self.trials:
            if t["trial_id"] == str(trial_id):
                return t
        raise KeyError(f"no trial {trial_id!r}; trials: {[t['trial_id'] for t in self.trials]}")

    def model_path(self, trial_id: str) -> Path:
        return self.directory / f"trial_{trial_id}" / MODEL_FILE

    def trial_export_options(self, trial_id: str) -> dict[str, Any]:
        return _trial_options(self.export_options, self.trial(trial_id)["hyperparameters"])

    def load_model(self, trial_id: str | None = None) -> Any:
        """The saved model of ``trial_id`` (default: the best trial), QKeras layers included."""
        from fpga_aware.frontend.model_io import load_model

        if trial_id is None:
            return self.best_model()
        trial = self.trial(trial_id)
        path = self.model_path(trial["trial_id"])
        if not path.exists():
            raise FileNotFoundError(
                f"trial {trial_id} has no saved model at {path} (status {trial['status']}); in a distributed "
                "search the directory must be shared by all workers"
            )
        return load_model(path)

    def best_model(self) -> Any:
        if self.best_trial is None:
            raise NoFeasibleTrialError(self._no_feasible_message())
        return self.load_model(self.best_trial["trial_id"])

    def _front_trial(self, front_index: int) -> dict:
        if not self.pareto:
            raise NoFeasibleTrialError("the Pareto front is empty: no trial completed")
        if not isinstance(front_index, (int, np.integer)) or not 0 <= front_index < len(self.pareto):
            raise IndexError(f"front_index {front_index!r} is out of range: the front has {len(self.pareto)} points")
        return self.pareto[int(front_index)]

    def estimate(self, trial_id: str, **options: Any):
        """``fa.estimate`` of a trial's saved model with the trial's export options."""
        from fpga_aware.firmware import estimate

        opts = dict(self.trial_export_options(trial_id), **options)
        return estimate(self.load_model(trial_id), self.part, **opts)

    def to_firmware(self, front_index: int, **options: Any):
        """In-memory firmware of a Pareto point's model (the trial's export options, overridable)."""
        from fpga_aware.firmware import to_firmware

        trial_id = self._front_trial(front_index)["trial_id"]
        opts = dict(self.trial_export_options(trial_id), **options)
        return to_firmware(self.load_model(trial_id), self.part, **opts)

    def export(self, front_index: int, output_dir: str | Path, *, overwrite: bool = False, **options: Any):
        """Write the HLS project of Pareto point ``front_index`` to ``output_dir``; returns the Firmware."""
        trial_id = self._front_trial(front_index)["trial_id"]
        return self.export_trial(trial_id, output_dir, overwrite=overwrite, **options)

    def export_trial(self, trial_id: str, output_dir: str | Path, *, overwrite: bool = False, **options: Any):
        """Write the HLS project of any trial's model (the trial's export options, overridable)."""
        from fpga_aware.firmware import export

        opts = dict(self.trial_export_options(trial_id), **options)
        return export(self.load_model(trial_id), self.part, output_dir, overwrite=overwrite, **opts)

    # ------------------------------------------------------------------ messages and files
    def _no_feasible_message(self) -> str:
        completed = [t for t in self.trials if t["status"] == "COMPLETED"]
        if not completed:
            return f"no trial of the search in {self.directory} completed ({len(self.trials)} trials)"
        parts = []
        for key in self.budget:
            values = [t.get(f"fpga_{key}") for t in completed if t.get(f"fpga_{key}") is not None]
            if values:
                parts.append(f"{key}: budget {self.budget[key]:g}, cheapest trial {min(values):g}")
        return (
            f"no trial of {len(completed)} is within the budget {self.budget} ({'; '.join(parts)}); "
            "loosen the budget, search smaller/sparser/narrower models, or read result.pareto "
            "for the trade-off"
        )

    def warn_if_infeasible(self, stacklevel: int = 1) -> None:
        """Warn (:class:`NoFeasibleTrialWarning`) when no trial completed or none is within the budget."""
        completed = [t for t in self.trials if t["status"] == "COMPLETED"]
        if not completed or (self.budget and not any(t["feasible"] for t in completed)):
            warnings.warn(self._no_feasible_message(), NoFeasibleTrialWarning, stacklevel=stacklevel + 1)

    def _limits(self) -> dict[str, float]:
        from fpga_aware.core.parts import get_part

        limits = {}
        part = get_part(self.part)
        for cost in PARETO_COSTS:
            key = cost.removeprefix("fpga_")
            candidates = []
            if key in self.budget:
                candidates.append(float(self.budget[key]))
            if f"{key}_util" in self.budget:
                candidates.append(self.budget[f"{key}_util"] / 100.0 * getattr(part, key))
            if candidates:
                limits[cost] = min(candidates)
        return limits

    def write_files(self) -> dict[str, Path]:
        """Write ``pareto.csv``/``.json``/``.png`` and ``trials.csv``/``.json`` into the project directory."""
        first = ["front_index", "trial_id", "status", "feasible", "score", self.metric, *PARETO_COSTS,
                 "fpga_ff", "fpga_bram_18k", "fpga_latency_cycles", "fpga_ii", "sparsity"]
        meta = {
            "part": self.part,
            "budget": self.budget,
            "objective": {"name": self.objective.name, "direction": self.objective.direction},
            "axes": [{"name": n, "direction": d} for n, d in self.axes],
            "best_trial": None if self.best_trial is None else self.best_trial["trial_id"],
        }
        d = self.directory
        self.files = {
            "pareto_csv": _pareto.write_csv(self.pareto, d / "pareto.csv", first),
            "pareto_json": _pareto.write_json(dict(meta, front=self.pareto), d / "pareto.json"),
            "trials_csv": _pareto.write_csv(self.trials, d / "trials.csv", first),
            "trials_json": _pareto.write_json(dict(meta, trials=self.trials), d / "trials.json"),
        }
        completed = [t for t in self.trials if t["status"] == "COMPLETED"]
        self.files["pareto_png"] = _pareto.plot_front(
            completed, self.pareto, self.metric, d / "pareto.png", costs=PARETO_COSTS, limits=self._limits(),
            metric_direction=self.axes[0][1], chosen=None if self.best_trial is None else self.best_trial["trial_id"],
            title=f"{self.metric} vs estimated cost on {self.part}: {len(completed)} trials (labels: trial ids), "
                  f"{len(self.pareto)} on the Pareto front",
        )
        return self.files

    def summary(self) -> str:
        """A text table of the Pareto front."""
        lines = [f"{'#':>3} {'trial':>6} {self.metric:>14} {'DSP':>7} {'LUT':>8} {'sparsity':>8} feasible  hyperparameters"]
        for t in self.pareto:
            hps = ", ".join(f"{k}={v}" for k, v in t["hyperparameters"].items() if not k.startswith("tuner/"))
            lines.append(
                f"{t['front_index']:>3} {t['trial_id']:>6} {t.get(self.metric, float('nan')):>14.4f} "
                f"{t.get('fpga_dsp', float('nan')):>7.0f} {t.get('fpga_lut', float('nan')):>8.0f} "
                f"{t.get('sparsity', 0.0):>8.2f} {str(t['feasible']):>8}  {hps}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        best = None if self.best_trial is None else self.best_trial["trial_id"]
        return (f"SearchResult({self.directory}, {len(self.trials)} trials, {len(self.pareto)} on the front, "
                f"best={best!r}, objective={self.objective.name})")


# --------------------------------------------------------------------------- entry point
def _signature(part, budget, objective, metric, algorithm, export_options, report_epoch) -> dict:
    return _jsonable_options({
        "part": part,
        "budget": dict(budget or {}),
        "objective": {"name": objective.name, "direction": objective.direction},
        "metric": metric,
        "algorithm": algorithm,
        "export_options": dict(export_options or {}),
        "report_epoch": report_epoch,
    })


def make_tuner(
    algorithm: str,
    build_model: Callable[[Any], Any],
    *,
    part: str = DEFAULT_PART,
    budget: Mapping[str, float] | None = None,
    objective: Any = None,
    metric: str = "val_accuracy",
    max_trials: int = 10,
    epochs: int = 10,
    directory: str | Path = "fpga_search",
    project_name: str = "search",
    seed: int | None = 1,
    overwrite: bool = False,
    export_options: Mapping[str, Any] | None = None,
    prune_options: Mapping[str, Any] | None = None,
    report_epoch: str = "last",
    distribution_strategy: Any = None,
    tuner_options: Mapping[str, Any] | None = None,
):
    """Build the tuner of :func:`search` (``algorithm``: ``'random'``, ``'bayesian'`` or ``'hyperband'``).

    Checks the directory: an existing search there is resumed (``overwrite=False``) only if it
    was started with the same part, budget, objective, metric, algorithm, export options and
    ``report_epoch``, else :class:`SearchConfigError`; ``overwrite=True`` deletes it first
    (ignored, with a warning, on a distributed worker: only the chief may delete).
    """
    name = _ALGORITHMS.get(str(algorithm).lower().replace("_", ""))
    if name is None:
        raise ConfigError(f"algorithm {algorithm!r} is not one of 'random', 'bayesian', 'hyperband'")
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
        raise ConfigError(f"max_trials must be a positive integer, got {max_trials!r}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ConfigError(f"epochs must be a positive integer, got {epochs!r}")
    resolved = resolve_objective(objective, budget, metric)
    project = Path(directory) / project_name
    if overwrite and _is_worker():
        logger.warning("overwrite=True is ignored on a distributed worker: only the chief may delete %s", project)
        overwrite = False
    signature = _signature(part, budget, resolved, metric, name, export_options, report_epoch)
    config_path = project / CONFIG_FILE
    if not overwrite and not _is_worker() and config_path.exists():
        previous = json.loads(config_path.read_text())
        if previous != signature:
            changed = sorted(key for key in set(previous) | set(signature) if previous.get(key) != signature.get(key))
            raise SearchConfigError(
                f"{project} holds a search with other settings ({', '.join(changed)}: was "
                f"{ {k: previous.get(k) for k in changed} }, now { {k: signature.get(k) for k in changed} }); "
                "pass overwrite=True to replace it, or another directory/project_name"
            )
    resuming = not overwrite and (project / "oracle.json").exists()
    common = dict(
        part=part, budget=budget, objective=resolved, metric=metric, export_options=export_options,
        prune_options=prune_options, report_epoch=report_epoch, model_seed=seed,
        directory=str(directory), project_name=project_name, overwrite=overwrite,
        distribution_strategy=distribution_strategy, **dict(tuner_options or {}),
    )
    oracle_seed = None if seed is None else int(seed) + 1  # keras-tuner treats seed 0 as "no seed"
    if name == "random":
        tuner = FPGARandomSearch(build_model, max_trials=max_trials, seed=oracle_seed, **common)
    elif name == "bayesian":
        tuner = FPGABayesianOptimization(build_model, max_trials=max_trials, seed=oracle_seed, **common)
    else:
        tuner = FPGAHyperband(build_model, max_epochs=epochs, max_trials=max_trials, seed=oracle_seed, **common)
    if resuming:
        done = sum(1 for t in tuner.oracle.trials.values() if t.status == "COMPLETED") if not _is_worker() else "?"
        logger.info("resuming the search in %s (%s trials completed); overwrite=True starts afresh", project, done)
    if not _is_worker():
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps(signature, indent=2) + "\n")
    return tuner


def search(
    build_model: Callable[[Any], Any],
    x: Any,
    y: Any = None,
    *,
    part: str,
    budget: Mapping[str, float] | None = None,
    objective: Any = None,
    max_trials: int = 10,
    epochs: int = 10,
    validation_data: Any = None,
    validation_split: float = 0.2,
    directory: str | Path = "fpga_search",
    project_name: str = "search",
    algorithm: str = "bayesian",
    seed: int | None = 1,
    overwrite: bool = False,
    metric: str = "val_accuracy",
    batch_size: int = 32,
    callbacks: Sequence[Any] | None = None,
    prune_options: Mapping[str, Any] | None = None,
    report_epoch: str = "last",
    verbose: int = 0,
    distribution_strategy: Any = None,
    tuner_options: Mapping[str, Any] | None = None,
    **export_options: Any,
) -> SearchResult:
    """Run a cost-aware keras-tuner search and return its :class:`SearchResult`.

    Args:
        build_model: ``build_model(hp)`` returning a compiled tf-keras model (e.g.
            :func:`mlp_hypermodel`).
        x, y: training data, passed to ``fit``.
        part: FPGA part of the cost estimate.
        budget: resource limits, keys as FPGACost's (``{'dsp': 1000}``, ``{'lut_util': 30}``).
        objective: ``None`` (``'hard'`` with a budget, else ``metric``), ``'hard'``, ``'soft'``, a
            logged metric name or a ``keras_tuner.Objective``.
        max_trials, epochs: trials to run (in total, resumed ones included) and epochs per trial
            (Hyperband: the maximum epochs).
        validation_data, validation_split: validation for ``metric`` (``validation_data`` wins;
            a ``tf.data.Dataset`` ``x`` needs ``validation_data``).
        batch_size: for array inputs (ignored for a ``tf.data.Dataset``).
        directory, project_name: the search lives in ``directory/project_name``; an existing
            search there is resumed when ``overwrite=False`` (the default).
        algorithm: ``'bayesian'`` (default), ``'random'`` or ``'hyperband'``.
        seed: seeds the oracle and each trial's weight initialisation (``None``: unseeded).
        metric: the validation metric of the objectives and of the Pareto front.
        callbacks: more Keras callbacks for every trial (deep-copied per trial).
        prune_options: ``Prune`` options except ``target_sparsity`` (from the ``sparsity`` hp).
        report_epoch: ``'last'`` (default) or ``'best'`` epoch of each trial is reported/saved.
        distribution_strategy: a ``tf.distribute`` strategy each trial is built and fitted in.
        tuner_options: more keras-tuner arguments (``num_initial_points``, ``factor``, ...).
        **export_options: ``fa.to_firmware`` options for the cost estimate and later exports.
    """
    tuner = make_tuner(
        algorithm, build_model, part=part, budget=budget, objective=objective, metric=metric,
        max_trials=max_trials, epochs=epochs, directory=directory, project_name=project_name, seed=seed,
        overwrite=overwrite, export_options=export_options, prune_options=prune_options,
        report_epoch=report_epoch, distribution_strategy=distribution_strategy, tuner_options=tuner_options,
    )
    fit_kwargs: dict[str, Any] = dict(epochs=epochs, verbose=verbose, callbacks=list(callbacks or []))
    if not isinstance(x, tf.data.Dataset):  # a dataset is batched already
        fit_kwargs["batch_size"] = batch_size
    if validation_data is not None:
        fit_kwargs["validation_data"] = validation_data
    elif validation_split and isinstance(x, tf.data.Dataset):
        logger.warning(
            "validation_split cannot split a tf.data.Dataset; pass validation_data=... (without it the "
            "objective falls back from %r to the training metric)", metric,
        )
    elif validation_split:
        fit_kwargs["validation_split"] = validation_split
    if y is None:
        tuner.search(x, **fit_kwargs)
    else:
        tuner.search(x, y, **fit_kwargs)
    result = tuner.result(_stacklevel=2)
    logger.info("%r", result)
    return result
