"""Convolutional models, io_parallel (issue 14 phase 1): conv and pooling kinds end to end.

Emulator = C simulation bit for bit (the outputs are fixed-point values, compared exactly) on
the shared QKeras MNIST CNN and on one composite CNN that exercises what it does not (strides, dilation,
same padding for average pooling, global pooling, a folded BatchNormalization, shared
multipliers, a saturating accumulator); emulator vs Keras within a tolerance on seeded random
tiny CNNs; the window index rule against a direct computation; the cost rules; pruning; errors.
Each C simulation compiles a project (about 15 s on a busy machine), so there are two.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from fpga_aware.core.windows import patch_indices, window_geometry, window_positions
from fpga_aware.frontend.errors import UnsupportedLayerError

L = tf.keras.layers


def _sparse(model, fraction: float, seed: int) -> None:
    """Zero ``fraction`` of every convolution kernel (a pruned model)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (L.Conv1D, L.Conv2D)):
            kernel, *rest = layer.get_weights()
            kernel = np.where(rng.random(kernel.shape) < fraction, 0.0, kernel)
            layer.set_weights([kernel, *rest])


def _csim_equal(firmware, x, path) -> np.ndarray:
    emulated = firmware.predict(x)
    firmware.write(path)
    simulated = firmware.predict(x, engine="csim")
    assert emulated.shape == simulated.shape
    mismatches = int(np.count_nonzero(emulated != simulated))
    assert mismatches == 0, f"{mismatches} of {emulated.size} outputs differ between the emulator and the C simulation"
    return emulated


# ----------------------------------------------------------------------------- windows
@pytest.mark.parametrize("size,kernel,stride,dilation,padding", [
    ((7,), (3,), (1,), (1,), "same"), ((8,), (4,), (3,), (1,), "same"), ((9,), (3,), (1,), (2,), "valid"),
    ((5, 6), (3, 2), (2, 1), (1, 1), "same"), ((6, 6), (2, 2), (1, 1), (2, 2), "valid"),
    ((25, 25), (3, 3), (3, 3), (1, 1), "same"),
])
def test_windows_match_a_direct_computation(size, kernel, stride, dilation, padding):
    g = window_geometry(size, kernel, stride, dilation, padding)
    # Keras' output size, from TensorFlow itself
    x = tf.zeros((1, *size, 1))
    conv = (L.Conv1D if len(size) == 1 else L.Conv2D)(1, kernel, strides=stride, dilation_rate=dilation, padding=padding)
    assert tuple(conv(x).shape[1:-1]) == g.out_spatial
    pos = window_positions(g)
    channels = 2
    idx = patch_indices(g, channels)
    n_in = g.n_in_pixels * channels
    for p in range(g.n_pixels):
        out = np.unravel_index(p, g.out_spatial)
        for t in range(g.n_taps):
            tap = np.unravel_index(t, g.kernel)
            where = [o * s - b + k * d for o, s, b, k, d in zip(out, g.strides, g.pad_before, tap, g.dilation)]
            inside = all(0 <= w < n for w, n in zip(where, size))
            expected = int(np.ravel_multi_index(where, size)) if inside else -1
            assert pos[p, t] == expected
            for c in range(channels):
                assert idx[p, t * channels + c] == (expected * channels + c if inside else n_in)


def test_window_errors_name_the_problem():
    with pytest.raises(ValueError, match="padding 'causal' is not supported"):
        window_geometry((5,), (2,), (1,), (1,), "causal")
    with pytest.raises(ValueError, match="does not fit"):
        window_geometry((3,), (5,), (1,), (1,), "valid")


# ----------------------------------------------------------------------------- shared CNNs: emulator = C simulation
def test_conv1d_small_matches_keras(shared_model, rng):
    """Conv1D with same padding (its C simulation is checked by hand, see the report: each C
    simulation costs a compile, and the composite CNN below covers the same C++)."""
    model = shared_model("KERAS_conv1d_small")
    firmware = fa.to_firmware(model, precision="ap_fixed<24,12>")
    kinds = [layer.kind for layer in firmware.ir.layers]
    assert kinds.count("conv") == 3
    x = rng.uniform(-1, 1, (20, 10 * 4))
    y = firmware.predict(x)
    keras = model.predict(x.reshape(-1, 10, 4), verbose=0)
    np.testing.assert_allclose(y, keras, atol=6e-3)  # after the table softmax
    np.testing.assert_array_equal(y.argmax(axis=1), keras.argmax(axis=1))


def test_qkeras_mnist_cnn_emulator_equals_csim_and_qkeras(shared_model, tmp_path, rng):
    model = shared_model("qkeras_mnist_cnn")
    firmware = fa.to_firmware(model, precision="ap_fixed<18,8>")
    ir = firmware.ir
    assert [layer.kind for layer in ir.layers].count("pooling") == 2
    conv = ir.layer("q_conv2d")
    assert conv.n_pixels == 26 * 26 and conv.product.n_in == 9 and conv.product.n_out == 16
    x = representable(firmware, rng.uniform(0, 1, (3, 28 * 28)))
    y = _csim_equal(firmware, x, tmp_path / "prj")
    keras = model.predict(x.reshape(-1, 28, 28, 1), verbose=0)
    np.testing.assert_array_equal(y.argmax(axis=1), keras.argmax(axis=1))
    np.testing.assert_allclose(y, keras, atol=0.05)


def test_float_shared_cnns_match_keras(shared_model, rng):
    """The two other shared CNNs (their C simulation is checked by hand: see the report); here
    emulator vs Keras, and a conv's stored weights are its nonzero kernel entries."""
    for name, shape, precision in (("KERAS_conv2d_model", (8, 8, 1), "ap_fixed<24,12>"),
                                   ("jetTagger_Conv2D_Small_NoBatchNorm", (25, 25, 1), "ap_fixed<32,16>")):
        model = shared_model(name)
        firmware = fa.to_firmware(model, precision=precision)
        x = rng.uniform(0, 1, (20, int(np.prod(shape))))
        keras = model.predict(x.reshape(-1, *shape), verbose=0)
        y = firmware.predict(x)  # after the firmware's table softmax (an approximation of about 3e-3)
        np.testing.assert_allclose(y, keras, atol=6e-3)
        np.testing.assert_array_equal(y.argmax(axis=1), keras.argmax(axis=1))
        for layer in firmware.ir.layers:
            if layer.kind == "conv":
                kernel = model.get_layer(layer.name).get_weights()[0]
                assert layer.nonzero_weights == np.count_nonzero(kernel)


# ----------------------------------------------------------------------------- a composite CNN: every option once, C simulated
def _composite(seed: int = 3):
    """Every window option and reorder once; the layer names are what the test configures."""
    inputs = tf.keras.Input((7, 7, 2))
    h = L.ZeroPadding2D(1, name="zp")(inputs)  # 9x9x2
    h = L.Conv2D(3, 3, strides=2, padding="same", activation="relu", name="c1")(h)  # 5x5x3
    h = L.AveragePooling2D(2, strides=1, padding="same", name="avg")(h)  # border windows of 2 and 1 cells
    h = L.Conv2D(4, 2, dilation_rate=2, padding="valid", name="c2")(h)  # 3x3x4, linear: negative values
    h = L.BatchNormalization(name="bn")(h)  # folded into c2
    h = L.MaxPooling2D(2, strides=1, padding="same", name="max")(h)
    h = L.UpSampling2D(2, name="up")(h)  # 6x6x4
    h = L.Cropping2D(((1, 0), (0, 1)), name="crop")(h)  # 5x5x4
    h = L.GlobalAveragePooling2D(name="gap")(h)  # 25 cells: a division truncated toward zero
    out = L.Dense(3, name="d")(h)
    model = tf.keras.Model(inputs, out)
    rng = np.random.default_rng(seed)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.uniform(-0.3, 0.3, 4), rng.uniform(-0.2, 0.2, 4),
                    rng.uniform(0.5, 2.0, 4)])
    _sparse(model, 0.4, seed)
    return model


def test_composite_cnn_emulator_equals_csim(tmp_path, rng):
    model = _composite()
    layer_config = {"c2": {"reuse_factor": 3},  # shared multipliers: the product's lane schedule
                    "c1": {"precision": {"accum": "ap_fixed<14,5,AP_RND,AP_SAT>"}}}  # saturating: schedule order
    firmware = fa.to_firmware(model, precision="ap_fixed<18,8>", layer_config=layer_config)
    ir = firmware.ir
    assert [layer.kind for layer in ir.layers] == ["input", "reorder", "conv", "activation", "pooling", "conv",
                                                   "pooling", "reorder", "reorder", "pooling", "dense"]
    c2 = ir.layer("c2")
    assert c2.product.schedule.n_cycles == 3 and not c2.product.fully_parallel
    assert list(ir.layer("avg").counts[:6]) == [4, 4, 4, 4, 2, 4]  # the last column's windows overlap padding
    assert ir.layer("gap").counts.tolist() == [25]
    x = rng.uniform(-1, 1, (16, 7 * 7 * 2))
    trace = firmware.trace(x)  # real values of every layer's output
    y = _csim_equal(firmware, x, tmp_path / "prj")
    # the saturating accumulator and the truncations make it differ from Keras a little, not much
    np.testing.assert_allclose(y, model.predict(x.reshape(-1, 7, 7, 2), verbose=0), atol=0.05)
    assert (trace["gap"] < 0).any()  # some global averages are negative: truncation toward zero was exercised


# ----------------------------------------------------------------------------- property test: random tiny CNNs vs Keras
def _random_cnn(seed: int):
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 3))
    size = (int(rng.integers(6, 10)),) * rank
    inputs = tf.keras.Input((*size, int(rng.integers(1, 4))))
    conv_cls, pool = (L.Conv1D, {"max": L.MaxPooling1D, "average": L.AveragePooling1D}) if rank == 1 else \
        (L.Conv2D, {"max": L.MaxPooling2D, "average": L.AveragePooling2D})
    kernel = int(rng.integers(1, 4))
    strides = int(rng.integers(1, 3))
    dilation = 2 if strides == 1 and rng.random() < 0.5 else 1
    h = conv_cls(int(rng.integers(1, 4)), kernel, strides=strides, dilation_rate=dilation,
                 padding=str(rng.choice(["valid", "same"])), activation=str(rng.choice(["relu", "linear"])))(inputs)
    op = str(rng.choice(["max", "average"]))
    h = pool[op](2, strides=int(rng.integers(1, 3)), padding=str(rng.choice(["valid", "same"])))(h)
    if rng.random() < 0.5:
        h = (L.GlobalAveragePooling1D() if rank == 1 else L.GlobalMaxPooling2D())(h)
    else:
        h = L.Flatten()(h)
    model = tf.keras.Model(inputs, L.Dense(2)(h))
    _sparse(model, float(rng.choice([0.0, 0.5, 0.8])), seed)
    return model


@pytest.mark.parametrize("seed", range(8))
def test_random_tiny_cnns_match_keras(seed):
    model = _random_cnn(seed)
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    x = np.random.default_rng(100 + seed).uniform(-1, 1, (32, int(np.prod(model.input_shape[1:]))))
    keras = model.predict(x.reshape(-1, *model.input_shape[1:]), verbose=0)
    np.testing.assert_allclose(firmware.predict(x), keras, atol=1e-3)
    conv = next(layer for layer in firmware.ir.layers if layer.kind == "conv")
    assert conv.nonzero_weights == np.count_nonzero(model.layers[1].get_weights()[0])


# ----------------------------------------------------------------------------- property test: random small CNNs, emulator == C simulation
ROUNDINGS = ("AP_TRN", "AP_RND", "AP_RND_CONV")
OVERFLOWS = ("AP_WRAP", "AP_SAT")


def random_csim_cnn(seed: int, extended: bool = False):
    """A seeded random small CNN, its firmware options and its inputs (also used by
    ``benchmarks/fuzz_cnn_csim.py``): 1-D or 2-D, one or two convolutions with random kernel
    sizes (non-square in 2-D), strides, dilation, padding, optional max/average pooling, a
    global pooling or Flatten, Dense; random sparsity (whole filters too) and random widths,
    rounding and overflow modes; inputs beyond the type's range, so saturation and wrapping occur.

    ``extended=True`` (a different model for the same seed; ``False`` draws exactly what it drew
    before these options existed) also draws: one to three convolutions, each a Conv, a
    DepthwiseConv or a SeparableConv (depth_multiplier 1-2, the same kernels, strides, padding
    and dilation); random nonzero biases; whole filters zeroed with a zero bias (a channel that
    is always 0, which ``core/zeros.py`` follows downstream) or, now and then, with their bias
    kept (a constant channel, which it must not drop); and ``io_type`` io_parallel or io_stream."""
    rng = np.random.default_rng(seed)
    rank = int(rng.integers(1, 3))
    size = tuple(int(v) for v in rng.integers(5, 10, rank))
    channels = int(rng.integers(1, 4))
    inputs = tf.keras.Input((*size, channels))
    conv_cls = L.Conv1D if rank == 1 else L.Conv2D
    depthwise_cls = L.DepthwiseConv1D if rank == 1 else L.DepthwiseConv2D
    separable_cls = L.SeparableConv1D if rank == 1 else L.SeparableConv2D
    pools = {"max": L.MaxPooling1D, "average": L.AveragePooling1D} if rank == 1 else \
        {"max": L.MaxPooling2D, "average": L.AveragePooling2D}
    h = inputs
    for _ in range(int(rng.integers(1, 4 if extended else 3))):
        spatial = h.shape[1:-1]
        kernel = tuple(int(rng.integers(1, min(4, d) + 1)) for d in spatial)
        strides = tuple(int(rng.integers(1, 3)) for _ in spatial)
        dilation = tuple(1 for _ in spatial)
        if all(s == 1 for s in strides) and rng.random() < 0.3:
            dilation = tuple(2 if 2 * (k - 1) + 1 <= d else 1 for k, d in zip(kernel, spatial))
        filters = int(rng.integers(1, 5))
        common = dict(strides=strides, dilation_rate=dilation, padding=str(rng.choice(["valid", "same"])),
                      activation=str(rng.choice(["relu", "linear"])), use_bias=bool(rng.random() < 0.8))
        kind = str(rng.choice(["conv", "depthwise", "separable"])) if extended else "conv"
        if kind == "conv":
            h = conv_cls(filters, kernel, **common)(h)
        elif kind == "depthwise":
            h = depthwise_cls(kernel, depth_multiplier=int(rng.integers(1, 3)), **common)(h)
        else:
            h = separable_cls(filters, kernel, depth_multiplier=int(rng.integers(1, 3)), **common)(h)
        if rng.random() < 0.6 and min(h.shape[1:-1]) >= 2:
            pool = tuple(int(rng.integers(1, min(3, d) + 1)) for d in h.shape[1:-1])
            h = pools[str(rng.choice(["max", "average"]))](
                pool, strides=tuple(int(rng.integers(1, 3)) for _ in pool), padding=str(rng.choice(["valid", "same"])))(h)
    glob = {1: (L.GlobalAveragePooling1D, L.GlobalMaxPooling1D), 2: (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D)}
    h = glob[rank][int(rng.integers(0, 2))]()(h) if rng.random() < 0.4 else L.Flatten()(h)
    model = tf.keras.Model(inputs, L.Dense(int(rng.integers(1, 4)))(h))
    for layer in model.layers:
        if isinstance(layer, (L.Conv1D, L.Conv2D)) and not extended:
            kernel, *rest = layer.get_weights()
            kernel = np.where(rng.random(kernel.shape) < float(rng.choice([0.0, 0.5, 0.9])), 0.0, kernel)
            if rng.random() < 0.3:
                kernel[..., int(rng.integers(0, kernel.shape[-1]))] = 0.0  # a pruned filter
            layer.set_weights([kernel * float(rng.choice([0.5, 1.0, 3.0])), *rest])
        elif extended and isinstance(layer, (L.Conv1D, L.Conv2D, L.DepthwiseConv1D, L.DepthwiseConv2D,
                                             L.SeparableConv1D, L.SeparableConv2D, L.Dense)):
            _extended_weights(layer, rng)
    width = int(rng.integers(6, 21))
    integer = int(rng.integers(2, width - 1))
    precision = f"ap_fixed<{width},{integer},{rng.choice(ROUNDINGS)},{rng.choice(OVERFLOWS)}>"
    # weights (at most ~4 in magnitude) in their own random width with 4 integer bits
    layer_config = {layer.name: {"precision": {"weight": f"ap_fixed<{int(rng.integers(6, 17))},4>"}}
                    for layer in model.layers if layer.get_weights()}
    if extended:  # a separable layer's depthwise half is its own IR layer, ``<name>_depthwise``
        for layer in model.layers:
            if isinstance(layer, (L.SeparableConv1D, L.SeparableConv2D)):
                layer_config[f"{layer.name}_depthwise"] = {
                    "precision": {"weight": f"ap_fixed<{int(rng.integers(6, 17))},4>"}}
    x = rng.uniform(-1.5, 1.5, (24, int(np.prod(model.input_shape[1:])))) * 2.0 ** (integer - 1)
    options = {"precision": precision, "layer_config": layer_config}
    if extended:
        options["io_type"] = str(rng.choice(["io_parallel", "io_stream"]))
    return model, options, x


def _extended_weights(layer, rng) -> None:
    """``random_csim_cnn(extended=True)``: kernels drawn from ``rng`` in [-1, 1), sparsity and
    scale on every kernel, a random bias half
    the time, and (a convolution, 40 %) whole filters zeroed -- the filter's bias too, so its
    channel is 0 for every input, in 4 of 5 cases; a separable layer zeroes either depthwise
    filters (channels of its depthwise half, which has no bias) or pointwise ones."""
    weights = [np.zeros(w.shape, dtype=np.float32) for w in layer.get_weights()]
    n_kernels = 2 if isinstance(layer, (L.SeparableConv1D, L.SeparableConv2D)) else 1
    scale = float(rng.choice([0.5, 1.0, 3.0]))
    fraction = float(rng.choice([0.0, 0.5, 0.9]))
    for i in range(n_kernels):  # drawn from the seed (not Keras's unseeded initializer): a seed is one model
        kernel = rng.uniform(-1.0, 1.0, weights[i].shape)
        weights[i] = np.where(rng.random(weights[i].shape) < fraction, 0.0, kernel) * scale
    has_bias = len(weights) > n_kernels
    if has_bias and rng.random() < 0.5:
        weights[-1] = rng.uniform(-1.0, 1.0, weights[-1].shape) * scale
    if not isinstance(layer, L.Dense) and rng.random() < 0.4:
        keep_bias = rng.random() < 0.2
        if n_kernels == 2 and rng.random() < 0.5:  # depthwise filters of a separable layer
            depthwise = weights[0]
            for c, m in {(int(rng.integers(0, depthwise.shape[-2])), int(rng.integers(0, depthwise.shape[-1])))
                         for _ in range(int(rng.integers(1, 3)))}:
                depthwise[..., c, m] = 0.0
        else:
            kernel = weights[n_kernels - 1]  # conv (k..., C, F), depthwise (k..., C, m), pointwise (1.., C*m, F)
            n_out = kernel.shape[-1] * (kernel.shape[-2] if isinstance(layer, (L.DepthwiseConv1D, L.DepthwiseConv2D))
                                        else 1)
            flat = kernel.reshape(*kernel.shape[:-2], -1) if n_out != kernel.shape[-1] else kernel
            for o in set(int(v) for v in rng.integers(0, n_out, int(rng.integers(1, 3)))):
                flat[..., o] = 0.0  # depthwise output channel c * m + j is flat column c * m + j
                if has_bias and not keep_bias:
                    weights[-1][o] = 0.0
            weights[n_kernels - 1] = flat.reshape(kernel.shape)
    layer.set_weights(weights)


@pytest.mark.parametrize("seed", [0, 1])
def test_random_small_cnns_emulator_equals_csim(seed, tmp_path):
    """Two models in the suite (each C simulation is a g++ build); benchmarks/fuzz_cnn_csim.py runs many."""
    model, options, x = random_csim_cnn(seed)
    firmware = fa.to_firmware(model, **options)
    assert any(layer.kind == "conv" for layer in firmware.ir.layers)
    _csim_equal(firmware, x, tmp_path / "prj")


@pytest.mark.parametrize("seed", [22])  # drawn: a 2-D io_stream model with depthwise, separable and zero channels
def test_random_cnns_with_depthwise_stream_and_zero_channels_emulator_equals_csim(seed, tmp_path, monkeypatch):
    """The extended draws (benchmarks/fuzz_cnn_csim.py runs many): DepthwiseConv, SeparableConv,
    always-zero channels and io_stream in one model; emulator = C simulation, and the zero pass
    (which drops weights here) changes no emulated output."""
    import fpga_aware.frontend.keras as keras_frontend

    drop = keras_frontend.drop_always_zero_inputs
    dropped = {}
    monkeypatch.setattr(keras_frontend, "drop_always_zero_inputs", lambda ir: dropped.update(drop(ir)) or dropped)
    model, options, x = random_csim_cnn(seed, extended=True)
    classes = {type(layer).__name__[:-2] for layer in model.layers}
    assert {"DepthwiseConv", "SeparableConv"} <= classes and options["io_type"] == "io_stream"
    firmware = fa.to_firmware(model, **options)
    assert sum(dropped.values()) > 0  # weights reading an always-zero channel are not stored
    emulated = _csim_equal(firmware, x, tmp_path / "prj")
    monkeypatch.setattr(keras_frontend, "drop_always_zero_inputs", lambda ir: {})
    np.testing.assert_array_equal(fa.to_firmware(model, **options).predict(x), emulated)


@pytest.mark.parametrize("layer,shape", [
    (lambda: L.ZeroPadding1D((1, 2)), (5, 2)), (lambda: L.Cropping1D((2, 1)), (6, 3)), (lambda: L.UpSampling1D(3), (4, 2)),
    (lambda: L.ZeroPadding2D(((0, 1), (2, 1))), (3, 4, 2)), (lambda: L.Cropping2D(((1, 1), (0, 2))), (5, 5, 1)),
    (lambda: L.UpSampling2D((2, 3)), (2, 3, 2)), (lambda: L.Reshape((6, 2)), (3, 4)),
])
def test_reorders_move_values_exactly_as_keras(layer, shape, rng):
    model = tf.keras.Sequential([tf.keras.Input(shape), layer()])
    firmware = fa.to_firmware(model, precision="ap_fixed<16,4>")
    x = representable(firmware, rng.uniform(-1, 1, (5, int(np.prod(shape)))))
    keras = model.predict(x.reshape(-1, *shape), verbose=0).reshape(5, -1)
    # only values of the input type are moved (and zeros added): compare the mantissas, exactly
    t = firmware.ir.output_type
    assert t == firmware.ir.input_type
    ours = firmware.trace(x)[firmware.ir.output.name]
    np.testing.assert_array_equal(t.from_float(ours), t.from_float(keras))


def test_bilinear_upsampling_is_refused():
    model = tf.keras.Sequential([tf.keras.Input((3, 3, 1)), L.UpSampling2D(2, interpolation="bilinear", name="up")])
    with pytest.raises(UnsupportedLayerError, match=r"'up'.*interpolation='bilinear'.*'nearest'"):
        fa.to_firmware(model)


def test_batch_norm_after_a_float_conv_is_folded(rng):
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), L.Conv2D(2, 3, name="c"), L.BatchNormalization(name="bn"),
                                 L.ReLU(name="r"), L.Flatten(), L.Dense(2, name="d")])
    model.get_layer("bn").set_weights([np.array([1.5, 0.5]), np.array([0.1, -0.2]), np.array([0.3, -0.1]),
                                       np.array([2.0, 0.5])])
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    assert [layer.kind for layer in firmware.ir.layers] == ["input", "conv", "activation", "dense"]
    x = rng.uniform(-1, 1, (10, 36))
    np.testing.assert_allclose(firmware.predict(x), model.predict(x.reshape(-1, 6, 6, 1), verbose=0), atol=1e-3)


def test_qconv1d_with_quantized_relu_matches_qkeras(rng):
    from qkeras import QActivation, QConv1D, quantized_bits, quantized_relu

    model = tf.keras.Sequential([
        tf.keras.Input((8, 2)),
        QConv1D(3, 3, padding="same", kernel_quantizer=quantized_bits(6, 0, alpha=1),
                bias_quantizer=quantized_bits(6, 0, alpha=1), name="qc"),
        QActivation(quantized_relu(8, 3), name="qa"), L.MaxPooling1D(2, name="mp"), L.Flatten(), L.Dense(2, name="d"),
    ])
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    assert firmware.ir.layer("qc").weight_type.cpp().startswith("ap_fixed<6,1")
    x = representable(firmware, rng.uniform(-1, 1, (20, 16)))
    np.testing.assert_allclose(firmware.predict(x), model.predict(x.reshape(-1, 8, 2), verbose=0), atol=1e-3)


def representable(firmware, x):
    t = firmware.ir.input_type
    return t.to_float(t.from_float(x))


# ----------------------------------------------------------------------------- cost
def test_conv_cost_is_one_product_per_pixel_and_falls_with_sparsity():
    model = tf.keras.Sequential([tf.keras.Input((10, 10, 2)), L.Conv2D(4, 3, name="c"), L.Flatten(), L.Dense(2)])
    dense = fa.to_firmware(model, precision="ap_fixed<16,6>")
    cost = dense.estimate()
    c = next(layer for layer in cost.layers if layer.name == "c")
    conv = dense.ir.layer("c")
    assert conv.n_pixels == 64
    assert c.kind == "conv" and c.n_weights == 72 and c.n_mult % 64 == 0 and c.lut > 0
    _sparse(model, 0.75, 0)
    pruned = fa.to_firmware(model, precision="ap_fixed<16,6>").estimate()
    p = next(layer for layer in pruned.layers if layer.name == "c")
    assert p.nonzero_weights < c.nonzero_weights and p.n_mult < c.n_mult and p.lut + p.dsp * 100 < c.lut + c.dsp * 100


def test_pooling_cost_is_positive_and_grows_with_the_window():
    def lut(pool):
        model = tf.keras.Sequential([tf.keras.Input((8, 8, 2)), pool, L.Flatten(), L.Dense(2)])
        return next(c for c in fa.to_firmware(model).estimate().layers if c.kind == "pooling").lut

    assert 0 < lut(L.MaxPooling2D(2)) < lut(L.MaxPooling2D(4, strides=2))
    assert 0 < lut(L.AveragePooling2D(2)) < lut(L.AveragePooling2D(3, strides=2))


# ----------------------------------------------------------------------------- training plugin
def test_prune_and_fpga_cost_on_a_conv_model():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu", name="c"),
                                 L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax", name="d")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 8, 8, 1)), rng.integers(0, 3, 64)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                        callbacks=[fa.Prune(0.5, end_step=8, frequency=1), fa.FPGACost(precision="ap_fixed<16,6>")]).history
    kernel = model.get_layer("c").get_weights()[0]
    assert kernel.shape == (3, 3, 1, 4)
    assert 1 - np.count_nonzero(kernel) / kernel.size == pytest.approx(0.5, abs=0.03)
    assert len(history["fpga_lut"]) == 3 and history["fpga_lut"][-1] < history["fpga_lut"][0]
    assert fa.to_firmware(model).ir.layer("c").nonzero_weights == np.count_nonzero(kernel)


def test_a_tfmot_wrapped_conv_converts_with_its_mask(rng):
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), L.Conv2D(3, 3, name="c"), L.Flatten(), L.Dense(2, name="d")])
    wrapped = fa.prunable(model, 0.6, end_step=3, frequency=1, layers=["c"])
    layer = wrapped.layers[0]
    weight, mask, _ = layer.pruning_vars[0]
    keep = rng.random(tuple(mask.shape)) < 0.4
    mask.assign(keep.astype(mask.dtype.as_numpy_dtype))  # as tfmot's schedule would have set it
    conv = fa.to_firmware(wrapped).ir.layer("c")
    kernel = weight.numpy() * keep  # what the wrapper computes with
    assert conv.nonzero_weights == np.count_nonzero(kernel) < kernel.size
    np.testing.assert_array_equal(conv.weights != 0, kernel.reshape(9, 3) != 0)


def test_balanced_pruning_of_a_conv_kernel_reads_it_as_its_product():
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 2)), L.Conv2D(3, 3, name="c"), L.Flatten(), L.Dense(2)])
    model.compile("adam", "mse")
    rng = np.random.default_rng(1)
    model.fit(rng.normal(size=(32, 6, 6, 2)), rng.normal(size=(32, 2)), epochs=2, batch_size=8, verbose=0,
              callbacks=[fa.Prune(0.5, end_step=4, frequency=1, structure="balanced", reuse_factor=3,
                                  layers=["c"])])
    product = model.get_layer("c").get_weights()[0].reshape(18, 3)
    per_column = np.count_nonzero(product, axis=0)
    assert np.all(per_column % 3 == 0) and per_column.sum() > 0


# ----------------------------------------------------------------------------- refused, by name
@pytest.mark.parametrize("layer,message", [
    (lambda: L.Conv2D(2, 3, data_format="channels_first"), "data_format='channels_first'"),
    (lambda: L.Conv2D(4, 3, groups=2), "groups=2"),
    (lambda: L.Conv2D(2, 3, activation="softmax"), "softmax over the channels"),
    (lambda: L.Conv2DTranspose(2, 3), "Conv2DTranspose is not supported"),
    (lambda: L.MaxPooling2D(2, data_format="channels_first"), "only channels_last"),
])
def test_unsupported_conv_options_are_refused_by_name(layer, message):
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 4)), layer(), L.Flatten(), L.Dense(2)])
    with pytest.raises(UnsupportedLayerError, match=message) as err:
        fa.to_firmware(model)
    assert repr(model.layers[0].name) in str(err.value)


def test_causal_conv1d_is_refused_naming_the_paddings():
    model = tf.keras.Sequential([tf.keras.Input((6, 2)), L.Conv1D(2, 3, padding="causal", name="cc"), L.Flatten(),
                                 L.Dense(2)])
    with pytest.raises(UnsupportedLayerError, match=r"'cc'.*padding='causal'.*'valid' or 'same'"):
        fa.to_firmware(model)


def test_conv_rejects_options_that_do_not_apply():
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), L.Conv2D(2, 3, name="c"), L.MaxPooling2D(name="p"),
                                 L.Flatten(), L.Dense(2)])
    with pytest.raises(fa.ConfigError, match="'p'"):
        fa.to_firmware(model, layer_config={"p": {"reuse_factor": 2}})
    with pytest.raises(fa.ConfigError, match="reuse_factor 100 is invalid"):
        fa.to_firmware(model, layer_config={"c": {"reuse_factor": 100}})


def test_the_verilog_backend_writes_conv_models(tmp_path):
    """Conv, pooling and the Flatten reorder are written as Verilog modules (tests/test_rtl_conv.py
    simulates them against the emulator); a multiplier mode naming no dense or conv layer is refused."""
    import json

    from fpga_aware.rtl.layers import RTLOptions, UnsupportedRTLError

    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), L.Conv2D(2, 3, name="c"), L.MaxPooling2D(name="p"),
                                 L.Flatten(), L.Dense(2)])
    firmware = fa.to_firmware(model)
    with pytest.raises(UnsupportedRTLError, match=r"'p' is not a dense layer \(nor a conv layer\)"):
        firmware.write_verilog(tmp_path / "bad", options=RTLOptions(multiplier={"p": "da"}))
    assert not (tmp_path / "bad").exists()
    firmware.write_verilog(tmp_path / "rtl")
    manifest = json.loads((tmp_path / "rtl" / "fpga_aware_project.json").read_text())
    kinds = [layer["kind"] for layer in manifest["layers"]]
    assert kinds[:2] == ["conv", "pooling"] and "dense" in kinds
    conv = (tmp_path / "rtl" / "rtl" / "fa_c.v").read_text()
    assert conv.count("fa_c_pixel u_p") == 16  # one product per output pixel of the 4x4 output


def test_profile_reads_a_conv_kernel_and_its_output(rng):
    from fpga_aware.workflows.profiling import profile

    model = tf.keras.Sequential([tf.keras.Input((6, 6, 1)), L.Conv2D(2, 3, activation="relu", name="c"),
                                 L.AveragePooling2D(name="p"), L.Flatten(), L.Dense(2, name="d")])
    result = profile(model, rng.uniform(-1, 1, (8, 36)), {"precision": "ap_fixed<16,6>"})
    weight = result.entry("c", "weight")
    assert weight.source == "keras" and weight.count == 18
    assert weight.abs_max == pytest.approx(float(np.abs(model.get_layer("c").get_weights()[0]).max()))
    pooled = result.entry("p", "activation")
    assert pooled.source == "keras" and pooled.count == 8 * 2 * 2 * 2 and pooled.max_abs_error < 1e-2


def test_integer_rules_equal_the_float_plans(rng):
    """The emulator's two paths of every windowed layer give the same mantissas (exact)."""
    from fpga_aware.sim.emulator import EMULATOR_RULES

    firmware = fa.to_firmware(_composite(), precision="ap_fixed<18,8>")
    values = firmware.trace(rng.uniform(-1, 1, (6, 7 * 7 * 2)))
    layers = firmware.ir.layers
    checked = 0
    for before, layer in zip(layers, layers[1:]):
        rule = EMULATOR_RULES[layer.kind]
        plan = rule.plan(layer)
        if layer.kind not in ("conv", "pooling", "reorder") or plan is None:
            continue
        x = values[before.name]
        mantissas = rule.integer(layer, layer.input_type.from_float(x))
        np.testing.assert_array_equal(layer.result_type.from_float(plan(x)), mantissas)
        checked += 1
    assert checked >= 5


def test_quantize_turns_convolutions_into_qconv(rng):
    from qkeras import QActivation, QConv1D, QConv2D

    tf.keras.utils.set_random_seed(4)
    model = tf.keras.Sequential([tf.keras.Input((8, 8, 1)), L.Conv2D(3, 3, strides=2, padding="same", activation="relu",
                                                                    name="c"),
                                 L.MaxPooling2D(name="p"), L.Reshape((4, 3), name="r"), L.Conv1D(2, 2, name="c1"),
                                 L.Flatten(), L.Dense(2, name="d")])
    q = fa.quantize(model, bits=12, integer=3, activation_integer=3)
    assert isinstance(q.get_layer("c"), QConv2D) and isinstance(q.get_layer("c1"), QConv1D)
    assert isinstance(q.get_layer("c_relu"), QActivation)
    assert q.get_layer("c").strides == (2, 2) and q.get_layer("c").padding == "same"
    np.testing.assert_array_equal(q.get_layer("c").get_weights()[0], model.get_layer("c").get_weights()[0])
    x = rng.uniform(-1, 1, (10, 8, 8, 1))
    np.testing.assert_allclose(q.predict(x, verbose=0), model.predict(x, verbose=0), atol=0.05)
    firmware = fa.to_firmware(q, precision="ap_fixed<24,10>")
    assert firmware.ir.layer("c").weight_type.width == 12
    x = representable(firmware, x.reshape(10, -1))
    # QKeras rounds in float32: a value on a quantized_relu level boundary may land one level (2^-8) apart
    np.testing.assert_allclose(firmware.predict(x), q.predict(x.reshape(-1, 8, 8, 1), verbose=0), atol=5e-3)
