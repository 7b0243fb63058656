"""The Verilog backend's convolutional kinds (conv, pooling, reorder) in io_parallel: RTL
simulated with Verilator equals the emulator bit for bit on small seeded CNNs (Conv1D and Conv2D
with strides and same padding, pruned taps, max and average pooling whose windows have
different counts, zero padding, cropping, upsampling, Flatten + Dense), in both multiplier
modes and on a multi-cycle product.  Each Verilator build takes 20-30 s of CPU (about 60 s of
CPU for the three; 70-110 s each of wall time on a loaded 2-core machine), so the models are
tiny and each exercises several kinds at once; the shared CNNs are benchmarks/rtl_shared_cnns.py."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import tensorflow as tf

import fpga_aware as fa
from fpga_aware.rtl.layers import RTLOptions, magic_division
from fpga_aware.rtl.writer import render_verilog

L = tf.keras.layers
needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator is not installed (make test installs it as root)")


def _prune(model, fraction: float, seed: int) -> int:
    """Zero ``fraction`` of every conv kernel's taps; returns the nonzero taps left."""
    rng = np.random.default_rng(seed)
    left = 0
    for layer in model.layers:
        if isinstance(layer, (L.Conv1D, L.Conv2D)):
            kernel, *rest = layer.get_weights()
            kernel = np.where(rng.random(kernel.shape) < fraction, 0.0, kernel)
            layer.set_weights([kernel, *rest])
            left += int(np.count_nonzero(kernel))
    return left


def _model_1d(seed: int):
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.Input((9, 2)),
        L.Conv1D(3, 3, strides=2, padding="same", activation="relu", name="c1"),
        L.ZeroPadding1D((1, 0), name="zp"),
        L.AveragePooling1D(3, strides=2, padding="same", name="ap"),  # windows of 3 and 2 cells
        L.Flatten(name="fl"),
        L.Dense(3, name="d"),
    ])
    _prune(model, 0.4, seed)
    return model


def _model_2d(seed: int):
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        tf.keras.Input((5, 5, 2)),
        L.Conv2D(2, 3, strides=2, padding="same", name="c2"),
        L.UpSampling2D(2, name="up"),
        L.Cropping2D(((1, 0), (0, 1)), name="cr"),
        L.MaxPooling2D(2, padding="same", name="mp"),
        L.Flatten(name="fl"),
        L.Dense(2, name="d"),
    ])
    _prune(model, 0.3, seed)
    return model


def _inputs(n_in: int, seed: int, rows: int = 300) -> np.ndarray:
    """Wide random inputs (the input conversion and the sums saturate on some rows)."""
    return np.random.default_rng(seed).uniform(-8, 8, (rows, n_in))


def _rows_differ(firmware, x) -> int:
    expected = firmware.predict(x)
    assert np.unique(expected).size > 10  # not a trivially constant design
    return int(np.count_nonzero(np.any(firmware.predict(x, engine="rtl") != expected, axis=1)))


@needs_verilator
@pytest.mark.slow
def test_conv2d_max_pooling_reorders_rtl_equals_emulator(tmp_path):
    firmware = fa.to_firmware(_model_2d(5), precision="ap_fixed<9,3>")
    firmware.write_verilog(tmp_path / "dsp")
    assert _rows_differ(firmware, _inputs(50, 1)) == 0


@needs_verilator
@pytest.mark.slow
def test_conv_da_multiplier_rtl_equals_emulator(tmp_path):
    firmware = fa.to_firmware(_model_1d(4), precision="ap_fixed<8,3>")
    assert [layer.kind for layer in firmware.ir.layers[1:]][:4] == ["conv", "activation", "reorder", "pooling"]
    firmware.write_verilog(tmp_path / "da", options=RTLOptions(multiplier={"c1": "da"}))
    text = (tmp_path / "da" / "rtl" / "fa_c1.v").read_text()
    assert " * " not in text.split("module fa_c1 (")[0]  # the pixel module has no multiplication
    assert _rows_differ(firmware, _inputs(18, 2)) == 0


@needs_verilator
@pytest.mark.slow
def test_conv_on_a_multi_cycle_schedule_rtl_equals_emulator(tmp_path):
    firmware = fa.to_firmware(_model_1d(6), precision="ap_fixed<10,4>", reuse_factor=3)
    conv = firmware.ir.layers[1]
    assert conv.kind == "conv" and conv.product.schedule.n_cycles > 1
    firmware.write_verilog(tmp_path / "rf3")
    assert _rows_differ(firmware, _inputs(18, 3)) == 0


def test_only_nonzero_taps_are_multiplied_per_pixel():
    """The pixel module holds one product per nonzero kernel entry, instantiated once per output
    pixel; a padding cell and an input that feeds no nonzero tap are tied to 0."""
    model = _model_2d(7)
    firmware = fa.to_firmware(model, precision="ap_fixed<9,3>")
    conv = firmware.ir.layers[1]
    kernel = model.get_layer("c2").get_weights()[0]
    files = render_verilog(firmware.ir, firmware.config)
    text = files["rtl/fa_c2.v"]
    pixel, top = text.split("module fa_c2 (")
    nonzero = int(np.count_nonzero(conv.product.weights))  # the kernel as quantized (a tiny weight may round to 0)
    assert nonzero <= np.count_nonzero(kernel) < kernel.size
    assert len(re.findall(r"wire signed \[\d+:0\] p\d+ = x\d+ \* ", pixel)) == nonzero
    assert len(re.findall(r"fa_c2_pixel u_p\d+ ", top)) == conv.n_pixels == 9
    assert re.search(r"x_p0 = \{[^;]*9'd0", top)  # pixel 0's window starts in the padding


def test_magic_division_is_exact():
    for n in (1, 2, 3, 5, 6, 7, 9, 16, 25):
        d = magic_division(n, 9)
        a = np.arange(1 << 9, dtype=object)
        assert np.array_equal((a * d["m"]) >> d["k"], a // n)


def test_yosys_estimate_counts_each_pixels_products_without_padding():
    """``estimate(tool='yosys')`` of a conv: the dense DSP rule per output pixel, over the taps
    whose input is not a padding cell (counted here from the kernel and the window table)."""
    from fpga_aware.rtl.mapping import constant_product_on_dsp

    firmware = fa.to_firmware(_model_1d(8), precision="ap_fixed<16,6>")
    conv = firmware.ir.layers[1]
    outs, ins, mantissas = conv.product.terms()
    x = conv.input_type
    expected = 0
    for row in conv.patch:
        live = row[ins] < conv.n_in  # the term's input is a real cell
        on_dsp = {(int(i), int(m)) for i, m, keep in zip(ins, mantissas, live)
                  if keep and constant_product_on_dsp(int(m), x.width, x.signed)}
        expected += len(on_dsp)
    padded = sum(int(np.count_nonzero(row[ins] >= conv.n_in)) for row in conv.patch)
    assert padded > 0  # same padding: the edge pixels lose taps
    cost = firmware.estimate(tool="yosys").layers[0]
    assert cost.kind == "conv" and cost.dsp == expected > 0


def test_yosys_estimate_against_the_committed_conv_runs():
    """benchmarks/yosys_conv.py's Yosys runs of the two seeded CNNs above (a minute each, so
    committed as data): the estimate computed now gives every DSP and LUTs within 15 %."""
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "yosys_conv.json").read_text())
    designs = {"conv2d": (_model_2d(5), "ap_fixed<9,3>"), "conv1d": (_model_1d(3), "ap_fixed<10,4>")}
    assert len(data["runs"]) == 2
    for run in data["runs"]:
        model, precision = designs[run["design"].split()[0]]
        assert run["precision"] == precision
        est = fa.to_firmware(model, precision=precision).estimate(tool="yosys")
        assert (est.dsp, est.lut, est.ff) == tuple(run["estimate"][k] for k in ("dsp", "lut", "ff"))
        measured = run["measured"]
        assert est.dsp == measured["dsp"]
        assert abs(est.lut - measured["lut"]) <= 0.15 * measured["lut"]


@needs_verilator
@pytest.mark.slow
def test_depthwise_and_separable_convs_rtl_equal_the_emulator(tmp_path):
    """A depthwise conv is a conv whose product is channel-diagonal (its zeros not multiplied), a
    separable one a depthwise then a pointwise conv: nothing more for the Verilog."""
    tf.keras.utils.set_random_seed(2)
    model = tf.keras.Sequential([tf.keras.Input((8, 3)), L.DepthwiseConv1D(3, padding="same", name="dw"),
                                 L.SeparableConv1D(2, 3, strides=2, name="sep"), L.Flatten(), L.Dense(2)])
    firmware = fa.to_firmware(model, precision="ap_fixed<10,4>")
    assert [layer.kind for layer in firmware.ir.layers[1:]] == ["conv", "conv", "conv", "dense"]
    firmware.write_verilog(tmp_path / "dw")
    assert _rows_differ(firmware, _inputs(24, 4)) == 0


@pytest.mark.skipif(shutil.which("yosys") is None or shutil.which("iverilog") is None,
                    reason="yosys and iverilog are needed (make test installs them as root)")
def test_gate_level_netlist_of_a_small_cnn_equals_the_emulator(tmp_path):
    """Yosys' xc7 netlist of a Conv1D + ReLU + max pooling + Dense model (DSP48E1, LUTs,
    CARRY4, FDRE), simulated with Yosys' primitive models in Icarus Verilog, equals the emulator."""
    tf.keras.utils.set_random_seed(5)
    model = tf.keras.Sequential([
        tf.keras.Input((6, 1)),
        L.Conv1D(2, 2, activation="relu", name="c1"),
        L.MaxPooling1D(2, name="mp"),
        L.Flatten(name="fl"),
        L.Dense(2, name="d"),
    ])
    firmware = fa.to_firmware(model, precision="ap_fixed<8,3>")
    path = firmware.write_verilog(tmp_path / "v")
    x = np.random.default_rng(9).uniform(-4, 4, (120, 6))
    expected = firmware.predict(x)
    out = firmware.predict(x, engine="netlist")
    assert int(np.count_nonzero(np.any(out != expected, axis=1))) == 0
    assert np.unique(expected, axis=0).shape[0] > 20  # not a constant design
    netlist = (path / "sim" / "netlist_xc7" / "netlist.v").read_text()
    assert "FDRE " in netlist and ("DSP48E1 " in netlist or "CARRY4 " in netlist)
