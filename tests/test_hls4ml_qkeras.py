"""hls4ml 1.3.0 ``test/pytest/test_qkeras.py``, the parts for the layers fpga_aware converts:
``test_single_dense_activation_exact``, ``test_btnn``, ``test_quantizer_special``,
``test_quantizer`` and ``test_qactivation_kwarg``.

Same models, inputs and tolerances; the backend and io_type axes are dropped (one backend,
io_parallel); hls4ml's unseeded ``np.random.rand`` inputs are seeded here.  Where fpga_aware is
bit-exact against QKeras and hls4ml only asks for a tolerance (``test_quantizer_special``), the
test also asserts equality.  ``test_qactivation_kwarg`` checked hls4ml's name of the
activation layer (``bnbt_qdense_alpha``, ...); here the IR layer the activation becomes is
checked instead.  Not ported: ``test_accuracy`` (needs openml data and the example model),
recurrent/convolutional/QConv2DBatchnorm cases (layers fpga_aware does not convert) and
``test_relu_negative_slope`` (quantized_relu(negative_slope), added separately).

XNOR: hls4ml may return binary outputs as 0/1 (``is_xnor``); fpga_aware returns QKeras' own
values (-1/+1), so the remapping is not needed.
"""

from __future__ import annotations

import numpy as np
import pytest
from tensorflow.keras.layers import BatchNormalization, Input
from tensorflow.keras.models import Model, Sequential
from qkeras.qlayers import QActivation, QDense
from qkeras.quantizers import binary, quantized_bits, quantized_relu, quantized_sigmoid, quantized_tanh, ternary

import fpga_aware as fa
from hls4ml_port import check_csim


def randX(batch_size, N, seed=0):
    return np.random.default_rng(seed).random((batch_size, N))


@pytest.fixture(scope="module")
def randX_100_16():
    return randX(100, 16)


@pytest.fixture(scope="module")
def randX_100_10():
    return randX(100, 10, seed=1)


@pytest.fixture(scope="module")
def randX_1000_1():
    return randX(1000, 1, seed=2)


@pytest.mark.parametrize("bits,alpha", [(4, 1), (4, "auto_po2")])
def test_single_dense_activation_exact(randX_100_16, bits, alpha):
    X = randX_100_16
    model = Sequential([
        QActivation(activation=quantized_bits(bits, 0, alpha=1), input_shape=(16,), name="inp_quant"),
        QDense(16, name="fc1", kernel_quantizer=quantized_bits(bits, 0, alpha=alpha),
               bias_quantizer=quantized_bits(bits, 0, alpha=1), kernel_initializer="lecun_uniform"),
        QActivation(activation=quantized_relu(bits, 0), name="relu1"),
    ])
    model.compile()
    firmware = fa.to_firmware(model)
    y_qkeras = model.predict(X, verbose=0)
    y_fw = firmware.predict(X)
    if alpha == 1:
        np.testing.assert_array_equal(y_qkeras, y_fw)
    else:
        np.testing.assert_allclose(y_qkeras.ravel(), y_fw.ravel(), atol=2**-bits, rtol=1.0)


def _btnn(N, kernel_quantizer, bias_quantizer, activation_quantizer, use_batchnorm):
    model = Sequential()
    model.add(QDense(10, input_shape=(N,), kernel_quantizer=kernel_quantizer, bias_quantizer=bias_quantizer, name="dense"))
    if use_batchnorm:
        model.add(BatchNormalization(name="bn"))
    model.add(QActivation(activation=activation_quantizer))
    model.compile()
    return model


BTNN_CASES = [
    (1, 10, ternary(alpha=1), quantized_bits(5, 2), "binary_tanh", False, False),
    (2, 10, binary(), quantized_bits(5, 2), "binary_tanh", False, True),
    (3, 10, ternary(alpha="auto"), quantized_bits(5, 2), binary(), True, True),
    (4, 10, ternary(alpha="auto"), quantized_bits(5, 2), "ternary", True, False),
    (5, 10, ternary(alpha="auto"), quantized_bits(5, 2), ternary(threshold=0.2), True, False),
    (6, 10, ternary(alpha="auto"), quantized_bits(5, 2), ternary(threshold=0.8), True, False),
    (7, 10, binary(), quantized_bits(5, 2), binary(), False, True),
]


@pytest.mark.parametrize("test_no,N,kernel_quantizer,bias_quantizer,activation_quantizer,use_batchnorm,is_xnor",
                         BTNN_CASES, ids=[f"btnn{c[0]}" for c in BTNN_CASES])
def test_btnn(test_no, N, kernel_quantizer, bias_quantizer, activation_quantizer, use_batchnorm, is_xnor, randX_100_10):
    model = _btnn(N, kernel_quantizer, bias_quantizer, activation_quantizer, use_batchnorm)
    X = randX_100_10
    firmware = fa.to_firmware(model)
    assert firmware.ir.output.kind == "step"
    y_hls = firmware.predict(X)
    y_ker = model.predict(X, verbose=0)
    wrong = (y_hls != y_ker).ravel()
    assert sum(wrong) / len(wrong) < 0.005


def test_btnn_csim(randX_100_10, tmp_path):
    model = _btnn(10, ternary(alpha="auto"), quantized_bits(5, 2), ternary(threshold=0.2), True)
    check_csim(fa.to_firmware(model), randX_100_10, tmp_path)


SPECIAL = [quantized_tanh(8), quantized_sigmoid(5), quantized_sigmoid(7, use_real_sigmoid=True)]


def _single(quantizer):
    model = Sequential()
    model.add(QActivation(input_shape=(1,), activation=quantizer, name="quantizer"))
    model.compile()
    return model


@pytest.mark.parametrize("quantizer", SPECIAL, ids=str)
def test_quantizer_special(randX_1000_1, quantizer):
    X = np.round(randX_1000_1 * 2**10) * 2**-10  # make it an exact ap_fixed<16,6>
    model = _single(quantizer)
    firmware = fa.to_firmware(model)
    y_qkeras = model.predict(X, verbose=0)
    y_fw = firmware.predict(X)
    np.testing.assert_allclose(y_qkeras, y_fw, rtol=1e-2, atol=0.02)  # hls4ml's tolerance
    np.testing.assert_array_equal(y_qkeras, y_fw)  # and fpga_aware's claim: bit-exact


@pytest.mark.parametrize("quantizer", [quantized_tanh(8), binary(), ternary(threshold=0.2)], ids=str)
def test_step_quantizers_bit_exact_over_the_input_range(quantizer, tmp_path):
    """Every ap_fixed<16,6> value in [-8, 8): the firmware's thresholds are QKeras' exactly."""
    X = (np.arange(-8 * 2**10, 8 * 2**10, 7) * 2.0**-10)[:, None]
    model = _single(quantizer)
    firmware = fa.to_firmware(model)
    np.testing.assert_array_equal(model.predict(X, verbose=0), firmware.predict(X))
    if isinstance(quantizer, quantized_tanh):
        check_csim(firmware, X, tmp_path)


@pytest.mark.parametrize("quantizer", [
    quantized_bits(8, 0), quantized_bits(8, 4), quantized_bits(4, 2), quantized_bits(4, 0), quantized_bits(10, 0),
    quantized_relu(4), quantized_relu(4, 2), quantized_relu(8), quantized_relu(8, 4), quantized_relu(10),
    quantized_relu(10, 5),
], ids=str)
def test_quantizer(randX_1000_1, quantizer):
    X = np.round(randX_1000_1 * 2**10) * 2**-10  # make it an exact ap_fixed<16,6>
    model = _single(quantizer)
    firmware = fa.to_firmware(model)
    np.testing.assert_array_equal(model.predict(X, verbose=0), firmware.predict(X))


@pytest.mark.parametrize("weight_quantizer,activation_quantizer", [
    ("binary", "binary"),
    ("ternary", "ternary"),
    ("quantized_bits(4, 0, alpha=1)", "quantized_relu(2, 0)"),
    ("quantized_bits(4, 0, alpha=1)", "quantized_relu(4, 0)"),
    ("quantized_bits(4, 0, alpha=1)", "quantized_relu(8, 0)"),
])
def test_qactivation_kwarg(randX_100_10, activation_quantizer, weight_quantizer):
    inputs = Input(shape=(10,))
    outputs = QDense(10, activation=activation_quantizer, name="qdense", kernel_quantizer=weight_quantizer,
                     bias_quantizer=weight_quantizer, kernel_initializer="lecun_uniform")(inputs)
    model = Model(inputs, outputs)
    firmware = fa.to_firmware(model)
    # the activation is a layer of its own after the dense (hls4ml checks its name there)
    last = firmware.ir.output
    assert last.kind == ("step" if activation_quantizer in ("binary", "ternary") else "activation")
    assert last.name.startswith("qdense_")

    X = np.round(randX_100_10 * 2**10) * 2**-10
    y_qkeras = model.predict(X, verbose=0)
    y_fw = firmware.predict(X)
    if hasattr(eval(activation_quantizer), "bits") and activation_quantizer not in ("binary", "ternary"):
        np.testing.assert_allclose(y_qkeras.ravel(), y_fw.ravel(),
                                   atol=2 ** -(eval(activation_quantizer).bits - 1), rtol=1.0)
    else:
        wrong = (y_fw != y_qkeras).ravel()
        assert sum(wrong) / len(wrong) <= 0.005


def test_batch_dependent_and_stochastic_step_quantizers_are_refused():
    for quantizer in (binary(alpha="auto"), ternary(alpha="auto_po2"), quantized_tanh(4, use_stochastic_rounding=True)):
        with pytest.raises(fa.UnsupportedQuantizerError, match="'quantizer'"):
            fa.to_firmware(_single(quantizer))
