"""Float models at ap_fixed<16,6> against Keras (export issue, test 3) and conversion details."""

from __future__ import annotations

import numpy as np
import pytest

import fpga_aware as fa
from conftest import load_shared_model


def test_jet_tagger_argmax_agrees_with_keras(rng):
    model = load_shared_model("KERAS_3layer")
    firmware = fa.to_firmware(model, precision="ap_fixed<16,6>")
    x = rng.standard_normal((20000, 16))
    agree = np.mean(firmware.predict(x).argmax(1) == model.predict(x, verbose=0).argmax(1))
    assert agree >= 0.99, f"argmax agreement {agree:.4%}"


def test_fused_activation_keeps_the_sum_exact_and_applies_the_result_type_after_it():
    model = load_shared_model("KERAS_3layer")
    firmware = fa.to_firmware(model, layer_config={"fc1_relu": {"precision": {"result": "ap_ufixed<8,4>"}}})
    dense, relu = firmware.ir.layer("fc1_relu"), firmware.ir.layer("fc1_relu_relu")
    assert dense.result_type == dense.accum_type
    assert relu.result_type.cpp() == "ap_ufixed<8,4>"


def test_batch_norm_after_linear_dense_is_folded(rng):
    model = load_shared_model("KERAS_3layer_batch_norm")
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    kinds = [layer.kind for layer in firmware.ir.layers]
    assert "scale_shift" not in kinds  # every BN follows a linear Dense
    x = rng.standard_normal((4000, 16))
    agree = np.mean(firmware.predict(x).argmax(1) == model.predict(x, verbose=0).argmax(1))
    assert agree >= 0.99


def test_batch_norm_after_activation_becomes_scale_shift(rng):
    import tensorflow as tf

    inputs = tf.keras.Input((8,), name="x")
    h = tf.keras.layers.Dense(6, activation="relu", name="d1")(inputs)
    h = tf.keras.layers.BatchNormalization(name="bn")(h)
    out = tf.keras.layers.Dense(3, name="d2")(h)
    model = tf.keras.Model(inputs, out)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 2, 6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.5, 2, 6)])
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    assert firmware.ir.layer("bn").kind == "scale_shift"
    x = rng.standard_normal((2000, 8))
    np.testing.assert_allclose(firmware.predict(x), model.predict(x, verbose=0), atol=0.02)


def test_sigmoid_output_model_matches_keras(rng):
    model = load_shared_model("KERAS_1layer")
    firmware = fa.to_firmware(model)
    x = rng.standard_normal((5000, 10))
    np.testing.assert_allclose(firmware.predict(x), model.predict(x, verbose=0), atol=0.02)


def test_pruned_weights_give_pruned_ir():
    model = load_shared_model("KERAS_3layer", "KERAS_3layer_70pruned_retrained_weights")
    firmware = fa.to_firmware(model)
    for layer in firmware.ir.dense_layers():
        assert layer.nonzero_weights == np.count_nonzero(layer.weights)
    total = sum(layer.n_weights for layer in firmware.ir.dense_layers())
    nonzero = sum(layer.nonzero_weights for layer in firmware.ir.dense_layers())
    assert nonzero / total < 0.35


@pytest.mark.parametrize("strategy", ["latency", "Resource"])
def test_strategy_and_reuse_per_layer(strategy):
    model = load_shared_model("KERAS_3layer")
    firmware = fa.to_firmware(
        model, strategy=strategy, reuse_factor=2, layer_config={"fc1_relu": {"reuse_factor": 4, "strategy": "resource"}}
    )
    fc1, fc2 = firmware.ir.layer("fc1_relu"), firmware.ir.layer("fc2_relu")
    assert (fc1.reuse_factor, fc1.strategy) == (4, fa.Strategy.RESOURCE)
    assert (fc2.reuse_factor, fc2.strategy) == (2, fa.Strategy(strategy.lower()))
