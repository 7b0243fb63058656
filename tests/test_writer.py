"""The HLS project writer: sparse weight storage, loop bounds, safe names, output-folder rules, scripts."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fpga_aware.core.config import FirmwareConfig
from fpga_aware.core.fixed import parse_precision as P
from fpga_aware.core.ir import ActivationLayer, DenseLayer, InputLayer, ModelIR, Strategy
from fpga_aware.hls.writer import (
    MANIFEST_NAME,
    OutputDirectoryError,
    ProjectDefinitionError,
    ProjectExistsError,
    is_project,
    read_manifest,
    render_project,
    write_project,
)

T = P("ap_fixed<16,6>")
W = P("ap_fixed<8,2>")
ACC = P("ap_fixed<24,12>")


def _dense(rng, name="fc", n_in=40, n_out=30, *, cname=None, sparsity=0.7, reuse=1, strategy=Strategy.LATENCY,
           pow2=False, in_t=T, out_t=T) -> DenseLayer:
    if pow2:
        weights = (np.int64(1) << rng.integers(0, 7, (n_in, n_out))) * rng.choice([-1, 1], (n_in, n_out))
    else:
        weights = rng.integers(W.min_mantissa, W.max_mantissa + 1, (n_in, n_out))
    weights = (weights * (rng.random((n_in, n_out)) >= sparsity)).astype(np.int64)
    return DenseLayer(name=name, cname=cname or name, n_in=n_in, n_out=n_out, input_type=in_t, result_type=out_t,
                      weight_type=W, bias_type=W, accum_type=ACC, weights=weights,
                      bias=rng.integers(-100, 100, n_out).astype(np.int64), reuse_factor=reuse, strategy=strategy)


def _ir(*layers, project="myproject") -> ModelIR:
    n = layers[0].n_in
    return ModelIR(project, [InputLayer(name="input", cname="input", n_in=n, n_out=n, input_type=T, result_type=T,
                                        shape=(n,)), *layers])


def _config(project="myproject", **kw) -> FirmwareConfig:
    return FirmwareConfig(project_name=project, **kw)


def _array(text: str, name: str) -> tuple[int, list[str]]:
    """Declared size and entries of ``name[N] = { ... };`` in a generated header."""
    match = re.search(rf"\b{name}\[(\d+)\] = \{{(.*?)\}};", text, re.S)
    assert match, f"array {name} not found"
    entries = [e.strip() for e in match.group(2).split(",") if e.strip()]
    return int(match.group(1)), entries


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def _toolchain() -> bool:
    from fpga_aware.sim.csim import HeadersNotFoundError, find_ap_types

    if shutil.which("g++") is None:
        return False
    try:
        find_ap_types()
    except HeadersNotFoundError:
        return False
    return True


# ------------------------------------------------------------------------------ sparse storage
def test_weight_header_holds_only_nonzero_weights(tmp_path):
    rng = np.random.default_rng(0)
    layer = _dense(rng, sparsity=0.7)
    assert 0.6 < layer.sparsity < 0.8
    path = write_project(_ir(layer), _config(), tmp_path / "p")
    text = (path / "firmware" / "weights" / "fc.h").read_text()
    nnz = layer.nonzero_weights
    outs, ins, mantissas = layer.terms()
    size, entries = _array(text, "fc_w")
    assert size == len(entries) == nnz
    assert [int(e) for e in entries] == mantissas.tolist()  # exact mantissas, in accumulation order
    size, entries = _array(text, "fc_w_in")
    assert size == nnz and [int(e) for e in entries] == ins.tolist()
    size, entries = _array(text, "fc_w_out")
    assert size == nnz and [int(e) for e in entries] == outs.tolist()
    size, entries = _array(text, "fc_b")
    assert size == 30 and [int(e) for e in entries] == layer.bias.tolist()
    # nothing else in the header is sized like the dense matrix
    assert f"[{layer.n_weights}]" not in text
    # smallest fitting index types: 40 inputs and 30 outputs fit 8 bits (6 and 5 bits for HLS)
    rom = (path / "firmware" / "rom_types.h").read_text()
    assert "typedef uint8_t fc_in_index_t;" in rom and "typedef ap_uint<6> fc_in_index_t;" in rom
    assert "typedef ap_uint<5> fc_out_index_t;" in rom and "typedef int8_t fc_weight_bits_t;" in rom


@pytest.mark.parametrize("strategy", [Strategy.LATENCY, Strategy.RESOURCE])
@pytest.mark.parametrize("reuse", ["1", "3", "nnz", "nnz+10", "n_weights"])
def test_lane_schedule_sizes_the_loop(tmp_path, strategy, reuse):
    rng = np.random.default_rng(1)
    layer = _dense(rng, strategy=strategy)
    nnz = layer.nonzero_weights
    layer.reuse_factor = {"1": 1, "3": 3, "nnz": nnz, "nnz+10": nnz + 10, "n_weights": layer.n_weights}[reuse]
    path = write_project(_ir(layer), _config(), tmp_path / "p")
    params = (path / "firmware" / "parameters.h").read_text()
    assert f"static const unsigned n_nonzero = {nnz};" in params
    assert f"static const unsigned reuse_factor = {layer.reuse_factor};" in params
    top = (path / "firmware" / "myproject.cpp").read_text()
    if layer.reuse_factor == 1 and strategy == Strategy.LATENCY:  # fully parallel: constants
        assert "fa::dense_latency<fc_config>(x, y, fc_w, fc_b, fc_w_in, fc_w_out);" in top
        assert not (path / "firmware" / "schedules").exists() and "PIPELINE II=1" in top
        return
    lanes, cycles = math.ceil(nnz / layer.reuse_factor), min(layer.reuse_factor, nnz)
    assert lanes == layer.multipliers_per_cycle and layer.ii == cycles
    schedule = (path / "firmware" / "schedules" / "fc.h").read_text()
    assert f"static const unsigned n_lanes = {lanes};" in schedule
    assert f"static const unsigned n_cycles = {cycles};" in schedule
    assert "typedef fc_lanes lanes;" in params and '#include "schedules/fc.h"' in params
    memory = "registers" if strategy == Strategy.LATENCY else "bram" if cycles > 64 else "lutram"
    assert f"fa::dense_lanes_{memory}<fc_config>(x, y, fc_w, fc_b);" in top and "DATAFLOW" in top
    layers = (path / "firmware" / "fa_layers.h").read_text()
    body = layers[layers.index(f"void dense_lanes_{memory}("):]
    body = body[: body.index("\n}\n")]
    assert "cycle < L::n_cycles" in body and "FA_PRAGMA(HLS PIPELINE II=1)" in body
    assert "ALLOCATION" not in body and "w_in" not in body


def test_lane_weights_are_one_word_per_cycle(tmp_path):
    rng = np.random.default_rng(6)
    layer = _dense(rng, sparsity=0.6, reuse=5, strategy=Strategy.RESOURCE)
    path = write_project(_ir(layer), _config(), tmp_path / "p")
    text = (path / "firmware" / "weights" / "fc.h").read_text()
    s = layer.schedule
    _, _, mantissas = layer.terms()
    size, entries = _array(text, "fc_w")
    assert size == len(entries) == s.n_lanes * s.n_cycles
    stored = np.array([int(e) for e in entries])
    assert stored[s.cycle * s.n_lanes + s.lane].tolist() == mantissas.tolist()  # word = cycle, lane = slot
    assert np.count_nonzero(stored) == layer.nonzero_weights  # unused slots are 0
    assert "fc_w_in" not in text and "fc_w_out" not in text  # no index memory


def test_shift_layer_stores_exponents_and_signs(tmp_path):
    rng = np.random.default_rng(2)
    layer = _dense(rng, pow2=True, sparsity=0.5)
    assert layer.uses_shifts
    path = write_project(_ir(layer), _config(), tmp_path / "p")
    text = (path / "firmware" / "weights" / "fc.h").read_text()
    nnz = layer.nonzero_weights
    _, shifts = _array(text, "fc_w_shift")
    _, signs = _array(text, "fc_w_neg")
    assert len(shifts) == len(signs) == nnz
    assert not re.search(r"\bfc_w\[", text)  # no multiplicands at all
    _, _, mantissas = layer.terms()
    e = np.array([abs(int(m)).bit_length() - 1 for m in mantissas]) - W.frac
    assert [int(s) for s in shifts] == (e - e.min()).tolist()
    assert signs == ["true" if m < 0 else "false" for m in mantissas]
    top = (path / "firmware" / "myproject.cpp").read_text()
    assert "fa::dense_shift_latency<fc_config>" in top


def test_empty_dense_layer_has_bias_only(tmp_path):
    rng = np.random.default_rng(3)
    layer = _dense(rng, sparsity=1.0, n_in=5, n_out=4)
    path = write_project(_ir(layer), _config(), tmp_path / "p")
    text = (path / "firmware" / "weights" / "fc.h").read_text()
    assert _array(text, "fc_b")[0] == 4 and "fc_w[" not in text
    assert "fa::dense_bias_only<fc_config>(x, y, fc_b);" in (path / "firmware" / "myproject.cpp").read_text()
    layers = (path / "firmware" / "fa_layers.h").read_text()
    body = layers[layers.index("void dense_bias_only("):]
    body = body[: body.index("\n}\n")]
    assert "x_read[i] = x[i];" in body  # reads its input: a consumed channel under DATAFLOW


@pytest.mark.parametrize("reuse", [1, 8, 64, 65, 200])
def test_resource_weight_storage_follows_the_cost_model(tmp_path, reuse):
    """BIND_STORAGE impl=bram (Vivado: ROM_nP_BRAM) exactly where the cost model counts block
    RAM for the weights, LUT RAM otherwise: one rule (fpga_aware.core.hardware.in_block_ram)."""
    from fpga_aware.cost.model import estimate_ir

    rng = np.random.default_rng(5)
    layer = _dense(rng, n_in=40, n_out=30, sparsity=0.0, reuse=reuse, strategy=Strategy.RESOURCE)
    ir = _ir(layer)
    path = write_project(ir, _config(), tmp_path / "p")
    top = (path / "firmware" / "myproject.cpp").read_text()
    in_bram = min(reuse, layer.nonzero_weights) > 64  # one word per cycle of the schedule
    memory = "bram" if in_bram else "lutram"
    assert f"fa::dense_lanes_{memory}<fc_config>" in top
    layers = (path / "firmware" / "fa_layers.h").read_text()
    body = layers[layers.index(f"void dense_lanes_{memory}("):]
    body = body[: body.index("\n}\n")]
    assert f"BIND_STORAGE variable=w type=rom_np impl={memory}" in body
    assert f"RESOURCE variable=w core=ROM_nP_{memory.upper()}" in body
    cost = next(c for c in estimate_ir(ir, _config()).layers if c.name == "fc")
    assert (cost.bram_18k > 0) == in_bram


# ------------------------------------------------------------------------------ names
NASTY_NAMES = ['fc1"; system("x', "fc2 */ int evil; /*", "fc3\nint evil;", "fc4\\", "#include <cstdlib>"]


def test_layer_names_cannot_inject_code(tmp_path):
    rng = np.random.default_rng(4)
    layers = []
    n = 6
    for k, name in enumerate(NASTY_NAMES):
        layers.append(_dense(rng, name=name, cname=f"layer{k}_safe", n_in=n, n_out=5, sparsity=0.3))
        n = 5
    ir = _ir(*layers)
    path = write_project(ir, _config(), tmp_path / "p")
    for file in path.rglob("*"):
        if file.is_file() and file.name != MANIFEST_NAME:
            text = file.read_text()
            for name in NASTY_NAMES:
                assert name not in text, f"{file.name} contains the raw layer name {name!r}"
            assert "system(" not in text
            for line in text.splitlines():  # the sanitized names appear in comments only
                if "evil" in line or "system_" in line:
                    assert line.lstrip().startswith("//") or " // " in line, line
    manifest = read_manifest(path)
    assert [layer["name"] for layer in manifest["layers"][1:]] == NASTY_NAMES  # JSON keeps them, escaped
    top = (path / "firmware" / "myproject.cpp").read_text()
    assert "layer0_safe (Keras name sanitized: fc1___system__x)" in top
    if _toolchain():
        from fpga_aware.sim.csim import compile_warnings

        assert compile_warnings(path) == ""


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda ir: setattr(ir.layers[1], "cname", 'fc"; int x; //'), "not a C\\+\\+ identifier"),
        (lambda ir: setattr(ir.layers[2], "cname", ir.layers[1].cname), "collides"),
        (lambda ir: setattr(ir.layers[2], "input_type", P("ap_fixed<12,4>")), "input type"),
        (lambda ir: setattr(ir.layers[2], "n_in", 7), "takes 7 inputs"),
        (lambda ir: ir.layers[1].weights.__setitem__((0, 0), 1000), "outside ap_fixed<8,2>"),
        (lambda ir: setattr(ir.layers[1], "cname", "N_INPUT"), None),  # fine: generated names get suffixes
    ],
)
def test_invalid_ir_is_rejected_before_writing(tmp_path, mutate, message):
    rng = np.random.default_rng(5)
    ir = _ir(_dense(rng, name="a", n_in=6, n_out=5), _dense(rng, name="b", n_in=5, n_out=4))
    mutate(ir)
    target = tmp_path / "p"
    if message is None:
        write_project(ir, _config(), target)
        return
    with pytest.raises(ProjectDefinitionError, match=message):
        write_project(ir, _config(), target)
    assert not target.exists()


@pytest.mark.parametrize(
    "config, message",
    [
        (_config(part='xcu250"; exec rm -rf ~; "'), "part"),
        (_config(project="my project"), "project_name"),
        (_config(clock_period=float("nan")), "clock_period"),
    ],
)
def test_invalid_config_is_rejected(tmp_path, config, message):
    rng = np.random.default_rng(6)
    with pytest.raises(ProjectDefinitionError, match=message):
        write_project(_ir(_dense(rng, n_in=4, n_out=3)), config, tmp_path / "p")
    assert not (tmp_path / "p").exists()


# ------------------------------------------------------------------------------ output folder rules
@pytest.fixture
def small_ir():
    return _ir(_dense(np.random.default_rng(7), n_in=4, n_out=3))


def test_missing_and_empty_folders_are_written(tmp_path, small_ir):
    nested = write_project(small_ir, _config(), tmp_path / "a" / "b" / "prj")
    assert nested == (tmp_path / "a" / "b" / "prj").resolve() and is_project(nested)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_project(small_ir, _config(), str(empty)) == empty.resolve()
    assert (empty / "firmware" / "myproject.cpp").is_file() and (empty / "tb_data").is_dir()
    assert os.access(empty / "build_lib.sh", os.X_OK)


def test_foreign_folder_is_never_touched(tmp_path, small_ir):
    folder = tmp_path / "user"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("precious")
    (folder / "sub" / "data.bin").write_bytes(b"\x00\x01")
    before = _snapshot(folder)
    for overwrite in (False, True):
        with pytest.raises(OutputDirectoryError) as info:
            write_project(small_ir, _config(), folder, overwrite=overwrite)
        assert str(folder) in str(info.value) and "not an fpga_aware project" in str(info.value)
        assert isinstance(info.value, FileExistsError)
    assert _snapshot(folder) == before
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "sub"]


def test_folder_with_a_foreign_manifest_is_not_ours(tmp_path, small_ir):
    folder = tmp_path / "fake"
    folder.mkdir()
    (folder / MANIFEST_NAME).write_text('{"generator": "someone else"}')
    with pytest.raises(OutputDirectoryError):
        write_project(small_ir, _config(), folder, overwrite=True)
    (folder / MANIFEST_NAME).write_text("not json")
    with pytest.raises(OutputDirectoryError):
        write_project(small_ir, _config(), folder, overwrite=True)
    assert (folder / MANIFEST_NAME).read_text() == "not json"


def test_existing_project_needs_overwrite(tmp_path, small_ir):
    folder = write_project(small_ir, _config(), tmp_path / "prj")
    before = _snapshot(folder)
    with pytest.raises(ProjectExistsError) as info:
        write_project(small_ir, _config(), folder)
    assert "overwrite=True" in str(info.value) and str(folder) in str(info.value)
    assert isinstance(info.value, FileExistsError)
    assert _snapshot(folder) == before


def test_overwrite_replaces_the_project(tmp_path, small_ir):
    folder = write_project(small_ir, _config(), tmp_path / "prj")
    (folder / "myproject_prj" / "solution1").mkdir(parents=True)
    (folder / "myproject_prj" / "solution1" / "stale.log").write_text("old synthesis")
    other = _ir(_dense(np.random.default_rng(8), n_in=4, n_out=2), project="other")
    write_project(other, _config(project="other"), folder, overwrite=True)
    assert not (folder / "myproject_prj").exists()
    assert not (folder / "firmware" / "myproject.cpp").exists()
    assert (folder / "firmware" / "other.cpp").is_file()
    assert read_manifest(folder)["project_name"] == "other"


def test_file_path_is_rejected(tmp_path, small_ir):
    target = tmp_path / "file.txt"
    target.write_text("keep me")
    mtime = target.stat().st_mtime_ns
    for overwrite in (False, True):
        with pytest.raises(OutputDirectoryError, match="is a file"):
            write_project(small_ir, _config(), target, overwrite=overwrite)
    assert target.read_text() == "keep me" and target.stat().st_mtime_ns == mtime


def test_broken_symlink_is_rejected(tmp_path, small_ir):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(OutputDirectoryError, match="broken symbolic link"):
        write_project(small_ir, _config(), link)


# ------------------------------------------------------------------------------ contents
def test_manifest_and_rendering(tmp_path):
    rng = np.random.default_rng(9)
    layer = _dense(rng, reuse=4, strategy=Strategy.RESOURCE)
    ir = _ir(layer, ActivationLayer(name="relu", cname="relu", n_in=30, n_out=30, input_type=T, result_type=T,
                                    function="relu"))
    config = _config(part="xc7z020clg400-1", clock_period=4.0)
    assert render_project(ir, config) == render_project(ir, config)  # deterministic
    path = write_project(ir, config, tmp_path / "p", tb_inputs=np.array([[0.1] * 40, [-3.25] * 40]))
    manifest = json.loads((path / MANIFEST_NAME).read_text())
    assert manifest["generator"] == "fpga_aware" and manifest["project_name"] == "myproject"
    assert manifest["part"] == "xc7z020clg400-1" and manifest["clock_period"] == 4.0
    assert manifest["n_inputs"] == 40 and manifest["n_outputs"] == 30
    dense = manifest["layers"][1]
    assert dense["nonzero_weights"] == layer.nonzero_weights and dense["reuse_factor"] == 4
    assert dense["strategy"] == "resource" and dense["weights_header"] == "firmware/weights/fc.h"
    for rel in manifest["files"]:
        assert (path / rel).is_file(), rel
    tcl = (path / "build_prj.tcl").read_text()
    assert 'set part "xc7z020clg400-1"' in tcl and "set clock_period 4.0" in tcl
    rows = (path / "tb_data" / "tb_input_features.dat").read_text().splitlines()
    assert len(rows) == 2 and [float(v) for v in rows[1].split()] == [-3.25] * 40
    defines = (path / "firmware" / "defines.h").read_text()
    for suffix in ("input_t", "weight_t", "bias_t", "accum_t", "result_t"):
        assert f" fc_{suffix};" in defines
    assert "typedef ap_fixed<8,2> fc_weight_t;" in defines and "typedef ap_fixed<24,12> fc_accum_t;" in defines


def test_only_an_input_layer(tmp_path):
    ir = ModelIR("myproject", [InputLayer(name="in", cname="in_", n_in=3, n_out=3, input_type=T, result_type=T)])
    path = write_project(ir, _config(), tmp_path / "p")
    assert "y[i] = x[i];" in (path / "firmware" / "myproject.cpp").read_text()


# ------------------------------------------------------------------------------ scripts
TCL_STUB = r"""
set ::calls {}
foreach cmd {open_project set_top add_files set_part create_clock set_clock_uncertainty config_array_partition csim_design csynth_design cosim_design export_design} {
    proc $cmd {args} [format {lappend ::calls [concat %s $args]} $cmd]
}
proc open_solution {args} {
    if {[lsearch $args -flow_target] >= 0 && $::vivado} { error "invalid option -flow_target" }
    lappend ::calls [concat open_solution $args]
}
rename exit real_exit
proc exit {args} {
    set f [open calls.txt w]
    foreach c $::calls { puts $f $c }
    close $f
    real_exit 0
}
set ::vivado [lindex $argv 0]
set ::argv [lrange $argv 1 end]
source [lindex $::argv end]
"""


@pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh is not installed")
@pytest.mark.parametrize("vivado", [0, 1])
def test_build_tcl_runs_the_selected_steps(tmp_path, small_ir, vivado):
    path = write_project(small_ir, _config(part="xcvu9p-flga2104-2L-e", clock_period=3.3), tmp_path / "p")
    stub = tmp_path / "stub.tcl"
    stub.write_text(TCL_STUB)
    subprocess.run(["tclsh", str(stub), str(vivado), "csim=0 synth=1 cosim=0 export=1", str(path / "build_prj.tcl")],
                   cwd=path, check=True, capture_output=True, text=True, timeout=60)
    calls = (path / "calls.txt").read_text().splitlines()
    assert calls[0] == "open_project -reset myproject_prj" and "set_top myproject" in calls
    assert "add_files firmware/myproject.cpp -cflags -std=c++0x" in calls
    assert "add_files -tb tb/myproject_test.cpp -cflags -std=c++0x" in calls
    expected_solution = "open_solution -reset solution1" if vivado else "open_solution -reset -flow_target vivado solution1"
    assert expected_solution in calls
    assert "set_part xcvu9p-flga2104-2L-e" in calls and "create_clock -period 3.3 -name default" in calls
    assert "set_clock_uncertainty 12.5% default" in calls
    assert ("config_array_partition -maximum_size 4096" in calls) == bool(vivado)
    steps = [c.split()[0] for c in calls if c.split()[0].endswith("_design")]
    assert steps == ["csynth_design", "export_design"]


@pytest.mark.skipif(not _toolchain() or shutil.which("bash") is None, reason="needs bash, g++ and the ap_types headers")
def test_build_lib_script_builds_the_same_library(tmp_path, small_ir):
    from fpga_aware.sim.csim import CSimLibrary, compile_project, find_ap_types

    path = write_project(small_ir, _config(), tmp_path / "p")
    result = subprocess.run(["bash", str(path / "build_lib.sh"), str(find_ap_types())], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warnings
    script_lib = CSimLibrary(path / "libmyproject.so", "myproject", 4, 3, "", True)
    x = np.random.default_rng(0).normal(0, 4, (200, 4))
    assert np.array_equal(script_lib.predict(x), compile_project(path).predict(x))
    missing = subprocess.run(["bash", str(path / "build_lib.sh"), str(tmp_path)], capture_output=True, text=True,
                             env={**os.environ, "XILINX_HLS": "", "AP_TYPES_INCLUDE": ""}, timeout=60)
    assert missing.returncode == 1 and "ap_fixed.h not found" in missing.stderr
