"""Keras (tf-keras) model → :class:`~fpga_aware.core.ir.ModelIR`, built once.

Supported layers: InputLayer, Dense, QDense, Activation / ReLU / Softmax (linear, relu, sigmoid,
tanh, softmax), QActivation (quantized_relu, quantized_bits), BatchNormalization (folded into
the preceding float Dense when nothing sits in between, else a scale/shift layer), Dropout and
Flatten (no-ops), and any of these inside tensorflow-model-optimization's pruning wrapper (the
kernel is taken times its current mask).  Sequential and single-chain functional models only.  Anything else raises
:class:`UnsupportedLayerError` naming the layer and listing what is supported.

Stored numbers never overflow silently: a weight, bias, scale, shift or table entry outside its
type raises :class:`WeightOverflowError` unless that layer's ``layer_config`` precision names the
overflow mode; ``layer_config`` options that do not apply to a layer raise :class:`ConfigError`.

Default types (each overridable per layer through ``layer_config``):

* input: the model ``precision``; when the first layer is a QActivation quantizer, that quantizer's
  type (so the float input is rounded once, as QKeras rounds it);
* float Dense: weight, bias and result in ``precision``; QDense: weight and bias from their
  quantizers, result = the accumulator (exact, so a following QActivation sees the exact sum);
* a Dense with its own activation (``Dense(64, activation='relu')``) becomes a dense layer and an
  activation layer ``<name>_<activation>``.  The Keras layer's output is the activation's output,
  so the layer's configured ``result`` type applies there; the pre-activation sum stays exact in
  the accumulator type (no wrap-around before the ReLU, unlike hls4ml's default);
* accumulator: the narrowest type that cannot overflow for *these* nonzero weights and the
  input type (see :func:`fpga_aware.core.fixed.exact_accumulator`);
* activations: quantizer type for QActivation, ``precision`` otherwise (linear keeps its input).
"""

from __future__ import annotations

import hashlib
import keyword
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from fpga_aware._stack import keras
from fpga_aware.core.config import ConfigError, FirmwareConfig, LayerConfig
from fpga_aware.core.fixed import MAX_WIDTH, FixedType, Overflow, PrecisionError, Rounding, exact_accumulator, smallest_type_for
from fpga_aware.core.ir import (
    ActivationLayer,
    DenseLayer,
    InputLayer,
    Layer,
    ModelIR,
    ScaleShiftLayer,
    SoftmaxLayer,
)
from fpga_aware.frontend.quantizers import activation_quantizer_type, quantized_weights
from fpga_aware.core.activations import KERAS_ACTIVATIONS, TABLE_FUNCTIONS
from fpga_aware.core.tables import activation_table, softmax_tables, table_range

__all__ = [
    "UnsupportedLayerError",
    "InvalidModelError",
    "LayerPrecisionError",
    "WeightOverflowError",
    "build_ir",
    "SUPPORTED_LAYERS",
]

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


class LayerPrecisionError(InvalidModelError, PrecisionError):
    """A layer's numbers do not fit its fixed-point types (the message names the layer)."""


class WeightOverflowError(LayerPrecisionError):
    """A weight, bias, scale, shift or table entry lies outside its type's range: converting it
    would wrap or saturate it.  The message names the layer, the value and a type that holds it."""


def _unsupported(layer, why: str = "") -> UnsupportedLayerError:
    detail = f" ({why})" if why else ""
    return UnsupportedLayerError(
        f"layer {layer.name!r} of type {type(layer).__name__} is not supported{detail}; "
        f"supported layers: {', '.join(SUPPORTED_LAYERS)}; activations: {', '.join(KERAS_ACTIVATIONS)}"
    )


# ---------------------------------------------------------------------------- names
#: Longest C++ name derived from a layer name (a longer one is cut and gets a hash of the
#: full name): it names weights/<cname>.h and every <cname>_... identifier.
MAX_CNAME = 48


def safe_identifiers(names: list[str]) -> list[str]:
    """Unique C++ identifiers for layer names (no injection, no keywords, no clashes, at most
    :data:`MAX_CNAME` characters plus a uniqueness suffix)."""
    out: list[str] = []
    used: set[str] = set()
    for name in names:
        ident = re.sub(r"[^A-Za-z0-9_]", "_", name) or "layer"
        ident = re.sub(r"_+", "_", ident).strip("_") or "layer"
        if ident[0].isdigit() or ident in _CPP_RESERVED or ident.startswith("ap_"):
            ident = f"layer_{ident}"
        if len(ident) > MAX_CNAME:  # file names (weights/<cname>.h) and identifiers stay short
            digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
            ident = f"{ident[:MAX_CNAME - 9].rstrip('_')}_{digest}"
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
    if any(int(d) < 1 for d in dims):
        raise InvalidModelError(f"model input shape {shape} has no values; every dimension must be at least 1")
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
    folded: str | None = None  # the BatchNormalization folded into this layer

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
    if kernel.shape[1] < 1:
        raise InvalidModelError(f"layer {layer.name!r} has {kernel.shape[1]} units; a {cls} layer needs at least one")
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
    if name not in KERAS_ACTIVATIONS:
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
        if activation not in KERAS_ACTIVATIONS:
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
            if activation not in KERAS_ACTIVATIONS:
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


def _fold_batch_norms(pending: list) -> tuple[list, dict[str, str]]:
    """Fold a BatchNormalization directly after a float, linear Dense into that Dense.

    Returns the new chain and ``{batch norm name: dense name}`` of the folded layers.
    """
    out: list = []
    folded: dict[str, str] = {}
    for item in pending:
        prev = out[-1] if out else None
        if (isinstance(item, _PendingScaleShift) and isinstance(prev, _PendingDense) and not prev.quantized
                and prev.folded is None):
            prev.kernel = prev.kernel * item.scale[None, :]
            prev.bias = prev.bias * item.scale + item.shift
            prev.folded = item.name  # the Dense keeps its name; the BN's is gone
            folded[item.name] = prev.name
            continue
        out.append(item)
    return out, folded


# ---------------------------------------------------------------------------- types
def _round_exact(value: float, t: FixedType) -> int:
    """The mantissa ``value`` rounds to in ``t`` before overflow handling (exact, any magnitude)."""
    q = Fraction(value) * (Fraction(2) ** t.frac)
    low = math.floor(q)
    rem = q - low
    mode = t.rounding
    if mode == Rounding.TRN or rem == 0:
        return low
    if mode == Rounding.TRN_ZERO:
        return low if q > 0 else low + 1
    if rem != Fraction(1, 2):
        return low + 1 if rem > Fraction(1, 2) else low
    if mode == Rounding.RND:
        return low + 1
    if mode == Rounding.RND_MIN_INF:
        return low
    if mode == Rounding.RND_INF:
        return low + 1 if q > 0 else low
    if mode == Rounding.RND_ZERO:
        return low if q > 0 else low + 1
    return low if low % 2 == 0 else low + 1  # RND_CONV


def _fitting_type(lo: int, hi: int, t: FixedType) -> str:
    """A type with ``t``'s fractional bits and modes holding ``t``'s range and the mantissas [lo, hi], as C++."""
    lo, hi = min(lo, t.min_mantissa), max(hi, t.max_mantissa)  # never narrower than asked for
    try:
        wide = smallest_type_for(min(lo, -1) if (t.signed or lo < 0) else 0, hi, t.frac)
    except PrecisionError:
        return f"no type of at most {MAX_WIDTH} bits with {t.frac} fractional bits holds it"
    return wide.with_modes(t.rounding, t.overflow).cpp()


def check_overflow(values: np.ndarray, t: FixedType, layer: str, what: str, key: str) -> None:
    """Raise :class:`WeightOverflowError` when a value of ``values`` rounds outside ``t``'s range.

    ``key`` is the ``layer_config`` precision key of ``t`` (for the suggested fix).  Rounding is
    monotone, so the smallest and the largest value decide.
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return
    lo_value, hi_value = float(v.min()), float(v.max())
    lo, hi = _round_exact(lo_value, t), _round_exact(hi_value, t)
    if lo >= t.min_mantissa and hi <= t.max_mantissa:
        return
    worst = hi_value if hi > t.max_mantissa and (lo >= t.min_mantissa or abs(hi_value) >= abs(lo_value)) else lo_value
    becomes = float(t.to_float(t.from_float(np.array([worst])))[0])
    n_bad = int(np.count_nonzero((v > t.max_value) | (v < t.min_value))) or 1
    fits = _fitting_type(lo, hi, t)
    explicit = t.with_modes(overflow=Overflow.SAT).cpp()
    raise WeightOverflowError(
        f"layer {layer!r}: {what} {worst!r} lies outside {t.cpp()} (range [{t.min_value!r}, {t.max_value!r}]; "
        f"{n_bad} of {v.size} values outside); converting it would {'wrap' if t.overflow == Overflow.WRAP else 'saturate'} "
        f"it to {becomes!r}. A type that holds every value: {fits} "
        f"(layer_config={{{layer!r}: {{'precision': {{{key!r}: {fits!r}}}}}}}); to saturate or wrap on purpose, "
        f"name the overflow mode in that layer's precision, e.g. {explicit!r}"
    )


def _quantize(values: np.ndarray, t: FixedType, where: str, *, layer: str, what: str, key: str,
              allow_overflow: bool) -> np.ndarray:
    if not allow_overflow:
        check_overflow(values, t, layer, what, key)
    try:
        return t.from_float(values)
    except PrecisionError as err:
        raise LayerPrecisionError(f"{where}: {err}") from None


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
        explicit = cfg.precision.explicit_overflow
        folded = f" (with BatchNormalization {item.folded!r} folded in)" if item.folded else ""
        weights = _quantize(item.kernel, weight_type, f"layer {item.name!r} weights", layer=item.name,
                            what=f"weight{folded}", key="weight", allow_overflow="weight" in explicit)
        bias = _quantize(item.bias, bias_type, f"layer {item.name!r} bias", layer=item.name,
                         what=f"bias{folded}", key="bias", allow_overflow="bias" in explicit)
        n_in, n_out = weights.shape
        if n_in != self._width:
            raise InvalidModelError(f"layer {item.name!r} expects {n_in} inputs but receives {self._width}")
        try:
            accum = cfg.precision.accum or exact_accumulator(weights, weight_type.frac, bias, bias_type.frac, x_type)
        except PrecisionError as err:
            raise LayerPrecisionError(f"layer {item.name!r}: accumulator: {err}") from None
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
        if item.function in TABLE_FUNCTIONS:
            source = cfg if cfg.precision.result else owner
            saturate = "result" in source.precision.explicit_overflow
            table = _table(item.function, x_type, result, size, saturate, item.name,
                           item.owner if source is owner and owner.precision.result else item.name)
        return ActivationLayer(**common, result_type=result, function=item.function, table=table,
                               keras_class=item.keras_class)

    def scale_shift(self, item: _PendingScaleShift, x_type: FixedType) -> ScaleShiftLayer:
        cfg = self.layer_config(item.name)
        n = self._width
        if item.scale.shape[0] != n:
            raise InvalidModelError(f"layer {item.name!r} normalises {item.scale.shape[0]} channels but receives {n}")
        scale_type = cfg.precision.weight or self.config.precision
        shift_type = cfg.precision.bias or self.config.precision
        explicit = cfg.precision.explicit_overflow
        scale = _quantize(item.scale, scale_type, f"layer {item.name!r} scale", layer=item.name,
                          what="scale (gamma / sqrt(variance + epsilon))", key="weight",
                          allow_overflow="weight" in explicit)
        shift = _quantize(item.shift, shift_type, f"layer {item.name!r} shift", layer=item.name,
                          what="shift (beta - mean * scale)", key="bias", allow_overflow="bias" in explicit)
        try:
            accum = cfg.precision.accum or _scale_shift_accumulator(scale, scale_type, shift, shift_type, x_type)
        except PrecisionError as err:
            raise LayerPrecisionError(f"layer {item.name!r}: accumulator: {err}") from None
        return ScaleShiftLayer(
            name=item.name, cname=self.cnames[item.name], n_in=n, n_out=n, input_type=x_type,
            result_type=cfg.precision.result or self.config.precision, scale_type=scale_type,
            shift_type=shift_type, accum_type=accum, scale=scale, shift=shift,
        )

    def input_type(self, input_name: str, pending: list) -> FixedType:
        """The input type: configured, else the type of a leading quantizer, else ``precision``.

        When the first layer is a QActivation quantizer (``quantized_bits``/``quantized_relu``),
        the input *is* that quantizer's type, rounding and saturation included: the float input is
        then rounded once, as QKeras does, instead of being truncated to ``precision`` first and
        rounded again by the quantizer.
        """
        configured = self.layer_config(input_name).precision.result
        if configured is not None:
            return configured
        first = pending[0] if pending else None
        if isinstance(first, _PendingActivation) and first.result_type is not None and first.owner is None:
            return first.result_type
        return self.config.precision

    def build(self, input_name: str, shape: tuple[int, ...], pending: list) -> ModelIR:
        n_inputs = int(np.prod(shape))
        self._width = n_inputs
        in_type = self.input_type(input_name, pending)
        layers: list[Layer] = [
            InputLayer(name=input_name, cname=self.cnames[input_name], n_in=n_inputs, n_out=n_inputs,
                       input_type=in_type, result_type=in_type, shape=shape)
        ]
        for item in pending:
            x_type = layers[-1].result_type
            try:
                if isinstance(item, _PendingDense):
                    layer = self.dense(item, x_type)
                elif isinstance(item, _PendingActivation):
                    layer = self.activation(item, x_type)
                else:
                    layer = self.scale_shift(item, x_type)
            except LayerPrecisionError:
                raise
            except PrecisionError as err:  # anything else about types: name the layer
                raise LayerPrecisionError(f"layer {item.name!r}: {err}") from None
            layers.append(layer)
            self._width = layer.n_out
        return ModelIR(project_name=self.config.project_name, layers=layers)


def _table(function: str, x_type: FixedType, result: FixedType, size: int, saturate: bool, name: str,
           config_name: str):
    """The sigmoid/tanh table; entries more than one LSB outside ``result`` raise unless its
    overflow mode was named (a rounding step past the top is saturated: an error below one LSB)."""
    table = activation_table(function, x_type, result, size)
    if not saturate:
        lo, hi = table_range(function, x_type)
        if hi > result.max_value + result.lsb or lo < result.min_value - result.lsb:
            worst = hi if hi > result.max_value + result.lsb else lo
            fits = _fitting_type(_round_exact(lo, result), _round_exact(hi, result), result)
            raise WeightOverflowError(
                f"layer {name!r}: {function} table entries reach {worst:.6g}, outside {result.cpp()} "
                f"(range [{result.min_value!r}, {result.max_value!r}]); the table would saturate them. "
                f"A result type that holds them: {fits} (layer_config={{{config_name!r}: "
                f"{{'precision': {{'result': {fits!r}}}}}}}); to saturate on purpose, name the overflow "
                f"mode, e.g. {result.with_modes(overflow=Overflow.SAT).cpp()!r}"
            )
    return table


def _scale_shift_accumulator(scale, scale_type, shift, shift_type, x_type) -> FixedType:
    # Per channel: x * scale + shift; reuse the dense bound with a diagonal "kernel" (int64, or
    # Python ints for mantissas wider than 62 bits).
    diag = np.diag(scale) if scale.size else np.zeros((0, 0), dtype=scale.dtype)
    return exact_accumulator(diag, scale_type.frac, shift, shift_type.frac, x_type)


_TABLE_FUNCTIONS = (*TABLE_FUNCTIONS, "softmax")


def _accepted_options(item, pending_by_name: dict) -> tuple[set[str], set[str], str]:
    """``(options, precision keys, description)`` that apply to a pending layer (or the input)."""
    if item is None:
        return {"precision"}, {"result"}, "the model input"
    if isinstance(item, _PendingDense):
        options = {"precision", "reuse_factor", "strategy"}
        fused = None
        for other in pending_by_name.values():
            if isinstance(other, _PendingActivation) and other.owner == item.name:
                fused = other
        if isinstance(fused, _PendingActivation) and fused.function in _TABLE_FUNCTIONS:
            options.add("table_size")
        return options, {"weight", "bias", "result", "accum"}, f"{item.keras_class} layer"
    if isinstance(item, _PendingScaleShift):
        return {"precision"}, {"weight", "bias", "result", "accum"}, "BatchNormalization (scale = weight, shift = bias)"
    options = {"precision"} | ({"table_size"} if item.function in _TABLE_FUNCTIONS else set())
    if item.owner:
        return options, {"result"}, f"the {item.function} activation of {item.owner!r}"
    return options, {"result"}, f"{item.function} activation"


def _check_layer_config(config: FirmwareConfig, input_name: str, pending: list, folded: dict[str, str],
                        no_ops: dict[str, str], names: list[str]) -> None:
    """Every ``layer_config`` entry names a layer of the chain and only options that apply to it."""
    by_name = {p.name: p for p in pending}
    unknown = sorted(n for n in config.layers if n not in by_name and n != input_name and n not in folded
                     and n not in no_ops)
    if unknown:
        raise ConfigError(f"layer_config names unknown layer(s) {unknown}; the model's layers are {names}")
    for name, cfg in config.layers.items():
        where = f"layer_config[{name!r}]"
        if name in folded:
            raise ConfigError(
                f"{where}: BatchNormalization {name!r} is folded into Dense {folded[name]!r} (its scale and "
                f"shift are multiplied into {folded[name]!r}'s weights and biases), so it has no types or "
                f"options of its own; configure {folded[name]!r} instead"
            )
        if name in no_ops and name not in by_name and name != input_name:
            raise ConfigError(f"{where}: layer {name!r} is a {no_ops[name]}, which the firmware does not "
                              f"implement (it changes no value); it takes no options")
        item = None if name == input_name else by_name[name]
        options, keys, what = _accepted_options(item, by_name)
        wrong = [o for o in cfg.options if o not in options]
        wrong_keys = sorted(cfg.precision.keys - keys)
        if wrong or wrong_keys:
            given = ", ".join(wrong + [f"precision[{k!r}]" for k in wrong_keys])
            accepted = ", ".join(
                (f"precision (key{'s' if len(keys) > 1 else ''} {', '.join(repr(k) for k in sorted(keys))})"
                 if o == "precision" else o) for o in sorted(options, key=["precision", "reuse_factor", "strategy", "table_size"].index)
            )
            hint = ""
            if isinstance(item, _PendingActivation) and item.owner and set(wrong) & {"reuse_factor", "strategy"}:
                hint = f"; reuse_factor and strategy are options of {item.owner!r}"
            raise ConfigError(f"{where}: {given} do{'es' if given.count(',') == 0 else ''} not apply to layer "
                              f"{name!r} ({what}); it accepts {accepted}{hint}")


def build_ir(model: Any, config: FirmwareConfig) -> ModelIR:
    """Build the IR of ``model`` under ``config`` (raises on anything unsupported)."""
    layers = _layer_chain(model)
    shape = _input_shape(model)
    first = layers[0]
    input_name = first.name if type(first).__name__ == "InputLayer" else f"{model.name}_input"
    pending: list = []
    for layer in layers:
        pending.extend(_pending_for(layer))
    pending, folded = _fold_batch_norms(pending)
    if not any(isinstance(p, _PendingDense) for p in pending):
        raise InvalidModelError(f"model {model.name!r} has no Dense/QDense layer to implement")
    names = [input_name] + [p.name for p in pending]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise InvalidModelError(f"layer names must be unique, repeated: {sorted(duplicates)}")
    no_ops = {layer.name: type(layer).__name__ for layer in layers if type(layer).__name__ in _NO_OPS}
    _check_layer_config(config, input_name, pending, folded, no_ops, names)
    if len(shape) > 1 and not any(type(layer).__name__ == "Flatten" for layer in layers):
        raise UnsupportedLayerError(
            f"model input shape {shape} is multi-dimensional without a Flatten layer; Dense layers "
            "must see a 1-D input"
        )
    return _Builder(config, names).build(input_name, shape, pending)
