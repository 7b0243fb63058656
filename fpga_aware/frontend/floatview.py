"""The float view of a parse: for every IR layer, the Keras layer it came from and its float numbers.

:func:`fpga_aware.frontend.keras.float_view` (or :func:`~fpga_aware.frontend.keras.parse`, which
also builds the IR) returns a :class:`FloatView`: one :class:`FloatLayer` per IR layer, in the
IR's order and under the IR's names, with

* where it came from: the Keras layer (its name in ``model.layers``, the pruning wrapper's name
  for a pruned layer), its class, the BatchNormalization folded into it, and for the activation
  a Dense applies itself, that Dense (``owner``);
* the float values the frontend quantizes: ``weights``/``bias`` of a dense layer (the Keras
  kernel times its pruning mask, a folded BatchNormalization multiplied in; QKeras quantizer
  outputs for QDense), ``scale``/``shift`` of a scale/shift layer, ``alpha`` (one slope per
  value) and ``threshold`` of a parametric ReLU;
* ``output_layer``: the Keras layer whose output tensor is this IR layer's output in float.

It needs no firmware configuration: the float numbers do not depend on the chosen types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

__all__ = ["FloatLayer", "FloatView", "float_view_of"]


def _floats(values) -> np.ndarray | None:
    if values is None:
        return None
    out = np.array(values, dtype=np.float64)  # a copy: the view does not share the parse's arrays
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class FloatLayer:
    """One IR layer as the frontend saw it in float, and the Keras layer it came from."""

    name: str  #: the IR layer name
    kind: str  #: the IR layer kind (``input``, ``dense``, ``activation``, ``softmax``, ``scale_shift``, ...)
    #: The layer of ``model.layers`` it came from (for a pruned layer, tfmot's wrapper); ``None``
    #: for the input of a model without an ``InputLayer`` in ``model.layers``.
    keras_layer: str | None
    keras_class: str | None  #: the class of that Keras layer (unwrapped): ``Dense``, ``QDense``, ...
    pruned: bool = False  #: the Keras layer sits inside tfmot's ``PruneLowMagnitude`` wrapper
    folded: str | None = None  #: dense: the BatchNormalization folded into it
    folded_keras_layer: str | None = None  #: dense: that BatchNormalization's name in ``model.layers``
    owner: str | None = None  #: the activation a Dense applies itself: that Dense's IR name
    fused_activation: str | None = None  #: dense: the IR name of the activation it applies itself
    function: str | None = None  #: activation/softmax: the function (``relu``, ``softmax``, ...)
    #: The layer of ``model.layers`` whose output is this layer's output in float (the folded
    #: BatchNormalization for a Dense with one folded in; the Dense for the activation it applies
    #: itself); ``None`` where Keras has no such tensor: the pre-activation sum of a Dense with its
    #: own activation (``input @ weights + bias`` of :attr:`keras_layer`'s input).
    output_layer: str | None = None
    weights: np.ndarray | None = field(default=None, repr=False)  #: dense: float kernel ``(n_in, n_out)``
    bias: np.ndarray | None = field(default=None, repr=False)  #: dense: float bias
    scale: np.ndarray | None = field(default=None, repr=False)  #: scale_shift: gamma / sqrt(var + eps)
    shift: np.ndarray | None = field(default=None, repr=False)  #: scale_shift: beta - mean * scale
    alpha: np.ndarray | None = field(default=None, repr=False)  #: parametric_relu: the float32 slopes
    threshold: float | None = None  #: parametric_relu: ``x > threshold`` takes the positive branch

    def to_dict(self) -> dict[str, Any]:
        """Everything but the arrays (their shapes instead)."""
        out: dict[str, Any] = {
            k: getattr(self, k) for k in ("name", "kind", "keras_layer", "keras_class", "pruned", "folded",
                                          "folded_keras_layer", "owner", "fused_activation", "function",
                                          "output_layer", "threshold")
        }
        for k in ("weights", "bias", "scale", "shift", "alpha"):
            value = getattr(self, k)
            if value is not None:
                out[f"{k}_shape"] = list(value.shape)
        return out


@dataclass(frozen=True, eq=False)
class FloatView:
    """The float view of one model's parse: a :class:`FloatLayer` per IR layer, the input first."""

    model_name: str
    layers: tuple[FloatLayer, ...]
    folded: dict[str, str] = field(default_factory=dict)  #: BatchNormalization name → the Dense it is folded into
    no_ops: dict[str, str] = field(default_factory=dict)  #: Keras layers that become no IR layer → their class

    def __iter__(self) -> Iterator[FloatLayer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __contains__(self, name: object) -> bool:
        return any(layer.name == name for layer in self.layers)

    def __getitem__(self, name: str) -> FloatLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r} in the float view of {self.model_name!r}; "
                       f"layers: {self.names}")

    def get(self, name: str, default=None):
        return self[name] if name in self else default

    @property
    def names(self) -> list[str]:
        """The IR layer names, in order."""
        return [layer.name for layer in self.layers]

    @property
    def input(self) -> FloatLayer:
        return self.layers[0]

    def to_dict(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "layers": [layer.to_dict() for layer in self.layers],
                "folded": dict(self.folded), "no_ops": dict(self.no_ops)}


def float_view_of(model_name: str, chain: list, folded: dict[str, str], no_ops: dict[str, str]) -> FloatView:
    """The :class:`FloatView` of a parsed chain (the :mod:`.pending` items, the input first, after folding)."""
    fused = {item.owner: item.name for item in chain if getattr(item, "owner", None)}
    layers = []
    for item in chain:
        owns = fused.get(item.name)
        if owns is not None or getattr(item, "partial", False):
            output_layer = None  # the pre-activation sum (or a separable conv's depthwise half): no Keras tensor
        elif getattr(item, "folded", None):
            output_layer = item.folded_keras_layer
        else:
            output_layer = item.keras_layer
        layers.append(FloatLayer(
            name=item.name, kind=item.kind, keras_layer=item.keras_layer, keras_class=item.keras_class,
            pruned=item.pruned, folded=getattr(item, "folded", None),
            folded_keras_layer=getattr(item, "folded_keras_layer", None), owner=getattr(item, "owner", None),
            fused_activation=owns, function=getattr(item, "function", None), output_layer=output_layer,
            weights=_floats(getattr(item, "kernel", None)), bias=_floats(getattr(item, "bias", None)),
            scale=_floats(getattr(item, "scale", None)), shift=_floats(getattr(item, "shift", None)),
            alpha=_floats(getattr(item, "alpha", None)), threshold=getattr(item, "threshold", None),
        ))
    return FloatView(model_name=model_name, layers=tuple(layers), folded=dict(folded), no_ops=dict(no_ops))
