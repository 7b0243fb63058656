"""What a recipe says: its dataclasses, read from YAML with every key and value type checked
(the format is in the docstring of :mod:`fpga_aware.workflows.recipes`), and finding recipe files."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from fpga_aware.core.parts import DEFAULT_PART
from fpga_aware.cost.tools import DEFAULT_TOOL, ESTIMATE_TOOLS
from fpga_aware.resources import recipes_dir
from fpga_aware.workflows.recipes.data import DATA_SOURCES
from fpga_aware.workflows.recipes.errors import RecipeError

__all__ = [
    "ConvSpec",
    "ModelSpec",
    "PruneSpec",
    "TrainStep",
    "QuantizeStep",
    "FirmwareSpec",
    "Recipe",
    "STEP_KINDS",
    "MISSING_DATA_MODES",
    "REFERENCE_KEYS",
    "list_recipes",
    "find_recipe",
    "load_recipe",
]

MISSING_DATA_MODES = ("error", "cost_only")
REFERENCE_KEYS = ("dsp", "lut", "ff", "bram_18k", "latency_cycles", "ii", "source")


@dataclass
class ConvSpec:
    """One convolution block of a built CNN: ``Conv2D(filters, kernel)`` (valid padding, the
    model's activation), then ``MaxPooling2D(pool)`` when ``pool`` > 1."""

    filters: int = 4
    kernel: int = 3
    pool: int = 1


@dataclass
class ModelSpec:
    """The model: built from the data set's shape, or loaded (``shared`` or ``file``).

    With ``conv`` (and ``image``, the ``[height, width, channels]`` the flat rows are reshaped
    to), the built model is a CNN: Reshape, the convolution blocks, Flatten, then ``hidden``."""

    hidden: list[int] = field(default_factory=lambda: [64, 32, 32])
    conv: list[ConvSpec] | None = None
    image: list[int] | None = None
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
    #: the tool the estimates are for (``'vitis'``, ``'vivado'``, ``'yosys'``): the one the
    #: ``reference`` numbers were synthesized with
    tool: str = DEFAULT_TOOL

    def __post_init__(self) -> None:
        if self.tool not in ESTIMATE_TOOLS:
            raise RecipeError(f"firmware {self.name!r}: tool {self.tool!r} is not one of {list(ESTIMATE_TOOLS)}")

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
        if (m.shared or m.file) and (m.conv or m.image):
            raise RecipeError(f"{src}: model.conv and model.image describe a built model; a shared or file model "
                              "takes neither")
        if not (m.shared or m.file):
            if m.conv is None and not m.hidden or any(w < 1 for w in m.hidden):
                raise RecipeError(f"{src}: model.hidden must be a non-empty list of positive widths, got {m.hidden}")
            n_conv = len(m.conv or [])
            if m.names is not None and len(m.names) != n_conv + len(m.hidden) + 1:
                raise RecipeError(
                    f"{src}: model.names needs {n_conv + len(m.hidden) + 1} names (convolutions, hidden layers "
                    f"and output), got {m.names}")
            if m.conv is not None:
                if not m.conv:
                    raise RecipeError(f"{src}: model.conv must be a non-empty list of convolution blocks")
                if m.image is None or len(m.image) != 3 or any(d < 1 for d in m.image):
                    raise RecipeError(f"{src}: model.conv needs model.image, [height, width, channels] of positive "
                                      f"sizes, got {m.image}")
                for j, c in enumerate(m.conv):
                    if c.filters < 1 or c.kernel < 1 or c.pool < 1:
                        raise RecipeError(f"{src}: model.conv[{j}]: filters, kernel and pool must be >= 1, got {c}")
            elif m.image is not None:
                raise RecipeError(f"{src}: model.image is only used with model.conv")
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
        lists = [a for a in args if typing.get_origin(a) is list]
        if isinstance(value, list) and len(lists) == 1:
            return _coerce(value, lists[0], where)  # its own error names the bad item
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
