"""``FPGACost``: the estimated FPGA cost of the model as it is now, in Keras ``logs``.

Every epoch (or every ``N`` batches) the callback converts the current model — its current
zeros and masks, QKeras quantizers and tfmot pruning wrappers included — with the same parser as
:func:`fpga_aware.to_firmware` and runs the cost model on it.  The numbers go into ``logs`` under
``fpga_dsp``, ``fpga_lut``, ``fpga_ff``, ``fpga_bram_18k``, ``fpga_latency_cycles``, ``fpga_ii``
and ``fpga_<resource>_util`` (percent of the part), so History, CSVLogger, TensorBoard,
EarlyStopping and keras-tuner objectives all see them.

With a ``budget`` (for example ``{'dsp': 500}`` or ``{'lut_util': 50.0}``) it also logs

    fpga_score = metric * prod_k min(1, budget_k / cost_k)

where ``metric`` is the chosen logged metric (``val_accuracy`` by default, falling back to
``accuracy`` when there is no validation data).  Within budget the score *is* the metric; a model
twice over a budget scores half.  It is to be maximised (``EarlyStopping(monitor='fpga_score',
mode='max')``), and ``fpga_within_budget`` (1.0 or 0.0) tells whether every budget holds.
"""

from __future__ import annotations

import logging
import math
import numbers
from typing import Any, Mapping

import numpy as np

from fpga_aware._stack import keras
from fpga_aware.core.config import DEFAULT_PART, ConfigError, FirmwareConfig, is_integer
from fpga_aware.cost import DEFAULT_TOOL, ESTIMATE_TOOLS, estimate_for_tool
from fpga_aware.frontend.keras import build_ir

__all__ = ["FPGACost", "COST_KEYS"]

logger = logging.getLogger(__name__)

k = keras()

#: Totals logged by FPGACost (prefixed with ``fpga_``).
COST_KEYS = ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")
_UTIL_KEYS = ("dsp", "lut", "ff", "bram_18k")
_BUDGET_KEYS = COST_KEYS + tuple(f"{key}_util" for key in _UTIL_KEYS)


def _compiled_metric_names(model) -> "set[str] | None":
    """The names a compiled single-output model logs ('loss' and its compiled metrics), or
    ``None`` when they cannot be read before training."""
    container = getattr(model, "compiled_metrics", None)
    if container is None or not hasattr(container, "_user_metrics"):
        return None
    names = {"loss"}
    for group in (container._user_metrics, getattr(container, "_user_weighted_metrics", None)):
        if group is None:
            continue
        if isinstance(group, Mapping) or any(isinstance(m, (list, tuple, Mapping)) for m in group):
            return None  # several outputs: names get prefixes; leave it to the first batch
        for m in group:
            name = m if isinstance(m, str) else getattr(m, "name", None) or getattr(m, "__name__", None)
            if not isinstance(name, str):
                return None
            names.add(name)
    return names


class FPGACost(k.callbacks.Callback):
    """Log the estimated FPGA cost of the model into Keras ``logs``.

    Args:
        part: FPGA part name (see :mod:`fpga_aware.core.parts`).
        every: ``'epoch'`` (default) or a positive number of batches.
        budget: optional resource limits, keys among ``dsp, lut, ff, bram_18k, latency_cycles,
            ii`` and ``<resource>_util`` (percent of the part); adds ``fpga_score``.
        metric: the logged metric combined with the cost in ``fpga_score``.
        tool: the tool the estimate is for (:data:`~fpga_aware.cost.tools.ESTIMATE_TOOLS`):
            ``'vitis'`` (default), ``'vivado'`` or ``'yosys'``; it is logged when training begins
            and named by every report (``last_report.tool``).
        **options: any :func:`fpga_aware.to_firmware` option (precision, reuse_factor, strategy,
            layer_config, clock_period, ...).
    """

    def __init__(
        self,
        part: str = DEFAULT_PART,
        every: "str | int" = "epoch",
        budget: Mapping[str, float] | None = None,
        metric: str = "val_accuracy",
        tool: str = DEFAULT_TOOL,
        **options: Any,
    ):
        super().__init__()
        if tool not in ESTIMATE_TOOLS:
            raise ConfigError(f"FPGACost tool={tool!r} is not one of {list(ESTIMATE_TOOLS)}")
        self.tool = tool
        if every != "epoch" and (not is_integer(every) or every < 1):
            raise ConfigError(f"FPGACost every={every!r} is invalid; use 'epoch' or a positive number of batches")
        self.config = FirmwareConfig.from_options(part, **options)  # an unknown part raises here
        self.every = every if every == "epoch" else int(every)
        if budget is not None and not isinstance(budget, Mapping):
            raise ConfigError(
                f"FPGACost budget must be a dict of resource -> limit such as {{'dsp': 500}}, got {budget!r}"
            )
        self.budget = dict(budget or {})
        unknown = sorted(set(self.budget) - set(_BUDGET_KEYS), key=str)
        if unknown:
            raise ConfigError(f"FPGACost budget keys {unknown} are unknown; allowed: {list(_BUDGET_KEYS)}")
        for key, value in self.budget.items():
            if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real)
                    or not math.isfinite(value) or value <= 0):
                raise ConfigError(f"FPGACost budget[{key!r}]={value!r} must be a positive, finite number")
            self.budget[key] = float(value)
        if not isinstance(metric, str) or not metric:
            raise ConfigError(f"FPGACost metric={metric!r} must be the name of a logged metric, such as 'val_accuracy'")
        self.metric = metric
        self.last_report = None
        self.history: list[dict[str, float]] = []
        self._batches = 0
        self._metric_checked = False

    # ------------------------------------------------------------------ estimation
    def estimate(self):
        """The cost report of the model as it is now (its IR through the cost model of ``tool``; no
        emulator is built)."""
        return estimate_for_tool(build_ir(self.model, self.config), self.config, self.tool)

    def cost_logs(self, metrics: Mapping[str, Any] | None = None) -> dict[str, float]:
        report = self.estimate()
        self.last_report = report
        values = {f"fpga_{key}": float(getattr(report, key)) for key in COST_KEYS}
        util = report.utilization()
        values.update({f"fpga_{key}_util": float(util[key]) for key in _UTIL_KEYS})
        if self.budget and metrics is not None:
            values.update(self._score(values, metrics))
        return values

    def _score(self, values: Mapping[str, float], metrics: Mapping[str, Any]) -> dict[str, float]:
        metric_name = self.metric if self.metric in metrics else self.metric.removeprefix("val_")
        if metric_name not in metrics:
            raise KeyError(
                f"FPGACost(metric={self.metric!r}) is not among the logged metrics {sorted(metrics)}; "
                "choose one with metric=..."
            )
        factor = 1.0
        within = True
        for key, limit in self.budget.items():
            cost = values[f"fpga_{key}"]
            if cost > limit:
                within = False
                factor *= limit / cost
        return {"fpga_score": float(metrics[metric_name]) * factor, "fpga_within_budget": float(within)}

    # ------------------------------------------------------------------ Keras hooks
    def on_train_begin(self, logs: dict | None = None) -> None:
        """Convert the model once now: a bad ``layer_config`` or an unknown ``metric`` fails before
        the first epoch, not after it.  Logs which tool the estimates are for."""
        report = self.estimate()
        logger.info("FPGACost: estimates for %s on %s", report.tool, report.part.name)
        if self.budget:
            names = _compiled_metric_names(self.model)
            if names is not None:
                self._check_metric(names)

    def _check_metric(self, names) -> None:
        if self.metric not in names and self.metric.removeprefix("val_") not in names:
            raise ConfigError(
                f"FPGACost(metric={self.metric!r}) is not among the metrics the model logs {sorted(names)} "
                "(or their val_ forms); choose one with metric=..."
            )
        self._metric_checked = True

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.budget and not self._metric_checked and logs is not None:
            self._check_metric(set(logs))  # the compiled metrics could not be read: the first batch tells
        if self.every == "epoch":
            return
        self._batches += 1
        if self._batches % self.every == 0 and logs is not None:
            logs.update(self.cost_logs())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        values = self.cost_logs(logs)
        self.history.append(values)
        if logs is not None:
            logs.update(values)
        logger.debug("epoch %d: %s", epoch, ", ".join(f"{k}={v:g}" for k, v in values.items()))
