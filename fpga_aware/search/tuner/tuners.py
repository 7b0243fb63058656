"""The keras-tuner tuners of a search: ``run_trial`` for tf-keras models with FPGACost (and Prune when
the trial's ``sparsity`` is above 0), one progress line per trial, and the trial's report."""

from __future__ import annotations

import copy
import logging
import math
import time
import warnings
import zlib
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from fpga_aware.search import pareto as _pareto
from fpga_aware._stack import keras, tensorflow
from fpga_aware.training.callbacks import FPGACost
from fpga_aware.core.config import DEFAULT_PART, ConfigError
from fpga_aware.cost.tools import DEFAULT_TOOL
from fpga_aware.training.progress import format_cost, format_metrics, format_value
from fpga_aware.training.pruning import DEFAULT_RAMP_FRACTION, Prune

tf = tensorflow()
k = keras()

import keras_tuner as kt  # noqa: E402  (after the tf-keras guard)
from keras_tuner.src.engine import trial as _kt_trial  # noqa: E402

from fpga_aware.search.tuner.distributed import process_role  # noqa: E402
from fpga_aware.search.tuner.objectives import HARD_SCORE, resolve_objective  # noqa: E402
from fpga_aware.search.tuner.result import SearchResult  # noqa: E402
from fpga_aware.search.tuner.trials import (  # noqa: E402
    MODEL_FILE,
    REPORT_FILE,
    jsonable_options,
    trial_options,
    trial_row,
    trial_to_row,
)

__all__ = ["FPGARandomSearch", "FPGABayesianOptimization", "FPGAHyperband", "TRIAL_COSTS", "planned_trials"]

logger = logging.getLogger(__name__)

#: The cost totals of a trial's progress line.
TRIAL_COSTS = ("fpga_dsp", "fpga_lut", "fpga_latency_cycles", "fpga_ii")


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
                 report_epoch: str = "last", model_seed: int | None = 0, tool: str = DEFAULT_TOOL,
                 **kwargs: Any):
        objective = self._setup_fpga(part=part, tool=tool, budget=budget, objective=objective, metric=metric,
                                     export_options=export_options, prune_options=prune_options,
                                     report_epoch=report_epoch, model_seed=model_seed)
        _check_executions(kwargs)
        super().__init__(hypermodel, objective=objective, **kwargs)

    def _setup_fpga(
        self,
        *,
        part: str,
        tool: str,
        budget: Mapping[str, float] | None,
        objective: Any,
        metric: str,
        export_options: Mapping[str, Any] | None,
        prune_options: Mapping[str, Any] | None,
        report_epoch: str,
        model_seed: int | None,
    ) -> "kt.Objective":
        self.part = part
        self.tool = tool
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
        FPGACost(part, budget=self.budget or None, metric=metric, tool=tool, **self.export_options)
        #: ``(trial_id, hyperparameter values, metrics)`` of the trials this process ran.
        self.reports: list[tuple[str, dict, dict]] = []
        self.fpga_objective = resolve_objective(objective, self.budget, metric)
        return self.fpga_objective

    # ------------------------------------------------------------------ paths
    def model_path(self, trial_id: str) -> Path:
        return Path(self.get_trial_dir(trial_id)) / MODEL_FILE

    def trial_export_options(self, hp_values: Mapping[str, Any]) -> dict[str, Any]:
        """The export options of a trial: the search's, overridden by same-named hyperparameters."""
        return trial_options(self.export_options, hp_values)

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
        callbacks.append(FPGACost(self.part, budget=self.budget or None, metric=self.metric, tool=self.tool,
                                  **options))
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
        _pareto.write_json(jsonable_options(report), path.parent / REPORT_FILE)
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
        planned = planned_trials(self.oracle)
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
        role = process_role()
        if role == "worker":
            rows = [
                trial_row(trial_id, "COMPLETED", metrics.get(self.fpga_objective.name), values, metrics)
                for trial_id, values, metrics in self.reports
            ]
        else:
            rows = [trial_to_row(t) for t in self.oracle.trials.values()]
        result = SearchResult(
            directory=Path(self.project_dir),
            part=self.part,
            tool=self.tool,
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


def planned_trials(oracle: Any) -> int | None:
    """The number of trials the search will run at most (``None`` when it cannot be told)."""
    limit = getattr(oracle, "max_trials", None)
    if isinstance(oracle, kt.oracles.HyperbandOracle) and math.isfinite(oracle.hyperband_iterations):
        per_iteration = sum(oracle._get_size(b, r) for b in range(oracle._get_num_brackets()) for r in range(b + 1))
        sweep = int(oracle.hyperband_iterations) * per_iteration
        limit = min(limit, sweep) if limit else sweep
    return int(limit) if limit else None



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
