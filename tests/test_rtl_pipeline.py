"""Pipeline registers inside fully parallel dense layers (fpga_aware/rtl/pipeline.py): placed by
the clock, simulated bit-exact with Verilator, each storing only its value's varying bits, and
counted exactly by the Yosys estimate."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import parse_precision as P
from fpga_aware.core.ir import DenseLayer, InputLayer, ModelIR
from fpga_aware.core.pipeline import FABRIC, ClockChain, cycle_budget, place_cuts
from fpga_aware.cost.yosys import estimate_yosys
from fpga_aware.firmware import Firmware
from fpga_aware.rtl.da import da_available
from fpga_aware.rtl.layers import RTLOptions, layer_context
from fpga_aware.sim.emulator import emulate

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator is not installed (make test installs it as root)")
needs_da = pytest.mark.skipif(not da_available(), reason="da4ml is not installed (pip install 'fpga_aware[da]')")
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed (make test installs it as root)")


def _deep_ir(n_in: int = 24, n_out: int = 3, seed: int = 0, accum: str = "ap_fixed<40,16>") -> ModelIR:
    """One wide-input dense layer: DSP products and a five-level adder tree."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<12,4>")
    w = rng.integers(-2**9, 2**9, (n_in, n_out))
    w[0, 0], w[0, 1], w[0, 2] = 77, 154, -77  # equal odd parts on one input: x*77 is stored once
    return ModelIR("deep", [
        InputLayer(name="input", cname="input", n_in=n_in, n_out=n_in, input_type=t, result_type=t, shape=(n_in,)),
        DenseLayer(name="fc", cname="fc", n_in=n_in, n_out=n_out, input_type=t, result_type=P("ap_fixed<16,8>"),
                   weight_type=P("ap_fixed<11,1>"), bias_type=t, accum_type=P(accum),
                   weights=w.astype(np.int64), bias=rng.integers(-99, 99, n_out).astype(np.int64)),
    ])


def test_the_clock_places_the_registers():
    layer = _deep_ir().layers[1]
    fast, slow = layer_context(layer, 1, clock_period=3.5), layer_context(layer, 1, clock_period=20.0)
    assert slow["stages"] == 0 and slow["timing"]["met"]
    assert fast["stages"] >= 2 and fast["timing"]["met"]
    assert all(ns <= cycle_budget(3.5) for ns in fast["timing"]["stage_ns"])
    assert sum(fast["timing"]["stage_ns"]) == pytest.approx(slow["timing"]["stage_ns"][0], abs=0.01)
    # the same greedy rule as the HLS cost model's scheduler
    chain = ClockChain(2.5)
    assert [chain.chain(ns) for ns in (2.0, 1.5, 0.5, 3.0)] == [0, 1, 0, 2]  # 3 ns > one cycle: two
    # the fewest stages, and among them the cut where the fewest bits are live
    assert place_cuts([1.0, 1.0, 0.5, 0.5], [7, 3, 1], 2.5) == [1]
    assert place_cuts([1.0, 1.0, 0.5, 0.5], [3, 7, 1], 2.5) == [0]
    assert place_cuts([1.0, 3.0, 1.0], [1, 1], 2.5) == [0, 1]  # a level longer than a cycle: alone
    assert place_cuts([0.5, 0.5], [1], 2.5) == []
    assert layer_context(layer, 1, RTLOptions(pipeline="layer"), clock_period=3.5)["stages"] == 0
    with pytest.raises(ValueError, match="pipeline must be one of"):
        RTLOptions(pipeline="retime")
    with pytest.raises(ValueError, match="rtl_options apply to backend='verilog'"):
        fa.export(None, backend="hls", rtl_options=RTLOptions(pipeline="layer"))


def test_registers_store_only_the_varying_bits():
    layer = _deep_ir().layers[1]
    ctx = layer_context(layer, 1, clock_period=3.5)
    products = ctx["cuts"][0]
    # the 24 x 3 products of a 13-bit input by 10-bit constants need about 23 bits, not accum's 40
    assert all(store["sw"] <= 13 + 10 for store in products["stores"])
    assert len(products["values"]) == layer.nonzero_weights
    shared = [s for s in products["stores"] if len(s["terms"]) > 1]
    assert len(shared) == 1 and len(shared[0]["terms"]) == 2  # 77 and 154 on input 0; -77 has its own bits
    # the program after the cut reads the registered values
    flat = [name for step in ctx["program"] for _, a, b in step for name in (a, b)]
    assert not any(name.startswith("a") and "_r" not in name for name in flat)


@needs_verilator
def test_pipelined_rtl_equals_the_emulator(tmp_path):
    ir = _deep_ir(accum="ap_fixed<26,10,AP_RND,AP_SAT>")  # saturating sums: the schedule's adder levels
    firmware = Firmware(ir, FirmwareConfig(project_name="deep", clock_period=3.5))
    # the product, its rounding and its saturation make one level longer than the clock: said
    with pytest.warns(UserWarning, match="layer 'fc': a pipeline stage of the Verilog needs"):
        path = firmware.write_verilog(tmp_path / "p")
    manifest = json.loads((path / "fpga_aware_project.json").read_text())
    stages = manifest["layers"][0]["latency_cycles"] - 1
    assert stages >= 2 and manifest["latency_cycles"] == stages + 1 and manifest["ii"] == 1
    rng = np.random.default_rng(3)
    x = rng.normal(0, 3, (2000, ir.n_inputs))
    x[:200] *= 40  # saturation
    out = firmware.predict(x, engine="rtl")  # one sample per cycle through the pipeline
    expected = emulate(ir, x)
    assert np.array_equal(out, expected)
    assert np.unique(expected).size > 500


@needs_verilator
@needs_da
def test_pipelined_da_graph_equals_the_emulator(tmp_path):
    """multiplier='da' at a 2 ns clock: da4ml's adder graph cut by node depth into many stages,
    nodes read in later stages through chains of registers."""
    ir = _deep_ir(n_in=12, n_out=3)
    firmware = Firmware(ir, FirmwareConfig(project_name="deep", clock_period=2.0))
    options = RTLOptions(multiplier="da")
    ctx = layer_context(ir.layers[1], 1, options, clock_period=2.0)
    assert ctx["stages"] >= 4 and ctx["timing"]["met"] and any(g["src"].endswith(tuple(f"_p{s}" for s in range(9)))
                                                               for g in ctx["da_registers"])
    firmware.write_verilog(tmp_path / "p", options=options)
    x = np.random.default_rng(5).normal(0, 3, (1000, ir.n_inputs))
    assert np.array_equal(firmware.predict(x, engine="rtl"), emulate(ir, x))


@needs_yosys
def test_yosys_counts_the_pipeline_registers_as_estimated(tmp_path):
    ir = _deep_ir(n_in=12, n_out=3)
    config = FirmwareConfig(project_name="deep", clock_period=3.5)
    firmware = Firmware(ir, config)
    measured = firmware.synthesize()
    estimated = estimate_yosys(ir, config)
    flat = estimate_yosys(ir, config, options=RTLOptions(pipeline="layer"))
    assert estimated.ff > flat.ff and estimated.latency_cycles > flat.latency_cycles == 1
    assert estimated.dsp == measured.dsp
    assert estimated.ff == measured.ff
    assert FABRIC.dsp_multiply_ns < cycle_budget(3.5)
    if da_available():  # the da graph's registers too
        da = RTLOptions(multiplier="da")
        firmware.write_verilog(tmp_path / "da", options=da)
        from fpga_aware.rtl.yosys import synthesize

        measured = synthesize(tmp_path / "da")
        estimated = estimate_yosys(ir, config, options=da)
        assert estimated.latency_cycles > 1 and measured.dsp == estimated.dsp == 0
        assert abs(estimated.ff - measured.ff) <= 0.05 * measured.ff, (estimated.ff, measured.ff)
