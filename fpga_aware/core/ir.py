"""The one intermediate representation of a model.

It is built once from Keras by :mod:`fpga_aware.frontend.keras` and then read, never rebuilt, by
the cost model, the bit-exact emulator and the HLS writer.  Every number in it is a
fixed-point *mantissa* (``int64``; an object array of Python ints for types wider than 62 bits) of a :class:`~fpga_aware.core.fixed.FixedType`, so the three
readers cannot disagree on what a weight is.

Layers form a single chain: each layer's ``input_type`` is the previous layer's
``result_type``.

Arithmetic of a :class:`DenseLayer` (what the firmware computes, and the emulator):

.. code-block:: text

    acc = accum_t(bias[o])
    for each nonzero weight w[i, o], in row order of ``i`` for each ``o``:
        acc += accum_t(x[i] * w[i, o])       # product exact, then assigned to accum_t
    y[o] = result_t(acc)

Zero weights are not stored and not multiplied.  When every nonzero weight of a layer is
``±2**k`` the product is a shift (:attr:`DenseLayer.uses_shifts`).

That is the order of the Latency strategy at ``reuse_factor == 1``.  With shared multipliers
(``reuse_factor > 1`` or the Resource strategy) the terms are scheduled on lanes and
accumulate per (lane, output segment) before a static adder tree: the layer's
:attr:`DenseLayer.schedule` (:mod:`fpga_aware.core.schedule`) defines that order, and every
stage reads it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from fpga_aware.core.activations import KERAS_ACTIVATIONS
from fpga_aware.core.fixed import FixedType, exact_accumulator
from fpga_aware.core.schedule import DenseSchedule, build_schedule
from fpga_aware.core.windows import WindowGeometry, window_geometry

__all__ = [
    "Strategy",
    "IOType",
    "Layer",
    "InputLayer",
    "DenseLayer",
    "ActivationLayer",
    "LookupTable",
    "LinearTail",
    "SoftmaxLayer",
    "ScaleShiftLayer",
    "StepLayer",
    "ParametricReLULayer",
    "ConvLayer",
    "PoolingLayer",
    "ReorderLayer",
    "ModelIR",
    "LAYER_CLASSES",
    "LAYER_KINDS",
    "SUPPORTED_ACTIVATIONS",
]


class Strategy(str, enum.Enum):
    """How a dense layer is built: fully parallel (II = R = 1 normally), with BRAM weights, or
    fully parallel without multipliers (da4ml's shift-and-add graph, :attr:`DenseLayer.adder_graph`:
    reuse factor 1 and a lossless accumulator only; :mod:`fpga_aware.core.adder_graph`)."""

    LATENCY = "latency"
    RESOURCE = "resource"
    DISTRIBUTED_ARITHMETIC = "distributed_arithmetic"


class IOType(str, enum.Enum):
    PARALLEL = "io_parallel"
    STREAM = "io_stream"


#: Activation functions the firmware implements (softmax has its own layer class).
SUPPORTED_ACTIVATIONS = KERAS_ACTIVATIONS  # the one list: fpga_aware.core.activations


@dataclass
class Layer:
    """Common fields of every layer of the chain."""

    name: str  #: the Keras layer name, for messages and configs
    cname: str  #: a safe, unique C++ identifier derived from ``name``
    n_in: int
    n_out: int
    input_type: FixedType
    result_type: FixedType

    kind: ClassVar[str] = "layer"

    @property
    def ii(self) -> int:
        """Initiation interval the layer imposes (1: a new input every cycle)."""
        return 1


@dataclass
class InputLayer(Layer):
    """The model input: ``n_out`` values converted from ``double`` to ``result_type``."""

    shape: tuple[int, ...] = ()  #: the Keras input shape without the batch dimension

    kind: ClassVar[str] = "input"


@dataclass
class DenseLayer(Layer):
    """A fully connected layer; weights ``(n_in, n_out)`` and bias ``(n_out,)`` as mantissas."""

    weight_type: FixedType = None  # type: ignore[assignment]
    bias_type: FixedType = None  # type: ignore[assignment]
    accum_type: FixedType = None  # type: ignore[assignment]
    weights: np.ndarray = None  # type: ignore[assignment]
    bias: np.ndarray = None  # type: ignore[assignment]
    reuse_factor: int = 1
    strategy: Strategy = Strategy.LATENCY
    keras_class: str = "Dense"

    kind: ClassVar[str] = "dense"

    # ---------------------------------------------------------------- sparsity
    @property
    def n_weights(self) -> int:
        return self.n_in * self.n_out

    @property
    def nonzero_weights(self) -> int:
        return int(np.count_nonzero(self.weights))

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero_weights / self.n_weights if self.n_weights else 0.0

    def terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored weights in accumulation order: ``(out_index, in_index, mantissa)``.

        Sorted by output neuron, then input index; only nonzero weights.
        """
        outs, ins = np.nonzero(self.weights.T)
        return outs.astype(np.int64), ins.astype(np.int64), self.weights[ins, outs]

    @property
    def is_power_of_two(self) -> np.ndarray:
        """Boolean mask over ``weights``: nonzero entries whose magnitude is a power of two."""
        mag = np.abs(self.weights)
        return (mag != 0) & ((mag & (mag - 1)) == 0)

    @property
    def uses_shifts(self) -> bool:
        """All nonzero weights are ±2**k: products are shifts, no multiplier at all."""
        nz = self.weights != 0
        return bool(nz.any()) and bool(np.all(self.is_power_of_two[nz]))

    @property
    def n_mult(self) -> int:
        """Multiplications left after zeros and power-of-two weights are removed."""
        return int(np.count_nonzero(self.weights) - np.count_nonzero(self.is_power_of_two))

    @property
    def multipliers_per_cycle(self) -> int:
        """Multiplier lanes of the schedule: ``ceil(nonzero / R)``."""
        return self.schedule.n_lanes

    @property
    def fully_parallel(self) -> bool:
        """Latency strategy at reuse factor 1: every product a constant, summed in term order
        (or the distributed-arithmetic strategy, which is fully parallel too: its lossless
        accumulator makes any order exact)."""
        return (Strategy(self.strategy) in (Strategy.LATENCY, Strategy.DISTRIBUTED_ARITHMETIC)
                and int(self.reuse_factor) == 1)

    @property
    def distributed_arithmetic(self) -> bool:
        """Built as da4ml's multiplier-free adder graph (``strategy='distributed_arithmetic'``)."""
        return Strategy(self.strategy) == Strategy.DISTRIBUTED_ARITHMETIC

    @property
    def adder_graph(self) -> dict:
        """da4ml's shift-and-add graph of ``x . W``, its nodes cut to the accumulator's bits
        (:func:`fpga_aware.core.adder_graph.layer_adder_graph`): read by the HLS writer of
        ``strategy='distributed_arithmetic'``, the Verilog writer's ``multiplier='da'`` and the
        cost model.  Computed once and cached like :attr:`schedule` (a new ``weights`` array or
        new types give a new one); do not change it (copy it: ``adder_graph.copied``).  Raises
        ``AdderGraphError`` / ``ImportError`` where the graph cannot be built
        (:func:`~fpga_aware.core.adder_graph.check_da_layer` says why first)."""
        from fpga_aware.core.adder_graph import layer_adder_graph

        key = (id(self.weights), self.input_type, self.weight_type, self.accum_type, self.bias_type, self.n_in, self.n_out)
        cached = self.__dict__.get("_adder_graph")
        if cached is None or cached[0] != key:
            self.__dict__["_adder_graph"] = cached = (key, layer_adder_graph(self), self.weights)
        return cached[1]

    @property
    def schedule(self) -> DenseSchedule:
        """The layer's static multiplier schedule (:mod:`fpga_aware.core.schedule`).

        Computed once and cached; a new ``weights`` array, reuse factor or strategy gives a new
        one (the IR is not meant to be edited in place: change ``weights`` by assigning an array).
        """
        key = (int(self.reuse_factor), Strategy(self.strategy), id(self.weights), self.n_in, self.n_out)
        cached = self.__dict__.get("_schedule")
        if cached is None or cached[0] != key:
            outs, ins, _ = self.terms()
            sched = build_schedule(outs, ins, self.n_in, self.n_out, key[0],
                                   combine="chain" if self.fully_parallel else "tree")
            self.__dict__["_schedule"] = cached = (key, sched, self.weights)
        return cached[1]

    @property
    def ii(self) -> int:
        return self.schedule.ii if not self.fully_parallel else 1

    def lossless_accumulator(self) -> FixedType:
        """The narrowest accumulator holding every partial sum of these weights exactly."""
        return exact_accumulator(self.weights, self.weight_type.frac, self.bias, self.bias_type.frac, self.input_type)

    def weight_values(self) -> np.ndarray:
        return self.weight_type.to_float(self.weights)

    def bias_values(self) -> np.ndarray:
        return self.bias_type.to_float(self.bias)


@dataclass
class LookupTable:
    """A table read with an index computed from the raw bits of a fixed-point input.

    ``q = (mantissa >> shift) - offset``; ``index = clip(q, 0, len(values) - 1)``; ``values``
    are mantissas of ``value_type``.  The emulator and the C++ compute the same integer index.

    ``outer``: a coarser table (same ``value_type``) read instead wherever ``q`` lies outside
    ``[0, len(values) - 1]``; it may have an ``outer`` of its own.  A chain of tables covers a
    slowly varying function (softsign) over the whole input range with fine bins near 0; only
    the last table of the chain clips its index.
    """

    shift: int
    offset: int
    values: np.ndarray
    value_type: FixedType
    outer: "LookupTable | None" = None

    @property
    def size(self) -> int:
        return int(len(self.values))

    @property
    def chain(self) -> list["LookupTable"]:
        """This table and its outer tables, finest first."""
        tables, t = [], self
        while t is not None:
            tables.append(t)
            t = t.outer
        return tables

    def _q(self, mantissa: np.ndarray) -> np.ndarray:
        m = np.asarray(mantissa)
        if m.dtype == object:  # Python ints of a type wider than int64
            q = (m >> self.shift) - self.offset
            return np.minimum(np.maximum(q, -1), self.size).astype(np.int64)  # only the sign of overflow matters
        return (m.astype(np.int64, copy=False) >> self.shift) - self.offset

    def index(self, mantissa: np.ndarray) -> np.ndarray:
        return np.clip(self._q(mantissa), 0, self.size - 1)

    def lookup(self, mantissa: np.ndarray) -> np.ndarray:
        m = np.asarray(mantissa)
        q = self._q(m)
        out = self.values[np.clip(q, 0, self.size - 1)]
        if self.outer is not None:
            away = (q < 0) | (q >= self.size)
            if away.any():
                out = out.copy()
                out[away] = self.outer.lookup(m[away])
        return out


@dataclass
class LinearTail:
    """``y = result_t(x * slope)`` for every input whose mantissa is ``>= threshold``.

    ``slope`` is a mantissa of ``slope_type``; the product ``x * slope`` is exact
    (``ap_fixed<Wx + Ws, Ix + Is>``) and then converted to the result type with its rounding
    and overflow, like any cast.
    """

    threshold: int  #: a mantissa of the layer's input type
    slope: int  #: a mantissa of ``slope_type``
    slope_type: FixedType

    @property
    def slope_value(self) -> float:
        return float(self.slope_type.to_float(np.array([self.slope]))[0])


@dataclass
class ActivationLayer(Layer):
    """Element-wise activation, exact (``linear``, ``relu``) or by table (the table functions of
    :data:`~fpga_aware.core.activations.TABLE_FUNCTIONS`).

    A table function computes, for the input mantissa ``m`` of ``x``:

    .. code-block:: text

        if linear is not None and m >= linear.threshold:
            y = result_t(x * linear.slope)        # exact product, one cast (ELU, SELU, softplus)
        else:
            t = table
            while t.outer is not None and not (0 <= (m >> t.shift) - t.offset < t.size):
                t = t.outer                      # softsign: coarser tables further out
            y = t.values[clip((m >> t.shift) - t.offset, 0, t.size - 1)]

    The table entries are result mantissas: the function at the bin centre, rounded to nearest.
    ``parameters`` are the function's Keras arguments (ELU's ``alpha``), from which the table and
    the slope were computed; no stage reads them for arithmetic.
    """

    function: str = "linear"
    table: LookupTable | None = None  #: table functions only; its values are result mantissas
    linear: LinearTail | None = None  #: table functions that are linear above a threshold
    parameters: dict = field(default_factory=dict)
    keras_class: str = "Activation"

    kind: ClassVar[str] = "activation"


@dataclass
class SoftmaxLayer(Layer):
    """Argmax-preserving softmax.

    ``d_i = x_i - max(x)`` (exact, ``diff_type``), ``e_i = exp_table[d_i]`` (``exp_type``,
    ``exp(0) = 1`` exactly), ``s = sum(e)`` (``sum_type``, exact), ``r = inv_table[s]``
    (``inv_type``), ``y_i = result_t(e_i * r)``.  ``e`` is monotone in ``x`` and every
    output shares ``r``, so the largest input always gets the largest output.
    """

    diff_type: FixedType = None  # type: ignore[assignment]
    exp_table: LookupTable = None  # type: ignore[assignment]
    sum_type: FixedType = None  # type: ignore[assignment]
    inv_table: LookupTable = None  # type: ignore[assignment]
    keras_class: str = "Activation"

    kind: ClassVar[str] = "softmax"

    @property
    def exp_type(self) -> FixedType:
        return self.exp_table.value_type

    @property
    def inv_type(self) -> FixedType:
        return self.inv_table.value_type


@dataclass
class ScaleShiftLayer(Layer):
    """Per-channel ``y = result_t(accum_t(x * scale) + shift)`` (an unfolded BatchNormalization)."""

    scale_type: FixedType = None  # type: ignore[assignment]
    shift_type: FixedType = None  # type: ignore[assignment]
    accum_type: FixedType = None  # type: ignore[assignment]
    scale: np.ndarray = None  # type: ignore[assignment]
    shift: np.ndarray = None  # type: ignore[assignment]
    keras_class: str = "BatchNormalization"

    kind: ClassVar[str] = "scale_shift"


@dataclass
class StepLayer(Layer):
    """Element-wise monotone staircase (a QKeras step quantizer: binary, ternary,
    quantized_tanh, quantized_sigmoid, binary_tanh).

    ``y = levels[k]`` with ``k`` the number of ``thresholds`` ``t`` such that ``x >= t``:
    ``thresholds`` are ascending mantissas of ``input_type`` (at least one), ``levels``
    (one more) mantissas of ``result_type``.  Only comparisons and a choice: exact for every
    width.  :attr:`function` names the quantizer it reproduces (for messages).
    """

    thresholds: np.ndarray = None  # type: ignore[assignment]
    levels: np.ndarray = None  # type: ignore[assignment]
    function: str = ""
    keras_class: str = "QActivation"

    kind: ClassVar[str] = "step"


@dataclass
class ParametricReLULayer(Layer):
    """The piecewise-linear ReLU family, computed exactly: Keras ``LeakyReLU``, ``PReLU``,
    ``ThresholdedReLU``, ``ReLU(negative_slope=...)`` / ``ReLU(threshold=...)``,
    ``Activation('leaky_relu')`` and QKeras ``quantized_relu(..., negative_slope=s)``.

    Per value ``x[c]`` of channel ``c`` (what the firmware computes, and the emulator):

    .. code-block:: text

        if mantissa(x[c]) > threshold:            # integers: an exact comparison
            y[c] = result_t(x[c])
        else:
            p = x[c] * alpha[c]                   # exact product (input_t.width + alpha_t.width bits)
            y[c] = result_t(negative_t(p))        # negative_t is None: y[c] = result_t(p)

    * ``threshold`` is an integer count of ``input_t`` LSBs: ``x > theta`` holds exactly when
      ``mantissa(x) > floor(theta * 2**input_t.frac)``, which the frontend stores (clamped to
      ``[min_mantissa - 1, max_mantissa]`` of ``input_t``, which changes no comparison).  It is
      0 for the leaky ReLUs (at ``x = 0`` both branches give 0).
    * ``alpha`` holds one mantissa of ``alpha_type`` per channel (``n_out`` of them; a scalar
      slope is repeated); all zero for ``ThresholdedReLU`` (its negative branch is 0).
    * ``negative_type``: the type the product is assigned to before ``result_t`` (its rounding
      and overflow), for QKeras' separate clip of the negative branch; ``None`` for Keras layers.

    Each conversion is ``ap_fixed``'s assignment (rounding, then overflow) of the result type.
    """

    alpha_type: FixedType = None  # type: ignore[assignment]
    alpha: np.ndarray = None  # type: ignore[assignment]
    threshold: int = 0
    negative_type: FixedType | None = None
    keras_class: str = "LeakyReLU"

    kind: ClassVar[str] = "parametric_relu"

    def alpha_values(self) -> np.ndarray:
        return self.alpha_type.to_float(self.alpha)

    @property
    def threshold_value(self) -> float:
        """The threshold as a real number (``x`` takes the positive branch when ``x > this``)."""
        return float(self.input_type.to_float(np.array([self.threshold], dtype=object))[0])


@dataclass
class ConvLayer(Layer):
    """A channels-last convolution (Keras ``Conv1D``/``Conv2D``, QKeras ``QConv1D``/``QConv2D``),
    ``padding`` valid or same, any strides and dilation, one group.

    The kernel is a dense product over the receptive field: :attr:`product` is a
    :class:`DenseLayer` of ``n_taps * C_in`` inputs and ``C_out`` outputs (the Keras kernel
    reshaped in C order, so row ``tap * C_in + c``; its own weight, bias, accumulator and result
    types, reuse factor, strategy and schedule), applied to every output pixel:

    .. code-block:: text

        for each output pixel p (C order over the output's spatial axes):
            patch[k] = k-th entry of patch[p] < n_in ? x[patch[p][k]] : 0    # padding reads 0
            y[p * C_out : (p + 1) * C_out] = product(patch)                   # DenseLayer arithmetic

    :attr:`patch` is :func:`fpga_aware.core.windows.patch_indices` (index ``n_in``: a padding
    cell, the value 0).  A zero weight is not stored, so it removes its multiplier from every
    pixel.  A padding cell's product is ``0 * w = 0``: adding it changes no accumulator, so the
    padded pixels compute the same sums as if the cell were skipped.
    """

    product: DenseLayer = None  # type: ignore[assignment]
    in_shape: tuple[int, ...] = ()  #: Keras input shape without the batch (spatial..., C_in)
    out_shape: tuple[int, ...] = ()  #: Keras output shape without the batch (spatial..., C_out)
    kernel_size: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    padding: str = "valid"
    patch: np.ndarray = None  # type: ignore[assignment]  #: (n_pixels, n_taps * C_in) input indices
    keras_class: str = "Conv2D"

    kind: ClassVar[str] = "conv"

    @property
    def n_pixels(self) -> int:
        return int(self.patch.shape[0])

    @property
    def geometry(self) -> WindowGeometry:
        """The window the frontend computed :attr:`patch` from (``patch_indices(geometry, C_in)``)."""
        return window_geometry(self.in_shape[:-1], self.kernel_size, self.strides, self.dilation, self.padding)

    @property
    def n_patch(self) -> int:
        return int(self.patch.shape[1])

    @property
    def filters(self) -> int:
        return int(self.product.n_out)

    # the product's numbers, under the names every stage reads for a dense layer
    @property
    def weight_type(self) -> FixedType:
        return self.product.weight_type

    @property
    def bias_type(self) -> FixedType:
        return self.product.bias_type

    @property
    def accum_type(self) -> FixedType:
        return self.product.accum_type

    @property
    def weights(self) -> np.ndarray:
        return self.product.weights

    @property
    def bias(self) -> np.ndarray:
        return self.product.bias

    @property
    def reuse_factor(self) -> int:
        return self.product.reuse_factor

    @property
    def strategy(self) -> Strategy:
        return self.product.strategy

    @property
    def n_weights(self) -> int:
        return self.product.n_weights

    @property
    def nonzero_weights(self) -> int:
        return self.product.nonzero_weights

    @property
    def sparsity(self) -> float:
        return self.product.sparsity

    @property
    def ii(self) -> int:
        return self.product.ii


@dataclass
class PoolingLayer(Layer):
    """Max or average pooling over windows of a channels-last tensor (Keras ``MaxPooling1D/2D``,
    ``AveragePooling1D/2D``, ``GlobalMaxPooling1D/2D``, ``GlobalAveragePooling1D/2D``), per channel.

    :attr:`windows` holds, per output pixel, the spatial input positions of its window
    (:func:`fpga_aware.core.windows.window_positions`; ``-1``: a padding cell, which pooling
    ignores, as Keras does).  For channel ``c`` of output pixel ``p``:

    .. code-block:: text

        max:      y = result_t(max of x[q * C + c] over the window's positions q)
        average:  s = sum of x[q * C + c] over the window's positions q    # exact, in sum_t
                  n = counts[p]                                           # the positions that are not padding
                  y = result_t(sum_t(s / n))

    ``sum_t(s / n)`` is ap_fixed's division by an integer (hls4ml's ``nnet::avg``: ``y /= n``):
    the quotient keeps ``sum_t``'s fractional bits and is truncated toward zero.  ``sum_t`` has
    the input's fractional bits and enough integer bits for any sum (no overflow).  hls4ml
    divides a padded window by the same count (``count_pad`` false); benchmarks/hls4ml_conv_pooling.py
    finds both C simulations equal bit for bit while hls4ml's ``accum_t`` holds the sums.  Global pooling is one
    window covering the whole input (``out_shape`` ``(C,)``).
    """

    operation: str = "max"  #: ``"max"`` or ``"average"``
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    pool_size: tuple[int, ...] = ()
    strides: tuple[int, ...] = ()
    padding: str = "valid"
    channels: int = 1
    windows: np.ndarray = None  # type: ignore[assignment]  #: (n_pixels, n_window) positions, -1 padding
    counts: np.ndarray = None  # type: ignore[assignment]  #: (n_pixels,) cells that are not padding
    sum_type: FixedType | None = None  #: average pooling's exact sum (None for max)
    keras_class: str = "MaxPooling2D"

    kind: ClassVar[str] = "pooling"

    @property
    def n_pixels(self) -> int:
        return int(self.windows.shape[0])

    @property
    def geometry(self) -> WindowGeometry:
        """The window the frontend computed :attr:`windows` from (``window_positions(geometry)``)."""
        rank = len(self.in_shape) - 1
        return window_geometry(self.in_shape[:-1], self.pool_size, self.strides, (1,) * rank, self.padding)

    @property
    def n_window(self) -> int:
        return int(self.windows.shape[1])


@dataclass
class ReorderLayer(Layer):
    """A pure reorder of the flat (C-order, channels-last) vector: Keras ``ZeroPadding1D/2D``,
    ``Cropping1D/2D`` and ``UpSampling1D/2D`` (nearest).

    ``y[j] = source[j] < n_in ? x[source[j]] : 0`` -- no arithmetic, the result type is the
    input type.  ``source`` is computed by the frontend by applying the Keras operation to the
    input's flat indices (``numpy.pad`` with ``n_in``, slicing, ``numpy.repeat``).
    """

    source: np.ndarray = None  # type: ignore[assignment]  #: (n_out,) input index of each output, n_in: 0
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    keras_class: str = "ZeroPadding2D"

    kind: ClassVar[str] = "reorder"


#: Every IR layer class, and the one list of layer kinds (``Layer.kind``) each pipeline stage
#: registers an entry for (see :mod:`fpga_aware.conformance`).
LAYER_CLASSES: tuple[type[Layer], ...] = (InputLayer, DenseLayer, ActivationLayer, SoftmaxLayer, ScaleShiftLayer,
                                          StepLayer,
                                          ParametricReLULayer, ConvLayer, PoolingLayer, ReorderLayer)
LAYER_KINDS: tuple[str, ...] = tuple(cls.kind for cls in LAYER_CLASSES)


@dataclass
class ModelIR:
    """The whole model: a chain of layers, starting with an :class:`InputLayer`."""

    project_name: str
    layers: list[Layer] = field(default_factory=list)

    @property
    def input(self) -> InputLayer:
        first = self.layers[0]
        assert isinstance(first, InputLayer)
        return first

    @property
    def output(self) -> Layer:
        return self.layers[-1]

    @property
    def n_inputs(self) -> int:
        return self.input.n_out

    @property
    def n_outputs(self) -> int:
        return self.output.n_out

    @property
    def input_type(self) -> FixedType:
        return self.input.result_type

    @property
    def output_type(self) -> FixedType:
        return self.output.result_type

    def dense_layers(self) -> list[DenseLayer]:
        return [layer for layer in self.layers if isinstance(layer, DenseLayer)]

    def dense_products(self) -> list[DenseLayer]:
        """Every dense product of the model: the dense layers and each convolution's per-pixel product."""
        return [layer.product if isinstance(layer, ConvLayer) else layer for layer in self.layers
                if isinstance(layer, (DenseLayer, ConvLayer))]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers: {[lay.name for lay in self.layers]}")
