"""The outcome of a search: :class:`SearchResult` (every trial, the best feasible one, the Pareto
front, their files, and the exports of any trial)."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from fpga_aware.search import pareto as _pareto
from fpga_aware._stack import tensorflow
from fpga_aware.cost.tools import DEFAULT_TOOL

tensorflow()  # the tf-keras guard, before keras_tuner imports Keras

import keras_tuner as kt  # noqa: E402
from keras_tuner.src.engine import trial as _kt_trial  # noqa: E402

from fpga_aware.search.tuner.errors import NoFeasibleTrialError, NoFeasibleTrialWarning  # noqa: E402
from fpga_aware.search.tuner.objectives import metric_direction  # noqa: E402
from fpga_aware.search.tuner.trials import CONFIG_FILE, MODEL_FILE, trial_key, trial_options, trial_to_row  # noqa: E402

__all__ = ["SearchResult", "PARETO_COSTS"]

#: The cost axes of the Pareto front (the metric is the third axis).
PARETO_COSTS = ("fpga_dsp", "fpga_lut")


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
                 metric: str, export_options: Mapping[str, Any], trials: Sequence[dict], role: str = "single",
                 tool: str = DEFAULT_TOOL):
        self.directory = Path(directory)
        self.part = part
        self.tool = tool
        self.budget = dict(budget or {})
        self.objective = objective
        self.export_options = dict(export_options or {})
        self.role = role
        self.trials = sorted((dict(t) for t in trials), key=lambda t: trial_key(t["trial_id"]))
        completed = [t for t in self.trials if t["status"] == "COMPLETED"]
        self.metric = self._metric_key(metric, completed)
        self.axes = [(self.metric, metric_direction(self.metric) or "max")] + [(c, "min") for c in PARETO_COSTS]
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
            rows.append(trial_to_row(_kt_trial.Trial.load(str(path))))
        objective = kt.Objective(config["objective"]["name"], config["objective"]["direction"])
        # searches written before the tool was recorded were estimated for Vivado HLS
        return cls(directory=project, part=config["part"], budget=config["budget"], objective=objective,
                   metric=config["metric"], export_options=config["export_options"], trials=rows, role="single",
                   tool=config.get("tool", "vivado"))

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
        return trial_options(self.export_options, self.trial(trial_id)["hyperparameters"])

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
        """``fa.estimate`` of a trial's saved model with the trial's export options, for the search's tool
        (unless ``tool=`` says otherwise)."""
        from fpga_aware.firmware import estimate

        opts = dict(self.trial_export_options(trial_id), **options)
        opts.setdefault("tool", self.tool)
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
            "tool": self.tool,
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
