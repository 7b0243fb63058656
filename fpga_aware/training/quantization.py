"""Turn a float tf-keras model into a QKeras copy ready for quantization-aware training.

:func:`quantize` walks a Sequential or single-chain functional model and rebuilds it
layer by layer:

=================================  =====================================================
source layer                       copy
=================================  =====================================================
``Dense(activation='linear')``     ``QDense`` named like the source, weight and bias
                                   quantizers ``quantized_bits(bits, integer, alpha=1)``
``Dense(activation='relu')``       ``QDense`` (linear) + ``QActivation`` named
                                   ``<dense>_relu`` with ``quantized_relu(abits, aint)``
``Dense(activation=f)``,           ``QDense`` (linear) + float ``Activation(f)`` named
f in sigmoid/tanh/softmax          ``<dense>_<f>``
``Conv1D`` / ``Conv2D``            ``QConv1D`` / ``QConv2D`` (same window options), as ``Dense``
                                   above for its activation
``Activation('relu')``             ``QActivation(quantized_relu(abits, aint))``, same name
``Activation(f)``, f not relu      copied (float)
``Dropout``, ``Flatten``,          copied as they are (weights included)
``BatchNormalization``, ``Reshape``,
pooling, ZeroPadding, Cropping,
UpSampling (1D/2D)
``InputLayer``                     a new input of the same shape, dtype and name
=================================  =====================================================

``abits``/``aint`` are ``activation_bits`` (default: ``bits``) and
``activation_integer``.  ``quantized_bits(b, i)`` is a signed fixed-point number with
``b`` bits of which ``i`` are integer bits left of the point (sign not counted):
``clip(round(x * 2**(b-1-i)), -2**(b-1), 2**(b-1)-1) / 2**(b-1-i)``.
``quantized_relu(b, i)`` is unsigned: ``clip(round(x * 2**(b-i)), 0, 2**b-1) / 2**(b-i)``.

Float weights are copied unchanged (QKeras quantizes them in the forward pass), the copy
is not compiled, and every layer keeps its ``trainable`` flag.  The ``QDense`` kernels
are prunable by :class:`fpga_aware.training.pruning.Prune`.

``layer_config`` overrides ``bits``/``integer`` per layer of the *copy*, e.g.
``{'fc1': {'bits': 8, 'integer': 1}, 'fc1_relu': {'bits': 8}}``.  Keys are ``'bits'`` and
``'integer'``; for a ``QDense`` they set the weight and bias quantizer, for a relu they
set the activation quantizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
from fpga_aware._stack import keras, tensorflow
from fpga_aware.core.activations import KERAS_ACTIVATIONS

tf = tensorflow()
k = keras()

from qkeras import QActivation, QConv1D, QConv2D, QDense, quantized_bits, quantized_relu  # noqa: E402

__all__ = ["quantize", "SUPPORTED_CLASSES", "SUPPORTED_ACTIVATIONS", "LAYER_CONFIG_KEYS"]

#: Source layer classes :func:`quantize` accepts (exact classes, not subclasses).
SUPPORTED_CLASSES: tuple[str, ...] = (
    "InputLayer",
    "Dense",
    "Activation",
    "Dropout",
    "Flatten",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Reshape",
    "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "UpSampling1D", "UpSampling2D",
)
#: Activation functions accepted in ``Dense`` and ``Activation`` layers.
SUPPORTED_ACTIVATIONS: tuple[str, ...] = KERAS_ACTIVATIONS  # what the firmware implements
#: Keys allowed in each ``layer_config`` entry.
LAYER_CONFIG_KEYS: tuple[str, ...] = ("bits", "integer")

_COPIED = (k.layers.Dropout, k.layers.Flatten, k.layers.BatchNormalization, k.layers.Reshape,
           k.layers.MaxPooling1D, k.layers.MaxPooling2D, k.layers.AveragePooling1D, k.layers.AveragePooling2D,
           k.layers.GlobalMaxPooling1D, k.layers.GlobalMaxPooling2D, k.layers.GlobalAveragePooling1D,
           k.layers.GlobalAveragePooling2D, k.layers.ZeroPadding1D, k.layers.ZeroPadding2D, k.layers.Cropping1D,
           k.layers.Cropping2D, k.layers.UpSampling1D, k.layers.UpSampling2D)
#: Float convolution class -> its QKeras class.
_QCONV = {k.layers.Conv1D: QConv1D, k.layers.Conv2D: QConv2D}
#: The window options a convolution's QKeras copy keeps.
_CONV_ARGS = ("filters", "kernel_size", "strides", "padding", "dilation_rate", "data_format")
_DENSE_ARGS = (
    "use_bias",
    "kernel_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "bias_constraint",
)


@dataclass(frozen=True)
class _Precision:
    bits: int
    integer: int


@dataclass
class _Step:
    """One layer of the copy: how to build it and which source layer gives its weights."""

    name: str
    build: Callable[[_Precision | None], Any]
    source: Any = None  #: source layer whose weights are copied into this one
    quantized: str | None = None  #: 'weights' or 'relu' if bits apply, else None


# --------------------------------------------------------------------------- checks
def _check_int(value: Any, what: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else ``ValueError`` naming ``what``."""
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{what} must be an integer {bound}, got {value!r}")
    return int(value)


def _weight_precision(bits: Any, integer: Any, where: str) -> _Precision:
    """Signed ``quantized_bits``: 2 <= bits, 0 <= integer <= bits - 1."""
    bits = _check_int(bits, f"{where}bits", 2)
    return _Precision(bits, _check_int(integer, f"{where}integer", 0, bits - 1))


def _relu_precision(bits: Any, integer: Any, where: str) -> _Precision:
    """Unsigned ``quantized_relu``: 1 <= bits, 0 <= integer <= bits."""
    bits = _check_int(bits, f"{where}bits", 1)
    return _Precision(bits, _check_int(integer, f"{where}integer", 0, bits))


def _activation_name(layer: Any) -> str:
    """The name of ``layer.activation``, checked against :data:`SUPPORTED_ACTIVATIONS`."""
    try:
        name = k.activations.serialize(layer.activation)
    except (ValueError, TypeError) as err:
        raise ValueError(f"layer {layer.name!r}: its activation cannot be identified ({err})") from err
    name = name if isinstance(name, str) else str(name.get("class_name", name))
    if name not in SUPPORTED_ACTIVATIONS:
        raise ValueError(
            f"layer {layer.name!r} ({type(layer).__name__}) has activation {name!r}; "
            f"supported activations are {', '.join(SUPPORTED_ACTIVATIONS)}"
        )
    return name


def _chain_layers(model: Any) -> list[Any]:
    """The layers of a Sequential or single-chain functional model, input layer excluded."""
    if not isinstance(model, k.Model):
        raise TypeError(f"quantize() needs a tf-keras Model, got {type(model).__name__}")
    if not model.built or not model.inputs:
        raise ValueError(
            f"model {model.name!r} has no known input shape; build it first "
            "(start it with keras.Input(shape=...) or call model.build(...))"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"quantize() needs a single-chain model with one input and one output; "
            f"{model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )
    layers = [layer for layer in model.layers if not isinstance(layer, k.layers.InputLayer)]
    if not isinstance(model, k.Sequential):
        _check_single_chain(model, layers)
    return layers


def _check_single_chain(model: Any, layers: list[Any]) -> None:
    """Each layer must be called once, on the previous layer's output."""
    previous = model.inputs[0]
    for layer in layers:
        calls = len(layer.inbound_nodes)
        if calls != 1:
            raise ValueError(
                f"quantize() needs a single-chain model: layer {layer.name!r} is called {calls} times"
            )
        if layer.input is not previous:
            raise ValueError(
                f"quantize() needs a single-chain model: layer {layer.name!r} is not applied "
                "to the output of the layer before it"
            )
        previous = layer.output
    if previous is not model.outputs[0]:
        raise ValueError("quantize() needs a single-chain model: the last layer is not the model output")


# --------------------------------------------------------------------------- plan
def _qdense(layer: Any) -> Callable[[_Precision | None], Any]:
    """Builder of a linear ``QDense`` copying ``layer``'s options."""
    config = layer.get_config()

    def build(p: _Precision | None) -> Any:
        assert p is not None
        quantizer = dict(bits=p.bits, integer=p.integer, alpha=1)
        return QDense(
            layer.units,
            activation=None,
            kernel_quantizer=quantized_bits(**quantizer),
            bias_quantizer=quantized_bits(**quantizer) if layer.use_bias else None,
            name=layer.name,
            trainable=layer.trainable,
            **{key: config[key] for key in _DENSE_ARGS},
        )

    return build


def _qconv(layer: Any) -> Callable[[_Precision | None], Any]:
    """Builder of a linear ``QConv1D``/``QConv2D`` copying ``layer``'s options."""
    config = layer.get_config()
    if int(config.get("groups", 1) or 1) != 1:
        raise ValueError(f"layer {layer.name!r}: groups={config['groups']}; quantize() converts groups=1 only")

    def build(p: _Precision | None) -> Any:
        assert p is not None
        quantizer = dict(bits=p.bits, integer=p.integer, alpha=1)
        return _QCONV[type(layer)](
            activation=None,
            kernel_quantizer=quantized_bits(**quantizer),
            bias_quantizer=quantized_bits(**quantizer) if layer.use_bias else None,
            name=layer.name,
            trainable=layer.trainable,
            **{key: config[key] for key in _CONV_ARGS + _DENSE_ARGS},
        )

    return build


def _qrelu(name: str) -> Callable[[_Precision | None], Any]:
    def build(p: _Precision | None) -> Any:
        assert p is not None
        return QActivation(quantized_relu(p.bits, p.integer), name=name)

    return build


def _float_activation(function: str, name: str) -> Callable[[_Precision | None], Any]:
    return lambda _: k.layers.Activation(function, name=name)


def _copy(layer: Any) -> Callable[[_Precision | None], Any]:
    return lambda _: layer.__class__.from_config(layer.get_config())


def _unsupported(layer: Any) -> ValueError:
    return ValueError(
        f"layer {layer.name!r} has unsupported class {type(layer).__name__}; quantize() "
        f"supports {', '.join(SUPPORTED_CLASSES)}"
    )


def _plan_layer(layer: Any) -> list[_Step]:
    """The layer(s) of the copy that replace ``layer``."""
    cls = type(layer)
    if cls is k.layers.Dense or cls in _QCONV:
        builder = _qdense(layer) if cls is k.layers.Dense else _qconv(layer)
        steps = [_Step(layer.name, builder, source=layer, quantized="weights")]
        function = _activation_name(layer)
        if function == "relu":
            steps.append(_Step(f"{layer.name}_relu", _qrelu(f"{layer.name}_relu"), quantized="relu"))
        elif function != "linear":
            name = f"{layer.name}_{function}"
            steps.append(_Step(name, _float_activation(function, name)))
        return steps
    if cls is k.layers.Activation:
        if _activation_name(layer) == "relu":
            return [_Step(layer.name, _qrelu(layer.name), quantized="relu")]
        return [_Step(layer.name, _copy(layer), source=layer)]
    if cls in _COPIED:
        return [_Step(layer.name, _copy(layer), source=layer)]
    raise _unsupported(layer)


def _plan(layers: list[Any]) -> list[_Step]:
    steps = [step for layer in layers for step in _plan_layer(layer)]
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise ValueError(
                f"layer name {step.name!r} would appear twice in the quantized model (a Dense "
                "with a fused activation gets a '<name>_<activation>' layer); rename the layer"
            )
        seen.add(step.name)
    return steps


# --------------------------------------------------------------------------- config
def _resolve(steps: list[_Step], weight: _Precision, relu: _Precision, layer_config: Mapping | None) -> dict[str, _Precision]:
    """Precision of every quantized layer of the copy, with ``layer_config`` applied."""
    quantized = {step.name: step for step in steps if step.quantized}
    resolved = {name: weight if step.quantized == "weights" else relu for name, step in quantized.items()}
    if layer_config is None:
        return resolved
    if not isinstance(layer_config, Mapping):
        raise TypeError(f"layer_config must be a dict of layer name -> dict, got {type(layer_config).__name__}")
    all_names = [step.name for step in steps]
    for name, entry in layer_config.items():
        if name not in quantized:
            why = "has nothing to quantize" if name in all_names else "is not a layer of the quantized model"
            raise ValueError(
                f"layer_config: {name!r} {why}; configurable layers are {sorted(quantized)}"
            )
        if not isinstance(entry, Mapping):
            raise ValueError(f"layer_config[{name!r}] must be a dict with keys {LAYER_CONFIG_KEYS}, got {entry!r}")
        unknown = sorted(set(entry) - set(LAYER_CONFIG_KEYS))
        if unknown:
            raise ValueError(f"layer_config[{name!r}]: unknown key(s) {unknown}; allowed keys are {list(LAYER_CONFIG_KEYS)}")
        base = resolved[name]
        bits, integer = entry.get("bits", base.bits), entry.get("integer", base.integer)
        check = _weight_precision if quantized[name].quantized == "weights" else _relu_precision
        resolved[name] = check(bits, integer, f"layer_config[{name!r}] ")
    return resolved


# --------------------------------------------------------------------------- build
def _build(model: Any, steps: list[_Step], precisions: dict[str, _Precision]) -> Any:
    """Instantiate the copy, connect it like the source, and copy the weights."""
    new_layers = [step.build(precisions.get(step.name)) for step in steps]
    source_input = model.inputs[0]
    shape = tuple(source_input.shape[1:])
    if isinstance(model, k.Sequential):
        copy = k.Sequential([k.Input(shape=shape, dtype=source_input.dtype)] + new_layers, name=model.name)
    else:
        input_name = model.layers[0].name if isinstance(model.layers[0], k.layers.InputLayer) else None
        inputs = k.Input(shape=shape, dtype=source_input.dtype, name=input_name)
        x = inputs
        for layer in new_layers:
            x = layer(x)
        copy = k.Model(inputs, x, name=model.name)
    for step, layer in zip(steps, new_layers):
        if step.source is not None:
            layer.set_weights(step.source.get_weights())
    return copy


def quantize(
    model: Any,
    bits: int = 6,
    integer: int = 0,
    activation_bits: int | None = None,
    activation_integer: int = 0,
    layer_config: Mapping[str, Mapping[str, int]] | None = None,
) -> Any:
    """A QKeras copy of ``model`` (see the module docstring for the layer mapping).

    Args:
        model: a built Sequential or single-chain functional tf-keras model.
        bits, integer: ``quantized_bits`` of every ``QDense`` kernel and bias.
        activation_bits, activation_integer: ``quantized_relu`` of every relu
            (``activation_bits=None`` means ``bits``).
        layer_config: per-layer ``{'bits': ..., 'integer': ...}`` overrides, keyed by
            the name of the layer in the copy.

    Returns:
        A new, uncompiled model of the same kind (Sequential or functional) and name.

    Raises:
        ValueError: unsupported layer class or activation, a model that is not a single
            chain, bad bit widths, unknown ``layer_config`` names or keys.
    """
    weight = _weight_precision(bits, integer, "")
    relu = _relu_precision(bits if activation_bits is None else activation_bits, activation_integer, "activation_")
    steps = _plan(_chain_layers(model))
    precisions = _resolve(steps, weight, relu, layer_config)
    return _build(model, steps, precisions)
