"""One frontend handler per Keras class: a Keras layer → the pending items it becomes.

A handler is ``handler(layer, kernel_mask) -> list`` of :mod:`.pending` items (empty for a
layer that changes no value), registered in :data:`KERAS_HANDLERS` under the Keras class name
(``type(layer).__name__``).  ``kernel_mask`` is the pruning mask when the layer sits inside
tensorflow-model-optimization's ``PruneLowMagnitude`` wrapper (see :func:`unwrap_pruning`),
else ``None``.  :data:`SUPPORTED_LAYERS` is the registry's keys; a class without a handler
raises :class:`~fpga_aware.frontend.errors.UnsupportedLayerError` listing them.

Adding a Keras class is one ``@KERAS_HANDLERS.register("Class")`` function here (plus an IR
builder in :mod:`.builders` when it becomes a new IR kind).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fpga_aware.core.activations import KERAS_ACTIVATIONS
from fpga_aware.core.fixed import FixedType
from fpga_aware.core.registry import Registry
from fpga_aware.frontend.errors import InvalidModelError, UnsupportedLayerError
from fpga_aware.frontend.pending import PendingActivation, PendingDense, PendingScaleShift, PendingStep
from fpga_aware.frontend.quantizers import activation_quantizer_type, quantized_weights, step_quantizer

__all__ = [
    "KERAS_HANDLERS",
    "SUPPORTED_LAYERS",
    "NO_OPS",
    "Handler",
    "handler_for",
    "unwrap_pruning",
    "unsupported",
]

Handler = Callable[..., list]

#: Keras class name → the handler that turns such a layer into pending items.
KERAS_HANDLERS: Registry[Handler] = Registry("frontend handler", key="Keras class")


def unsupported(layer, why: str = "") -> UnsupportedLayerError:
    """The error for an unsupported layer (or layer option), listing what is supported."""
    detail = f" ({why})" if why else ""
    return UnsupportedLayerError(
        f"layer {layer.name!r} of type {type(layer).__name__} is not supported{detail}; "
        f"supported layers: {', '.join(SUPPORTED_LAYERS)}; activations: {', '.join(KERAS_ACTIVATIONS)}"
    )


def unwrap_pruning(layer):
    """A tfmot ``PruneLowMagnitude`` wrapper → (inner layer, kernel mask); other layers unchanged."""
    if type(layer).__name__ != "PruneLowMagnitude":
        return layer, None
    inner = layer.layer
    mask = None
    for weight, mask_var, _threshold in getattr(layer, "pruning_vars", []):
        if weight is getattr(inner, "kernel", None):
            mask = np.asarray(mask_var.numpy(), dtype=np.float64)
    return inner, mask


def handler_for(layer) -> Handler:
    """The handler of ``layer``'s class (``layer`` already unwrapped); raises when there is none."""
    handler = KERAS_HANDLERS.get(type(layer).__name__)
    if handler is None:
        raise unsupported(layer)
    return handler


def _check_finite(layer_name: str, what: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise InvalidModelError(f"layer {layer_name!r}: {bad} {what} value(s) are NaN or infinite")


def leading_copies(layer) -> int:
    """How many vectors a layer acting on the last axis sees: the product of the other axes.

    A Dense (or a BatchNormalization) on a ``(4, 3)`` input acts on each of the 4 rows; the
    IR works on the flattened, C-order (row-major) vector, so its numbers are repeated per row
    (block-diagonal for a Dense).  See :func:`block_diagonal`.
    """
    try:
        shape = layer.input_shape
    except AttributeError:  # never called itself (inside tfmot's wrapper): one vector; the IR
        return 1            # builder then names a shape mismatch (a Dense's n_in vs its input)
    if isinstance(shape, list):  # a layer with one inbound node: a list of one shape
        shape = shape[0]
    return int(np.prod([int(d) for d in shape[1:-1]], dtype=np.int64)) if len(shape) > 2 else 1


def block_diagonal(kernel: np.ndarray, copies: int) -> np.ndarray:
    """``kernel`` repeated on the diagonal: a Dense on the last axis of a flattened tensor.

    Input ``r * n_in + i`` feeds output ``r * n_out + o`` with ``kernel[i, o]``; the zeros off
    the diagonal are not stored (the IR stores only nonzero weights), so the copies cost what
    the hardware builds.
    """
    return kernel if copies == 1 else np.kron(np.eye(copies), kernel)


def _activation_name(activation) -> str:
    return getattr(activation, "__name__", None) or str(activation)


def _named_activation(layer, activation) -> str:
    """The name of a Keras activation function; raises unless the firmware implements it."""
    name = _activation_name(activation)
    if name not in KERAS_ACTIVATIONS:
        raise unsupported(layer, f"activation {name!r}")
    return name


# ---------------------------------------------------------------------------- the handlers
@KERAS_HANDLERS.register("InputLayer")
def input_layer(layer, kernel_mask=None) -> list:
    """The model input is made by the model walk (:mod:`fpga_aware.frontend.keras`), not here."""
    return []


def _fused_activation(layer) -> PendingActivation | None:
    """The activation a Dense/QDense applies itself (a function name or a QKeras quantizer)."""
    cls = type(layer).__name__
    activation = layer.activation
    if cls == "QDense":  # QDense(activation='binary'/ternary()/quantized_tanh(8)/...)
        step = step_quantizer(activation, f"layer {layer.name!r} activation")
        if step is not None:
            short = step.split("(")[0]
            return PendingStep(f"{layer.name}_{short}", activation, step, cls, owner=layer.name)
    if hasattr(activation, "bits"):  # QDense(activation=quantized_relu(...))
        function, result_type = activation_quantizer_type(activation, f"layer {layer.name!r} activation")
        return PendingActivation(f"{layer.name}_{function}", function, result_type, cls, owner=layer.name)
    name = _named_activation(layer, activation)
    if name == "linear":
        return None
    return PendingActivation(f"{layer.name}_{name}", name, None, cls, owner=layer.name)


def _dense(layer, kernel_mask: np.ndarray | None, quantizers: bool) -> list:
    cls = type(layer).__name__
    kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
    if kernel_mask is not None:  # a tfmot wrapper: the mask is what the pruned layer computes with
        kernel = kernel * kernel_mask
    bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if layer.use_bias else np.zeros(kernel.shape[1])
    _check_finite(layer.name, "kernel", kernel)
    _check_finite(layer.name, "bias", bias)
    if kernel.ndim != 2:
        raise unsupported(layer, "kernel must be 2-D")
    if kernel.shape[1] < 1:
        raise InvalidModelError(f"layer {layer.name!r} has {kernel.shape[1]} units; a {cls} layer needs at least one")
    weight_type = bias_type = None
    quantized = False
    if quantizers:
        kq = getattr(layer, "kernel_quantizer_internal", None)
        bq = getattr(layer, "bias_quantizer_internal", None)
        if kq is not None:
            kernel, weight_type = quantized_weights(kq, kernel, f"layer {layer.name!r} kernel_quantizer")
            quantized = True
        if bq is not None and layer.use_bias:
            bias, bias_type = quantized_weights(bq, bias, f"layer {layer.name!r} bias_quantizer")
        elif not layer.use_bias:
            bias_type = FixedType(1, 1, False)
    copies = leading_copies(layer)  # quantizers (alpha='auto') saw the Keras kernel: tile after them
    kernel, bias = block_diagonal(kernel, copies), np.tile(bias, copies)
    dense = PendingDense(layer.name, kernel, bias, weight_type, bias_type, quantized, cls)
    activation = _fused_activation(layer)
    if activation is not None and activation.kind == "softmax" and copies > 1:
        raise unsupported(layer, "softmax over the last axis of a multi-dimensional tensor")
    if activation is not None:
        dense.fused_activation = True
    return [dense] if activation is None else [dense, activation]


@KERAS_HANDLERS.register("Dense")
def dense(layer, kernel_mask=None) -> list:
    """A float Dense (and its own activation, if any, as a second item)."""
    return _dense(layer, kernel_mask, quantizers=False)


@KERAS_HANDLERS.register("QDense")
def qdense(layer, kernel_mask=None) -> list:
    """A QKeras QDense: kernel and bias through their quantizers, exact types."""
    return _dense(layer, kernel_mask, quantizers=True)


def _checked_softmax(layer, item: PendingActivation) -> list:
    if item.kind == "softmax" and leading_copies(layer) > 1:
        raise unsupported(layer, "softmax over the last axis of a multi-dimensional tensor")
    return [item]


@KERAS_HANDLERS.register("Activation")
def activation(layer, kernel_mask=None) -> list:
    item = PendingActivation(layer.name, _named_activation(layer, layer.activation), None, type(layer).__name__)
    return _checked_softmax(layer, item)


@KERAS_HANDLERS.register("ReLU")
def relu(layer, kernel_mask=None) -> list:
    if layer.max_value is not None or float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
        raise unsupported(layer, "only ReLU() without max_value, negative_slope or threshold")
    return [PendingActivation(layer.name, "relu", None, type(layer).__name__)]


@KERAS_HANDLERS.register("Softmax")
def softmax(layer, kernel_mask=None) -> list:
    if layer.axis not in (-1, 1):
        raise unsupported(layer, f"softmax over axis {layer.axis}")
    return _checked_softmax(layer, PendingActivation(layer.name, "softmax", None, type(layer).__name__))


@KERAS_HANDLERS.register("QActivation")
def qactivation(layer, kernel_mask=None) -> list:
    """A QKeras QActivation: a quantizer (exact type), or a plain activation given by name."""
    cls = type(layer).__name__
    quantizer = layer.quantizer
    step = step_quantizer(quantizer, f"layer {layer.name!r}")
    if step is not None:  # binary, ternary, quantized_tanh, quantized_sigmoid, binary_tanh
        return [PendingStep(layer.name, quantizer, step, cls)]
    if isinstance(quantizer, str) or callable(quantizer) and not hasattr(quantizer, "bits"):
        return [PendingActivation(layer.name, _named_activation(layer, layer.activation), None, cls)]
    function, result_type = activation_quantizer_type(quantizer, f"layer {layer.name!r}")
    return [PendingActivation(layer.name, function, result_type, cls)]


@KERAS_HANDLERS.register("ELU")
def elu(layer, kernel_mask=None) -> list:
    """Keras' ``ELU(alpha)`` layer: the ``elu`` table function with its ``alpha``."""
    return [PendingActivation(layer.name, "elu", None, type(layer).__name__, parameters={"alpha": float(layer.alpha)})]


@KERAS_HANDLERS.register("BatchNormalization")
def batch_normalization(layer, kernel_mask=None) -> list:
    """Per channel ``x * scale + shift`` (folded into a preceding float Dense by :mod:`.folding`)."""
    if layer.axis not in (-1, [-1]) and list(np.atleast_1d(layer.axis)) != [len(layer.input_shape) - 1]:
        raise unsupported(layer, "only normalisation over the last axis")
    gamma = layer.gamma.numpy() if layer.scale else np.ones(layer.moving_mean.shape)
    beta = layer.beta.numpy() if layer.center else np.zeros(layer.moving_mean.shape)
    mean = layer.moving_mean.numpy()
    var = layer.moving_variance.numpy()
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + float(layer.epsilon))
    shift = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale
    _check_finite(layer.name, "scale", scale)
    _check_finite(layer.name, "shift", shift)
    copies = leading_copies(layer)  # channel-wise on a flattened (C-order) tensor
    return [PendingScaleShift(layer.name, np.tile(scale, copies), np.tile(shift, copies), type(layer).__name__)]


@KERAS_HANDLERS.register("Dropout", "Flatten")
def no_op(layer, kernel_mask=None) -> list:
    """A layer that changes no value at inference (the firmware implements nothing for it)."""
    return []


#: The Keras classes the frontend converts (in the order error messages list them).
SUPPORTED_LAYERS = tuple(KERAS_HANDLERS)
#: The supported classes that become no IR layer (they take no ``layer_config`` options).
NO_OPS = tuple(name for name, handler in KERAS_HANDLERS.items() if handler in (no_op, input_layer))
