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
from fpga_aware.core.ir import ActivationLayer, InputLayer, Layer, ModelIR, SoftmaxLayer
from fpga_aware.core.tables import activation_table, linear_tail, softmax_tables
from fpga_aware.firmware import Firmware
from fpga_aware.rtl.layers import UnsupportedRTLError
from fpga_aware.rtl.writer import render_verilog

needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator is not installed (make test installs it as root)")


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


def test_softmax_needs_the_sum_in_exp_t_lsbs():
    ir = _softmax_ir(3, P("ap_fixed<8,3>"), P("ap_fixed<8,1>"), 16)
    layer = ir.layers[1]
    layer.sum_type = P(f"ap_ufixed<{layer.sum_type.width + 1},{layer.sum_type.integer}>")
    with pytest.raises(UnsupportedRTLError, match="'softmax'.*sum_t.*fractional bits"):
        render_verilog(ir, FirmwareConfig(project_name="softmax"))
