"""fpga_aware: train Keras models that are cheap on an FPGA and get verified HLS firmware.

Importing this package guarantees the tf-keras (Keras 2) stack: it sets
``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads, or raises :class:`KerasStackError` when
Keras 3 is already active in the process.  It does not import TensorFlow: the public names
below are loaded on first use (PEP 562), so ``fpga-aware --help`` answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._stack import KerasStackError, ensure_legacy_keras

ensure_legacy_keras()

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access).
_PUBLIC = {
    "ConfigError": "config",
    "FirmwareConfig": "config",
    "LayerConfig": "config",
    "LayerPrecision": "config",
    "InputShapeError": "emulator",
    "InputValueError": "emulator",
    "Firmware": "firmware",
    "estimate": "firmware",
    "export": "firmware",
    "to_firmware": "firmware",
    "FixedType": "fixed",
    "Overflow": "fixed",
    "PrecisionError": "fixed",
    "Rounding": "fixed",
    "parse_precision": "fixed",
    "Strategy": "ir",
    "InvalidModelError": "parser",
    "LayerPrecisionError": "parser",
    "WeightOverflowError": "parser",
    "UnsupportedLayerError": "parser",
    "UnsupportedQuantizerError": "quantizers",
    "FPGACost": "callbacks",
    "EpochProgress": "progress",
    "Prune": "pruning",
    "prunable": "pruning",
    "strip": "pruning",
    "quantize": "quantization",
    "UnknownPartError": "parts",
    "get_part": "parts",
    "profile": "profiling",
    "ReportError": "reports",
    "compare": "reports",
    "read_report": "reports",
    "SynthesisError": "synthesis",
    "ProjectChangedError": "writer",
    "ToolNotFoundError": "synthesis",
}

#: Submodules reachable as attributes without an explicit import (``fpga_aware.tuner.search``).
_SUBMODULES = ("tuner", "pareto", "plots", "progress", "recipes", "demo", "model_io", "csim", "cost", "emulator", "firmware",
               "parser", "pruning", "quantization", "callbacks", "profiling", "reports", "synthesis", "writer")

__all__ = sorted(["KerasStackError", *_PUBLIC])


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'fpga_aware' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC) | set(_SUBMODULES))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .callbacks import FPGACost
    from .progress import EpochProgress
    from .config import ConfigError, FirmwareConfig, LayerConfig, LayerPrecision
    from .emulator import InputShapeError, InputValueError
    from .firmware import Firmware, estimate, export, to_firmware
    from .fixed import FixedType, Overflow, PrecisionError, Rounding, parse_precision
    from .ir import Strategy
    from .parser import InvalidModelError, LayerPrecisionError, UnsupportedLayerError, WeightOverflowError
    from .parts import UnknownPartError, get_part
    from .profiling import profile
    from .pruning import Prune, prunable, strip
    from .quantization import quantize
    from .quantizers import UnsupportedQuantizerError
    from .reports import ReportError, compare, read_report
    from .synthesis import SynthesisError, ToolNotFoundError
    from .writer import ProjectChangedError
