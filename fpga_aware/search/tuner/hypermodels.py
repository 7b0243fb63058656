"""Hyperparameters the tuner reads (``hp_bits``, ``hp_sparsity``, ``hp_width``, ``hp_reuse_factor``)
and :func:`mlp_hypermodel`, the tutorial-style MLP as a ``build_model(hp)``."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from fpga_aware._stack import keras
from fpga_aware.core.config import ConfigError
from fpga_aware.training.classifier import compile_classifier

__all__ = ["hp_bits", "hp_sparsity", "hp_width", "hp_reuse_factor", "mlp_hypermodel"]

k = keras()


def _choice(hp: Any, name: str, choices: Sequence[Any]) -> Any:
    choices = list(choices)
    if not choices:
        raise ConfigError(f"hyperparameter {name!r} needs at least one value")
    if len(choices) == 1:
        return hp.Fixed(name, choices[0])
    return hp.Choice(name, choices)


def hp_bits(hp: Any, choices: Sequence[int] = (4, 6, 8), name: str = "bits") -> int:
    """Weight/activation bit width (``quantize(bits=...)``) as a hyperparameter."""
    return int(_choice(hp, name, choices))


def hp_sparsity(hp: Any, choices: Sequence[float] = (0.0, 0.5, 0.75), name: str = "sparsity") -> float:
    """Target sparsity; the tuner attaches ``Prune(target_sparsity=...)`` when it is above 0."""
    for value in choices:
        if not 0.0 <= float(value) < 1.0:
            raise ConfigError(f"sparsity choices must be in [0, 1), got {value!r}")
    return float(_choice(hp, name, [float(v) for v in choices]))


def hp_width(hp: Any, name: str, choices: Sequence[int] = (8, 16, 32, 64)) -> int:
    """Width of one layer as a hyperparameter."""
    return int(_choice(hp, name, choices))


def hp_reuse_factor(hp: Any, choices: Sequence[int] = (1, 2, 4), name: str = "reuse_factor") -> int:
    """Reuse factor of the export; the tuner passes it to the trial's FPGACost."""
    return int(_choice(hp, name, choices))


def mlp_hypermodel(
    n_in: int,
    n_classes: int,
    *,
    layers: Sequence[int] = (1, 2, 3),
    widths: Sequence[int] = (8, 16, 32, 64),
    bits: Sequence[int] | None = (4, 6, 8),
    integer: int = 0,
    activation_bits: int | None = None,
    sparsity: Sequence[float] = (0.0, 0.5, 0.75),
    reuse_factor: Sequence[int] = (1,),
    learning_rate: Sequence[float] = (1e-3, 3e-3),
) -> Callable[[Any], Any]:
    """``build_model(hp)`` for the tutorial-style MLP: Dense+relu layers, softmax output.

    Hyperparameters: ``layers`` (number of hidden layers), ``width_<i>``, ``bits`` (QKeras
    ``quantize`` of the whole model; ``bits=None`` keeps it float), ``sparsity``,
    ``reuse_factor`` and ``learning_rate``.  A value list of length one is fixed.  The model is
    compiled with Adam and sparse categorical cross-entropy, metric ``accuracy``.
    """
    from fpga_aware.training.quantization import quantize

    def build(hp: Any) -> Any:
        n_layers = int(_choice(hp, "layers", layers))
        hidden = [hp_width(hp, f"width_{i}", widths) for i in range(1, n_layers + 1)]
        b = hp_bits(hp, bits) if bits else None
        hp_sparsity(hp, sparsity)
        hp_reuse_factor(hp, reuse_factor)
        lr = float(_choice(hp, "learning_rate", learning_rate))
        model = k.Sequential(
            [k.layers.InputLayer(input_shape=(n_in,), name="input")]
            + [k.layers.Dense(w, activation="relu", name=f"fc{i}") for i, w in enumerate(hidden, start=1)]
            + [k.layers.Dense(n_classes, activation="softmax", name="output")]
        )
        if b is not None:
            model = quantize(model, bits=b, integer=integer, activation_bits=activation_bits)
        return compile_classifier(model, lr)

    return build
