"""The parse between Keras and the IR: one *pending* item per IR layer, still in float.

A frontend handler (:mod:`.handlers`) turns a Keras layer into pending items; batch-norm
folding (:mod:`.folding`) merges some of them; an IR builder (:mod:`.builders`), found by the
item's :attr:`kind` (the IR layer kind it becomes), turns each into a typed IR layer.

Every item records where it came from: ``keras_layer`` is the name of the layer in
``model.layers`` (for a layer inside tfmot's pruning wrapper, the wrapper's name; then
``pruned`` is true), ``keras_class`` the class of the (unwrapped) Keras layer.  The item's
``name`` is the IR layer's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from fpga_aware.core.fixed import FixedType

__all__ = ["PendingInput", "PendingDense", "PendingActivation", "PendingScaleShift", "PendingStep",
           "PendingParametricReLU", "PendingConv", "PendingPooling", "PendingReorder",
           "PENDING_CLASSES"]


@dataclass
class PendingInput:
    """The model input (an ``InputLayer``, or the implicit input of a Sequential model)."""

    name: str
    shape: tuple[int, ...]
    keras_layer: str | None = None  # the InputLayer, None when the model has none in model.layers
    keras_class: str | None = None
    pruned: bool = False

    kind: ClassVar[str] = "input"


@dataclass
class PendingDense:
    """A Dense/QDense: float kernel and bias (already quantized values for QDense quantizers)."""

    name: str
    kernel: np.ndarray  # float, or already-quantized values
    bias: np.ndarray
    weight_type: FixedType | None  # set for QDense (exact quantizer types)
    bias_type: FixedType | None
    quantized: bool
    keras_class: str
    fused_activation: bool = False  # the Keras layer applies an activation after the sum
    folded: str | None = None  # the BatchNormalization folded into this layer
    keras_layer: str | None = None
    pruned: bool = False
    folded_keras_layer: str | None = None  # the folded BatchNormalization's name in model.layers

    kind: ClassVar[str] = "dense"


@dataclass
class PendingActivation:
    """An activation (a function name, or a QKeras quantizer's function and type)."""

    name: str
    function: str
    result_type: FixedType | None  # from a quantizer
    keras_class: str
    owner: str | None = None  # the Dense whose fused activation this is (its config applies)
    keras_layer: str | None = None
    pruned: bool = False
    parameters: dict = field(default_factory=dict)  # a parameterised function's (ELU's alpha)

    @property
    def kind(self) -> str:
        """``"softmax"`` for a softmax (a layer kind of its own in the IR), else ``"activation"``."""
        return "softmax" if self.function == "softmax" else "activation"


@dataclass
class PendingScaleShift:
    """A BatchNormalization not folded into a Dense: per channel ``x * scale + shift``."""

    name: str
    scale: np.ndarray
    shift: np.ndarray
    keras_class: str = "BatchNormalization"
    keras_layer: str | None = None
    pruned: bool = False

    kind: ClassVar[str] = "scale_shift"


@dataclass
class PendingStep:
    """A QKeras step quantizer (binary, ternary, quantized_tanh, quantized_sigmoid, binary_tanh):
    the quantizer itself; its thresholds depend on the input type, so the IR builder finds them."""

    name: str
    quantizer: object  # the QKeras quantizer (or the function binary_tanh)
    function: str  # its description, e.g. "ternary(threshold=0.2)"
    keras_class: str
    owner: str | None = None  # the Dense whose fused activation this is (its config applies)
    keras_layer: str | None = None
    pruned: bool = False

    kind: ClassVar[str] = "step"


@dataclass
class PendingParametricReLU:
    """A leaky / parametric / thresholded ReLU: ``x > threshold ? x : alpha * x`` (float numbers).

    ``alpha``: the slope, per channel once flattened (one value: every channel); ``threshold``:
    the real threshold.  A QKeras ``quantized_relu(negative_slope=...)`` gives its exact types.
    """

    name: str
    function: str  #: ``leaky_relu``, ``prelu`` or ``thresholded_relu`` (for the float view and messages)
    alpha: np.ndarray
    threshold: float
    keras_class: str
    result_type: FixedType | None = None  # from a QKeras quantizer
    alpha_type: FixedType | None = None  # from a QKeras quantizer (a power of two, exact)
    negative_type: FixedType | None = None  # QKeras: the negative branch's own clip
    owner: str | None = None  # the Dense whose fused activation this is (its result type applies)
    keras_layer: str | None = None
    pruned: bool = False

    kind: ClassVar[str] = "parametric_relu"


@dataclass
class PendingConv(PendingDense):
    """A Conv1D/Conv2D/QConv1D/QConv2D: ``kernel`` is the Keras kernel reshaped to
    ``(n_taps * C_in, C_out)`` (the dense product over one receptive field), plus its window."""

    in_shape: tuple[int, ...] = ()  # Keras input shape without the batch
    out_shape: tuple[int, ...] = ()
    kernel_size: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    padding: str = "valid"
    partial: bool = False  # the depthwise half of a separable convolution: Keras has no tensor for its output

    kind: ClassVar[str] = "conv"


@dataclass
class PendingPooling:
    """A max/average pooling layer (global pooling: one window over the whole input)."""

    name: str
    operation: str  # "max" or "average"
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    pool_size: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str
    keras_class: str
    keras_layer: str | None = None
    pruned: bool = False

    kind: ClassVar[str] = "pooling"


@dataclass
class PendingReorder:
    """ZeroPadding / Cropping / UpSampling: ``source[j]`` is the input index of output ``j``
    (the input size for a padding zero)."""

    name: str
    source: np.ndarray
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    keras_class: str
    keras_layer: str | None = None
    pruned: bool = False

    kind: ClassVar[str] = "reorder"


#: Every pending class (its ``kind`` is the IR layer kind it becomes).
PENDING_CLASSES = (PendingInput, PendingDense, PendingActivation, PendingScaleShift, PendingStep, PendingParametricReLU,
                   PendingConv, PendingPooling, PendingReorder)
