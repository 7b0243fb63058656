"""Tests of fpga_aware.training.quantization.quantize: layer mapping, exact quantized numbers, config, errors."""

from fpga_aware import quantization  # first: sets up the tf-keras stack before TensorFlow loads

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fpga_aware._stack import keras, tensorflow
from fpga_aware.training.pruning import Prune
from fpga_aware.training.quantization import quantize

tf = tensorflow()
k = keras()


# --------------------------------------------------------------------------- references
def q_bits(x, bits, integer):
    """quantized_bits(bits, integer, alpha=1) by hand: signed, bits-1-integer fraction bits."""
    scale = 2.0 ** (bits - 1 - integer)
    return np.clip(np.round(np.asarray(x, np.float64) * scale), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1) / scale


def q_relu(x, bits, integer):
    """quantized_relu(bits, integer) by hand: unsigned, bits-integer fraction bits."""
    scale = 2.0 ** (bits - integer)
    return np.clip(np.round(np.asarray(x, np.float64) * scale), 0, 2**bits - 1) / scale


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def on_grid(values, bits, integer):
    return np.array_equal(values * 2.0 ** (bits - 1 - integer), np.round(values * 2.0 ** (bits - 1 - integer)))


def float_mlp(seed=0):
    """8 -> fc1(relu) -> drop -> fc2 -> relu2 -> out(softmax); biases non-zero."""
    tf.keras.utils.set_random_seed(seed)
    model = k.Sequential(
        [
            k.layers.Input((8,)),
            k.layers.Dense(6, activation="relu", name="fc1", bias_initializer="random_normal"),
            k.layers.Dropout(0.25, name="drop"),
            k.layers.Dense(5, name="fc2", bias_initializer="random_normal"),
            k.layers.Activation("relu", name="relu2"),
            k.layers.Dense(3, activation="softmax", name="out", bias_initializer="random_normal"),
        ],
        name="mlp",
    )
    return model


def layer_summary(model):
    return [(layer.name, type(layer).__name__) for layer in model.layers]


# --------------------------------------------------------------------------- mapping
def test_layer_mapping_and_names():
    q = quantize(float_mlp(), bits=6, integer=0, activation_bits=7, activation_integer=2)
    assert isinstance(q, k.Sequential) and q.name == "mlp"
    assert layer_summary(q) == [
        ("fc1", "QDense"),
        ("fc1_relu", "QActivation"),
        ("drop", "Dropout"),
        ("fc2", "QDense"),
        ("relu2", "QActivation"),
        ("out", "QDense"),
        ("out_softmax", "Activation"),
    ]
    for name in ("fc1", "fc2", "out"):
        layer = q.get_layer(name)
        assert layer.activation is None or k.activations.serialize(layer.activation) == "linear"
        for quantizer in (layer.kernel_quantizer_internal, layer.bias_quantizer_internal):
            assert type(quantizer).__name__ == "quantized_bits"
            assert (quantizer.bits, quantizer.integer, quantizer.alpha) == (6, 0, 1)
    for name in ("fc1_relu", "relu2"):
        quantizer = q.get_layer(name).quantizer
        assert type(quantizer).__name__ == "quantized_relu"
        assert (quantizer.bits, quantizer.integer) == (7, 2)
    assert q.get_layer("drop").rate == 0.25
    assert k.activations.serialize(q.get_layer("out_softmax").activation) == "softmax"


def test_weights_copied_and_quantized_like_the_hand_formula():
    source = float_mlp()
    q = quantize(source, bits=6, integer=1)
    for name in ("fc1", "fc2", "out"):
        kernel, bias = source.get_layer(name).get_weights()
        layer = q.get_layer(name)
        np.testing.assert_array_equal(layer.kernel.numpy(), kernel)  # float weights kept
        np.testing.assert_array_equal(layer.bias.numpy(), bias)
        q_kernel = layer.kernel_quantizer_internal(layer.kernel).numpy()
        q_bias = layer.bias_quantizer_internal(layer.bias).numpy()
        assert on_grid(q_bits(kernel, 6, 1), 6, 1)
        np.testing.assert_allclose(q_kernel, q_bits(kernel, 6, 1), rtol=0, atol=1e-7)
        np.testing.assert_allclose(q_bias, q_bits(bias, 6, 1), rtol=0, atol=1e-7)
        assert not np.array_equal(q_kernel, kernel), "quantization must change the weights"


def test_outputs_equal_hand_computation():
    source = float_mlp()
    q = quantize(source, bits=6, integer=0, activation_bits=8, activation_integer=2)
    x = np.random.default_rng(0).uniform(-2, 2, size=(64, 8)).astype("float32")
    w = {name: source.get_layer(name).get_weights() for name in ("fc1", "fc2", "out")}

    def dense(h, name):
        kernel, bias = w[name]
        return h @ q_bits(kernel, 6, 0) + q_bits(bias, 6, 0)

    pre1 = dense(x, "fc1")
    # Keras sums fc1 in float32, in an order that depends on the BLAS build and thread count;
    # its rounding matches this float64 reference on every machine only if no pre-activation
    # lies within that float32 error of a rounding tie of quantized_relu(8, 2) (LSB 2**-6).
    # Float32 error of a sum of 8 products plus a bias: < 9 * 2**-24 * sum of |terms|.
    kernel, bias = w["fc1"]
    float32_error = 9 * 2.0**-24 * (np.abs(x.astype(np.float64)) @ np.abs(q_bits(kernel, 6, 0)) + np.abs(q_bits(bias, 6, 0)))
    distance_to_tie = np.abs(pre1 * 2**6 - np.floor(pre1 * 2**6) - 0.5) * 2.0**-6
    assert np.all(distance_to_tie > float32_error), "the inputs put an fc1 sum at a rounding tie"
    # fc2 and out: 2**-6-grid inputs times 2**-5-grid weights, sums below 2**5: exact in float32
    h1 = q_relu(pre1, 8, 2)
    h2 = q_relu(dense(h1, "fc2"), 8, 2)
    expected = softmax(dense(h2, "out"))
    probe = k.Model(q.inputs, [q.get_layer("fc1_relu").output, q.get_layer("relu2").output, q.output])
    got_h1, got_h2, got = probe(x, training=False)
    np.testing.assert_array_equal(got_h1.numpy(), h1)  # quantized values: exact in float32
    np.testing.assert_array_equal(got_h2.numpy(), h2)
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-5)  # float32 softmax (exp) vs float64
    assert not np.allclose(source(x).numpy(), expected, atol=1e-3), "the float model must differ"


def test_layer_config_overrides_one_layer():
    q = quantize(float_mlp(), layer_config={"fc1": {"bits": 8, "integer": 1}, "relu2": {"bits": 4}})
    fc1 = q.get_layer("fc1").kernel_quantizer_internal
    assert (fc1.bits, fc1.integer) == (8, 1)
    fc2 = q.get_layer("fc2").kernel_quantizer_internal
    assert (fc2.bits, fc2.integer) == (6, 0)
    relu2 = q.get_layer("relu2").quantizer
    assert (relu2.bits, relu2.integer) == (4, 0)
    fc1_relu = q.get_layer("fc1_relu").quantizer
    assert (fc1_relu.bits, fc1_relu.integer) == (6, 0)  # activation_bits defaults to bits


def test_functional_chain_with_flatten_and_batchnorm():
    tf.keras.utils.set_random_seed(1)
    inputs = k.Input((4, 2), name="pixels")
    x = k.layers.Flatten(name="flat")(inputs)
    x = k.layers.BatchNormalization(name="bn")(x)
    x = k.layers.Dense(3, activation="sigmoid", name="fc")(x)
    source = k.Model(inputs, x, name="func")
    bn = source.get_layer("bn")
    bn.set_weights([np.random.default_rng(2).uniform(0.5, 1.5, 8).astype("float32") for _ in bn.get_weights()])
    q = quantize(source)
    assert not isinstance(q, k.Sequential) and q.name == "func"
    assert layer_summary(q) == [
        ("pixels", "InputLayer"),
        ("flat", "Flatten"),
        ("bn", "BatchNormalization"),
        ("fc", "QDense"),
        ("fc_sigmoid", "Activation"),
    ]
    for a, b in zip(bn.get_weights(), q.get_layer("bn").get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(3).normal(size=(5, 4, 2)).astype("float32")
    flat = x.reshape(5, 8)
    gamma, beta, mean, var = bn.get_weights()
    normed = gamma * (flat - mean) / np.sqrt(var + bn.epsilon) + beta
    kernel, bias = source.get_layer("fc").get_weights()
    expected = 1 / (1 + np.exp(-(normed @ q_bits(kernel, 6, 0) + q_bits(bias, 6, 0))))
    np.testing.assert_allclose(q(x, training=False).numpy(), expected, rtol=0, atol=1e-5)


def test_copy_is_uncompiled_trainable_and_prunable():
    x, y = load_digits(return_X_y=True)
    x = (x[:640] / 16.0).astype("float32")
    y = y[:640]
    tf.keras.utils.set_random_seed(0)
    source = k.Sequential(
        [k.layers.Input((64,)), k.layers.Dense(32, activation="relu", name="fc1"), k.layers.Dense(10, name="out")]
    )
    q = quantize(source, bits=8, integer=1)
    assert q.optimizer is None, "quantize() must not compile"
    assert all(layer.trainable for layer in q.layers)
    q.compile(k.optimizers.Adam(0.01), k.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = source.get_layer("fc1").kernel.numpy().copy()
    prune = Prune(0.5, end_step=30, frequency=5)
    history = q.fit(x, y, epochs=3, batch_size=32, callbacks=[prune], verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert set(prune.layer_sparsity) == {"fc1", "out"}, "Prune must find the QDense kernels"
    for name in ("fc1", "out"):
        kernel = q.get_layer(name).kernel.numpy()
        assert np.mean(kernel == 0) == pytest.approx(0.5, abs=0.01)
    np.testing.assert_array_equal(source.get_layer("fc1").kernel.numpy(), before)  # source untouched


# --------------------------------------------------------------------------- errors
def test_unsupported_layer_raises():
    model = k.Sequential([k.layers.Input((8,)), k.layers.Dense(4, name="fc"), k.layers.LayerNormalization(name="ln")])
    with pytest.raises(
        ValueError,
        match=r"layer 'ln' has unsupported class LayerNormalization; quantize\(\) supports InputLayer, Dense, "
        r"Activation, Dropout, Flatten, BatchNormalization",
    ):
        quantize(model)


def test_already_quantized_layer_is_unsupported():
    q = quantize(float_mlp())
    with pytest.raises(ValueError, match=r"layer 'fc1' has unsupported class QDense"):
        quantize(q)


def test_unsupported_activation_raises():
    model = k.Sequential([k.layers.Input((8,)), k.layers.Dense(4, activation="swish", name="fc")])
    with pytest.raises(ValueError, match=r"layer 'fc' \(Dense\) has activation 'swish'; supported activations are linear, relu"):
        quantize(model)


@pytest.mark.parametrize(
    "layer_config,match",
    [
        ({"fc9": {"bits": 8}}, r"'fc9' is not a layer of the quantized model; configurable layers are \['fc1', 'fc1_relu', 'fc2', 'out', 'relu2'\]"),
        ({"drop": {"bits": 8}}, r"'drop' has nothing to quantize; configurable layers are"),
        ({"fc1": {"bits": 8, "frac": 3}}, r"layer_config\['fc1'\]: unknown key\(s\) \['frac'\]; allowed keys are \['bits', 'integer'\]"),
        ({"fc1": {"bits": 4, "integer": 4}}, r"layer_config\['fc1'\] integer must be an integer in \[0, 3\]"),
        ({"fc1_relu": {"bits": 0}}, r"layer_config\['fc1_relu'\] bits must be an integer >= 1"),
        ({"fc1": 8}, r"layer_config\['fc1'\] must be a dict with keys"),
    ],
)
def test_bad_layer_config_raises(layer_config, match):
    with pytest.raises(ValueError, match=match):
        quantize(float_mlp(), layer_config=layer_config)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(bits=1), r"bits must be an integer >= 2"),
        (dict(bits=6, integer=6), r"integer must be an integer in \[0, 5\]"),
        (dict(integer=-1), r"integer must be an integer in \[0, 5\]"),
        (dict(activation_bits=0), r"activation_bits must be an integer >= 1"),
        (dict(activation_bits=4, activation_integer=5), r"activation_integer must be an integer in \[0, 4\]"),
    ],
)
def test_bad_precision_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        quantize(float_mlp(), **kwargs)


def test_branching_and_shared_layers_raise():
    inputs = k.Input((8,))
    a = k.layers.Dense(4, name="a")(inputs)
    b = k.layers.Dense(4, name="b")(inputs)
    with pytest.raises(ValueError, match=r"single-chain model: layer 'b' is not applied to the output of the layer before it"):
        quantize(k.Model(inputs, k.layers.Add(name="add")([a, b])))
    inputs = k.Input((8,))
    shared = k.layers.Dense(8, name="shared")
    with pytest.raises(ValueError, match=r"single-chain model: layer 'shared' is called 2 times"):
        quantize(k.Model(inputs, shared(shared(inputs))))


def test_unbuilt_model_and_name_clash_raise():
    with pytest.raises(ValueError, match=r"has no known input shape; build it first"):
        quantize(k.Sequential([k.layers.Dense(3, name="fc")]))
    clash = k.Sequential(
        [k.layers.Input((8,)), k.layers.Dense(4, activation="relu", name="fc"), k.layers.Activation("relu", name="fc_relu")]
    )
    with pytest.raises(ValueError, match=r"layer name 'fc_relu' would appear twice"):
        quantize(clash)
