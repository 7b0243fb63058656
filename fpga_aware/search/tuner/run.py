"""The entry points of a search: :func:`make_tuner` (checks or resumes the search directory) and
:func:`search` (runs it and returns its :class:`~fpga_aware.search.tuner.result.SearchResult`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from fpga_aware._stack import tensorflow
from fpga_aware.core.config import DEFAULT_PART, ConfigError
from fpga_aware.cost.tools import DEFAULT_TOOL, ESTIMATE_TOOLS
from fpga_aware.search.tuner.distributed import is_worker
from fpga_aware.search.tuner.errors import SearchConfigError
from fpga_aware.search.tuner.objectives import resolve_objective
from fpga_aware.search.tuner.result import SearchResult
from fpga_aware.search.tuner.trials import CONFIG_FILE, jsonable_options
from fpga_aware.search.tuner.tuners import FPGABayesianOptimization, FPGAHyperband, FPGARandomSearch

__all__ = ["make_tuner", "search"]

logger = logging.getLogger(__name__)

tf = tensorflow()

_ALGORITHMS = {
    "random": "random",
    "randomsearch": "random",
    "bayesian": "bayesian",
    "bayesianoptimization": "bayesian",
    "hyperband": "hyperband",
}


def _signature(part, budget, objective, metric, algorithm, export_options, report_epoch, tool) -> dict:
    return jsonable_options({
        "part": part,
        "tool": tool,
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
    tool: str = DEFAULT_TOOL,
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
    if overwrite and is_worker():
        logger.warning("overwrite=True is ignored on a distributed worker: only the chief may delete %s", project)
        overwrite = False
    if tool not in ESTIMATE_TOOLS:
        raise ConfigError(f"tool {tool!r} is not one of {list(ESTIMATE_TOOLS)}")
    signature = _signature(part, budget, resolved, metric, name, export_options, report_epoch, tool)
    config_path = project / CONFIG_FILE
    if not overwrite and not is_worker() and config_path.exists():
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
        part=part, tool=tool, budget=budget, objective=resolved, metric=metric, export_options=export_options,
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
        done = sum(1 for t in tuner.oracle.trials.values() if t.status == "COMPLETED") if not is_worker() else "?"
        logger.info("resuming the search in %s (%s trials completed); overwrite=True starts afresh", project, done)
    if not is_worker():
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
    tool: str = DEFAULT_TOOL,
    **export_options: Any,
) -> SearchResult:
    """Run a cost-aware keras-tuner search and return its :class:`SearchResult`.

    Args:
        build_model: ``build_model(hp)`` returning a compiled tf-keras model (e.g.
            :func:`mlp_hypermodel`).
        x, y: training data, passed to ``fit``.
        part: FPGA part of the cost estimate.
        tool: the tool the cost estimate is for (``'vitis'``, ``'vivado'`` or ``'yosys'``).
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
        tool=tool,
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
