"""Keras (tf-keras) model → :class:`~fpga_aware.core.ir.ModelIR`, built once.

Supported layers: InputLayer, Dense, QDense, Activation / ReLU / Softmax (linear, relu, sigmoid,
tanh, hard_sigmoid, softmax, leaky_relu), LeakyReLU, PReLU, ThresholdedReLU and ReLU(negative_slope |
threshold) (a ``parametric_relu`` layer), QActivation (quantized_relu, also with a power-of-two
negative_slope, quantized_bits), BatchNormalization (folded into
the preceding float Dense when nothing sits in between, else a scale/shift layer), Dropout and
Flatten and Reshape (no-ops), Conv1D/Conv2D/QConv1D/QConv2D (kind ``conv``: a dense product per
output pixel), Max/Average/GlobalMax/GlobalAverage pooling 1D/2D (``pooling``),
ZeroPadding/Cropping/UpSampling 1D/2D (``reorder``), channels-last only (see
docs/architecture.md), and any of these inside tensorflow-model-optimization's pruning wrapper (the
kernel is taken times its current mask).  Sequential and single-chain functional models only;
Sequential/functional sub-models nested in them are flattened into the chain (their layers keep
their names; a sub-model's own InputLayer is dropped).  A model needs no Dense layer: an
activation, a BatchNormalization, a softmax or a QActivation alone converts.  Anything else raises
:class:`UnsupportedLayerError` naming the layer and listing what is supported.

Multi-dimensional tensors: the IR is a chain of flat vectors, the Keras tensor flattened in
C order (row-major, as ``Flatten`` and ``numpy.reshape`` do), so ``Flatten`` is a true no-op
and outputs come in Keras' layout flattened (``predict(x).reshape(model.output_shape)``).  A
Dense on the last axis of a ``(..., n_in)`` tensor is one dense layer whose kernel is block
diagonal (the Keras kernel once per leading index, :func:`~.handlers.block_diagonal`): only
nonzero weights are stored, so the copies cost exactly what the hardware builds.  A
BatchNormalization acts per channel of the last axis (its scale and shift repeated per leading
index); element-wise activations do not care; a softmax over the last axis of a
multi-dimensional tensor is refused.

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
* activations: quantizer type for QActivation, ``precision`` otherwise (linear keeps its input);
* parametric ReLUs: the slopes (``precision['weight']``) in the narrowest type holding every
  float32 slope exactly, unless configured; the threshold compared exactly on the input's mantissa.

Where each part lives: the model walk, :func:`build_ir`, :func:`parse` and :func:`float_view`
here; one handler per Keras class in :mod:`.handlers` (:data:`~.handlers.KERAS_HANDLERS`); the
float items between Keras and the IR in :mod:`.pending`; batch-norm folding in :mod:`.folding`;
one IR builder per IR layer kind in :mod:`.builders` (:data:`~.builders.IR_BUILDERS`); the
``layer_config`` check in :mod:`.layer_config`; overflow checks in :mod:`.overflow`; C++ names in
:mod:`.identifiers`; the errors in :mod:`.errors`; the float view in :mod:`.floatview`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


from fpga_aware._stack import keras
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import PrecisionError
from fpga_aware.core.ir import Layer, ModelIR
from fpga_aware.core.zeros import drop_always_zero_inputs
from fpga_aware.frontend.builders import IR_BUILDERS, BuildContext
from fpga_aware.frontend.errors import (
    InvalidModelError,
    LayerPrecisionError,
    UnsupportedLayerError,
    WeightOverflowError,
)
from fpga_aware.frontend.floatview import FloatLayer, FloatView, float_view_of
from fpga_aware.frontend.folding import fold_batch_norms
from fpga_aware.frontend.handlers import NO_OPS, SUPPORTED_LAYERS, handler_for, unwrap_pruning
from fpga_aware.frontend.identifiers import MAX_CNAME, safe_identifiers
from fpga_aware.frontend.layer_config import check_layer_config
from fpga_aware.frontend.overflow import check_overflow
from fpga_aware.frontend.pending import PendingInput

__all__ = [
    "UnsupportedLayerError",
    "InvalidModelError",
    "LayerPrecisionError",
    "WeightOverflowError",
    "build_ir",
    "parse",
    "float_view",
    "Parse",
    "FloatView",
    "FloatLayer",
    "SUPPORTED_LAYERS",
    "MAX_CNAME",
    "safe_identifiers",
    "check_overflow",
]


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
            for node in _own_nodes(layer, model):
                inbound.extend(node.inbound_layers if isinstance(node.inbound_layers, list) else [node.inbound_layers])
            if previous is not None and (len(_own_nodes(layer, model)) != 1 or inbound != [previous]):
                raise InvalidModelError(
                    f"layer {layer.name!r} does not take its only input from {previous.name!r}; "
                    "only single-chain models (Sequential or a straight functional chain) are supported"
                )
            previous = layer
    return _flattened(layers, k)


def _own_nodes(layer, model) -> list:
    """The nodes of ``layer`` that belong to ``model``'s graph (a sub-model used inside another
    model has a node there too, which is the outer model's business)."""
    own = getattr(model, "_network_nodes", None)
    if own is None:
        return list(layer._inbound_nodes)
    return [node for i, node in enumerate(layer._inbound_nodes) if f"{layer.name}_ib-{i}" in own]


def _flattened(layers: list, k) -> list:
    """Nested Sequential/functional sub-models replaced by their own layers, in order.

    A sub-model's ``InputLayer`` changes no value and is dropped (the outer model's input
    is the model input); the sub-model must itself be a single chain (checked recursively).
    """
    out: list = []
    for layer in layers:
        if isinstance(layer, k.Model):
            inner = _layer_chain(layer)
            out.extend(item for item in inner if type(item).__name__ != "InputLayer")
        else:
            out.append(layer)
    return out


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


@dataclass
class _Walk:
    """The model walked: its Keras layers and the pending chain (the input first, BNs folded)."""

    layers: list
    chain: list
    folded: dict[str, str]  # batch norm -> the dense it is folded into
    no_ops: dict[str, str]  # Keras layer name -> class, for the layers that become no IR layer


def _walk(model) -> _Walk:
    layers = _layer_chain(model)
    shape = _input_shape(model)
    first = layers[0]
    if type(first).__name__ == "InputLayer":
        inp = PendingInput(first.name, shape, keras_layer=first.name, keras_class="InputLayer")
    else:
        inp = PendingInput(f"{model.name}_input", shape)
    pending: list = []
    for outer in layers:
        inner, kernel_mask = unwrap_pruning(outer)
        for item in handler_for(inner)(inner, kernel_mask):
            item.keras_layer = outer.name
            item.pruned = inner is not outer
            pending.append(item)
    pending, folded = fold_batch_norms(pending)
    no_ops = {layer.name: type(layer).__name__ for layer in layers if type(layer).__name__ in NO_OPS}
    return _Walk(layers, [inp, *pending], folded, no_ops)


def _build(config: FirmwareConfig, chain: list) -> ModelIR:
    names = [item.name for item in chain]
    ctx = BuildContext(config=config, cnames=dict(zip(names, safe_identifiers(names))), chain=chain)
    for item in chain:
        x_type = ctx.layers[-1].result_type if ctx.layers else None
        try:
            layer: Layer = IR_BUILDERS[item.kind].build(item, x_type, ctx)
        except LayerPrecisionError:
            raise
        except PrecisionError as err:  # anything else about types: name the layer
            raise LayerPrecisionError(f"layer {item.name!r}: {err}") from None
        ctx.layers.append(layer)
        ctx.width = layer.n_out
    ir = ModelIR(project_name=config.project_name, layers=ctx.layers)
    drop_always_zero_inputs(ir)  # e.g. the weights downstream of a pruned filter's channel
    return ir


# ---------------------------------------------------------------------------- public entry points
@dataclass(frozen=True, eq=False)
class Parse:
    """A parse: the IR and its :class:`FloatView` (the same layers, in float, with their Keras source)."""

    ir: ModelIR
    float_view: FloatView


def _checked_walk(model: Any, config: FirmwareConfig) -> _Walk:
    """The walk of ``model``, checked as a whole and against ``config`` (before any IR layer is built)."""
    walk = _walk(model)
    chain = walk.chain
    names = [item.name for item in chain]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise InvalidModelError(f"layer names must be unique, repeated: {sorted(duplicates)}")
    check_layer_config(config, chain, walk.folded, walk.no_ops, names)
    return walk


def parse(model: Any, config: FirmwareConfig) -> Parse:
    """The IR of ``model`` under ``config`` and its float view (raises on anything unsupported)."""
    walk = _checked_walk(model, config)
    ir = _build(config, walk.chain)
    return Parse(ir=ir, float_view=float_view_of(model.name, walk.chain, walk.folded, walk.no_ops))


def build_ir(model: Any, config: FirmwareConfig) -> ModelIR:
    """Build the IR of ``model`` under ``config`` (raises on anything unsupported)."""
    return _build(config, _checked_walk(model, config).chain)


def float_view(model: Any) -> FloatView:
    """The float view of ``model``'s parse: per IR layer, its Keras layer and float numbers.

    Needs no configuration (the float numbers do not depend on the types); raises what the parse
    raises for a layer it cannot convert.  The layer names are those :func:`build_ir` gives.
    """
    walk = _walk(model)
    return float_view_of(model.name, walk.chain, walk.folded, walk.no_ops)
