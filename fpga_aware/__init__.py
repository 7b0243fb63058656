"""fpga_aware: train Keras models that are cheap on an FPGA and get verified HLS firmware.

Importing this package guarantees the tf-keras (Keras 2) stack: it sets
``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads, or raises :class:`KerasStackError` when
Keras 3 is already active in the process.  It does not import TensorFlow: the public names
below are loaded on first use (PEP 562), so ``fpga-aware --help`` answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._moved import MOVED_MODULES, install_moved_module_aliases
from ._stack import KerasStackError, ensure_legacy_keras

ensure_legacy_keras()
install_moved_module_aliases()

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access).
_PUBLIC = {
    "ConfigError": "core.config",
    "FirmwareConfig": "core.config",
    "LayerConfig": "core.config",
    "LayerPrecision": "core.config",
    "InputShapeError": "sim.emulator",
    "InputValueError": "sim.emulator",
    "Firmware": "firmware",
    "estimate": "firmware",
    "export": "firmware",
    "to_firmware": "firmware",
    "FixedType": "core.fixed",
    "Overflow": "core.fixed",
    "PrecisionError": "core.fixed",
    "Rounding": "core.fixed",
    "parse_precision": "core.fixed",
    "Strategy": "core.ir",
    "InvalidModelError": "frontend.errors",
    "LayerPrecisionError": "frontend.errors",
    "WeightOverflowError": "frontend.errors",
    "UnsupportedLayerError": "frontend.errors",
    "UnsupportedQuantizerError": "frontend.quantizers",
    "FPGACost": "training.callbacks",
    "EpochProgress": "training.progress",
    "Prune": "training.pruning",
    "prunable": "training.pruning",
    "strip": "training.pruning",
    "quantize": "training.quantization",
    "UnknownPartError": "core.parts",
    "get_part": "core.parts",
    "profile": "workflows.profiling",
    "ReportError": "hls.reports",
    "compare": "hls.reports",
    "read_report": "hls.reports",
    "SynthesisError": "hls.synthesis",
    "ProjectChangedError": "hls.writer",
    "ToolNotFoundError": "hls.synthesis",
}

#: The pipeline's subpackages, reachable as attributes without an explicit import.
_SUBPACKAGES = ("core", "frontend", "sim", "cost", "hls", "training", "search", "workflows", "firmware", "cli")

__all__ = sorted(["KerasStackError", *_PUBLIC])


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in MOVED_MODULES:  # fpga_aware.tuner, fpga_aware.cost.estimate_ir, ...: earlier paths
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'fpga_aware' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC) | set(_SUBPACKAGES) | set(MOVED_MODULES))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from fpga_aware.training.callbacks import FPGACost
    from fpga_aware.training.progress import EpochProgress
    from fpga_aware.core.config import ConfigError, FirmwareConfig, LayerConfig, LayerPrecision
    from fpga_aware.sim.emulator import InputShapeError, InputValueError
    from fpga_aware.firmware import Firmware, estimate, export, to_firmware
    from fpga_aware.core.fixed import FixedType, Overflow, PrecisionError, Rounding, parse_precision
    from fpga_aware.core.ir import Strategy
    from fpga_aware.frontend.errors import InvalidModelError, LayerPrecisionError, UnsupportedLayerError, WeightOverflowError
    from fpga_aware.core.parts import UnknownPartError, get_part
    from fpga_aware.workflows.profiling import profile
    from fpga_aware.training.pruning import Prune, prunable, strip
    from fpga_aware.training.quantization import quantize
    from fpga_aware.frontend.quantizers import UnsupportedQuantizerError
    from fpga_aware.hls.reports import ReportError, compare, read_report
    from fpga_aware.hls.synthesis import SynthesisError, ToolNotFoundError
    from fpga_aware.hls.writer import ProjectChangedError
