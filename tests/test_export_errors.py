"""Bad input gets a specific, readable exception (export issue, test 5)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from conftest import load_shared_model


def small_mlp(seed: int = 0, name_prefix: str = "fc"):
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Dense(8, activation="relu", input_shape=(4,), name=f"{name_prefix}1"),
            tf.keras.layers.Dense(3, activation="softmax", name=f"{name_prefix}2"),
        ]
    )
    return model


def test_unsupported_layer_is_named_with_the_supported_list():
    model = tf.keras.Sequential(
        [tf.keras.layers.Conv1DTranspose(4, 3, input_shape=(10, 2), name="conv"), tf.keras.layers.Flatten(),
         tf.keras.layers.Dense(2)]
    )
    with pytest.raises(fa.UnsupportedLayerError,
                       match=r"'conv' of type Conv1DTranspose is not supported.*Dense, QDense.*Conv1D, Conv2D"):
        fa.to_firmware(model)


def test_shared_convolutional_model_converts():
    """Once refused, the shared Conv1D model converts (issue 14; tests/test_conv.py checks it)."""
    model = load_shared_model("KERAS_conv1d_small")
    assert [layer.kind for layer in fa.to_firmware(model).ir.layers].count("conv") == 3


def test_unsupported_activation_is_named():
    model = tf.keras.Sequential([tf.keras.layers.Dense(3, activation="swish", input_shape=(4,), name="d")])
    with pytest.raises(fa.UnsupportedLayerError, match=r"'d'.*activation 'swish'"):
        fa.to_firmware(model)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_weights_raise(bad):
    model = small_mlp()
    kernel, bias = model.get_layer("fc1").get_weights()
    kernel[0, 0] = bad
    model.get_layer("fc1").set_weights([kernel, bias])
    with pytest.raises(fa.InvalidModelError, match=r"'fc1'.*NaN or infinite"):
        fa.to_firmware(model)


@pytest.mark.parametrize(
    "precision, message",
    [
        ("ap_fixed<16>", "2 to 4 arguments"),
        ("ap_fixed<16,6,AP_FOO>", "rounding mode 'AP_FOO' is not one of"),
        ("ap_fixed<16,6,AP_RND,AP_BAR>", "overflow mode 'AP_BAR' is not one of"),
        ("float", "expected ap_fixed<W,I"),
        ("ap_fixed<0,0>", "outside the supported range"),
        ("ap_fixed<16,6,AP_RND,AP_WRAP_SM>", "AP_WRAP_SM is not supported"),
    ],
)
def test_invalid_precision_string(precision, message):
    with pytest.raises(fa.PrecisionError, match=message):
        fa.to_firmware(small_mlp(), precision=precision)


def test_invalid_layer_precision_names_the_layer():
    with pytest.raises(fa.ConfigError, match=r"layer_config\['fc1'\] precision\['weight'\].*ap_fxd"):
        fa.to_firmware(small_mlp(), layer_config={"fc1": {"precision": {"weight": "ap_fxd<8,2>"}}})


@pytest.mark.parametrize("reuse", [0, -2, 2.5, True])
def test_invalid_reuse_factor(reuse):
    with pytest.raises(fa.ConfigError, match="reuse_factor"):
        fa.to_firmware(small_mlp(), reuse_factor=reuse)


def test_too_large_reuse_factor_lists_the_valid_range():
    with pytest.raises(fa.ConfigError, match=r"'fc2'.*valid reuse factors for this 8x3 layer are the integers 1 to 24"):
        fa.to_firmware(small_mlp(), layer_config={"fc2": {"reuse_factor": 25}})


def test_unknown_strategy_io_type_and_options():
    with pytest.raises(fa.ConfigError, match="strategy 'fast' is not one of 'latency', 'resource'"):
        fa.to_firmware(small_mlp(), strategy="fast")
    with pytest.raises(fa.ConfigError, match="io_type 'io_serial' is not supported; allowed: 'io_parallel', 'io_stream'"):
        fa.to_firmware(small_mlp(), io_type="io_serial")
    with pytest.raises(fa.ConfigError, match=r"unknown option\(s\) \['reuse'\]"):
        fa.to_firmware(small_mlp(), layer_config={"fc1": {"reuse": 2}})
    with pytest.raises(fa.ConfigError, match=r"unknown layer\(s\) \['fc9'\].*'fc1'"):
        fa.to_firmware(small_mlp(), layer_config={"fc9": {"reuse_factor": 2}})
    with pytest.raises(fa.ConfigError, match="project_name"):
        fa.to_firmware(small_mlp(), project_name="my project")


@pytest.mark.parametrize("shape", [(5, 3), (5, 4, 1), (4,), (5,)])
def test_wrong_input_shape_to_predict(shape):
    firmware = fa.to_firmware(small_mlp())
    if shape == (4,):  # a single sample is accepted
        assert firmware.predict(np.zeros(shape)).shape == (1, 3)
        return
    with pytest.raises(fa.InputShapeError, match=r"does not match the model input \(None, 4\)"):
        firmware.predict(np.zeros(shape))


def test_unknown_engine():
    with pytest.raises(ValueError, match="engine 'fpga' is not one of"):
        fa.to_firmware(small_mlp()).predict(np.zeros((1, 4)), engine="fpga")


def test_keras3_model_is_rejected():
    keras3 = pytest.importorskip("keras")
    if not keras3.__version__.startswith("3"):
        pytest.skip("keras 3 not installed")
    model = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)])
    with pytest.raises(fa.InvalidModelError, match="expected a tf-keras"):
        fa.to_firmware(model)


def test_branching_model_is_rejected():
    inputs = tf.keras.Input((4,))
    a = tf.keras.layers.Dense(3, name="a")(inputs)
    b = tf.keras.layers.Dense(3, name="b")(inputs)
    out = tf.keras.layers.Add(name="add")([a, b])
    with pytest.raises((fa.InvalidModelError, fa.UnsupportedLayerError)):
        fa.to_firmware(tf.keras.Model(inputs, out))


def test_keras3_in_process_fails_with_instructions():
    import subprocess
    import sys

    code = "import tensorflow as tf; tf.keras.layers.Dense; import fpga_aware"
    env = {"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode != 0
    assert "KerasStackError" in proc.stderr and "TF_USE_LEGACY_KERAS=1" in proc.stderr
