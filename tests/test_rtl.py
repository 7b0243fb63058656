"""The Verilog backend: RTL simulated with Verilator equals the emulator bit for bit; Yosys
synthesizes it; unsupported layers are refused by name.  Skipped (with the reason) where
Verilator or Yosys is not installed (``make test`` installs them as root)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from typing import ClassVar

import numpy as np
import pytest

import fpga_aware as fa
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import Overflow, Rounding, parse_precision as P
from fpga_aware.core.ir import ActivationLayer, DenseLayer, InputLayer, ModelIR, Strategy
from fpga_aware.firmware import Firmware
from fpga_aware.hls.writer import ProjectExistsError
from fpga_aware.core.schedule import build_schedule
from fpga_aware.rtl.layers import INPUT_SELECTS, RTLOptions, UnsupportedRTLError
from fpga_aware.rtl.writer import render_verilog
from fpga_aware.sim.emulator import emulate
from tests.conftest import load_shared_model

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator is not installed (make test installs it as root)")
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed (make test installs it as root)")


def _rows_differ(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(np.any(a != b, axis=1)))


# ------------------------------------------------------------------------------ conversions
def _modes_ir(seed: int = 0) -> ModelIR:
    """Conversions through every rounding and overflow mode (linear and relu layers whose result
    types drop fractional bits and integer bits), each fed by a diagonal dense layer whose odd
    weights (33/32) bring fine fractional bits back; then dense layers with product
    rounding and narrow saturating / wrapping accumulators (fully parallel, both strategies)."""
    rng = np.random.default_rng(seed)
    n = 6
    fine = P("ap_fixed<22,8>")
    w_t = P("ap_fixed<7,2>")
    layers = [InputLayer(name="input", cname="input", n_in=n, n_out=n, input_type=fine, result_type=fine, shape=(n,))]
    current = fine
    k = 0
    for rounding in Rounding:
        for overflow in Overflow:
            diag = np.diag(np.full(n, 33)).astype(np.int64)  # x 33/32 (w_t has 5 fractional bits): a gain above 1
            layers.append(DenseLayer(name=f"m{k}", cname=f"m{k}", n_in=n, n_out=n, input_type=current, result_type=fine,
                                     weight_type=w_t, bias_type=w_t, accum_type=P("ap_fixed<32,10>"), weights=diag,
                                     bias=np.zeros(n, np.int64)))
            width = int(rng.integers(7, 12))
            integer = 3  # every stage saturates at +-4, and the gain of 33/32 overflows the next
            signed = overflow != Overflow.SAT_ZERO or k % 2 == 0
            to = P(f"{'ap_fixed' if signed else 'ap_ufixed'}<{width},{integer},{rounding.value},{overflow.value}>")
            function = "relu" if k % 3 == 2 else "linear"
            layers.append(ActivationLayer(name=f"c{k}", cname=f"c{k}", n_in=n, n_out=n, input_type=fine,
                                          result_type=to, function=function))
            current = to
            k += 1
    for j, (acc, strategy) in enumerate([("ap_fixed<10,5,AP_RND,AP_SAT>", Strategy.LATENCY),
                                         ("ap_fixed<10,5,AP_TRN,AP_SAT_SYM>", Strategy.RESOURCE),
                                         ("ap_fixed<11,5,AP_RND_CONV,AP_WRAP>", Strategy.LATENCY),
                                         ("ap_ufixed<10,5,AP_TRN,AP_SAT>", Strategy.RESOURCE)]):
        weights = rng.integers(-63, 64, (n, n)) * (rng.random((n, n)) > 0.3)
        out = P("ap_fixed<16,7,AP_RND,AP_SAT>")
        layers.append(DenseLayer(name=f"d{j}", cname=f"d{j}", n_in=n, n_out=n, input_type=current, result_type=out,
                                 weight_type=w_t, bias_type=w_t, accum_type=P(acc), weights=weights.astype(np.int64),
                                 bias=rng.integers(-63, 64, n).astype(np.int64), reuse_factor=1, strategy=strategy))
        current = out
    return ModelIR("modes", layers)


def _edge_inputs(ir: ModelIR, n: int, rng) -> np.ndarray:
    x = rng.normal(0, 4, (n, ir.n_inputs))
    x[: n // 8] *= 30  # saturation and wrap-around
    x[n // 8 : n // 4] = np.round(x[n // 8 : n // 4] * 8) / 8  # exact values: ties of the rounding modes
    return x


@needs_verilator
def test_every_rounding_and_overflow_mode_is_bit_exact(tmp_path):
    ir = _modes_ir()
    firmware = Firmware(ir, FirmwareConfig(project_name="modes"))
    firmware.write_verilog(tmp_path / "modes")
    x = _edge_inputs(ir, 3000, np.random.default_rng(1))
    expected = emulate(ir, x)
    assert _rows_differ(firmware.predict(x, engine="rtl"), expected) == 0
    # every conversion both rounds and overflows on these inputs (so every mode is exercised)
    trace = firmware.trace(x)
    for k, layer in enumerate(ir.layers):
        if layer.name.startswith("c"):
            before = trace[ir.layers[k - 1].name]
            to = layer.result_type
            assert np.any(~to.represents(before) & (np.abs(before) < to.max_value)), layer.name  # rounds
            assert np.any((before > to.max_value) | (before < to.min_value)), layer.name  # overflows
    assert np.unique(expected).size > 100


# ------------------------------------------------------------------------------ shared models
def _without_softmax(name: str, weights: str | None = None):
    """A shared model with its output softmax replaced by linear: the default table size gives
    softmax a 4,096-entry exp ROM per output, whose Verilator build takes ~20 s more (softmax is
    tested in tests/test_rtl_kinds.py; the sigmoid output of KERAS_1layer stays)."""
    def linear_output(text: str) -> str:
        return text.replace('"activation": "softmax"', '"activation": "linear"')

    return load_shared_model(name, weights, edit_json=linear_output)


@needs_verilator
@pytest.mark.parametrize("name, weights, strategy, reuse", [
    # 95 % pruned at RF 1 (the 70 % pruned one took 131 s on 2 cores: benchmarks/rtl_shared_mlps.py runs it)
    ("KERAS_3layer", "KERAS_3layer_95pruned_retrained_weights", "latency", 1),
    ("KERAS_3layer", "KERAS_3layer_95pruned_retrained_weights", "resource", 4),  # the 70 % pruned weights here: 26 s (RF 1: benchmarks/rtl_shared_mlps.py)
    ("KERAS_1layer", None, "latency", 3),
], ids=lambda v: str(v) if v else "")
def test_shared_mlps_rtl_equals_emulator(name, weights, strategy, reuse):
    model = _without_softmax(name, weights)
    firmware = fa.to_firmware(model, strategy=strategy, reuse_factor=reuse)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1500, firmware.ir.n_inputs))
    x[:150] *= 40
    assert _rows_differ(firmware.predict(x, engine="rtl"), firmware.predict(x)) == 0


def _lanes_ir(seed: int) -> ModelIR:
    """Random small dense chains on multi-cycle schedules (lanes straddling outputs, a partly
    filled last lane) with narrow saturating or wrapping accumulators."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<12,4,AP_RND,AP_SAT>")
    w_t = P("ap_fixed<6,1>")
    n = int(rng.integers(3, 9))
    layers = [InputLayer(name="input", cname="input", n_in=n, n_out=n, input_type=t, result_type=t, shape=(n,))]
    for j in range(3):
        n_out = int(rng.integers(2, 9))
        weights = (rng.integers(-31, 32, (n, n_out)) * (rng.random((n, n_out)) > rng.choice([0.0, 0.5]))).astype(np.int64)
        nnz = max(1, int(np.count_nonzero(weights)))
        reuse = int(rng.choice([2, 3, 5, nnz, n * n_out]))
        acc = str(rng.choice(["ap_fixed<11,4,AP_TRN,AP_SAT>", "ap_fixed<10,4,AP_RND_CONV,AP_SAT_SYM>",
                              "ap_fixed<12,4,AP_TRN,AP_WRAP>"]))
        layers.append(DenseLayer(name=f"l{j}", cname=f"l{j}", n_in=n, n_out=n_out, input_type=t, result_type=t,
                                 weight_type=w_t, bias_type=w_t, accum_type=P(acc), weights=weights,
                                 bias=rng.integers(-31, 32, n_out).astype(np.int64), reuse_factor=reuse,
                                 strategy=Strategy(rng.choice(["latency", "resource"]))))
        n = n_out
    return ModelIR("lanes", layers)


@needs_verilator
@pytest.mark.parametrize("seed", range(2))
def test_multi_cycle_schedules_rtl_equals_emulator(seed):
    ir = _lanes_ir(seed)
    assert any(layer.schedule.n_cycles > 1 for layer in ir.dense_layers())
    firmware = Firmware(ir, FirmwareConfig(project_name="lanes"))
    x = _edge_inputs(ir, 800, np.random.default_rng(seed))
    assert _rows_differ(firmware.predict(x, engine="rtl"), emulate(ir, x)) == 0


@needs_verilator
@pytest.mark.parametrize("input_select", INPUT_SELECTS)
def test_every_input_selection_is_bit_exact(tmp_path, input_select):
    """The three ways lanes get their inputs (buses, a mux per lane, a rotating input) compute
    the same; dense layers make buses shared and rotating positions constant."""
    ir = _lanes_ir(5)
    dense = [layer for layer in ir.dense_layers() if layer.schedule.n_cycles > 1]
    assert dense
    firmware = Firmware(ir, FirmwareConfig(project_name="lanes"))
    firmware.write_verilog(tmp_path / input_select, options=RTLOptions(input_select=input_select))
    x = _edge_inputs(ir, 600, np.random.default_rng(5))
    assert _rows_differ(firmware.predict(x, engine="rtl"), emulate(ir, x)) == 0


def test_input_buses_share_identical_sequences():
    outs, ins = np.repeat(np.arange(8), 6), np.tile(np.arange(6), 8)  # 8 x 6 dense, lane-major
    sched = build_schedule(outs, ins, 6, 8, 3, "tree")
    lane_bus, buses = sched.input_buses()
    assert sched.n_lanes == 16 and len(buses) == 2  # lanes start at inputs 0 or 3
    assert buses.tolist() == [[0, 1, 2], [3, 4, 5]] and lane_bus.tolist() == [0, 1] * 8
    assert sched.bus_inputs().tolist() == [3, 3]
    with pytest.raises(ValueError, match="input_select must be one of"):
        RTLOptions(input_select="crossbar")



@needs_verilator
def test_the_most_negative_weight_keeps_its_sign():
    """A weight of -2**(W-1) (the most negative mantissa of its type): its constant is written one
    bit wider, as -(7'sd64) in a wider product would be +64."""
    t, w_t = P("ap_fixed<12,4>"), P("ap_fixed<7,2>")
    weights = np.array([[-64, 3], [5, -64]], dtype=np.int64)
    ir = ModelIR("negw", [
        InputLayer(name="input", cname="input", n_in=2, n_out=2, input_type=t, result_type=t, shape=(2,)),
        DenseLayer(name="d", cname="d", n_in=2, n_out=2, input_type=t, result_type=P("ap_fixed<24,8>"), weight_type=w_t,
                   bias_type=w_t, accum_type=P("ap_fixed<24,8>"), weights=weights, bias=np.zeros(2, np.int64)),
    ])
    firmware = Firmware(ir, FirmwareConfig(project_name="negw"))
    x = _edge_inputs(ir, 400, np.random.default_rng(5))
    assert _rows_differ(firmware.predict(x, engine="rtl"), emulate(ir, x)) == 0


# ------------------------------------------------------------------------------ refusals and files
def test_unsupported_layers_are_refused_by_name(shared_model):
    """Every layer kind of the IR is written (the jet tagger's softmax too); a kind the backend
    does not know is refused by name."""
    firmware = fa.to_firmware(shared_model("KERAS_3layer"))
    assert "fa_output_softmax" in render_verilog(firmware.ir, firmware.config)["rtl/fa_output_softmax.v"]

    @dataclasses.dataclass
    class Mystery(ActivationLayer):
        kind: ClassVar[str] = "mystery"

    t = P("ap_fixed<8,3>")
    ir = ModelIR("m", [InputLayer(name="input", cname="input", n_in=2, n_out=2, input_type=t, result_type=t, shape=(2,)),
                       Mystery(name="odd", cname="odd", n_in=2, n_out=2, input_type=t, result_type=t)])
    with pytest.raises(UnsupportedRTLError, match="'odd' \\(mystery\\).*does not write mystery"):
        render_verilog(ir, FirmwareConfig(project_name="m"))


def test_verilog_project_files_and_overwrite(tmp_path):
    ir = _modes_ir()
    firmware = Firmware(ir, FirmwareConfig(project_name="modes", part="xcku115-flvb2104-2-i"))
    path = firmware.write_verilog(tmp_path / "p")
    manifest = json.loads((path / "fpga_aware_project.json").read_text())
    assert manifest["backend"] == "verilog" and manifest["yosys_family"] == "xcu"
    # one cycle per layer, plus the registers the 5 ns clock needs inside deep dense layers
    per_layer = [layer["latency_cycles"] for layer in manifest["layers"]]
    assert manifest["latency_cycles"] == sum(per_layer) > len(ir.layers) - 1 and manifest["pipeline"] == "clock"
    assert all(layer["latency_cycles"] == 1 for layer in manifest["layers"] if "timing" not in layer)
    unpipelined = firmware.write_verilog(tmp_path / "q", options=RTLOptions(pipeline="layer"))
    assert json.loads((unpipelined / "fpga_aware_project.json").read_text())["latency_cycles"] == len(ir.layers) - 1
    assert (path / "files.f").read_text().split() == manifest["sources"]
    for source in manifest["sources"]:
        text = (path / source).read_text()
        modules = len(re.findall(r"^module ", text, flags=re.M))
        assert modules == text.count("endmodule") and modules == (1 if source != "rtl/primitives.v" else 2)
    assert "synth_xilinx -family xcu -top modes" in (path / "synth_yosys.ys").read_text()
    assert "synth_design -top modes -part xcku115-flvb2104-2-i" in (path / "vivado_synth.tcl").read_text()
    with pytest.raises(ProjectExistsError):
        firmware.write_verilog(tmp_path / "p")
    firmware.write_verilog(tmp_path / "p", overwrite=True)
    with pytest.raises(ValueError, match="backend"):
        fa.export(None, backend="vhdl")


# ------------------------------------------------------------------------------ Yosys
def _layer_ir(sparsity: float, seed: int = 4) -> ModelIR:
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<16,6>")
    n_in, n_out = 8, 6
    w = rng.integers(-2**13, 2**13, (n_in, n_out)) * (rng.random((n_in, n_out)) >= sparsity)
    w = np.where(np.abs(w) < 2**10, 0, w) if sparsity else np.where(w == 0, 2**11 + 1, w)  # wide weights
    return ModelIR("layer", [
        InputLayer(name="input", cname="input", n_in=n_in, n_out=n_in, input_type=t, result_type=t, shape=(n_in,)),
        DenseLayer(name="fc", cname="fc", n_in=n_in, n_out=n_out, input_type=t, result_type=t,
                   weight_type=P("ap_fixed<16,2>"), bias_type=t, accum_type=P("ap_fixed<40,16>"),
                   weights=w.astype(np.int64), bias=np.zeros(n_out, np.int64)),
    ])


@needs_yosys
def test_yosys_counts_fall_with_pruning():
    dense = Firmware(_layer_ir(0.0), FirmwareConfig(project_name="layer")).synthesize()
    pruned_ir = _layer_ir(0.7)
    pruned = Firmware(pruned_ir, FirmwareConfig(project_name="layer")).synthesize()
    nnz_dense, nnz_pruned = 48, pruned_ir.dense_layers()[0].nonzero_weights
    assert 0 < nnz_pruned < 48
    # 16 x 16-bit constant products with wide constants: Yosys maps every one to a DSP48E2
    assert dense.dsp == nnz_dense and pruned.dsp == nnz_pruned
    assert pruned.lut < dense.lut and pruned.ff <= dense.ff
    assert "0.23" in dense.yosys_version or dense.yosys_version.startswith("Yosys")
    assert dense.family == "xcup" and dense.to_dict()["dsp"] == dense.dsp


needs_iverilog = pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog is not installed (make test installs it as root)")


@needs_yosys
@needs_iverilog
def test_gate_level_netlist_equals_the_emulator(tmp_path):
    """Yosys' xc7 netlist (LUTs, CARRY4, DSP48E1, FDRE), simulated with Yosys' own primitive
    models in Icarus Verilog, computes what the emulator computes."""
    ir = _layer_ir(0.5)
    firmware = Firmware(ir, FirmwareConfig(project_name="layer"))
    path = firmware.write_verilog(tmp_path / "p")
    x = _edge_inputs(ir, 200, np.random.default_rng(7))
    out = firmware.predict(x, engine="netlist")
    expected = emulate(ir, x)
    assert _rows_differ(out, expected) == 0
    assert np.count_nonzero(expected) > 100  # not a trivially zero design
    netlist = (path / "sim" / "netlist_xc7" / "netlist.v").read_text()
    assert netlist.count("DSP48E1 ") == ir.dense_layers()[0].nonzero_weights and "CARRY4 " in netlist


@needs_yosys
def test_cli_synth_prints_the_report(tmp_path, capsys):
    from fpga_aware.cli import main

    ir = _layer_ir(0.7)
    path = Firmware(ir, FirmwareConfig(project_name="layer")).write_verilog(tmp_path / "p")
    assert main(["synth", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dsp"] == ir.dense_layers()[0].nonzero_weights and report["yosys_version"].startswith("Yosys")
    assert report["family"] == "xcup" and report["cells"].get("DSP48E2") == report["dsp"]
    # another family: the same products on its DSP48E1, the project's own script untouched
    own_script = (path / "synth_yosys.ys").read_text()
    assert main(["synth", str(path), "--json", "--family", "xc7"]) == 0
    xc7 = json.loads(capsys.readouterr().out)
    assert xc7["family"] == "xc7" and xc7["cells"].get("DSP48E1") == report["dsp"] and "DSP48E2" not in xc7["cells"]
    assert (path / "synth_yosys.ys").read_text() == own_script and "-family xc7" in (path / "synth_yosys_xc7.ys").read_text()
    with pytest.raises(ValueError, match=r"synthesize: family must be one of \['xc7', 'xcu', 'xcup'\].*'virtex'"):
        Firmware(ir, FirmwareConfig(project_name="layer")).synthesize(family="virtex")


@needs_verilator
def test_verilator_inlines_the_layer_modules(tmp_path):
    """VERILATOR_FLAGS turn Verilator's module inlining back on after ``-O0`` (its other
    optimisations stay off: the default level mis-rounds, see the test above, which runs under
    these flags).  Without inlining every ``fa_add`` instance of a dense layer is a C++ object of
    its own, and a large layer's C++ grows past what g++ compiles in reasonable time
    (benchmarks/rtl_shared_mlps.py, qkeras_mnist_dense); with it the adders are flattened."""
    from fpga_aware.rtl.verilator import VERILATOR_FLAGS

    project = Firmware(_modes_ir(), FirmwareConfig(project_name="modes")).write_verilog(tmp_path / "modes")
    sources = [str(project / s) for s in json.loads((project / "fpga_aware_project.json").read_text())["sources"]]
    assert any("fa_add #(" in open(s).read() for s in sources)  # the layers do instantiate adders
    verilate = [f for f in VERILATOR_FLAGS if f not in ("--exe", "--build")]
    assert verilate.index("-finline") > max(k for k, f in enumerate(verilate) if f == "-O0")

    def adder_classes(flags, mdir):
        subprocess.run(["verilator", *flags, "--top-module", "modes", "-Mdir", str(mdir), *sources],
                       check=True, capture_output=True)
        return [p.name for p in mdir.glob("*fa_add*")]

    assert adder_classes(verilate, tmp_path / "inlined") == []
    assert adder_classes([f for f in verilate if f != "-finline"], tmp_path / "separate") != []  # the control
