"""One IR builder per IR layer kind: a pending item → the typed IR layer.

Each entry of :data:`IR_BUILDERS` (keyed by the IR kind, :attr:`Layer.kind
<fpga_aware.core.ir.Layer.kind>`: ``input``, ``dense``, ``activation``, ``softmax``,
``scale_shift``, ``step``, ``parametric_relu``) has two functions:

* ``accepted(item, chain) -> Accepted``: the ``layer_config`` options and precision keys that
  apply to such a layer (checked by :mod:`.layer_config` before anything is built);
* ``build(item, x_type, ctx) -> Layer``: the IR layer, its types chosen from the layer's
  ``layer_config``, the pending item's quantizer types and the model ``precision``; ``x_type``
  is the previous layer's result type (``None`` for the input), ``ctx`` a :class:`BuildContext`.

Adding an IR kind is one ``@IR_BUILDERS.register("kind")`` class here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from fpga_aware.core.activations import TABLE_FUNCTIONS, activation
from fpga_aware.core.config import ConfigError, FirmwareConfig, LayerConfig
from fpga_aware.core.fixed import FixedType, PrecisionError, exact_accumulator, exact_type_for_values
from fpga_aware.core.ir import (
    ActivationLayer,
    ConvLayer,
    PoolingLayer,
    ReorderLayer,
    DenseLayer,
    InputLayer,
    Layer,
    ParametricReLULayer,
    ScaleShiftLayer,
    SoftmaxLayer,
    StepLayer,
)
from fpga_aware.core.registry import Registry
from fpga_aware.core.tables import linear_tail, softmax_tables
from fpga_aware.frontend.errors import InvalidModelError, LayerPrecisionError
from fpga_aware.frontend.overflow import checked_table, quantize_checked
from fpga_aware.core.windows import patch_indices, window_geometry, window_positions
from fpga_aware.frontend.pending import (
    PendingActivation,
    PendingConv,
    PendingPooling,
    PendingReorder,
    PendingDense,
    PendingInput,
    PendingParametricReLU,
    PendingScaleShift,
    PendingStep,
)
from fpga_aware.frontend.quantizers import staircase

__all__ = ["IR_BUILDERS", "Accepted", "BuildContext", "OPTION_ORDER"]

#: IR layer kind → its builder (a class with static ``accepted`` and ``build``).
IR_BUILDERS: Registry[type] = Registry("frontend IR builder")

#: The ``layer_config`` options, in the order messages list them.
OPTION_ORDER = ("precision", "reuse_factor", "strategy", "table_size")


@dataclass(frozen=True)
class Accepted:
    """What ``layer_config`` may say about one layer."""

    options: frozenset[str]  #: option names (``precision``, ``reuse_factor``, ...)
    precision_keys: frozenset[str]  #: keys of its ``precision`` (``weight``, ``result``, ...)
    description: str  #: what the layer is, for messages ("Dense layer", "the model input")
    owner: str | None = None  #: a fused activation: the layer that takes reuse_factor/strategy


@dataclass
class BuildContext:
    """What a builder reads besides its item: the config, the C++ names, the chain so far."""

    config: FirmwareConfig
    cnames: dict[str, str]  #: layer name → C++ identifier
    chain: list  #: every pending item, the input first
    width: int = 0  #: how many values the layer being built receives
    layers: list[Layer] = field(default_factory=list)  #: the IR layers built so far

    def layer_config(self, name: str) -> LayerConfig:
        return self.config.layer(name)


def _accumulator(item_name: str, compute):
    try:
        return compute()
    except PrecisionError as err:
        raise LayerPrecisionError(f"layer {item_name!r}: accumulator: {err}") from None


# ---------------------------------------------------------------------------- input
@IR_BUILDERS.register("input")
class InputBuilder:
    @staticmethod
    def accepted(item: PendingInput, chain: list) -> Accepted:
        return Accepted(frozenset({"precision"}), frozenset({"result"}), "the model input")

    @staticmethod
    def build(item: PendingInput, x_type: FixedType | None, ctx: BuildContext) -> InputLayer:
        """The input type: configured, else the type of a leading quantizer, else ``precision``.

        When the first layer is a QActivation quantizer (``quantized_bits``/``quantized_relu``),
        the input *is* that quantizer's type, rounding and saturation included: the float input is
        then rounded once, as QKeras does, instead of being truncated to ``precision`` first and
        rounded again by the quantizer.
        """
        n_inputs = int(np.prod(item.shape))
        in_type = ctx.layer_config(item.name).precision.result
        if in_type is None:
            first = ctx.chain[1] if len(ctx.chain) > 1 else None  # the chain starts with the input
            if isinstance(first, PendingActivation) and first.result_type is not None and first.owner is None:
                in_type = first.result_type
            else:
                in_type = ctx.config.precision
        return InputLayer(name=item.name, cname=ctx.cnames[item.name], n_in=n_inputs, n_out=n_inputs,
                          input_type=in_type, result_type=in_type, shape=item.shape)


# ---------------------------------------------------------------------------- dense
@IR_BUILDERS.register("dense")
class DenseBuilder:
    @staticmethod
    def accepted(item: PendingDense, chain: list) -> Accepted:
        options = {"precision", "reuse_factor", "strategy"}
        for other in chain:
            if isinstance(other, PendingActivation) and other.owner == item.name:
                # the activation the Dense applies itself is configured through the Dense
                options |= IR_BUILDERS[other.kind].accepted(other, chain).options & {"table_size"}
        return Accepted(frozenset(options), frozenset({"weight", "bias", "result", "accum"}),
                        f"{item.keras_class} layer")

    @staticmethod
    def build(item: PendingDense, x_type: FixedType, ctx: BuildContext) -> DenseLayer:
        config = ctx.config
        cfg = ctx.layer_config(item.name)
        weight_type = cfg.precision.weight or item.weight_type or config.precision
        bias_type = cfg.precision.bias or item.bias_type or config.precision
        explicit = cfg.precision.explicit_overflow
        folded = f" (with BatchNormalization {item.folded!r} folded in)" if item.folded else ""
        weights = quantize_checked(item.kernel, weight_type, f"layer {item.name!r} weights", layer=item.name,
                                   what=f"weight{folded}", key="weight", allow_overflow="weight" in explicit)
        bias = quantize_checked(item.bias, bias_type, f"layer {item.name!r} bias", layer=item.name,
                                what=f"bias{folded}", key="bias", allow_overflow="bias" in explicit)
        n_in, n_out = weights.shape
        if n_in != ctx.width:
            raise InvalidModelError(f"layer {item.name!r} expects {n_in} inputs but receives {ctx.width}")
        accum = cfg.precision.accum or _accumulator(
            item.name, lambda: exact_accumulator(weights, weight_type.frac, bias, bias_type.frac, x_type))
        if item.fused_activation:
            # The Keras layer's output is after its activation: the configured result type
            # applies there; the pre-activation sum stays exact in the accumulator.
            result = accum
        else:
            result = cfg.precision.result or (accum if item.quantized else config.precision)
        reuse = cfg.reuse_factor or config.reuse_factor
        if reuse > n_in * n_out:
            raise ConfigError(
                f"layer {item.name!r}: reuse_factor {reuse} is invalid; valid reuse factors for this "
                f"{n_in}x{n_out} layer are the integers 1 to {n_in * n_out}"
            )
        layer = DenseLayer(
            name=item.name, cname=ctx.cnames[item.name], n_in=n_in, n_out=n_out,
            input_type=x_type, result_type=result, weight_type=weight_type, bias_type=bias_type,
            accum_type=accum, weights=weights, bias=bias, reuse_factor=reuse,
            strategy=cfg.strategy or config.strategy, keras_class=item.keras_class,
        )
        if layer.distributed_arithmetic:  # refused here, by name, not when the C++ is written
            from fpga_aware.core.adder_graph import AdderGraphError, check_da_strategy

            try:
                check_da_strategy(layer)
            except AdderGraphError as exc:
                raise ConfigError(str(exc)) from None
        return layer


# ---------------------------------------------------------------------------- activations
def _activation_accepted(item: PendingActivation, tabulated: bool) -> Accepted:
    options = {"precision"} | ({"table_size"} if tabulated else set())
    if item.owner:
        return Accepted(frozenset(options), frozenset({"result"}),
                        f"the {item.function} activation of {item.owner!r}", owner=item.owner)
    return Accepted(frozenset(options), frozenset({"result"}), f"{item.function} activation")


def _owner_config(item: PendingActivation, ctx: BuildContext) -> LayerConfig:
    """The config of the Dense whose own activation this is (it applies to the activation too)."""
    return ctx.layer_config(item.owner) if item.owner else LayerConfig()


@IR_BUILDERS.register("activation")
class ActivationBuilder:
    @staticmethod
    def accepted(item: PendingActivation, chain: list) -> Accepted:
        return _activation_accepted(item, tabulated=item.function in TABLE_FUNCTIONS)

    @staticmethod
    def build(item: PendingActivation, x_type: FixedType, ctx: BuildContext) -> ActivationLayer:
        config = ctx.config
        cfg = ctx.layer_config(item.name)
        owner = _owner_config(item, ctx)
        n = ctx.width
        size = cfg.table_size or owner.table_size or config.table_size
        configured = cfg.precision.result or owner.precision.result
        default = x_type if item.function == "linear" else config.precision
        result = configured or item.result_type or default
        table = linear = None
        params = activation(item.function).params(item.parameters)
        if item.function in TABLE_FUNCTIONS:
            source = cfg if cfg.precision.result else owner
            saturate = "result" in source.precision.explicit_overflow
            table = checked_table(item.function, x_type, result, size, saturate, item.name,
                                  item.owner if source is owner and owner.precision.result else item.name, params)
            linear = linear_tail(item.function, x_type, result, params)
        return ActivationLayer(name=item.name, cname=ctx.cnames[item.name], n_in=n, n_out=n, input_type=x_type,
                               result_type=result, function=item.function, table=table, linear=linear,
                               parameters=params, keras_class=item.keras_class)


@IR_BUILDERS.register("softmax")
class SoftmaxBuilder:
    @staticmethod
    def accepted(item: PendingActivation, chain: list) -> Accepted:
        return _activation_accepted(item, tabulated=True)

    @staticmethod
    def build(item: PendingActivation, x_type: FixedType, ctx: BuildContext) -> SoftmaxLayer:
        config = ctx.config
        cfg = ctx.layer_config(item.name)
        owner = _owner_config(item, ctx)
        n = ctx.width
        size = cfg.table_size or owner.table_size or config.table_size
        result = cfg.precision.result or owner.precision.result or config.precision
        diff_type, exp_table, sum_type, inv_table = softmax_tables(x_type, n, size)
        return SoftmaxLayer(name=item.name, cname=ctx.cnames[item.name], n_in=n, n_out=n, input_type=x_type,
                            result_type=result, diff_type=diff_type, exp_table=exp_table, sum_type=sum_type,
                            inv_table=inv_table, keras_class=item.keras_class)


# ---------------------------------------------------------------------------- scale/shift
def _scale_shift_accumulator(scale, scale_type, shift, shift_type, x_type) -> FixedType:
    # Per channel: x * scale + shift; reuse the dense bound with a diagonal "kernel" (int64, or
    # Python ints for mantissas wider than 62 bits).
    diag = np.diag(scale) if scale.size else np.zeros((0, 0), dtype=scale.dtype)
    return exact_accumulator(diag, scale_type.frac, shift, shift_type.frac, x_type)


@IR_BUILDERS.register("scale_shift")
class ScaleShiftBuilder:
    @staticmethod
    def accepted(item: PendingScaleShift, chain: list) -> Accepted:
        return Accepted(frozenset({"precision"}), frozenset({"weight", "bias", "result", "accum"}),
                        "BatchNormalization (scale = weight, shift = bias)")

    @staticmethod
    def build(item: PendingScaleShift, x_type: FixedType, ctx: BuildContext) -> ScaleShiftLayer:
        config = ctx.config
        cfg = ctx.layer_config(item.name)
        n = ctx.width
        if item.scale.shape[0] != n:
            raise InvalidModelError(f"layer {item.name!r} normalises {item.scale.shape[0]} channels but receives {n}")
        scale_type = cfg.precision.weight or config.precision
        shift_type = cfg.precision.bias or config.precision
        explicit = cfg.precision.explicit_overflow
        scale = quantize_checked(item.scale, scale_type, f"layer {item.name!r} scale", layer=item.name,
                                 what="scale (gamma / sqrt(variance + epsilon))", key="weight",
                                 allow_overflow="weight" in explicit)
        shift = quantize_checked(item.shift, shift_type, f"layer {item.name!r} shift", layer=item.name,
                                 what="shift (beta - mean * scale)", key="bias", allow_overflow="bias" in explicit)
        accum = cfg.precision.accum or _accumulator(
            item.name, lambda: _scale_shift_accumulator(scale, scale_type, shift, shift_type, x_type))
        return ScaleShiftLayer(
            name=item.name, cname=ctx.cnames[item.name], n_in=n, n_out=n, input_type=x_type,
            result_type=cfg.precision.result or config.precision, scale_type=scale_type,
            shift_type=shift_type, accum_type=accum, scale=scale, shift=shift,
        )


# ---------------------------------------------------------------------------- step (QKeras step quantizers)
@IR_BUILDERS.register("step")
class StepBuilder:
    @staticmethod
    def accepted(item: PendingStep, chain: list) -> Accepted:
        return _activation_accepted(item, tabulated=False)

    @staticmethod
    def build(item: PendingStep, x_type: FixedType, ctx: BuildContext) -> StepLayer:
        """Thresholds on the input type (QKeras' own evaluation, :func:`.quantizers.staircase`);
        levels in the configured result type, else the narrowest type holding them exactly."""
        cfg = ctx.layer_config(item.name)
        owner = _owner_config(item, ctx)
        where = f"layer {item.name!r}"
        thresholds, levels = staircase(item.quantizer, x_type, where)
        if not thresholds:  # a constant on this input type: one threshold every input passes
            thresholds, levels = [int(x_type.min_mantissa)], np.array([levels[0], levels[0]])
        source = cfg if cfg.precision.result else owner
        result = source.precision.result or exact_type_for_values(levels)
        level_mantissas = quantize_checked(levels, result, f"{where} levels", layer=item.name,
                                           what="quantizer output level", key="result",
                                           allow_overflow="result" in source.precision.explicit_overflow)
        dtype = np.int64 if x_type.uses_int64 else object
        n = ctx.width
        return StepLayer(name=item.name, cname=ctx.cnames[item.name], n_in=n, n_out=n, input_type=x_type,
                         result_type=result, thresholds=np.array(thresholds, dtype=dtype), levels=level_mantissas,
                         function=item.function, keras_class=item.keras_class)


# ---------------------------------------------------------------------------- parametric ReLU
def _threshold_mantissa(theta: float, x_type: FixedType) -> int:
    """``floor(theta * 2**frac)`` (exact), clamped to ``[min_mantissa - 1, max_mantissa]`` of ``x_type``:
    a mantissa ``m`` of ``x_type`` is ``> theta`` exactly when it is ``> `` this integer."""
    t = math.floor(Fraction(theta) * Fraction(2) ** x_type.frac)
    return int(min(max(t, x_type.min_mantissa - 1), x_type.max_mantissa))


@IR_BUILDERS.register("parametric_relu")
class ParametricReLUBuilder:
    """Types: ``result`` configured (the layer's, else the owning Dense's), else the QKeras
    quantizer's, else the model ``precision``; the slope type (``precision['weight']``) configured,
    else the QKeras quantizer's, else the narrowest type holding every slope *exactly* (Keras'
    float32 slopes always have one).  A configured slope type rounds the slopes with its rounding
    mode and raises when one overflows it (unless it names its overflow mode)."""

    @staticmethod
    def accepted(item: PendingParametricReLU, chain: list) -> Accepted:
        keys = frozenset({"weight", "result"})
        if item.owner:
            return Accepted(frozenset({"precision"}), keys, f"the {item.function} activation of {item.owner!r} "
                            "(weight = the slope alpha)", owner=item.owner)
        return Accepted(frozenset({"precision"}), keys, f"{item.keras_class} layer (weight = the slope alpha)")

    @staticmethod
    def build(item: PendingParametricReLU, x_type: FixedType, ctx: BuildContext) -> ParametricReLULayer:
        config = ctx.config
        cfg = ctx.layer_config(item.name)
        owner = _owner_config(item, ctx)
        n = ctx.width
        alpha = np.asarray(item.alpha, dtype=np.float64).ravel()
        if alpha.size == 1:
            alpha = np.repeat(alpha, n)
        if alpha.size != n:
            raise InvalidModelError(f"layer {item.name!r} has {alpha.size} slopes (alpha) but receives {n} values")
        result = cfg.precision.result or owner.precision.result or item.result_type or config.precision
        alpha_type = cfg.precision.weight
        if alpha_type is not None:
            mantissas = quantize_checked(alpha, alpha_type, f"layer {item.name!r} alpha", layer=item.name,
                                         what="slope (alpha)", key="weight",
                                         allow_overflow="weight" in cfg.precision.explicit_overflow)
        else:
            alpha_type = item.alpha_type
            if alpha_type is None:
                try:
                    alpha_type = exact_type_for_values(alpha)
                except PrecisionError as err:
                    raise LayerPrecisionError(
                        f"layer {item.name!r}: its slopes (alpha) have no exact fixed-point type ({err}); name "
                        f"one with layer_config={{{item.name!r}: {{'precision': {{'weight': 'ap_fixed<W,I>'}}}}}}"
                    ) from None
            mantissas = alpha_type.from_float(alpha)
            if not np.array_equal(alpha_type.to_float(mantissas), alpha):  # pragma: no cover - exact by construction
                raise LayerPrecisionError(f"layer {item.name!r}: slopes (alpha) not exact in {alpha_type.cpp()}")
        return ParametricReLULayer(
            name=item.name, cname=ctx.cnames[item.name], n_in=n, n_out=n, input_type=x_type, result_type=result,
            alpha_type=alpha_type, alpha=mantissas, threshold=_threshold_mantissa(item.threshold, x_type),
            negative_type=item.negative_type, keras_class=item.keras_class,
        )


# ---------------------------------------------------------------------------- convolution
@IR_BUILDERS.register("conv")
class ConvBuilder:
    """The per-pixel product is built exactly as a Dense of ``n_taps * C_in -> C_out`` (the same
    options, types and checks, :class:`DenseBuilder`); the window from Keras' shapes."""

    @staticmethod
    def accepted(item: PendingConv, chain: list) -> Accepted:
        dense = DenseBuilder.accepted(item, chain)
        return Accepted(dense.options, dense.precision_keys,
                        f"{item.keras_class} layer (its kernel is a dense product per output pixel)")

    @staticmethod
    def build(item: PendingConv, x_type: FixedType, ctx: BuildContext) -> ConvLayer:
        n_in = int(np.prod(item.in_shape))
        if n_in != ctx.width:
            raise InvalidModelError(f"layer {item.name!r} expects {n_in} inputs {item.in_shape} but receives {ctx.width}")
        geometry = window_geometry(item.in_shape[:-1], item.kernel_size, item.strides, item.dilation, item.padding)
        patch = patch_indices(geometry, item.in_shape[-1])
        width = ctx.width
        ctx.width = patch.shape[1]
        try:
            product = DenseBuilder.build(item, x_type, ctx)
        finally:
            ctx.width = width
        n_out = geometry.n_pixels * product.n_out
        return ConvLayer(
            name=item.name, cname=product.cname, n_in=n_in, n_out=n_out, input_type=x_type,
            result_type=product.result_type, product=product, in_shape=tuple(item.in_shape),
            out_shape=tuple(item.out_shape), kernel_size=tuple(item.kernel_size), strides=tuple(item.strides),
            dilation=tuple(item.dilation), padding=item.padding, patch=patch, keras_class=item.keras_class,
        )


# ---------------------------------------------------------------------------- pooling
@IR_BUILDERS.register("pooling")
class PoolingBuilder:
    """Result type: configured, else the input type (max pooling is then exact, average pooling
    truncates its quotient to the input's LSB); the sum of average pooling is exact."""

    @staticmethod
    def accepted(item: PendingPooling, chain: list) -> Accepted:
        return Accepted(frozenset({"precision"}), frozenset({"result"}), f"{item.keras_class} layer")

    @staticmethod
    def build(item: PendingPooling, x_type: FixedType, ctx: BuildContext) -> PoolingLayer:
        n_in = int(np.prod(item.in_shape))
        if n_in != ctx.width:
            raise InvalidModelError(f"layer {item.name!r} expects {n_in} inputs {item.in_shape} but receives {ctx.width}")
        rank = len(item.in_shape) - 1
        geometry = window_geometry(item.in_shape[:-1], item.pool_size, item.strides, (1,) * rank, item.padding)
        windows = window_positions(geometry)
        counts = np.count_nonzero(windows >= 0, axis=1).astype(np.int64)
        channels = int(item.in_shape[-1])
        result = ctx.layer_config(item.name).precision.result or x_type
        sum_type = None
        if item.operation == "average":
            grow = int(max(counts.max(initial=1), 1) - 1).bit_length()
            sum_type = FixedType(x_type.width + grow, x_type.integer + grow, x_type.signed)
        return PoolingLayer(
            name=item.name, cname=ctx.cnames[item.name], n_in=n_in, n_out=geometry.n_pixels * channels,
            input_type=x_type, result_type=result, operation=item.operation, in_shape=tuple(item.in_shape),
            out_shape=tuple(item.out_shape), pool_size=tuple(item.pool_size), strides=tuple(item.strides),
            padding=item.padding, channels=channels, windows=windows, counts=counts, sum_type=sum_type,
            keras_class=item.keras_class,
        )


# ---------------------------------------------------------------------------- reorder
@IR_BUILDERS.register("reorder")
class ReorderBuilder:
    """No numbers and no options: the result type is the input type (values are only moved)."""

    @staticmethod
    def accepted(item: PendingReorder, chain: list) -> Accepted:
        return Accepted(frozenset(), frozenset(), f"{item.keras_class} layer (a reorder: no types or options)")

    @staticmethod
    def build(item: PendingReorder, x_type: FixedType, ctx: BuildContext) -> ReorderLayer:
        n_in = int(np.prod(item.in_shape))
        if n_in != ctx.width:
            raise InvalidModelError(f"layer {item.name!r} expects {n_in} inputs {item.in_shape} but receives {ctx.width}")
        return ReorderLayer(name=item.name, cname=ctx.cnames[item.name], n_in=n_in, n_out=int(item.source.size),
                            input_type=x_type, result_type=x_type, source=np.asarray(item.source, dtype=np.int64),
                            in_shape=tuple(item.in_shape), out_shape=tuple(item.out_shape),
                            keras_class=item.keras_class)
