"""strategy='distributed_arithmetic': fully parallel dense layers as da4ml's adder graph in HLS C++
(fpga_aware/core/adder_graph.py, templates/firmware/adder_graph.h.j2).  The g++ C simulation equals
the emulator bit for bit, the layer's C++ has no product, the cost model gives it no DSP, and bad
options are refused by name.  Skipped where da4ml is missing (``pip install 'fpga_aware[da]'``)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core.adder_graph import DA_INSTALL, da_available
from fpga_aware.core.config import ConfigError, FirmwareConfig
from fpga_aware.core.fixed import parse_precision as P
from fpga_aware.core.ir import DenseLayer, ModelIR, Strategy
from fpga_aware.cost.tools import tool_profile
from fpga_aware.firmware import Firmware
from fpga_aware.hls.errors import ProjectDefinitionError
from fpga_aware.hls.writer import read_manifest, render_project
from fpga_aware.sim.emulator import emulate
from tests.test_rtl_da import _random_ir

needs_da = pytest.mark.skipif(not da_available(), reason="da4ml is not installed (pip install 'fpga_aware[da]')")
DA = "distributed_arithmetic"


def _as_da(ir: ModelIR) -> ModelIR:
    layers = [dataclasses.replace(layer, strategy=Strategy.DISTRIBUTED_ARITHMETIC) if isinstance(layer, DenseLayer)
              else layer for layer in ir.layers]
    return ModelIR(ir.project_name, layers)


def _inputs(n_rows: int, n_in: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_rows, n_in))
    x[: n_rows // 10] *= 40  # saturating inputs
    return x


def _code(text: str) -> str:
    """C++ without its comments."""
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


@needs_da
@pytest.mark.parametrize("seed", [0])  # seed 1 passes too (20 s more of g++)
def test_random_da_layers_csim_equals_emulator(tmp_path, seed):
    """Wrapping, saturating-but-wide and unsigned accumulators, unsigned inputs, zero rows and
    columns, products shifted into accum_t: the C simulation of the graph is the emulator's sum."""
    ir = _as_da(_random_ir(seed))
    firmware = Firmware(ir, FirmwareConfig(project_name="da"))
    firmware.write(tmp_path / "p")
    for layer in ir.dense_layers():
        header = (tmp_path / "p" / "firmware" / "graphs" / f"{layer.cname}.h").read_text()
        assert f"{layer.adder_graph['adders']} adders" in header
    rng = np.random.default_rng(seed)
    x = rng.uniform(-40, 40, (400, ir.n_inputs))
    x[:100] = rng.uniform(-1, 1, (100, ir.n_inputs))
    got = firmware.predict(x, engine="csim")
    assert np.array_equal(got, emulate(ir, x))
    # the emulator needs no change: the IR with the Latency strategy emulates to the same outputs
    assert np.array_equal(emulate(_random_ir(seed), x), got)


@needs_da
def test_pruned_jet_tagger_csim_equals_emulator_without_products(tmp_path, shared_model):
    model = shared_model("KERAS_3layer", "KERAS_3layer_95pruned_retrained_weights")
    firmware = fa.to_firmware(model, strategy=DA)
    latency = fa.to_firmware(model, strategy="latency")
    firmware.write(tmp_path / "p")
    x = _inputs(300, firmware.ir.n_inputs, 1)
    got = firmware.predict(x, engine="csim")
    assert np.array_equal(got, firmware.predict(x))
    assert np.array_equal(got, latency.predict(x))  # the same arithmetic as the Latency strategy
    assert (got != got[0]).any()  # not a constant output

    firmware_dir = tmp_path / "p" / "firmware"
    top = (firmware_dir / "myproject.cpp").read_text()
    layers = (firmware_dir / "fa_layers.h").read_text()
    body = layers[layers.index("void dense_da("):]
    body = body[: body.index("\n}\n")]
    assert "*" not in _code(body)
    for layer in firmware.ir.dense_layers():
        assert f"fa::dense_da<{layer.cname}_config>" in top
        graph = _code((firmware_dir / "graphs" / f"{layer.cname}.h").read_text())
        assert "*" not in graph  # no product: shifts and adders only
        assert len(re.findall(r"^\s*v\.n\d+ = .* [+-] ", graph, flags=re.M)) == layer.adder_graph["adders"]
        weights = (firmware_dir / "weights" / f"{layer.cname}.h").read_text()
        assert f"{layer.cname}_w[" not in weights  # only the biases are stored
    assert "x[i] * weight" in _code(layers)  # the other kernels' products (unused here)
    manifest = read_manifest(tmp_path / "p")
    entry = next(e for e in manifest["layers"] if e["name"] == "fc1_relu")
    assert entry["strategy"] == DA and entry["adder_graph"]["adders"] == firmware.ir.layers[1].adder_graph["adders"]


@needs_da
def test_cost_gives_da_layers_no_dsp_and_lut_per_adder_bit(shared_model):
    model = shared_model("KERAS_3layer", "KERAS_3layer_95pruned_retrained_weights")
    ir = fa.to_firmware(model, strategy=DA).ir
    for tool in ("vitis", "vivado"):
        da = fa.estimate(model, strategy=DA, tool=tool)
        latency = fa.estimate(model, strategy="latency", tool=tool)
        dense = {c.name: c for c in da.layers if c.kind == "dense"}
        assert all(c.dsp == 0 and c.strategy == DA for c in dense.values())
        assert sum(c.dsp for c in dense.values()) < sum(c.dsp for c in latency.layers if c.kind == "dense")
        p = tool_profile(tool)
        for layer in ir.dense_layers():
            assert dense[layer.name].lut_breakdown["adder_graph"] == round(layer.adder_graph["adder_bits"] * p.lut_per_adder_bit)
            assert "lut_multipliers" not in dense[layer.name].lut_breakdown
    # a deeper graph takes longer at a faster clock
    fast = fa.estimate(model, strategy=DA, clock_period=1.5)
    slow = fa.estimate(model, strategy=DA, clock_period=10.0)
    assert fast.latency_cycles > slow.latency_cycles


@needs_da
def test_da_options_are_refused_by_name(shared_model):
    model = shared_model("KERAS_3layer", "KERAS_3layer_95pruned_retrained_weights")
    with pytest.raises(ConfigError, match="strategy 'distributed_arithmetic'.*reuse_factor 1, got 4"):
        fa.to_firmware(model, strategy=DA, reuse_factor=4)
    with pytest.raises(ConfigError, match=r"layer_config\['fc2_relu'\]: strategy 'distributed_arithmetic' needs reuse_factor 1"):
        fa.to_firmware(model, layer_config={"fc2_relu": {"strategy": DA, "reuse_factor": 2}})
    # a model-wide reuse factor the layer does not override
    with pytest.raises(ConfigError, match="layer 'fc2_relu': strategy='distributed_arithmetic'.*reuse_factor 1, got 2"):
        fa.to_firmware(model, reuse_factor=2, layer_config={"fc2_relu": {"strategy": DA}})
    with pytest.raises(ConfigError, match=r"layer 'fc1_relu': strategy='distributed_arithmetic' computes the exact sum.*"
                                          r"accum_t ap_fixed<14,6>.*use strategy='latency'"):
        fa.to_firmware(model, strategy=DA, layer_config={"fc1_relu": {"precision": {"accum": "ap_fixed<14,6>"}}})
    with pytest.raises(ConfigError, match="'latency', 'resource', 'distributed_arithmetic'"):
        fa.to_firmware(model, strategy="da4ml")
    # one layer on the graph, the others as before
    mixed = fa.to_firmware(model, layer_config={"fc2_relu": {"strategy": DA}})
    assert [layer.strategy for layer in mixed.ir.dense_layers()] == [Strategy.LATENCY, Strategy.DISTRIBUTED_ARITHMETIC,
                                                                      Strategy.LATENCY, Strategy.LATENCY]
    files = render_project(mixed.ir, mixed.config)
    assert sorted(f for f in files if f.startswith("firmware/graphs/")) == ["firmware/graphs/fc2_relu.h"]


@needs_da
def test_hand_built_da_layers_are_refused_by_the_writer():
    ir = _as_da(_random_ir(0))
    layers = list(ir.layers)
    layers[2] = dataclasses.replace(layers[2], reuse_factor=2)
    with pytest.raises(ProjectDefinitionError, match="layer 'l1': strategy='distributed_arithmetic'.*reuse_factor 1, got 2"):
        render_project(ModelIR("da", layers), FirmwareConfig(project_name="da"))
    layers[2] = dataclasses.replace(ir.layers[2], accum_type=P("ap_fixed<14,6>"))
    with pytest.raises(ProjectDefinitionError, match="layer 'l1': strategy='distributed_arithmetic'.*accum_t ap_fixed<14,6>"):
        render_project(ModelIR("da", layers), FirmwareConfig(project_name="da"))


def test_missing_da4ml_says_how_to_install(monkeypatch, shared_model):
    import builtins

    model = shared_model("KERAS_3layer", "KERAS_3layer_95pruned_retrained_weights")
    real_import = builtins.__import__

    def no_da4ml(name, *args, **kwargs):
        if name.startswith("da4ml"):
            raise ImportError("No module named 'da4ml'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_da4ml)
    with pytest.raises(ImportError, match=r"layer 'fc1_relu': strategy='distributed_arithmetic' needs da4ml: "
                                          + re.escape(DA_INSTALL)):
        fa.to_firmware(model, strategy=DA)


@needs_da
def test_the_verilog_writer_builds_da_layers_as_their_graph(tmp_path):
    """A layer whose strategy is distributed_arithmetic is da4ml's graph in the Verilog too (with
    the default RTLOptions), and the Yosys estimate gives it no DSP; the same IR at 'latency'
    has multipliers."""
    from fpga_aware.rtl.layers import layer_context

    plain = _random_ir(0)
    ir = _as_da(plain)
    for index, (layer, other) in enumerate(zip(ir.layers[1:], plain.layers[1:]), start=1):
        if isinstance(layer, DenseLayer) and layer.nonzero_weights:
            assert layer_context(layer, index)["multiplier"] == "da"
            assert layer_context(other, index).get("multiplier", "dsp") == "dsp"
    Firmware(ir, FirmwareConfig(project_name="da")).write_verilog(tmp_path / "v")
    dense_modules = [p.read_text() for p in (tmp_path / "v" / "rtl").glob("fa_l*.v")]
    assert dense_modules and all("fa_add" in text and " * " not in _code(text) for text in dense_modules)
    assert Firmware(ir, FirmwareConfig(project_name="da")).estimate(tool="yosys").dsp == 0
    assert Firmware(plain, FirmwareConfig(project_name="da")).estimate(tool="yosys").dsp > 0
