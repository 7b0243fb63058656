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
from typing import Any, Mapping

from ._stack import keras
from .config import ConfigError, FirmwareConfig
from .firmware import Firmware
from .parser import build_ir

__all__ = ["FPGACost", "COST_KEYS"]

logger = logging.getLogger(__name__)

k = keras()

#: Totals logged by FPGACost (prefixed with ``fpga_``).
COST_KEYS = ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")
_UTIL_KEYS = ("dsp", "lut", "ff", "bram_18k")
_BUDGET_KEYS = COST_KEYS + tuple(f"{key}_util" for key in _UTIL_KEYS)


class FPGACost(k.callbacks.Callback):
    """Log the estimated FPGA cost of the model into Keras ``logs``.

    Args:
        part: FPGA part name (see :mod:`fpga_aware.parts`).
        every: ``'epoch'`` (default) or a positive number of batches.
        budget: optional resource limits, keys among ``dsp, lut, ff, bram_18k, latency_cycles,
            ii`` and ``<resource>_util`` (percent of the part); adds ``fpga_score``.
        metric: the logged metric combined with the cost in ``fpga_score``.
        **options: any :func:`fpga_aware.to_firmware` option (precision, reuse_factor, strategy,
            layer_config, clock_period, ...).
    """

    def __init__(
        self,
        part: str = "xcu250-figd2104-2L-e",
        every: "str | int" = "epoch",
        budget: Mapping[str, float] | None = None,
        metric: str = "val_accuracy",
        **options: Any,
    ):
        super().__init__()
        if every != "epoch" and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ConfigError(f"FPGACost every={every!r} is invalid; use 'epoch' or a positive number of batches")
        self.config = FirmwareConfig.from_options(part, **options)
        from .parts import get_part

        get_part(self.config.part)  # unknown part → UnknownPartError now, not at the first epoch
        self.every = every
        self.budget = dict(budget or {})
        unknown = sorted(set(self.budget) - set(_BUDGET_KEYS))
        if unknown:
            raise ConfigError(f"FPGACost budget keys {unknown} are unknown; allowed: {list(_BUDGET_KEYS)}")
        for key, value in self.budget.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ConfigError(f"FPGACost budget[{key!r}]={value!r} must be a positive number")
        self.metric = metric
        self.last_report = None
        self.history: list[dict[str, float]] = []
        self._batches = 0

    # ------------------------------------------------------------------ estimation
    def estimate(self):
        """The cost report of the model as it is now."""
        return Firmware(build_ir(self.model, self.config), self.config).estimate()

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
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
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
