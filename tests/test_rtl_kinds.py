"""The Verilog backend's element-wise and table layers (table activations as ROMs, softmax,
scale_shift, step, parametric ReLU): RTL simulated with Verilator equals the emulator bit for
bit, on inputs that reach the tables' ends, the saturation of every conversion and each
threshold.  One Verilator build per model (a few seconds each)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fpga_aware.core.activations import TABLE_FUNCTIONS
from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import FixedType, parse_precision as P
from fpga_aware.core.ir import (
    ActivationLayer,
    InputLayer,
    ModelIR,
    ParametricReLULayer,
    ScaleShiftLayer,
    SoftmaxLayer,
    StepLayer,
)
from fpga_aware.core.tables import activation_table, linear_tail, softmax_tables
from fpga_aware.firmware import Firmware
from fpga_aware.rtl.layers import UnsupportedRTLError
from fpga_aware.rtl.writer import render_verilog

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator is not installed (make test installs it as root)")
needs_netlist_tools = pytest.mark.skipif(shutil.which("yosys") is None or shutil.which("iverilog") is None,
                                         reason="yosys or iverilog is not installed (make test installs them as root)")


def _input(n: int, t: FixedType) -> InputLayer:
    return InputLayer(name="input", cname="input", n_in=n, n_out=n, input_type=t, result_type=t, shape=(n,))


def _edge_inputs(t: FixedType, n_rows: int, n: int, seed: int, scale: float | None = None) -> np.ndarray:
    """Random values over twice the type's range (so the input conversion saturates), then
    every representable value of the type's range in turn (each table bin, each table end)."""
    rng = np.random.default_rng(seed)
    span = scale if scale is not None else max(abs(t.min_value), abs(t.max_value))
    x = rng.uniform(-2 * span, 2 * span, (n_rows, n))
    every = t.to_float(np.arange(t.min_mantissa, t.max_mantissa + 1))
    x.reshape(-1)[: min(every.size, x.size)] = np.resize(every, min(every.size, x.size))
    return x


def _rtl_differs(ir: ModelIR, x: np.ndarray) -> int:
    """Rows where ``predict(engine='rtl')`` differs from the emulator."""
    firmware = Firmware(ir, FirmwareConfig(project_name=ir.project_name))
    expected = firmware.predict(x)
    assert np.unique(expected).size > 2  # not a trivially constant design
    return int(np.count_nonzero(np.any(firmware.predict(x, engine="rtl") != expected, axis=1)))


# ------------------------------------------------------------------------------ table activations
def _activation_ir(function: str, x_t: FixedType, y_t: FixedType, size: int = 256, n: int = 4) -> ModelIR:
    """The input straight into one table activation (its table and tail as the frontend builds them)."""
    layer = ActivationLayer(name=function, cname=function, n_in=n, n_out=n, input_type=x_t, result_type=y_t,
                            function=function, table=activation_table(function, x_t, y_t, size),
                            linear=linear_tail(function, x_t, y_t))
    return ModelIR(function, [_input(n, x_t), layer])


#: One case per way of reading a table: a plain table (signed input, clipped index), an
#: unsigned input, a linear tail with a non-trivial slope into a saturating result, a chain
#: of coarser tables (softsign).
TABLE_CASES = [
    ("sigmoid", "ap_fixed<12,5>", "ap_fixed<10,3>"),
    ("tanh", "ap_ufixed<10,4>", "ap_fixed<9,2,AP_RND,AP_SAT>"),
    ("selu", "ap_fixed<11,5>", "ap_fixed<10,4,AP_RND,AP_SAT>"),
    ("softsign", "ap_fixed<14,8>", "ap_fixed<10,2>"),
]


@needs_verilator
@pytest.mark.parametrize("function, x_t, y_t", TABLE_CASES, ids=[c[0] for c in TABLE_CASES])
def test_table_activations_rtl_equals_emulator(function, x_t, y_t):
    ir = _activation_ir(function, P(x_t), P(y_t))
    layer = ir.layers[1]
    assert (layer.linear is not None) == (function == "selu") and (len(layer.table.chain) > 1) == (function == "softsign")
    assert _rtl_differs(ir, _edge_inputs(P(x_t), 2500, 4, seed=len(function))) == 0


@pytest.mark.parametrize("function", TABLE_FUNCTIONS)
def test_every_table_function_is_written_as_roms(function):
    ir = _activation_ir(function, P("ap_fixed<10,4>"), P("ap_fixed<8,3>"), size=64)
    text = render_verilog(ir, FirmwareConfig(project_name="t"))[f"rtl/fa_{function}.v"]
    entries = sum(t.size for t in ir.layers[1].table.chain)
    assert text.count("initial begin") == len(ir.layers[1].table.chain) and len(text.split("'d")) > entries


def test_an_unknown_activation_is_refused_by_name():
    t = P("ap_fixed<8,3>")
    ir = ModelIR("bad", [_input(2, t), ActivationLayer(name="act", cname="act", n_in=2, n_out=2, input_type=t,
                                                        result_type=t, function="swish")])
    with pytest.raises(UnsupportedRTLError, match=r"'act'.*'sigmoid'.*not 'swish'"):
        render_verilog(ir, FirmwareConfig(project_name="bad"))


# ------------------------------------------------------------------------------ softmax
def _softmax_ir(n: int, x_t: FixedType, y_t: FixedType, size: int) -> ModelIR:
    diff_t, exp_table, sum_t, inv_table = softmax_tables(x_t, n, size)  # as the frontend builds them
    layer = SoftmaxLayer(name="softmax", cname="softmax", n_in=n, n_out=n, input_type=x_t, result_type=y_t,
                         diff_type=diff_t, exp_table=exp_table, sum_type=sum_t, inv_table=inv_table)
    return ModelIR("softmax", [_input(n, x_t), layer])


#: A signed input whose differences reach below the exp table (its first entry) and a saturating
#: result; an unsigned input with a coarse 1/x table (every sum in its own bin or shared).
SOFTMAX_CASES = [(5, "ap_fixed<10,5>", "ap_fixed<10,1,AP_RND,AP_SAT>", 64),
                 (3, "ap_ufixed<6,3>", "ap_ufixed<8,0,AP_TRN,AP_SAT>", 16)]


@needs_verilator
@pytest.mark.parametrize("n, x_t, y_t, size", SOFTMAX_CASES, ids=["signed", "unsigned"])
def test_softmax_rtl_equals_emulator(n, x_t, y_t, size):
    ir = _softmax_ir(n, P(x_t), P(y_t), size)
    x = _edge_inputs(P(x_t), 3000, n, seed=n, scale=4.0)
    x[:200] *= 10  # differences far below the exp table's domain
    x[200:400] = np.round(x[200:400])  # ties of the maximum
    x[400:500, 1:] = x[400:500, :1]  # every input equal: the sum of n exp(0)
    assert _rtl_differs(ir, x) == 0


@needs_netlist_tools
def test_softmax_gate_level_netlist_equals_the_emulator():
    """Yosys' xc7 netlist of the ROMs (initialised arrays), sums and products, simulated in
    Icarus Verilog, computes what the emulator computes."""
    ir = _softmax_ir(3, P("ap_fixed<8,3>"), P("ap_fixed<8,1,AP_RND,AP_SAT>"), 16)
    firmware = Firmware(ir, FirmwareConfig(project_name="softmax"))
    x = _edge_inputs(ir.input_type, 150, 3, seed=1)
    assert np.count_nonzero(np.any(firmware.predict(x, engine="netlist") != firmware.predict(x), axis=1)) == 0


def test_softmax_needs_the_sum_in_exp_t_lsbs():
    ir = _softmax_ir(3, P("ap_fixed<8,3>"), P("ap_fixed<8,1>"), 16)
    layer = ir.layers[1]
    layer.sum_type = P(f"ap_ufixed<{layer.sum_type.width + 1},{layer.sum_type.integer}>")
    with pytest.raises(UnsupportedRTLError, match="'softmax'.*sum_t.*fractional bits"):
        render_verilog(ir, FirmwareConfig(project_name="softmax"))


# ------------------------------------------------------------------------------ scale_shift, parametric ReLU, step
def _affine_ir(seed: int = 0) -> ModelIR:
    """scale_shift (a narrow rounding, saturating accumulator; the most negative scale) into two
    parametric ReLUs: one with a threshold, per-channel signed slopes and QKeras' clip of the
    negative branch (negative_t), one leaky with unsigned slopes; each conversion rounds and
    saturates."""
    rng = np.random.default_rng(seed)
    n = 6
    x_t, s_t, b_t = P("ap_fixed<10,4>"), P("ap_fixed<8,2>"), P("ap_fixed<8,3>")
    scale = rng.integers(-128, 128, n)
    scale[0] = -128
    shift = rng.integers(-128, 128, n)
    mid = P("ap_fixed<9,3,AP_RND_CONV,AP_SAT_SYM>")
    norm = ScaleShiftLayer(name="bn", cname="bn", n_in=n, n_out=n, input_type=x_t, result_type=mid, scale_type=s_t,
                           shift_type=b_t, accum_type=P("ap_fixed<12,4,AP_RND,AP_SAT>"), scale=scale, shift=shift)
    a_t = P("ap_fixed<6,1>")
    clip_t = P("ap_fixed<7,2,AP_RND,AP_SAT>")
    act = P("ap_fixed<8,3,AP_RND,AP_SAT>")
    prelu = ParametricReLULayer(name="prelu", cname="prelu", n_in=n, n_out=n, input_type=mid, result_type=act,
                                alpha_type=a_t, alpha=rng.integers(-32, 32, n), threshold=37, negative_type=clip_t,
                                keras_class="QActivation")
    u_t = P("ap_ufixed<5,0>")
    leaky = ParametricReLULayer(name="leaky", cname="leaky", n_in=n, n_out=n, input_type=act,
                                result_type=P("ap_fixed<8,2,AP_TRN,AP_SAT>"), alpha_type=u_t,
                                alpha=rng.integers(0, 32, n), threshold=0)
    return ModelIR("affine", [_input(n, x_t), norm, prelu, leaky])


@needs_verilator
def test_scale_shift_and_parametric_relu_rtl_equal_emulator():
    ir = _affine_ir()
    assert _rtl_differs(ir, _edge_inputs(ir.input_type, 3000, ir.n_inputs, seed=2)) == 0


def _step_ir() -> ModelIR:
    """A staircase whose thresholds include the input type's extremes, into signed levels."""
    x_t, y_t = P("ap_fixed<8,3>"), P("ap_fixed<4,2>")
    thresholds = np.array([x_t.min_mantissa + 1, -3, 0, 5, x_t.max_mantissa])
    step = StepLayer(name="q", cname="q", n_in=3, n_out=3, input_type=x_t, result_type=y_t, thresholds=thresholds,
                     levels=np.array([-8, -2, 0, 1, 3, 7]), function="quantized_tanh")
    return ModelIR("step", [_input(3, x_t), step])


@needs_verilator
def test_step_rtl_equals_emulator():
    ir = _step_ir()
    x = _edge_inputs(ir.input_type, 1000, ir.n_inputs, seed=3)
    assert np.unique(Firmware(ir, FirmwareConfig(project_name="step")).predict(x)).size == 6  # every level
    assert _rtl_differs(ir, x) == 0


def test_step_needs_ascending_thresholds():
    ir = _step_ir()
    ir.layers[1].thresholds = ir.layers[1].thresholds[::-1]
    with pytest.raises(UnsupportedRTLError, match="'q' \\(quantized_tanh\\): needs ascending thresholds"):
        render_verilog(ir, FirmwareConfig(project_name="step"))


# ------------------------------------------------------------------------------ the Yosys estimate
def test_yosys_estimate_counts_every_kind():
    """``estimate(tool='yosys')`` has a rule for every kind written (uncalibrated for the tables
    and comparisons): ROM LUTs grow with the table, softmax's e * r products are DSPs."""
    models = [_activation_ir("sigmoid", P("ap_fixed<12,5>"), P("ap_fixed<10,3>")),
              _activation_ir("selu", P("ap_fixed<11,5>"), P("ap_fixed<10,4>")),
              _softmax_ir(5, P("ap_fixed<10,5>"), P("ap_fixed<10,1>"), 64), _affine_ir(), _step_ir()]
    for ir in models:
        report = Firmware(ir, FirmwareConfig(project_name=ir.project_name)).estimate(tool="yosys")
        assert [c.kind for c in report.layers] == [layer.kind for layer in ir.layers[1:]]
        assert all(c.lut > 0 and c.ff > 1 for c in report.layers), report.layers
    small, large = (Firmware(_activation_ir("tanh", P("ap_fixed<12,5>"), P("ap_fixed<10,3>"), size=s),
                             FirmwareConfig(project_name="t")).estimate(tool="yosys") for s in (64, 1024))
    assert large.lut > 4 * small.lut
    softmax = Firmware(models[2], FirmwareConfig(project_name="s")).estimate(tool="yosys")
    assert softmax.dsp == 2 * 5  # 19 x 19-bit products: two DSP48E2 each (measured with Yosys 0.23)
