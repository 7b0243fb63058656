"""Keras (tf-keras) model → :class:`~fpga_aware.ir.ModelIR`, built once.

Supported layers: InputLayer, Dense, QDense, Activation / ReLU / Softmax (linear, relu, sigmoid,
tanh, softmax), QActivation (quantized_relu, quantized_bits), BatchNormalization (folded into
the preceding float Dense when nothing sits in between, else a scale/shift layer), Dropout and
Flatten (no-ops), and any of these inside tensorflow-model-optimization's pruning wrapper (the
kernel is taken times its current mask).  Sequential and single-chain functional models only.  Anything else raises
:class:`UnsupportedLayerError` naming the layer and listing what is supported.

Default types (each overridable per layer through ``layer_config``):

* input: the model ``precision``;
* float Dense: weight, bias and result in ``precision``; QDense: weight and bias from their
  quantizers, result = the accumulator (exact, so a following QActivation sees the exact sum);
* a Dense with its own activation (``Dense(64, activation='relu')``) becomes a dense layer and an
  activation layer ``<name>_<activation>``.  The Keras layer's output is the activation's output,
  so the layer's configured ``result`` type applies there; the pre-activation sum stays exact in
  the accumulator type (no wrap-around before the ReLU, unlike hls4ml's default);
* accumulator: the narrowest type that cannot overflow for *these* nonzero weights and the
  input type (see :func:`fpga_aware.fixed.exact_accumulator`);
* activations: quantizer type for QActivation, ``precision`` otherwise (linear keeps its input).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._stack import keras
from .config import ConfigError, FirmwareConfig, LayerConfig
from .fixed import FixedType, PrecisionError, exact_accumulator
from .ir import (
    ActivationLayer,
    DenseLayer,
    InputLayer,
    Layer,
    ModelIR,
    ScaleShiftLayer,
    SoftmaxLayer,
)
from .quantizers import activation_quantizer_type, quantized_weights
from .tables import sigmoid_table, softmax_tables, tanh_table

__all__ = ["UnsupportedLayerError", "InvalidModelError", "build_ir", "SUPPORTED_LAYERS"]

SUPPORTED_LAYERS = (
    "InputLayer",
    "Dense",
    "QDense",
    "Activation",
    "ReLU",
    "Softmax",
    "QActivation",
    "BatchNormalization",
    "Dropout",
    "Flatten",
)
_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "softmax")
_NO_OPS = ("Dropout", "Flatten", "InputLayer")
_CPP_RESERVED = set(keyword.kwlist) | {
    "int", "char", "double", "float", "long", "short", "void", "auto", "class", "struct", "union",
    "template", "typename", "namespace", "using", "static", "const", "return", "switch", "case",
    "default", "do", "goto", "register", "sizeof", "typedef", "volatile", "signed", "unsigned",
    "extern", "inline", "new", "delete", "this", "operator", "private", "public", "protected",
    "virtual", "friend", "main", "input", "output", "std", "hls", "nnet",
}


class UnsupportedLayerError(ValueError):
    """The model contains a layer (or layer option) the firmware cannot implement."""


class InvalidModelError(ValueError):
    """The model cannot be converted (not a tf-keras model, not a chain, NaN weights, ...)."""


def _unsupported(layer, why: str = "") -> UnsupportedLayerError:
    detail = f" ({why})" if why else ""
    return UnsupportedLayerError(
        f"layer {layer.name!r} of type {type(layer).__name__} is not supported{detail}; "
        f"supported layers: {', '.join(SUPPORTED_LAYERS)}; activations: {', '.join(_ACTIVATIONS)}"
    )


# ---------------------------------------------------------------------------- names
def safe_identifiers(names: list[str]) -> list[str]:
    """Unique C++ identifiers for layer names (no injection, no keywords, no clashes)."""
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        ident = re.sub(r"[^A-Za-z0-9_]", "_", name) or "layer"
        ident = re.sub(r"_+", "_", ident).strip("_") or "layer"
        if ident[0].isdigit() or ident in _CPP_RESERVED or ident.startswith("ap_"):
            ident = f"layer_{ident}"
        candidate, k = ident, 1
        while candidate in used:
            k += 1
            candidate = f"{ident}_{k}"
        used.add(candidate)
        out.append(candidate)
    return out


# ---------------------------------------------------------------------------- model walk
def _layer_chain(model) -> list:
    k = keras()
    if not isinstance(model, k.Model):
        raise InvalidModelError(
            f"expected a tf-keras (Keras 2) model, got {type(model).__module__}.{type(model).__name__}; "
            "build or load it with tf.keras after importing fpga_aware (TF_USE_LEGACY_KERAS=1)"
        )
    if len(model.inputs or []) != 1 or len(model.outputs or []) != 1:
        raise InvalidModelError(
            f"model {model.name!r} has {len(model.inputs or [])} inputs and {len(model.outputs or [])} outputs; "
            "only single-input, single-output chains are supported"
        )
    layers = [layer for layer in model.layers]
    if not isinstance(model, k.Sequential):
        previous = None
        for layer in layers:
            inbound = []
            for node in layer._inbound_nodes:
                inbound.extend(node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers])
            if previous is not None and (len(layer._inbound_nodes) != 1 or inbound != [previous]):
                raise InvalidModelError(
                    f"layer {layer.name!r} does not take its only input from {previous.name!r}; "
                    "only single-chain models (Sequential or a straight functional chain) are supported"
                )
            previous = layer
    return layers


def _input_shape(model) -> tuple[int, ...]:
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    dims = tuple(shape[1:])
    if not dims or any(d is None for d in dims):
        raise InvalidModelError(f"model input shape {shape} must be fully known (apart from the batch)")
    return tuple(int(d) for d in dims)


def _check_finite(layer_name: str, what: str, values: np.ndarray) -> None:
    if not np.all(np.isfinite(values)):
        bad = int(np.count_nonzero(~np.isfinite(values)))
        raise InvalidModelError(f"layer {layer_name!r}: {bad} {what} value(s) are NaN or infinite")


# ---------------------------------------------------------------------------- pending layers
@dataclass
class _PendingDense:
    name: str
    kernel: np.ndarray  # float, or already-quantized values
    bias: np.ndarray
    weight_type: FixedType | None  # set for QDense (exact quantizer types)
    bias_type: FixedType | None
    quantized: bool
    keras_class: str
    fused_activation: bool = False  # the Keras layer applies an activation after the sum


@dataclass
class _PendingActivation:
    name: str
    function: str
    result_type: FixedType | None  # from a quantizer
    keras_class: str
    owner: str | None = None  # the Dense whose fused activation this is (its config applies)


@dataclass
class _PendingScaleShift:
    name: str
    scale: np.ndarray
    shift: np.ndarray


def _activation_name(activation) -> str:
    name = getattr(activation, "__name__", None) or str(activation)
    return name


def _dense_pending(layer, kernel_mask: np.ndarray | None = None) -> list:
    cls = type(layer).__name__
    kernel = np.asarray(layer.kernel.numpy(), dtype=np.float64)
    if kernel_mask is not None:  # a tfmot wrapper: the mask is what the pruned layer computes with
        kernel = kernel * kernel_mask
    bias = np.asarray(layer.bias.numpy(), dtype=np.float64) if layer.use_bias else np.zeros(kernel.shape[1])
    _check_finite(layer.name, "kernel", kernel)
    _check_finite(layer.name, "bias", bias)
    if kernel.ndim != 2:
        raise _unsupported(layer, "kernel must be 2-D")
    weight_type = bias_type = None
    quantized = False
    if cls == "QDense":
        kq = getattr(layer, "kernel_quantizer_internal", None)
        bq = getattr(layer, "bias_quantizer_internal", None)
        if kq is not None:
            kernel, weight_type = quantized_weights(kq, kernel, f"layer {layer.name!r} kernel_quantizer")
            quantized = True
        if bq is not None and layer.use_bias:
            bias, bias_type = quantized_weights(bq, bias, f"layer {layer.name!r} bias_quantizer")
        elif not layer.use_bias:
            bias_type = FixedType(1, 1, False)
    dense = _PendingDense(layer.name, kernel, bias, weight_type, bias_type, quantized, cls)
    activation = _fused_activation(layer)
    if activation is not None:
        dense.fused_activation = True
    return [dense] if activation is None else [dense, activation]


def _fused_activation(layer) -> "_PendingActivation | None":
    """The activation a Dense/QDense applies itself (a function name or a QKeras quantizer)."""
    cls = type(layer).__name__
    activation = layer.activation
    if hasattr(activation, "bits"):  # QDense(activation=quantized_relu(...))
        function, result_type = activation_quantizer_type(activation, f"layer {layer.name!r} activation")
        return _PendingActivation(f"{layer.name}_{function}", function, result_type, cls, owner=layer.name)
    name = _activation_name(activation)
    if name not in _ACTIVATIONS:
        raise _unsupported(layer, f"activation {name!r}")
    if name == "linear":
        return None
    return _PendingActivation(f"{layer.name}_{name}", name, None, cls, owner=layer.name)


def _unwrap_pruning(layer):
    """A tfmot ``PruneLowMagnitude`` wrapper → (inner layer, kernel mask); other layers unchanged."""
    if type(layer).__name__ != "PruneLowMagnitude":
        return layer, None
    inner = layer.layer
    mask = None
    for weight, mask_var, _threshold in getattr(layer, "pruning_vars", []):
        if weight is getattr(inner, "kernel", None):
            mask = np.asarray(mask_var.numpy(), dtype=np.float64)
    return inner, mask


def _pending_for(layer) -> list:
    layer, kernel_mask = _unwrap_pruning(layer)
    cls = type(layer).__name__
    if cls in ("Dense", "QDense"):
        return _dense_pending(layer, kernel_mask)
    if cls in _NO_OPS:
        return []
    if cls == "Activation":
        activation = _activation_name(layer.activation)
        if activation not in _ACTIVATIONS:
            raise _unsupported(layer, f"activation {activation!r}")
        return [_PendingActivation(layer.name, activation, None, cls)]
    if cls == "ReLU":
        if layer.max_value is not None or float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
            raise _unsupported(layer, "only ReLU() without max_value, negative_slope or threshold")
        return [_PendingActivation(layer.name, "relu", None, cls)]
    if cls == "Softmax":
        if layer.axis not in (-1, 1):
            raise _unsupported(layer, f"softmax over axis {layer.axis}")
        return [_PendingActivation(layer.name, "softmax", None, cls)]
    if cls == "QActivation":
        quantizer = layer.quantizer
        if isinstance(quantizer, str) or callable(quantizer) and not hasattr(quantizer, "bits"):
            activation = _activation_name(layer.activation)
            if activation not in _ACTIVATIONS:
                raise _unsupported(layer, f"activation {activation!r}")
            return [_PendingActivation(layer.name, activation, None, cls)]
        function, result_type = activation_quantizer_type(quantizer, f"layer {layer.name!r}")
        return [_PendingActivation(layer.name, function, result_type, cls)]
    if cls == "BatchNormalization":
        return [_batch_norm_pending(layer)]
    raise _unsupported(layer)


def _batch_norm_pending(layer) -> _PendingScaleShift:
    if layer.axis not in (-1, [-1]) and list(np.atleast_1d(layer.axis)) != [len(layer.input_shape) - 1]:
        raise _unsupported(layer, "only normalisation over the last axis")
    gamma = layer.gamma.numpy() if layer.scale else np.ones(layer.moving_mean.shape)
    beta = layer.beta.numpy() if layer.center else np.zeros(layer.moving_mean.shape)
    mean = layer.moving_mean.numpy()
    var = layer.moving_variance.numpy()
    scale = np.asarray(gamma, np.float64) / np.sqrt(np.asarray(var, np.float64) + float(layer.epsilon))
    shift = np.asarray(beta, np.float64) - np.asarray(mean, np.float64) * scale
    _check_finite(layer.name, "scale", scale)
    _check_finite(layer.name, "shift", shift)
    return _PendingScaleShift(layer.name, scale, shift)


def _fold_batch_norms(pending: list) -> list:
    """Fold a BatchNormalization directly after a float, linear Dense into that Dense."""
    out: list = []
    for item in pending:
        prev = out[-1] if out else None
        if isinstance(item, _PendingScaleShift) and isinstance(prev, _PendingDense) and not prev.quantized:
            prev.kernel = prev.kernel * item.scale[None, :]
            prev.bias = prev.bias * item.scale + item.shift
            prev.name = prev.name  # folded BN keeps the Dense name; its own name is gone
            continue
        out.append(item)
    return out


# ---------------------------------------------------------------------------- types
def _quantize(values: np.ndarray, t: FixedType, where: str) -> np.ndarray:
    try:
        return t.from_float(values)
    except PrecisionError as err:
        raise InvalidModelError(f"{where}: {err}") from None


class _Builder:
    """Turns the pending chain into typed IR layers."""

    def __init__(self, config: FirmwareConfig, names: list[str]):
        self.config = config
        self.cnames = dict(zip(names, safe_identifiers(names)))

    def layer_config(self, name: str) -> LayerConfig:
        return self.config.layer(name)

    def dense(self, item: _PendingDense, x_type: FixedType) -> DenseLayer:
        cfg = self.layer_config(item.name)
        weight_type = cfg.precision.weight or item.weight_type or self.config.precision
        bias_type = cfg.precision.bias or item.bias_type or self.config.precision
        weights = _quantize(item.kernel, weight_type, f"layer {item.name!r} weights")
        bias = _quantize(item.bias, bias_type, f"layer {item.name!r} bias")
        n_in, n_out = weights.shape
        if n_in != self._width:
            raise InvalidModelError(f"layer {item.name!r} expects {n_in} inputs but receives {self._width}")
        try:
            accum = cfg.precision.accum or exact_accumulator(weights, weight_type.frac, bias, bias_type.frac, x_type)
        except PrecisionError as err:
            raise InvalidModelError(f"layer {item.name!r}: accumulator: {err}") from None
        if item.fused_activation:
            # The Keras layer's output is after its activation: the configured result type
            # applies there; the pre-activation sum stays exact in the accumulator.
            result = accum
        else:
            result = cfg.precision.result or (accum if item.quantized else self.config.precision)
        reuse = cfg.reuse_factor or self.config.reuse_factor
        if reuse > n_in * n_out:
            raise ConfigError(
                f"layer {item.name!r}: reuse_factor {reuse} is invalid; valid reuse factors for this "
                f"{n_in}x{n_out} layer are the integers 1 to {n_in * n_out}"
            )
        return DenseLayer(
            name=item.name, cname=self.cnames[item.name], n_in=n_in, n_out=n_out,
            input_type=x_type, result_type=result, weight_type=weight_type, bias_type=bias_type,
            accum_type=accum, weights=weights, bias=bias, reuse_factor=reuse,
            strategy=cfg.strategy or self.config.strategy, keras_class=item.keras_class,
        )

    def activation(self, item: _PendingActivation, x_type: FixedType) -> Layer:
        cfg = self.layer_config(item.name)
        owner = self.layer_config(item.owner) if item.owner else LayerConfig()
        n = self._width
        common = dict(name=item.name, cname=self.cnames[item.name], n_in=n, n_out=n, input_type=x_type)
        size = cfg.table_size or owner.table_size or self.config.table_size
        configured = cfg.precision.result or owner.precision.result
        if item.function == "softmax":
            result = configured or self.config.precision
            diff_type, exp_table, sum_type, inv_table = softmax_tables(x_type, n, size)
            return SoftmaxLayer(**common, result_type=result, diff_type=diff_type, exp_table=exp_table,
                                sum_type=sum_type, inv_table=inv_table, keras_class=item.keras_class)
        default = x_type if item.function == "linear" else self.config.precision
        result = configured or item.result_type or default
        table = None
        if item.function == "sigmoid":
            table = sigmoid_table(x_type, result, size)
        elif item.function == "tanh":
            table = tanh_table(x_type, result, size)
        return ActivationLayer(**common, result_type=result, function=item.function, table=table,
                               keras_class=item.keras_class)

    def scale_shift(self, item: _PendingScaleShift, x_type: FixedType) -> ScaleShiftLayer:
        cfg = self.layer_config(item.name)
        n = self._width
        if item.scale.shape[0] != n:
            raise InvalidModelError(f"layer {item.name!r} normalises {item.scale.shape[0]} channels but receives {n}")
        scale_type = cfg.precision.weight or self.config.precision
        shift_type = cfg.precision.bias or self.config.precision
        scale = _quantize(item.scale, scale_type, f"layer {item.name!r} scale")
        shift = _quantize(item.shift, shift_type, f"layer {item.name!r} shift")
        accum = cfg.precision.accum or _scale_shift_accumulator(scale, scale_type, shift, shift_type, x_type)
        return ScaleShiftLayer(
            name=item.name, cname=self.cnames[item.name], n_in=n, n_out=n, input_type=x_type,
            result_type=cfg.precision.result or self.config.precision, scale_type=scale_type,
            shift_type=shift_type, accum_type=accum, scale=scale, shift=shift,
        )

    def build(self, input_name: str, shape: tuple[int, ...], pending: list) -> ModelIR:
        n_inputs = int(np.prod(shape))
        self._width = n_inputs
        in_cfg = self.layer_config(input_name)
        in_type = in_cfg.precision.result or self.config.precision
        layers: list[Layer] = [
            InputLayer(name=input_name, cname=self.cnames[input_name], n_in=n_inputs, n_out=n_inputs,
                       input_type=in_type, result_type=in_type, shape=shape)
        ]
        for item in pending:
            x_type = layers[-1].result_type
            if isinstance(item, _PendingDense):
                layer = self.dense(item, x_type)
            elif isinstance(item, _PendingActivation):
                layer = self.activation(item, x_type)
            else:
                layer = self.scale_shift(item, x_type)
            layers.append(layer)
            self._width = layer.n_out
        return ModelIR(project_name=self.config.project_name, layers=layers)


def _scale_shift_accumulator(scale, scale_type, shift, shift_type, x_type) -> FixedType:
    diag = np.diag(scale) if scale.size else np.zeros((0, 0), dtype=np.int64)
    # Per channel: x * scale + shift; reuse the dense bound with a diagonal "kernel".
    return exact_accumulator(diag.astype(np.int64), scale_type.frac, shift, shift_type.frac, x_type)


def build_ir(model: Any, config: FirmwareConfig) -> ModelIR:
    """Build the IR of ``model`` under ``config`` (raises on anything unsupported)."""
    layers = _layer_chain(model)
    shape = _input_shape(model)
    first = layers[0]
    input_name = first.name if type(first).__name__ == "InputLayer" else f"{model.name}_input"
    pending: list = []
    for layer in layers:
        pending.extend(_pending_for(layer))
    pending = _fold_batch_norms(pending)
    if not any(isinstance(p, _PendingDense) for p in pending):
        raise InvalidModelError(f"model {model.name!r} has no Dense/QDense layer to implement")
    names = [input_name] + [p.name for p in pending]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise InvalidModelError(f"layer names must be unique, repeated: {sorted(duplicates)}")
    known = set(names)
    unknown = sorted(set(config.layers) - known)
    if unknown:
        raise ConfigError(f"layer_config names unknown layer(s) {unknown}; the model's layers are {names}")
    if len(shape) > 1 and not any(type(layer).__name__ == "Flatten" for layer in layers):
        raise UnsupportedLayerError(
            f"model input shape {shape} is multi-dimensional without a Flatten layer; Dense layers "
            "must see a 1-D input"
        )
    return _Builder(config, names).build(input_name, shape, pending)
