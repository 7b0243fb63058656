"""fpga_aware: train Keras models that are cheap on an FPGA and get verified HLS firmware.

Importing this package guarantees the tf-keras (Keras 2) stack: it sets
``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads, or raises :class:`KerasStackError` when
Keras 3 is already active in the process.
"""

from ._stack import KerasStackError, ensure_legacy_keras

ensure_legacy_keras()

from .config import ConfigError, FirmwareConfig, LayerConfig, LayerPrecision  # noqa: E402
from .emulator import InputShapeError  # noqa: E402
from .firmware import Firmware, estimate, export, to_firmware  # noqa: E402
from .fixed import FixedType, Overflow, PrecisionError, Rounding, parse_precision  # noqa: E402
from .ir import Strategy  # noqa: E402
from .parser import InvalidModelError, UnsupportedLayerError  # noqa: E402
from .quantizers import UnsupportedQuantizerError  # noqa: E402
from .callbacks import FPGACost  # noqa: E402
from .pruning import Prune, prunable, strip  # noqa: E402
from .quantization import quantize  # noqa: E402
from .parts import UnknownPartError, get_part  # noqa: E402
from .profiling import profile  # noqa: E402
from .reports import ReportError, compare, read_report  # noqa: E402
from .synthesis import SynthesisError, ToolNotFoundError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "FPGACost",
    "ReportError",
    "SynthesisError",
    "ToolNotFoundError",
    "compare",
    "profile",
    "read_report",
    "Prune",
    "UnknownPartError",
    "get_part",
    "prunable",
    "quantize",
    "strip",
    "Firmware",
    "FirmwareConfig",
    "FixedType",
    "InputShapeError",
    "InvalidModelError",
    "KerasStackError",
    "LayerConfig",
    "LayerPrecision",
    "Overflow",
    "PrecisionError",
    "Rounding",
    "Strategy",
    "UnsupportedLayerError",
    "UnsupportedQuantizerError",
    "estimate",
    "export",
    "parse_precision",
    "to_firmware",
]
