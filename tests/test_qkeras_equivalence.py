"""The emulator against the QKeras models' own outputs (export issue, test 2)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from conftest import load_shared_model, representable

N_SAMPLES = 20000


def _inputs(name: str, rng) -> np.ndarray:
    if name == "qkeras_mnist_dense":
        return rng.uniform(0.0, 1.0, size=(N_SAMPLES, 784))
    return rng.standard_normal((N_SAMPLES, 16))


def _keras_outputs(model, names):
    probe = tf.keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    return probe


@pytest.mark.parametrize("name", ["qkeras_3layer", "qkeras_mnist_dense"])
def test_emulator_equals_qkeras_at_every_quantized_layer(name, rng):
    model = load_shared_model(name)
    firmware = fa.to_firmware(model)
    x = representable(firmware, _inputs(name, rng))
    trace = firmware.trace(x)

    qact = [layer.name for layer in model.layers if type(layer).__name__ == "QActivation"]
    assert qact, "the shared QKeras model should contain QActivation layers"
    # Keras values at each quantized layer and at its input (the float32 pre-activation).
    inputs_of = {n: model.get_layer(n).input for n in qact}
    probe = tf.keras.Model(model.inputs, [model.get_layer(n).output for n in qact] + list(inputs_of.values()))
    outs = probe.predict(x.astype(np.float32), batch_size=4096, verbose=0)
    keras_q, keras_pre = outs[: len(qact)], outs[len(qact):]

    ir_names = [layer.name for layer in firmware.ir.layers]
    for name_q, kq, kpre in zip(qact, keras_q, keras_pre):
        ours = trace[name_q]
        differs = np.any(ours != kq, axis=1)
        assert differs.mean() <= 0.001, f"{name_q}: {differs.mean():.4%} of samples differ"
        if differs.any():
            # Every disagreement comes from float32 rounding inside Keras: our exact
            # pre-activation (previous IR layer) and Keras's float32 one differ only by float32
            # rounding, and quantizing *Keras's* float32 value with our type gives Keras's output.
            previous = ir_names[ir_names.index(name_q) - 1]
            exact_pre = trace[previous][differs]
            err = np.abs(exact_pre - kpre[differs].astype(np.float64))
            scale = np.maximum(np.abs(exact_pre), 1.0)
            assert np.all(err <= 64 * np.finfo(np.float32).eps * scale), f"{name_q}: difference beyond float32 rounding"
            qtype = firmware.ir.layer(name_q).result_type
            requantized = qtype.to_float(qtype.from_float(np.maximum(kpre[differs], 0.0) if "relu" in firmware.ir.layer(name_q).function else kpre[differs]))
            np.testing.assert_array_equal(requantized, kq[differs])

    # The final output's argmax agrees on >= 99.9% of samples.
    final = model.predict(x.astype(np.float32), batch_size=4096, verbose=0)
    agree = np.mean(firmware.predict(x).argmax(axis=1) == final.argmax(axis=1))
    assert agree >= 0.999, f"argmax agreement {agree:.4%}"


def test_quantized_weights_are_the_qkeras_quantized_values():
    model = load_shared_model("qkeras_3layer")
    firmware = fa.to_firmware(model)
    for layer in firmware.ir.dense_layers():
        keras_layer = model.get_layer(layer.name)
        expected = keras_layer.kernel_quantizer_internal(keras_layer.kernel).numpy()
        np.testing.assert_array_equal(layer.weight_values(), expected)
        # quantized_bits(6,0) weights are exactly ap_fixed<6,1>
        assert layer.weight_type.width == 6 and layer.weight_type.integer == 1


def test_quantized_relu_maps_to_convergent_saturating_unsigned_type():
    model = load_shared_model("qkeras_3layer")
    firmware = fa.to_firmware(model)
    relu1 = firmware.ir.layer("relu1")
    assert relu1.result_type.cpp() == "ap_ufixed<6,0,AP_RND_CONV,AP_SAT>"
    # QDense results stay exact for the QActivation that follows
    fc1 = firmware.ir.layer("fc1")
    assert fc1.result_type == fc1.accum_type


def test_po2_kernels_become_shift_layers():
    model = load_shared_model("qkeras_mnist_dense")
    firmware = fa.to_firmware(model)
    po2 = firmware.ir.layer("q_dense_2")
    assert po2.uses_shifts and po2.n_mult == 0
    assert not firmware.ir.layer("q_dense_3").uses_shifts


def _qkeras_chain(kernel_quantizer, rng, bias_quantizer="quantized_bits(8,3,alpha=1)"):
    from qkeras import QActivation, QDense

    tf.keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    model = tf.keras.Sequential(
        [
            QActivation("quantized_bits(8,2,alpha=1)", input_shape=(12,), name="qin"),
            QDense(10, kernel_quantizer=kernel_quantizer, bias_quantizer=bias_quantizer, name="qd1"),
            QActivation("quantized_relu(6,2)", name="qr1"),
            QDense(4, kernel_quantizer="quantized_bits(6,0,alpha=1)", bias_quantizer="quantized_bits(6,0,alpha=1)", name="qd2"),
            QActivation("quantized_bits(10,4,alpha=1)", name="qout"),
        ]
    )
    return model


@pytest.mark.parametrize(
    "kernel_quantizer",
    ["quantized_bits(4,0,alpha='auto_po2')", "binary(alpha=1)", "ternary(alpha=1)", "quantized_po2(4,1)", "quantized_bits(8,1,1,alpha=1)"],
)
def test_other_weight_quantizers_are_bit_exact(kernel_quantizer, rng):
    model = _qkeras_chain(kernel_quantizer, rng)
    firmware = fa.to_firmware(model)
    x = representable(firmware, rng.normal(0, 2, (4000, 12)))
    expected = model.predict(x.astype(np.float32), verbose=0)
    mismatch = np.any(firmware.predict(x) != expected, axis=1).mean()
    assert mismatch <= 0.001
    if kernel_quantizer.startswith(("binary", "ternary", "quantized_po2")):
        assert firmware.ir.layer("qd1").uses_shifts


@pytest.mark.parametrize(
    "quantizer, message",
    [
        ("quantized_bits(4,0,alpha='auto')", "non-power-of-two scale"),
        ("quantized_bits(4,0,alpha=1,use_stochastic_rounding=True)", "stochastic rounding"),
    ],
)
def test_unrepresentable_quantizers_are_rejected(quantizer, message, rng):
    model = _qkeras_chain(quantizer, rng)
    with pytest.raises(fa.UnsupportedQuantizerError, match=rf"'qd1'.*{message}"):
        fa.to_firmware(model)


def test_unsupported_activation_quantizer_is_named(rng):
    from qkeras import QActivation, QDense

    model = tf.keras.Sequential(
        [QDense(3, kernel_quantizer="quantized_bits(4,0,alpha=1)", input_shape=(4,), name="d"), QActivation("quantized_ulaw(4)", name="qt")]
    )
    # quantized_tanh converts since issue 10 (a step layer); quantized_ulaw still does not.
    with pytest.raises(fa.UnsupportedQuantizerError, match=r"'qt'.*quantized_ulaw is not supported; supported: quantized_bits, quantized_relu"):
        fa.to_firmware(model)
