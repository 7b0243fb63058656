"""Tests of fpga_aware.training.pruning: tfmot's schedule and kept counts, masks, exact zeros, blocks, balanced, tfmot wrappers."""

from fpga_aware import pruning  # first: sets up the tf-keras stack before TensorFlow loads

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_schedule as tfmot_schedule
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_callbacks import UpdatePruningStep
from tensorflow_model_optimization.python.core.sparsity.keras.prune import prune_low_magnitude

from fpga_aware._stack import keras, tensorflow
from fpga_aware.training.masks import kept_count
from fpga_aware.training.pruning import Prune, balanced_mask, block_mask, magnitude_mask, polynomial_decay, prunable, should_prune, strip

tf = tensorflow()
k = keras()

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y.astype("int64")


def mlp(seed=0, bias_initializer="zeros", dense=k.layers.Dense):
    """64 -> 32 (relu) -> 10 logits."""
    tf.keras.utils.set_random_seed(seed)
    model = k.Sequential(
        [
            k.layers.Input((64,)),
            dense(32, activation="relu", name="fc1", bias_initializer=bias_initializer),
            dense(10, name="out", bias_initializer=bias_initializer),
        ]
    )
    return model


def compile_(model, lr=0.01, optimizer="adam", **kwargs):
    opt = k.optimizers.Adam(lr) if optimizer == "adam" else k.optimizers.SGD(lr)
    model.compile(opt, k.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"], **kwargs)
    return model


def kernels(model):
    """{name: kernel} of every Dense-like layer, unwrapping tfmot wrappers."""
    out = {}
    for layer in model.layers:
        inner = getattr(layer, "layer", layer)
        if hasattr(inner, "kernel"):
            out[inner.name] = inner.kernel.numpy()
    return out


class WatchZeros(k.callbacks.Callback):
    """Placed after Prune: records every kernel's zero count at each batch begin and end and
    fails if a weight whose mask is off is not exactly +0.0 at either point."""

    def __init__(self, prune):
        super().__init__()
        self.prune = prune
        self.begin_zeros = []  # one {layer: zeros} per batch, as the forward pass sees them
        self.violations = []

    def _check(self, when):
        masks = self.prune.masks
        zeros = {}
        for name, w in kernels(self.model).items():
            if name not in masks:
                continue
            off = w[~masks[name]]
            if np.any(off != 0) or np.any(np.signbit(off)):
                self.violations.append((when, name))
            zeros[name] = int(np.sum(w == 0))
        return zeros

    def on_train_batch_begin(self, batch, logs=None):
        self.begin_zeros.append(self._check(("begin", batch)))

    def on_train_batch_end(self, batch, logs=None):
        self._check(("end", batch))


# --------------------------------------------------------------------------- schedule
SCHEDULES = [
    # target, begin, end, frequency, power
    (0.75, 0, 228, 100, 3),
    (0.5, 5, 100, 7, 2),
    (0.9, 0, 1000, 100, 3),
    (0.33, 3, 17, 1, 1.5),
    (0.8, 10, 10, 5, 3),  # begin == end is allowed by tfmot's validation
]

# How far a float32 sparsity of ours or tfmot's may lie from the exact value.
#
# Both compute, in float32, p = (step - begin) / (end - begin) and b = 1 - p (IEEE division and
# subtraction: correctly rounded, so identical in numpy and TensorFlow), then
# s = target - target * pow(b, power).  Only pow differs: numpy's and TensorFlow's (Eigen's)
# float32 pow are faithful but not correctly rounded, and on some CPUs they differ by an ulp
# (seen: 0.7925794 vs 0.7925795 at step 17 of the 228-step ramp).  With d = b**power exact:
#   |pow error|                 <= POW_ULPS * ulp(d)
#   |product error|             <= target * POW_ULPS * ulp(d) + ulp(target * d) / 2
#   |sparsity error|            <= the above + ulp(s) / 2
# (rounding adds at most half an ulp; a whole ulp is used for each so that a result rounded
# across a power of two is covered).  The cancellation s = target * (1 - d) amplifies it
# early in the ramp: relative to s the bound is about (POW_ULPS + 1) * 2**-23 * d / (1 - d),
# 11 ulps of s at step 17 of the 228-step ramp but 180 at step 3 of the 1000-step ramp, where
# d / (1 - d) = 110 (seen there: 0.008075833 vs 0.008075774).  In absolute terms it stays
# below 3e-7: under a third of one kept weight for a layer of 10**6 weights.
POW_ULPS = 2  # measured worst: 0.89 ulp for numpy, 0.5 ulp for TensorFlow, over all steps here


def exact_sparsity(step, target, begin, end, power):
    """(exact sparsity of tfmot's float32 inputs, bound on the float32 error of any faithful pow)."""
    f32 = np.float32
    b = f32(1.0) - np.minimum(f32(1.0), np.maximum(f32(0.0), f32(step - begin) / f32(end - begin)))
    t = float(f32(target))
    d = float(b) ** float(power)  # float64: exact to ~1e-16, far below the float32 bound
    exact = t - t * d
    ulp = lambda x: float(np.spacing(f32(abs(x))))  # noqa: E731
    return exact, t * POW_ULPS * ulp(d) + ulp(t * d) + ulp(exact)


def schedule_steps(begin, end):
    return sorted(set(range(0, min(end + 25, 150))) | set(range(0, end + 25, 9)) | {end - 1, end, end + 1})


def test_sparsity_bound_covers_the_observed_pow_differences():
    """The bound is not vacuous: it is a few float32 ulps of s (tens where s cancels), and it
    covers the two differences seen between numpy's and TensorFlow's pow on other CPUs."""
    seen = [((17, 0.75, 0, 228, 3), 0.15556544, 0.15556538), ((3, 0.9, 0, 1000, 3), 0.008075833, 0.008075774)]
    for args, a, b in seen:
        exact, bound = exact_sparsity(*args)
        assert abs(a - exact) <= bound and abs(b - exact) <= bound, args
    exact, bound = exact_sparsity(17, 0.75, 0, 228, 3)
    assert bound <= 12 * np.spacing(np.float32(exact))  # 11 ulps of s: t*d is 3.8 s here
    exact, bound = exact_sparsity(3, 0.9, 0, 1000, 3)
    assert bound <= 200 * np.spacing(np.float32(exact))  # 180 ulps of s: the cancellation, d / (1 - d) = 110
    assert max(exact_sparsity(s, t, b, e, p)[1] for t, b, e, _, p in SCHEDULES if b != e for s in schedule_steps(b, e)) < 3e-7


@pytest.mark.parametrize("target,begin,end,frequency,power", SCHEDULES)
def test_schedule_matches_tfmot_polynomial_decay(target, begin, end, frequency, power):
    reference = tfmot_schedule.PolynomialDecay(0.0, target, begin, end, power=power, frequency=frequency)
    for step in schedule_steps(begin, end):
        update, sparsity = (t.numpy() for t in reference(tf.constant(step, tf.int64)))
        assert should_prune(step, begin, end, frequency) == bool(update), step  # integer rule: exact
        ours = polynomial_decay(step, target, begin, end, power)
        if end == begin:  # tfmot divides 0 by 0 there; ours is one-shot pruning
            assert ours == (np.float32(target) if step >= begin else 0.0)
            continue
        assert ours == float(np.float32(ours)), "the schedule is float32, as tfmot's"
        exact, bound = exact_sparsity(step, target, begin, end, power)
        # not bit for bit: numpy's and TensorFlow's float32 pow differ by an ulp on some CPUs
        assert abs(ours - exact) <= bound, (step, ours, exact, bound)
        assert abs(float(sparsity) - exact) <= bound, (step, float(sparsity), exact, bound)
        if step >= end:
            assert ours == float(sparsity) == float(np.float32(target)), step  # pow(0, power) is exactly 0


def kept_f32(size, sparsity):
    """tfmot's k = max(round(float32(size) * (1 - sparsity)), 1), evaluated in float32 (half to even)."""
    f32 = np.float32
    return int(max(np.round(f32(size) * (f32(1.0) - f32(sparsity))), f32(1.0)))


LAYER_SHAPES = [(16, 64), (64, 32), (784, 128)]


@pytest.fixture(scope="module")
def distinct_kernels():
    """Kernels of realistic sizes whose magnitudes are all distinct, so that a mask keeps exactly k."""
    rng = np.random.default_rng(7)
    return [(rng.permutation(n_in * n_out).reshape(n_in, n_out) + 1).astype("float32") for n_in, n_out in LAYER_SHAPES]


@pytest.mark.parametrize("target,begin,end,frequency,power", [s for s in SCHEDULES if s[1] != s[2]])
def test_kept_count_matches_tfmot_at_every_step(distinct_kernels, target, begin, end, frequency, power):
    """What users depend on: at every step, each layer keeps as many weights as tfmot's mask does.

    tfmot (pruning_impl.Pruning._update_mask) keeps k = max(round(float32(size) * (1 - s)), 1)
    weights, s being its float32 schedule.  Ours and tfmot's s may differ by an ulp or a few
    (see POW_ULPS), which changes k only if size * (1 - s) lies within size * bound of a
    rounding boundary (k + 1/2).  Only there -- detected from the exact sparsity -- either
    neighbour is accepted; everywhere else the counts must be equal.  Such steps are counted
    and must stay rare.
    """
    step_var = tf.Variable(0, dtype=tf.int64)
    variables = [tf.Variable(w) for w in distinct_kernels]
    impl = pruning_impl.Pruning(
        training_step_fn=lambda: step_var,
        pruning_vars=[(v, tf.Variable(tf.ones_like(v)), tf.Variable(0.0)) for v in variables],
        pruning_schedule=tfmot_schedule.PolynomialDecay(0.0, target, begin, end, power=power, frequency=frequency),
        block_size=(1, 1),
        block_pooling_type="AVG",
    )
    tfmot_counts = tf.function(lambda: [tf.reduce_sum(impl._update_mask(v)[1]) for v in variables])  # graph, as in fit
    checks = ambiguous = 0
    expected = 0.0  # expected number of ambiguous checks: the bracket is size * 2 * bound kept weights wide
    for step in schedule_steps(begin, end):
        step_var.assign(step)
        theirs = [int(c.numpy()) for c in tfmot_counts()]
        sparsity = polynomial_decay(step, target, begin, end, power)
        exact, bound = exact_sparsity(step, target, begin, end, power)
        for weights, tfmot_kept in zip(distinct_kernels, theirs):
            size = weights.size
            ours = int(magnitude_mask(weights, sparsity).sum())
            assert ours == kept_count(size, sparsity)
            most = kept_f32(size, np.nextafter(np.float32(exact - bound), np.float32(-1)))
            least = kept_f32(size, np.nextafter(np.float32(exact + bound), np.float32(2)))
            checks += 1
            expected += size * 2 * bound
            if least == most:
                assert ours == tfmot_kept == least, (step, weights.shape, ours, tfmot_kept)
            else:  # an ulp of s could decide the rounding: either neighbour is right
                ambiguous += 1
                assert most - least == 1, (step, weights.shape, least, most)
                assert least <= ours <= most and least <= tfmot_kept <= most, (step, weights.shape)
    assert checks == 3 * len(schedule_steps(begin, end))
    # Rare: on this data 0-5 of 126-747 checks (all in the 784x128 layer; expected 0.4-7.6).
    # The bracket comes from the exact sparsity, so this count is the same on every machine.
    assert ambiguous <= 2 * expected + 2, f"{ambiguous} of {checks} kept counts at a rounding boundary, expected {expected:.1f}"


def test_schedule_also_updates_at_end_step_not_aligned_with_frequency():
    prune = Prune(0.6, begin_step=3, end_step=50, frequency=4)
    updates = [step for step in range(0, 80) if prune.schedule(step)[0]]
    tfmot_updates = [s for s in range(0, 80) if should_prune(s, 3, 50, 4)]
    assert tfmot_updates[-1] == 47  # tfmot alone would stop short of the target
    assert updates == tfmot_updates + [50]
    assert prune.schedule(50)[1] == pytest.approx(0.6)
    assert prune.schedule(47)[1] < 0.6


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.75, 0.9, 0.999])
def test_magnitude_mask_matches_tfmot_threshold(sparsity):
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(37, 11)).astype("float32")
    weights[3, :] = 0.0  # ties at zero, as after earlier pruning
    w = tf.Variable(weights)
    schedule = tfmot_schedule.ConstantSparsity(sparsity, 0)
    impl = pruning_impl.Pruning(
        training_step_fn=lambda: tf.constant(1, tf.int64),
        pruning_vars=[(w, tf.Variable(tf.ones_like(w)), tf.Variable(0.0))],
        pruning_schedule=schedule,
        block_size=(1, 1),
        block_pooling_type="AVG",
    )
    _, reference = impl._update_mask(w)
    np.testing.assert_array_equal(magnitude_mask(weights, sparsity), reference.numpy().astype(bool))


def test_block_mask_groups_consecutive_inputs_by_l2_norm():
    # n_in=5 with block 2: groups rows [0:2], [2:4], [4:5] of each column
    w = np.array(
        [
            [1.0, 0.1],
            [1.0, 0.1],
            [0.0, 0.1],
            [1.5, 3.0],  # group (2:4, col 0): L2 1.5 beats mean-|w| 0.75 < 1.0
            [0.2, 0.0],
        ]
    )
    keep = block_mask(w, sparsity=0.5, block_size=2)  # 6 groups -> keep 3
    expected = np.array([[1, 0], [1, 0], [1, 1], [1, 1], [0, 0]], dtype=bool)
    np.testing.assert_array_equal(keep, expected)


def check_balanced(weights, sparsity, r, keep):
    """The properties of a balanced mask, checked from the weights alone."""
    n_in, n_out = weights.shape
    groups = n_in // r
    kept_groups = kept_count(groups * n_out, sparsity)
    counts = keep.sum(axis=0)
    assert np.all(counts % r == 0), counts
    assert keep.sum() == kept_groups * r
    magnitude = np.abs(weights.astype(np.float64))
    kept_scores, dropped_scores = [], []
    for o in range(n_out):
        column, mask = magnitude[:, o], keep[:, o]
        if mask.any() and not mask.all():  # a column keeps its largest weights
            assert column[mask].min() >= column[~mask].max(), o
        ranked = np.sort(column)[::-1]
        scores = ranked[r - 1 : groups * r : r]  # the smallest |w| of each whole group
        c = counts[o] // r
        kept_scores += list(scores[:c])
        dropped_scores += list(scores[c:])
    if kept_scores and dropped_scores:  # the kept groups are a top choice (ties either way)
        assert min(kept_scores) >= max(dropped_scores)


@pytest.mark.parametrize("shape,r", [((16, 8), 4), ((10, 7), 3), ((64, 32), 4), ((5, 3), 5), ((9, 4), 1)])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9, 0.999])
def test_balanced_mask_keeps_whole_groups_of_the_reuse_factor(shape, r, sparsity):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1] * 10 + r)
    weights = rng.normal(size=shape).astype("float32")
    check_balanced(weights, sparsity, r, balanced_mask(weights, sparsity, r))
    ties = np.round(weights, 1)  # many equal magnitudes
    ties[0, :] = 0.0
    keep = balanced_mask(ties, sparsity, r)
    check_balanced(ties, sparsity, r, keep)
    np.testing.assert_array_equal(keep, balanced_mask(ties, sparsity, r))  # deterministic


def test_balanced_mask_example_and_reuse_factor_one():
    # columns ranked: col 0 |w| 4 3 2 1 -> groups (4, 3) score 3, (2, 1) score 1;
    #                 col 1 |w| 9 8 0.5 0.1 -> groups score 8, 0.1.  Keep 2 of 4 groups.
    w = np.array([[4.0, -0.5], [-1.0, 9.0], [3.0, 0.1], [2.0, -8.0]])
    keep = balanced_mask(w, 0.5, 2)
    np.testing.assert_array_equal(keep, np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=bool))
    # the leftover ranks of n_in % R are always pruned: 3 groups of 1 weight, keep 2
    keep = balanced_mask(np.array([[1.0], [5.0], [3.0]]), 0.0, 2)  # one whole group per column
    np.testing.assert_array_equal(keep[:, 0], [False, True, True])
    # R = 1 is plain magnitude pruning (distinct magnitudes: no tie decides)
    distinct = np.random.default_rng(3).permutation(96).reshape(12, 8) + 1.0
    for sparsity in (0.25, 0.5, 0.8):
        np.testing.assert_array_equal(balanced_mask(distinct, sparsity, 1), magnitude_mask(distinct, sparsity))


def test_balanced_mask_needs_reuse_factor_at_most_n_in():
    with pytest.raises(ValueError, match=r"layer 'fc1': structure='balanced' needs reuse_factor <= n_in, got reuse_factor=9 for n_in=8"):
        balanced_mask(np.ones((8, 2)), 0.5, 9, name="fc1")
    with pytest.raises(ValueError, match=r"balanced pruning needs a 2-D kernel"):
        balanced_mask(np.ones((8,)), 0.5, 2)


# --------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def trained(digits):
    """One fit of the digits MLP with Prune(0.75) defaults, watched at every batch."""
    x, y = digits
    model = compile_(mlp(bias_initializer="ones"))
    prune = Prune(0.75)
    watch = WatchZeros(prune)
    history = model.fit(x, y, epochs=5, batch_size=32, callbacks=[prune, watch], verbose=0)
    return model, prune, watch, history, int(np.ceil(len(x) / 32))


def test_fit_reaches_target_with_exact_zeros(trained):
    model, prune, _, history, steps = trained
    assert prune.end_step == round(0.8 * 5 * steps)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        assert abs(np.mean(kernel == 0) - 0.75) <= 0.01, layer.name
        assert not np.any(np.signbit(kernel[kernel == 0])), "pruned weights must be +0.0"
        np.testing.assert_array_equal(kernel != 0, prune.masks[layer.name])
        assert np.all(bias != 0), "biases are never pruned"
    assert history.history["accuracy"][-1] > 0.8


def test_zeros_stay_zero_at_every_batch(trained):
    _, prune, watch, _, steps = trained
    assert watch.violations == []
    assert len(watch.begin_zeros) == 5 * steps
    # the forward pass of batch n (step n) sees exactly the zeros of the last mask update <= n
    for n, seen in enumerate(watch.begin_zeros, start=1):
        updates = [s for s in range(1, n + 1) if prune.schedule(s)[0]]
        sparsity = prune.schedule(updates[-1])[1] if updates else 0.0
        for name, kernel in kernels(prune.model).items():
            kept = kept_count(kernel.size, sparsity)
            assert seen[name] == kernel.size - kept, (n, name)


def test_history_logs_increasing_sparsity(trained):
    _, prune, _, history, _ = trained
    logged = history.history["sparsity"]
    assert len(logged) == 5
    assert np.all(np.diff(logged) >= 0)
    assert logged[0] < logged[-1]
    assert logged[-1] == pytest.approx(prune.sparsity)
    assert set(prune.layer_sparsity) == {"fc1", "out"}
    assert all(abs(v - 0.75) <= 0.01 for v in prune.layer_sparsity.values())


def test_same_masks_and_weights_as_tfmot(digits):
    """Same model, data order and schedule: Prune and tfmot's wrappers train bit-identically."""
    x, y = digits[0][:640], digits[1][:640]
    schedule = dict(begin_step=3, end_step=31, frequency=4)  # (end - begin) % frequency == 0
    # Bit-identical holds on any CPU only if an ulp of pow (ours: numpy, tfmot: TensorFlow)
    # cannot change a kept count: no update step of this schedule is at a rounding boundary.
    for step in range(3, 32, 4):
        exact, bound = exact_sparsity(step, 0.8, 3, 31, 3)
        for size in (64 * 32, 32 * 10):
            assert kept_f32(size, exact - bound) == kept_f32(size, exact + bound), (step, size)
    ours = compile_(mlp(seed=1), lr=0.1, optimizer="sgd")
    ours.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[Prune(0.8, **schedule)])
    reference = tfmot_schedule.PolynomialDecay(0.0, 0.8, frequency=4, begin_step=3, end_step=31)
    theirs = compile_(prune_low_magnitude(mlp(seed=1), pruning_schedule=reference), lr=0.1, optimizer="sgd")
    theirs.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[UpdatePruningStep()])
    ours_k, theirs_k = kernels(ours), kernels(theirs)
    for name in ("fc1", "out"):
        np.testing.assert_array_equal(ours_k[name] == 0, theirs_k[name] == 0)
        np.testing.assert_array_equal(ours_k[name], theirs_k[name])


def test_layers_option_restricts_pruning(digits):
    x, y = digits
    model = compile_(mlp())
    prune = Prune(0.5, end_step=20, frequency=5, layers=["fc1"])
    model.fit(x[:640], y[:640], epochs=2, batch_size=32, callbacks=[prune], verbose=0)
    weights = kernels(model)
    assert np.mean(weights["fc1"] == 0) == pytest.approx(0.5, abs=0.01)
    assert np.count_nonzero(weights["out"] == 0) == 0
    assert set(prune.layer_sparsity) == {"fc1"}


def test_qdense_kernels_are_pruned(digits):
    from qkeras import QDense, quantized_bits

    def qdense(units, **kw):
        return QDense(units, kernel_quantizer=quantized_bits(8, 2, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), **kw)

    x, y = digits
    model = compile_(mlp(dense=qdense))
    prune = Prune(0.6, end_step=30, frequency=5)
    model.fit(x[:640], y[:640], epochs=2, batch_size=32, callbacks=[prune], verbose=0)
    for name, kernel in kernels(model).items():
        assert np.mean(kernel == 0) == pytest.approx(0.6, abs=0.01), name


def test_block_structure_prunes_whole_groups(digits):
    x, y = digits
    model = compile_(mlp())
    prune = Prune(0.5, end_step=30, frequency=5, structure="block", block_size=4)
    model.fit(x[:640], y[:640], epochs=2, batch_size=32, callbacks=[prune], verbose=0)
    for name, kernel in kernels(model).items():
        n_in, n_out = kernel.shape  # 64 and 32 inputs: whole groups of 4
        groups = (kernel == 0).reshape(n_in // 4, 4, n_out)
        all_zero = groups.all(axis=1)
        assert np.array_equal(all_zero, groups.any(axis=1)), f"{name}: a group is partly zero"
        assert np.mean(all_zero) == pytest.approx(0.5, abs=0.01), name


def test_balanced_structure_keeps_multiples_of_the_reuse_factor(digits):
    import fpga_aware as fa

    x, y = digits
    model = compile_(mlp())
    prune = Prune(target_sparsity=0.5, end_step=30, frequency=5, structure="balanced", reuse_factor=4)
    watch = WatchZeros(prune)
    model.fit(x[:640], y[:640], epochs=2, batch_size=32, callbacks=[prune, watch], verbose=0)
    assert watch.violations == []
    for name, kernel in kernels(model).items():
        n_in, n_out = kernel.shape
        counts = np.count_nonzero(kernel, axis=0)
        assert np.all(counts % 4 == 0), f"{name}: {counts}"
        assert counts.sum() == kept_count(n_out * (n_in // 4), 0.5) * 4, name
        np.testing.assert_array_equal(kernel != 0, prune.masks[name])
    # the firmware stores exactly those weights: nnz / R multipliers, no partly filled cycle
    firmware = fa.to_firmware(model, reuse_factor=4)
    for layer in firmware.ir.dense_layers():
        assert layer.nonzero_weights == np.count_nonzero(kernels(model)[layer.name])
        assert layer.multipliers_per_cycle * 4 == layer.nonzero_weights, layer.name
        # every lane of the schedule multiplies 4 terms of one output: one register per lane
        summary = layer.schedule.summary()
        assert summary["segment_boundaries"] == 0 and summary["padded_slots"] == 0, (layer.name, summary)
        assert summary["registers"] == summary["lanes"]
    assert firmware.predict(x[:4]).shape == (4, 10)


def test_balanced_reuse_factor_per_layer_on_qdense(digits):
    from qkeras import QDense, quantized_bits

    def qdense(units, **kw):
        return QDense(units, kernel_quantizer=quantized_bits(8, 2, alpha=1), bias_quantizer=quantized_bits(8, 2, alpha=1), **kw)

    x, y = digits
    model = compile_(mlp(dense=qdense))
    reuse = {"fc1": 8, "out": 3}  # out: n_in = 32, so 10 whole groups of 3 per column, 2 inputs always pruned
    prune = Prune(0.6, end_step=20, frequency=5, structure="balanced", reuse_factor=reuse)
    model.fit(x[:320], y[:320], epochs=2, batch_size=32, callbacks=[prune], verbose=0)
    for name, kernel in kernels(model).items():
        r = reuse[name]
        counts = prune.masks[name].sum(axis=0)
        assert np.all(counts % r == 0), f"{name}: {counts}"
        assert counts.sum() == kept_count(kernel.shape[1] * (kernel.shape[0] // r), 0.6) * r, name
        assert np.all(kernel[~prune.masks[name]] == 0), name


def test_balanced_layer_checks_at_train_begin():
    with pytest.raises(ValueError, match=r"reuse_factor has no entry for pruned layer\(s\) \['out'\]"):
        fit_one_batch(compile_(mlp()), Prune(end_step=10, structure="balanced", reuse_factor={"fc1": 4}))
    with pytest.raises(ValueError, match=r"reuse_factor names unknown layer\(s\) \['fc9'\]; the model has: fc1 \(Dense\)"):
        fit_one_batch(compile_(mlp()), Prune(end_step=10, structure="balanced", reuse_factor={"fc1": 4, "out": 4, "fc9": 2}))
    # out has n_in = 32: refused before any training, whatever the schedule
    model = compile_(mlp())
    before = kernels(model)
    with pytest.raises(ValueError, match=r"layer 'out': structure='balanced' needs reuse_factor <= n_in, got reuse_factor=40 for n_in=32"):
        fit_one_batch(model, Prune(end_step=10, structure="balanced", reuse_factor=40))
    for name, kernel in kernels(model).items():
        np.testing.assert_array_equal(kernel, before[name])
    # layers= restricts which layers need an entry
    prune = Prune(end_step=1, frequency=1, structure="balanced", reuse_factor={"fc1": 4}, layers=["fc1"])
    fit_one_batch(compile_(mlp()), prune)
    assert np.all(prune.masks["fc1"].sum(axis=0) % 4 == 0) and set(prune.masks) == {"fc1"}


def test_balanced_on_wrapped_layers_keeps_tfmot_masks(digits):
    x, y = digits
    wrapped = compile_(prunable(mlp(), 0.5, end_step=10, frequency=5))
    prune = Prune(0.5, structure="balanced", reuse_factor=4)
    with pytest.warns(UserWarning, match=r"structure='balanced'\) does not apply to") as record:
        wrapped.fit(x[:320], y[:320], epochs=1, batch_size=32, callbacks=[prune], verbose=0)
    messages = [str(w.message) for w in record]
    assert all(any(f"apply to {name!r}" in m for m in messages) for name in ("fc1", "out")), messages
    assert prune.sparsity == pytest.approx(0.5, abs=0.01)  # tfmot's unstructured masks, as with 'block'
    with pytest.raises(ValueError, match=r"prunable\(\): structure='balanced' has no tfmot equivalent"):
        prunable(mlp(), 0.5, end_step=10, structure="balanced")


def test_tfmot_wrapped_model(digits):
    x, y = digits
    wrapped = prunable(mlp(), 0.5, end_step=30, frequency=5)
    assert [type(layer).__name__ for layer in wrapped.layers] == ["PruneLowMagnitude"] * 2
    compile_(wrapped)
    prune = Prune(0.5)  # no UpdatePruningStep needed: tfmot would fail without it
    watch = WatchZeros(prune)
    history = wrapped.fit(x[:640], y[:640], epochs=3, batch_size=32, callbacks=[prune, watch], verbose=0)
    assert watch.violations == []
    assert history.history["sparsity"][-1] == pytest.approx(0.5, abs=0.01)
    plain = strip(wrapped)
    assert [type(layer).__name__ for layer in plain.layers] == ["Dense", "Dense"]
    for name, kernel in kernels(plain).items():
        assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.01), name
        assert not np.any(np.signbit(kernel[kernel == 0]))


def test_prunable_copies_weights_and_block_option():
    model = mlp()
    wrapped = prunable(model, 0.5, end_step=10, structure="block", block_size=4, layers=["fc1"])
    assert type(wrapped.layers[0]).__name__ == "PruneLowMagnitude"
    assert wrapped.layers[0].block_size == (4, 1)
    assert type(wrapped.layers[1]).__name__ == "Dense"
    for old, new in zip(model.layers, wrapped.layers):
        for a, b in zip(old.get_weights(), new.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_wrapped_schedule_mismatch_warns(digits):
    x, y = digits
    wrapped = compile_(prunable(mlp(), 0.5, end_step=10))
    with pytest.warns(UserWarning, match=r"does not apply to 'fc1'.*prunes it to 0.5"):
        wrapped.fit(x[:64], y[:64], epochs=1, batch_size=32, callbacks=[Prune(0.9)], verbose=0)


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(target_sparsity=1.0), ValueError, r"target_sparsity must be in the range \[0, 1\)"),
        (dict(target_sparsity=-0.1), ValueError, r"target_sparsity must be in the range \[0, 1\)"),
        (dict(target_sparsity="0.5"), TypeError, r"target_sparsity must be a number"),
        (dict(frequency=0), ValueError, r"frequency must be an integer >= 1"),
        (dict(power=0), ValueError, r"power must be a number > 0"),
        (dict(power=-2), ValueError, r"power must be a number > 0"),
        (dict(begin_step=10, end_step=5), ValueError, r"begin_step \(10\) must be <= end_step \(5\)"),
        (dict(begin_step=-1), ValueError, r"begin_step must be an integer >= 0"),
        (dict(structure="channel"), ValueError, r"structure must be one of"),
        (dict(structure="block"), ValueError, r"structure='block' needs block_size"),
        (dict(block_size=4), ValueError, r"block_size=4 is only used with structure='block'"),
        (dict(structure="balanced"), ValueError, r"structure='balanced' needs reuse_factor, an integer >= 1 or a dict"),
        (dict(reuse_factor=4), ValueError, r"reuse_factor=4 is only used with structure='balanced'"),
        (dict(structure="block", block_size=4, reuse_factor=4), ValueError, r"reuse_factor=4 is only used with structure='balanced'"),
        (dict(structure="balanced", reuse_factor=4, block_size=4), ValueError, r"block_size=4 is only used with structure='block'"),
        (dict(structure="balanced", reuse_factor=0), ValueError, r"reuse_factor must be an integer >= 1 or a dict \{layer name: integer >= 1\}, got 0"),
        (dict(structure="balanced", reuse_factor=2.0), ValueError, r"reuse_factor must be an integer >= 1 or a dict"),
        (dict(structure="balanced", reuse_factor=True), ValueError, r"reuse_factor must be an integer >= 1 or a dict"),
        (dict(structure="balanced", reuse_factor={}), ValueError, r"reuse_factor must name at least one layer"),
        (dict(structure="balanced", reuse_factor={"fc1": 0}), ValueError, r"reuse_factor\['fc1'\] must be an integer >= 1, got 0"),
        (dict(structure="balanced", reuse_factor={1: 4}), TypeError, r"reuse_factor keys must be layer names"),
        (dict(layers="fc1"), TypeError, r"layers must be a list of layer names"),
        (dict(layers=[]), ValueError, r"layers must name at least one layer"),
        (dict(ramp_fraction=0), ValueError, r"ramp_fraction must be in the range \(0, 1\]"),
    ],
)
def test_bad_options_raise(kwargs, error, match):
    with pytest.raises(error, match=match):
        Prune(**kwargs)


def fit_one_batch(model, prune, x=None, **fit_kwargs):
    x = np.zeros((8,) + tuple(model.input_shape[1:]), "float32") if x is None else x
    y = np.zeros((len(x),), "int64")
    model.fit(x, y, epochs=1, batch_size=8, callbacks=[prune], verbose=0, **fit_kwargs)


def test_model_without_prunable_layers_raises():
    model = k.Sequential([k.layers.Input((4,)), k.layers.Activation("relu", name="act")])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"no prunable layer; prunable layers are Dense, QDense.*act \(Activation\)"):
        fit_one_batch(model, Prune())


def test_unknown_layer_names_raise():
    model = compile_(mlp())
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['fc9'\]; the model has: fc1 \(Dense\), out \(Dense\)"):
        fit_one_batch(model, Prune(layers=["fc1", "fc9"]))


def test_non_prunable_named_layer_raises():
    model = k.Sequential([k.layers.Input((4,)), k.layers.Dense(3, name="fc"), k.layers.Activation("relu", name="act")])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"layer 'act' \(Activation\) is not prunable; prunable layers are Dense, QDense"):
        fit_one_batch(model, Prune(layers=["act"]))


def test_begin_step_after_derived_end_step_raises():
    with pytest.raises(ValueError, match=r"begin_step \(500\) is after the derived end_step"):
        fit_one_batch(compile_(mlp()), Prune(begin_step=500))


def test_unknown_steps_per_epoch_needs_end_step():
    def batches():
        yield np.zeros((8, 64), "float32"), np.zeros((8,), "int64")

    data = tf.data.Dataset.from_generator(
        batches,
        output_signature=(tf.TensorSpec((None, 64), tf.float32), tf.TensorSpec((None,), tf.int64)),
    )
    model = compile_(mlp())
    with pytest.raises(ValueError, match=r"pass end_step= to Prune or steps_per_epoch= to fit"):
        model.fit(data, epochs=1, callbacks=[Prune()], verbose=0)


def test_steps_per_execution_above_one_raises():
    model = compile_(mlp(), steps_per_execution=2)
    with pytest.raises(ValueError, match=r"Prune needs steps_per_execution=1"):
        fit_one_batch(model, Prune(end_step=10))


def test_prunable_needs_end_step_and_valid_options():
    with pytest.raises(ValueError, match=r"prunable\(\) needs end_step"):
        prunable(mlp(), 0.5, end_step=None)
    with pytest.raises(ValueError, match=r"target_sparsity must be in the range"):
        prunable(mlp(), 1.5, end_step=10)
    with pytest.raises(ValueError, match=r"unknown layer\(s\) \['nope'\]"):
        prunable(mlp(), 0.5, end_step=10, layers=["nope"])


# --------------------------------------------------------------------------- distribution (last: its subprocess runs alongside the tests above)
MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json
    from fpga_aware import pruning
    from fpga_aware._stack import keras, tensorflow
    tf, k = tensorflow(), keras()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    x = (x[:512] / 16).astype("float32"); y = y[:512]
    tf.keras.utils.set_random_seed(0)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        model = k.Sequential([k.layers.Input((64,)), k.layers.Dense(32, activation="relu", name="fc1"),
                              k.layers.Dense(10, name="out")])
        model.compile("adam", k.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Replicas(k.callbacks.Callback):
        differ = 0
        def on_train_batch_end(self, batch, logs=None):
            for layer in self.model.layers:
                values = [v.numpy() for v in layer.kernel.values]
                self.differ += any(not np.array_equal(values[0], v) for v in values[1:])

    prune, replicas = pruning.Prune(0.6, frequency=4), Replicas()
    history = model.fit(x, y, epochs=2, batch_size=64, callbacks=[prune, replicas], verbose=0)
    print(json.dumps({
        "replicas": strategy.num_replicas_in_sync,
        "differ": replicas.differ,
        "sparsity": [[float(np.mean(v.numpy() == 0)) for v in layer.kernel.values] for layer in model.layers],
        "history": history.history["sparsity"],
    }))
    """
)


MIRRORED_TEST = "test_mirrored_strategy_two_cpu_replicas"


@pytest.fixture(scope="module", autouse=True)
def mirrored_run(request):
    """Start the MirroredStrategy subprocess when the module starts, so that it runs while
    the other tests do (logical devices must be set before TensorFlow initialises them,
    which this process has already done)."""
    if not any(item.name == MIRRORED_TEST for item in request.session.items):
        yield None
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", MIRRORED_SCRIPT],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def test_mirrored_strategy_two_cpu_replicas(mirrored_run):
    try:
        stdout, stderr = mirrored_run.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        mirrored_run.kill()
        raise
    assert mirrored_run.returncode == 0, stderr[-3000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["differ"] == 0, "replicas disagree on the pruned kernels"
    for per_replica in result["sparsity"]:
        assert per_replica[0] == per_replica[1] == pytest.approx(0.6, abs=0.01)
    assert result["history"][-1] == pytest.approx(0.6, abs=0.01)
