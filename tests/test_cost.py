"""The cost model (fpga_aware.cost.model) and the parts catalogue (fpga_aware.core.parts).

The rules of the model on small IRs and on the rebuilt calibration designs (jet tagger
variants, the MNIST Resource MLP); the comparison with published C-synthesis reports, per tool,
is tests/test_cost_calibration.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.cost.model import CostReport, LayerCost, estimate_ir
from fpga_aware.core.fixed import FixedType
from fpga_aware.core.ir import (
    ActivationLayer,
    DenseLayer,
    InputLayer,
    LookupTable,
    ModelIR,
    ScaleShiftLayer,
    Strategy,
)
from fpga_aware.core.parts import PARTS, Part, UnknownPartError, get_part
from fpga_aware.cost.tools import OUT_OF_DOMAIN_ERRORS, OutOfCalibratedDomainWarning
from fpga_aware.cost.designs import JET_LAYERS, jet_weights as _jet_weights, mlp_ir

MODELS = Path("/work/shared/models")

FIX16 = FixedType(16, 6)
UFIX6 = FixedType(6, 0, signed=False)
Q6 = FixedType(6, 1)  # QKeras quantized_bits(6, 0): mantissa in [-32, 31], LSB 2**-5


# ----------------------------------------------------------------------------- IR builders
build_mlp = mlp_ir  # the calibration designs' builder (fpga_aware.cost.designs)


def jet_weights(which: str = "dense") -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The pretrained jet tagger; ``which='pruned75'`` keeps the 25 % largest weights of each
    layer (exactly 75 % zeros per layer, as the tutorial's tfmot pruning schedule)."""
    pytest.importorskip("h5py")
    path = MODELS / "KERAS_3layer_weights.h5"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return _jet_weights(path, 0.75 if which == "pruned75" else 0.0)


def jet_ir(variant: str) -> ModelIR:
    """The four published jet-tagger designs (16-64-32-32-5, io_parallel, Latency strategy)."""
    if variant == "rf1":
        k, b = jet_weights("dense")
        return build_mlp(k, b, names=list(JET_LAYERS), reuse=1)
    if variant == "rf2":
        k, b = jet_weights("dense")
        return build_mlp(k, b, names=list(JET_LAYERS), reuse=2)
    if variant == "pruned":
        k, b = jet_weights("pruned75")
        return build_mlp(k, b, names=list(JET_LAYERS), reuse=1)
    if variant == "qkeras":
        # quantized_bits(6,0) weights and biases, quantized_relu(6) -> ap_ufixed<6,0>, 75 % zeros
        k, b = jet_weights("pruned75")
        return build_mlp(k, b, names=list(JET_LAYERS), weight_type=Q6, relu_type=UFIX6, reuse=1)
    raise ValueError(variant)


def mnist_ir(seed: int = 0) -> ModelIR:
    """784-128-128-128-10, random nonzero ap_fixed<16,6> weights, Resource, RF 112/128/128/128."""
    rng = np.random.default_rng(seed)
    sizes = [784, 128, 128, 128, 10]
    kernels, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        mag = rng.integers(1, 512, size=(n_in, n_out))
        kernels.append(np.where(rng.random((n_in, n_out)) < 0.5, -mag, mag))
        biases.append(rng.integers(-256, 256, size=n_out))
    return build_mlp(kernels, biases, reuse=[112, 128, 128, 128], strategy=Strategy.RESOURCE, mantissas=True)


# ----------------------------------------------------------------------------- calibration designs
#: The parts of the designs these tests rebuild.  Their published reports (with sources) and the
#: per-tool calibration are benchmarks/data/published_reports.json and tests/test_cost_calibration.py.
POINTS = {"mnist": "xcku115-flvb2104-2-i", "rf1": "xcu250-figd2104-2L-e", "rf2": "xcu250-figd2104-2L-e",
          "pruned": "xcu250-figd2104-2L-e", "qkeras": "xcu250-figd2104-2L-e"}
#: Vivado HLS 2019.2, U250, <16,6>, RF 1: tut20_u250_v192_rf1 of published_reports.json.
JET_RF1_VIVADO_DSP = 3943


def calibration_ir(point: str) -> ModelIR:
    return mnist_ir() if point == "mnist" else jet_ir(point)


def calibration_estimate(point: str) -> CostReport:
    return estimate_ir(calibration_ir(point), FirmwareConfig(part=POINTS[point], clock_period=5.0), tool="vivado")


def _rel(ours: float, published: float) -> float:
    return (ours - published) / published


# ----------------------------------------------------------------------------- calibration designs
def test_mnist_dsp_formula_of_the_tutorial():
    """(784*128)/112 + (2*128*128 + 128*10)/128 = 1162 multipliers (+10 for the softmax)."""
    report = calibration_estimate("mnist")
    dense = [c for c in report.layers if c.kind == "dense"]
    # one multiplier per lane of the schedule (a power-of-two weight in a lane still passes
    # through the lane's multiplier): exactly ceil(nnz / R)
    expected = [896, 128, 128, 10]
    assert [c.dsp for c in dense] == expected
    assert report.bram_18k > 0
    assert [c.reuse_factor for c in dense] == [112, 128, 128, 128]
    assert all(c.strategy == "resource" for c in dense)


def test_jet_rf1_narrow_constants_go_to_luts():
    """Unpruned <16,6>: zeros, powers of two and small constants are not DSPs."""
    report = calibration_estimate("rf1")
    dense = [c for c in report.layers if c.kind == "dense"]
    assert sum(c.n_weights for c in dense) == 4256
    assert sum(c.n_mult for c in dense) < sum(c.nonzero_weights for c in dense) <= 4256
    assert sum(c.n_dsp_mult for c in dense) < sum(c.n_mult for c in dense)
    assert sum(c.n_lut_mult for c in dense) > 0


def test_qkeras_products_of_six_bit_operands_use_luts():
    report = calibration_estimate("qkeras")
    dense = {c.name: c for c in report.layers if c.kind == "dense"}
    for name in ("fc2_relu", "fc3_relu", "output_softmax"):  # ap_ufixed<6,0> x 6-bit weights
        assert dense[name].dsp == 0 and dense[name].n_lut_mult > 0
    assert dense["fc1_relu"].dsp > 0  # 16-bit input x 6-bit weights


# ----------------------------------------------------------------------------- rules
def _one_dense(weights, *, x=FIX16, w=FIX16, acc=FixedType(40, 20), reuse=1, strategy=Strategy.LATENCY,
               bias=None) -> ModelIR:
    weights = np.asarray(weights, np.int64)
    n_in, n_out = weights.shape
    bias = np.zeros(n_out, np.int64) if bias is None else np.asarray(bias, np.int64)
    return ModelIR("one", [
        InputLayer(name="in", cname="in", n_in=n_in, n_out=n_in, input_type=x, result_type=x),
        DenseLayer(name="d", cname="d", n_in=n_in, n_out=n_out, input_type=x, result_type=acc, weight_type=w,
                   bias_type=w, accum_type=acc, weights=weights, bias=bias, reuse_factor=reuse,
                   strategy=strategy),
    ])


def _dense_cost(ir: ModelIR, part: str = "xcu250-figd2104-2L-e", tool: str = "vivado") -> LayerCost:
    return estimate_ir(ir, FirmwareConfig(part=part), tool=tool).layers[1]


def test_zero_and_power_of_two_weights_cost_no_multiplier():
    c = _dense_cost(_one_dense([[0, 64, -256], [0, 0, 1024]]))
    assert (c.n_weights, c.nonzero_weights, c.n_mult, c.n_shift) == (6, 3, 0, 3)
    assert c.dsp == 0 and c.n_lut_mult == 0 and "lut_multipliers" not in c.lut_breakdown


def test_wide_constants_use_dsps_narrow_ones_luts():
    # signed constant widths: 3 -> 3 bits, -7 -> 4 bits (LUTs); 9 -> 5 bits, 1000 -> 11 bits (DSPs)
    c = _dense_cost(_one_dense([[3, -7, 9, 1000, -999]]))
    assert (c.n_mult, c.n_dsp_mult, c.n_lut_mult, c.dsp) == (5, 3, 2, 3)
    assert c.lut_breakdown["lut_multipliers"] > 0
    # 6-bit input x 6-bit weights: LUTs; 16-bit input x the same weights: DSPs
    w = [[21, -27, 13]]
    assert _dense_cost(_one_dense(w, x=FixedType(6, 0, signed=False), w=Q6)).dsp == 0
    assert _dense_cost(_one_dense(w, x=FIX16, w=Q6)).dsp == 3


def test_vitis_maps_constants_of_fewer_than_8_significant_bits_to_luts():
    """Vitis HLS builds a product by a constant from LUTs unless the constant's odd part has at
    least 8 bits (trailing zeros are a shift): 1000 = 125 * 8 (7 bits) is LUTs there, a DSP in
    Vivado HLS; 999 (10 bits) is a DSP in both; a 6-bit x 16-bit product is LUTs in Vitis."""
    w = [[3, -7, 9, 1000, -999, 255, 254]]
    vivado = _dense_cost(_one_dense(w), tool="vivado")
    vitis = _dense_cost(_one_dense(w), tool="vitis")
    assert (vivado.n_dsp_mult, vitis.n_dsp_mult) == (5, 2)  # vitis: -999 and 255 (8 bits); 254 = 127 * 2
    assert vitis.lut_breakdown["lut_multipliers"] > vivado.lut_breakdown["lut_multipliers"]
    q6 = [[21, -27, 13]]
    assert _dense_cost(_one_dense(q6, x=FIX16, w=Q6), tool="vivado").dsp == 3
    assert _dense_cost(_one_dense(q6, x=FIX16, w=Q6), tool="vitis").dsp == 0


def test_unknown_tool_is_refused_by_name():
    with pytest.raises(ValueError, match=r"tool must be one of \['vitis', 'vivado', 'yosys'\], got 'vitis_hls'"):
        estimate_ir(_one_dense([[3]]), FirmwareConfig(), tool="vitis_hls")


def test_reuse_factor_divides_multipliers():
    rng = np.random.default_rng(1)
    w = rng.integers(100, 500, size=(32, 32)) * 2 + 1  # odd: never a power of two
    for r, expected in ((1, 1024), (2, 512), (3, 342), (32, 32), (1024, 1)):
        c = _dense_cost(_one_dense(w, reuse=r))
        assert c.dsp == expected, (r, c.dsp)
    # zeros are not scheduled: 75 % zeros -> a quarter of the multipliers
    w[:, :24] = 0
    assert _dense_cost(_one_dense(w, reuse=4)).dsp == 64


def test_wide_products_need_several_dsps_and_depend_on_the_dsp_family():
    w = FixedType(26, 8)
    m = [[(1 << 24) + 12345]]  # a 26-bit signed constant
    ir = _one_dense(m, x=FixedType(24, 8), w=w)
    assert _dense_cost(ir, "xcu250-figd2104-2L-e").dsp == 2  # 24x26 on 27x18: 1 x 2
    ir = _one_dense(m, x=FixedType(26, 8), w=w)
    with pytest.warns(OutOfCalibratedDomainWarning):  # 7 series: outside the calibrated domain
        assert _dense_cost(ir, "xc7z020-clg400-1").dsp == 4  # 26x26 on 25x18: 2 x 2
    assert _dense_cost(ir, "xcu250-figd2104-2L-e").dsp == 2  # 26x26 on 27x18: 1 x 2
    ir = _one_dense(m, x=FixedType(40, 8), w=w)
    assert _dense_cost(ir, "xcu250-figd2104-2L-e").dsp == 3  # 40x26: 40 in 3 chunks of the 18-bit port


def test_resource_strategy_stores_weights_in_bram():
    rng = np.random.default_rng(2)
    w = rng.integers(100, 500, size=(256, 128)) * 2 + 1
    c = _dense_cost(_one_dense(w, reuse=128, strategy=Strategy.RESOURCE))
    # 256 nonzero weights per cycle x 16 bits, 128 deep: two 16-bit weights per 512x36 block
    assert c.bram_18k == 128
    assert c.dsp == 256
    shallow = _dense_cost(_one_dense(w, reuse=16, strategy=Strategy.RESOURCE))
    assert shallow.bram_18k == 0 and shallow.lut_breakdown["weight_memory"] > 0
    latency_strategy = _dense_cost(_one_dense(w, reuse=128))
    assert latency_strategy.bram_18k == 0


def test_latency_grows_with_reuse_factor():
    rng = np.random.default_rng(3)
    w = rng.integers(100, 500, size=(64, 32)) * 2 + 1
    cycles = {r: estimate_ir(_one_dense(w, reuse=r), FirmwareConfig()).latency_cycles for r in (1, 4, 16, 64)}
    # (R - 1) more cycles, minus the shorter adder tree of ceil(terms / R) terms per cycle
    assert cycles[1] < cycles[4] < cycles[16] < cycles[64]
    for r in (4, 16, 64):
        assert cycles[r] >= r
    assert estimate_ir(_one_dense(w, reuse=16), FirmwareConfig()).ii == 16


def test_sparsity_lowers_every_resource():
    rng = np.random.default_rng(4)
    w = rng.integers(100, 500, size=(64, 64)) * 2 + 1
    dense = estimate_ir(_one_dense(w), FirmwareConfig())
    w[rng.random(w.shape) < 0.8] = 0
    sparse = estimate_ir(_one_dense(w), FirmwareConfig())
    assert sparse.dsp < 0.3 * dense.dsp
    assert sparse.lut < dense.lut and sparse.ff < dense.ff
    assert sparse.latency_cycles <= dense.latency_cycles


def test_other_layers():
    x = FixedType(16, 6)
    ir = ModelIR("layers", [
        InputLayer(name="in", cname="in", n_in=8, n_out=8, input_type=x, result_type=x),
        ActivationLayer(name="lin", cname="lin", n_in=8, n_out=8, input_type=x, result_type=x, function="linear"),
        ActivationLayer(name="sig", cname="sig", n_in=8, n_out=8, input_type=x, result_type=FixedType(10, 1),
                        function="sigmoid",
                        table=LookupTable(shift=4, offset=0, values=np.zeros(1024, np.int64),
                                          value_type=FixedType(10, 1))),
        ActivationLayer(name="tanh", cname="tanh", n_in=8, n_out=8, input_type=FixedType(10, 1),
                        result_type=FixedType(8, 1), function="tanh",
                        table=LookupTable(shift=0, offset=0, values=np.zeros(64, np.int64),
                                          value_type=FixedType(8, 1))),
        ScaleShiftLayer(name="bn", cname="bn", n_in=8, n_out=8, input_type=FixedType(8, 1),
                        result_type=FixedType(20, 8), scale_type=FixedType(12, 4), shift_type=FixedType(12, 4),
                        accum_type=FixedType(20, 8), scale=np.array([0, 1, 2, 3, 300, -301, 1024, 5]),
                        shift=np.arange(8)),
    ])
    r = estimate_ir(ir, FirmwareConfig(), tool="vivado")
    lin, sig, tanh, bn = r.layers[1:]
    assert (lin.dsp, lin.lut, lin.ff, lin.bram_18k) == (0, 0, 0, 0)
    assert sig.bram_18k == 4 * 1 and sig.dsp == 0  # 8 reads of a 1024x10 ROM: 4 dual-port copies
    assert tanh.bram_18k == 0 and tanh.lut_breakdown["table"] == 8 * 8  # 64-entry LUT ROM per read
    # bn: 0 skipped, 1/2/1024 shifts, 3 and 5 LUT shift-adds, 300/-301 on an 8-bit input: LUTs too (8+10 <= 20)
    assert (bn.n_mult, bn.n_shift, bn.dsp) == (4, 3, 0)
    assert r.latency_cycles >= 1 and r.ii == 1


def test_all_zero_and_shift_only_layers():
    zero = _dense_cost(_one_dense(np.zeros((4, 3), np.int64)))
    assert (zero.nonzero_weights, zero.n_mult, zero.dsp) == (0, 0, 0)
    shifts = _dense_cost(_one_dense([[1, -2, 4], [8, 0, -16]], reuse=2))
    assert (shifts.n_mult, shifts.dsp, shifts.n_lut_mult) == (0, 0, 0)


def test_estimate_of_a_parsed_keras_model():
    """The parser's IR of the pretrained jet tagger (exact accumulators, fpga_aware's own
    types) gets the same multiplier mapping as the calibration IR."""
    parser = pytest.importorskip("fpga_aware.frontend.keras")
    from fpga_aware._stack import keras

    tfk = keras()
    if not (MODELS / "KERAS_3layer.json").exists():
        pytest.skip("jet tagger model not available")
    model = tfk.models.model_from_json((MODELS / "KERAS_3layer.json").read_text())
    model.load_weights(str(MODELS / "KERAS_3layer_weights.h5"))
    config = FirmwareConfig.from_options("xcu250-figd2104-2L-e")
    report = estimate_ir(parser.build_ir(model, config), config, tool="vivado")
    assert abs(_rel(report.dsp, JET_RF1_VIVADO_DSP)) <= 0.10
    assert report.ii == 1 and report.latency_cycles > 0


# ----------------------------------------------------------------------------- report API
def test_report_utilization_to_dict_and_table():
    report = calibration_estimate("rf1")
    part = get_part("xcu250-figd2104-2L-e")
    assert report.part == part
    util = report.utilization()
    assert set(util) == {"dsp", "lut", "ff", "bram_18k"}
    assert util["dsp"] == pytest.approx(100.0 * report.dsp / part.dsp)
    assert util["lut"] == pytest.approx(100.0 * report.lut / 1_728_000)
    d = report.to_dict()
    for key in ("part", "dsp", "lut", "ff", "bram_18k", "latency_cycles", "latency_ns", "ii", "utilization", "layers"):
        assert key in d
    assert d["part"] == "xcu250-figd2104-2L-e"
    assert d["utilization"] == util
    assert d["dsp"] == sum(layer["dsp"] for layer in d["layers"])
    assert d["latency_cycles"] == sum(layer["latency_cycles"] for layer in d["layers"])
    names = [layer["name"] for layer in d["layers"]]
    assert "fc1_relu" in names and "output_softmax" in names
    fc1 = d["layers"][names.index("fc1_relu")]
    for key in ("n_weights", "nonzero_weights", "n_mult", "dsp", "lut", "ff", "bram_18k", "latency_cycles",
                "reuse_factor", "strategy"):
        assert key in fc1
    assert fc1["n_weights"] == 1024 and fc1["reuse_factor"] == 1 and fc1["strategy"] == "latency"
    import json

    json.dumps(d)  # plain data
    text = str(report)
    assert "xcu250-figd2104-2L-e" in text and "fc1_relu" in text and "utilization" in text
    assert f"{report.dsp:,}" in text


def test_estimate_uses_the_config_part_and_clock():
    ir = jet_ir("rf1")
    with pytest.warns(OutOfCalibratedDomainWarning):
        small = estimate_ir(ir, FirmwareConfig(part="xc7z020-clg400-1", clock_period=10.0))
    assert small.part.name == "xc7z020-clg400-1"
    assert small.utilization()["dsp"] > 100 and not small.fits()
    fast = estimate_ir(ir, FirmwareConfig(clock_period=2.5))
    slow = estimate_ir(ir, FirmwareConfig(clock_period=10.0))
    assert fast.latency_cycles >= slow.latency_cycles
    assert estimate_ir(ir, FirmwareConfig(), part="xcu50").part.name == "xcu50-fsvh2104-2-e"


def test_unknown_part_in_config_raises_with_close_names():
    with pytest.raises(UnknownPartError, match="xcu250-figd2104-2L-e"):
        estimate_ir(jet_ir("rf1"), FirmwareConfig(part="xcu251-figd2104-2L-e"))


# ----------------------------------------------------------------------------- parts
def test_parts_catalogue():
    for name in ("xcu250-figd2104-2L-e", "xcu50-fsvh2104-2-e", "xcu280-fsvh2892-2L-e", "xcvu9p-flga2104-2L-e",
                 "xcvu13p-flga2577-2-e", "xcku115-flvb2104-2-i", "xczu9eg-ffvb1156-2-e", "xc7z020-clg400-1",
                 "xc7a100t-csg324-1"):
        assert name in PARTS
    ku115 = get_part("xcku115-flvb2104-2-i")
    assert (ku115.bram_18k, ku115.dsp, ku115.ff, ku115.lut) == (4320, 5520, 1_326_720, 663_360)
    assert get_part("xc7z020-clg400-1").dsp_family == "DSP48E1"
    assert get_part("xcu250-figd2104-2L-e").dsp_family == "DSP48E2"
    assert get_part("xcu250-figd2104-2L-e").dsp_multiplier_widths == (27, 18)
    assert get_part("xc7a100t-csg324-1").dsp_multiplier_widths == (25, 18)
    with pytest.raises(Exception):
        ku115.dsp = 1  # frozen
    with pytest.raises(ValueError):
        Part("x", "Virtex UltraScale+", 1, 1, 1, 1, 0, "DSP58")


def test_get_part_by_prefix_and_case():
    assert get_part("xcu50").name == "xcu50-fsvh2104-2-e"
    assert get_part("xcu280").name == "xcu280-fsvh2892-2L-e"
    assert get_part("xc7a100t").name == "xc7a100t-csg324-1"
    assert get_part("XCKU115-FLVB2104-2-I").name == "xcku115-flvb2104-2-i"
    # another package / speed grade of a catalogued die gets its resources
    other = get_part("xcvu9p-flgb2104-2-i")
    assert other.name == "xcvu9p-flgb2104-2-i" and other.dsp == 6840


def test_unknown_part_raises_with_close_names():
    with pytest.raises(UnknownPartError) as err:
        get_part("xc7z010-clg400-1")
    assert isinstance(err.value, ValueError)
    assert "xc7z020-clg400-1" in str(err.value)
    with pytest.raises(UnknownPartError, match="ambiguous"):
        get_part("xcu2")
    with pytest.raises(UnknownPartError, match="known parts"):
        get_part("nonsense")


# ----------------------------------------------------------------------------- calibrated domain
def _tiny_keras_model():
    pytest.importorskip("fpga_aware.frontend.keras")
    from fpga_aware._stack import keras

    tfk = keras()
    inputs = tfk.Input((8,), name="x")
    out = tfk.layers.Dense(4, name="fc", activation="relu",
                           kernel_initializer=tfk.initializers.RandomUniform(-1, 1, seed=1))(inputs)
    return tfk.Model(inputs, out)


def test_an_estimate_outside_the_calibrated_domain_warns_and_says_so():
    """Every HLS profile is calibrated on UltraScale/UltraScale+ reports; a 7-series estimate
    (the PYNQ-Z2's xc7z020) warns once per call site and its table names the family, the
    calibrated series and what was measured on the published Zynq-7000 reports."""
    import warnings

    import fpga_aware as fa

    model = _tiny_keras_model()
    for tool in ("vitis", "vivado"):
        with pytest.warns(OutOfCalibratedDomainWarning, match="Zynq-7000") as record:
            report = fa.estimate(model, "xc7z020-clg400-1", tool=tool)
        assert record[0].filename == __file__  # the user's call site, not the library's
        assert not report.in_calibrated_domain and report.to_dict()["in_calibrated_domain"] is False
        assert "UltraScale and UltraScale+" in report.domain_note and "7 series" in report.domain_note
        measured = OUT_OF_DOMAIN_ERRORS.get((tool, "7 series"), "no published 7 series report")
        assert measured in report.domain_note  # vitis: the Zynq-7000 reports' errors (latency 2.09-4.73x)
        text = str(report)
        tool_line = text.splitlines().index(f"tool: {report.tool}")
        assert text.splitlines()[tool_line + 1] == f"WARNING: {report.domain_note}"
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("default")
        for _ in range(3):  # one call site: one warning
            fa.to_firmware(model, "xc7z020-clg400-1").estimate("vitis")
    assert sum(issubclass(w.category, OutOfCalibratedDomainWarning) for w in record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfCalibratedDomainWarning)
        on_u250 = fa.estimate(model, "xcu250-figd2104-2L-e", tool="vitis")
        fa.estimate(model, "xcku115-flvb2104-2-i", tool="vivado")
    assert on_u250.in_calibrated_domain and on_u250.domain_note == ""
    assert "WARNING" not in str(on_u250)


def test_part_series():
    assert get_part("xc7z020-clg400-1").series == "7 series" and get_part("xc7a100t").series == "7 series"
    assert get_part("xcu250-figd2104-2L-e").series == "UltraScale+"
    assert get_part("xcku115-flvb2104-2-i").series == "UltraScale"
    with pytest.raises(ValueError, match="family 'Versal'"):
        Part("x", "Versal", 1, 1, 1, 1, 0, "DSP48E2")
