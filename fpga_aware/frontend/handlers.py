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

import inspect
import weakref
from typing import Callable

import numpy as np

from fpga_aware.core.activations import KERAS_ACTIVATIONS
from fpga_aware.core.fixed import FixedType
from fpga_aware.core.registry import Registry
from fpga_aware.frontend.errors import InvalidModelError, UnsupportedLayerError
from fpga_aware.frontend.pending import (
    PendingActivation,
    PendingConv,
    PendingDense,
    PendingPooling,
    PendingReorder,
    PendingParametricReLU,
    PendingScaleShift,
    PendingStep,
)
from fpga_aware.frontend.quantizers import (
    activation_quantizer_type,
    has_negative_slope,
    leaky_relu_quantizer_types,
    quantized_weights,
    step_quantizer,
)

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


#: The wrapper's input and output shapes of a layer inside tfmot's wrapper (the inner layer is
#: never called itself, so Keras gives it no shapes); read by the shape-dependent handlers.
_WRAPPED_SHAPES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: A tfmot-wrapped layer's masks by weight attribute (``kernel``, ``depthwise_kernel``, ``pointwise_kernel``).
_WRAPPED_MASKS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def unwrap_pruning(layer):
    """A tfmot ``PruneLowMagnitude`` wrapper → (inner layer, kernel mask); other layers unchanged."""
    if type(layer).__name__ != "PruneLowMagnitude":
        return layer, None
    inner = layer.layer
    try:
        _WRAPPED_SHAPES[inner] = {"input_shape": layer.input_shape, "output_shape": layer.output_shape}
    except (AttributeError, TypeError):  # a wrapper never called either: the handlers say so
        pass
    mask = None
    masks = {}
    for weight, mask_var, _threshold in getattr(layer, "pruning_vars", []):
        for attr in ("kernel", "depthwise_kernel", "pointwise_kernel"):
            if weight is getattr(inner, attr, None):
                masks[attr] = np.asarray(mask_var.numpy(), dtype=np.float64)
    _WRAPPED_MASKS[inner] = masks
    mask = masks.get("kernel", masks.get("depthwise_kernel"))
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


def _leaky_relu_default_alpha(function) -> float:
    """The slope of ``Activation('leaky_relu')``: the default of ``tf.nn.leaky_relu`` (0.2)."""
    try:
        default = inspect.signature(function).parameters["alpha"].default
    except (TypeError, ValueError, KeyError):
        default = inspect.Parameter.empty
    return 0.2 if default is inspect.Parameter.empty else float(np.float32(default))


def _named_items(layer, name: str, function, item_name: str, cls: str, owner: str | None = None) -> list:
    """The pending item of an activation given by name (``leaky_relu`` is a parametric ReLU)."""
    if name == "leaky_relu":
        alpha = np.array([_leaky_relu_default_alpha(function)])
        return [PendingParametricReLU(item_name, "leaky_relu", alpha, 0.0, cls, owner=owner)]
    return [PendingActivation(item_name, name, None, cls, owner=owner)]


def _quantizer_items(quantizer, item_name: str, cls: str, where: str, owner: str | None = None) -> list:
    """The pending item of a QKeras activation quantizer (``negative_slope``: a parametric ReLU)."""
    if has_negative_slope(quantizer):
        slope, result_type, alpha_type, negative_type = leaky_relu_quantizer_types(quantizer, where)
        return [PendingParametricReLU(item_name, "leaky_relu", np.array([slope]), 0.0, cls, result_type=result_type,
                                      alpha_type=alpha_type, negative_type=negative_type, owner=owner)]
    function, result_type = activation_quantizer_type(quantizer, where)
    return [PendingActivation(item_name, function, result_type, cls, owner=owner)]


#: The QKeras classes whose own activation may be a step quantizer (binary, ternary, ...).
_QKERAS_PRODUCTS = ("QDense", "QConv1D", "QConv2D", "QConv2DBatchnorm", "QDepthwiseConv2D", "QSeparableConv1D",
                    "QSeparableConv2D")


def _fused_activation(layer) -> PendingActivation | PendingParametricReLU | None:
    """The activation a Dense/QDense applies itself (a function name or a QKeras quantizer)."""
    cls = type(layer).__name__
    activation = layer.activation
    if cls in _QKERAS_PRODUCTS:  # QDense(activation='binary'/ternary()/quantized_tanh(8)/...)
        step = step_quantizer(activation, f"layer {layer.name!r} activation")
        if step is not None:
            short = step.split("(")[0]
            return PendingStep(f"{layer.name}_{short}", activation, step, cls, owner=layer.name)
    if hasattr(activation, "bits"):  # QDense(activation=quantized_relu(...))
        suffix = "leaky_relu" if has_negative_slope(activation) else None
        if suffix is None:
            suffix, _ = activation_quantizer_type(activation, f"layer {layer.name!r} activation")
        return _quantizer_items(activation, f"{layer.name}_{suffix}", cls, f"layer {layer.name!r} activation",
                                owner=layer.name)[0]
    name = _named_activation(layer, activation)
    if name == "linear":
        return None
    return _named_items(layer, name, activation, f"{layer.name}_{name}", cls, owner=layer.name)[0]


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
    name = _named_activation(layer, layer.activation)
    items = _named_items(layer, name, layer.activation, layer.name, type(layer).__name__)
    return [checked for item in items for checked in _checked_softmax(layer, item)]


def _float32(value) -> float:
    """A Keras layer's float option as the float32 Keras computes with (exactly, as a double)."""
    return float(np.float32(np.asarray(value, dtype=np.float64)))


@KERAS_HANDLERS.register("ReLU")
def relu(layer, kernel_mask=None) -> list:
    """``ReLU()``; ``ReLU(negative_slope=s)`` (a leaky ReLU) or ``ReLU(threshold=t)`` (a thresholded one)."""
    cls = type(layer).__name__
    slope, threshold = _float32(layer.negative_slope), _float32(layer.threshold)
    if layer.max_value is not None:
        raise unsupported(layer, f"max_value={float(layer.max_value)!r}: a clip at max_value is not implemented; "
                                 "ReLU supports negative_slope or threshold, not both, and no max_value")
    if slope != 0.0 and threshold != 0.0:
        raise unsupported(layer, f"negative_slope={slope!r} with threshold={threshold!r}: the slope then applies "
                                 "to x - threshold, which is not implemented; use one of the two")
    if slope != 0.0:
        return [PendingParametricReLU(layer.name, "leaky_relu", np.array([slope]), 0.0, cls)]
    if threshold != 0.0:
        return [PendingParametricReLU(layer.name, "thresholded_relu", np.array([0.0]), threshold, cls)]
    return [PendingActivation(layer.name, "relu", None, cls)]


@KERAS_HANDLERS.register("LeakyReLU")
def leaky_relu(layer, kernel_mask=None) -> list:
    """``x >= 0 ? x : alpha * x`` (alpha as float32, as Keras computes)."""
    alpha = _float32(layer.alpha)
    _check_finite(layer.name, "alpha", np.array([alpha]))
    return [PendingParametricReLU(layer.name, "leaky_relu", np.array([alpha]), 0.0, type(layer).__name__)]


@KERAS_HANDLERS.register("PReLU")
def prelu(layer, kernel_mask=None) -> list:
    """Per-channel trained slopes, broadcast over the input shape (``shared_axes``) and flattened."""
    alpha = np.asarray(layer.alpha.numpy(), dtype=np.float64)
    _check_finite(layer.name, "alpha", alpha)
    shape = tuple(int(d) for d in layer.input_shape[1:])
    try:
        full = np.broadcast_to(alpha, shape)
    except ValueError:
        raise unsupported(layer, f"alpha of shape {alpha.shape} does not broadcast to its input {shape}") from None
    return [PendingParametricReLU(layer.name, "prelu", np.ascontiguousarray(full).ravel(), 0.0, type(layer).__name__)]


@KERAS_HANDLERS.register("ThresholdedReLU")
def thresholded_relu(layer, kernel_mask=None) -> list:
    """``x > theta ? x : 0`` (theta as float32, as Keras compares)."""
    theta = _float32(layer.theta)
    _check_finite(layer.name, "theta", np.array([theta]))
    return [PendingParametricReLU(layer.name, "thresholded_relu", np.array([0.0]), theta, type(layer).__name__)]


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
        return _named_items(layer, _named_activation(layer, layer.activation), layer.activation, layer.name, cls)
    return _quantizer_items(quantizer, layer.name, cls, f"layer {layer.name!r}")


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


# ---------------------------------------------------------------------------- convolution and pooling
def _shape_of(layer, attr: str) -> tuple[int, ...]:
    """``layer.input_shape`` / ``output_shape`` without the batch (a wrapped layer: its wrapper's)."""
    try:
        shape = getattr(layer, attr)
    except AttributeError:
        wrapped = _WRAPPED_SHAPES.get(layer)
        if wrapped is None:
            raise unsupported(layer, f"its {attr.replace('_', ' ')} is unknown (the layer was never called)") from None
        shape = wrapped[attr]
    if isinstance(shape, list):
        shape = shape[0]
    dims = tuple(shape[1:])
    if any(d is None for d in dims):
        raise unsupported(layer, f"its {attr.replace('_', ' ')} {tuple(shape)} must be fully known")
    return tuple(int(d) for d in dims)


def _channels_last(layer) -> None:
    fmt = getattr(layer, "data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise unsupported(layer, f"data_format={fmt!r}; only channels_last (the Keras default) is implemented")


def _window(layer, what: str, kernel, strides, dilation, padding: str, in_shape) -> "object":
    from fpga_aware.core.windows import PADDINGS, window_geometry

    if padding not in PADDINGS:
        raise unsupported(layer, f"padding={padding!r}; {what} supports padding {' or '.join(map(repr, PADDINGS))}")
    try:
        return window_geometry(in_shape[:-1], kernel, strides, dilation, padding)
    except ValueError as err:
        raise unsupported(layer, str(err)) from None


def _conv(layer, kernel_mask: np.ndarray | None, quantizers: bool, weights=None) -> list:
    """Conv1D/Conv2D (QConv1D/QConv2D): a dense product of ``n_taps * C_in -> C_out`` per output pixel.

    ``weights``: ``(kernel, bias)`` in float to use instead of the layer's own (QConv2DBatchnorm's
    folded ones), before the quantizers."""
    cls = type(layer).__name__
    _channels_last(layer)
    rank = 1 if cls.endswith("1D") else 2
    in_shape, out_shape = _shape_of(layer, "input_shape"), _shape_of(layer, "output_shape")
    if len(in_shape) != rank + 1:
        raise unsupported(layer, f"input shape {in_shape}: a {cls} needs {rank} spatial axes and channels")
    groups = int(getattr(layer, "groups", 1) or 1)
    if groups != 1:
        raise unsupported(layer, f"groups={groups}; only groups=1 is implemented")
    kernel_size, strides = tuple(layer.kernel_size), tuple(layer.strides)
    dilation = tuple(layer.dilation_rate)
    geometry = _window(layer, cls, kernel_size, strides, dilation, layer.padding, in_shape)
    if tuple(geometry.out_spatial) + (int(layer.filters),) != out_shape:  # pragma: no cover - Keras' own rule
        raise InvalidModelError(f"layer {layer.name!r}: output shape {out_shape} is not the computed "
                                f"{geometry.out_spatial + (int(layer.filters),)}")
    kernel = np.asarray(layer.kernel.numpy() if weights is None else weights[0], dtype=np.float64)
    if kernel_mask is not None:
        kernel = kernel * kernel_mask
    filters = kernel.shape[-1]
    if weights is not None:
        bias = np.asarray(weights[1], dtype=np.float64)
    else:
        bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if layer.use_bias else np.zeros(filters)
    has_bias = layer.use_bias or weights is not None
    _check_finite(layer.name, "kernel", kernel)
    _check_finite(layer.name, "bias", bias)
    weight_type = bias_type = None
    quantized = False
    if quantizers:
        kq = getattr(layer, "kernel_quantizer_internal", None)
        bq = getattr(layer, "bias_quantizer_internal", None)
        if kq is not None:  # on the Keras kernel's shape (per-filter scales act on its last axis)
            kernel, weight_type = quantized_weights(kq, kernel, f"layer {layer.name!r} kernel_quantizer")
            quantized = True
        if bq is not None and has_bias:
            bias, bias_type = quantized_weights(bq, bias, f"layer {layer.name!r} bias_quantizer")
        elif not has_bias:
            bias_type = FixedType(1, 1, False)
    conv = PendingConv(layer.name, kernel.reshape(-1, filters), bias, weight_type, bias_type, quantized, cls,
                       in_shape=in_shape, out_shape=out_shape, kernel_size=kernel_size, strides=strides,
                       dilation=dilation, padding=layer.padding)
    activation = _fused_activation(layer)
    if activation is not None and activation.kind == "softmax":
        raise unsupported(layer, "softmax over the channels of a convolution's output")
    if activation is not None:
        conv.fused_activation = True
    return [conv] if activation is None else [conv, activation]


@KERAS_HANDLERS.register("Conv1D", "Conv2D")
def conv(layer, kernel_mask=None) -> list:
    """A float Conv1D/Conv2D (and its own activation, if any, as a second item)."""
    return _conv(layer, kernel_mask, quantizers=False)


@KERAS_HANDLERS.register("QConv1D", "QConv2D")
def qconv(layer, kernel_mask=None) -> list:
    """A QKeras QConv1D/QConv2D: kernel and bias through their quantizers, exact types."""
    return _conv(layer, kernel_mask, quantizers=True)


def depthwise_product(depthwise: np.ndarray) -> np.ndarray:
    """The ``(n_taps * C_in, C_in * depth_multiplier)`` kernel of the dense product of a depthwise
    convolution (Keras kernel ``(*kernel_size, C_in, depth_multiplier)``): output channel
    ``c * depth_multiplier + m`` reads only input channel ``c``, so every other entry is 0 (not
    stored, no multiplier: the product holds exactly the depthwise kernel's nonzero taps)."""
    *spatial, channels, multiplier = depthwise.shape
    taps = int(np.prod(spatial, dtype=np.int64))
    k = np.asarray(depthwise, dtype=np.float64).reshape(taps, channels, multiplier)
    product = np.zeros((taps, channels, channels, multiplier))
    c = np.arange(channels)
    product[:, c, c, :] = k[:, c, :]
    return product.reshape(taps * channels, channels * multiplier)


def _quantized(layer, attr: str, values: np.ndarray, what: str, quantizers: bool):
    """``values`` through the QKeras quantizer ``attr`` of ``layer`` (if any): (values, type or None)."""
    q = getattr(layer, attr, None) if quantizers else None
    if q is None:
        return values, None
    return quantized_weights(q, values, f"layer {layer.name!r} {what}")


def _depthwise(layer, kernel_mask: np.ndarray | None, quantizers: bool) -> list:
    """DepthwiseConv1D/2D, SeparableConv1D/2D (QDepthwiseConv2D, QSeparableConv1D/2D).

    A depthwise convolution is a ``conv`` whose per-pixel product is channel-diagonal
    (:func:`depthwise_product`); a separable one is that depthwise ``conv`` (no bias, named
    ``<layer>_depthwise``) followed by its pointwise 1x1 ``conv`` (the layer's name: its bias,
    activation and ``layer_config``)."""
    cls = type(layer).__name__
    separable = "Separable" in cls
    _channels_last(layer)
    rank = 1 if cls.endswith("1D") else 2
    in_shape, out_shape = _shape_of(layer, "input_shape"), _shape_of(layer, "output_shape")
    if len(in_shape) != rank + 1:
        raise unsupported(layer, f"input shape {in_shape}: a {cls} needs {rank} spatial axes and channels")
    kernel_size, strides = tuple(layer.kernel_size), tuple(layer.strides)
    dilation = tuple(layer.dilation_rate)
    geometry = _window(layer, cls, kernel_size, strides, dilation, layer.padding, in_shape)
    multiplier = int(layer.depth_multiplier)
    mid_shape = tuple(geometry.out_spatial) + (in_shape[-1] * multiplier,)
    depthwise = np.asarray(layer.depthwise_kernel.numpy(), dtype=np.float64)
    if kernel_mask is not None:  # a tfmot wrapper: its depthwise mask (the pointwise one below)
        depthwise = depthwise * kernel_mask
    _check_finite(layer.name, "depthwise kernel", depthwise)
    depthwise, depthwise_type = _quantized(layer, "depthwise_quantizer_internal", depthwise, "depthwise_quantizer",
                                           quantizers)
    bias_size = out_shape[-1]
    bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if layer.use_bias else np.zeros(bias_size)
    _check_finite(layer.name, "bias", bias)
    bias_type = None
    if layer.use_bias:
        bias, bias_type = _quantized(layer, "bias_quantizer_internal", bias, "bias_quantizer", quantizers)
    elif quantizers:
        bias_type = FixedType(1, 1, False)
    window = dict(kernel_size=kernel_size, strides=strides, dilation=dilation, padding=layer.padding)
    if not separable:
        if mid_shape != out_shape:  # pragma: no cover - Keras' own rule
            raise InvalidModelError(f"layer {layer.name!r}: output shape {out_shape} is not the computed {mid_shape}")
        items = [PendingConv(layer.name, depthwise_product(depthwise), bias, depthwise_type, bias_type,
                             depthwise_type is not None, cls, in_shape=in_shape, out_shape=out_shape, **window)]
    else:
        pointwise = np.asarray(layer.pointwise_kernel.numpy(), dtype=np.float64)
        pointwise_mask = _WRAPPED_MASKS.get(layer, {}).get("pointwise_kernel")
        if pointwise_mask is not None:
            pointwise = pointwise * pointwise_mask
        _check_finite(layer.name, "pointwise kernel", pointwise)
        pointwise, pointwise_type = _quantized(layer, "pointwise_quantizer_internal", pointwise,
                                               "pointwise_quantizer", quantizers)
        if tuple(geometry.out_spatial) + (pointwise.shape[-1],) != out_shape:  # pragma: no cover - Keras' rule
            raise InvalidModelError(f"layer {layer.name!r}: output shape {out_shape} is not the computed "
                                    f"{tuple(geometry.out_spatial) + (pointwise.shape[-1],)}")
        channels = mid_shape[-1]
        quantized = depthwise_type is not None
        first = PendingConv(f"{layer.name}_depthwise", depthwise_product(depthwise), np.zeros(channels),
                            depthwise_type, FixedType(1, 1, False) if quantized else None, quantized, cls,
                            in_shape=in_shape, out_shape=mid_shape, **window)
        first.partial = True
        second = PendingConv(layer.name, pointwise.reshape(channels, -1), bias, pointwise_type, bias_type,
                             pointwise_type is not None, cls, in_shape=mid_shape, out_shape=out_shape,
                             kernel_size=(1,) * rank, strides=(1,) * rank, dilation=(1,) * rank, padding="valid")
        items = [first, second]
    activation = _fused_activation(layer)
    if activation is not None and activation.kind == "softmax":
        raise unsupported(layer, "softmax over the channels of a convolution's output")
    if activation is not None:
        items[-1].fused_activation = True
    return items if activation is None else [*items, activation]


@KERAS_HANDLERS.register("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D")
def depthwise_conv(layer, kernel_mask=None) -> list:
    """A float depthwise or separable convolution (and its own activation, if any)."""
    return _depthwise(layer, kernel_mask, quantizers=False)


@KERAS_HANDLERS.register("QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D")
def qdepthwise_conv(layer, kernel_mask=None) -> list:
    """A QKeras QDepthwiseConv2D / QSeparableConv1D/2D: kernels and bias through their quantizers."""
    return _depthwise(layer, kernel_mask, quantizers=True)


@KERAS_HANDLERS.register("QConv2DBatchnorm")
def qconv_batchnorm(layer, kernel_mask=None) -> list:
    """QKeras QConv2DBatchnorm at inference, as its forward pass computes it: the float32 folded
    kernel ``gamma * rsqrt(moving_variance + epsilon) * kernel`` and bias ``inv * (bias -
    moving_mean) + beta`` (its own ``get_folded_weights``, the same TensorFlow operations as
    ``call(training=False)``), then ``kernel_quantizer`` and ``bias_quantizer`` on those (the
    folded bias is added and quantized even with ``use_bias=False``), then the activation."""
    bn = layer.batchnorm
    if bn.beta is None or list(bn.axis) != [3]:
        raise unsupported(layer, f"center={bn.center}, axis={list(bn.axis)}; only center=True over the channel "
                                 "axis (-1) is implemented (QKeras adds beta to the folded bias)")
    kernel, bias = (np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=np.float32)
                    for v in layer.get_folded_weights())
    bias = np.broadcast_to(bias, (kernel.shape[-1],))
    return _conv(layer, kernel_mask, quantizers=True, weights=(kernel, bias))


_POOLING = {
    "MaxPooling1D": ("max", False), "MaxPooling2D": ("max", False),
    "AveragePooling1D": ("average", False), "AveragePooling2D": ("average", False),
    "GlobalMaxPooling1D": ("max", True), "GlobalMaxPooling2D": ("max", True),
    "GlobalAveragePooling1D": ("average", True), "GlobalAveragePooling2D": ("average", True),
}


@KERAS_HANDLERS.register(*_POOLING)
def pooling(layer, kernel_mask=None) -> list:
    """Max/average pooling per channel (global pooling: one window over every position)."""
    cls = type(layer).__name__
    operation, is_global = _POOLING[cls]
    _channels_last(layer)
    rank = 1 if cls.endswith("1D") else 2
    in_shape, out_shape = _shape_of(layer, "input_shape"), _shape_of(layer, "output_shape")
    if len(in_shape) != rank + 1:
        raise unsupported(layer, f"input shape {in_shape}: a {cls} needs {rank} spatial axes and channels")
    if is_global:
        size, strides, padding = in_shape[:-1], in_shape[:-1], "valid"
    else:
        size, strides, padding = tuple(layer.pool_size), tuple(layer.strides), layer.padding
    geometry = _window(layer, cls, size, strides, (1,) * rank, padding, in_shape)
    expected = (in_shape[-1],) if is_global else tuple(geometry.out_spatial) + (in_shape[-1],)
    if int(np.prod(out_shape)) != int(np.prod(expected)):  # pragma: no cover - Keras' own rule
        raise InvalidModelError(f"layer {layer.name!r}: output shape {out_shape} is not the computed {expected}")
    return [PendingPooling(layer.name, operation, in_shape, out_shape, tuple(int(v) for v in size),
                           tuple(int(v) for v in strides), padding, cls)]


def _pairs(value, rank: int) -> list[tuple[int, int]]:
    """Keras' padding/cropping argument as ``(before, after)`` per spatial axis."""
    v = np.asarray(value, dtype=np.int64).reshape(rank, 2) if np.size(value) == 2 * rank else None
    if v is None:  # pragma: no cover - Keras normalises its arguments
        raise InvalidModelError(f"cannot read {value!r} as {rank} (before, after) pairs")
    return [(int(a), int(b)) for a, b in v]


@KERAS_HANDLERS.register("ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D")
def reorder(layer, kernel_mask=None) -> list:
    """A pure reorder: the Keras operation applied to the input's flat indices (a padding cell
    reads index ``n_in``, the value 0)."""
    cls = type(layer).__name__
    _channels_last(layer)
    rank = 1 if cls.endswith("1D") else 2
    in_shape, out_shape = _shape_of(layer, "input_shape"), _shape_of(layer, "output_shape")
    if len(in_shape) != rank + 1:
        raise unsupported(layer, f"input shape {in_shape}: a {cls} needs {rank} spatial axes and channels")
    n_in = int(np.prod(in_shape))
    index = np.arange(n_in, dtype=np.int64).reshape(in_shape)
    if cls.startswith("ZeroPadding"):
        pads = _pairs(layer.padding, rank)
        index = np.pad(index, pads + [(0, 0)], constant_values=n_in)
    elif cls.startswith("Cropping"):
        crops = _pairs(layer.cropping, rank)
        index = index[tuple(slice(a, index.shape[i] - b) for i, (a, b) in enumerate(crops))]
    else:
        interpolation = getattr(layer, "interpolation", "nearest")
        if interpolation != "nearest":
            raise unsupported(layer, f"interpolation={interpolation!r}; only 'nearest' is implemented")
        sizes = (int(layer.size),) if rank == 1 else tuple(int(v) for v in layer.size)
        for axis, size in enumerate(sizes):
            index = np.repeat(index, size, axis=axis)
    if index.shape != out_shape:  # pragma: no cover - Keras' own rule
        raise InvalidModelError(f"layer {layer.name!r}: output shape {out_shape} is not the computed {index.shape}")
    return [PendingReorder(layer.name, index.ravel(), in_shape, out_shape, cls)]


@KERAS_HANDLERS.register("Dropout", "Flatten", "Reshape")
def no_op(layer, kernel_mask=None) -> list:
    """A layer that changes no value at inference (the firmware implements nothing for it).

    ``Flatten`` and ``Reshape`` keep the C-order (channels-last) flat vector the IR passes
    between layers: the values stay where they are, only Keras' view of the shape changes.
    """
    if type(layer).__name__ == "Flatten":
        _channels_last(layer)
    return []


#: The Keras classes the frontend converts (in the order error messages list them).
SUPPORTED_LAYERS = tuple(KERAS_HANDLERS)
#: The supported classes that become no IR layer (they take no ``layer_config`` options).
NO_OPS = tuple(name for name, handler in KERAS_HANDLERS.items() if handler in (no_op, input_layer))
