"""What a trial records and where: its files, its export options, and the flat row a
:class:`~fpga_aware.search.tuner.result.SearchResult` holds for it."""

from __future__ import annotations

import json
from typing import Any, Mapping

from fpga_aware.search import pareto as _pareto

__all__ = [
    "OPTION_HPS",
    "CONFIG_FILE",
    "REPORT_FILE",
    "MODEL_FILE",
    "trial_options",
    "jsonable_options",
    "trial_row",
    "trial_to_row",
    "trial_key",
]

#: Hyperparameters that, when defined, set the export option of the same name for the trial.
OPTION_HPS = ("reuse_factor", "strategy", "precision", "clock_period")
#: Files in a search's project directory.
CONFIG_FILE = "fpga_search.json"
REPORT_FILE = "fpga_report.json"
MODEL_FILE = "model.h5"


def trial_options(export_options: Mapping[str, Any], hp_values: Mapping[str, Any]) -> dict[str, Any]:
    """The search's export options, overridden by the trial's same-named hyperparameters (:data:`OPTION_HPS`)."""
    options = dict(export_options)
    for name in OPTION_HPS:
        if name in hp_values and hp_values[name] is not None:
            value = hp_values[name]
            options[name] = int(value) if name == "reuse_factor" else value
    return options


def jsonable_options(data: Any) -> Any:
    """``data`` made JSON-safe; objects such as FixedType become their ``str``."""
    return json.loads(json.dumps(_pareto.jsonable(data), default=str))



def trial_row(trial_id: str, status: str, score: Any, hp_values: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict:
    """One trial as a flat dict: id, status, score, feasible, hyperparameters and every metric."""
    row: dict[str, Any] = {"trial_id": str(trial_id), "status": str(status)}
    row["score"] = None if score is None else float(score)
    completed = row["status"] == "COMPLETED" and bool(metrics)
    row["feasible"] = bool(float(metrics.get("fpga_within_budget", 1.0)) >= 0.5) if completed else None
    row["hyperparameters"] = dict(hp_values)
    row.update({name: float(value) for name, value in metrics.items()})
    return row


def trial_to_row(trial: Any) -> dict:
    """:func:`trial_row` of a keras-tuner ``Trial`` (its last value of each metric)."""
    metrics = {}
    for name in trial.metrics.metrics:
        value = trial.metrics.get_last_value(name)
        if value is not None:
            metrics[name] = value
    status = trial.status
    return trial_row(trial.trial_id, status, trial.score, trial.hyperparameters.values, metrics)


def trial_key(trial_id: str) -> tuple:
    """Sort key of trial ids: numeric ids in numeric order, then the others by name."""
    return (0, int(trial_id), "") if str(trial_id).isdigit() else (1, 0, str(trial_id))
