"""Recipes: the hls4ml tutorial's four parts as YAML files that run end to end.

A recipe (``recipes/*.yaml`` in the repository, or any YAML file) names a data set, a model, a
list of steps that change the model (``train`` with optional pruning, ``quantize``) and one or
more firmware configurations.  :func:`run_recipe` runs it and writes into ``out_dir``:

* ``summary.md`` and ``summary.json`` (the :class:`RecipeResult`): the estimated cost and the
  Keras accuracy after every step, the cost logged by :class:`~fpga_aware.FPGACost` every
  epoch, each firmware's estimate (beside published reference numbers where the recipe gives
  them), the firmware (emulator) accuracy and the emulator-vs-C-simulation check;
* ``model.h5``: the final Keras/QKeras model (``fpga-aware estimate out/model.h5`` reads it);
* one HLS project folder per firmware with ``write: true``.

Format (every key optional except where said; unknown keys are an error that lists the
allowed ones)::

    name: part3_pruning             # default: the file name
    description: one paragraph, copied into the summary
    data: digits                    # digits (scikit-learn, offline) | fashion_mnist | jets
    data_dir: null                  # fashion_mnist: folder of the idx files (default below);
                                    # jets: scikit-learn's data_home (its download cache)
    on_missing_data: error          # error | cost_only: without the data set, skip training
                                    # and accuracy and estimate the cost of the weights as they are
    seed: 0
    model:                          # built from the data set's shape ...
      hidden: [64, 32, 32]
      activation: relu
      names: [fc1, fc2, fc3, output]    # Dense layer names (default fc1.., output)
      untrained_init: null          # kernel initializer used only when training is skipped
      # ... or loaded: shared: KERAS_3layer (../shared/models), or file: m.h5 (weights: w.h5)
    steps:
      - train: {epochs: 10, learning_rate: 0.003, batch_size: 32, validation_split: 0.1}
      - train: {epochs: 10, learning_rate: 0.001, prune: {target_sparsity: 0.75, frequency: 10}}
      - quantize: {bits: 6, integer: 0, activation_bits: 6}
    firmware:                       # one mapping or a list; the first also configures FPGACost
      - name: firmware              # folder name under out_dir
        part: xcu250-figd2104-2L-e
        precision: ap_fixed<16,6>
        reuse_factor: 1
        strategy: latency           # latency | resource
        clock_period: 5
        layer_config: {fc1: {reuse_factor: 2}}
        write: true                 # write the HLS project
        csim: true                  # compile it and check emulator == C simulation
        verify_samples: 2000        # random inputs added to the test set for that check
        reference: {dsp: 1162, ii: 128, source: "tutorial"}   # published numbers to compare with

A ``train`` step with no ``prune`` after a pruning step keeps the model's zeros (its mask is
frozen), unless ``keep_sparsity: false``.  ``run_recipe(..., epochs=N)`` sets the epochs of
every ``train`` step to ``N`` (the reduced mode of the tests).

Data sets: ``digits`` is scikit-learn's bundled 8x8 digits (offline); ``fashion_mnist`` reads
the idx files of Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``,
or ``$FPGA_AWARE_FASHION_MNIST`` / ``data_dir``); ``jets`` is the tutorial's hls4ml LHC jet data
set (OpenML 42468) fetched with :func:`sklearn.datasets.fetch_openml`, which needs the network
once (then scikit-learn's cache).  A missing data set raises :class:`DataUnavailableError` saying
how to get it (or, with ``on_missing_data: cost_only``, is noted in the summary).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import os
import struct
import time
import types
import typing
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from fpga_aware.core.parts import DEFAULT_PART
from fpga_aware.resources import MissingDataError, recipes_dir, shared_models_dir
from fpga_aware.training.classifier import accuracy, compile_classifier

__all__ = [
    "RecipeError",
    "DataUnavailableError",
    "Dataset",
    "ModelSpec",
    "TrainStep",
    "PruneSpec",
    "QuantizeStep",
    "FirmwareSpec",
    "Recipe",
    "RecipeResult",
    "DATA_SOURCES",
    "FASHION_MNIST_DIR",
    "list_recipes",
    "find_recipe",
    "load_recipe",
    "load_data",
    "load_fashion_mnist",
    "load_jets",
    "read_idx",
    "run_recipe",
]

logger = logging.getLogger(__name__)

DATA_SOURCES = ("digits", "fashion_mnist", "jets")
#: Where Debian's ``dataset-fashion-mnist`` package puts its files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "FPGA_AWARE_FASHION_MNIST"
FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
#: OpenML id of the hls4ml LHC jet data set (``hls4ml_lhc_jets_hlf``).
JETS_OPENML_ID = 42468
#: (inputs, classes) of each data set: a model can be built without the data.
DATA_SHAPES = {"digits": (64, 10), "fashion_mnist": (784, 10), "jets": (16, 5)}
MISSING_DATA_MODES = ("error", "cost_only")
REFERENCE_KEYS = ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii", "source")


class RecipeError(ValueError):
    """A recipe is missing, invalid (the message names the key) or cannot run."""


class DataUnavailableError(RecipeError):
    """The recipe's data set is not on this machine (the message says how to get it)."""


# ============================================================================ data
@dataclass
class Dataset:
    """Train/test arrays (float32 inputs, integer labels ``0..n_classes-1``)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    description: str = ""

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))


def _load_digits(seed: int = 0) -> Dataset:
    from fpga_aware.workflows.demo import load_digits_split

    x_train, x_test, y_train, y_test = load_digits_split(seed)
    return Dataset("digits", x_train, y_train, x_test, y_test, 10,
                   "scikit-learn's bundled 8x8 digits, scaled to [0, 1], 75/25 split")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (the MNIST format; ``.gz`` or plain) into a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as err:
        raise RecipeError(f"cannot read idx file {path}: {err}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise RecipeError(f"{path} is not an idx file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    code, ndim = data[2], data[3]
    if code not in dtypes:
        raise RecipeError(f"{path}: unknown idx data type 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RecipeError(f"{path}: truncated idx header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(dtypes[code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise RecipeError(f"{path}: idx header says shape {shape} ({expected} bytes) but {len(data) - header} follow")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_fashion_mnist(data_dir: str | os.PathLike | None = None) -> Dataset:
    """Fashion-MNIST from the idx files of Debian's ``dataset-fashion-mnist`` package.

    ``data_dir`` defaults to ``$FPGA_AWARE_FASHION_MNIST``, else ``/usr/share/datasets/fashion-mnist``;
    each file may be gzipped (``.gz``, as Debian ships them) or not.  Images are flattened to 784
    values scaled to [0, 1].
    """
    folder = Path(data_dir or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR).expanduser()
    arrays = {}
    for key, stem in FASHION_MNIST_FILES.items():
        found = [folder / f"{stem}{ext}" for ext in (".gz", "") if (folder / f"{stem}{ext}").is_file()]
        if not found:
            raise DataUnavailableError(
                f"Fashion-MNIST is not installed: {folder / (stem + '.gz')} does not exist. Install it with "
                f"`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or point data_dir / "
                f"${FASHION_MNIST_ENV} at a folder with the four idx files"
            )
        arrays[key] = read_idx(found[0])
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise RecipeError(f"Fashion-MNIST {part} files in {folder} do not match: images {x.shape}, labels {y.shape}")
    flat = {k: (v.reshape(len(v), -1).astype(np.float32) / 255.0 if k.startswith("x") else v.astype(np.int64))
            for k, v in arrays.items()}
    return Dataset("fashion_mnist", flat["x_train"], flat["y_train"], flat["x_test"], flat["y_test"], 10,
                   f"Fashion-MNIST from {folder}, 28x28 images flattened to 784 values in [0, 1]")


def load_jets(data_home: str | os.PathLike | None = None, seed: int = 42) -> Dataset:
    """The tutorial's jet data (OpenML 42468: 16 features, 5 classes g/q/t/w/z), standardised, 80/20 split.

    Needs the network the first time (scikit-learn caches it in ``data_home``); without it raises
    :class:`DataUnavailableError`.
    """
    from sklearn.datasets import fetch_openml
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    try:
        bunch = fetch_openml(data_id=JETS_OPENML_ID, data_home=None if data_home is None else str(data_home),
                             as_frame=False, n_retries=1, delay=0.5)
    except Exception as err:  # noqa: BLE001 - URLError, HTTPError, OpenMLError...: all mean "not available"
        reason = str(getattr(err, "reason", None) or err).splitlines()[0] if str(err) else type(err).__name__
        raise DataUnavailableError(
            f"the hls4ml jet data set (OpenML {JETS_OPENML_ID}) cannot be fetched: {reason}. It needs the "
            "network once (scikit-learn then caches it under ~/scikit_learn_data); use data: digits offline"
        ) from None
    x = np.asarray(bunch.data, dtype=np.float32)
    y = LabelEncoder().fit_transform(np.asarray(bunch.target))
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    return Dataset("jets", scaler.transform(x_train).astype(np.float32), y_train.astype(np.int64),
                   scaler.transform(x_test).astype(np.float32), y_test.astype(np.int64), int(y.max()) + 1,
                   f"hls4ml LHC jets (OpenML {JETS_OPENML_ID}), 16 standardised features, 5 classes")


def load_data(name: str, data_dir: str | os.PathLike | None = None, seed: int = 0) -> Dataset:
    """One of :data:`DATA_SOURCES`."""
    if name == "digits":
        return _load_digits(seed)
    if name == "fashion_mnist":
        return load_fashion_mnist(data_dir)
    if name == "jets":
        return load_jets(data_dir)
    raise RecipeError(f"unknown data set {name!r}; use one of {list(DATA_SOURCES)}")


# ============================================================================ recipe
@dataclass
class ModelSpec:
    """The model: built from the data set's shape, or loaded (``shared`` or ``file``)."""

    hidden: list[int] = field(default_factory=lambda: [64, 32, 32])
    activation: str = "relu"
    output_activation: str = "softmax"
    names: list[str] | None = None
    untrained_init: Any = None
    shared: str | None = None
    file: str | None = None
    weights: str | None = None


@dataclass
class PruneSpec:
    """Options of :class:`~fpga_aware.Prune` for one train step."""

    target_sparsity: float = 0.75
    frequency: int = 10
    power: float = 3
    begin_step: int = 0
    end_step: int | None = None
    ramp_fraction: float = 0.8
    structure: str | None = None
    block_size: int | None = None
    layers: list[str] | None = None


@dataclass
class TrainStep:
    epochs: int = 10
    learning_rate: float = 1e-3
    batch_size: int = 32
    validation_split: float = 0.1
    prune: Union[PruneSpec, float, None] = None
    keep_sparsity: bool = True


@dataclass
class QuantizeStep:
    """Options of :func:`~fpga_aware.quantize`."""

    bits: int = 6
    integer: int = 0
    activation_bits: int | None = None
    activation_integer: int = 0
    layer_config: dict | None = None


STEP_KINDS = {"train": TrainStep, "quantize": QuantizeStep}


@dataclass
class FirmwareSpec:
    name: str = "firmware"
    part: str = DEFAULT_PART
    precision: Any = "ap_fixed<16,6>"
    reuse_factor: int = 1
    strategy: str = "latency"
    io_type: str = "io_parallel"
    clock_period: float = 5.0
    layer_config: dict | None = None
    project_name: str = "myproject"
    write: bool = True
    csim: bool = False
    verify_samples: int = 2000
    reference: dict | None = None

    def options(self) -> dict:
        """Keyword arguments of :func:`~fpga_aware.to_firmware` (and of :class:`~fpga_aware.FPGACost`)."""
        return {"precision": self.precision, "reuse_factor": self.reuse_factor, "strategy": self.strategy,
                "io_type": self.io_type, "clock_period": self.clock_period, "layer_config": self.layer_config,
                "project_name": self.project_name}


@dataclass
class Recipe:
    name: str = ""
    description: str = ""
    data: str = "digits"
    data_dir: str | None = None
    on_missing_data: str = "error"
    seed: int = 0
    model: ModelSpec = field(default_factory=ModelSpec)
    steps: list = field(default_factory=list)  #: of TrainStep / QuantizeStep, in order
    firmware: list = field(default_factory=lambda: [FirmwareSpec()])  #: of FirmwareSpec
    source: str = ""  #: the file it was read from (not a YAML key)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, data: Any, source: str = "<recipe>") -> "Recipe":
        if not isinstance(data, dict):
            raise RecipeError(f"{source}: a recipe must be a YAML mapping, got {type(data).__name__}")
        data = dict(data)
        steps = data.pop("steps", [])
        firmware = data.pop("firmware", [{}])
        try:
            recipe = _from_mapping(cls, data, "", exclude=("steps", "firmware", "source"),
                                   extra_allowed=("steps", "firmware"))
            recipe.steps = _parse_steps(steps)
            recipe.firmware = _parse_firmware(firmware)
        except RecipeError as err:
            raise RecipeError(f"{source}: {err}") from None
        recipe.source = source
        recipe._validate()
        return recipe

    def _validate(self) -> None:
        src = self.source
        if self.data not in DATA_SOURCES:
            raise RecipeError(f"{src}: data {self.data!r} is not one of {list(DATA_SOURCES)}")
        if self.on_missing_data not in MISSING_DATA_MODES:
            raise RecipeError(f"{src}: on_missing_data {self.on_missing_data!r} is not one of {list(MISSING_DATA_MODES)}")
        m = self.model
        if m.shared and m.file:
            raise RecipeError(f"{src}: model: give either shared or file, not both")
        if m.weights and not (m.file and m.file.endswith(".json")):
            raise RecipeError(f"{src}: model.weights is only used with a model.json file")
        if not (m.shared or m.file):
            if not m.hidden or any(w < 1 for w in m.hidden):
                raise RecipeError(f"{src}: model.hidden must be a non-empty list of positive widths, got {m.hidden}")
            if m.names is not None and len(m.names) != len(m.hidden) + 1:
                raise RecipeError(
                    f"{src}: model.names needs {len(m.hidden) + 1} names (hidden layers and output), got {m.names}")
        for i, step in enumerate(self.steps):
            where = f"{src}: steps[{i}]"
            if isinstance(step, TrainStep):
                if step.epochs < 0 or step.batch_size < 1 or not 0 <= step.validation_split < 1 or step.learning_rate <= 0:
                    raise RecipeError(f"{where}.train: epochs >= 0, batch_size >= 1, 0 <= validation_split < 1 "
                                      f"and learning_rate > 0 are required, got {step}")
                if isinstance(step.prune, float):
                    step.prune = PruneSpec(target_sparsity=step.prune)
                if step.prune is not None and not 0 <= step.prune.target_sparsity < 1:
                    raise RecipeError(f"{where}.train.prune: target_sparsity must be in [0, 1), got "
                                      f"{step.prune.target_sparsity}")
        names = [f.name for f in self.firmware]
        if len(set(names)) != len(names):
            raise RecipeError(f"{src}: firmware names must be distinct, got {names}")
        from fpga_aware.core.config import FirmwareConfig
        from fpga_aware.core.parts import get_part

        for f in self.firmware:
            if not f.name or "/" in f.name or f.name in (".", "..", "model.h5", "summary.md", "summary.json"):
                raise RecipeError(f"{src}: firmware name {f.name!r} cannot be a folder name under out_dir")
            if f.verify_samples < 0:
                raise RecipeError(f"{src}: firmware[{f.name}].verify_samples must be >= 0")
            if f.csim and not f.write:
                raise RecipeError(f"{src}: firmware[{f.name}]: csim needs write: true")
            unknown = sorted(set(f.reference or {}) - set(REFERENCE_KEYS))
            if unknown:
                raise RecipeError(f"{src}: firmware[{f.name}].reference: unknown key(s) {unknown}; "
                                  f"allowed keys are {list(REFERENCE_KEYS)}")
            try:
                get_part(f.part)
                FirmwareConfig.from_options(f.part, **f.options())
            except ValueError as err:
                raise RecipeError(f"{src}: firmware[{f.name}]: {err}") from None

    def with_epochs(self, epochs: int | None) -> "Recipe":
        """A copy whose train steps all run ``epochs`` epochs (``None``: unchanged)."""
        if epochs is None:
            return self
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise RecipeError(f"epochs must be a non-negative integer, got {epochs!r}")
        steps = [dataclasses.replace(s, epochs=epochs) if isinstance(s, TrainStep) else s for s in self.steps]
        return dataclasses.replace(self, steps=steps)


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false", dict: "a mapping",
            list: "a list"}.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value: Any, tp: Any, where: str) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        mappings = [a for a in args if dataclasses.is_dataclass(a)]
        if isinstance(value, dict) and mappings:
            return _from_mapping(mappings[0], value, where)  # its own error names the bad key
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except RecipeError:
                continue
        raise RecipeError(f"{where}: {value!r} is not {_type_name(tp)}")
    if origin is list or tp is list:
        if not isinstance(value, list):
            raise RecipeError(f"{where}: {value!r} is not {_type_name(tp)}")
        item = (typing.get_args(tp) or (Any,))[0]
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{where}: {value!r} is not a mapping")
        return dict(value)
    if dataclasses.is_dataclass(tp):
        return _from_mapping(tp, value, where)
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(tp)
    if ok is None:  # pragma: no cover - every field type is handled above
        raise TypeError(f"unsupported field type {tp!r}")
    if not ok:
        raise RecipeError(f"{where}: {value!r} is not {_type_name(tp)}")
    return float(value) if tp is float else value


def _from_mapping(cls, data: Any, where: str, *, exclude: tuple = (), extra_allowed: tuple = ()):
    """``cls(**data)`` with every value type-checked; ``where`` is the key path for messages ("" = top)."""
    allowed = _allowed(cls, exclude, extra_allowed)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RecipeError(f"{where or 'recipe'}: expected a mapping with keys {allowed}, got {data!r}")
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise RecipeError(f"{where or 'recipe'}: unknown key(s) {unknown}; allowed keys are {allowed}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data and f.name not in exclude:
            kwargs[f.name] = _coerce(data[f.name], hints[f.name], f"{where}.{f.name}" if where else f.name)
    return cls(**kwargs)


def _allowed(cls, exclude: tuple = (), extra: tuple = ()) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name not in exclude] + list(extra)


def _parse_steps(steps: Any) -> list:
    if steps is None:
        return []
    if not isinstance(steps, list):
        raise RecipeError(f"steps: must be a list of {{train: ...}} / {{quantize: ...}} items, got {steps!r}")
    parsed = []
    for i, item in enumerate(steps):
        where = f"steps[{i}]"
        if isinstance(item, str) and item in STEP_KINDS:
            item = {item: {}}
        if not isinstance(item, dict) or len(item) != 1:
            raise RecipeError(f"{where}: each step is a mapping with one key, one of {list(STEP_KINDS)}; got {item!r}")
        (kind, options), = item.items()
        if kind not in STEP_KINDS:
            raise RecipeError(f"{where}: unknown step {kind!r}; allowed steps are {list(STEP_KINDS)}")
        parsed.append(_from_mapping(STEP_KINDS[kind], options, f"{where}.{kind}"))
    return parsed


def _parse_firmware(firmware: Any) -> list:
    if isinstance(firmware, dict) or firmware is None:
        firmware = [firmware or {}]
    if not isinstance(firmware, list) or not firmware:
        raise RecipeError("firmware: must be a mapping or a non-empty list of mappings")
    return [_from_mapping(FirmwareSpec, f, f"firmware[{i}]") for i, f in enumerate(firmware)]


def list_recipes(folder: str | os.PathLike | None = None) -> list[Path]:
    """The YAML files of ``folder`` (default: the shipped recipes), sorted."""
    folder = Path(folder) if folder is not None else recipes_dir()
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def find_recipe(path_or_name: str | os.PathLike) -> Path:
    """A YAML path, or the name (or unique prefix, e.g. ``part2``) of a shipped recipe."""
    path = Path(path_or_name).expanduser()
    if path.is_file():
        return path
    if path.suffix in (".yaml", ".yml") or os.sep in str(path_or_name):
        raise RecipeError(f"recipe file {str(path)!r} does not exist")
    shipped = list_recipes()
    names = [p.stem for p in shipped]
    exact = [p for p in shipped if p.stem == str(path_or_name)]
    matches = exact or [p for p in shipped if p.stem.startswith(str(path_or_name))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RecipeError(f"no recipe {str(path_or_name)!r}: give a YAML file or one of {names}")
    raise RecipeError(f"recipe name {str(path_or_name)!r} is ambiguous: {[p.stem for p in matches]}")


def load_recipe(path_or_name: str | os.PathLike) -> Recipe:
    """Read and validate a recipe (see the module docstring for the format)."""
    import yaml

    path = find_recipe(path_or_name)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise RecipeError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    recipe = Recipe.from_dict(data, str(path))
    if not recipe.name:
        recipe.name = path.stem
    return recipe


# ============================================================================ result
@dataclass
class FirmwareResult:
    name: str
    part: str
    estimate: dict
    path: str | None = None
    emulator_accuracy: float | None = None
    keras_agreement: float | None = None  #: fraction of test samples where firmware and Keras pick the same class
    emulator_csim_mismatches: int | None = None
    n_verified: int = 0
    reference: dict | None = None
    reference_diff_pct: dict | None = None


@dataclass
class RecipeResult:
    name: str
    description: str
    data: str
    data_available: bool
    trained: bool
    output_dir: str
    stages: list  #: one dict per stage: cost and accuracy after the model was built and after each step
    dsp_per_epoch: list
    lut_per_epoch: list
    sparsity_per_epoch: list
    sparsity: float
    keras_accuracy: float | None
    firmware: list  #: of FirmwareResult
    notes: list
    seconds: float

    def firmware_result(self, name: str | None = None) -> FirmwareResult:
        for f in self.firmware:
            if name is None or f.name == name:
                return f
        raise KeyError(f"no firmware {name!r}; have {[f.name for f in self.firmware]}")


# ============================================================================ running
def _kernel_layers(model) -> list:
    return [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]


def kernel_sparsity(model) -> float:
    """Fraction of exact zeros over all Dense/QDense kernels."""
    total = zeros = 0
    for layer in _kernel_layers(model):
        w = np.asarray(layer.kernel.numpy())
        total += w.size
        zeros += int(np.count_nonzero(w == 0))
    return zeros / total if total else 0.0


def _initializer(spec: Any, seed: int):
    from fpga_aware._stack import keras

    k = keras()
    if spec is None:
        return "glorot_uniform"
    try:
        if isinstance(spec, str):
            init = k.initializers.get(spec)
        else:
            init = k.initializers.deserialize(spec)
    except (ValueError, TypeError, KeyError) as err:
        raise RecipeError(f"model.untrained_init {spec!r} is not a Keras initializer: {err}") from None
    if hasattr(init, "seed") and init.seed is None:
        init.seed = seed
    return init


def _build_model(spec: ModelSpec, n_inputs: int, n_classes: int, init: Any):
    from fpga_aware._stack import keras

    k = keras()
    names = spec.names or [f"fc{i}" for i in range(1, len(spec.hidden) + 1)] + ["output"]
    layers = [k.layers.InputLayer(input_shape=(n_inputs,), name="input")]
    for name, width in zip(names, spec.hidden):
        layers.append(k.layers.Dense(width, activation=spec.activation, name=name, kernel_initializer=init))
    layers.append(k.layers.Dense(n_classes, activation=spec.output_activation, name=names[-1],
                                 kernel_initializer=init))
    return k.Sequential(layers)


def _load_model(spec: ModelSpec, base: Path):
    from fpga_aware.frontend.model_io import load_model

    def resolve(name: str | None) -> Path | None:
        if name is None:
            return None
        path = Path(name).expanduser()
        return path if path.is_absolute() or path.exists() or not (base / path).exists() else base / path

    if spec.shared:
        try:
            shared = shared_models_dir()
        except MissingDataError as err:
            raise RecipeError(f"shared model {spec.shared!r}: {err}") from None
        arch, weights = shared / f"{spec.shared}.json", shared / f"{spec.shared}_weights.h5"
        if not arch.is_file():
            raise RecipeError(f"shared model {spec.shared!r} not found: {arch} does not exist")
        return load_model(arch, weights)
    return load_model(resolve(spec.file), resolve(spec.weights))


def _cost(model, spec: FirmwareSpec):
    from fpga_aware.firmware import to_firmware

    return to_firmware(model, spec.part, **spec.options()).estimate()


def _stage(name: str, model, spec: FirmwareSpec, data: Dataset | None) -> dict:
    report = _cost(model, spec)
    keras_accuracy = None
    if data is not None:
        keras_accuracy = accuracy(model.predict(data.x_test, verbose=0), data.y_test)
    stage = {"stage": name, "keras_accuracy": keras_accuracy, "sparsity": round(kernel_sparsity(model), 4)}
    stage.update({key: getattr(report, key) for key in ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")})
    logger.info("%s: DSP %s, LUT %s, II %d, sparsity %.1f %%%s", name, f"{report.dsp:,}", f"{report.lut:,}", report.ii,
                100 * stage["sparsity"], "" if keras_accuracy is None else f", test accuracy {100 * keras_accuracy:.1f} %")
    return stage


def _train(model, step: TrainStep, data: Dataset, cost_spec: FirmwareSpec, pruned_before: float,
           label: str = "") -> tuple[dict, float]:
    """Train one step quietly (no Keras progress bar); ``EpochProgress`` logs each epoch as ``label``."""
    from fpga_aware.training.callbacks import FPGACost
    from fpga_aware.training.progress import EpochProgress
    from fpga_aware.training.pruning import Prune

    compile_classifier(model, step.learning_rate)
    callbacks = []
    if step.prune is not None:
        p = step.prune
        callbacks.append(Prune(target_sparsity=p.target_sparsity, begin_step=p.begin_step, end_step=p.end_step,
                               frequency=p.frequency, power=p.power, structure=p.structure,
                               block_size=p.block_size, layers=p.layers, ramp_fraction=p.ramp_fraction))
    elif step.keep_sparsity and pruned_before > 0:
        # freeze the zeros of an earlier pruning step: the mask is taken once, at the first batch
        callbacks.append(Prune(target_sparsity=pruned_before, begin_step=0, end_step=1, frequency=1))
    callbacks.append(FPGACost(part=cost_spec.part, **cost_spec.options()))
    callbacks.append(EpochProgress(label))  # after FPGACost and Prune: their values are in the logs
    history = model.fit(data.x_train, data.y_train, epochs=step.epochs, batch_size=step.batch_size,
                        validation_split=step.validation_split, verbose=0, callbacks=callbacks).history
    return history, (step.prune.target_sparsity if step.prune is not None else pruned_before)


def _diff_pct(estimate: float, reference: Any) -> float | None:
    if isinstance(reference, list) and reference and all(isinstance(v, (int, float)) for v in reference):
        lo, hi = min(reference), max(reference)
        if lo <= estimate <= hi:
            return 0.0
        reference = lo if estimate < lo else hi
    if isinstance(reference, bool) or not isinstance(reference, (int, float)) or reference == 0:
        return None
    return round(100.0 * (estimate - reference) / reference, 2)


def _firmware(model, spec: FirmwareSpec, out: Path, data: Dataset | None, keras_probs, seed: int,
              n_inputs: int) -> FirmwareResult:
    from fpga_aware.firmware import to_firmware

    firmware = to_firmware(model, spec.part, **spec.options())
    report = firmware.estimate()
    result = FirmwareResult(name=spec.name, part=spec.part, estimate=report.to_dict(), reference=spec.reference)
    if spec.reference:
        result.reference_diff_pct = {
            key: _diff_pct(getattr(report, key), value) for key, value in spec.reference.items() if key != "source"
        }
    if spec.write:
        path = firmware.write(out / spec.name, overwrite=True)
        result.path = str(path)
    if data is not None:
        probs = firmware.predict(data.x_test)
        result.emulator_accuracy = accuracy(probs, data.y_test)
        result.keras_agreement = float(np.mean(np.argmax(probs, axis=1) == np.argmax(keras_probs, axis=1)))
    if spec.csim:
        rng = np.random.default_rng(seed)
        if data is not None:
            lo, hi = float(data.x_train.min()), float(data.x_train.max())
            verify = np.concatenate([data.x_test, rng.uniform(lo, hi, (spec.verify_samples, n_inputs))])
        else:
            verify = rng.uniform(0.0, 1.0, (max(spec.verify_samples, 1), n_inputs))
        logger.info("%s: compiling the C simulation and comparing it with the emulator on %d inputs",
                    spec.name, len(verify))
        emulated, simulated = firmware.predict(verify), firmware.predict(verify, engine="csim")
        result.emulator_csim_mismatches = int(np.count_nonzero(np.any(emulated != simulated, axis=1)))
        result.n_verified = int(len(verify))
    return result


def _check_output_dir(out: Path, overwrite: bool) -> None:
    """Nothing the user had is overwritten: a missing or empty folder, or an earlier run with ``overwrite``."""
    if not out.exists():
        return
    if not out.is_dir():
        raise RecipeError(f"output folder {str(out)!r} is a file")
    if not any(out.iterdir()):
        return
    if not (out / "summary.json").is_file():
        raise RecipeError(f"output folder {str(out)!r} is not empty and holds no earlier recipe run "
                          "(summary.json): choose another folder")
    if not overwrite:
        raise RecipeError(f"output folder {str(out)!r} holds an earlier recipe run; pass overwrite=True to "
                          "write over it, or choose another folder")


def run_recipe(path_or_name: str | os.PathLike | Recipe, out_dir: str | os.PathLike, epochs: int | None = None,
               overwrite: bool = False) -> RecipeResult:
    """Run a recipe (a file, a shipped recipe's name, or a :class:`Recipe`) and write its outputs to ``out_dir``.

    ``epochs`` replaces the epochs of every train step (the tests' reduced mode).  ``out_dir``
    must be missing or empty, or hold an earlier recipe run (its ``summary.json``) and
    ``overwrite=True``.  Raises :class:`RecipeError` for an invalid recipe or output folder and
    :class:`DataUnavailableError` for a missing data set (unless the recipe says
    ``on_missing_data: cost_only``).
    """
    from fpga_aware._stack import tensorflow
    from fpga_aware.training.quantization import quantize

    start = time.perf_counter()
    recipe = path_or_name if isinstance(path_or_name, Recipe) else load_recipe(path_or_name)
    recipe = recipe.with_epochs(epochs)
    out = Path(out_dir)
    _check_output_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    tensorflow().keras.utils.set_random_seed(recipe.seed)
    notes: list[str] = []
    cost_spec = recipe.firmware[0]

    data: Dataset | None
    try:
        data = load_data(recipe.data, recipe.data_dir, recipe.seed)
        logger.info("data: %s (%d train, %d test samples)", data.description, len(data.x_train), len(data.x_test))
    except DataUnavailableError as err:
        if recipe.on_missing_data != "cost_only":
            raise
        data = None
        notes.append(f"DATA SET MISSING: {err}. Training and accuracy are skipped; the cost below is estimated "
                     "for the model's weights as they are (untrained: random initialisation, "
                     f"{recipe.model.untrained_init or 'glorot_uniform'}) and is all this run shows.")
        logger.warning("%s", notes[-1])

    if recipe.model.shared or recipe.model.file:
        model = _load_model(recipe.model, Path(recipe.source).parent if recipe.source else Path.cwd())
    else:
        n_inputs, n_classes = DATA_SHAPES[recipe.data] if data is None else (data.n_inputs, data.n_classes)
        init = _initializer(recipe.model.untrained_init, recipe.seed) if data is None else "glorot_uniform"
        model = _build_model(recipe.model, n_inputs, n_classes, init)
    n_inputs = int(np.prod(model.input_shape[1:]))
    if data is not None and data.n_inputs != n_inputs:
        raise RecipeError(f"the model takes {n_inputs} inputs but data set {recipe.data!r} has {data.n_inputs} features")

    stages = [_stage("initial", model, cost_spec, data)]
    histories: list[dict] = []
    trained = False
    pruned = kernel_sparsity(model) if (recipe.model.shared or recipe.model.file) else 0.0
    pruned = pruned if pruned > 0.05 else 0.0
    for i, step in enumerate(recipe.steps, start=1):
        if isinstance(step, QuantizeStep):
            logger.info("step %d: quantize to %d bits", i, step.bits)
            model = quantize(model, bits=step.bits, integer=step.integer, activation_bits=step.activation_bits,
                             activation_integer=step.activation_integer, layer_config=step.layer_config)
            stages.append(_stage(f"{i}: quantize {step.bits} bits", model, cost_spec, data))
            continue
        label = f"{i}: train {step.epochs} epochs" + (
            f", prune to {step.prune.target_sparsity:.0%}" if step.prune is not None else "")
        if data is None:
            notes.append(f"step {label} skipped: no data")
            continue
        logger.info("step %s", label)
        history, pruned = _train(model, step, data, cost_spec, pruned, label=f"step {i}")
        histories.append(history)
        trained = trained or step.epochs > 0
        stages.append(_stage(label, model, cost_spec, data))

    keras_probs = model.predict(data.x_test, verbose=0) if data is not None else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*HDF5 file.*legacy")
        model.save(out / "model.h5")
    results = [_firmware(model, spec, out, data, keras_probs, recipe.seed, n_inputs) for spec in recipe.firmware]
    for r in results:
        if r.emulator_csim_mismatches:
            notes.append(f"{r.name}: {r.emulator_csim_mismatches} of {r.n_verified} samples differ between the "
                         "emulator and the C simulation")

    def per_epoch(key: str) -> list:
        return [v for h in histories for v in h.get(key, [])]

    result = RecipeResult(
        name=recipe.name,
        description=recipe.description.strip(),
        data=recipe.data,
        data_available=data is not None,
        trained=trained,
        output_dir=str(out),
        stages=stages,
        dsp_per_epoch=[int(v) for v in per_epoch("fpga_dsp")],
        lut_per_epoch=[int(v) for v in per_epoch("fpga_lut")],
        sparsity_per_epoch=[round(float(v), 4) for v in per_epoch("sparsity")],
        sparsity=round(kernel_sparsity(model), 4),
        keras_accuracy=None if data is None else accuracy(keras_probs, data.y_test),
        firmware=results,
        notes=notes,
        seconds=round(time.perf_counter() - start, 2),
    )
    (out / "summary.json").write_text(json.dumps(asdict(result), indent=2, default=str))
    (out / "summary.md").write_text(summary_markdown(result))
    logger.info("wrote %s and %s", out / "summary.md", out / "summary.json")
    return result


# ============================================================================ summary
def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.4g}"
    return f"{int(v):,}" if isinstance(v, (int, float)) else str(v)


def summary_markdown(result: RecipeResult) -> str:
    """The human-readable summary written to ``summary.md``."""
    lines = [f"# {result.name}", ""]
    if result.description:
        lines += [result.description, ""]
    lines.append(f"- data: {result.data}" + ("" if result.data_available else " (MISSING: see the notes)"))
    if result.keras_accuracy is not None:
        lines.append(f"- final Keras accuracy: {result.keras_accuracy:.2%}")
    lines.append(f"- final kernel sparsity: {result.sparsity:.2%}")
    if result.dsp_per_epoch:
        lines.append(f"- estimated DSP per epoch (FPGACost): {result.dsp_per_epoch}")
        lines.append(f"- sparsity per epoch: {result.sparsity_per_epoch}")
    lines.append(f"- run time: {result.seconds:.1f} s")
    for note in result.notes:
        lines.append(f"- **note**: {note}")
    head = ["stage", "Keras accuracy", "sparsity", "DSP", "LUT", "FF", "BRAM_18K", "latency", "II"]
    lines += ["", f"## Estimated cost after each stage ({result.firmware[0].name} settings)", "",
              "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in result.stages:
        acc = "-" if s["keras_accuracy"] is None else f"{s['keras_accuracy']:.2%}"
        lines.append("| " + " | ".join([s["stage"], acc, f"{s['sparsity']:.2%}"] + [
            _fmt(s[k]) for k in ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii")]) + " |")
    for f in result.firmware:
        e = f.estimate
        lines += ["", f"## Firmware `{f.name}` ({f.part})", ""]
        lines.append(f"- estimate: DSP {e['dsp']:,}, LUT {e['lut']:,}, FF {e['ff']:,}, BRAM_18K {e['bram_18k']:,}, "
                     f"latency {e['latency_cycles']} cycles ({e['latency_ns']:g} ns), II {e['ii']}")
        util = e["utilization"]
        fits = all(v <= 100.0 for v in util.values())
        lines.append(f"- {'fits' if fits else 'does NOT fit'} the part: " + ", ".join(
            f"{k.upper()} {v:.1f}%" for k, v in util.items()))
        if f.reference:
            src = f.reference.get("source", "reference")
            parts = [f"{k} {_fmt(v) if not isinstance(v, list) else '–'.join(map(str, v))} "
                     f"(estimate {_fmt(e[k])}, {f.reference_diff_pct[k]:+.1f}%)"
                     for k, v in f.reference.items() if k != "source" and f.reference_diff_pct.get(k) is not None]
            lines.append(f"- {src}: " + ", ".join(parts))
        if f.path:
            lines.append(f"- HLS project: `{f.path}`")
        if f.emulator_accuracy is not None:
            lines.append(f"- firmware (emulator) accuracy: {f.emulator_accuracy:.2%}; same class as Keras on "
                         f"{f.keras_agreement:.2%} of the test samples")
        if f.emulator_csim_mismatches is not None:
            lines.append(f"- emulator vs C simulation: {f.emulator_csim_mismatches} mismatching samples of {f.n_verified}")
    return "\n".join(lines) + "\n"
