"""The g++ C simulation of written projects: compiles without warnings, equals the emulator bit for bit.

IRs are built by hand (no Keras): dense/relu/softmax chains with every reuse-factor regime,
table activations, scale-shift, power-of-two (shift) layers, unusual rounding/overflow modes
and products wider than 64 bits.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import shutil
import time

import numpy as np
import pytest

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.sim.csim import (
    CompilationError,
    CSimLibrary,
    HeadersNotFoundError,
    compile_project,
    compile_warnings,
    find_ap_types,
    run_testbench,
)
from fpga_aware.core.fixed import FixedType, parse_precision as P
from fpga_aware.core.ir import (
    ActivationLayer,
    DenseLayer,
    InputLayer,
    ModelIR,
    ScaleShiftLayer,
    SoftmaxLayer,
    Strategy,
)
from fpga_aware.core.tables import activation_table, softmax_tables
from fpga_aware.hls.writer import write_project


def _toolchain_missing() -> str | None:
    if shutil.which("g++") is None:
        return "g++ is not installed"
    try:
        find_ap_types()
    except HeadersNotFoundError as err:
        return str(err)
    return None


pytestmark = pytest.mark.skipif(_toolchain_missing() is not None, reason=str(_toolchain_missing()))

N_SAMPLES = 2000
LATENCY, RESOURCE = Strategy.LATENCY, Strategy.RESOURCE


# ------------------------------------------------------------------------------ IR builders
def _input(n: int, t: FixedType) -> InputLayer:
    return InputLayer(name="input", cname="input", n_in=n, n_out=n, input_type=t, result_type=t, shape=(n,))


def _dense(rng, name, n_in, n_out, in_t, out_t, *, w_t=P("ap_fixed<8,2>"), acc_t=P("ap_fixed<24,12>"),
           reuse=1, strategy=LATENCY, sparsity=0.7, pow2=False, reuse_is_nnz=False, extra_reuse=0) -> DenseLayer:
    if pow2:
        max_exp = w_t.width - 2 if w_t.signed else w_t.width - 1
        mags = np.int64(1) << rng.integers(0, max_exp + 1, (n_in, n_out))
        weights = mags * (rng.choice([-1, 1], (n_in, n_out)) if w_t.signed else 1)
    else:
        weights = rng.integers(w_t.min_mantissa, w_t.max_mantissa + 1, (n_in, n_out))
    weights = (weights * (rng.random((n_in, n_out)) >= sparsity)).astype(np.int64)
    bias = rng.integers(w_t.min_mantissa, w_t.max_mantissa + 1, n_out).astype(np.int64)
    nnz = int(np.count_nonzero(weights))
    if reuse_is_nnz:
        reuse = max(nnz, 1) + extra_reuse
    return DenseLayer(name=name, cname=name, n_in=n_in, n_out=n_out, input_type=in_t, result_type=out_t,
                      weight_type=w_t, bias_type=w_t, accum_type=acc_t, weights=weights, bias=bias,
                      reuse_factor=reuse, strategy=strategy)


def _act(name, n, in_t, out_t, function="relu", table=None) -> ActivationLayer:
    return ActivationLayer(name=name, cname=name, n_in=n, n_out=n, input_type=in_t, result_type=out_t,
                           function=function, table=table)


def mlp_ir(seed: int = 1) -> ModelIR:
    """dense + relu + dense + ... + softmax; reuse factors 1, 3, nnz, > nnz in both strategies; an all-zero layer."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<16,6>")
    r = P("ap_ufixed<12,4>")
    layers = [_input(16, t)]
    layers.append(_dense(rng, "fc1", 16, 24, t, t, reuse=1))
    layers.append(_act("relu1", 24, t, r))
    layers.append(_dense(rng, "fc2", 24, 20, r, t, reuse=3, strategy=RESOURCE))
    layers.append(_act("relu2", 20, t, r))
    layers.append(_dense(rng, "fc3", 20, 12, r, t, reuse_is_nnz=True))  # R = nnz: one multiplier
    layers.append(_act("lin3", 12, t, t, "linear"))
    layers.append(_dense(rng, "fc4", 12, 10, t, t, reuse_is_nnz=True, extra_reuse=7, strategy=RESOURCE))  # R > nnz
    layers.append(_dense(rng, "fc5", 10, 9, t, t, reuse=90))  # R = n_in * n_out > nnz, latency
    layers.append(_dense(rng, "fc6", 9, 8, t, t, reuse=1, strategy=RESOURCE))
    layers.append(_dense(rng, "empty", 8, 6, t, t, sparsity=1.0))  # no nonzero weight at all
    layers.append(_dense(rng, "fc7", 6, 5, t, t, reuse=3, sparsity=0.2))
    layers.append(_dense(rng, "fc8", 5, 5, t, t, reuse_is_nnz=True, strategy=RESOURCE, sparsity=0.5))  # R = nnz
    diff_t, exp_table, sum_t, inv_table = softmax_tables(t, 5, 1024)
    layers.append(SoftmaxLayer(name="softmax", cname="softmax", n_in=5, n_out=5, input_type=t,
                               result_type=P("ap_ufixed<16,0>"), diff_type=diff_t, exp_table=exp_table,
                               sum_type=sum_t, inv_table=inv_table))
    return ModelIR("mlp", layers)


def tables_ir(seed: int = 2) -> ModelIR:
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<16,6>")
    sig_t = P("ap_ufixed<10,0>")
    tanh_t = P("ap_fixed<10,1>")
    narrow = P("ap_fixed<8,3>")  # a table with shift 0: one entry per input value
    layers = [_input(12, t)]
    layers.append(_dense(rng, "d1", 12, 20, t, t, reuse=4))
    layers.append(_act("sig", 20, t, sig_t, "sigmoid", activation_table("sigmoid", t, sig_t, 1024)))
    layers.append(_dense(rng, "d2", 20, 16, sig_t, narrow, reuse=3, strategy=RESOURCE))
    layers.append(_act("tanh", 16, narrow, tanh_t, "tanh", activation_table("tanh", narrow, tanh_t, 512)))
    layers.append(_dense(rng, "d3", 16, 6, tanh_t, t))
    layers.append(_act("sig_out", 6, t, P("ap_ufixed<8,0>"), "sigmoid", activation_table("sigmoid", t, P("ap_ufixed<8,0>"), 64)))
    return ModelIR("tables", layers)


def shifts_modes_ir(seed: int = 3) -> ModelIR:
    """Shift layers (signed and unsigned inputs, both strategies), scale-shift, rounding/overflow modes."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<16,6>")
    w = P("ap_fixed<8,2>")
    sat_acc = P("ap_fixed<12,5,AP_RND_CONV,AP_SAT>")  # narrow, saturating: the order of the sum matters
    u = P("ap_ufixed<10,3,AP_RND,AP_SAT>")
    sym = P("ap_fixed<9,3,AP_RND_ZERO,AP_SAT_SYM>")
    tiny = P("ap_ufixed<6,-1,AP_RND_INF,AP_SAT_ZERO>")  # negative integer bits
    big = P("ap_fixed<7,9>")  # integer bits beyond the width
    layers = [_input(10, t)]
    layers.append(_dense(rng, "p1", 10, 14, t, t, w_t=w, reuse=2, pow2=True))
    layers.append(ScaleShiftLayer(name="bn", cname="bn", n_in=14, n_out=14, input_type=t, result_type=u,
                                  scale_type=w, shift_type=w, accum_type=sat_acc,
                                  scale=rng.integers(-128, 128, 14), shift=rng.integers(-128, 128, 14)))
    layers.append(_dense(rng, "p2", 14, 9, u, sym, w_t=P("ap_fixed<6,-1>"), acc_t=sat_acc, reuse=5,
                         strategy=RESOURCE, pow2=True, sparsity=0.3))
    layers.append(_act("relu", 9, sym, tiny))
    layers.append(_dense(rng, "z", 9, 4, tiny, big, w_t=P("ap_fixed<5,7>"), acc_t=P("ap_fixed<14,12,AP_TRN_ZERO,AP_WRAP>"),
                         reuse=50, sparsity=0.2))
    layers.append(_dense(rng, "p3", 4, 6, big, sym, w_t=P("ap_ufixed<6,2>"), acc_t=P("ap_fixed<10,9,AP_RND,AP_SAT>"),
                         reuse=1, pow2=True, sparsity=0.0))
    # accumulator with negative integer bits rounded to an integer type: the rounding bit lies
    # above the accumulator's MSB (ap_types asserts on a plain conversion; fa::convert widens)
    layers.append(_dense(rng, "q", 6, 4, sym, P("ap_fixed<2,2,AP_RND>"), w_t=P("ap_fixed<6,-3>"),
                         acc_t=P("ap_fixed<17,-1>"), sparsity=0.3))
    return ModelIR("shifts", layers)


def wide_ir(seed: int = 4) -> ModelIR:
    """Products of 72 bits (multi-word ap_fixed): dense + relu only."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<40,12>")
    w = P("ap_fixed<32,4>")
    acc = P("ap_fixed<62,20>")
    r = P("ap_fixed<48,16>")
    layers = [_input(6, t)]
    layers.append(_dense(rng, "wd1", 6, 5, t, r, w_t=w, acc_t=acc, sparsity=0.3, reuse=2))
    layers.append(_act("wrelu", 5, r, r))
    layers.append(_dense(rng, "wd2", 5, 3, r, t, w_t=w, acc_t=acc, sparsity=0.3, strategy=RESOURCE, reuse=4))
    return ModelIR("wide", layers)


def saturating_ir(seed: int = 9) -> ModelIR:
    """Narrow saturating accumulators (the order of the sums matters) at many reuse factors, both
    strategies, dense and sparse, multipliers and shifts."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<10,4,AP_TRN,AP_SAT>")
    acc = P("ap_fixed<12,5,AP_TRN,AP_SAT>")
    layers = [_input(12, t)]
    specs = [("s1", 12, 10, 1, LATENCY, 0.0), ("s2", 10, 10, 2, LATENCY, 0.3), ("s3", 10, 9, 3, RESOURCE, 0.0),
             ("s4", 9, 9, 5, RESOURCE, 0.6), ("s5", 9, 8, 1, RESOURCE, 0.2), ("s6", 8, 8, 7, LATENCY, 0.5),
             ("s7", 8, 7, 13, RESOURCE, 0.1), ("s8", 7, 6, 42, LATENCY, 0.0)]
    for name, n_in, n_out, reuse, strategy, sparsity in specs:
        layers.append(_dense(rng, name, n_in, n_out, t, t, w_t=P("ap_fixed<6,2>"), acc_t=acc, reuse=reuse,
                             strategy=strategy, sparsity=sparsity))
    layers.append(_dense(rng, "p1", 6, 6, t, t, w_t=P("ap_fixed<6,2>"), acc_t=acc, reuse=4, pow2=True,
                         strategy=RESOURCE, sparsity=0.2))
    layers.append(_dense(rng, "p2", 6, 5, t, t, w_t=P("ap_fixed<6,2>"), acc_t=acc, reuse=3, pow2=True, sparsity=0.0))
    layers.append(_dense(rng, "s9", 5, 4, t, t, w_t=P("ap_fixed<6,2>"), acc_t=acc, reuse_is_nnz=True, strategy=RESOURCE))
    return ModelIR("saturating", layers)


def tiny_ir(seed: int = 5) -> ModelIR:
    """Small enough for the FA_TYPED_ROMS (HLS storage) build, which g++ compiles slowly."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<12,4>")
    s = P("ap_ufixed<8,0>")
    layers = [_input(4, t)]
    layers.append(_dense(rng, "a", 4, 5, t, t, reuse=2, sparsity=0.4))
    layers.append(_act("sig", 5, t, s, "sigmoid", activation_table("sigmoid", t, s, 16)))
    layers.append(_dense(rng, "b", 5, 3, s, t, pow2=True, sparsity=0.3, strategy=RESOURCE, reuse=2))
    return ModelIR("tiny", layers)


# ------------------------------------------------------------------------------ references
def _requant_int(m: int, frac: int, t: FixedType) -> int:
    """Python-int assignment to ``t`` for AP_TRN with AP_WRAP or AP_SAT (any width)."""
    shift = frac - t.frac
    q = m >> shift if shift >= 0 else m << -shift  # >> on Python ints is floor: AP_TRN
    if t.overflow.value == "AP_SAT":
        return min(max(q, t.min_mantissa), t.max_mantissa)
    assert t.overflow.value == "AP_WRAP" and t.rounding.value == "AP_TRN"
    span = 1 << t.width
    return (q - t.min_mantissa) % span + t.min_mantissa


def _reference_dense(layer: DenseLayer, values: list[int]) -> list[int]:
    """One dense layer with Python ints, in the firmware's order, derived here from the lane rule
    (term k on lane k // C in cycle k % C, C = min(R, nnz)) rather than read from the schedule."""
    acc_t, f_in = layer.accum_type, layer.input_type.frac
    acc = [_requant_int(int(b), layer.bias_type.frac, acc_t) for b in layer.bias]
    outs, ins, ws = (a.tolist() for a in layer.terms())
    products = [_requant_int(values[i] * wv, f_in + layer.weight_type.frac, acc_t) for i, wv in zip(ins, ws)]
    if layer.strategy == LATENCY and layer.reuse_factor == 1:  # fully parallel: term order
        for o, product in zip(outs, products):
            acc[o] = _requant_int(acc[o] + product, acc_t.frac, acc_t)
        return acc
    C = min(layer.reuse_factor, len(outs))
    registers: dict[tuple[int, int], int] = {}  # (lane, output) -> partial sum, in cycle order
    for k in sorted(range(len(outs)), key=lambda k: (k % C, k // C)):  # cycle by cycle
        key = (k // C, outs[k])
        registers[key] = _requant_int(registers.get(key, 0) + products[k], acc_t.frac, acc_t)
    for o in range(layer.n_out):
        level = [acc[o]] + [registers[key] for key in sorted(registers) if key[1] == o]
        while len(level) > 1:  # balanced tree of neighbours
            level = [_requant_int(level[j] + level[j + 1], acc_t.frac, acc_t) if j + 1 < len(level) else level[j]
                     for j in range(0, len(level), 2)]
        acc[o] = level[0]
    return acc


def reference_dense_relu(ir: ModelIR, x: np.ndarray) -> np.ndarray:
    """A tiny exact evaluator with Python integers, for dense / relu / linear chains."""
    rows = []
    for sample in np.asarray(x, dtype=np.float64):
        values = [int(v) for v in ir.input_type.from_float(sample)]
        for layer in ir.layers[1:]:
            f_in = layer.input_type.frac
            if isinstance(layer, DenseLayer):
                acc = _reference_dense(layer, values)
                values = [_requant_int(a, layer.accum_type.frac, layer.result_type) for a in acc]
            elif isinstance(layer, ActivationLayer) and layer.function in ("relu", "linear"):
                if layer.function == "relu":
                    values = [max(v, 0) for v in values]
                values = [_requant_int(v, f_in, layer.result_type) for v in values]
            else:  # pragma: no cover - the reference covers what it is used for
                raise NotImplementedError(layer.kind)
        frac = ir.output_type.frac
        rows.append([math.ldexp(float(v), -frac) for v in values])
    return np.array(rows)


def _emulate(ir: ModelIR, x: np.ndarray) -> np.ndarray:
    from fpga_aware.sim.emulator import emulate

    return emulate(ir, x)


def _emulator_available() -> bool:
    return importlib.util.find_spec("fpga_aware.sim.emulator") is not None


def _inputs(ir: ModelIR, seed: int, n: int = N_SAMPLES) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 3, (n, ir.n_inputs))
    x[: n // 10] *= 40  # saturation and wrap-around
    x[n // 10 : n // 5] = np.round(x[n // 10 : n // 5] * 4) / 4  # exact values, ties of rounding modes
    return x


def _assert_same(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.shape == expected.shape
    bad = np.any(actual != expected, axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        pytest.fail(f"{int(bad.sum())} of {len(bad)} samples differ from {what}; first: {actual[i]} vs {expected[i]}")


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """Write and compile an IR once per module; returns (ir, project_dir, library)."""
    root = tmp_path_factory.mktemp("csim_projects")
    cache = tmp_path_factory.mktemp("csim_cache")
    built: dict[str, tuple] = {}

    def get(factory):
        ir = factory()
        if ir.project_name not in built:
            path = write_project(ir, FirmwareConfig(project_name=ir.project_name), root / ir.project_name)
            built[ir.project_name] = (ir, path, compile_project(path, cache_dir=cache))
        return built[ir.project_name]

    return get


# ------------------------------------------------------------------------------ bit exactness
@pytest.mark.parametrize("factory", [mlp_ir, tables_ir, shifts_modes_ir, saturating_ir], ids=lambda f: f.__name__)
def test_csim_equals_emulator(build, factory):
    ir, path, library = build(factory)
    assert library.warnings == "", f"g++ warnings in the generated code:\n{library.warnings}"
    x = _inputs(ir, seed=7)
    actual = library.predict(x)
    assert actual.shape == (N_SAMPLES, ir.n_outputs) and actual.dtype == np.float64
    if not _emulator_available():  # pragma: no cover - the emulator is part of the package
        pytest.skip("fpga_aware.sim.emulator is not available")
    _assert_same(actual, _emulate(ir, x), "the emulator")


def test_mlp_reuse_factors_cover_every_regime():
    ir = mlp_ir()
    regimes = {(layer.strategy, "R=1" if layer.reuse_factor == 1 else "R=nnz" if layer.reuse_factor == layer.nonzero_weights
                else "R>nnz" if layer.reuse_factor > layer.nonzero_weights else "1<R<nnz")
               for layer in ir.dense_layers() if layer.nonzero_weights}
    assert {(strategy, regime) for strategy in (LATENCY, RESOURCE) for regime in ("R=1", "1<R<nnz", "R=nnz", "R>nnz")} <= regimes
    assert any(layer.nonzero_weights == 0 for layer in ir.dense_layers())
    assert all(layer.uses_shifts for layer in shifts_modes_ir().dense_layers() if layer.name.startswith("p"))


def test_dense_relu_against_python_integers(build):
    """Products wider than 64 bits: the C++ agrees with an exact Python-int evaluation."""
    ir, path, library = build(wide_ir)
    assert library.warnings == ""
    x = _inputs(ir, seed=11, n=300) * 50
    _assert_same(library.predict(x), reference_dense_relu(ir, x), "the Python-int reference")
    # the emulator computes products wider than 63 bits with Python ints
    _assert_same(_emulate(ir, x), reference_dense_relu(ir, x), "the Python-int reference (emulator)")


def test_saturating_accumulators_follow_the_schedule(build):
    """Saturating sums depend on their order: C simulation, emulator and a Python-int reference of
    the lane rule agree, and the sequential order would not (so the check has teeth)."""
    ir, path, library = build(saturating_ir)
    x = _inputs(ir, seed=13, n=600) * 3
    expected = reference_dense_relu(ir, x)
    _assert_same(library.predict(x), expected, "the Python-int reference of the schedule")
    _assert_same(_emulate(ir, x), expected, "the Python-int reference of the schedule (emulator)")
    sequential = ModelIR(ir.project_name, [ir.layers[0]] + [
        DenseLayer(**{f.name: getattr(layer, f.name) for f in dataclasses.fields(layer)} | {"reuse_factor": 1,
                   "strategy": LATENCY}) for layer in ir.layers[1:]])
    assert np.any(reference_dense_relu(sequential, x) != expected), "the test data never saturates a partial sum"


def test_typed_roms_give_the_same_results(build, tmp_path):
    """The HLS storage (ap_int ROMs, -DFA_TYPED_ROMS) computes what the g++ storage does."""
    ir, path, library = build(tiny_ir)
    typed = compile_project(path, cache_dir=tmp_path, extra_flags=("-DFA_TYPED_ROMS",))
    assert typed.path != library.path
    assert typed.warnings == ""
    x = _inputs(ir, seed=3)
    _assert_same(typed.predict(x), library.predict(x), "the plain-integer build")
    if _emulator_available():
        _assert_same(library.predict(x), _emulate(ir, x), "the emulator")


def test_testbench_matches_the_library(build):
    ir, path, library = build(mlp_ir)
    x = _inputs(ir, seed=5, n=40)
    _assert_same(run_testbench(path, x), library.predict(x), "the shared library")


def test_generated_code_has_no_warnings_including_testbench(build):
    ir, path, library = build(tables_ir)
    assert compile_warnings(path) == ""


# ------------------------------------------------------------------------------ library behaviour
def test_batch_split_over_threads_gives_the_same_rows(tmp_path):
    ir = tiny_ir(seed=11)
    library = compile_project(write_project(ir, FirmwareConfig(project_name=ir.project_name), tmp_path / "p"))
    x = np.random.default_rng(2).normal(0, 4, (3 * 1024 + 7, ir.n_inputs))
    one = library.predict(x, threads=1)
    np.testing.assert_array_equal(library.predict(x, threads=3), one)  # uneven spans, more threads than CPUs
    np.testing.assert_array_equal(library.predict(x), one)
    np.testing.assert_array_equal(library.predict(x[:5], threads=4), one[:5])  # too few rows to split
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            library.predict(x, threads=bad)


def test_cache_skips_unchanged_and_rebuilds_changed(tmp_path):
    ir = tiny_ir(seed=9)
    path = write_project(ir, FirmwareConfig(project_name=ir.project_name), tmp_path / "p")
    first = compile_project(path)
    assert first.compiled and first.path.parent == path / ".csim"
    again = compile_project(path)
    assert again is first  # the in-memory entry: no g++ run (a wall-clock bound would depend on the machine)
    # a different process (no in-memory entry) reuses the cached library too
    from fpga_aware import csim

    csim._LOADED.clear()
    reloaded = compile_project(path)
    assert not reloaded.compiled and reloaded.path == first.path
    # a changed source gets a new library
    cpp = path / "firmware" / "tiny.cpp"
    cpp.write_text(cpp.read_text() + "\n// changed\n")
    changed = compile_project(path)
    assert changed.compiled and changed.path != first.path
    x = _inputs(ir, seed=1, n=50)
    _assert_same(changed.predict(x), first.predict(x), "the first build")


def test_large_weight_headers_compile_as_their_own_units(build, tmp_path, monkeypatch):
    """The parallel build (weights headers as separate translation units) computes the same."""
    from fpga_aware import csim

    ir, path, library = build(mlp_ir)
    monkeypatch.setattr(csim, "SPLIT_ENTRIES", 100)
    monkeypatch.setattr(csim, "SPLIT_MIN_CPUS", 1)
    plan = csim._plan(path, tmp_path, (), find_ap_types(), csim._compiler())
    split = sorted(unit.object_name for unit in plan.units if unit.object_name.startswith("weights_"))
    manifest = json.loads((path / "fpga_aware_project.json").read_text())
    large = sorted(f"weights_{entry['cname']}.o" for entry in manifest["layers"] if entry.get("stored_entries", 0) >= 100)
    assert len(large) >= 3 and split == large
    split_library = compile_project(path, cache_dir=tmp_path)
    assert split_library.path != library.path and split_library.warnings == ""
    x = _inputs(ir, seed=8)
    _assert_same(split_library.predict(x), library.predict(x), "the single-unit build")


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    from fpga_aware import csim

    project = tmp_path / "p"
    assert csim._cache_dir(project, None) == project / ".csim"
    monkeypatch.setenv("FPGA_AWARE_CSIM_CACHE", str(tmp_path / "cache"))
    assert csim._cache_dir(project, None) == tmp_path / "cache"
    assert csim._cache_dir(project, tmp_path / "mine") == tmp_path / "mine"


def test_predict_rejects_bad_input(build):
    ir, path, library = build(tiny_ir)
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        library.predict(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        library.predict(np.full((2, 4), np.nan))
    one = library.predict(np.ones(4))
    assert one.shape == (1, ir.n_outputs)
    assert library.predict(np.zeros((0, 4))).shape == (0, ir.n_outputs)


def test_compile_error_carries_gcc_message(tmp_path):
    ir = tiny_ir(seed=12)
    path = write_project(ir, FirmwareConfig(project_name=ir.project_name), tmp_path / "p")
    cpp = path / "firmware" / "tiny.cpp"
    cpp.write_text(cpp.read_text() + "\nint broken( { return undeclared_thing; }\n")
    with pytest.raises(CompilationError) as info:
        compile_project(path, cache_dir=tmp_path / "cache")
    assert "error:" in info.value.stderr
    assert "tiny.cpp" in info.value.stderr
    assert info.value.stderr.strip() in str(info.value)
    assert info.value.command[0].endswith("g++")


def test_headers_from_xilinx_hls(tmp_path, monkeypatch):
    include = tmp_path / "Vitis_HLS" / "include"
    include.mkdir(parents=True)
    (include / "ap_fixed.h").write_text("// stub\n")
    monkeypatch.setenv("XILINX_HLS", str(tmp_path / "Vitis_HLS"))
    assert find_ap_types() == include


def test_headers_from_hls4ml_without_importing_it(monkeypatch):
    import sys

    monkeypatch.delenv("XILINX_HLS", raising=False)
    was_imported = "hls4ml" in sys.modules
    path = find_ap_types()
    assert (path / "ap_fixed.h").is_file()
    assert path.parts[-4:] == ("hls4ml", "templates", "vivado", "ap_types")
    assert ("hls4ml" in sys.modules) == was_imported


def test_missing_headers_raise(tmp_path, monkeypatch):
    monkeypatch.setenv("XILINX_HLS", str(tmp_path / "nowhere"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a, **k: None)
    with pytest.raises(HeadersNotFoundError) as info:
        find_ap_types()
    message = str(info.value)
    assert "pip install hls4ml==1.3.0" in message and "XILINX_HLS" in message
    ir = tiny_ir()
    path = write_project(ir, FirmwareConfig(project_name=ir.project_name), tmp_path / "p")
    with pytest.raises(HeadersNotFoundError):
        compile_project(path)


def test_library_checks_sizes_against_manifest(build):
    ir, path, library = build(tiny_ir)
    with pytest.raises(CompilationError, match="n_inputs"):
        CSimLibrary(library.path, "tiny", ir.n_inputs + 1, ir.n_outputs, "", False)


# ------------------------------------------------------------------------------ a 1.01M-weight project
def big_ir(seed: int = 0) -> ModelIR:
    """16 -> 500 -> 500 -> 500 -> 500 -> 500 -> 5, all weights nonzero, ap_fixed<16,6>, latency R=1."""
    rng = np.random.default_rng(seed)
    t = P("ap_fixed<16,6>")
    sizes = [16, 500, 500, 500, 500, 500, 5]
    layers = [_input(16, t)]
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights = rng.integers(t.min_mantissa, t.max_mantissa + 1, (n_in, n_out))
        weights[weights == 0] = 1
        layers.append(DenseLayer(name=f"fc{k}", cname=f"fc{k}", n_in=n_in, n_out=n_out, input_type=t, result_type=t,
                                 weight_type=t, bias_type=t, accum_type=t, weights=weights.astype(np.int64),
                                 bias=rng.integers(-512, 512, n_out).astype(np.int64)))
    return ModelIR("big", layers)


def _wrap_trn_reference(ir: ModelIR, x: np.ndarray) -> np.ndarray:
    """Vectorised exact evaluation for AP_TRN/AP_WRAP dense chains (the order of a wrapping sum is free)."""
    values = ir.input_type.from_float(x)
    for layer in ir.layers[1:]:
        acc_t = layer.accum_type
        shift = layer.input_type.frac + layer.weight_type.frac - acc_t.frac
        products = (values[:, :, None] * layer.weights[None, :, :]) >> shift  # floor: AP_TRN per product
        acc = acc_t.requantize(layer.bias, layer.bias_type.frac)[None, :] + products.sum(axis=1)
        acc = acc_t.requantize(acc, acc_t.frac)  # wrap once: modular arithmetic
        values = layer.result_type.requantize(acc, acc_t.frac)
    return ir.output_type.to_float(values)


@pytest.mark.slow
def test_million_weight_project_compiles_quickly(tmp_path):
    ir = big_ir()
    assert sum(layer.nonzero_weights for layer in ir.dense_layers()) == 1_010_500
    start = time.perf_counter()
    path = write_project(ir, FirmwareConfig(project_name="big"), tmp_path / "big")
    written = time.perf_counter() - start
    start = time.perf_counter()
    library = compile_project(path, cache_dir=tmp_path / "cache")
    compiled = time.perf_counter() - start
    print(f"\n1.01M weights: write {written:.1f} s, g++ {compiled:.1f} s on {os.cpu_count()} CPUs")
    assert library.warnings == ""
    assert written < 60 and compiled < 300
    x = np.random.default_rng(1).normal(0, 1, (5, 16))
    _assert_same(library.predict(x), _wrap_trn_reference(ir, x), "the vectorised reference")
