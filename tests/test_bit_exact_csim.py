"""Emulator equals the g++ C simulation of the generated project, bit for bit (export issue, tests 1 and 4)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from fpga_aware.core.fixed import Overflow, Rounding
from conftest import load_shared_model

N_INPUTS = 2000

SHARED_CASES = [
    # (model, weights, options for the Resource strategy)
    ("KERAS_3layer", None, {"reuse_factor": 4}),
    ("KERAS_3layer", "KERAS_3layer_70pruned_retrained_weights", {"reuse_factor": 8}),
    ("KERAS_1layer", None, {"reuse_factor": 2}),
    ("qkeras_3layer", None, {"reuse_factor": 4}),
    ("qkeras_mnist_dense", None, {"reuse_factor": 16}),
]


def _inputs(model, rng) -> np.ndarray:
    n_in = int(np.prod(model.input_shape[1:]))
    if n_in == 784:
        return rng.uniform(0, 1, (N_INPUTS, n_in))
    # standard normal, plus some large values that exercise saturation and wrap-around
    x = rng.standard_normal((N_INPUTS, n_in))
    x[: N_INPUTS // 10] *= 40
    return x


def _assert_bit_exact(firmware, x):
    emulated = firmware.predict(x)
    simulated = firmware.predict(x, engine="csim")
    mismatches = int(np.count_nonzero(np.any(emulated != simulated, axis=1)))
    assert mismatches == 0, f"{mismatches} of {len(x)} samples differ between emulator and C simulation"


@pytest.mark.parametrize("strategy", ["latency", "resource"])
@pytest.mark.parametrize("name, weights, resource_options", SHARED_CASES, ids=[c[1] or c[0] for c in SHARED_CASES])
def test_shared_models_emulator_equals_csim(name, weights, resource_options, strategy, rng):
    model = load_shared_model(name, weights)
    options = resource_options if strategy == "resource" else {}
    firmware = fa.to_firmware(model, strategy=strategy, precision="ap_fixed<16,6>", **options)
    _assert_bit_exact(firmware, _inputs(model, rng))


@pytest.mark.parametrize("strategy", ["latency", "resource"])
@pytest.mark.parametrize("name, weights, options", SHARED_CASES[:3], ids=[c[1] or c[0] for c in SHARED_CASES[:3]])
def test_shared_models_saturating_schedules_emulator_equals_csim(name, weights, options, strategy, rng):
    """Shared multipliers with a narrow saturating accumulator (the schedule's order decides
    the result): both strategies, at the cases' reuse factors and at R = 3 (lanes straddling
    outputs)."""
    model = load_shared_model(name, weights)
    narrow = {layer.name: {"precision": {"accum": "ap_fixed<14,4,AP_TRN,AP_SAT>"}}
              for layer in model.layers if hasattr(layer, "kernel")}
    for reuse in (options["reuse_factor"], 3):
        firmware = fa.to_firmware(model, strategy=strategy, precision="ap_fixed<16,6>", reuse_factor=reuse,
                                  layer_config=narrow)
        dense = firmware.ir.dense_layers()
        assert all(layer.schedule.n_cycles == reuse and layer.accum_type.width == 14 for layer in dense)
        _assert_bit_exact(firmware, _inputs(model, rng) * 4)


# ------------------------------------------------------------------------------ property test
ROUNDINGS = [r.value for r in Rounding]
OVERFLOWS = [o.value for o in Overflow]


def _random_type(rng, lo_bits=2, hi_bits=20, modes=True) -> str:
    width = int(rng.integers(lo_bits, hi_bits + 1))
    integer = int(rng.integers(-2, width + 3))
    kind = "ap_fixed" if rng.random() < 0.7 else "ap_ufixed"
    if kind == "ap_ufixed" and width < 1:
        width = 1
    if not modes or rng.random() < 0.3:
        return f"{kind}<{width},{integer}>"
    return f"{kind}<{width},{integer},{rng.choice(ROUNDINGS)},{rng.choice(OVERFLOWS)}>"


def _random_mlp(rng, index: int):
    depth = int(rng.integers(1, 5))
    n_in = int(rng.integers(1, 65))
    layers = [tf.keras.layers.InputLayer(input_shape=(n_in,), name=f"in{index}")]
    activations = ["linear", "relu", "sigmoid", "tanh", "relu"]
    for d in range(depth):
        width = int(rng.integers(1, 65))
        act = activations[int(rng.integers(0, len(activations)))] if d < depth - 1 else rng.choice(["linear", "softmax", "sigmoid"])
        layers.append(tf.keras.layers.Dense(width, activation=str(act), name=f"m{index}_d{d}"))
    model = tf.keras.Sequential(layers)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        sparsity = rng.uniform(0, 0.95)
        kernel = rng.normal(0, rng.uniform(0.1, 4), kernel.shape) * (rng.random(kernel.shape) >= sparsity)
        bias = rng.normal(0, 1, bias.shape)
        layer.set_weights([kernel, bias])
    return model


def _explicit_wrap(precision: str) -> str:
    return f"{precision[:-1]},AP_TRN,AP_WRAP>"


def _random_layer_config(rng, model, firmware_names):
    config = {}
    for name in firmware_names:
        entry = {}
        if rng.random() < 0.8:
            # weights and biases may wrap: asked for explicitly (an unasked overflow raises)
            precision = {"weight": _explicit_wrap(_random_type(rng, 2, 16, modes=False)),
                         "bias": _explicit_wrap(_random_type(rng, 2, 16, modes=False))}
            precision["result"] = _random_type(rng)
            if rng.random() < 0.3:  # a narrow accumulator: rounding and saturation inside the sum
                precision["accum"] = _random_type(rng, 8, 24)
            entry["precision"] = precision
        entry["strategy"] = str(rng.choice(["latency", "resource"]))
        if rng.random() < 0.5:
            entry["reuse_factor"] = int(rng.integers(1, 9))
        config[name] = entry
    return config


@pytest.mark.parametrize("seed", range(12))
def test_random_mlps_emulator_equals_csim(seed):
    rng = np.random.default_rng(1000 + seed)
    model = _random_mlp(rng, seed)
    dense_names = [layer.name for layer in model.layers]
    while True:  # reuse factors must fit each layer: draw until valid
        config = _random_layer_config(rng, model, dense_names)
        try:
            firmware = fa.to_firmware(
                model,
                precision=_random_type(rng, 4, 20),
                layer_config=config,
                project_name=f"prop{seed}",
            )
            break
        except fa.ConfigError as err:
            assert "reuse_factor" in str(err)
        except fa.WeightOverflowError:  # the model-wide type (not asked to wrap) is too narrow: draw again
            pass
    n_in = firmware.ir.n_inputs
    x = rng.normal(0, rng.uniform(0.5, 8), (N_INPUTS, n_in))
    _assert_bit_exact(firmware, x)


# ------------------------------------------------------------------------------ at the limits
# Issue 9, section 1: inputs at and beyond the type limits, widths up to 128 bits, AP_SAT_SYM
# everywhere, and one row at a time against the whole batch.
HUGE = [1e300, -1e300, 1.7976931348623157e308, -1.7976931348623157e308, 2.0**60, -(2.0**60) - 2**8,
        1e18, 5e-324, -5e-324, -2.2250738585072014e-308]


def _limit_type(rng, lo_bits: int, hi_bits: int, sym: bool) -> str:
    """A random type, sometimes wide (up to 128 bits), AP_SAT_SYM half of the time (all if ``sym``)."""
    wide = rng.random() < 0.35
    width = int(rng.integers(54, 129)) if wide else int(rng.integers(lo_bits, hi_bits + 1))
    integer = int(rng.integers(-2, min(width, 40) + 3))
    kind = "ap_fixed" if rng.random() < 0.75 else "ap_ufixed"
    overflow = "AP_SAT_SYM" if sym or rng.random() < 0.5 else str(rng.choice(OVERFLOWS))
    return f"{kind}<{width},{integer},{rng.choice(ROUNDINGS)},{overflow}>"


def _edge_inputs(t, n_rows: int, n_in: int, rng) -> np.ndarray:
    """Inputs at the limits of the input type ``t``: +-1 LSB around max/min, half-LSB ties,
    huge finite doubles, subnormals, and ordinary values."""
    lsb = t.lsb
    edges = [t.max_value, t.min_value, t.max_value + lsb, t.max_value - lsb, t.min_value - lsb,
             t.min_value + lsb, t.max_value + lsb / 2, t.min_value - lsb / 2, lsb / 2, -lsb / 2,
             3 * lsb / 2, -3 * lsb / 2, 0.0] + HUGE
    edges = np.array([e for e in edges if np.isfinite(e)])
    x = rng.normal(0, rng.uniform(0.5, 8), (n_rows, n_in))
    ties = (rng.integers(-50, 50, (n_rows, n_in)) + 0.5) * lsb  # exactly half an LSB off
    pick = rng.random((n_rows, n_in))
    x = np.where(pick < 0.3, ties, x)
    return np.where(pick > 0.7, rng.choice(edges, (n_rows, n_in)), x)


def limit_case(seed: int, n_rows: int = 300, row_by_row: int = 40):
    """One random MLP at the limits: ``(firmware, x, rows)`` (``rows``: indices to check one by one)."""
    rng = np.random.default_rng(50_000 + seed)
    model = _random_mlp(rng, 10_000 + seed)
    sym = seed % 3 == 0  # every type AP_SAT_SYM
    names = [layer.name for layer in model.layers]
    config = {}
    for name in names:
        precision = {"weight": _limit_type(rng, 2, 16, sym), "bias": _limit_type(rng, 2, 16, sym),
                     "result": _limit_type(rng, 2, 20, sym)}
        if rng.random() < 0.3:
            precision["accum"] = _limit_type(rng, 8, 24, sym)
        config[name] = {"precision": precision, "strategy": str(rng.choice(["latency", "resource"]))}
    input_name = f"{model.name}_input"  # the name the parser gives a Sequential model's input
    config[input_name] = {"precision": {"result": _limit_type(rng, 4, 20, sym)}}
    firmware = fa.to_firmware(model, precision=_limit_type(rng, 4, 20, sym), layer_config=config,
                              project_name=f"limit{seed}")
    x = _edge_inputs(firmware.ir.input_type, n_rows, firmware.ir.n_inputs, rng)
    return firmware, x, rng.choice(n_rows, min(row_by_row, n_rows), replace=False)


def assert_limit_case(firmware, x, rows) -> int:
    """Emulator == C simulation on ``x`` and one row at a time == the batch; returns mismatching rows."""
    emulated = firmware.predict(x)
    simulated = firmware.predict(x, engine="csim")
    single = np.concatenate([firmware.predict(x[i:i + 1]) for i in rows])
    np.testing.assert_array_equal(single, emulated[rows])
    return int(np.count_nonzero(np.any(emulated != simulated, axis=1)))


@pytest.mark.parametrize("seed", range(6))
def test_random_mlps_at_the_limits_emulator_equals_csim(seed):
    firmware, x, rows = limit_case(seed)
    mismatches = assert_limit_case(firmware, x, rows)
    assert mismatches == 0, f"{mismatches} of {len(x)} samples differ between emulator and C simulation"
