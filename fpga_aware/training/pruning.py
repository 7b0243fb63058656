"""Magnitude pruning for tf-keras models, as a single Keras callback.

:class:`Prune` prunes the kernels of ``Dense``, ``Conv1D``, ``Conv2D``, ``DepthwiseConv1D/2D``,
``SeparableConv1D/2D`` (both kernels) and QKeras ``QDense``, ``QConv1D``, ``QConv2D``,
``QConv2DBatchnorm``, ``QDepthwiseConv2D``, ``QSeparableConv1D/2D`` layers of a *plain* model
passed straight to ``fit``::

    model.fit(x, y, epochs=5, callbacks=[Prune(0.75)])

Schedule
    The sparsity follows tensorflow-model-optimization's (tfmot) ``PolynomialDecay`` with
    ``initial_sparsity=0``: ``s(step) = target * (1 - (1 - p)**power)`` with
    ``p = clip((step - begin_step) / (end_step - begin_step), 0, 1)``, computed in
    float32 with tfmot's formula (:func:`polynomial_decay`; numpy's and TensorFlow's float32
    ``pow`` may differ by an ulp on some CPUs, so the kept count ``round(n * (1 - s))`` can
    differ from tfmot's by one weight where an ulp decides the rounding, and nowhere else —
    tests/test_pruning.py measures it).  Masks are recomputed at the
    steps where tfmot's schedule says so (``begin_step <= step <= end_step`` and
    ``(step - begin_step) % frequency == 0``, :func:`should_prune`) **and** at
    ``end_step`` itself, so the target is always reached even when ``end_step - begin_step``
    is not a multiple of ``frequency`` (tfmot would stop short of it).

Steps
    As in tfmot, the step of a batch is its 1-based global index: the ``n``-th training
    batch of a fresh model is step ``n`` (``optimizer.iterations + 1`` when it starts).
    The mask of step ``n`` is computed from the weights as they are after ``n - 1``
    optimizer updates, before the forward pass of batch ``n`` -- exactly tfmot's order.

Ramp (``end_step=None``)
    ``end_step`` is derived once, at the first ``on_train_begin``:
    ``first_step - 1 + round(ramp_fraction * epochs * steps_per_epoch)`` with
    ``ramp_fraction=0.8``: the target is reached after 80 % of the first fit and the last
    20 % fine-tunes at the target sparsity, as tfmot users expect.  Later fits with the
    same callback keep that ``end_step``.

Threshold
    tfmot's rule (``pruning_impl.Pruning._update_mask``): with ``k = max(round(size * (1 -
    s)), 1)`` (float32, round half to even), the threshold is the ``k``-th largest
    magnitude and every weight whose magnitude is ``>=`` the threshold is kept.  The mask is
    computed from the current weights, so a weight pruned earlier can come back at a
    later mask update (it got one optimizer update since it was zeroed), as in tfmot.

Exact zeros
    After every training batch the masks are re-applied (``kernel.assign(where(mask,
    kernel, 0))``), so between batches -- and therefore in the forward pass of every batch,
    at every epoch end and after ``fit`` -- pruned weights are exactly ``+0.0``.  The
    plain model needs no stripping.  Biases are never pruned.  This needs the callback's
    batch hooks to run after every batch, so ``steps_per_execution`` must be 1.

Block structure (``structure='block'``)
    For a kernel ``W`` of shape ``(n_in, n_out)``, the groups are ``block_size`` consecutive
    *inputs* of one output neuron: ``W[i0:i0 + block_size, o]`` for ``i0 = 0, block_size,
    ...`` (the last group of a column is shorter when ``n_in % block_size != 0``).  That
    is hls4ml's Resource order at reuse factor ``R = block_size`` (``R`` consecutive weights
    of one output per multiplier).  In this package's schedule every column then keeps a
    multiple of ``R`` weights too, but ``structure='balanced'`` reaches that with any ``R``
    weights of a column, not only neighbouring inputs.  Groups are scored by their L2
    norm and pruned with the same threshold rule, applied to groups instead of weights:
    ``target_sparsity`` is the fraction of groups removed.

Balanced structure (``structure='balanced'``, ``reuse_factor=R``)
    Every output column keeps a multiple of ``R`` weights.  For a kernel ``(n_in, n_out)``
    with ``R <= n_in``, each column's weights are ranked by magnitude (descending, ties by
    input index) and the ranking is cut into ``n_in // R`` whole groups of ``R`` consecutive
    ranks (the last ``n_in % R`` ranks of a column are always pruned, even at sparsity 0); a
    group's score is the smallest magnitude in it, so the scores of a column's groups
    descend.  The ``L = kept_count(total_groups, s)`` best groups over all columns are kept,
    ``total_groups = n_out * (n_in // R)``: tfmot's kept count, but exactly ``L`` groups
    (ties go to the earlier column, then the earlier group: a stable sort, so the mask is
    deterministic).  ``target_sparsity`` is therefore the fraction of groups removed (the
    weight sparsity that :attr:`Prune.sparsity` reports is higher when ``n_in % R != 0``);
    each column keeps its ``c * R`` largest weights for some ``c >= 0`` and the layer keeps
    exactly ``nnz = L * R`` weights (:func:`balanced_mask`).

    Why: the firmware's static schedule (:mod:`fpga_aware.core.schedule`) gives the ``k``-th
    nonzero term (by output, then input) to lane ``k // R`` in cycle ``k % R``, on
    ``ceil(nnz / R)`` lanes.  With every column a multiple of ``R``, every lane multiplies
    ``R`` terms of one output: exactly ``nnz / R`` multipliers, each busy in every cycle, one
    accumulator register per lane and no segment boundary (``DenseLayer.schedule.summary()``
    shows ``segment_boundaries == 0`` and ``padded_slots == 0``).

    ``reuse_factor`` is one integer for every pruned layer or a dict ``{layer name: R}`` with
    an entry for every pruned plain layer (and no name the model lacks); both, and
    ``R <= n_in``, are checked when training begins.  tfmot has no such structure:
    :func:`prunable` refuses it, and layers already wrapped by tfmot keep their own masks
    (a warning says so).

Filter and tap structure (``structure='filter'`` / ``'tap'``)
    The same schedule and threshold rule over groups scored by their L2 norm, the kernel in its
    Keras shape.  ``'filter'``: a group is one output channel -- ``W[..., o]`` of a Conv
    ``(*kernel_size, C_in, C_out)`` or a Dense ``(n_in, n_out)`` (a neuron), ``W[..., c, m]``
    of a depthwise kernel ``(*kernel_size, C_in, depth_multiplier)`` (output channel
    ``c * depth_multiplier + m``); a pruned filter has no nonzero weight, so the firmware keeps
    no multiplier for it at any pixel; its bias is zeroed too, so its output channel is exactly 0
    and the firmware also drops every weight downstream that reads only that channel (through
    ReLU, linear activations, pooling and reorders: :mod:`fpga_aware.core.zeros`).  ``'tap'``: a group is one
    kernel position ``W[i, j, :, :]`` across every input and output channel (a kernel with
    fewer than 2 positions, a Dense or a pointwise 1x1 kernel, is refused by name when
    training begins: select the convolutions with ``layers=``).  ``target_sparsity`` is the
    fraction of groups removed.  ``'block'`` and ``'balanced'`` refuse a depthwise kernel (its
    per-pixel product is channel-diagonal, not the dense product they follow).

tfmot-wrapped models
    Layers wrapped with tfmot's ``prune_low_magnitude`` (e.g. by :func:`prunable`) keep
    the schedule they were wrapped with: tfmot updates their masks inside the forward
    pass.  :class:`Prune` does ``UpdatePruningStep``'s duty for them (sets their
    ``pruning_step`` to 0 at the start), re-applies their masks after every batch (tfmot
    only does so at epoch end) and reports their sparsity.  Its own schedule options
    apply only to plain layers; a warning says when its ``target_sparsity`` differs from
    a wrapped layer's final sparsity.  :func:`strip` removes the wrappers.

Distribution
    Masks are applied with ``variable.assign`` from the callback, i.e. in cross-replica
    context, which updates every replica of a ``tf.distribute.MirroredStrategy`` variable.

The schedule (:func:`polynomial_decay`, :func:`should_prune`) lives in
:mod:`fpga_aware.training.schedule` and the masks (:func:`magnitude_mask`, :func:`block_mask`, :func:`balanced_mask`,
:func:`~fpga_aware.training.masks.kept_count`) in :mod:`fpga_aware.training.masks`, both numpy
only; this module holds the Keras callback and the tfmot interop, and re-exports them.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from fpga_aware._stack import keras, tensorflow
from fpga_aware.training.masks import (
    balanced_mask, block_mask, check_balanced_shape, filter_mask, magnitude_mask, tap_mask,
)
from fpga_aware.training.schedule import DEFAULT_RAMP_FRACTION, polynomial_decay, should_prune

tf = tensorflow()
k = keras()

from qkeras import QConv1D, QConv2D, QDense  # noqa: E402,F401  (needs the tf-keras guard above)
from tensorflow_model_optimization.python.core.sparsity.keras import (  # noqa: E402
    prune as _tfmot_prune,
)
from tensorflow_model_optimization.python.core.sparsity.keras import (  # noqa: E402
    pruning_schedule as _tfmot_schedule,
)
from tensorflow_model_optimization.python.core.sparsity.keras import (  # noqa: E402
    pruning_wrapper as _tfmot_wrapper,
)

__all__ = [
    "Prune",
    "prunable",
    "strip",
    "polynomial_decay",
    "should_prune",
    "magnitude_mask",
    "block_mask",
    "balanced_mask",
    "PRUNABLE_CLASSES",
    "DEFAULT_RAMP_FRACTION",
]

log = logging.getLogger(__name__)

#: Layer classes whose kernels are pruned (``QDense`` is a subclass of ``Dense``, ``QConv1D`` and
#: ``QConv2D`` of ``Conv1D`` and ``Conv2D``).
#: ``DepthwiseConv1D/2D`` (and ``QDepthwiseConv2D``) prune their ``depthwise_kernel``,
#: ``SeparableConv1D/2D`` (``QSeparableConv1D/2D``) their depthwise and pointwise kernels.
PRUNABLE_CLASSES: tuple[type, ...] = (k.layers.Dense, QDense, k.layers.Conv1D, k.layers.Conv2D, QConv1D, QConv2D,
                                      k.layers.DepthwiseConv1D, k.layers.DepthwiseConv2D, k.layers.SeparableConv1D,
                                      k.layers.SeparableConv2D)
_PRUNABLE_NAMES = ("Dense, QDense, Conv1D, Conv2D, QConv1D, QConv2D, DepthwiseConv1D, DepthwiseConv2D, SeparableConv1D, "
                   "SeparableConv2D (and their QKeras classes)")


def _product_shape(shape) -> tuple[int, ...]:
    """A kernel's shape as the dense product the firmware computes: ``(taps * C_in, C_out)``."""
    shape = tuple(int(d) for d in shape)
    return shape if len(shape) <= 2 else (int(np.prod(shape[:-1])), shape[-1])

_STRUCTURES = (None, "unstructured", "block", "balanced", "filter", "tap")


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class _Options:
    """Validated pruning options shared by :class:`Prune` and :func:`prunable`."""

    target_sparsity: float
    begin_step: int
    end_step: int | None
    frequency: int
    power: float
    structure: str | None
    block_size: int | None
    layers: tuple[str, ...] | None
    #: ``structure='balanced'``: one reuse factor for every layer, or ``((layer name, R), ...)``.
    reuse_factor: int | tuple[tuple[str, int], ...] | None = None

    def reuse_factors(self) -> dict[str, int] | None:
        """The per-layer reuse factors when given as a dict, else ``None``."""
        return dict(self.reuse_factor) if isinstance(self.reuse_factor, tuple) else None

    def reuse_factor_of(self, name: str) -> int:
        """The reuse factor of layer ``name`` (``structure='balanced'``)."""
        by_layer = self.reuse_factors()
        return int(self.reuse_factor) if by_layer is None else by_layer[name]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate(
    target_sparsity: Any,
    begin_step: Any,
    end_step: Any,
    frequency: Any,
    power: Any,
    structure: Any,
    block_size: Any,
    layers: Any,
    reuse_factor: Any = None,
) -> _Options:
    """Check every option and raise ``ValueError``/``TypeError`` naming the bad one."""
    if isinstance(target_sparsity, bool) or not isinstance(target_sparsity, (int, float, np.number)):
        raise TypeError(f"target_sparsity must be a number in [0, 1), got {target_sparsity!r}")
    if not 0.0 <= float(target_sparsity) < 1.0:
        raise ValueError(f"target_sparsity must be in the range [0, 1), got {target_sparsity!r}")
    if not _is_int(begin_step) or begin_step < 0:
        raise ValueError(f"begin_step must be an integer >= 0, got {begin_step!r}")
    if end_step is not None:
        if not _is_int(end_step) or end_step < 0:
            raise ValueError(f"end_step must be an integer >= 0 or None, got {end_step!r}")
        if begin_step > end_step:
            raise ValueError(f"begin_step ({begin_step}) must be <= end_step ({end_step})")
    if not _is_int(frequency) or frequency < 1:
        raise ValueError(f"frequency must be an integer >= 1, got {frequency!r}")
    if isinstance(power, bool) or not isinstance(power, (int, float, np.number)) or power <= 0:
        raise ValueError(f"power must be a number > 0, got {power!r}")
    if structure not in _STRUCTURES:
        raise ValueError(f"structure must be one of {_STRUCTURES}, got {structure!r}")
    if structure == "block":
        if not _is_int(block_size) or block_size < 1:
            raise ValueError(
                "structure='block' needs block_size, an integer >= 1 (the reuse factor), "
                f"got {block_size!r}"
            )
    elif block_size is not None:
        raise ValueError(f"block_size={block_size!r} is only used with structure='block'")
    if structure == "balanced":
        reuse_factor = _validate_reuse_factor(reuse_factor)
    elif reuse_factor is not None:
        raise ValueError(f"reuse_factor={reuse_factor!r} is only used with structure='balanced'")
    if layers is not None:
        if isinstance(layers, str) or not all(isinstance(n, str) for n in layers):
            raise TypeError(f"layers must be a list of layer names, got {layers!r}")
        if len(layers) == 0:
            raise ValueError("layers must name at least one layer (or be None for all)")
        layers = tuple(layers)
    return _Options(
        float(target_sparsity),
        int(begin_step),
        None if end_step is None else int(end_step),
        int(frequency),
        float(power),
        None if structure == "unstructured" else structure,
        None if block_size is None else int(block_size),
        layers,
        reuse_factor,
    )


def _validate_reuse_factor(reuse_factor: Any) -> int | tuple[tuple[str, int], ...]:
    """``structure='balanced'``'s ``reuse_factor``: an integer >= 1 or ``{layer name: integer >= 1}``."""
    allowed = "an integer >= 1 or a dict {layer name: integer >= 1}"
    if reuse_factor is None:
        raise ValueError(f"structure='balanced' needs reuse_factor, {allowed} (the layers' reuse factors)")
    if isinstance(reuse_factor, dict):
        if not reuse_factor:
            raise ValueError(f"reuse_factor must name at least one layer; it is {allowed}")
        for name, value in reuse_factor.items():
            if not isinstance(name, str):
                raise TypeError(f"reuse_factor keys must be layer names, got {name!r}")
            if not _is_int(value) or value < 1:
                raise ValueError(f"reuse_factor[{name!r}] must be an integer >= 1, got {value!r}")
        return tuple((name, int(value)) for name, value in reuse_factor.items())
    if not _is_int(reuse_factor) or reuse_factor < 1:
        raise ValueError(f"reuse_factor must be {allowed}, got {reuse_factor!r}")
    return int(reuse_factor)


# --------------------------------------------------------------------------- layers
def _all_layers(model: Any) -> list[Any]:
    """Layers of ``model``, descending into nested models (the nested model not included)."""
    found = []
    for layer in model.layers:
        if isinstance(layer, k.Model):
            found.extend(_all_layers(layer))
        else:
            found.append(layer)
    return found


def _describe(layers: Sequence[Any]) -> str:
    return ", ".join(f"{layer.name} ({type(layer).__name__})" for layer in layers)


def _is_wrapped(layer: Any) -> bool:
    return isinstance(layer, _tfmot_wrapper.PruneLowMagnitude)


def _layer_names(layer: Any) -> set[str]:
    """Names a layer answers to in ``layers=``: its own, and the wrapped layer's."""
    names = {layer.name}
    if _is_wrapped(layer):
        names.add(layer.layer.name)
    return names


def _select_layers(candidates: Sequence[Any], names: tuple[str, ...] | None, allow_wrapped: bool) -> list[Any]:
    """The prunable layers among ``candidates``, restricted to ``names`` when given."""

    def prunable(layer: Any) -> bool:
        return isinstance(layer, PRUNABLE_CLASSES) or (allow_wrapped and _is_wrapped(layer))

    if names is None:
        chosen = [layer for layer in candidates if prunable(layer)]
        if not chosen:
            raise ValueError(
                f"the model has no prunable layer; prunable layers are {_PRUNABLE_NAMES}"
                + (" (or tfmot prune_low_magnitude wrappers)" if allow_wrapped else "")
                + f"; the model has: {_describe(candidates)}"
            )
        return chosen
    known = {n: layer for layer in candidates for n in _layer_names(layer)}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"layers={list(names)}: unknown layer(s) {unknown}; the model has: {_describe(candidates)}")
    chosen = []
    for n in names:
        layer = known[n]
        if not prunable(layer):
            raise ValueError(
                f"layer {n!r} ({type(layer).__name__}) is not prunable; prunable layers are {_PRUNABLE_NAMES}"
            )
        if layer not in chosen:
            chosen.append(layer)
    return chosen


# --------------------------------------------------------------------------- targets
def _as_keep(mask: Any) -> Any:
    """A keep-mask as ``tf.bool`` (tfmot masks are 0/1 floats)."""
    return mask if mask.dtype == tf.bool else mask > 0


def _apply_masks(variables: list[Any], masks: list[Any]) -> None:
    """``v.assign(where(mask, v, +0.0))`` for every pair (``+0.0``, never ``-0.0``)."""
    for variable, mask in zip(variables, masks):
        value = tf.identity(variable)
        variable.assign(tf.where(_as_keep(mask), value, tf.zeros_like(value)))


@dataclass
class _Target:
    """One pruned weight: its variable and keep-mask (plain) or tfmot mask variable (wrapped)."""

    name: str
    variable: Any
    mask: Any = None  #: tf.bool variable (plain layers)
    wrapper_mask: Any = None  #: tfmot's mask variable (wrapped layers)
    attr: str = "kernel"  #: the layer's attribute: ``kernel``, ``depthwise_kernel`` or ``pointwise_kernel``
    #: ``structure='filter'``: the layer's bias (the kernel that makes its outputs only) and its
    #: keep-mask, a pruned filter's entry False (its channel is then exactly 0)
    bias: Any = None
    bias_mask: Any = None

    @property
    def wrapped(self) -> bool:
        return self.wrapper_mask is not None

    @property
    def mask_source(self) -> Any:
        """The boolean mask tensor (plain) or tfmot's 0/1 mask variable (wrapped)."""
        return self.wrapper_mask if self.wrapped else self.mask

    def keep(self) -> Any:
        """Current keep-mask as a boolean tensor."""
        return _as_keep(self.mask_source)

    def apply(self) -> None:
        """Zero the pruned weights (``+0.0``, never ``-0.0``), and the pruned filters' biases."""
        _apply_masks([self.variable], [self.mask_source])
        if self.bias_mask is not None:
            _apply_masks([self.bias], [self.bias_mask])

    def zeros(self) -> tuple[int, int]:
        """``(zero count, size)`` of the weight as it is now."""
        value = np.asarray(self.variable.numpy())
        return int(value.size - np.count_nonzero(value)), int(value.size)


def _plain_targets(layer: Any, with_bias: bool = False) -> list[_Target]:
    """The kernels of a plain layer: ``kernel``; a depthwise one's ``depthwise_kernel``; a
    separable one's ``depthwise_kernel`` and ``pointwise_kernel``.  ``with_bias``: the last of
    them (the one that makes the layer's outputs) also carries the layer's bias, if it has one."""
    attrs = [a for a in ("kernel", "depthwise_kernel", "pointwise_kernel") if getattr(layer, a, None) is not None]
    targets = []
    for attr in attrs:
        kernel = getattr(layer, attr)
        mask = tf.Variable(tf.ones(kernel.shape, dtype=tf.bool), trainable=False,
                           name=f"{layer.name}_{attr}_prune_mask")
        targets.append(_Target(layer.name, kernel, mask=mask, attr=attr))
    bias = getattr(layer, "bias", None) if getattr(layer, "use_bias", False) else None
    if with_bias and targets and bias is not None:
        targets[-1].bias = bias
        targets[-1].bias_mask = tf.Variable(tf.ones(bias.shape, dtype=tf.bool), trainable=False,
                                            name=f"{layer.name}_bias_prune_mask")
    return targets


def _wrapped_targets(layer: Any) -> list[_Target]:
    if not getattr(layer, "pruning_vars", None):
        raise ValueError(f"tfmot wrapper {layer.name!r} is not built; build the model before fit")
    return [_Target(layer.layer.name, weight, wrapper_mask=mask) for weight, mask, _ in layer.pruning_vars]


def _final_sparsity(schedule: Any) -> float | None:
    """The sparsity a tfmot schedule ends at, when known."""
    if isinstance(schedule, _tfmot_schedule.PolynomialDecay):
        return float(schedule.final_sparsity)
    if isinstance(schedule, _tfmot_schedule.ConstantSparsity):
        return float(schedule.target_sparsity)
    return None


# --------------------------------------------------------------------------- callback
class Prune(k.callbacks.Callback):
    """Polynomial-decay magnitude pruning of Dense/QDense and Conv1D/Conv2D/QConv1D/QConv2D kernels during ``fit``.

    See the module docstring for the exact semantics.  After training,
    :attr:`sparsity` is the fraction of zeros over all pruned kernels and
    :attr:`layer_sparsity` maps each pruned layer's name to its own fraction; both are
    refreshed at every epoch end, when ``logs['sparsity']`` is also set (so
    ``history.history['sparsity']`` exists; place ``Prune`` before callbacks such as
    ``EarlyStopping`` that should see it).

    Args:
        target_sparsity: final fraction of zero weights (or groups), in ``[0, 1)``.
        begin_step: first step of the ramp (1-based global batch index, as in tfmot).
        end_step: step at which ``target_sparsity`` is reached; ``None`` derives it from
            the first fit: ``ramp_fraction`` of ``epochs * steps_per_epoch``.
        frequency: masks are recomputed every ``frequency`` steps from ``begin_step``.
        power: exponent of the polynomial decay.
        structure: ``None``/``'unstructured'`` (weights), ``'block'`` (groups of
            consecutive inputs), ``'balanced'`` (a multiple of the reuse factor per output),
            ``'filter'`` (whole output channels: a filter of a convolution, a neuron of a Dense)
            or ``'tap'`` (whole kernel positions of a convolution, across its channels).
        block_size: group size for ``structure='block'``; use the layer's reuse factor.
        reuse_factor: for ``structure='balanced'`` (required there, refused otherwise): the
            reuse factor of every pruned layer, or a dict ``{layer name: reuse factor}`` with
            an entry for every pruned layer; each must be ``<= n_in`` of its layer.
        layers: names of the layers to prune (default: every Dense/QDense and convolution).
        ramp_fraction: used only when ``end_step`` is ``None``; in ``(0, 1]``.
    """

    def __init__(
        self,
        target_sparsity: float = 0.75,
        begin_step: int = 0,
        end_step: int | None = None,
        frequency: int = 100,
        power: float = 3,
        structure: str | None = None,
        block_size: int | None = None,
        layers: Sequence[str] | None = None,
        ramp_fraction: float = DEFAULT_RAMP_FRACTION,
        reuse_factor: int | dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self._supports_tf_logs = True  # do not make Keras convert the logs at every batch
        self.options = _validate(
            target_sparsity, begin_step, end_step, frequency, power, structure, block_size, layers, reuse_factor
        )
        if isinstance(ramp_fraction, bool) or not isinstance(ramp_fraction, (int, float)) or not 0 < ramp_fraction <= 1:
            raise ValueError(f"ramp_fraction must be in the range (0, 1], got {ramp_fraction!r}")
        self.ramp_fraction = float(ramp_fraction)
        #: The ``end_step`` in use: given, or derived at the first ``on_train_begin``.
        self.end_step: int | None = self.options.end_step
        #: Fraction of zeros over all pruned kernels, at the last epoch end.
        self.sparsity: float | None = None
        #: Per-layer fraction of zeros, at the last epoch end.
        self.layer_sparsity: dict[str, float] = {}
        self._targets: list[_Target] = []
        self._targets_model: Any = None
        self._apply_fn: Any = None
        self._step = 0  #: optimizer updates done so far (global)

    # ------------------------------------------------------------------ public helpers
    def schedule(self, step: int) -> tuple[bool, float]:
        """``(update masks at step?, sparsity at step)`` for the plain layers.

        ``update`` is tfmot's rule plus ``step == end_step`` (see the module docstring).
        """
        if self.end_step is None:
            raise RuntimeError("end_step is not known yet: it is derived when training begins")
        o = self.options
        update = should_prune(step, o.begin_step, self.end_step, o.frequency) or step == self.end_step
        return update, polynomial_decay(step, o.target_sparsity, o.begin_step, self.end_step, o.power)

    @property
    def masks(self) -> dict[str, np.ndarray]:
        """Current keep-masks of the pruned kernels, by layer name (``True`` = kept); a depthwise
        or separable layer's as ``'<name>.depthwise_kernel'`` / ``'<name>.pointwise_kernel'``."""
        return {t.name if t.attr == "kernel" else f"{t.name}.{t.attr}": np.asarray(t.keep().numpy(), dtype=bool)
                for t in self._targets}

    # ------------------------------------------------------------------ keras hooks
    def on_train_begin(self, logs: dict | None = None) -> None:
        self._check_steps_per_execution()
        self._step = int(self.model.optimizer.iterations.numpy())
        if self._targets_model is not self.model:
            self._targets = self._collect_targets()
            self._apply_fn = None
            self._targets_model = self.model
        plain = [t for t in self._targets if not t.wrapped]
        if plain and self.end_step is None:
            self.end_step = self._derive_end_step()
        if plain:
            self._warn_if_coarse()
        self._start_wrapped_steps()
        self._maybe_update_masks(self._step + 1)
        self._apply_masks()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._step += 1
        self._maybe_update_masks(self._step + 1)
        self._apply_masks()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._measure()
        if logs is not None:
            logs["sparsity"] = self.sparsity

    # ------------------------------------------------------------------ internals
    def _check_steps_per_execution(self) -> None:
        spe = getattr(self.model, "_steps_per_execution", None)
        if spe is not None and int(np.asarray(spe.numpy() if hasattr(spe, "numpy") else spe)) != 1:
            raise ValueError(
                "Prune needs steps_per_execution=1 in model.compile(): it re-applies the "
                "pruning masks after every batch, and Keras calls batch callbacks only once "
                "per execution"
            )

    def _collect_targets(self) -> list[_Target]:
        candidates = _all_layers(self.model)
        layers = _select_layers(candidates, self.options.layers, allow_wrapped=True)
        targets: list[_Target] = []
        for layer in layers:
            if _is_wrapped(layer):
                targets.extend(_wrapped_targets(layer))
                self._check_wrapper_schedule(layer)
            else:
                targets.extend(_plain_targets(layer, with_bias=self.options.structure == "filter"))
        if self.options.structure == "balanced":
            self._check_balanced(targets, candidates)
        self._check_structure(targets)
        log.info("Prune: pruning %s", ", ".join(t.name for t in targets))
        return targets

    def _check_structure(self, targets: list[_Target]) -> None:
        """Each plain kernel must have the groups its structure prunes (raised when training begins)."""
        structure = self.options.structure
        for target in (t for t in targets if not t.wrapped):
            shape = tuple(int(d) for d in target.variable.shape)
            if target.attr == "depthwise_kernel" and structure in ("block", "balanced"):
                raise ValueError(
                    f"Prune(structure={structure!r}) does not apply to the depthwise kernel of layer {target.name!r}: "
                    "its per-pixel product is channel-diagonal, not the dense product those groups follow; use "
                    "structure None, 'unstructured', 'filter' or 'tap', or layers=[...] without it")
            if structure == "tap" and (len(shape) < 3 or int(np.prod(shape[:-2])) < 2):
                what = "no kernel positions" if len(shape) < 3 else f"a single kernel position (shape {shape})"
                raise ValueError(
                    f"Prune(structure='tap') prunes kernel positions; the {target.attr} of layer {target.name!r} has "
                    f"{what}: pass layers=[...] naming the convolutions with a window (kernel_size > 1)")

    def _check_balanced(self, targets: list[_Target], candidates: Sequence[Any]) -> None:
        """``structure='balanced'``: a reuse factor ``<= n_in`` for every plain pruned layer."""
        by_layer = self.options.reuse_factors()
        plain = [t for t in targets if not t.wrapped]
        if by_layer is not None:
            known = {n for layer in candidates for n in _layer_names(layer)}
            unknown = [n for n in by_layer if n not in known]
            if unknown:
                raise ValueError(
                    f"reuse_factor names unknown layer(s) {unknown}; the model has: {_describe(candidates)}"
                )
            missing = [t.name for t in plain if t.name not in by_layer]
            if missing:
                raise ValueError(
                    f"reuse_factor has no entry for pruned layer(s) {missing}: structure='balanced' "
                    f"needs one for every pruned layer ({', '.join(t.name for t in plain)}), or one "
                    "integer for all"
                )
        for target in plain:
            check_balanced_shape(_product_shape(target.variable.shape), self.options.reuse_factor_of(target.name),
                                 target.name)
        for name in dict.fromkeys(t.name for t in targets if t.wrapped):
            warnings.warn(
                f"Prune(structure='balanced') does not apply to {name!r}: it is wrapped by tfmot "
                "prune_low_magnitude, whose own masks it keeps",
                UserWarning,
                stacklevel=4,
            )

    def _check_wrapper_schedule(self, layer: Any) -> None:
        final = _final_sparsity(layer.pruning_schedule)
        log.info(
            "Prune: %r is wrapped by tfmot prune_low_magnitude and follows its own schedule %s",
            layer.layer.name,
            layer.pruning_schedule.get_config(),
        )
        if final is not None and not np.isclose(final, self.options.target_sparsity):
            warnings.warn(
                f"Prune(target_sparsity={self.options.target_sparsity}) does not apply to "
                f"{layer.layer.name!r}: it is wrapped by tfmot prune_low_magnitude, whose "
                f"schedule prunes it to {final}",
                UserWarning,
                stacklevel=3,
            )

    def _derive_end_step(self) -> int:
        epochs = self.params.get("epochs") if self.params else None
        steps = self.params.get("steps") if self.params else None
        if not epochs or not steps:
            raise ValueError(
                "Prune(end_step=None) derives end_step from epochs * steps_per_epoch, but "
                f"fit did not tell them (epochs={epochs}, steps={steps}); pass end_step= to "
                "Prune or steps_per_epoch= to fit"
            )
        end = self._step + max(1, round(self.ramp_fraction * epochs * steps))
        if end < self.options.begin_step:
            raise ValueError(
                f"begin_step ({self.options.begin_step}) is after the derived end_step ({end} = "
                f"{self.ramp_fraction} of {epochs} epochs x {steps} steps); pass end_step= or a "
                "smaller begin_step"
            )
        log.info("Prune: end_step=%d (%.0f%% of %d x %d steps)", end, 100 * self.ramp_fraction, epochs, steps)
        return end

    def _warn_if_coarse(self) -> None:
        o = self.options
        if self.end_step - o.begin_step < o.frequency and self.end_step > o.begin_step:
            warnings.warn(
                f"Prune: frequency={o.frequency} is not smaller than the pruning ramp "
                f"(begin_step={o.begin_step} to end_step={self.end_step}), so the masks jump to "
                f"the target in one step; pass a smaller frequency for gradual pruning",
                UserWarning,
                stacklevel=3,
            )

    def _start_wrapped_steps(self) -> None:
        """``UpdatePruningStep.on_train_begin``: a fresh wrapper's step goes from -1 to 0."""
        for layer in {id(w): w for w in _all_layers(self.model) if _is_wrapped(w)}.values():
            if int(layer.pruning_step.numpy()) == -1:
                layer.pruning_step.assign(0)

    def _maybe_update_masks(self, step: int) -> None:
        """Recompute the plain layers' masks if ``step`` is a mask-update step."""
        plain = [t for t in self._targets if not t.wrapped]
        if not plain:
            return
        update, sparsity = self.schedule(step)
        if not update:
            return
        for target in plain:
            kernel = target.variable.numpy()
            weights = kernel.reshape(_product_shape(kernel.shape))  # a convolution: its per-pixel product
            if self.options.structure == "filter":
                axes = 2 if target.attr == "depthwise_kernel" else 1
                keep = filter_mask(kernel, sparsity, axes)
                if target.bias_mask is not None:  # output channel o: W[..., o] (depthwise: W[..., c, m], o = c * m_count + m)
                    filters = np.asarray(keep).reshape(-1, int(np.prod(kernel.shape[kernel.ndim - axes:])))
                    target.bias_mask.assign(filters.any(axis=0))
            elif self.options.structure == "tap":
                keep = tap_mask(kernel, sparsity)
            elif self.options.structure == "block":
                keep = block_mask(weights, sparsity, self.options.block_size)
            elif self.options.structure == "balanced":
                keep = balanced_mask(weights, sparsity, self.options.reuse_factor_of(target.name), target.name)
            else:
                keep = magnitude_mask(weights, sparsity)
            target.mask.assign(np.asarray(keep).reshape(kernel.shape))
        log.debug("Prune: step %d, masks at sparsity %.4f", step, sparsity)

    def _apply_masks(self) -> None:
        """Zero every pruned weight, in one graph call (traced once per model)."""
        if self._apply_fn is None:
            variables = [t.variable for t in self._targets]
            masks = [t.mask_source for t in self._targets]
            for t in self._targets:  # structure='filter': the pruned filters' biases too
                if t.bias_mask is not None:
                    variables.append(t.bias)
                    masks.append(t.bias_mask)
            self._apply_fn = tf.function(lambda: _apply_masks(variables, masks))
        self._apply_fn()

    def _measure(self) -> None:
        per_layer: dict[str, list[int]] = {}
        for target in self._targets:
            zeros, size = target.zeros()
            acc = per_layer.setdefault(target.name, [0, 0])
            acc[0] += zeros
            acc[1] += size
        self.layer_sparsity = {name: z / n for name, (z, n) in per_layer.items()}
        total = sum(n for _, n in per_layer.values())
        self.sparsity = sum(z for z, _ in per_layer.values()) / total if total else 0.0


# --------------------------------------------------------------------------- tfmot path
def _qkeras_objects() -> dict[str, Any]:
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict[str, Any] = {}
    _add_supported_quantized_objects(objects)
    return objects


def prunable(
    model: Any,
    target_sparsity: float = 0.75,
    *,
    end_step: int,
    begin_step: int = 0,
    frequency: int = 100,
    power: float = 3,
    structure: str | None = None,
    block_size: int | None = None,
    layers: Sequence[str] | None = None,
) -> Any:
    """A copy of ``model`` whose Dense/QDense layers are wrapped by tfmot ``prune_low_magnitude``.

    The wrappers use tfmot's ``PolynomialDecay(0, target_sparsity, begin_step, end_step,
    power, frequency)``; tfmot needs a fixed ``end_step``.  ``structure='block'`` maps to
    tfmot ``block_size=(block_size, 1)`` (the same groups as :class:`Prune`, but scored by
    the mean magnitude, tfmot's ``'AVG'`` pooling).  Only top-level layers are wrapped.
    Weights are copied; the original model is untouched.  Train with ``Prune()`` (or
    tfmot's ``UpdatePruningStep``) and remove the wrappers with :func:`strip`.
    """
    if end_step is None:
        raise ValueError("prunable() needs end_step: tfmot's PolynomialDecay cannot derive it")
    if structure in ("filter", "tap"):
        raise ValueError(
            f"prunable(): structure={structure!r} has no tfmot equivalent (prune_low_magnitude prunes weights or "
            "fixed blocks); prunable() takes structure None, 'unstructured' or 'block'. Train the plain model with "
            f"Prune(structure={structure!r}) instead"
        )
    if structure == "balanced":
        raise ValueError(
            "prunable(): structure='balanced' has no tfmot equivalent (prune_low_magnitude prunes "
            "weights or fixed blocks); prunable() takes structure None, 'unstructured' or 'block'. "
            "Train the plain model with Prune(structure='balanced', reuse_factor=...) instead"
        )
    opts = _validate(target_sparsity, begin_step, end_step, frequency, power, structure, block_size, layers)
    chosen = {layer.name for layer in _select_layers(model.layers, opts.layers, allow_wrapped=False)}
    schedule = _tfmot_schedule.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=opts.target_sparsity,
        begin_step=opts.begin_step,
        end_step=opts.end_step,
        power=opts.power,
        frequency=opts.frequency,
    )
    block = (opts.block_size, 1) if opts.structure == "block" else (1, 1)

    def clone(layer: Any) -> Any:
        copy = layer.__class__.from_config(layer.get_config())
        if layer.name in chosen:
            return _tfmot_prune.prune_low_magnitude(
                copy, pruning_schedule=schedule, block_size=block, block_pooling_type="AVG"
            )
        return copy

    with k.utils.custom_object_scope(_qkeras_objects()):
        wrapped = k.models.clone_model(model, clone_function=clone)
    for layer in wrapped.layers:
        inner = layer.layer if _is_wrapped(layer) else layer
        layer.set_weights(model.get_layer(inner.name).get_weights())
    return wrapped


def strip(model: Any) -> Any:
    """tfmot ``strip_pruning``, after zeroing the masked weights of every wrapper.

    tfmot's wrappers leave the weights unmasked after the last optimizer step unless a
    callback re-masks them; this applies the masks first, so the stripped model always
    has the exact zeros.
    """
    for layer in _all_layers(model):
        if _is_wrapped(layer):
            for target in _wrapped_targets(layer):
                target.apply()
    return _tfmot_prune.strip_pruning(model)
