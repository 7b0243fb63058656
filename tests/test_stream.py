"""io_stream (issue 14 section 2): hls::stream FIFOs between layers, line buffers for the windows.

The arithmetic is io_parallel's, so the emulator is the prediction: emulator = C simulation bit
for bit (exact fixed-point outputs) on the composite CNN of test_conv (every window option,
reorders, folded BatchNormalization, shared multipliers, a saturating accumulator) and on the
shared KERAS_conv1d_small; the line buffer and FIFO rules against direct computations; the cost
of each IO type; refusals by name.  benchmarks/stream_csim.py runs the other shared CNNs and
seeded random CNNs (benchmarks/data/stream_csim.json).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from fpga_aware.core.streams import STREAM_MODES, UnsupportedStreamError, stream_plan
from fpga_aware.rtl.layers import UnsupportedRTLError
from test_conv import _composite, _csim_equal, _random_cnn

L = tf.keras.layers


def _conv2d(size, kernel, strides=1, padding="valid", dilation=1):
    inputs = tf.keras.Input((*size, 2))
    h = L.Conv2D(3, kernel, strides=strides, padding=padding, dilation_rate=dilation)(inputs)
    return tf.keras.Model(inputs, L.Dense(2)(L.Flatten()(h)))


@pytest.mark.parametrize("size,kernel", [((6, 8), (3, 3)), ((5, 7), (2, 3)), ((9, 4), (4, 2))])
def test_line_buffer_of_a_stride_1_valid_window_is_kernel_rows_minus_1_lines_plus_kernel_cols(size, kernel):
    fw = fa.to_firmware(_conv2d(size, kernel), io_type="io_stream")
    stage = stream_plan(fw.ir).stages[0]
    assert stage.mode == "window" and stage.in_tokens == size[0] * size[1] and stage.in_width == 2
    assert stage.buffer_depth == (kernel[0] - 1) * size[1] + kernel[1]
    assert stage.ready[0] == stage.buffer_depth  # the first pixel waits for its whole window


@pytest.mark.parametrize("seed", range(6))
def test_line_buffer_holds_every_window_when_it_is_read(seed):
    """A circular buffer of ``buffer_depth`` pixels, filled up to ``ready[p]`` pixels, still holds
    every position window ``p`` reads (and one pixel less would not, for some window)."""
    fw = fa.to_firmware(_random_cnn(seed), io_type="io_stream")
    plan = stream_plan(fw.ir)
    windows = [s for s in plan.stages if s.mode == "window"]
    assert windows
    for stage in windows:
        layer = fw.ir.layer(stage.name)
        c = layer.in_shape[-1]
        pos = layer.windows if layer.kind == "pooling" else np.where(layer.patch[:, ::c] < layer.n_in,
                                                                        layer.patch[:, ::c] // c, -1)
        assert np.all(np.diff(stage.ready) >= 0) and stage.ready[-1] <= stage.in_tokens
        oldest_needed = []
        for p, row in enumerate(pos):
            used = row[row >= 0]
            assert used.max() < stage.ready[p]  # read before it is needed
            oldest_needed.append(stage.ready[p] - used.min())
        assert max(oldest_needed) == stage.buffer_depth


def test_fifo_depths_follow_the_token_schedule():
    """A FIFO is as deep as the most tokens its producer is ahead: Conv2D stride 1 'same' 3x3 on
    6x6 feeds a 2x2/2 max pooling that reads a pixel only when its window needs it."""
    inputs = tf.keras.Input((6, 6, 1))
    h = L.Conv2D(2, 3, padding="same", name="c")(inputs)
    h = L.MaxPooling2D(2, name="p")(h)
    model = tf.keras.Model(inputs, L.Dense(2, name="d")(L.Flatten(name="f")(h)))
    fw = fa.to_firmware(model, io_type="io_stream")
    plan = stream_plan(fw.ir)
    c, p, d = plan.stages  # the channels-last Flatten is the identity: no layer
    assert c.buffer_depth == 2 * 6 + 3  # an interior window, as for 'valid'
    assert c.ready[0] == 6 + 2  # 'same': the first window reads rows 0-1, columns 0-1
    # the pooling reads pixel 7 (row 1, col 1) for its first output: c has written 8 pixels
    assert p.ready[0] == 8 and p.buffer_depth == 8
    assert all(s.fifo_depth >= 1 for s in (c, p)) and d.fifo_depth == 0
    # direct check of the pooling's FIFO depth: replay c's writes and p's lazy reads
    assert c.fifo_depth == _replayed_depth(c, p)
    assert p.fifo_depth == _replayed_depth_after(c, p, d)
    assert d.mode == "tensor" and d.in_tokens == 9 and d.in_width == 2 and d.out_tokens == 1


def _replay(stage, arrive, ii: int = 1):
    """A window stage's reads and writes, replayed by hand: one token per cycle per stream, a read
    only when an output needs it and not before the previous output is written (the same cycle
    is fine), an output one cycle after its last read and at least ``ii`` after the previous one."""
    reads, writes, t_read, t_write, n = [], [], -1, -1, 0
    for need in stage.ready.tolist():
        while n < need:
            t_read = max(t_read + 1, t_write, int(arrive[n]))
            reads.append(t_read)
            n += 1
        t_write = t_read + 1 if not writes else max(t_read + 1, t_write + ii)
        writes.append(t_write)
    while n < stage.in_tokens:
        t_read = max(t_read + 1, t_write, int(arrive[n]))
        reads.append(t_read)
        n += 1
    return reads, np.array(writes)


def _level(writes, reads) -> int:
    """Most tokens written and not yet read at any cycle (a write counted before a read in the same cycle)."""
    level = [sum(w <= k for w in writes) - sum(r < k for r in reads) for k in range(int(max(reads)) + 2)]
    return max(1, max(level))


def _replayed_depth(producer, consumer) -> int:
    """Tokens written by ``producer`` (the first stage: its input arrives one pixel per cycle) and
    not yet read by ``consumer``, at worst."""
    writes = _writes(producer, np.arange(producer.in_tokens))
    reads, _ = _replay(consumer, writes)
    return _level(writes, reads)


def _replayed_depth_after(first, producer, consumer) -> int:
    """The same replay one stage further down: the consumer (a tensor layer) reads every token."""
    writes = _writes(producer, _writes(first, np.arange(first.in_tokens)))
    reads, t = [], -1
    for w in writes.tolist():
        t = max(t + 1, w)
        reads.append(t)
    return _level(writes, reads)


def _writes(stage, arrive):
    return _replay(stage, arrive)[1]


def test_composite_cnn_emulator_equals_csim_in_io_stream(tmp_path, rng):
    layer_config = {"c2": {"reuse_factor": 3}, "c1": {"precision": {"accum": "ap_fixed<14,5,AP_RND,AP_SAT>"}}}
    model = _composite()
    firmware = fa.to_firmware(model, precision="ap_fixed<18,8>", layer_config=layer_config, io_type="io_stream")
    x = rng.uniform(-1, 1, (16, 7 * 7 * 2))
    y = _csim_equal(firmware, x, tmp_path / "prj")
    parallel = fa.to_firmware(model, precision="ap_fixed<18,8>", layer_config=layer_config)
    np.testing.assert_array_equal(y, parallel.predict(x))  # the same arithmetic in both IO types
    manifest = json.loads((tmp_path / "prj" / "fpga_aware_project.json").read_text())
    assert manifest["io_type"] == "io_stream"
    plan = firmware.stream
    assert manifest["stream"]["fifo_depths"] == {s.name: s.fifo_depth for s in plan.stages[:-1]}
    c1 = next(e for e in manifest["layers"] if e["name"] == "c1")
    assert c1["stream"]["line_buffer_pixels"] == plan.stages[1].buffer_depth
    top = (tmp_path / "prj" / "firmware" / "myproject.cpp").read_text()
    assert "HLS DATAFLOW" in top and "hls::stream<c1_token_t> c1_out" in top
    assert f"variable=zp_out depth={plan.stages[0].fifo_depth})" in top
    # only the nonzero taps are stored, as in io_parallel
    c2 = firmware.ir.layer("c2")
    weights = (tmp_path / "prj" / "firmware" / "weights" / "c2.h").read_text()
    assert f"{c2.product.nonzero_weights} nonzero weights" in weights


def test_conv1d_small_emulator_equals_csim_in_io_stream(shared_model, tmp_path, rng):
    model = shared_model("KERAS_conv1d_small")
    firmware = fa.to_firmware(model, precision="ap_fixed<24,12>", io_type="io_stream")
    x = rng.uniform(-1, 1, (20, 10 * 4))
    y = _csim_equal(firmware, x, tmp_path / "prj")
    keras = model.predict(x.reshape(-1, 10, 4), verbose=0)
    np.testing.assert_array_equal(y.argmax(axis=1), keras.argmax(axis=1))
    assert [s.mode for s in stream_plan(firmware.ir).stages].count("window") == 3


def test_stream_cost_has_one_product_per_conv_and_an_ii_of_the_input_pixels():
    model = _conv2d((8, 8), (3, 3))
    parallel = fa.to_firmware(model).estimate()
    stream = fa.to_firmware(model, io_type="io_stream").estimate()
    conv_p, conv_s = parallel.layers[1], stream.layers[1]
    assert conv_p.n_mult == 36 * conv_s.n_mult  # 6x6 output pixels: one product copy each in io_parallel
    assert parallel.ii == 1 and stream.ii == 64  # one input pixel per cycle
    assert stream.latency_cycles > 64 > parallel.latency_cycles
    assert "line_buffer" in conv_s.lut_breakdown and conv_s.lut_breakdown["line_buffer"] > 0


def test_a_per_pixel_activation_is_costed_for_one_token_not_the_whole_tensor():
    """io_stream runs an element-wise layer once per token of ``in_width`` values (the
    ``pixel_config`` with ``n = in_width``): its logic is one token's, 1/36 of io_parallel's on
    6x6 output pixels (it was costed for the whole tensor: 230,656 LUT for the ReLU after the
    tutorial SVHN CNN's first conv, 30x30x16 values, where hls4ml's io_stream ReLU is 859)."""
    inputs = tf.keras.Input((8, 8, 2))
    h = L.Activation("relu")(L.Conv2D(3, 3)(inputs))
    model = tf.keras.Model(inputs, L.Dense(2)(L.Flatten()(h)))
    relu_p = fa.to_firmware(model).estimate().layers[2]
    relu_s = fa.to_firmware(model, io_type="io_stream").estimate().layers[2]
    assert relu_p.kind == relu_s.kind == "activation"
    relu = relu_s.lut_breakdown["relu"]  # besides the FIFO to the next layer (lut_breakdown["fifo"])
    assert relu_p.lut_breakdown["relu"] > 0 and relu * 36 == pytest.approx(relu_p.lut_breakdown["relu"], rel=0.05)


def test_a_deep_line_buffer_is_block_ram():
    """A line buffer deeper than the LUT-RAM limit (fpga_aware.core.hardware) is block RAM."""
    from fpga_aware.core.hardware import LUTRAM_MAX_DEPTH

    width = LUTRAM_MAX_DEPTH  # (3 - 1) * width + 3 pixels > LUTRAM_MAX_DEPTH
    inputs = tf.keras.Input((3, width, 1))
    model = tf.keras.Model(inputs, L.GlobalMaxPooling2D()(L.Conv2D(1, 3)(inputs)))
    cost = fa.to_firmware(model, io_type="io_stream").estimate().layers[1]
    assert cost.bram_18k >= 1 and cost.lut_breakdown["line_buffer"] == 0


def test_kinds_io_stream_does_not_run_are_refused_by_name():
    inputs = tf.keras.Input((6, 2))
    h = L.Conv1D(2, 3, name="c")(inputs)
    h = L.PReLU(name="prelu")(h)
    model = tf.keras.Model(inputs, L.Dense(1)(L.Flatten()(h)))
    with pytest.raises(UnsupportedStreamError, match=r"layer 'prelu' \(parametric_relu\) reads 4 tokens \(pixels\); "
                                                     r"io_stream runs parametric_relu only on a tensor that arrives "
                                                     r"as one token"):
        fa.to_firmware(model, io_type="io_stream")
    parallel = fa.to_firmware(model)  # io_parallel runs it, and has no streams
    with pytest.raises(fa.ConfigError, match="io_type 'io_parallel': it has no streams"):
        parallel.stream
    assert set(STREAM_MODES) >= {"conv", "pooling", "dense", "activation", "reorder", "softmax"}


def test_a_reshape_after_dense_sends_pixels_again():
    inputs = tf.keras.Input((12,))
    h = L.Reshape((6, 2), name="r")(L.Dense(12, name="d")(inputs))
    h = L.Conv1D(1, 2, name="c")(h)
    model = tf.keras.Model(inputs, L.Flatten()(h))
    stages = stream_plan(fa.to_firmware(model, io_type="io_stream").ir).stages
    # the Reshape is no layer: the dense layer writes its 12 outputs as 6 pixels of 2 channels
    assert [(s.name, s.in_tokens, s.out_tokens, s.out_width) for s in stages[:2]] == [("d", 1, 6, 2), ("c", 6, 5, 1)]


def test_dense_models_run_in_io_stream_and_the_verilog_backend_refuses_it(tmp_path, rng):
    inputs = tf.keras.Input((5,))
    model = tf.keras.Model(inputs, L.Dense(3, activation="relu")(L.Dense(4)(inputs)))
    firmware = fa.to_firmware(model, io_type="io_stream")
    modes = {layer.kind: s.mode for layer, s in zip(firmware.ir.layers[1:], stream_plan(firmware.ir).stages)}
    assert modes["dense"] == "tensor" and modes.get("activation", "pixel") == "pixel"
    with pytest.raises(UnsupportedRTLError, match="io_parallel' only, not 'io_stream'"):
        firmware.write_verilog(tmp_path / "rtl")


def test_a_reuse_factor_slows_the_layer_and_deepens_the_fifo_in_front_of_it():
    """With reuse factor 3 a convolution writes an output pixel at most every 3 cycles; the FIFO
    from the layer before it holds what that layer is ahead (replayed by hand below)."""
    inputs = tf.keras.Input((8, 8, 1))
    h = L.Conv2D(2, 3, padding="same", name="c1")(inputs)
    h = L.Conv2D(2, 3, padding="same", name="c2")(h)
    model = tf.keras.Model(inputs, L.Dense(2, name="d")(L.Flatten(name="f")(h)))
    plans = {r: stream_plan(fa.to_firmware(model, io_type="io_stream", layer_config={"c2": {"reuse_factor": r}}).ir)
             for r in (1, 3)}
    c1, c2, d = plans[3].stages
    assert (c1.ii, c2.ii, d.ii) == (1, 3, 1)
    assert c1.fifo_depth > plans[1].stages[0].fifo_depth
    assert c2.last_out_cycle - c2.first_out_cycle >= 3 * (c2.out_tokens - 1)
    assert plans[3].ii_tokens == 3 * 64 > plans[1].ii_tokens == 64
    assert plans[3].latency_tokens > plans[1].latency_tokens
    # replay: c1 with ii 1, c2 reads lazily and writes every 3 cycles at most
    writes = _writes(c1, np.arange(c1.in_tokens))
    reads, c2_writes = _replay(c2, writes, ii=3)
    assert c1.fifo_depth == _level(writes, reads)
    assert c2.last_out_cycle == int(c2_writes[-1])


def test_a_realistic_image_stores_no_per_pixel_index_table(tmp_path, rng):
    """io_stream computes each window cell from the geometry (fa::window_position): a 48x48x3
    image stores its line buffers and the per-pixel ``ready`` counts, not io_parallel's
    2,304 x 27 patch table, and still equals the emulator (strides, 'same' padding, dilation)."""
    inputs = tf.keras.Input((48, 48, 3))
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    h = L.MaxPooling2D(3, strides=2, padding="same", name="mp")(h)
    h = L.Conv2D(3, 3, strides=2, dilation_rate=1, padding="same", name="c2")(h)
    h = L.AveragePooling2D(2, padding="same", name="ap")(h)
    h = L.Conv2D(2, 2, dilation_rate=2, name="c3")(h)
    model = tf.keras.Model(inputs, L.Dense(3, name="d")(L.GlobalAveragePooling2D(name="gap")(h)))
    firmware = fa.to_firmware(model, precision="ap_fixed<18,8>", io_type="io_stream")
    x = rng.uniform(-1, 1, (6, 48 * 48 * 3))
    _csim_equal(firmware, x, tmp_path / "prj")
    sources = "".join(p.read_text() for p in (tmp_path / "prj" / "firmware").rglob("*.h"))
    sources += (tmp_path / "prj" / "firmware" / "myproject.cpp").read_text()
    for table in ("c1_patch[", "c2_patch[", "c3_patch[", "mp_windows[", "ap_windows[", "gap_windows["):
        assert table not in sources
    assert "c1_ready[" in sources and "static const int stride_height = 2;" in sources
    parallel = fa.to_firmware(model, precision="ap_fixed<18,8>")
    np.testing.assert_array_equal(firmware.predict(x), parallel.predict(x))


def test_an_unfolded_batch_norm_and_a_prelu_after_dense_layers_run_in_io_stream(tmp_path, rng):
    """QDense -> BatchNormalization stays a scale_shift layer (not folded into the quantized
    kernel); after a Dense it arrives as one token and runs as a tensor process, as a PReLU does."""
    from qkeras import QActivation, QDense, quantized_bits

    tf.keras.utils.set_random_seed(8)
    inputs = tf.keras.Input((6, 6, 1))
    h = L.Conv2D(2, 3, name="c")(inputs)
    h = L.Flatten(name="f")(h)
    h = QDense(8, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
               name="qd")(h)
    h = L.BatchNormalization(name="bn")(h)
    h = QActivation("quantized_relu(6)", name="qa")(h)
    h = L.PReLU(name="prelu")(L.Dense(4, name="d")(h))
    model = tf.keras.Model(inputs, L.Dense(2, name="out")(h))
    model.get_layer("bn").set_weights([rng.uniform(0.5, 2, 8), rng.uniform(-1, 1, 8), rng.uniform(-1, 1, 8),
                                       rng.uniform(0.5, 2, 8)])
    model.get_layer("prelu").set_weights([rng.uniform(0.05, 0.5, (4,))])
    firmware = fa.to_firmware(model, precision="ap_fixed<18,8>", io_type="io_stream")
    kinds = {layer.name: layer.kind for layer in firmware.ir.layers}
    assert kinds["bn"] == "scale_shift" and kinds["prelu"] == "parametric_relu"
    modes = {stage.name: (stage.mode, stage.in_tokens) for stage in firmware.stream.stages}
    assert modes["bn"] == ("tensor", 1) and modes["prelu"] == ("tensor", 1)
    x = rng.uniform(-2, 2, (50, 36))
    y = _csim_equal(firmware, x, tmp_path / "prj")
    parallel = fa.to_firmware(model, precision="ap_fixed<18,8>")
    np.testing.assert_array_equal(y, parallel.predict(x))
    costs = {c.name: c for c in firmware.estimate().layers}
    assert costs["bn"].dsp + costs["bn"].lut > 0 and costs["prelu"].lut > 0
