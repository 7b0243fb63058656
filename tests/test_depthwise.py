"""Depthwise and separable convolutions (issue 14 section 1): DepthwiseConv1D/2D (any
depth_multiplier), SeparableConv1D/2D, QKeras QDepthwiseConv2D and QSeparableConv1D/2D.

A depthwise convolution is a ``conv`` whose per-pixel product is channel-diagonal (only the
Keras kernel's nonzero taps are stored and multiplied); a separable one is that depthwise
``conv`` (``<name>_depthwise``) and its pointwise 1x1 ``conv``.  Emulator = C simulation bit for
bit on one model with every class (one compile); emulator vs Keras/QKeras on seeded small
models within hls4ml's ``test_keras_api.py`` depthwise tolerance (``rtol=1e-2, atol=0.01``) or
tighter; the stored taps and the cost follow the kernel's nonzeros.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from fpga_aware.frontend.handlers import depthwise_product

L = tf.keras.layers


def _prune_taps(layer, fraction: float, seed: int) -> None:
    """Zero ``fraction`` of a depthwise (and pointwise) kernel's entries."""
    rng = np.random.default_rng(seed)
    weights = layer.get_weights()
    n_kernels = 2 if "Separable" in type(layer).__name__ else 1
    for i in range(n_kernels):
        weights[i] = np.where(rng.random(weights[i].shape) < fraction, 0.0, weights[i])
    layer.set_weights(weights)


def _nonzero_taps(layer) -> int:
    """Nonzero depthwise taps as the layer computes with them (a QKeras layer: after its quantizer)."""
    kernel = layer.depthwise_kernel.numpy()
    quantizer = getattr(layer, "depthwise_quantizer_internal", None)
    return int(np.count_nonzero(kernel if quantizer is None else np.asarray(quantizer(kernel))))


def _representable(firmware, x):
    t = firmware.ir.input_type
    return t.to_float(t.from_float(x))


def test_depthwise_product_is_channel_diagonal():
    rng = np.random.default_rng(0)
    k = rng.normal(size=(2, 3, 4, 2))  # (kh, kw, C_in, depth_multiplier)
    p = depthwise_product(k)
    assert p.shape == (2 * 3 * 4, 4 * 2)
    for tap in range(6):
        for c in range(4):
            for o in range(8):
                expected = k[tap // 3, tap % 3, c, o % 2] if o // 2 == c else 0.0
                assert p[tap * 4 + c, o] == expected
    assert np.count_nonzero(p) == np.count_nonzero(k)


# ----------------------------------------------------------------------------- emulator = C simulation
def _every_class(seed: int = 2):
    from qkeras import QConv2DBatchnorm, QDepthwiseConv2D, QSeparableConv1D, QSeparableConv2D, quantized_bits, \
        quantized_relu

    q = dict(bias_quantizer=quantized_bits(8, 2, alpha=1))
    inputs = tf.keras.Input((7, 7, 2))
    h = L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, name="dw2")(inputs)  # 4x4x4
    h = L.SeparableConv2D(3, 2, padding="valid", activation="relu", depth_multiplier=2, name="sep2")(h)  # 3x3x3
    h = QDepthwiseConv2D(2, padding="same", depthwise_quantizer=quantized_bits(6, 1, alpha=1),
                         activation=quantized_relu(8, 3), name="qdw2", **q)(h)  # 3x3x3
    h = QConv2DBatchnorm(3, 2, padding="same", kernel_quantizer=quantized_bits(6, 1, alpha=1), name="qcbn",
                         **q)(h)  # 3x3x3
    h = QSeparableConv2D(2, 2, depthwise_quantizer=quantized_bits(6, 1, alpha=1),
                         pointwise_quantizer=quantized_bits(6, 1, alpha=1), name="qsep2", **q)(h)  # 2x2x2
    h = L.Reshape((4, 2), name="r")(h)
    h = L.DepthwiseConv1D(2, padding="same", depth_multiplier=3, name="dw1")(h)  # 4x6
    h = L.SeparableConv1D(2, 3, dilation_rate=1, strides=1, padding="valid", name="sep1")(h)  # 2x2
    h = QSeparableConv1D(2, 2, depthwise_quantizer=quantized_bits(6, 1, alpha=1),
                         pointwise_quantizer=quantized_bits(6, 1, alpha=1), name="qsep1", **q)(h)  # 1x2
    out = L.Dense(2, name="d")(L.Flatten()(h))
    model = tf.keras.Model(inputs, out)
    rng = np.random.default_rng(seed)
    model.get_layer("qcbn").batchnorm.set_weights([rng.uniform(0.5, 1.5, 3), rng.uniform(-0.3, 0.3, 3),
                                                   rng.uniform(-0.2, 0.2, 3), rng.uniform(0.5, 2.0, 3)])
    for i, name in enumerate(("dw2", "sep2", "qdw2", "dw1", "sep1")):
        _prune_taps(model.get_layer(name), 0.3, seed + i)
    return model


def test_every_depthwise_class_emulator_equals_csim(tmp_path):
    """The seven depthwise/separable classes and QConv2DBatchnorm in one project (one compile)."""
    tf.keras.utils.set_random_seed(5)
    model = _every_class()
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>", layer_config={"sep2": {"reuse_factor": 2}})
    ir = firmware.ir
    names = [layer.name for layer in ir.layers if layer.kind == "conv"]
    assert names == ["dw2", "sep2_depthwise", "sep2", "qdw2", "qcbn", "qsep2_depthwise", "qsep2", "dw1", "sep1_depthwise",
                     "sep1", "qsep1_depthwise", "qsep1"]
    for name in ("dw2", "qdw2", "dw1"):  # only the nonzero taps are stored
        assert ir.layer(name).nonzero_weights == _nonzero_taps(model.get_layer(name))
    assert ir.layer("sep2_depthwise").nonzero_weights == _nonzero_taps(model.get_layer("sep2"))
    assert ir.layer("sep2").nonzero_weights == np.count_nonzero(model.get_layer("sep2").pointwise_kernel.numpy())
    assert ir.layer("qdw2").weight_type.cpp().startswith("ap_fixed<6,2")
    x = np.random.default_rng(7).uniform(-1, 1, (12, 7 * 7 * 2))
    emulated = firmware.predict(x)
    firmware.write(tmp_path / "prj")
    simulated = firmware.predict(x, engine="csim")
    assert int(np.count_nonzero(emulated != simulated)) == 0
    keras = model.predict(x.reshape(-1, 7, 7, 2), verbose=0)
    np.testing.assert_allclose(emulated, keras, rtol=1e-2, atol=0.01)
    # io_stream plans the same layers (its C simulation is not compiled here: one compile per test)
    stream = fa.to_firmware(model, precision="ap_fixed<24,10>", layer_config={"sep2": {"reuse_factor": 2}},
                            io_type="io_stream")
    np.testing.assert_array_equal(stream.predict(x), emulated)


# ----------------------------------------------------------------------------- vs Keras, seeded
@pytest.mark.parametrize("rank,padding,strides,multiplier,dilation,sparsity", [
    (2, "valid", 1, 1, 1, 0.0), (2, "same", 2, 3, 1, 0.5), (2, "same", 1, 2, 2, 0.3),
    (1, "valid", 2, 2, 1, 0.5), (1, "same", 1, 1, 2, 0.0),
])
def test_depthwise_matches_keras(rank, padding, strides, multiplier, dilation, sparsity):
    tf.keras.utils.set_random_seed(11)
    shape = (9, 9, 3) if rank == 2 else (11, 3)
    cls = L.DepthwiseConv2D if rank == 2 else L.DepthwiseConv1D
    model = tf.keras.Sequential([tf.keras.Input(shape), cls(3, strides=strides, padding=padding, dilation_rate=dilation,
                                                            depth_multiplier=multiplier, name="dw")])
    _prune_taps(model.get_layer("dw"), sparsity, 3)
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    conv = firmware.ir.layer("dw")
    assert conv.nonzero_weights == _nonzero_taps(model.get_layer("dw"))
    assert conv.out_shape == tuple(model.output_shape[1:])
    x = np.random.default_rng(1).uniform(-1, 1, (16, int(np.prod(shape))))
    keras = model.predict(x.reshape(-1, *shape), verbose=0).reshape(16, -1)
    np.testing.assert_allclose(firmware.predict(x), keras, atol=1e-3)


@pytest.mark.parametrize("rank", [1, 2])
def test_hls4ml_keras_api_depthwise(rank):
    """hls4ml's test_depthwise1d/2d: DepthwiseConv kernel 3 on a 32-long (32x32) 3-channel input,
    ``fixed<32,12>``, inputs exact in ``ap_fixed<16,6>``, ``rtol=1e-2, atol=0.01``."""
    tf.keras.utils.set_random_seed(0)
    shape = (32, 32, 3) if rank == 2 else (32, 3)
    cls = L.DepthwiseConv2D if rank == 2 else L.DepthwiseConv1D
    model = tf.keras.Sequential([tf.keras.Input(shape), cls(3)])
    x = np.random.default_rng(0).random((10, int(np.prod(shape))))
    x = np.round(x * 2**10) * 2**-10
    firmware = fa.to_firmware(model, precision="ap_fixed<32,12>")
    keras = model.predict(x.reshape(-1, *shape), verbose=0).reshape(10, -1)
    np.testing.assert_allclose(firmware.predict(x), keras, rtol=1e-2, atol=0.01)


@pytest.mark.parametrize("rank,padding,strides,multiplier", [(2, "same", 1, 2), (2, "valid", 2, 1), (1, "same", 2, 2)])
def test_separable_matches_keras(rank, padding, strides, multiplier):
    tf.keras.utils.set_random_seed(12)
    shape = (8, 8, 3) if rank == 2 else (10, 3)
    cls = L.SeparableConv2D if rank == 2 else L.SeparableConv1D
    model = tf.keras.Sequential([tf.keras.Input(shape), cls(4, 3, strides=strides, padding=padding,
                                                            depth_multiplier=multiplier, activation="relu",
                                                            name="sep"), L.Flatten(), L.Dense(2)])
    _prune_taps(model.get_layer("sep"), 0.4, 5)
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    assert [layer.kind for layer in firmware.ir.layers] == ["input", "conv", "conv", "activation", "dense"]
    assert firmware.ir.layer("sep_depthwise").nonzero_weights == _nonzero_taps(model.get_layer("sep"))
    x = np.random.default_rng(2).uniform(-1, 1, (16, int(np.prod(shape))))
    np.testing.assert_allclose(firmware.predict(x), model.predict(x.reshape(-1, *shape), verbose=0), atol=1e-3)


def test_qdepthwise_and_qseparable_match_qkeras():
    from qkeras import QActivation, QDepthwiseConv2D, QSeparableConv2D, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(13)
    model = tf.keras.Sequential([
        tf.keras.Input((6, 6, 2)),
        QDepthwiseConv2D(3, padding="same", depth_multiplier=2, depthwise_quantizer=quantized_bits(4, 0, alpha=1),
                         bias_quantizer=quantized_bits(6, 2, alpha=1), name="qdw"),
        QActivation(quantized_relu(8, 3), name="qa"),
        QSeparableConv2D(3, 2, strides=2, depthwise_quantizer=quantized_bits(5, 1, alpha=1),
                         pointwise_quantizer=quantized_bits(5, 1, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
                         name="qsep"),
        L.Flatten(), L.Dense(2, name="d"),
    ])
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    assert firmware.ir.layer("qdw").weight_type.width == 4
    # a quantized product with its own types keeps the exact sum (its accumulator type)
    assert firmware.ir.layer("qsep_depthwise").result_type == firmware.ir.layer("qsep_depthwise").accum_type
    x = _representable(firmware, np.random.default_rng(3).uniform(-1, 1, (20, 72)))
    np.testing.assert_allclose(firmware.predict(x), model.predict(x.reshape(-1, 6, 6, 2), verbose=0), atol=1e-3)


# ----------------------------------------------------------------------------- cost, options, float view
def test_pruned_depthwise_taps_remove_multipliers():
    model = tf.keras.Sequential([tf.keras.Input((10, 10, 4)), L.DepthwiseConv2D(3, depth_multiplier=2, name="dw"),
                                 L.Flatten(), L.Dense(2)])

    def cost():
        firmware = fa.to_firmware(model, precision="ap_fixed<16,6>")
        return firmware.ir.layer("dw"), next(c for c in firmware.estimate().layers if c.name == "dw")

    layer, dense = cost()
    assert layer.nonzero_weights == 3 * 3 * 4 * 2 == _nonzero_taps(model.get_layer("dw"))  # not 9*4 x 8
    assert dense.n_mult > 0 and dense.n_mult % layer.n_pixels == 0
    _prune_taps(model.get_layer("dw"), 0.6, 0)
    pruned_layer, pruned = cost()
    assert pruned_layer.nonzero_weights == _nonzero_taps(model.get_layer("dw")) < layer.nonzero_weights
    assert pruned.n_mult < dense.n_mult and pruned.lut + 100 * pruned.dsp < dense.lut + 100 * dense.dsp


def test_separable_halves_take_their_own_layer_config():
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 2)), L.SeparableConv2D(3, 3, name="sep"), L.Flatten(),
                                 L.Dense(2)])
    firmware = fa.to_firmware(model, layer_config={"sep_depthwise": {"precision": {"result": "ap_fixed<12,4>"}},
                                                   "sep": {"reuse_factor": 3}})
    assert firmware.ir.layer("sep_depthwise").result_type.cpp().startswith("ap_fixed<12,4")
    assert firmware.ir.layer("sep").product.reuse_factor == 3
    with pytest.raises(fa.ConfigError, match="sep_dw"):
        fa.to_firmware(model, layer_config={"sep_dw": {"reuse_factor": 2}})


def test_depthwise_refusals_name_the_layer():
    for layer, message in ((L.DepthwiseConv2D(3, data_format="channels_first", name="bad"), "channels_first"),
                           (L.DepthwiseConv2D(3, activation="softmax", name="bad"), "softmax over the channels")):
        model = tf.keras.Sequential([tf.keras.Input((6, 6, 4)), layer, L.Flatten(), L.Dense(2)])
        with pytest.raises(fa.UnsupportedLayerError, match=message) as err:
            fa.to_firmware(model)
        assert "'bad'" in str(err.value)


# ----------------------------------------------------------------------------- QConv2DBatchnorm
def _qconv_bn(use_bias: bool, seed: int):
    from qkeras import QConv2DBatchnorm, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.Input((6, 6, 2)),
        QConv2DBatchnorm(3, 3, padding="same", strides=1, use_bias=use_bias,
                         kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
                         activation=quantized_relu(8, 3), name="qcbn"),
        L.Flatten(), L.Dense(2, name="d"),
    ])
    bn = model.get_layer("qcbn").batchnorm
    rng = np.random.default_rng(seed)
    bn.set_weights([rng.uniform(0.5, 1.5, 3), rng.uniform(-0.3, 0.3, 3), rng.uniform(-0.2, 0.2, 3),
                    rng.uniform(0.5, 2.0, 3)])
    return model


@pytest.mark.parametrize("use_bias", [True, False])
def test_qconv2d_batchnorm_weights_are_qkeras_folded_and_quantized(use_bias):
    model = _qconv_bn(use_bias, 21)
    layer = model.get_layer("qcbn")
    firmware = fa.to_firmware(model, precision="ap_fixed<24,10>")
    conv = firmware.ir.layer("qcbn")
    assert [item.kind for item in firmware.ir.layers] == ["input", "conv", "activation", "dense"]
    folded_kernel, folded_bias = layer.get_folded_weights()
    expected_kernel = np.asarray(layer.kernel_quantizer_internal(folded_kernel)).reshape(18, 3)
    expected_bias = np.asarray(layer.bias_quantizer_internal(folded_bias))
    assert np.count_nonzero(expected_bias) > 0  # the folded bias exists even without use_bias
    # the stored numbers are exactly QKeras' quantized folded weights
    np.testing.assert_array_equal(conv.weight_type.to_float(conv.weights), expected_kernel)
    np.testing.assert_array_equal(conv.bias_type.to_float(conv.product.bias), expected_bias)
    x = _representable(firmware, np.random.default_rng(4).uniform(-1, 1, (20, 72)))
    # the conv + quantized_relu output against QKeras' own: on its 2^-5 grid; QKeras' float32
    # sums may land a level boundary one level apart, rarely (measured: 0 of 2160 differ)
    ours = firmware.trace(x)["qcbn_relu"]
    qkeras = tf.keras.Model(model.inputs, layer.output).predict(x.reshape(-1, 6, 6, 2), verbose=0).reshape(20, -1)
    assert np.abs(ours - qkeras).max() <= 2**-5 and np.count_nonzero(ours != qkeras) <= 0.01 * ours.size
    # then a float Dense in ap_fixed<24,10> (its weights rounded to 2^-14)
    np.testing.assert_allclose(firmware.predict(x), model.predict(x.reshape(-1, 6, 6, 2), verbose=0), atol=5e-3)


# ----------------------------------------------------------------------------- structured pruning of convolutions
def _fit(model, callbacks, shape, seed=0):
    model.compile("adam", "mse")
    rng = np.random.default_rng(seed)
    return model.fit(rng.normal(size=(32, *shape)), rng.normal(size=(32, model.output_shape[-1])), epochs=2,
                     batch_size=8, verbose=0, callbacks=callbacks)


def test_filter_pruning_removes_whole_filters_and_their_multipliers():
    tf.keras.utils.set_random_seed(3)

    def model():
        return tf.keras.Sequential([tf.keras.Input((6, 6, 2)), L.Conv2D(8, 3, name="c"),
                                    L.DepthwiseConv2D(2, depth_multiplier=2, name="dw"), L.Flatten(),
                                    L.Dense(2, name="d")])

    dense = model()
    pruned = model()
    pruned.set_weights(dense.get_weights())
    prune = fa.Prune(0.5, end_step=4, frequency=1, structure="filter", layers=["c", "dw"])
    _fit(pruned, [prune], (6, 6, 2))
    kernel = pruned.get_layer("c").get_weights()[0]
    alive = np.count_nonzero(np.abs(kernel).sum(axis=(0, 1, 2)))
    assert alive == 4 and np.count_nonzero(kernel) == 4 * 3 * 3 * 2  # 4 of 8 filters, every weight of each kept
    dw = pruned.get_layer("dw").depthwise_kernel.numpy()  # (2, 2, 8, 2): 16 output channels
    assert np.count_nonzero(np.abs(dw).sum(axis=(0, 1))) == 8 and np.count_nonzero(dw) == 8 * 4
    assert prune.masks["dw.depthwise_kernel"].shape == dw.shape
    before = fa.to_firmware(dense, precision="ap_fixed<16,6>")
    after = fa.to_firmware(pruned, precision="ap_fixed<16,6>")
    conv = after.ir.layer("c")
    assert np.count_nonzero(np.abs(conv.weights).sum(axis=0)) == 4  # the IR product keeps 4 columns
    assert conv.nonzero_weights == 72 < before.ir.layer("c").nonzero_weights
    cost_before = {c.name: c for c in before.estimate().layers}
    cost_after = {c.name: c for c in after.estimate().layers}
    for name in ("c", "dw"):
        assert cost_after[name].n_mult < cost_before[name].n_mult


def test_tap_pruning_removes_kernel_positions():
    tf.keras.utils.set_random_seed(4)
    model = tf.keras.Sequential([tf.keras.Input((8, 3)), L.Conv1D(4, 4, name="c"), L.SeparableConv1D(2, 3, name="s"),
                                 L.Flatten(), L.Dense(2, name="d")])
    with pytest.raises(ValueError, match=r"structure='tap'.*pointwise_kernel of layer 's'.*layers="):
        _fit(model, [fa.Prune(0.5, end_step=4, frequency=1, structure="tap", layers=["c", "s"])], (8, 3))
    with pytest.raises(ValueError, match=r"structure='tap'.*layer 'd' has no kernel positions"):
        _fit(model, [fa.Prune(0.5, end_step=4, frequency=1, structure="tap", layers=["c", "d"])], (8, 3))
    _fit(model, [fa.Prune(0.5, end_step=4, frequency=1, structure="tap", layers=["c"])], (8, 3))
    kernel = model.get_layer("c").get_weights()[0]  # (4 taps, 3, 4)
    per_tap = np.count_nonzero(kernel.reshape(4, -1), axis=1)
    assert sorted(per_tap.tolist()) == [0, 0, 12, 12]
    conv = fa.to_firmware(model, precision="ap_fixed<16,6>").ir.layer("c")
    assert conv.nonzero_weights == 24 and np.count_nonzero(np.abs(conv.weights).sum(axis=1)) == 2 * 3


def test_structured_pruning_options_are_validated():
    with pytest.raises(ValueError, match=r"structure must be one of .*'filter', 'tap'"):
        fa.Prune(0.5, structure="channel")
    with pytest.raises(ValueError, match="block_size=2 is only used with structure='block'"):
        fa.Prune(0.5, structure="filter", block_size=2)
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 2)), L.DepthwiseConv2D(3, name="dw"), L.Flatten(), L.Dense(2)])
    with pytest.raises(ValueError, match=r"structure='balanced'.*depthwise kernel of layer 'dw'"):
        _fit(model, [fa.Prune(0.5, end_step=4, frequency=1, structure="balanced", reuse_factor=2)], (6, 6, 2))
    with pytest.raises(ValueError, match=r"prunable\(\): structure='filter' has no tfmot equivalent"):
        fa.prunable(model, 0.5, end_step=4, structure="filter")


def test_a_tfmot_wrapped_separable_conv_converts_with_its_mask():
    """tfmot's prune_low_magnitude prunes a SeparableConv2D's pointwise kernel (its registry's
    choice); the IR reads that mask for the pointwise half."""
    tf.keras.utils.set_random_seed(6)
    model = tf.keras.Sequential([tf.keras.Input((6, 6, 2)), L.SeparableConv2D(3, 3, name="s"), L.Flatten(),
                                 L.Dense(2, name="d")])
    wrapped = fa.prunable(model, 0.6, end_step=3, frequency=1, layers=["s"])
    layer = wrapped.layers[0]
    (weight, mask, _), = layer.pruning_vars
    assert weight is layer.layer.pointwise_kernel
    keep = np.random.default_rng(6).random(tuple(mask.shape)) < 0.5
    mask.assign(keep.astype(mask.dtype.as_numpy_dtype))  # as tfmot's schedule would have set it
    ir = fa.to_firmware(wrapped).ir
    assert ir.layer("s").nonzero_weights == np.count_nonzero(weight.numpy() * keep) < weight.shape.num_elements()
    assert ir.layer("s_depthwise").nonzero_weights == np.count_nonzero(layer.layer.depthwise_kernel.numpy())


@pytest.mark.parametrize("multiplier, precision", [(1, "ap_fixed<16,6>"), (2, "ap_fixed<10,3,AP_RND,AP_SAT>"),
                                                   (3, "ap_fixed<8,2,AP_TRN,AP_WRAP>")])
def test_the_channelwise_plan_equals_the_integer_rule(multiplier, precision):
    """A depthwise product runs as taps x C x m products per pixel (emulator._channelwise_plan),
    not as its C-times larger dense product: the same mantissas as the integer rule, exactly."""
    from fpga_aware.sim.emulator import EMULATOR_RULES, _channelwise_plan

    tf.keras.utils.set_random_seed(multiplier)
    model = tf.keras.Sequential([tf.keras.Input((7, 6, 3)),
                                 L.DepthwiseConv2D(3, strides=(2, 1), padding="same", depth_multiplier=multiplier,
                                                   dilation_rate=1, name="dw"),
                                 L.DepthwiseConv2D(2, dilation_rate=2, name="dw2"), L.Flatten(), L.Dense(2)])
    firmware = fa.to_firmware(model, precision=precision)
    rng = np.random.default_rng(multiplier)
    x = rng.uniform(-8, 8, (40, 7 * 6 * 3))
    values = firmware.trace(x)
    layers = firmware.ir.layers
    checked = 0
    for before, layer in zip(layers, layers[1:]):
        if layer.kind != "conv":
            continue
        assert _channelwise_plan(layer.product, int(layer.in_shape[-1])) is not None
        rule = EMULATOR_RULES["conv"]
        plan = rule.plan(layer)
        mantissas = rule.integer(layer, layer.input_type.from_float(values[before.name]))
        if plan is not None:
            np.testing.assert_array_equal(layer.result_type.from_float(plan(values[before.name])), mantissas)
            checked += 1
    assert checked == 2
    dense = firmware.ir.layer("dw").product
    assert _channelwise_plan(dataclasses.replace(dense, weights=dense.weights + 1), 3) is None  # not diagonal
