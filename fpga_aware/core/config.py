"""Typed configuration of a firmware export.

``to_firmware(model, part, precision=..., reuse_factor=..., strategy=..., layer_config=...)``
arguments are validated once here into :class:`FirmwareConfig`; nothing downstream reads a
raw dict.  Every invalid value raises :class:`ConfigError` naming the option (and the layer)
and listing what is allowed.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from fpga_aware.core.fixed import FixedType, Overflow, PrecisionError, parse_precision
from fpga_aware.core.ir import IOType, Strategy
from fpga_aware.core.names import project_name_problem
from fpga_aware.core.parts import DEFAULT_PART

__all__ = [
    "DEFAULT_CLOCK_PERIOD",
    "ConfigError",
    "LayerPrecision",
    "LayerConfig",
    "FirmwareConfig",
    "DEFAULT_PART",
    "DEFAULT_PRECISION",
]

DEFAULT_PRECISION = "ap_fixed<16,6>"

_PRECISION_KEYS = ("weight", "bias", "result", "accum")
_LAYER_KEYS = ("precision", "reuse_factor", "strategy", "table_size")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """An export option is invalid; the message names it and lists what is allowed."""


class PrecisionConfigError(ConfigError, PrecisionError):
    """An invalid precision given as an export option (both a ConfigError and a PrecisionError)."""


def _precision(value: Any, where: str) -> FixedType:
    try:
        return parse_precision(value)
    except PrecisionError as err:
        raise PrecisionConfigError(f"{where}: {err}") from None


def _explicit_overflow(value: Any) -> bool:
    """Whether a precision names its overflow mode: a string with the 4th argument
    (``ap_fixed<16,6,AP_TRN,AP_WRAP>``), or a FixedType whose mode is not the default wrap."""
    if isinstance(value, FixedType):
        return value.overflow != Overflow.WRAP
    if isinstance(value, str) and "<" in value:
        return len(value.split("<", 1)[1].split(",")) >= 4
    return False


def _strategy(value: Any, where: str) -> Strategy:
    if isinstance(value, Strategy):
        return value
    if isinstance(value, str):
        try:
            return Strategy(value.lower())
        except ValueError:
            pass
    allowed = ", ".join(repr(s.value) for s in Strategy)
    raise ConfigError(f"{where}: strategy {value!r} is not one of {allowed}")


def is_integer(value: Any) -> bool:
    """An integer option: a Python or numpy integer, never a bool (nor a float, even 2.0)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _reuse_factor(value: Any, where: str) -> int:
    if not is_integer(value) or value < 1:
        raise ConfigError(
            f"{where}: reuse_factor {value!r} is invalid; it must be a positive integer "
            "(the valid values for each layer are 1 .. n_in*n_out)"
        )
    return int(value)


@dataclass(frozen=True)
class LayerPrecision:
    """Fixed-point types of one layer; ``None`` means "derive the default"."""

    weight: FixedType | None = None
    bias: FixedType | None = None
    result: FixedType | None = None
    accum: FixedType | None = None
    #: the keys a dict named (each must apply to the layer); empty for the one-type form
    keys: frozenset = frozenset()
    #: the keys whose precision names its overflow mode explicitly (``AP_SAT``, ``AP_WRAP``...):
    #: weights, biases and table entries are then converted with that mode even where they
    #: overflow; otherwise an overflowing value is an error
    explicit_overflow: frozenset = frozenset()

    @classmethod
    def parse(cls, value: Any, where: str) -> "LayerPrecision":
        """A string/FixedType sets weight, bias and result (those the layer has); a dict sets named entries."""
        if isinstance(value, LayerPrecision):
            return value
        if isinstance(value, (str, FixedType)):
            t = _precision(value, f"{where} precision")
            explicit = frozenset(("weight", "bias", "result")) if _explicit_overflow(value) else frozenset()
            return cls(weight=t, bias=t, result=t, explicit_overflow=explicit)
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - set(_PRECISION_KEYS))
            if unknown:
                raise ConfigError(
                    f"{where}: unknown precision key(s) {unknown}; allowed keys are {list(_PRECISION_KEYS)}"
                )
            types = {k: _precision(v, f"{where} precision['{k}']") for k, v in value.items()}
            explicit = frozenset(k for k, v in value.items() if _explicit_overflow(v))
            return cls(**types, keys=frozenset(value), explicit_overflow=explicit)
        raise ConfigError(
            f"{where}: precision must be a string like 'ap_fixed<16,6>', a FixedType or a dict "
            f"with keys {list(_PRECISION_KEYS)}, got {value!r}"
        )


@dataclass(frozen=True)
class LayerConfig:
    """Per-layer overrides; ``None`` fields fall back to the model-wide settings."""

    precision: LayerPrecision = field(default_factory=LayerPrecision)
    reuse_factor: int | None = None
    strategy: Strategy | None = None
    table_size: int | None = None

    @classmethod
    def parse(cls, layer_name: str, value: Any) -> "LayerConfig":
        where = f"layer_config[{layer_name!r}]"
        if isinstance(value, LayerConfig):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a dict with keys {list(_LAYER_KEYS)}, got {value!r}")
        unknown = sorted(set(value) - set(_LAYER_KEYS))
        if unknown:
            raise ConfigError(f"{where}: unknown option(s) {unknown}; allowed options are {list(_LAYER_KEYS)}")
        table_size = value.get("table_size")
        if table_size is not None and (
            not is_integer(table_size)
            or table_size < 2
            or table_size & (table_size - 1)
        ):
            raise ConfigError(f"{where}: table_size {table_size!r} must be a power of two >= 2")
        return cls(
            precision=LayerPrecision.parse(value["precision"], where) if "precision" in value else LayerPrecision(),
            reuse_factor=_reuse_factor(value["reuse_factor"], where) if "reuse_factor" in value else None,
            strategy=_strategy(value["strategy"], where) if "strategy" in value else None,
            table_size=None if table_size is None else int(table_size),
        )

    @property
    def options(self) -> list[str]:
        """The options this config sets (for messages)."""
        names = ["precision"] if (self.precision.keys or self.precision.weight or self.precision.bias
                                  or self.precision.result or self.precision.accum) else []
        return names + [k for k in ("reuse_factor", "strategy", "table_size") if getattr(self, k) is not None]


#: The clock period (ns) of an export that does not name one (200 MHz).
DEFAULT_CLOCK_PERIOD = 5.0


def _io_type(value: Any) -> IOType:
    """``'io_parallel'`` or ``'io_stream'`` (or the :class:`IOType` itself); anything else is refused."""
    for member in IOType:
        if value is member or (isinstance(value, str) and value == member.value):
            return member
    allowed = ", ".join(repr(m.value) for m in IOType)
    raise ConfigError(f"io_type {value!r} is not supported; allowed: {allowed}")


@dataclass(frozen=True)
class FirmwareConfig:
    """All options of an export, validated."""

    part: str = DEFAULT_PART
    precision: FixedType = field(default_factory=lambda: parse_precision(DEFAULT_PRECISION))
    reuse_factor: int = 1
    strategy: Strategy = Strategy.LATENCY
    io_type: IOType = IOType.PARALLEL
    clock_period: float = DEFAULT_CLOCK_PERIOD
    project_name: str = "myproject"
    table_size: int = 1024
    layers: Mapping[str, LayerConfig] = field(default_factory=dict)

    @classmethod
    def from_options(
        cls,
        part: str = DEFAULT_PART,
        *,
        precision: Any = DEFAULT_PRECISION,
        reuse_factor: Any = 1,
        strategy: Any = "latency",
        io_type: Any = "io_parallel",
        clock_period: Any = DEFAULT_CLOCK_PERIOD,
        layer_config: Mapping[str, Any] | None = None,
        project_name: str = "myproject",
    ) -> "FirmwareConfig":
        if not isinstance(part, str) or not part.strip():
            raise ConfigError(f"part must be a non-empty FPGA part name such as {DEFAULT_PART!r}, got {part!r}")
        from fpga_aware.core.parts import get_part

        part = get_part(part).name  # UnknownPartError (with "did you mean") for every entry point
        io_type = _io_type(io_type)
        if isinstance(clock_period, bool) or not isinstance(clock_period, (int, float)) or not clock_period > 0:
            raise ConfigError(f"clock_period must be a positive number of nanoseconds, got {clock_period!r}")
        if not isinstance(project_name, str) or not _IDENTIFIER.match(project_name):
            raise ConfigError(
                f"project_name {project_name!r} must be a C identifier (letters, digits, '_', not starting with a digit)"
            )
        problem = project_name_problem(project_name)
        if problem:
            raise ConfigError(f"project_name {project_name!r} cannot be used: {problem}; choose another name")
        if layer_config is not None and not isinstance(layer_config, Mapping):
            raise ConfigError(f"layer_config must be a dict of layer name -> options, got {layer_config!r}")
        layers = {str(name): LayerConfig.parse(str(name), value) for name, value in (layer_config or {}).items()}
        strategy = _strategy(strategy, "strategy")
        reuse_factor = _reuse_factor(reuse_factor, "reuse_factor")
        if strategy == Strategy.DISTRIBUTED_ARITHMETIC and reuse_factor != 1:
            raise ConfigError(f"strategy 'distributed_arithmetic' builds dense layers fully parallel and needs "
                              f"reuse_factor 1, got {reuse_factor}; use strategy 'latency' or 'resource' to share multipliers")
        for name, layer in layers.items():
            if layer.strategy == Strategy.DISTRIBUTED_ARITHMETIC and layer.reuse_factor not in (None, 1):
                raise ConfigError(f"layer_config[{name!r}]: strategy 'distributed_arithmetic' needs reuse_factor 1, "
                                  f"got {layer.reuse_factor}; use strategy 'latency' or 'resource' to share multipliers")
        return cls(
            part=part.strip(),
            precision=_precision(precision, "precision"),
            reuse_factor=reuse_factor,
            strategy=strategy,
            io_type=io_type,
            clock_period=float(clock_period),
            project_name=project_name,
            layers=layers,
        )

    def layer(self, name: str) -> LayerConfig:
        return self.layers.get(name, LayerConfig())
