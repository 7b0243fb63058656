"""Bit-exact outside the ordinary envelope (issue 9, section 1): huge finite inputs, AP_SAT_SYM's
most negative code, types wider than 53 bits and widths beyond 64 bits.

Every case checks the emulator against the values ``ap_fixed`` gives (written out here) and
against the g++ C simulation of the generated project.
"""

from __future__ import annotations

import fpga_aware as fa  # noqa: F401  (before TensorFlow)
import numpy as np
import pytest
import tensorflow as tf

from fpga_aware.core.fixed import FixedType, parse_precision
from fpga_aware.core.ir import SoftmaxLayer

PART = "xcu250-figd2104-2L-e"


def _identity(name: str, precision: str, n: int = 1, weight: float = 1.0, layer_config=None, **options):
    """``Dense(n)`` with the weights ``weight * I`` and no bias: the output is ``result_t(x * w)``."""
    inp = tf.keras.Input((n,), name=f"{name}_in")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(n, name=f"{name}_d")(inp))
    model.layers[1].set_weights([np.eye(n) * weight, np.zeros(n)])
    return fa.to_firmware(model, PART, precision=precision, project_name=name, layer_config=layer_config or {}, **options)


def _check(firmware, x, expected=None):
    x = np.asarray(x, dtype=np.float64).reshape(-1, firmware.ir.n_inputs)
    emulated = firmware.predict(x)
    if expected is not None:
        np.testing.assert_array_equal(emulated, np.asarray(expected, dtype=np.float64).reshape(emulated.shape))
    np.testing.assert_array_equal(emulated, firmware.predict(x, engine="csim"))
    rows = np.concatenate([firmware.predict(row[None, :]) for row in x])
    np.testing.assert_array_equal(rows, emulated)  # no result depends on the rest of the batch
    return emulated


LSB = 2.0**-10  # of ap_fixed<16,6>


def test_huge_finite_inputs_wrap_like_ap_fixed():
    # ap_fixed keeps the low 16 bits of the exact mantissa x * 2**10.
    x = [1e18, -1e18, 2.0**60, 1e300, 1e308, 1.7976931348623157e308,
         2.0**40 + LSB, 2.0**55 + 8, -(2.0**55 + 8), 2.0**52 + 3 * LSB * 2**42, 5e-324, -5e-324]
    expected = [0, 0, 0, 0, 0, 0, LSB, 8.0, -8.0, 0.0, 0.0, -LSB]
    _check(_identity("huge_wrap", "ap_fixed<16,6>"), x, expected)


def test_huge_finite_inputs_saturate_and_round():
    top = 32 - LSB
    x = [1e18, -1e18, 1e300, -1e308, 2.0**-11, -(2.0**-11), 3 * 2.0**-11, -32.0, -(32 - LSB), -(32 - LSB / 2)]
    expected = [top, -top, top, -top, 0.0, 0.0, 2 * LSB, -top, -top, -top]
    _check(_identity("huge_sat", "ap_fixed<16,6,AP_RND_CONV,AP_SAT_SYM>"), x, expected)


def test_tiny_and_subnormal_inputs_with_coarse_types():
    # LSB 2**-11 and 16: the scaled values fall below the normal doubles (or are subnormal).
    fw = _identity("tiny_sat", "ap_fixed<8,-3,AP_TRN,AP_SAT>",  # the weight 1 needs integer bits
                   layer_config={"tiny_sat_d": {"precision": {"weight": "ap_fixed<8,2>"}}})
    _check(fw, [5e-324, -5e-324, -1e-300, 1e-300, -(2.0**-1022)], [0, -2.0**-11, -2.0**-11, 0, -2.0**-11])
    fw = _identity("tiny_wrap", "ap_fixed<8,12>", layer_config={"tiny_wrap_d": {"precision": {"weight": "ap_fixed<8,2>"}}})
    _check(fw, [-5e-324, -1e-310, 1e-310, -3.0, 1e20, -2049.0], [-16, -16, 0, -16, 0, 2032])


def test_smallest_subnormal_with_one_negative_fractional_bit():
    # frac = -1 (LSB 2): -5e-324 * 2**-1 underflows to -0.0 in float64 (a tie, to even), but
    # ap_fixed floors the exact value: AP_TRN gives -1 LSB.  Values printed by the ap_types headers.
    x = [-5e-324, -1e-323, 5e-324, -1e-310, -(2.0**-1022)]
    expected = {
        "ap_fixed<16,17>": [-1, -1, 0, -1, -1],
        "ap_fixed<11,12,AP_TRN,AP_SAT_SYM>": [-1, -1, 0, -1, -1],
        "ap_ufixed<16,17>": [65535, 65535, 0, 65535, 65535],  # -1 LSB wraps
        "ap_fixed<16,17,AP_TRN_ZERO>": [0, 0, 0, 0, 0],
        "ap_fixed<16,17,AP_RND_MIN_INF>": [0, 0, 0, 0, 0],
        "ap_fixed<16,16>": [-1, -1, 0, -1, -1],  # frac 0: no scaling at all
    }
    for precision, mantissas in expected.items():
        t = parse_precision(precision)
        assert t.from_float(x).tolist() == mantissas, precision
        assert (t.round_values(np.array(x)) / t.lsb).tolist() == mantissas, precision


def _exact_outputs(firmware, x):
    """Output mantissas (exact integers) of the emulator and of the C simulation."""
    t = firmware.ir.output_type
    emulated, simulated = firmware.predict(x), firmware.predict(x, engine="csim")
    to_int = lambda v: [int(m) for m in np.ldexp(v, t.frac).ravel()]  # noqa: E731  (<= 53 bits: exact)
    return to_int(emulated), to_int(simulated)


def test_smallest_subnormal_into_wide_dense_and_sigmoid():
    """Fuzz seed 1207: -5e-324 into ap_fixed<11,12,AP_TRN,AP_SAT_SYM> is -2 (mantissa -1), not 0;
    it reaches an 82-bit dense output and a sigmoid table."""
    inp = tf.keras.Input((1,), name="sub1207_in")
    hidden = tf.keras.layers.Dense(1, name="sub1207_d")(inp)
    model = tf.keras.Model(inp, tf.keras.layers.Activation("sigmoid", name="sub1207_s")(hidden))
    model.layers[1].set_weights([np.full((1, 1), -0.375), np.zeros(1)])
    config = {"sub1207_in": {"precision": {"result": "ap_fixed<11,12,AP_TRN,AP_SAT_SYM>"}},
              "sub1207_d": {"precision": {"weight": "ap_fixed<72,1,AP_RND_ZERO,AP_SAT_SYM>",
                                          "result": "ap_fixed<82,3>", "accum": "ap_fixed<82,3>"}},
              "sub1207_s": {"precision": {"result": "ap_ufixed<8,0>"}}}
    fw = fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name="sub1207", layer_config=config)
    x = np.array([[-5e-324], [0.0], [5e-324], [-1e-323], [-2.0]])
    emulated, simulated = _exact_outputs(fw, x)
    assert emulated == simulated
    trace = fw._emulator.trace(x)
    assert trace["sub1207_in"].ravel().tolist() == [-1, 0, 0, -1, -1]
    three_quarters = 3 << 77  # -2 * -0.375 in ap_fixed<82,3> (79 fractional bits)
    assert trace["sub1207_d"].ravel().tolist() == [three_quarters, 0, 0, three_quarters, three_quarters]
    assert emulated[0] == emulated[4] != emulated[1]  # sigmoid(0.75), not sigmoid(0)
    _check(fw, x)


def test_smallest_subnormal_into_softmax():
    """Fuzz seed 1246: -5e-324 into ap_fixed<16,17> (mantissa -1) decides a wide softmax's argmax."""
    inp = tf.keras.Input((1,), name="sub1246_in")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(2, activation="softmax", name="sub1246_d")(inp))
    model.layers[1].set_weights([np.array([[-4.0, 4.0]]), np.zeros(2)])
    config = {"sub1246_in": {"precision": {"result": "ap_fixed<16,17>"}},
              # fused softmax: the dense output is its accumulator, "result" is the softmax's
              "sub1246_d": {"precision": {"weight": "ap_fixed<8,4>", "accum": "ap_fixed<106,21>",
                                          "result": "ap_fixed<65,9,AP_RND_MIN_INF,AP_SAT_ZERO>"}}}
    fw = fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name="sub1246", layer_config=config)
    assert isinstance(fw.ir.output, SoftmaxLayer) and fw.ir.output.input_type.width == 106
    x = np.array([[-5e-324], [0.0], [5e-324], [-1e-323], [-2.0]])
    emulated, simulated = _exact_outputs(fw, x)
    assert emulated == simulated
    assert fw._emulator.trace(x)["sub1246_in"].ravel().tolist() == [-1, 0, 0, -1, -1]
    y = fw.predict(x)
    assert y[0, 0] > y[0, 1] and y[1, 0] == y[1, 1]  # logits (8, -8), not (0, 0)
    _check(fw, x)


def test_sat_sym_never_gives_the_most_negative_code():
    # ap_fixed<4,4,AP_TRN,AP_SAT_SYM>(-8) is -7, whatever else is in the batch.
    t = parse_precision("ap_fixed<4,4,AP_TRN,AP_SAT_SYM>")
    np.testing.assert_array_equal(t.from_float([-8.0]), [-7])
    np.testing.assert_array_equal(t.from_float([-8.0, 100.0]), [-7, 7])
    np.testing.assert_array_equal(t.round_values(np.array([-8.0])), [-7.0])
    np.testing.assert_array_equal(t.requantize(np.array([-8]), 0), [-7])
    assert not t.contains(parse_precision("ap_fixed<4,4>"))
    fw = _identity("sym_in", "ap_fixed<4,4,AP_TRN,AP_SAT_SYM>")
    _check(fw, [-8.0, -9.0, 7.0, 8.0, -7.5], [-7, -7, 7, 7, -7])
    # the result of a dense layer reaching the code exactly (no overflow anywhere)
    fw = _identity("sym_res", "ap_fixed<8,8>", layer_config={"sym_res_d": {"precision": {"result": "ap_fixed<4,4,AP_TRN,AP_SAT_SYM>"}}})
    _check(fw, [-8.0, -9.0, -7.0, 7.0, 8.0, -100.0], [-7, -7, -7, 7, 7, -7])
    # one and two bits: ap_fixed keeps the code -1 of a 1-bit type (-max would be 0)
    one = {"sym1_d": {"precision": {"weight": "ap_fixed<8,2>"}}, "sym1_in": {"precision": {"result": "ap_fixed<8,4>"}}}
    _check(_identity("sym1", "ap_fixed<1,1,AP_TRN,AP_SAT_SYM>", layer_config=one), [-1, -0.5, 0, 0.7, -8], [-1, -1, 0, 0, -1])


def test_types_wider_than_53_bits_stay_exact():
    t = parse_precision("ap_fixed<60,10,AP_TRN,AP_SAT>")
    np.testing.assert_array_equal(t.from_float([512.0, -1e300]), [t.max_mantissa, t.min_mantissa])
    config = {
        "wide_in": {"precision": {"result": "ap_fixed<60,10,AP_TRN,AP_SAT>"}},
        "wide_d1": {"precision": {"weight": "ap_fixed<8,2>", "result": "ap_fixed<60,10,AP_TRN,AP_SAT>"}},
        "wide_d2": {"precision": {"weight": "ap_fixed<24,22>", "result": "ap_fixed<60,40>"}},
    }
    inp = tf.keras.Input((1,), name="wide_in")
    hidden = tf.keras.layers.Dense(1, name="wide_d1")(inp)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(1, name="wide_d2")(hidden))
    model.layers[1].set_weights([np.ones((1, 1)), np.zeros(1)])
    model.layers[2].set_weights([np.full((1, 1), 2.0**20), np.zeros(1)])
    fw = fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name="wide_model", layer_config=config)
    x = np.array([[512.0], [1 / 3], [-np.pi], [1e-9 + 1 / 7]])
    _check(fw, x)
    trace = fw._emulator.trace(x)
    x_m = [min(int(np.floor(v * 2.0**50)), t.max_mantissa) for v in x.ravel()]  # exact: 53-bit doubles
    np.testing.assert_array_equal(trace["wide_d1"].ravel(), x_m)  # 60-bit mantissas, not doubles
    np.testing.assert_array_equal(trace["wide_d2"].ravel(), [m >> 10 for m in x_m])  # all 60 bits count


def test_widths_up_to_ap_fixed_limit_are_accepted():
    assert FixedType(1024, 500).max_mantissa == (1 << 1023) - 1
    assert parse_precision("ap_ufixed<1024,1024>").max_mantissa == (1 << 1024) - 1
    with pytest.raises(fa.PrecisionError, match="1..1024"):
        FixedType(1025, 3)
    wide = FixedType(200, 100, rounding="AP_RND_CONV", overflow="AP_SAT")
    x = np.array([1e300, -1e300, 1.5, -(2.0**98) - 2.0**46, 2.0**-100 * 1.5, 2.0**-101])
    m = wide.from_float(x)
    assert m.dtype == object
    assert m.tolist() == [wide.max_mantissa, wide.min_mantissa, 3 << 99, -(2**198 + 2**146), 2, 0]
    np.testing.assert_array_equal(wide.to_float(m)[2:5], [1.5, x[3], 2.0**-99])


def _wide_mlp(name: str, rng, activation: str):
    inp = tf.keras.Input((6,), name=f"{name}_in")
    hidden = tf.keras.layers.Dense(8, activation=activation, name=f"{name}_d1")(inp)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3, name=f"{name}_d2")(hidden))
    for layer in model.layers[1:]:
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.normal(0, 2, kernel.shape) * (rng.random(kernel.shape) < 0.7), rng.normal(0, 1, bias.shape)])
    return model


@pytest.mark.parametrize("precision, activation", [
    ("ap_fixed<64,32>", "relu"),  # hls4ml's own tests use it
    ("ap_ufixed<64,30,AP_RND,AP_SAT>", "linear"),
    ("ap_fixed<128,64,AP_RND_CONV,AP_SAT_SYM>", "sigmoid"),  # wide table index, 2-word weights
    ("ap_fixed<300,40,AP_TRN,AP_WRAP>", "relu"),  # 5-word weights, 600-bit products
])
def test_wide_types_emulator_equals_csim(precision, activation, rng):
    name = "w" + precision.split("<")[1].split(",")[0] + activation[:3]
    fw = _wide_mlp(name, rng, activation)
    # the weights and biases take the type on purpose (an unsigned type saturates the negative ones)
    explicit = {f"{name}_d{i}": {"precision": {"weight": precision, "bias": precision}} for i in (1, 2)}
    fw = fa.to_firmware(fw, PART, precision=precision, project_name=name, layer_config=explicit)
    x = rng.normal(0, 8, (40, 6))
    x[0] = [1e300, -1e300, 2.0**60, -(2.0**70), 1e-300, 0.0]
    t = fw.ir.input_type
    x[1] = [t.max_value, t.min_value, t.lsb / 2, -t.lsb / 2, 3 * t.lsb / 2, t.max_value - t.lsb]
    _check(fw, x)
    assert fw._library.warnings == ""


def test_wide_weights_in_hls_storage(tmp_path, rng):
    """Weights wider than 64 bits (fa::wide_bits) compile cleanly in both ROM forms and agree."""
    from fpga_aware.sim.csim import compile_project, compile_warnings

    fw = fa.to_firmware(_wide_mlp("wtyped", rng, "relu"), PART, precision="ap_fixed<96,40>", project_name="wtyped")
    path = fw.write(tmp_path / "wtyped")
    header = (path / "firmware" / "weights" / "wtyped_d1.h").read_text()
    assert "fa::wide_bits<2>" in (path / "firmware" / "rom_types.h").read_text() and "ULL}}" in header
    x = rng.normal(0, 8, (20, 6))
    plain = compile_project(path).predict(x)
    typed = compile_project(path, cache_dir=tmp_path / "typed", extra_flags=("-DFA_TYPED_ROMS",)).predict(x)
    np.testing.assert_array_equal(plain, typed)
    np.testing.assert_array_equal(plain, fw.predict(x))
    assert compile_warnings(path) == ""


def test_sat_sym_table_entries_are_never_the_most_negative_code():
    # tanh(-8) rounds to -1, outside ap_fixed<6,0>: a SAT_SYM table saturates to -max (-31/64),
    # which is what the C++ gives when it converts the entry to the result type.
    inp = tf.keras.Input((1,), name="symtab_in")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(1, activation="tanh", name="symtab_d")(inp))
    model.layers[1].set_weights([np.ones((1, 1)), np.zeros(1)])
    config = {"symtab_d": {"precision": {"result": "ap_fixed<6,0,AP_RND,AP_SAT_SYM>"}}}
    fw = fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name="symtab", layer_config=config)
    _check(fw, [-8.0, -30.0, 8.0, 0.0], [-31 / 64, -31 / 64, 31 / 64, 0.0])


def test_wide_batch_norm_scale_shift_emulator_equals_csim(rng):
    """An unfolded BatchNormalization (after a ReLU) with 100-bit scale, shift and input."""
    model = tf.keras.Sequential([
        tf.keras.layers.Dense(4, activation="relu", input_shape=(4,), name="wbn_d0"),
        tf.keras.layers.BatchNormalization(name="wbn_bn"),
        tf.keras.layers.Dense(2, name="wbn_d1"),
    ])
    bn = model.get_layer("wbn_bn")
    bn.set_weights([rng.normal(1, 0.5, 4), rng.normal(0, 1, 4), rng.normal(0, 1, 4), rng.uniform(0.5, 2, 4)])
    wide = "ap_fixed<100,50>"
    config = {"wbn_bn": {"precision": {"weight": wide, "bias": wide}}, "wbn_d0": {"precision": {"result": wide}}}
    fw = fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name="wbn", layer_config=config)
    assert fw.ir.layer("wbn_bn").scale_type.width == 100
    _check(fw, rng.normal(0, 3, (60, 4)))


def test_threads_change_nothing(rng):
    """The emulator's chunks may run on several threads: every split gives the same rows."""
    model = _wide_mlp("thr", rng, "relu")
    fw = fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name="thr")
    emulator = fw._emulator
    x = rng.normal(0, 8, (5 * 1024 + 3, 6))
    one = emulator.predict(x, threads=1)
    for threads in (2, 3, 8):
        np.testing.assert_array_equal(emulator.predict(x, threads=threads), one)
    np.testing.assert_array_equal(fw.predict(x), one)
    for bad in (0, -2, 2.0, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            emulator.predict(x, threads=bad)


def _narrow_mlp(name: str, rng, big_weight: float | None = None):
    """16 -> 16 (relu) -> 16 (relu) -> 4 with weight mantissas |m| <= 31 (ap_fixed<16,6>): every
    partial sum of every product stays below 2**24 LSBs (16 * 31 * 2**15 < 2**24), tightly."""
    inp = tf.keras.Input((16,), name=f"{name}_in")
    h = tf.keras.layers.Dense(16, activation="relu", name=f"{name}_d0")(inp)
    h = tf.keras.layers.Dense(16, activation="relu", name=f"{name}_d1")(h)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(4, name=f"{name}_d2")(h))
    for k, layer in enumerate(model.layers[1:]):
        w = rng.integers(-31, 32, layer.kernel.shape) * LSB
        w[:, 0] = 31 * LSB * np.where(np.arange(w.shape[0]) % 2, 1, -1)  # a column at the bound
        if big_weight is not None and k == 1:
            w[0, 1] = big_weight
        layer.set_weights([w, rng.integers(-64, 64, layer.bias.shape) * LSB])
    return fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name=name)


def _limit_rows(rng, n: int) -> np.ndarray:
    """Rows at the input type's extremes (-32 and 32 - LSB, with the column-0 sign pattern) and random ones."""
    top, signs = 32 - LSB, np.where(np.arange(16) % 2, 1.0, -1.0)
    rows = [signs * top, -signs * 32.0, np.full(16, top), np.full(16, -32.0)]
    return np.concatenate([np.array(rows), rng.uniform(-40, 40, (n, 16)), rng.normal(0, 4, (n, 16))])


def _exact_mantissas(firmware, x):
    """The outputs as ap_fixed<16,6> integer mantissas: emulator (buffered program, fast chain and layer
    by layer) and csim; the first three must agree."""
    from fpga_aware.emulator import Emulator

    chain_only = Emulator(firmware.ir)
    chain_only._program = None
    layer_by_layer = Emulator(firmware.ir)
    layer_by_layer._program = layer_by_layer._chain = None
    fast, chain, slow, csim = (np.ldexp(o, 10).astype(np.int64) for o in (
        firmware.predict(x), chain_only.predict(x), layer_by_layer.predict(x), firmware.predict(x, engine="csim")))
    np.testing.assert_array_equal(chain, fast)
    return [fast, slow, csim]


def test_float32_products_where_every_sum_stays_below_2_24(rng):
    """Issue 9 section 3: a narrow model takes float32 products (exact) and matches csim."""
    fw = _narrow_mlp("f32", rng)
    chain = fw._emulator._chain
    assert chain is not None
    assert [getattr(step, "float32_in", None) for step in chain[1:3]] == [True, True]
    x = _limit_rows(rng, 500)
    fast, slow, csim = _exact_mantissas(fw, x)
    np.testing.assert_array_equal(fast, csim)
    np.testing.assert_array_equal(slow, csim)
    hidden = max(np.abs(v).max() for v in fw.trace(x).values())
    assert hidden >= 16  # the hidden sums are large, not trivially small


def test_float32_falls_back_when_a_bound_reaches_2_24(rng):
    """One weight of 2.0 (mantissa 2048) lifts a column's bound past 2**24: float64 there, still exact."""
    fw = _narrow_mlp("f64fb", rng, big_weight=2.0)
    chain = fw._emulator._chain
    assert [getattr(step, "float32_in", None) for step in chain[1:3]] == [True, False]
    fast, slow, csim = _exact_mantissas(fw, _limit_rows(rng, 500))
    np.testing.assert_array_equal(fast, csim)
    np.testing.assert_array_equal(slow, csim)


def _softmax_mlp(name: str, rng):
    inp = tf.keras.Input((16,), name=f"{name}_in")
    h = tf.keras.layers.Dense(24, activation="relu", name=f"{name}_d0")(inp)
    out = tf.keras.layers.Dense(5, activation="softmax", name=f"{name}_d1")(h)
    model = tf.keras.Model(inp, out)
    for layer in model.layers[1:]:
        layer.set_weights([rng.normal(0, 1.5, layer.kernel.shape), rng.normal(0, 2, layer.bias.shape)])
    return fa.to_firmware(model, PART, precision="ap_fixed<16,6>", project_name=name)


def test_buffered_softmax_tail_equals_csim_and_the_layer_by_layer_rules(rng):
    """Issue 9 section 3: the buffered program evaluates Dense -> softmax from the product's sums
    (exp-table bins, index by truncation, row sums as one product); large logits clip the exp
    table's index at both ends, overflowing hidden sums wrap.  Same outputs as csim, as the layer
    by layer rules, and on single rows and every thread count."""
    from fpga_aware.emulator import Emulator

    fw = _softmax_mlp("smtail", rng)
    program = fw._emulator._program
    assert program is not None and program.softmax is not None
    x = np.concatenate([_limit_rows(rng, 3000), rng.normal(0, 0.3, (500, 16))])
    fast, slow, csim = _exact_mantissas(fw, x)
    np.testing.assert_array_equal(fast, csim)
    np.testing.assert_array_equal(slow, csim)
    layer_by_layer = Emulator(fw.ir)
    layer_by_layer._program = layer_by_layer._chain = None
    one = fw._emulator.predict(x, threads=1)
    np.testing.assert_array_equal(one, layer_by_layer.predict(x))
    for threads in (2, 3):
        np.testing.assert_array_equal(fw._emulator.predict(x, threads=threads), one)
    for i in range(0, len(x), 211):
        np.testing.assert_array_equal(fw.predict(x[i:i + 1]), one[i:i + 1])


def test_buffered_program_reports_nan_and_infinity_by_row(rng):
    """The buffered program finds NaN and infinity in its input conversion (predict does not scan
    the batch first): the same error, naming the rows of the whole batch, on any thread count;
    huge finite doubles still convert exactly."""
    from fpga_aware.sim.inputs import InputValueError

    fw = _softmax_mlp("smnan", rng)
    x = rng.normal(0, 4, (9000, 16))
    x[5000, 3], x[8999, 0] = np.nan, -np.inf
    for threads in (None, 1, 2):
        with pytest.raises(InputValueError, match=r"rows \[5000, 8999\] of the input contain NaN or infinity"):
            fw._emulator.predict(x, threads=threads)
    x[5000, 3], x[8999, 0] = 1e308, -1e300
    np.testing.assert_array_equal(fw.predict(x), fw.predict(x, engine="csim"))
